"""Tests for qtpe.synth.flows: the three flows and ``synthesize`` on a small MAC.

The Verilog fixtures live in pytest's tmp_path (under /tmp), so passing here also checks that the
YoWASP tools see work directories there. One synthesis per target is shared by a module fixture.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from qtpe.synth import (
    AsicReport,
    Ecp5Report,
    GenericReport,
    SynthError,
    SynthReport,
    Target,
    synthesize,
)
from qtpe.synth.install import install

# A registered 8x8 signed multiply-accumulate: 20-bit accumulator, synchronous reset, enable.
MAC_V = """\
module mac8 (
  input wire clk,
  input wire rst,
  input wire en,
  input wire signed [7:0] a,
  input wire signed [7:0] b,
  output reg signed [19:0] acc
);
  always @(posedge clk) begin
    if (rst) acc <= 20'sd0;
    else if (en) acc <= acc + a * b;
  end
endmodule
"""

# The same registers with a purely combinational change: add instead of multiply-add.
ADD_V = MAC_V.replace("acc + a * b", "acc + a")

MAC_IO_BITS = 1 + 1 + 8 + 8 + 20  # rst, en, a, b, acc (clk excluded)


@pytest.fixture(scope="module")
def src(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("synth_src")
    assert str(root).startswith("/tmp"), "the fixture must exercise the /tmp mount handling"
    (root / "mac8.v").write_text(MAC_V)
    (root / "add8.v").write_text(ADD_V)
    return root


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("synth_work")


@pytest.fixture(scope="module")
def generic(src: Path, work: Path) -> SynthReport:
    return synthesize(src / "mac8.v", "mac8", "generic", work / "generic")


@pytest.fixture(scope="module")
def ecp5(src: Path, work: Path) -> SynthReport:
    return synthesize(src / "mac8.v", "mac8", "ecp5", work / "ecp5")


@pytest.fixture(scope="module")
def asic(src: Path, work: Path) -> SynthReport:
    install()  # idempotent; fetches the OSU Liberty and OpenSTA if `make setup` has not
    return synthesize(src / "mac8.v", "mac8", Target.ASIC, work / "asic")


def test_generic_counts(generic: SynthReport) -> None:
    assert generic.target is Target.GENERIC
    result = generic.result
    assert isinstance(result, GenericReport)
    assert result.cell_count > 0
    assert result.cell_count == sum(n for _, n in result.cells_by_type)
    assert result.ff_count == 20  # the accumulator, one flip-flop per bit
    assert result.logic_depth > 8  # an 8x8 multiplier feeding a 20-bit adder is deep
    assert dict(generic.tool_versions)["yosys"].startswith("Yosys ")


def test_generic_depth_follows_combinational_change(
    generic: SynthReport, src: Path, work: Path
) -> None:
    adder = synthesize(src / "add8.v", "mac8", "generic", work / "generic_add").result
    assert isinstance(adder, GenericReport) and isinstance(generic.result, GenericReport)
    assert adder.ff_count == generic.result.ff_count
    assert adder.logic_depth < generic.result.logic_depth
    assert adder.cell_count < generic.result.cell_count


def test_ecp5_resources_and_fmax(ecp5: SynthReport) -> None:
    result = ecp5.result
    assert isinstance(result, Ecp5Report)
    assert result.ff_count == 20
    # the multiply goes to a DSP or to LUTs/carries, never nowhere
    assert result.dsp_count + result.lut4_count + result.carry_count > 0
    assert 0 < result.fmax_mhz < 1000
    assert result.io_register_bits == MAC_IO_BITS
    # placed and routed numbers are of the wrapper: design plus I/O registers
    assert result.wrapped_ff_used == result.ff_count + MAC_IO_BITS
    assert set(dict(ecp5.tool_versions)) == {"yosys", "nextpnr-ecp5"}


def test_asic_area_and_timing(asic: SynthReport) -> None:
    result = asic.result
    assert isinstance(result, AsicReport)
    assert result.liberty == "osu018_stdcells"
    assert result.area_um2 > result.sequential_area_um2 > 0
    assert result.ff_count == 20
    assert result.wrapped_ff_count == result.ff_count + MAC_IO_BITS
    assert result.wrapped_area_um2 > result.area_um2
    assert math.isclose(result.fmax_mhz, 1000 / result.worst_path_ns, rel_tol=1e-4)
    assert math.isclose(
        result.worst_path_ns, result.clock_period_ns - result.worst_slack_ns, abs_tol=1e-3
    )
    # the path includes a clock-to-Q and a setup time, so it is longer than the arrival alone
    assert result.worst_arrival_ns < result.worst_path_ns
    assert 10 < result.fmax_mhz < 1000
    assert result.worst_group == "clk"
    assert result.worst_endpoint.endswith("_reg")
    assert dict(asic.tool_versions)["opensta"].startswith("OpenSTA ")
    # the critical path runs stage by stage from the launching clock pin to the capturing D
    stages = result.critical_path
    assert len(stages) >= 3
    assert stages[0].pin.endswith("/CLK") and stages[-1].pin.endswith("/D")
    assert stages[0].pin.split("/")[0] == result.worst_startpoint
    assert stages[-1].pin.split("/")[0] == result.worst_endpoint
    times = [st.time_ns for st in stages]
    assert times == sorted(times) and math.isclose(times[-1], result.worst_arrival_ns,
                                                   abs_tol=1e-3)
    assert math.isclose(sum(st.delay_ns for st in stages), result.worst_arrival_ns,
                        abs_tol=5e-3)
    assert result.max_fanout == 12 and result.input_driver == "INVX1"


def test_reports_write_json_and_markdown(
    generic: SynthReport, ecp5: SynthReport, asic: SynthReport, tmp_path: Path
) -> None:
    for report in (generic, ecp5, asic):
        json_path, md_path = report.write(tmp_path)
        assert json_path.name == f"mac8.{report.target.value}.json"
        assert md_path.name == f"mac8.{report.target.value}.md"
        data = json.loads(json_path.read_text())
        assert data["target"] == report.target.value
        assert SynthReport.from_json(json_path.read_text()) == report
        assert "| metric | value | scope |" in md_path.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        f"mac8.{t}.{ext}" for t in ("generic", "ecp5", "asic") for ext in ("json", "md")
    )


def test_syntax_error_raises_with_yosys_message(tmp_path: Path) -> None:
    bad = tmp_path / "bad.v"
    bad.write_text(MAC_V.replace("acc <= acc + a * b;", "acc <= acc + * b;"))
    with pytest.raises(SynthError, match=r"(?s)yosys failed.*ERROR:.*syntax error"):
        synthesize(bad, "mac8", "generic", tmp_path / "work")


def test_missing_top_raises(src: Path, tmp_path: Path) -> None:
    with pytest.raises(SynthError, match=r"ERROR:.*nosuch"):
        synthesize(src / "mac8.v", "nosuch", "generic", tmp_path)


def test_bad_target_raises_before_running(src: Path, tmp_path: Path) -> None:
    with pytest.raises(
        ValueError, match=r"target must be one of 'generic', 'ecp5', 'asic'.*'vhdl'"
    ):
        synthesize(src / "mac8.v", "mac8", "vhdl", tmp_path / "work")
    assert not (tmp_path / "work").exists()


def test_wrong_clock_raises(src: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"clock 'clock' is not an input port of 'mac8'.*clk"):
        synthesize(src / "mac8.v", "mac8", "ecp5", tmp_path, clock="clock")


def test_bad_top_name_raises(src: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"top module name '../mac8'"):
        synthesize(src / "mac8.v", "../mac8", "generic", tmp_path)


def test_ecp5_device_is_the_smallest_part_that_holds_the_design():
    from qtpe.synth.flows import ecp5_device_for

    assert ecp5_device_for({"LUT4": 900, "CCU2C": 160, "MULT18X18D": 8}) == "25k"
    assert ecp5_device_for({"LUT4": 3875, "CCU2C": 1027, "MULT18X18D": 64}) == "45k"
    assert ecp5_device_for({"LUT4": 30000, "MULT18X18D": 73}) == "85k"
    assert ecp5_device_for({"LUT4": 20000, "CCU2C": 3000}) == "45k"  # carries take 2 LUT4s
    assert ecp5_device_for({"LUT4": 90000}) == "85k"  # too big: nextpnr reports it
