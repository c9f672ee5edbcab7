"""SystolicArray in Amaranth's simulator against the golden model (small arrays, no tools).

Each GEMM is fed beat by beat as ``qtpe.tb.models.schedule.schedule`` lays it out, honouring
``in_ready``, with random input bubbles; the test checks every result row, that the first
result of a tile comes exactly ``latency`` cycles after the beat that completes it, and, for
output-stationary arrays, that back-to-back tiles keep the inputs flowing.
"""


import dataclasses

import numpy as np
import pytest
from array_sim import random_gemm, run_array

from qtpe.hdl.array import SystolicArray
from qtpe.hdl.array_config import Dataflow, Readout, example_array
from qtpe.hdl.config import carry_save
from qtpe.hdl.kinds import all_kinds, default_kind
from qtpe.tb.models.cycles import expected_cycles
from qtpe.tb.models.gemm import gemm
from qtpe.tb.models.operands import QuantOperands
from qtpe.tb.models.schedule import schedule


def array(dataflow, rows, cols, **keys):
    """A small array of the default kind."""
    return example_array(default_kind().config, dataflow, rows, cols, **keys)


#: Every registered kind's small arrays (``Kind.array_examples``), and their output-stationary
#: ones with the drain readout too (the default is the bus; groups take the bus only).
CASES = [cfg for kind in all_kinds() for cfg in kind.array_examples]
CASES += [dataclasses.replace(cfg, readout=Readout.DRAIN) for cfg in CASES
          if cfg.dataflow is Dataflow.OS and not cfg.group_size]


def case_id(cfg):
    return (f"{cfg.pe}-{cfg.dataflow.value}{cfg.rows}x{cfg.cols}-"
            f"{cfg.weight}x{cfg.activation}-"
            f"{cfg.acc}-l{cfg.lanes}{'-pipe' if getattr(cfg.pe_config, 'pipeline', 0) else ''}"
            f"{'-rq' if cfg.requant else ''}"
            f"{'-cs' if carry_save(cfg.pe_config) else ''}"
            f"{'-' + cfg.readout.value if cfg.dataflow is Dataflow.OS else ''}"
            f"{f'-g{cfg.group_size}{cfg.group_scale.value}' if cfg.group_size else ''}"
            f"{'-zp' if cfg.zero_points else ''}"
            f"{'-' + cfg.pe_config.group_operand if cfg.pe_config.group_operand else ''}")


@pytest.mark.parametrize("cfg", CASES, ids=case_id)
@pytest.mark.parametrize("shape", [(5, 7, 3), (1, 1, 1), (4, 2, 5)], ids=lambda s: "x".join(
    map(str, s)))
def test_gemm_matches_model(cfg, shape):
    rng = np.random.default_rng(sum(shape))
    A, W, scale, shift, quant = random_gemm(cfg, rng, *shape)
    sched = schedule(cfg, A, W, scale, shift, quant)
    rows, _, _ = run_array(cfg, sched, bubbles=0.2, seed=1)
    np.testing.assert_array_equal(sched.assemble(rows), gemm(cfg, A, W, scale, shift, quant))


@pytest.mark.parametrize("cfg", CASES, ids=case_id)
def test_latency_and_back_to_back(cfg):
    rng = np.random.default_rng(3)
    K = max(cfg.min_tile_period, 4) * cfg.lanes + 1
    if cfg.group_size:  # two whole groups, each long enough (a short one is held back)
        assert cfg.group_beats >= cfg.min_tile_period
        K = 2 * cfg.group_size
    A, W, scale, shift, quant = random_gemm(cfg, rng, 2 * cfg.rows, K, 2 * cfg.cols)
    if cfg.pe_config.ARRAY_WBITS:  # bit-serial: the precisions k, 1, 2, .. in turn
        W, quant = stepped_precisions(cfg, W, quant)
    sched = schedule(cfg, A, W, scale, shift, quant)
    rows, out_cycles, accepted = run_array(cfg, sched)
    np.testing.assert_array_equal(sched.assemble(rows), gemm(cfg, A, W, scale, shift, quant))
    # No bubbles offered and tiles long enough: a beat every k = beat_cycles cycles (the
    # kind's; bit-serial cells take one per weight bit, at the beat's precision wbits),
    # results exactly latency after their beat (k - wbits sooner), expected_cycles.
    k = cfg.beat_cycles
    cycles = sched.beat_cycles(cfg)
    assert accepted == (accepted[0] + np.concatenate([[0], np.cumsum(cycles)[:-1]])).tolist()
    if sched.wbits is not None:  # stepped_precisions: min(k, beats (WS: tiles) of a sum)
        unit = cfg.tile_k
        assert len(set(cycles.tolist())) == min(k, -(-K // unit))
    ends = np.flatnonzero(sched.last)
    done = [accepted[i] + cfg.latency - (k - int(cycles[i])) for i in ends]
    if cfg.dataflow is Dataflow.OS:
        firsts = out_cycles[:: cfg.rows]
        assert firsts == done
        assert out_cycles == [f + r for f in firsts for r in range(cfg.rows)]
    else:
        assert out_cycles == done
    assert out_cycles[-1] - accepted[0] + 1 == expected_cycles(cfg, sched)


def stepped_precisions(cfg, W, quant):
    """W's rows at the precisions k, 1, 2, .. k - 1, k, 1, .. per beat (WS: per reduction
    tile), W clipped into them; the other quantization operands kept."""
    unit = cfg.tile_k
    k = cfg.weight.bits
    units = -(-W.shape[0] // unit)
    wbits = np.repeat((np.arange(units) + k - 1) % k + 1, unit)[: W.shape[0]]
    lo = np.where(cfg.weight.signed, -(1 << (wbits - 1)), 0)[:, None]
    hi = np.where(cfg.weight.signed, (1 << (wbits - 1)) - 1, (1 << wbits) - 1)[:, None]
    kept = quant if quant is not None else QuantOperands()
    return np.clip(W, lo, hi), dataclasses.replace(kept, wbits=wbits)


def test_os_short_tiles_stall_on_last():
    """Tiles shorter than min_tile_period: in_ready holds the 'last' beat back, results
    stay exact."""
    cfg = array("os", 3, 3, acc_bits=32)
    rng = np.random.default_rng(5)
    A, W, _, _, _ = random_gemm(cfg, rng, 6, 2, 6)
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
    # Bus readout: C + L + 1 after the 'last' beat, a tile per R cycles; drain: R + C + L,
    # a tile per 2R + C - 2.
    assert dut.latency == 4 + 1 + 1 and cfg.min_tile_period == 4
    drain = dataclasses.replace(cfg, readout=Readout.DRAIN)
    assert drain.latency == 4 + 4 + 1 and drain.min_tile_period == 2 * 4 + 4 - 2
    assert dut.signature.members["out_data"].shape.length == 4
    ws = array("ws", 4, 3, acc_bits=32)
    ws_dut = SystolicArray(ws)
    ws_dut._MustUse__silence = True
    assert ws.latency == 4 + 3 + 1 and "in_first" in ws_dut.signature.members
    # Input-stationary: C activations and R C weights per beat, one result per out_valid.
    is_ = array("is", 4, 3, acc_bits=32, requant=True)
    is_dut = SystolicArray(is_)
    is_dut._MustUse__silence = True
    members = is_dut.signature.members
    assert members["a_in"].shape.length == 3 and members["w_in"].shape.length == 12
    assert members["out_data"].shape.length == members["rq_scale"].shape.length == 1
    assert is_.latency == 4 + 3 + 2 + 1 and "in_first" in members
