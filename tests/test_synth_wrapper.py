"""Tests for qtpe.synth.wrapper: the registered-I/O timing wrapper."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qtpe.synth.tools import SynthError, run_yosys
from qtpe.synth.wrapper import (
    Direction,
    Port,
    read_ports,
    regio_wrapper_verilog,
    stage_verilog,
    write_regio_wrapper,
)

# Combinational on purpose: without the wrapper it has no register-to-register path at all.
# The escaped port name is what some generators emit.
COMB_V = """\
module comb (
  input wire clk,
  input wire [3:0] a,
  input wire \\b.x ,
  output wire [4:0] y
);
  assign y = a + \\b.x ;
endmodule
"""

PORTS = (
    Port("clk", Direction.INPUT, 1),
    Port("a", Direction.INPUT, 4),
    Port("b.x", Direction.INPUT, 1),
    Port("y", Direction.OUTPUT, 5),
)


@pytest.fixture
def staged(tmp_path: Path) -> tuple[Path, Path]:
    src = tmp_path / "my comb.v"  # a space in the name must not reach tool scripts
    src.write_text(COMB_V)
    work = tmp_path / "work"
    work.mkdir()
    return work, stage_verilog(src, work)


def test_stage_verilog_sanitises_name(staged: tuple[Path, Path]) -> None:
    work, rel = staged
    assert rel == Path("src/my_comb.v")
    assert (work / rel).read_text() == COMB_V


def test_read_ports_in_declaration_order(staged: tuple[Path, Path]) -> None:
    work, rel = staged
    ports, modules = read_ports(rel, "comb", work)
    assert ports == PORTS
    assert modules == {"comb"}


def test_wrapper_registers_every_bit_but_the_clock(staged: tuple[Path, Path]) -> None:
    work, rel = staged
    wrapper = write_regio_wrapper(rel, "comb", work)
    assert wrapper.module == "comb_regio"
    assert wrapper.io_register_bits == 4 + 1 + 5
    # Synthesised, the wrapper holds exactly that many flip-flops around the adder.
    run_yosys(
        f"read_verilog {rel.as_posix()}\nread_verilog {wrapper.path.name}\n"
        "synth -top comb_regio -flatten\ntee -q -o w.json stat -json\n",
        work,
        name="wrap",
    )
    cells = json.loads((work / "w.json").read_text())["modules"]["\\comb_regio"]
    ffs = sum(n for t, n in cells["num_cells_by_type"].items() if "DFF" in t)
    assert ffs == wrapper.io_register_bits


def test_wrapper_text_uses_escaped_identifiers() -> None:
    text = regio_wrapper_verilog("comb", PORTS)
    assert "module comb_regio (" in text
    assert "input wire [0:0] \\b.x ," in text
    assert "always @(posedge clk) begin" in text
    assert ".clk(clk)" in text  # the clock passes through unregistered
    assert "comb dut (" in text


def test_bad_clock_names_the_inputs() -> None:
    with pytest.raises(ValueError, match=r"clock 'ck' is not an input port of 'comb'.*clk, a, b.x"):
        regio_wrapper_verilog("comb", PORTS, clock="ck")
    with pytest.raises(ValueError, match=r"clock 'a' of 'comb' is 4 bits wide"):
        regio_wrapper_verilog("comb", PORTS, clock="a")


def test_inout_and_clashing_names_rejected() -> None:
    with pytest.raises(ValueError, match=r"cannot register inout ports \['pad'\]"):
        regio_wrapper_verilog("comb", (*PORTS, Port("pad", Direction.INOUT, 1)))
    with pytest.raises(ValueError, match=r"\[.qtpe_in_a.\] clash"):
        regio_wrapper_verilog("comb", (*PORTS, Port("qtpe_in_a", Direction.OUTPUT, 1)))


def test_port_width_must_be_positive() -> None:
    with pytest.raises(ValueError, match=r"port 'z' has width 0"):
        Port("z", Direction.INPUT, 0)


def test_existing_regio_module_rejected(tmp_path: Path) -> None:
    (tmp_path / "d.v").write_text(COMB_V + "module comb_regio(); endmodule\n")
    rel = stage_verilog(tmp_path / "d.v", tmp_path)
    with pytest.raises(ValueError, match="already has a module named 'comb_regio'"):
        write_regio_wrapper(rel, "comb", tmp_path)


def test_unknown_top_raises_synth_error(staged: tuple[Path, Path]) -> None:
    work, rel = staged
    with pytest.raises(SynthError, match="ERROR: Module `nosuch' not found"):
        read_ports(rel, "nosuch", work)
