"""Tests for qtpe.synth.reports: parsers of tool output and the report records."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import pytest

from qtpe.synth import AsicReport, Ecp5Report, GenericReport, SynthReport, Target
from qtpe.synth.reports import (
    PathStage,
    is_generic_ff,
    parse_ltp_depth,
    parse_nextpnr_report,
    parse_sta_worst_path,
    parse_yosys_stat,
)
from qtpe.synth.tools import SynthError

STAT: dict = {
    "modules": {
        "\\top": {
            "num_cells": 5,
            "area": 300.5,
            "sequential_area": 96.0,
            "num_cells_by_type": {"NAND2X1": 4, "DFFPOSX1": 1},
        }
    }
}


def _sta_path(group: str, start: str, end: str, arrival: float, required: float) -> str:
    slack = required - arrival
    state = "MET" if slack >= 0 else "VIOLATED"
    return f"""\
Startpoint: {start} (rising edge-triggered flip-flop clocked by clk)
Endpoint: {end} (rising edge-triggered flip-flop clocked by clk)
Path Group: {group}
Path Type: max

    Delay      Time   Description
-------------------------------------------------------------
   0.4545    0.4545 v {start}/Q (DFFPOSX1)
             {arrival:.4f}   data arrival time

  10.0000   10.0000   clock clk (rise edge)
            {required:.4f}   data required time
-------------------------------------------------------------
            {required:.4f}   data required time
            {-arrival:.4f}   data arrival time
-------------------------------------------------------------
             {slack:.4f}   slack ({state})


