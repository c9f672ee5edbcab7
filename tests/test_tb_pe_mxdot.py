"""The MX dot-product PE testbench on Icarus and Verilator: MXFP8 (E4M3, and E5M2 with int8
activations), MXFP4 and MXFP6 (a small block, a pipelined saturating narrow accumulator).

Each (simulator, config) builds once in its own folder and runs every cocotb test of
``qtpe.tb.test_pe_mxdot`` in one simulator process; every coverage bin must be hit. The seed
is printed on failure.
"""

import pytest
from cocotb_sim import assert_passes, run_mutant

from qtpe.gen.config import preset
from qtpe.hdl.formats import FloatType, Overflow, QType
from qtpe.hdl.kind_mxdot import MxDotConfig
from qtpe.sim.runner import SIMULATORS

COCOTB_TESTS = 4
E5M2, E3M2, E2M3 = map(FloatType.parse, ("fp8_e5m2", "fp6_e3m2", "fp6_e2m3"))

CONFIGS = [
    MxDotConfig(name="mx_e4m3_b32_l4", lanes=4),  # MXFP8 E4M3, OCP blocks of 32
    preset("mxdot_fp4_e2m1"),  # MXFP4 E2M1, blocks of 32, 8 lanes
    MxDotConfig(name="mx_e3m2_e2m3_b6_l3_sat_pipe", weight=E3M2, activation=E2M3, lanes=3,
                block_size=6, acc_bits=20, overflow=Overflow.SATURATE, pipeline=True),
    MxDotConfig(name="mx_e5m2_i8_b4_l2", weight=E5M2, activation=QType(8), lanes=2,
                block_size=4, scale_min=-6, scale_max=6),
]


@pytest.mark.parametrize("simulator", SIMULATORS)
@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: c.name)
def test_mxdot_pe(cfg, simulator, tmp_path):
    assert_passes(cfg, simulator, tmp_path, COCOTB_TESTS)


def test_wrong_rtl_fails(tmp_path):
    """The NaN block forgets scale sums above the window: the testbench must report it."""
    result = run_mutant(CONFIGS[0], tmp_path,
                        r"assign scale_nan = (\\\$\d+) +\| (\\\$\d+) ;",
                        r"assign scale_nan = \1 ;")
    assert result.tests == COCOTB_TESTS
    assert result.failed >= 1 and not result.ok
