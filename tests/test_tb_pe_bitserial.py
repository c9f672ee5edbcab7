"""The bit-serial PE testbench on Icarus and Verilator over a small config matrix.

Each (simulator, config) builds once in its own folder and runs every cocotb test of
``qtpe.tb.test_pe_bitserial`` in one simulator process. The seed is printed on failure.
Together the configs cover signed and unsigned weights, maximum precision 1, 2, 4 and 8, odd
and power-of-two lanes, every data type, both scale kinds, wrap and saturate.
"""

import re

import pytest
from array_sim import run_broken
from cocotb_sim import assert_passes, run_mutant

from qtpe.gen.config import preset
from qtpe.gen.emit import write_design
from qtpe.gen.gemm import TEST_DEPTH, TEST_RESULTS, write_harness
from qtpe.hdl.array_config import ArrayConfig, Dataflow
from qtpe.hdl.formats import Overflow, QType, ScaleKind
from qtpe.hdl.kind_bitserial import BitSerialConfig, BitSerialDType
from qtpe.sim.runner import SIMULATORS, lint

CONFIGS = [
    preset("bitserial_w4a8_l8"),
    BitSerialConfig(name="bs_uw1_a4_l3_sat", weight=QType(1, False), activation=QType(4),
                    lanes=3, acc_bits=6, overflow=Overflow.SATURATE),
    BitSerialConfig(name="bs_w8_ua8_l5", weight=QType(8), activation=QType(8, False), lanes=5,
                    acc_bits=14),
    BitSerialConfig(name="bs_uw2_ua3_l2_g4_sat", weight=QType(2, False),
                    activation=QType(3, False), lanes=2, group_size=4, scale_bits=3,
                    acc_bits=9, overflow=Overflow.SATURATE),
    BitSerialConfig(name="bs_special_w4a8_l4_g8", weight=QType(4), activation=QType(8),
                    lanes=4, group_size=8, dtype=BitSerialDType.SPECIAL, special_bits=5,
                    scale_bits=4, acc_bits=18),
    BitSerialConfig(name="bs_offset_uw4a6_l3_g6_pot_sat", weight=QType(4, False),
                    activation=QType(6), lanes=3, group_size=6, dtype=BitSerialDType.OFFSET,
                    special_bits=4, group_scale=ScaleKind.POT, scale_bits=2, acc_bits=14,
                    overflow=Overflow.SATURATE),
]


@pytest.mark.parametrize("simulator", SIMULATORS)
@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: c.name)
def test_bitserial_pe(cfg, simulator, tmp_path):
    assert_passes(cfg, simulator, tmp_path, 5)


@pytest.mark.parametrize("cfg", CONFIGS + [preset("bitserial_w4a8_l8_bitmod")],
                         ids=lambda c: c.name)
def test_verilog_is_lint_clean(cfg, tmp_path):
    vpath, _ = write_design(cfg, tmp_path)
    lint(vpath, cfg.name)


MUTANTS = {
    # The sign plane added instead of subtracted: values go wrong.
    "sign-plane-added": (r"= - \$signed\(", "= $signed("),
    # in_ready only when idle: a bubble between ops, values stay right, timing does not.
    "ready-bubble": (r"assign in_ready = (\S+)\s+\| plane\[0\];", r"assign in_ready = \1 ;"),
}


@pytest.mark.parametrize("simulator", SIMULATORS)
@pytest.mark.parametrize("mutant", sorted(MUTANTS))
def test_wrong_rtl_fails(mutant, simulator, tmp_path):
    """A wrong value or a wrong cycle count must fail the cocotb tests on both simulators."""
    result = run_mutant(preset("bitserial_w4a8_l8"), tmp_path, *MUTANTS[mutant], simulator)
    assert result.tests == 5
    assert result.failed == 5 if mutant == "ready-bubble" else result.failed >= 3


# -- arrays of bit-serial cells ------------------------------------------------------------
ARRAY_COCOTB_TESTS = 3  # qtpe.tb.test_array


@pytest.mark.parametrize("dataflow", list(Dataflow), ids=lambda d: d.value)
def test_wrong_bitserial_rtl_fails(dataflow, tmp_path):
    """Bit-serial cell (1, 0) of a 2x2 array (the one cell of its module) takes every weight
    bit as set instead of the bit-plane it is given: the testbench must report mismatches."""
    cfg = ArrayConfig(BitSerialConfig(name=f"abs_bad_{dataflow.value}", weight=QType(4),
                                      acc_bits=32), rows=2, cols=2, dataflow=dataflow)
    vpath, hpath = write_harness(cfg, tmp_path, TEST_DEPTH, TEST_RESULTS)
    module, good = {
        Dataflow.OS: ("os_cell_plane_reg_bus(",
                      r"(assign plane_term_cell_l0 = )\S+ \? (act_in) : 8'h00;"),
        Dataflow.WS: ("ws_cell_p8_9(",
                      r"(assign plane_term_cell_l0 = )\S+ \? (act_in) : 8'h00;"),
        Dataflow.IS: ("is_cell_p8_9(",
                      r"(assign plane_sum_cell = )\S+ \? (act) : 8'h00;"),
    }[dataflow]
    head, sep, cell = vpath.read_text().partition(f"module {cfg.name}_{module}")
    cell, hits = re.subn(good, r"\1\2;", cell, count=1)
    assert sep and hits == 1
    vpath.write_text(head + sep + cell)
    run_broken(cfg, vpath, hpath, tmp_path, ARRAY_COCOTB_TESTS)