"""


def _generic() -> GenericReport:
    return GenericReport(
        cell_count=3, cells_by_type=(("$_AND_", 2), ("$_DFF_P_", 1)), ff_count=1, logic_depth=2
    )


def _asic() -> AsicReport:
    return AsicReport(
        liberty="osu018_stdcells",
        area_um2=300.5,
        sequential_area_um2=96.0,
        cell_count=5,
        cells_by_type=(("DFFPOSX1", 1), ("NAND2X1", 4)),
        ff_count=1,
        clock="clk",
        wrapped_area_um2=500.0,
        wrapped_ff_count=3,
        io_register_bits=2,
        clock_period_ns=10.0,
        worst_slack_ns=8.0,
        worst_arrival_ns=1.8,
        worst_path_ns=2.0,
        fmax_mhz=500.0,
        worst_group="clk",
        worst_startpoint="a_reg",
        worst_endpoint="q_reg",
        critical_path=(PathStage("a_reg/CLK", "DFFPOSX1", "^", 0.0, 0.0, 0.0, 0.0),
                       PathStage("a_reg/Q", "DFFPOSX1", "v", 0.01, 0.1, 0.3, 0.3),
                       PathStage("q_reg/D", "DFFPOSX1", "v", 0.0, 0.1, 0.0, 1.8)),
        max_fanout=12,
        fanout_buffers=0,
        input_driver="INVX1",
        output_load_pf=0.02,
    )


def test_parse_yosys_stat(tmp_path: Path) -> None:
    path = tmp_path / "stat.json"
    path.write_text(json.dumps(STAT))
    stat = parse_yosys_stat(path, "top", liberty=True)
    assert stat.cell_count == 5
    assert stat.cells_by_type == (("DFFPOSX1", 1), ("NAND2X1", 4))
    assert (stat.area, stat.sequential_area) == (300.5, 96.0)
    assert parse_yosys_stat(path, "top").area is None


def test_parse_yosys_stat_missing_data_raises(tmp_path: Path) -> None:
    path = tmp_path / "stat.json"
    path.write_text(json.dumps(STAT))
    with pytest.raises(SynthError, match=r"no module 'other'"):
        parse_yosys_stat(path, "other")
    no_area = copy.deepcopy(STAT)
    del no_area["modules"]["\\top"]["area"]
    path.write_text(json.dumps(no_area))
    with pytest.raises(SynthError, match=r"missing 'area'"):
        parse_yosys_stat(path, "top", liberty=True)
    uneven = copy.deepcopy(STAT)
    uneven["modules"]["\\top"]["num_cells"] = 6
    path.write_text(json.dumps(uneven))
    with pytest.raises(SynthError, match="do not add up"):
        parse_yosys_stat(path, "top")
    with pytest.raises(SynthError, match="cannot read Yosys stat JSON"):
        parse_yosys_stat(tmp_path / "absent.json", "top")


def test_is_generic_ff() -> None:
    for ff in ("$_DFF_P_", "$_SDFFE_PP0P_", "$_DFFSR_PNN_", "$_ALDFF_PP_", "$_FF_", "$_DFFE_PP_"):
        assert is_generic_ff(ff), ff
    for gate in ("$_AND_", "$_MUX_", "$_DLATCH_P_", "DFFPOSX1", "TRELLIS_FF"):
        assert not is_generic_ff(gate), gate


def test_parse_ltp_depth() -> None:
    assert parse_ltp_depth("Longest topological path in mac8 (length=40):\n 0: a\n") == 40
    with pytest.raises(SynthError, match="expected one 'Longest topological path'"):
        parse_ltp_depth("nothing here")


def test_parse_nextpnr_report(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    report = {
        "fmax": {"$glbnet$clk": {"achieved": 123.4, "constraint": 250.0}},
        "utilization": {"TRELLIS_FF": {"available": 10, "used": 3}},
    }
    path.write_text(json.dumps(report))
    assert parse_nextpnr_report(path, "clk") == (123.4, 250.0, {"TRELLIS_FF": 3})
    with pytest.raises(SynthError, match=r"no Fmax for clock 'sys'"):
        parse_nextpnr_report(path, "sys")
    path.write_text(json.dumps({"utilization": {}}))
    with pytest.raises(SynthError, match="lacks fmax/utilization"):
        parse_nextpnr_report(path, "clk")


def test_parse_sta_picks_the_least_slack_across_groups() -> None:
    log = _sta_path("**async_default**", "r_reg", "q_reg", 0.3, 10.0) + _sta_path(
        "clk", "a_reg", "acc_reg", 5.2184, 9.83
    )
    path = parse_sta_worst_path(log)
    assert (path.group, path.startpoint, path.endpoint) == ("clk", "a_reg", "acc_reg")
    assert path.arrival_ns == 5.2184 and path.required_ns == 9.83
    assert path.slack_ns == pytest.approx(4.6116)


def test_parse_sta_violated_and_missing() -> None:
    assert parse_sta_worst_path(_sta_path("clk", "a", "b", 12.0, 9.8)).slack_ns == pytest.approx(
        -2.2
    )
    with pytest.raises(SynthError, match="no constrained register-to-register path"):
        parse_sta_worst_path("No paths found.\n")
    broken = _sta_path("clk", "a", "b", 5.0, 9.0).replace("4.0000   slack", "3.0000   slack")
    with pytest.raises(SynthError, match="inconsistent"):
        parse_sta_worst_path(broken)
    with pytest.raises(SynthError, match="Path Group"):
        parse_sta_worst_path(_sta_path("clk", "a", "b", 5.0, 9.0).replace("Path Group", "Grp"))


def test_target_parse() -> None:
    assert Target.parse("ecp5") is Target.ECP5
    assert Target.parse(Target.ASIC) is Target.ASIC
    with pytest.raises(ValueError, match=r"one of 'generic', 'ecp5', 'asic', not 'ice40'"):
        Target.parse("ice40")


def test_report_json_is_deterministic_and_round_trips() -> None:
    report = SynthReport("top", "asic", (("yosys", "Y"), ("opensta", "S")), _asic())
    assert report.target is Target.ASIC
    assert report.tool_versions == (("opensta", "S"), ("yosys", "Y"))
    text = report.to_json()
    again = SynthReport("top", Target.ASIC, (("opensta", "S"), ("yosys", "Y")), _asic())
    assert again.to_json() == text
    data = json.loads(text)
    assert list(data) == ["schema", "top", "target", "tool_versions", "result"]
    assert data["result"]["cells_by_type"] == {"DFFPOSX1": 1, "NAND2X1": 4}
    assert SynthReport.from_json(text) == report
    with pytest.raises(ValueError, match="schema"):
        SynthReport.from_json(json.dumps({**data, "schema": "other/9"}))


def test_report_result_must_match_target() -> None:
    with pytest.raises(ValueError, match=r"'ecp5' report needs a Ecp5Report, not GenericReport"):
        SynthReport("top", "ecp5", (), _generic())
    assert Ecp5Report.target is Target.ECP5


def test_asic_report_rejects_nonpositive_path() -> None:
    fields = _asic().to_dict()
    fields["worst_path_ns"] = 0.0
    with pytest.raises(ValueError, match="worst_path_ns must be positive"):
        AsicReport.from_dict(fields)


def test_markdown_marks_scopes() -> None:
    md = SynthReport("top", "asic", (("yosys", "Y"),), _asic()).to_markdown()
    assert md.startswith("### `top` on OSU 0.18 um")
    assert "| cell area | 300.5 um^2 | design |" in md
    assert "| Fmax (OpenSTA) | 500.0 MHz | registered I/O |" in md
    assert "Tools: yosys: Y" in md


def test_write_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    report = SynthReport("top", "generic", (("yosys", "Y"),), _generic())
    json_path, md_path = report.write(tmp_path / "out")
    assert json_path.read_text() == report.to_json()
    assert md_path.read_text() == report.to_markdown()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "top.generic.json",
        "top.generic.md",
    ]

    def fail(self: SynthReport) -> str:
        raise RuntimeError("render failed")

    monkeypatch.setattr(SynthReport, "to_markdown", fail)
    fresh = tmp_path / "fresh"
    with pytest.raises(RuntimeError, match="render failed"):
        report.write(fresh)
    assert list(fresh.iterdir()) == []  # neither file, nor a temporary left behind

    monkeypatch.undo()
    real_replace = os.replace
    calls = []

    def flaky_replace(src: str, dst: str) -> None:
        calls.append(dst)
        if len(calls) == 1:
            raise OSError("disk full")
        real_replace(src, dst)

    monkeypatch.setattr("qtpe.synth.reports.os.replace", flaky_replace)
    with pytest.raises(OSError, match="disk full"):
        report.write(tmp_path / "out")
    # the old reports are untouched and no temporary file is left
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "top.generic.json",
        "top.generic.md",
    ]
