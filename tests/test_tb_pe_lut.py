"""The LUT tile testbench on Icarus and Verilator: every weight encoding (int, uint with zero
point, sym, ternary), g = 2, 3, 4, plain and symmetric tables, one and several PEs per
precompute unit, wrap and saturation.

Each (simulator, config) builds once in its own folder and runs every cocotb test of
``qtpe.tb.test_pe_lut`` in one simulator process. The seed is printed on failure.
"""


import pytest
from cocotb_sim import assert_passes, run_mutant

from qtpe.gen.config import preset
from qtpe.hdl.formats import Overflow, PlaneType, QType
from qtpe.hdl.kind_lut import LutConfig
from qtpe.sim.runner import SIMULATORS

COCOTB_TESTS = 5
SAT = Overflow.SATURATE


def sym(text):
    return PlaneType.parse(text)


# encoding x g x table: int sym4/plain3/plain4, uint sym2/plain3, sym sym3/plain4,
# ternary sym4/plain2; sharing 1, 2, 3, 4; activations int4..int8; small saturating and
# wrapping accumulators.
CONFIGS = [
    preset("lut_w2a8_g4"),  # int2, g 4, symmetric, 2 PEs
    preset("lut_ternary_a8_g4"),  # ternary, g 4, symmetric, 2 PEs
    LutConfig(name="lut_int4_g3_plain_s2_sat", weight=QType(4), g=3, symmetric=False,
              sharing=2, acc_bits=14, overflow=SAT),
    LutConfig(name="lut_int1_g4_plain_a4", weight=QType(1), g=4, symmetric=False,
              activation=QType(4)),
    LutConfig(name="lut_uint4_g3_plain_s3_sat", weight=QType(4, False), g=3, symmetric=False,
              sharing=3, acc_bits=14, overflow=SAT),
    LutConfig(name="lut_uint2_g2_sym_a4_wrap", weight=QType(2, False), g=2, symmetric=True,
              activation=QType(4), acc_bits=8),
    LutConfig(name="lut_sym4_g3_sym_a6", weight=sym("sym4"), g=3, symmetric=True,
              activation=QType(6)),
    LutConfig(name="lut_sym1_g4_plain_s4_a7_sat", weight=sym("sym1"), g=4, symmetric=False,
              sharing=4, activation=QType(7), acc_bits=10, overflow=SAT),
    LutConfig(name="lut_ternary_g2_plain_a5_wrap", weight=sym("ternary"), g=2,
              symmetric=False, activation=QType(5), acc_bits=8),
]


@pytest.mark.parametrize("simulator", SIMULATORS)
@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: c.name)
def test_lut_tile(cfg, simulator, tmp_path):
    assert_passes(cfg, simulator, tmp_path, COCOTB_TESTS)


def test_wrong_rtl_fails(tmp_path):
    """The complemented lookup is not negated (symmetric tables): the testbench must fail."""
    result = run_mutant(preset("lut_w2a8_g4"), tmp_path, "assign negate_0 = ",
                        "assign negate_0 = 1'h0 & ", count=2)  # one per PE
    assert result.tests == COCOTB_TESTS
    assert result.failed >= 4 and not result.ok
