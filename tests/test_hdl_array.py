"""SystolicArray in Amaranth's simulator against the golden model (small arrays, no tools).

Each GEMM is fed beat by beat as ``qtpe.tb.models.array.schedule`` lays it out, honouring
``in_ready``, with random input bubbles; the test checks every result row, that the first
result of a tile comes exactly ``latency`` cycles after the beat that completes it, and, for
output-stationary arrays, that back-to-back tiles keep the inputs flowing.
"""

import re

import numpy as np
import pytest
from array_sim import random_gemm, run_array

from qtpe.gen.emit import emit_verilog
from qtpe.hdl.array import SystolicArray
from qtpe.hdl.array_config import ArrayConfig, Dataflow
from qtpe.hdl.config import BitSerialConfig, LutConfig, MacConfig, PEKind, ShiftAddConfig
from qtpe.hdl.formats import Overflow, PlaneType, PotType, QType
from qtpe.tb.models.array import expected_cycles, gemm, schedule


def array(dataflow, rows, cols, requant=False, scale_bits=16, kind=MacConfig, **pe):
    return ArrayConfig(kind(name="arr", **pe), rows=rows, cols=cols,
                       dataflow=Dataflow(dataflow), requant=requant,
                       requant_scale_bits=scale_bits)


CASES = [
    array("os", 1, 1, acc_bits=32),
    array("os", 2, 3, acc_bits=32),
    array("os", 3, 2, weight=QType(4), activation=QType(8, False), acc_bits=12,
          overflow=Overflow.SATURATE, pipeline=True),
    array("os", 2, 2, weight=QType(3, False), activation=QType(5), lanes=3, acc_bits=10),
    array("ws", 1, 1, acc_bits=32),
    array("ws", 2, 3, acc_bits=32),
    array("ws", 3, 2, weight=QType(4), activation=QType(8, False), acc_bits=12,
          overflow=Overflow.SATURATE),
    array("ws", 2, 2, weight=QType(3, False), activation=QType(5), lanes=3, acc_bits=10),
    array("os", 2, 3, requant=True, acc_bits=32),
    array("os", 1, 1, requant=True, scale_bits=3, weight=QType(4, False),
          activation=QType(8, False), acc_bits=12, overflow=Overflow.SATURATE),
    array("ws", 3, 2, requant=True, scale_bits=5, weight=QType(4), acc_bits=16,
          overflow=Overflow.SATURATE),
]
# Bit-serial arrays: weights of 1 to 8 bits, one bit-plane per cycle (k cycles per beat).
SAT, BITSERIAL = Overflow.SATURATE, dict(kind=BitSerialConfig)
CASES += [
    array("os", 1, 1, weight=QType(4), acc_bits=32, **BITSERIAL),
    array("os", 2, 3, weight=QType(2, False), lanes=2, acc_bits=12, overflow=SAT, **BITSERIAL),
    array("os", 4, 4, weight=QType(8), activation=QType(8, False), acc_bits=14, **BITSERIAL),
    array("os", 2, 2, weight=QType(1), activation=QType(5), lanes=3, acc_bits=8, overflow=SAT,
          **BITSERIAL),
    array("os", 3, 2, weight=QType(4, False), activation=QType(6, False), acc_bits=10, **BITSERIAL),
    array("ws", 1, 1, weight=QType(4), acc_bits=32, **BITSERIAL),
    array("ws", 2, 3, weight=QType(4, False), lanes=2, acc_bits=14, overflow=SAT, **BITSERIAL),
    array("ws", 4, 4, weight=QType(2), acc_bits=12, **BITSERIAL),
    array("ws", 3, 2, weight=QType(8, False), activation=QType(5), lanes=3, acc_bits=16,
          overflow=SAT, **BITSERIAL),
    array("ws", 2, 2, weight=QType(1), activation=QType(8, False), acc_bits=9, **BITSERIAL),
    array("os", 2, 3, requant=True, scale_bits=6, weight=QType(4), acc_bits=20, **BITSERIAL),
    array("ws", 3, 2, requant=True, scale_bits=5, weight=QType(2, False), lanes=2, acc_bits=16,
          overflow=SAT, **BITSERIAL),
]
# Shift-add arrays: weights are codes (pot/potz/apot) or integers (int<N>), decoded per cell.
SHIFTADD = dict(kind=ShiftAddConfig)
CASES += [
    array("os", 2, 3, weight=PotType.parse("pot4"), acc_bits=32, **SHIFTADD),
    array("os", 3, 2, weight=PotType.parse("apot5"), lanes=2, acc_bits=14,
          overflow=Overflow.SATURATE, pipeline=True, **SHIFTADD),
    array("os", 1, 1, weight=PotType.parse("pot8"), activation=QType(6), acc_bits=48,
          **SHIFTADD),
    array("ws", 2, 3, weight=PotType.parse("potz3"), activation=QType(6), acc_bits=16,
          overflow=Overflow.SATURATE, **SHIFTADD),
    array("ws", 1, 1, weight=QType(4), lanes=3, acc_bits=20, **SHIFTADD),
    array("ws", 2, 2, weight=PotType.parse("pot8"), acc_bits=20, overflow=Overflow.SATURATE,
          **SHIFTADD),
]
# LUT arrays: one precompute unit per row, the table flows along the row; lanes = g.
LUT = dict(kind=LutConfig)
CASES += [
    array("os", 2, 3, weight=QType(2), acc_bits=24, **LUT),
    array("os", 3, 2, weight=PlaneType.parse("ternary"), g=3, symmetric=False, acc_bits=10,
          overflow=Overflow.SATURATE, **LUT),
    array("os", 1, 1, weight=QType(4), g=2, activation=QType(5), acc_bits=16, requant=True,
          scale_bits=6, **LUT),
    array("ws", 2, 3, weight=PlaneType.parse("sym3"), g=2, acc_bits=16,
          overflow=Overflow.SATURATE, **LUT),
    array("ws", 1, 1, weight=QType(4), g=4, symmetric=False, acc_bits=24, **LUT),
    array("ws", 3, 2, weight=PlaneType.parse("sym1"), g=3, acc_bits=12, requant=True,
          scale_bits=4, **LUT),
]


