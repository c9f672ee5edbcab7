"""``qtpe mutate`` (``qtpe.gen.mutate``): kills, the cache, timeouts, the report, bad input."""

import json
import os
import subprocess
import sys
import time

import pytest

from qtpe.gen import api
from qtpe.gen.emit import write_design
from qtpe.gen.mutate import OUTCOMES, _Workers, regress, run_mutation
from qtpe.hdl.kinds import kind_of
from qtpe.sim import runner
from qtpe.synth.mutate import list_mutations, prepare

TINY = dict(weight="int2", activation="int2", name="qtpe_mut_tiny")


def tiny():
    return api.config("mac_w4a8", **TINY)


def test_known_bad_mutant_is_killed_and_the_original_survives(tmp_path):
    cfg = tiny()
    vpath, _ = write_design(cfg, tmp_path / "rtl")
    ydir = prepare(vpath, cfg.name, tmp_path / "yosys")
    (flip,) = list_mutations(ydir, 1, 1, mode="inv", wire="acc", port="Q")  # an acc bit
    bad = regress(cfg, ydir, flip, ydir / "bad", seed=1)
    assert bad["outcome"] == "test" and bad["failed_tests"], bad
    assert set(bad["failed_tests"]) <= set(runner.testcases(kind_of(cfg).testbench))
    assert bad["tests"] == len(runner.testcases(kind_of(cfg).testbench))


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("mutate")
    return out, run_mutation(tiny(), out, count=2, seed=2, jobs=2, depth=4)


def test_report_is_consistent(first_run):
    out, report = first_run
    assert len(report.mutants) == 2 and report.cached == 0
    assert report.killed + len(report.survivors) == 2
    assert sum(report.by_outcome().values()) == 2
    assert all(m.outcome in OUTCOMES for m in report.mutants)
    for m in report.survivors:  # every survivor is classified by the equivalence check
        assert m.equivalence is not None
    data = json.loads((out / "mutation.json").read_text())
    assert data["mutants_total"] == 2 and data["killed"] == report.killed
    assert data["kill_rate"] == round(report.killed / 2, 4)
    assert [m["command"] for m in data["mutants"]] == \
        [m.mutation.command() for m in report.mutants]
    for m in data["mutants"]:
        assert m["location"]["file"] == "qtpe_mut_tiny.v" and m["location"]["line"] > 0
    text = (out / "mutation.md").read_text()
    assert "# Mutation score: qtpe_mut_tiny" in text and f"{report.kill_rate:.1%}" in text


def test_rerun_uses_the_cache(first_run):
    out, report = first_run
    again = run_mutation(tiny(), out, count=2, seed=2, jobs=2, depth=4)
    assert again.cached == 2
    assert [(m.outcome, m.failed_tests, m.equivalence) for m in again.mutants] == \
        [(m.outcome, m.failed_tests, m.equivalence) for m in report.mutants]
    assert again.wall_seconds < report.wall_seconds


def test_a_worker_past_its_timeout_is_killed_with_all_it_started(tmp_path):
    """The worker (under the guard) and a process it started die at the timeout."""
    pidfile = tmp_path / "child.pid"
    code = ("import subprocess, sys, time; "
            "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
            f"open({str(pidfile)!r}, 'w').write(str(p.pid)); time.sleep(60)")
    started = time.monotonic()
    status = _Workers().run([sys.executable, "-c", code], tmp_path / "log", timeout=3.0)
    assert status is None and time.monotonic() - started < 20
    child = int(pidfile.read_text())
    for _ in range(50):
        if not _alive(child):
            break
        time.sleep(0.1)
    assert not _alive(child)
    assert _Workers().run([sys.executable, "-c", "pass"], tmp_path / "log", 30.0) == 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:  # a zombie has finished
        return f.read().split(")")[-1].split()[0] != "Z"


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "qtpe.gen.cli", "mutate", *args],
                          capture_output=True, text=True)


@pytest.mark.parametrize("args,needle", [
    (["--count", "0"], "--count 0"),
    (["--count", "100000"], "--count 100000"),
    (["--seed", "-1"], "--seed -1"),
    (["--jobs", "0"], "--jobs 0"),
    (["--depth", "0"], "--depth 0"),
    (["--set", "weight=int0"], "int0"),
    (["--count", "x"], "'x'"),
])
def test_bad_input_one_line_exit_2_nothing_written(tmp_path, args, needle):
    out = tmp_path / "out"
    proc = run_cli("--preset", "mac_w4a8", *args, "-o", str(out))
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("qtpe: error: ") and needle in lines[0]
    assert "int0" in needle or "allowed" in lines[0] or "invalid" in lines[0]
    assert not out.exists()


def test_output_that_is_a_file_is_refused(tmp_path):
    target = tmp_path / "file"
    target.write_text("keep")
    proc = run_cli("--preset", "mac_w4a8", "-o", str(target))
    assert proc.returncode == 2 and "is a file, not a folder" in proc.stderr
    assert target.read_text() == "keep"
