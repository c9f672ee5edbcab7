"""The array testbench on Icarus and Verilator: every registered PE kind's bench arrays (8x8, both
dataflows) and regression arrays (1x1, 2x3, 4x4 in both dataflows: wrap and saturation, lanes,
requantization, the kind's formats), random GEMMs with odd M, K, N, extreme and corner
operands; and a wrong RTL that must fail.

Each (simulator, config) builds once in its own folder; every GEMM of ``qtpe.tb.test_array``
then runs whole in one simulator process through the harness. The seed is printed on failure.
"""

import numpy as np
import pytest
from array_sim import run_broken
from cocotb_sim import assert_passes

from qtpe.gen.config import PRESETS
from qtpe.gen.gemm import TEST_DEPTH, TEST_RESULTS, run_gemm, write_harness
from qtpe.hdl.array_config import ArrayConfig, Dataflow
from qtpe.hdl.formats import QType
from qtpe.hdl.kind_mac import MacConfig
from qtpe.hdl.kinds import all_kinds
from qtpe.sim.runner import SIMULATORS

COCOTB_TESTS = 3  # random_gemms, extreme_gemms, gemms_with_input_bubbles
OS, WS, IS = Dataflow.OS, Dataflow.WS, Dataflow.IS

#: Every registered kind's bench array presets and its regression arrays
#: (``Kind.array_regression``).
CONFIGS = [preset.config for kind in all_kinds() for preset in kind.presets.values()
           if preset.bench and isinstance(preset.config, ArrayConfig)]
CONFIGS += [cfg for kind in all_kinds() for cfg in kind.array_regression]


@pytest.mark.parametrize("simulator", SIMULATORS)
@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: c.name)
def test_array(cfg, simulator, tmp_path):
    assert_passes(cfg, simulator, tmp_path, COCOTB_TESTS)


@pytest.mark.parametrize("dataflow", [OS, WS, IS], ids=lambda d: d.value)
def test_wrong_rtl_fails(dataflow, tmp_path):
    """The PEs of row 1 of a 2x2 array (one cell module) square their activation instead of
    multiplying it by the weight: the testbench must report mismatches."""
    cfg = ArrayConfig(MacConfig(name=f"arr_bad_{dataflow.value}", acc_bits=32), rows=2, cols=2,
                      dataflow=dataflow)  # the reference kind's array
    vpath, hpath = write_harness(cfg, tmp_path, TEST_DEPTH, TEST_RESULTS)
    text = vpath.read_text()
    if dataflow is OS:
        head, sep, pe = text.partition(f"module \\{cfg.name}_os_cell_bus.pe")
        good, bad = "$signed(weight) * $signed(act)", "$signed(act) * $signed(act)"
    elif dataflow is WS:
        head, sep, pe = text.partition(f"module {cfg.name}_ws_cell_p16_17(")
        good, bad = "$signed(wgt) * $signed(row_out)", "$signed(row_out) * $signed(row_out)"
    else:
        head, sep, pe = text.partition(f"module {cfg.name}_is_cell_p16_17(")
        good, bad = "$signed(wgt) * $signed(act)", "$signed(act) * $signed(act)"
    assert good in pe
    vpath.write_text(head + sep + pe.replace(good, bad, 1))
    run_broken(cfg, vpath, hpath, tmp_path, COCOTB_TESTS)


def test_is_gemv_keeps_every_pe_busy(tmp_path):
    """Issue 17: a GEMV (M = 1, K = 1024, N = 64) through the 8x8 input-stationary INT8 MAC
    array on Verilator reaches at least 90% utilization (where OS and WS use one PE row of
    eight, 12.4%), equal to the golden model. 16 K tiles x 8 blocks of R = 8 columns = 128
    periods, after the activation-only one: 1032 beats, the last result latency (R + C + 2)
    later: 1050 cycles for 65,536 MACs, 97.5%."""
    cfg = PRESETS["array_is_w8a8_8x8"].config
    rng = np.random.default_rng(17)
    A = rng.integers(-128, 128, (1, 1024))
    W = rng.integers(-128, 128, (1024, 64))
    A[0, :3], W[:3, 0] = -128, -128  # most-negative products too
    run = run_gemm(cfg, A, W, "verilator", tmp_path, optimize=False)
    assert run.ok, f"{run.mismatches} results differ from the golden model"
    assert run.cycles == run.expected_cycles == 1050
    assert run.utilization >= 0.9, run.summary()


def test_is_group_quantized_gemv_keeps_every_pe_busy(tmp_path):
    """A decode GEMV of a W4 layer with groups of 128 and zero points (M = 1, K = 1024,
    N = 64) through an 8x8 input-stationary MAC array (Icarus): equal to the golden model,
    in the cycles of the plain GEMV and the group ring's two (1052: 97.3%), at least 90%
    utilization."""
    import dataclasses

    from qtpe.tb.models.operands import QuantOperands

    base = PRESETS["array_is_w8a8_8x8"].config
    cfg = dataclasses.replace(base, pe_config=dataclasses.replace(
        base.pe_config, name="arr_is_gemv_g128", weight=QType(4, False)), group_size=128,
        zero_points=True)
    rng = np.random.default_rng(19)
    A = rng.integers(-128, 128, (1, 1024))
    W = rng.integers(0, 16, (1024, 64))
    quant = QuantOperands(rng.integers(0, 256, (8, 64)), rng.integers(0, 16, (8, 64)))
    run = run_gemm(cfg, A, W, "icarus", tmp_path, quant=quant)
    assert run.ok, f"{run.mismatches} results differ from the golden model"
    assert run.cycles == run.expected_cycles == 1052
    assert run.utilization >= 0.9, run.summary()