def case_id(cfg):
    return (f"{cfg.pe.value}-{cfg.dataflow.value}{cfg.rows}x{cfg.cols}-"
            f"{cfg.weight}x{cfg.activation}-"
            f"{cfg.acc}-l{cfg.lanes}{'-pipe' if getattr(cfg.pe_config, 'pipeline', 0) else ''}"
            f"{'-rq' if cfg.requant else ''}")


@pytest.mark.parametrize("cfg", CASES, ids=case_id)
@pytest.mark.parametrize("shape", [(5, 7, 3), (1, 1, 1), (4, 2, 5)], ids=lambda s: "x".join(
    map(str, s)))
def test_gemm_matches_model(cfg, shape):
    rng = np.random.default_rng(sum(shape))
    A, W, scale, shift = random_gemm(cfg, rng, *shape)
    sched = schedule(cfg, A, W, scale, shift)
    rows, _, _ = run_array(cfg, sched, bubbles=0.2, seed=1)
    np.testing.assert_array_equal(sched.assemble(rows), gemm(cfg, A, W, scale, shift))


@pytest.mark.parametrize("cfg", CASES, ids=case_id)
def test_latency_and_back_to_back(cfg):
    rng = np.random.default_rng(3)
    K = max(cfg.min_tile_period, 4) * cfg.lanes + 1
    A, W, scale, shift = random_gemm(cfg, rng, 2 * cfg.rows, K, 2 * cfg.cols)
    sched = schedule(cfg, A, W, scale, shift)
    rows, out_cycles, accepted = run_array(cfg, sched)
    np.testing.assert_array_equal(sched.assemble(rows), gemm(cfg, A, W, scale, shift))
    # No bubbles offered and tiles long enough: a beat every k cycles (k = weight.bits for
    # bit-serial cells, else 1), results exactly latency after their beat, expected_cycles.
    k = cfg.beat_cycles
    assert k == (cfg.weight.bits if cfg.pe is PEKind.BITSERIAL else 1)
    assert accepted == list(range(accepted[0], accepted[0] + k * sched.beats, k))
    last_beats = [accepted[i] for i in np.flatnonzero(sched.last)]
    if cfg.dataflow is Dataflow.OS:
        firsts = out_cycles[:: cfg.rows]
        assert firsts == [t + cfg.latency for t in last_beats]
        assert out_cycles == [f + r for f in firsts for r in range(cfg.rows)]
    else:
        assert out_cycles == [t + cfg.latency for t in last_beats]
    assert out_cycles[-1] - accepted[0] + 1 == expected_cycles(cfg, sched)


def test_os_short_tiles_stall_on_last():
    """Tiles shorter than min_tile_period: in_ready holds the 'last' beat back, results
    stay exact."""
    cfg = array("os", 3, 3, acc_bits=32)
    rng = np.random.default_rng(5)
    A, W, _, _ = random_gemm(cfg, rng, 6, 2, 6)
    sched = schedule(cfg, A, W)
    rows, _, accepted = run_array(cfg, sched)
    np.testing.assert_array_equal(sched.assemble(rows), gemm(cfg, A, W))
    lasts = [accepted[i] for i in np.flatnonzero(sched.last)]
    assert min(np.diff(lasts)) == cfg.min_tile_period


def test_component_exposes_config_and_timing():
    cfg = array("os", 4, 4, acc_bits=32)
    dut = SystolicArray(cfg)
    dut._MustUse__silence = True
    assert dut.config is cfg and dut.rows == 4 and dut.cols == 4
    assert dut.latency == 4 + 4 + 1 and cfg.min_tile_period == 2 * 4 + 4 - 2
    assert dut.signature.members["out_data"].shape.length == 4
    ws = array("ws", 4, 3, acc_bits=32)
    ws_dut = SystolicArray(ws)
    ws_dut._MustUse__silence = True
    assert ws.latency == 4 + 3 + 1 and "in_first" in ws_dut.signature.members


def test_lut_arrays_have_one_precompute_unit_per_row():
    from qtpe.hdl.config import LutConfig

    cfg = ArrayConfig(LutConfig(name="lut_arr", acc_bits=24), rows=3, cols=4)
    text = emit_verilog(cfg)
    assert len(re.findall(r"^module \S*precompute", text, re.M)) == 3
    assert len(re.findall(r"^\s+\S+precompute_r\d\s+precompute_r\d\s*\(", text, re.M)) == 3
    assert cfg.lanes == 4 and cfg.pe_latency == 1 and cfg.macs_per_cycle == 3 * 4 * 4
