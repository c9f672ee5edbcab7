"""Bit-serial systolic arrays (``qtpe.hdl.array_bitserial``) in Amaranth's simulator against
the golden model: both dataflows, 1x1 to 4x4, weights of 1, 2, 4 and 8 bits (int and uint),
lanes 1 to 3, wrap and saturation, requantization.

Each GEMM is fed beat by beat as ``qtpe.tb.models.array.schedule`` lays it out, honouring
``in_ready`` (with random input bubbles in the result tests); the timing tests check that a beat
is taken every ``k = weight.bits`` cycles, that results come exactly ``latency`` cycles after
the beat that completes them and that the cycle count is ``expected_cycles``.
"""

import numpy as np
import pytest
from array_sim import random_gemm, run_array

from qtpe.hdl.array import SystolicArray
from qtpe.hdl.array_config import ArrayConfig, Dataflow
from qtpe.hdl.config import BitSerialConfig, MacConfig
from qtpe.hdl.formats import Overflow, QType
from qtpe.tb.models.array import expected_cycles, gemm, schedule


def array(dataflow, rows, cols, requant=False, scale_bits=16, **pe):
    return ArrayConfig(BitSerialConfig(name="arr_bs", **pe), rows=rows, cols=cols,
                       dataflow=Dataflow(dataflow), requant=requant,
                       requant_scale_bits=scale_bits)


SAT = Overflow.SATURATE
CASES = [
    array("os", 1, 1, weight=QType(4), acc_bits=32),
    array("os", 2, 3, weight=QType(2, False), lanes=2, acc_bits=12, overflow=SAT),
    array("os", 4, 4, weight=QType(8), activation=QType(8, False), acc_bits=14),
    array("os", 2, 2, weight=QType(1), activation=QType(5), lanes=3, acc_bits=8, overflow=SAT),
    array("os", 3, 2, weight=QType(4, False), activation=QType(6, False), acc_bits=10),
    array("ws", 1, 1, weight=QType(4), acc_bits=32),
    array("ws", 2, 3, weight=QType(4, False), lanes=2, acc_bits=14, overflow=SAT),
    array("ws", 4, 4, weight=QType(2), acc_bits=12),
    array("ws", 3, 2, weight=QType(8, False), activation=QType(5), lanes=3, acc_bits=16,
          overflow=SAT),
    array("ws", 2, 2, weight=QType(1), activation=QType(8, False), acc_bits=9),
    array("os", 2, 3, requant=True, scale_bits=6, weight=QType(4), acc_bits=20),
    array("ws", 3, 2, requant=True, scale_bits=5, weight=QType(2, False), lanes=2, acc_bits=16,
          overflow=SAT),
]


def case_id(cfg):
    return (f"{cfg.dataflow.value}{cfg.rows}x{cfg.cols}-{cfg.weight}x{cfg.activation}-"
            f"{cfg.acc}-l{cfg.lanes}{'-rq' if cfg.requant else ''}")


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
def test_timing_and_back_to_back(cfg):
    """No bubbles offered, tiles long enough: a beat every k cycles, results exactly
    ``latency`` after the beat that completes them, ``expected_cycles`` in all."""
    rng = np.random.default_rng(3)
    K = max(cfg.min_tile_period, 4) * cfg.lanes + 1
    A, W, scale, shift = random_gemm(cfg, rng, 2 * cfg.rows, K, 2 * cfg.cols)
    sched = schedule(cfg, A, W, scale, shift)
    rows, out_cycles, accepted = run_array(cfg, sched)
    np.testing.assert_array_equal(sched.assemble(rows), gemm(cfg, A, W, scale, shift))
    k = cfg.beat_cycles
    assert k == cfg.weight.bits
    assert accepted == list(range(accepted[0], accepted[0] + k * sched.beats, k))
    last_beats = [accepted[i] for i in np.flatnonzero(sched.last)]
    if cfg.dataflow is Dataflow.OS:
        firsts = out_cycles[:: cfg.rows]
        assert firsts == [t + cfg.latency for t in last_beats]
        assert out_cycles == [f + r for f in firsts for r in range(cfg.rows)]
    else:
        assert out_cycles == [t + cfg.latency for t in last_beats]
    assert out_cycles[-1] - accepted[0] + 1 == expected_cycles(cfg, sched)


