"""The L-Mul PE on Icarus and Verilator against its golden model (the FP MAC PE's testbench:
the same ports): every E4M3 code pair, mixed formats with infinities, FP4, the rounded output,
wrap and saturation; and a wrong offset term fails the regression.

Each (simulator, config) builds once in its own folder and runs every cocotb test of
``qtpe.tb.test_pe_fpmac`` in one simulator process. The seed is printed on failure.
"""

import pytest
from cocotb_sim import assert_passes, run_mutant

from qtpe.gen.config import preset
from qtpe.hdl.formats import FloatType, Overflow
from qtpe.hdl.kind_fpmac import FpOutput
from qtpe.hdl.kind_lmul import LMulConfig
from qtpe.sim.runner import SIMULATORS

COCOTB_TESTS = 4
fp = FloatType.parse

CONFIGS = [
    preset("lmul_e4m3"),  # every E4M3 code pair
    LMulConfig(name="lmul_e5m2_e4m3_l2_fp32", weight=fp("fp8_e5m2"), activation=fp("fp8_e4m3"),
               lanes=2, output=FpOutput.FP32, pipeline=True),  # infinities, mixed mantissas
    LMulConfig(name="lmul_e2m1_e2m3_l3_sat", weight=fp("fp4_e2m1"), activation=fp("fp6_e2m3"),
               lanes=3, acc_bits=12, overflow=Overflow.SATURATE),
]


@pytest.mark.parametrize("simulator", SIMULATORS)
@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: c.name)
def test_lmul_pe(cfg, simulator, tmp_path):
    assert_passes(cfg, simulator, tmp_path, COCOTB_TESTS)


def test_wrong_offset_fails(tmp_path):
    """Lane 0's offset term 2^-3 doubled: the testbench must report failures."""
    result = run_mutant(preset("lmul_e4m3"), tmp_path, r"assign \\\$29  = \\\$28  \+ 1'h1;",
                        r"assign \\$29  = \\$28  + 2'h2;")
    assert result.tests == COCOTB_TESTS
    assert result.failed >= 2 and not result.ok
