"""The runners: lint, build errors, and a wrong RTL really failing on both simulators."""


import re

import pytest
from cocotb_sim import run_mutant

from qtpe.gen.config import preset
from qtpe.gen.emit import write_design
from qtpe.sim.runner import SIMULATORS, SimError, lint, run_cocotb


def test_lint_passes_emitted_and_catches_real_problems(tmp_path):
    vpath, _ = write_design(preset("mac_w4a8_sat_pipe"), tmp_path)
    lint(vpath, "qtpe_mac_w4a8_sat_pipe")
    bad = tmp_path / "bad.v"
    bad.write_text("module bad(input clk, output [3:0] y);\n  wire [7:0] x = 8'hff;\n"
                   "  assign y = x;\nendmodule\n")
    with pytest.raises(SimError, match="WIDTHTRUNC"):
        lint(bad, "bad")


def test_unknown_simulator(tmp_path):
    with pytest.raises(ValueError, match="simulator must be one of icarus, verilator, not 'vcs'"):
        run_cocotb("vcs", [], "top", tmp_path, "qtpe.tb.test_pe_mac")


@pytest.mark.parametrize("simulator", SIMULATORS)
def test_build_error_surfaces_simulator_message(simulator, tmp_path):
    bad = tmp_path / "broken.v"
    bad.write_text("module broken(input clk);\n  wire x = ;\nendmodule\n")
    with pytest.raises(SimError, match="build of broken failed"):
        run_cocotb(simulator, [bad], "broken", tmp_path / "b", "qtpe.tb.test_pe_mac")


@pytest.mark.parametrize("simulator", SIMULATORS)
def test_wrong_rtl_fails_the_cocotb_tests(simulator, tmp_path):
    """Subtract instead of add in the accumulator: the testbench must report failures."""
    result = run_mutant(preset("mac_w4a8"), tmp_path, re.escape("+ $signed(product_l0)"),
                        "- $signed(product_l0)", simulator)
    assert result.tests == 5
    assert result.failed >= 3 and not result.ok
