"""The MAC PE testbench on Icarus and Verilator over the format matrix.

Each (simulator, config) builds once in its own folder and runs every cocotb test of
``qtpe.tb.test_pe_mac`` in one simulator process. The seed is printed on failure.
"""

import pytest
from cocotb_sim import assert_passes

from qtpe.hdl.formats import Overflow, QType
from qtpe.hdl.kind_mac import MacConfig
from qtpe.sim.runner import SIMULATORS

SIGNEDNESS = {"ss": (True, True), "uu": (False, False), "us": (False, True), "su": (True, False)}

MATRIX = [
    MacConfig(name=f"mac_w{w}a{a}_{sg}", weight=QType(w, SIGNEDNESS[sg][0]),
             activation=QType(a, SIGNEDNESS[sg][1]))
    for w in (1, 2, 4, 8) for a in (4, 8) for sg in SIGNEDNESS
]
# Overflow corners: small accumulators so wrap and saturation happen often, with and without
# the product register; the widest operands.
EXTRA = [
    MacConfig(name="mac_sat_ss", weight=QType(8), activation=QType(8), acc_bits=12,
             overflow=Overflow.SATURATE),
    MacConfig(name="mac_sat_us_pipe", weight=QType(4, False), activation=QType(8), acc_bits=10,
             overflow=Overflow.SATURATE, pipeline=True),
    MacConfig(name="mac_sat_uu", weight=QType(4, False), activation=QType(4, False), acc_bits=8,
             overflow=Overflow.SATURATE),
    MacConfig(name="mac_wrap_su_pipe", weight=QType(2), activation=QType(8, False), acc_bits=6,
             pipeline=True),
    MacConfig(name="mac_w16a16", weight=QType(16), activation=QType(16), acc_bits=40),
    # Lanes: an odd count, a power of two with saturation, and the most-negative-heavy int1.
    MacConfig(name="mac_l3_w4a8_us", weight=QType(4, False), activation=QType(8), lanes=3),
    MacConfig(name="mac_l8_w8a8_sat_pipe", lanes=8, acc_bits=16, overflow=Overflow.SATURATE,
              pipeline=True),
    MacConfig(name="mac_l5_w1a4_ss", weight=QType(1), activation=QType(4), lanes=5),
]


@pytest.mark.parametrize("simulator", SIMULATORS)
@pytest.mark.parametrize("cfg", MATRIX + EXTRA, ids=lambda c: c.name)
def test_mac_pe(cfg, simulator, tmp_path):
    assert_passes(cfg, simulator, tmp_path, 5)
