"""The shift-add PE testbench on Icarus and Verilator: every encoding, int and uint weights,
several lane counts, groups with both scale kinds, wrap and saturation.

Each (simulator, config) builds once in its own folder and runs every cocotb test of
``qtpe.tb.test_pe_shiftadd`` in one simulator process. The seed is printed on failure.
"""

import json

import pytest

from qtpe.gen.config import preset
from qtpe.gen.emit import write_design
from qtpe.gen.flow import simulate
from qtpe.hdl.config import ShiftAddConfig
from qtpe.hdl.formats import Overflow, PotType, QType, ScaleKind
from qtpe.sim.runner import SIMULATORS, run_cocotb

COCOTB_TESTS = 4


def pot(text):
    return PotType.parse(text)


CONFIGS = [
    preset("shiftadd_pot_w4a8"),  # pot4 x int8, 8 lanes
    preset("shiftadd_int_w4a8"),  # int4 by shift-and-add x int8, 8 lanes
    ShiftAddConfig(name="sa_potz3_u8_l3_sat_pipe", weight=pot("potz3"),
                   activation=QType(8, False), lanes=3, acc_bits=12,
                   overflow=Overflow.SATURATE, pipeline=True),
    ShiftAddConfig(name="sa_apot5_i6_l2_gpot_sat", weight=pot("apot5"), activation=QType(6),
                   lanes=2, group_size=4, group_scale=ScaleKind.POT, scale_bits=2, acc_bits=16,
                   overflow=Overflow.SATURATE),
    ShiftAddConfig(name="sa_uint4_u8_gint", weight=QType(4, False), activation=QType(8, False),
                   group_size=3, group_scale=ScaleKind.INT, scale_bits=3, acc_bits=10),
    ShiftAddConfig(name="sa_pot2_u16_l5", weight=pot("pot2"), activation=QType(16, False),
                   lanes=5, acc_bits=20),
    ShiftAddConfig(name="sa_int8_i16_l2_sat_pipe", weight=QType(8), activation=QType(16),
                   lanes=2, acc_bits=30, overflow=Overflow.SATURATE, pipeline=True),
    # potz8 spans +-2^126: the exact datapath is far wider than 64 bits.
    ShiftAddConfig(name="sa_potz8_i4_l2_sat", weight=pot("potz8"), activation=QType(4),
                   lanes=2, acc_bits=24, overflow=Overflow.SATURATE),
]


@pytest.mark.parametrize("simulator", SIMULATORS)
@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: c.name)
def test_shiftadd_pe(cfg, simulator, tmp_path):
    result = simulate(cfg, simulator, tmp_path)
    assert result.tests == COCOTB_TESTS
    assert result.ok, (
        f"{result.failed}/{result.tests} cocotb tests failed on {simulator} with seed "
        f"{result.seed} (replay: qtpe sim --sim {simulator} --seed {result.seed} ...); "
        f"log {result.log}:\n{result.log.read_text()[-3000:]}"
    )


def test_wrong_rtl_fails(tmp_path):
    """Lane 0 reads its sign from an exponent bit: the testbench must report failures."""
    cfg = preset("shiftadd_pot_w4a8")
    vpath, _ = write_design(cfg, tmp_path)
    text = vpath.read_text()
    good = "assign leaf_l0_t0 = weight[3] ?"
    assert text.count(good) == 1
    vpath.write_text(text.replace(good, "assign leaf_l0_t0 = weight[2] ?"))
    result = run_cocotb("icarus", [vpath], cfg.name, tmp_path / "icarus",
                        "qtpe.tb.test_pe_shiftadd",
                        extra_env={"QTPE_CONFIG": json.dumps(cfg.to_dict())}, seed=1)
    assert result.tests == COCOTB_TESTS
    assert result.failed >= 3 and not result.ok
