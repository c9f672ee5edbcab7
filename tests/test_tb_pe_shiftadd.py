"""The shift-add PE testbench on Icarus and Verilator: every encoding, int and uint weights,
several lane counts, groups with both scale kinds, wrap and saturation.

Each (simulator, config) builds once in its own folder and runs every cocotb test of
``qtpe.tb.test_pe_shiftadd`` in one simulator process. The seed is printed on failure.
"""


import re

import pytest
from cocotb_sim import assert_passes, run_mutant

from qtpe.gen.config import preset
from qtpe.hdl.formats import Overflow, PotType, QType, ScaleKind
from qtpe.hdl.kind_shiftadd import ShiftAddConfig
from qtpe.sim.runner import SIMULATORS

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
    assert_passes(cfg, simulator, tmp_path, COCOTB_TESTS)


def test_wrong_rtl_fails(tmp_path):
    """Lane 0 reads its sign from an exponent bit: the testbench must report failures."""
    result = run_mutant(preset("shiftadd_pot_w4a8"), tmp_path,
                        re.escape("assign leaf_l0_t0 = weight[3] ?"),
                        "assign leaf_l0_t0 = weight[2] ?")
    assert result.tests == COCOTB_TESTS
    assert result.failed >= 3 and not result.ok
