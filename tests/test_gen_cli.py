"""The CLI: outputs, and one-line errors with no files left behind."""

import subprocess
import sys

import pytest

from qtpe.gen.cli import main


def run_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "qtpe.gen.cli", *args], capture_output=True,
                          text=True, cwd=cwd)


def test_generate_writes_verilog_and_json(tmp_path):
    assert main(["generate", "--preset", "mac_w4a8", "-o", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["qtpe_mac_w4a8.json",
                                                           "qtpe_mac_w4a8.v"]


def test_presets_lists_one_line_each(capsys):
    assert main(["presets"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) >= 4 and any("(default)" in line for line in lines)


@pytest.mark.parametrize("args,needle", [
    (["--set", "weight=int0"], "int0"),
    (["--set", "activation=uint17"], "uint17"),
    (["--preset", "nosuch"], "'nosuch'"),
    (["--set", "colour=red"], "'colour'"),
    (["--config", "BAD_TOML"], "not valid TOML"),
])
def test_bad_input_one_line_nonzero_no_output(tmp_path, args, needle):
    bad = tmp_path / "bad.toml"
    bad.write_text("weight = = 3\n")
    args = [str(bad) if a == "BAD_TOML" else a for a in args]
    out = tmp_path / "out"
    proc = run_cli("generate", *args, "-o", str(out))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("qtpe: error: ") and needle in lines[0]
    assert "allowed" in lines[0] or "available" in lines[0] or "must be" in lines[0] \
        or "TOML" in lines[0]
    assert not out.exists()


def test_lint_command():
    proc = run_cli("lint", "--preset", "mac_w4a8_sat_pipe")
    assert proc.returncode == 0, proc.stderr
    assert "lint clean" in proc.stdout


@pytest.mark.parametrize("args,needle", [
    (["synth", "--target", "vhdl", "-o", "OUT"], "invalid choice: 'vhdl'"),
    (["sim", "--sim", "xsim"], "invalid choice: 'xsim'"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
])
def test_bad_arguments_one_line(tmp_path, args, needle):
    out = tmp_path / "out"
    proc = run_cli(*[str(out) if a == "OUT" else a for a in args])
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("qtpe: error: ") and needle in lines[0]
    assert not out.exists()


@pytest.mark.parametrize("simulator,trace", [("icarus", ".fst"), ("verilator", ".vcd")])
def test_sim_waves_and_seed(tmp_path, simulator, trace):
    proc = run_cli("sim", "--preset", "mac_w2a8", "--sim", simulator, "--waves", "--seed", "5",
                   "--testcase", "corner_products", "-o", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert "PASS" in proc.stdout and "(seed 5)" in proc.stdout
    assert list((tmp_path / simulator).glob(f"*{trace}"))