@pytest.mark.parametrize("cfg", [
    array("os", 3, 3, weight=QType(2), acc_bits=32),
    array("os", 2, 3, weight=QType(1, False), lanes=2, acc_bits=32),
    array("os", 3, 2, weight=QType(8), acc_bits=32),
], ids=case_id)
def test_os_short_tiles_stall_on_last(cfg):
    """Tiles shorter than min_tile_period (for k = 8 they are not: no stall): in_ready holds
    the 'last' beat back, results stay exact, the cycle count is ``expected_cycles``."""
    rng = np.random.default_rng(5)
    A, W, _, _ = random_gemm(cfg, rng, 2 * cfg.rows, 2 * cfg.lanes, 2 * cfg.cols)
    sched = schedule(cfg, A, W)
    rows, out_cycles, accepted = run_array(cfg, sched)
    np.testing.assert_array_equal(sched.assemble(rows), gemm(cfg, A, W))
    lasts = [accepted[i] for i in np.flatnonzero(sched.last)]
    assert min(np.diff(lasts)) == max(cfg.min_tile_period, 2 * cfg.beat_cycles)
    assert out_cycles[-1] - accepted[0] + 1 == expected_cycles(cfg, sched)


@pytest.mark.parametrize("cfg", [
    array("os", 2, 2, weight=QType(4), activation=QType(8), acc_bits=12),
    array("os", 2, 2, weight=QType(4), activation=QType(8), acc_bits=12, overflow=SAT),
    array("ws", 2, 2, weight=QType(4), activation=QType(8), acc_bits=12),
    array("ws", 2, 2, weight=QType(4), activation=QType(8), lanes=2, acc_bits=12, overflow=SAT),
    array("os", 2, 2, weight=QType(3, False), activation=QType(8, False), acc_bits=10),
    array("ws", 2, 2, weight=QType(3, False), activation=QType(8, False), acc_bits=10,
          overflow=SAT),
], ids=case_id)
def test_extreme_operands_overflow(cfg):
    """Most-negative/largest operands: long overflow runs, the accumulator wraps or
    saturates (the test checks that it does) exactly as the model says."""
    M, N, K = cfg.rows + 1, cfg.cols + 1, 6 * cfg.rows * cfg.lanes + 1
    act = cfg.activation.min if cfg.activation.signed else cfg.activation.max
    A = np.full((M, K), act)
    W = np.full((K, N), cfg.weight.min if cfg.weight.signed else cfg.weight.max)
    W[:, 1::2] = cfg.weight.max
    sched = schedule(cfg, A, W)
    rows, _, _ = run_array(cfg, sched)
    expected = gemm(cfg, A, W)
    assert (expected != A @ W).all()  # every result overflowed
    np.testing.assert_array_equal(sched.assemble(rows), expected)


def test_timing_properties():
    """Bit-serial: a beat takes k = weight.bits cycles, the peak is R*C*lanes/k; the MAC
    array's values are unchanged."""
    os = array("os", 8, 8, weight=QType(4), acc_bits=32)
    ws = array("ws", 4, 3, weight=QType(4), lanes=2, acc_bits=32)
    assert (os.beat_cycles, os.pe_latency, os.macs_per_cycle) == (4, 4, 16.0)
    assert (os.latency, os.drain_start, os.min_tile_period) == (8 + 8 + 4, 20, 2 * 8 + 8 - 2)
    assert (ws.beat_cycles, ws.macs_per_cycle, ws.latency, ws.min_tile_period) == (
        4, 6.0, 4 + 3 + 4, 1)
    one = array("ws", 2, 2, weight=QType(1), requant=True, acc_bits=16)
    assert (one.beat_cycles, one.latency) == (1, 2 + 2 + 1 + 1)
    mac = ArrayConfig(MacConfig(name="m", acc_bits=32), rows=4, cols=4)
    assert (mac.beat_cycles, mac.pe_latency, mac.macs_per_cycle, mac.latency) == (
        1, 1, 16.0, 9)
    dut = SystolicArray(os)
    dut._MustUse__silence = True
    assert dut.latency == 20 and "in_first" not in dut.signature.members


@pytest.mark.parametrize("dataflow", ["os", "ws"])
def test_rejects_groups(dataflow):
    """Arrays scale once after the accumulators: no groups (so no BitMoD data types)."""
    with pytest.raises(ValueError, match=r"arrays take group_size = 0 .*not 8"):
        array(dataflow, 2, 2, weight=QType(4), group_size=8)
