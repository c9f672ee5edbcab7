"""Bit-serial systolic arrays (``qtpe.hdl.array_bitserial``) in Amaranth's simulator: what only
they have (short tiles at k cycles per beat, short groups at changing precisions,
overflow runs, timing properties).
Their random GEMMs and beat-by-beat timing run with every other kind in
``tests/test_hdl_array.py``.
"""

import dataclasses

import numpy as np
import pytest
from array_sim import random_gemm, run_array

from qtpe.hdl.array import SystolicArray
from qtpe.hdl.array_config import ArrayConfig, Dataflow, Readout
from qtpe.hdl.formats import Overflow, QType
from qtpe.hdl.kind_bitserial import BitSerialConfig
from qtpe.hdl.kind_mac import MacConfig
from qtpe.tb.models.cycles import expected_cycles
from qtpe.tb.models.gemm import gemm
from qtpe.tb.models.schedule import schedule


def array(dataflow, rows, cols, requant=False, scale_bits=16, **pe):
    return ArrayConfig(BitSerialConfig(name="arr_bs", **pe), rows=rows, cols=cols,
                       dataflow=Dataflow(dataflow), requant=requant,
                       requant_scale_bits=scale_bits)


SAT = Overflow.SATURATE


def case_id(cfg):
    return (f"{cfg.dataflow.value}{cfg.rows}x{cfg.cols}-{cfg.weight}x{cfg.activation}-"
            f"{cfg.acc}-l{cfg.lanes}{'-rq' if cfg.requant else ''}")


@pytest.mark.parametrize("cfg", [
    array("os", 3, 3, weight=QType(2), acc_bits=32),
    array("os", 2, 3, weight=QType(1, False), lanes=2, acc_bits=32),
    array("os", 3, 2, weight=QType(8), acc_bits=32),
], ids=case_id)
def test_os_short_tiles_stall_on_last(cfg):
    """Tiles shorter than min_tile_period (for k = 8 they are not: no stall): in_ready holds
    the 'last' beat back, results stay exact, the cycle count is ``expected_cycles``."""
    rng = np.random.default_rng(5)
    A, W, _, _, _ = random_gemm(cfg, rng, 2 * cfg.rows, 2 * cfg.lanes, 2 * cfg.cols)
    sched = schedule(cfg, A, W)
    rows, out_cycles, accepted = run_array(cfg, sched)
    np.testing.assert_array_equal(sched.assemble(rows), gemm(cfg, A, W))
    lasts = [accepted[i] for i in np.flatnonzero(sched.last)]
    assert min(np.diff(lasts)) == max(cfg.min_tile_period, 2 * cfg.beat_cycles)
    assert out_cycles[-1] - accepted[0] + 1 == expected_cycles(cfg, sched)


def test_os_short_groups_at_changing_precisions():
    """Groups of one beat (shorter than min_tile_period = R) whose precisions fall from 4 to
    1 bit and rise again: a group's last plane comes R cycles or more after the previous
    group's (the column buses stay free, so a 1-bit group waits for a 4-bit one before
    it), results are exact and the cycles are ``expected_cycles``."""
    from qtpe.tb.models.operands import QuantOperands

    cfg = ArrayConfig(BitSerialConfig(name="arr_bs", weight=QType(4, False), lanes=2),
                      rows=3, cols=2, group_size=2, zero_points=True)
    rng = np.random.default_rng(9)
    K = 12
    wbits = np.repeat([4, 1, 1, 4, 2, 3], 2)
    A, W, _, _, quant = random_gemm(cfg, rng, 3, K, 2)
    W = np.minimum(W, (1 << wbits[:, None]) - 1)
    quant = QuantOperands(quant.scales, quant.zeros, wbits)
    sched = schedule(cfg, A, W, quant=quant)
    rows, out_cycles, accepted = run_array(cfg, sched)
    np.testing.assert_array_equal(sched.assemble(rows), gemm(cfg, A, W, quant=quant))
    planes = [accepted[i] + int(wbits[2 * i]) for i in range(len(accepted))]
    assert min(np.diff(planes)) == cfg.min_tile_period == 3
    assert accepted[2] - accepted[1] == 3  # the 1-bit group after the 1-bit one: no gap ...
    assert accepted[1] - accepted[0] == 6  # ... after the 4-bit one: its 4 planes and 2 more
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
    assert (os.latency, os.drain_start, os.min_tile_period) == (8 + 4 + 1, 13, 8)
    drain = dataclasses.replace(os, readout=Readout.DRAIN)
    assert (drain.latency, drain.min_tile_period) == (8 + 8 + 4, 2 * 8 + 8 - 2)
    assert (ws.beat_cycles, ws.macs_per_cycle, ws.latency, ws.min_tile_period) == (
        4, 6.0, 4 + 3 + 4, 1)
    one = array("ws", 2, 2, weight=QType(1), requant=True, acc_bits=16)
    assert (one.beat_cycles, one.latency) == (1, 2 + 2 + 1 + 1)
    # Input-stationary: the k planes, then R + C + 1 to the ring's output.
    is_ = array("is", 4, 3, weight=QType(4), lanes=2, acc_bits=32)
    assert (is_.beat_cycles, is_.macs_per_cycle, is_.latency, is_.min_tile_period) == (
        4, 6.0, 4 + 3 + 1 + 4, 1)
    mac = ArrayConfig(MacConfig(name="m", acc_bits=32), rows=4, cols=4)
    assert (mac.beat_cycles, mac.pe_latency, mac.macs_per_cycle, mac.latency) == (
        1, 1, 16.0, 4 + 1 + 1)
    dut = SystolicArray(os)
    dut._MustUse__silence = True
    assert dut.latency == 13 and "in_first" not in dut.signature.members


@pytest.mark.parametrize("dataflow", ["os", "ws", "is"])
def test_rejects_groups(dataflow):
    """Arrays scale once after the accumulators: no groups (so no BitMoD data types)."""
    with pytest.raises(ValueError, match=r"arrays take group_size = 0 .*not 8"):
        array(dataflow, 2, 2, weight=QType(4), group_size=8)
