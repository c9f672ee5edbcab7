"""The LUT tile testbench on Icarus and Verilator: every weight encoding (int, uint with zero
point, sym, ternary), g = 2, 3, 4, plain and symmetric tables, one and several PEs per
precompute unit, wrap and saturation.

Each (simulator, config) builds once in its own folder and runs every cocotb test of
``qtpe.tb.test_pe_lut`` in one simulator process. The seed is printed on failure.
"""

import json

import pytest

from qtpe.gen.config import preset
from qtpe.gen.emit import write_design
from qtpe.gen.flow import simulate
from qtpe.hdl.config import LutConfig
from qtpe.hdl.formats import Overflow, PlaneType, QType
from qtpe.sim.runner import SIMULATORS, run_cocotb

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
    result = simulate(cfg, simulator, tmp_path)
    assert result.tests == COCOTB_TESTS
    assert result.ok, (
        f"{result.failed}/{result.tests} cocotb tests failed on {simulator} with seed "
        f"{result.seed} (replay: qtpe sim --sim {simulator} --seed {result.seed} ...); "
        f"log {result.log}:\n{result.log.read_text()[-3000:]}"
    )


def test_wrong_rtl_fails(tmp_path):
    """The complemented lookup is not negated (symmetric tables): the testbench must fail."""
    cfg = preset("lut_w2a8_g4")
    vpath, _ = write_design(cfg, tmp_path)
    text = vpath.read_text()
    good = "assign negate_0 = "
    assert text.count(good) == 2  # one per PE
    vpath.write_text(text.replace(good, "assign negate_0 = 1'h0 & ", 1))
    result = run_cocotb("icarus", [vpath], cfg.name, tmp_path / "icarus",
                        "qtpe.tb.test_pe_lut",
                        extra_env={"QTPE_CONFIG": json.dumps(cfg.to_dict())}, seed=1)
    assert result.tests == COCOTB_TESTS
    assert result.failed >= 4 and not result.ok
