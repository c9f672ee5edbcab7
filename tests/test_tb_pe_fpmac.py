"""The FP MAC PE testbench on Icarus and Verilator: every float format as weight and
activation, INT8 activations, special values, both rounded outputs, wrap and saturation.

Each (simulator, config) builds once in its own folder and runs every cocotb test of
``qtpe.tb.test_pe_fpmac`` in one simulator process. The seed is printed on failure.
"""


import pytest
from cocotb_sim import assert_passes, run_mutant

from qtpe.gen.config import preset
from qtpe.hdl.formats import FloatType, Overflow, QType
from qtpe.hdl.kind_fpmac import FpMacConfig, FpOutput
from qtpe.sim.runner import SIMULATORS

COCOTB_TESTS = 4
fp = FloatType.parse

CONFIGS = [
    preset("fpmac_e4m3_fp32"),  # e4m3 x e4m3, every pair, rounded to FP32
    preset("fpmac_e2m1_a8"),  # FP4 weights x INT8
    FpMacConfig(name="fp_e5m2_l2_bf16", weight=fp("fp8_e5m2"), activation=fp("fp8_e5m2"),
                lanes=2, output=FpOutput.BF16),  # 73-bit Kulisch accumulator, infinities
    FpMacConfig(name="fp_e3m2_e2m3_l3_pipe", weight=fp("fp6_e3m2"), activation=fp("fp6_e2m3"),
                lanes=3, pipeline=True, output=FpOutput.FP32),
    FpMacConfig(name="fp_e4m3_e5m2_l4_sat", weight=fp("fp8_e4m3"), activation=fp("fp8_e5m2"),
                lanes=4, acc_bits=40, overflow=Overflow.SATURATE),
    FpMacConfig(name="fp_e2m1_i4_sat", weight=fp("fp4_e2m1"), activation=QType(4), acc_bits=6,
                overflow=Overflow.SATURATE),
]


@pytest.mark.parametrize("simulator", SIMULATORS)
@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: c.name)
def test_fpmac_pe(cfg, simulator, tmp_path):
    assert_passes(cfg, simulator, tmp_path, COCOTB_TESTS)


def test_wrong_rtl_fails(tmp_path):
    """Lane 0 reads a subnormal's shift as a normal's: the testbench must report failures."""
    result = run_mutant(preset("fpmac_e4m3"), tmp_path,
                        r"assign \\\$7  = \\\$5  \? \\\$6  : 5'h00;",
                        r"assign \\$7  = \\$5  ? \\$6  : 5'h01;")
    assert result.tests == COCOTB_TESTS
    assert result.failed >= 2 and not result.ok
