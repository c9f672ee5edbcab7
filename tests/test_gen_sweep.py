"""``qtpe sweep`` (``qtpe.gen.sweep``): the space file, its points and cache keys, one-line
errors with nothing written, a local run against a Dask ``LocalCluster`` run, and a run killed
halfway (SIGKILL of its process group) and resumed without recomputing a finished point."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from qtpe.gen import api
from qtpe.gen.cli import main
from qtpe.gen.config import ConfigError
from qtpe.gen.sweep import (
    CACHED,
    TIMING_FIELDS,
    cache_key,
    expand,
    load_space,
    run_point,
    weight_bits,
)

ROOT = Path(__file__).resolve().parent.parent

# Two cheap points (1x1 and 2x2 MAC arrays, generic target, no energy): a GEMM on Icarus each
# (seconds to build, where Verilator's C++ takes ten or more), a few seconds of Yosys.
TINY = """
name = "tiny"
targets = ["generic"]
energy = false
verify_gemm = [3, 8, 2]
verify_simulator = "icarus"
[axes]
pe = ["mac"]
weight = ["int4"]
activation = ["int8"]
shape = ["1x1", "2x2"]
dataflow = ["os"]
"""


def _space(tmp_path, text=TINY, name="space.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _rows(out: Path) -> list[dict]:
    """The rows of ``out/results.json`` without the fields that differ between runs."""
    rows = json.loads((out / "results.json").read_text())["rows"]
    return [{k: v for k, v in r.items() if k not in TIMING_FIELDS} for r in rows]


def test_shipped_space_maps_each_kind_and_precision():
    points = expand(load_space(ROOT / "sweeps" / "pe-kinds.toml"))
    got = {(p.labels["pe"], p.labels["precision"], p.labels["dataflow"]): p.labels["weight"]
           for p in points}
    assert got[("lut", "W1.58A8", "os")] == "ternary"
    assert got[("shiftadd", "W1.58A8", "ws")] == "potz2"
    assert got[("mac", "W1.58A8", "os")] == got[("mac", "W2A8", "os")] == "int2"
    assert got[("fpmac", "W8A8", "ws")] == "fp8_e4m3"
    assert ("lut", "W8A8", "os") not in got and ("fpmac", "W2A8", "os") not in got
    assert all(p.config is not None and p.config.rows == p.config.cols == 4 for p in points)
    assert {p.labels["dataflow"] for p in points} == {"os", "ws"}
    # The MAC's int2 point under W1.58 and under W2 is one config: one cache key.
    space = load_space(ROOT / "sweeps" / "pe-kinds.toml")
    keys = {cache_key(p.config.to_dict(), space.stages, {"v": "1"}) for p in points}
    assert len(points) == 34 and len(keys) == 30
    assert weight_bits("ternary") == 1.58 and weight_bits("fp4_e2m1") == 4.0


def test_invalid_configs_are_points_excludes_are_not(tmp_path):
    text = TINY.replace('pe = ["mac"]', 'pe = ["mac", "lut"]').replace(
        'weight = ["int4"]', 'weight = ["int4", "int8"]') + '[[exclude]]\nshape = "2x2"\n'
    points = expand(load_space(_space(tmp_path, text)))
    assert [(p.labels["pe"], p.labels["weight"]) for p in points] == [
        ("mac", "int4"), ("mac", "int8"), ("lut", "int4"), ("lut", "int8")]
    assert all(p.labels["shape"] == "1x1" for p in points)
    bad = [p for p in points if p.invalid]
    assert [(p.labels["pe"], p.labels["weight"]) for p in bad] == [("lut", "int8")]
    assert bad[0].invalid.startswith("invalid config: ") and "int8" in bad[0].invalid


def test_cache_key_changes_with_config_stages_and_tools():
    cfg = {"pe": "mac", "weight": "int4", "rows": 2}
    stages = {"targets": ["generic"]}
    base = cache_key(cfg, stages, {"yosys": "1"})
    assert base == cache_key(dict(reversed(list(cfg.items()))), stages, {"yosys": "1"})
    assert base != cache_key({**cfg, "rows": 3}, stages, {"yosys": "1"})
    assert base != cache_key(cfg, {"targets": ["ecp5"]}, {"yosys": "1"})
    assert base != cache_key(cfg, stages, {"yosys": "2"})
    assert len(base) == 64


def test_failing_point_is_a_row_not_an_exception():
    row = run_point({"config": {"pe": "mac", "weight": "int99", "rows": 1},
                     "stages": load_space_stages()})
    assert row["status"] == "error" and "int99" in row["reason"]
    assert row["status"] not in CACHED  # retried on a re-run
    assert row["pid"] == os.getpid() and row["seconds"] >= 0


def load_space_stages() -> dict:
    return {"targets": ["generic"], "energy": False, "verify_gemm": [2, 4, 2],
            "verify_simulator": "icarus",
            "energy_gemm": [2, 4, 2], "energy_simulator": "icarus", "seed": 0,
            "min_fmax_mhz": None}


@pytest.mark.parametrize("text,args,needle", [
    ("", (), "missing the [axes] table"),
    (TINY.replace('pe = ["mac"]', 'pe = ["nosuch"]'), (), "allowed: mac, bitserial"),
    (TINY.replace('"int4"', '"xint4"'), (), "not 'xint4'"),
    (TINY.replace('"1x1"', '"1by1"'), (), "'1by1'"),
    (TINY.replace('dataflow = ["os"]', 'dataflow = ["xs"]'), (), "allowed: os, ws"),
    (TINY.replace("energy = false", "energy = true"), (), "needs the asic target"),
    ("colour = 1\n" + TINY, (), "unknown key 'colour'"),
    ("NOFILE", (), "does not exist"),
    (TINY, ("--jobs", "0"), "--jobs must be a positive number"),
    (TINY, ("--scheduler", "tcp://127.0.0.1:9"), "cannot reach the Dask scheduler"),
    (TINY, ("--scheduler", "tcp://127.0.0.1:9", "--jobs", "2"), "give one of them"),
])
def test_bad_input_one_line_status_2_nothing_written(tmp_path, capsys, text, args, needle):
    space = tmp_path / "missing.toml" if text == "NOFILE" else _space(tmp_path, text)
    out = tmp_path / "out"
    assert main(["sweep", str(space), "-o", str(out), "-q", *args]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("qtpe: error: ") and needle in lines[0]
    assert not out.exists()


def test_load_space_names_the_precision_without_weights(tmp_path):
    text = TINY.replace('weight = ["int4"]', 'precision = ["W4"]')
    with pytest.raises(ConfigError, match=r"needs a \[weights.<kind>\] table"):
        load_space(_space(tmp_path, text))
    text += '[weights.mac]\nW4 = "int4"\nW8 = "int8"\n'
    with pytest.raises(ConfigError, match=r"maps 'W8', which is not in axes.precision"):
        load_space(_space(tmp_path, text))


def test_local_run_equals_dask_local_cluster_run(tmp_path, capsys):
    from distributed import Client, LocalCluster

    space = _space(tmp_path)
    result = api.sweep(space, tmp_path / "local", jobs=2)  # what `qtpe sweep --jobs 2` does
    assert result.ok and result.computed == 2 and result.from_cache == 0
    local = _rows(tmp_path / "local")
    assert [{k: v for k, v in r.items() if k not in TIMING_FIELDS} for r in result.rows] == local
    assert [r["status"] for r in local] == ["ok", "ok"] and all(r["verified"] for r in local)
    assert [r["shape"] for r in local] == ["1x1", "2x2"]
    assert all(r["generic_cells"] > 0 and r["macs_per_cycle"] > 0 for r in local)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        worker_pids = set(client.run(os.getpid).values())
        assert main(["sweep", str(space), "-o", str(tmp_path / "dask"), "-q",
                     "--scheduler", cluster.scheduler_address]) == 0
    raw = json.loads((tmp_path / "dask" / "results.json").read_text())["rows"]
    assert {r["pid"] for r in raw} <= worker_pids  # the points ran on the cluster's workers
    assert _rows(tmp_path / "dask") == local
    csv_lines = (tmp_path / "dask" / "results.csv").read_text().splitlines()
    assert len(csv_lines) == 3 and csv_lines[0].startswith("precision,pe,weight")
    assert "## Winners per precision" in (tmp_path / "dask" / "report.md").read_text()


def test_killed_sweep_resumes_without_redoing_finished_points(tmp_path):
    space = _space(tmp_path)
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "qtpe.gen.cli", "sweep", str(space), "-o", str(out),
           "--jobs", "1", "-q"]
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    cache = out / "cache"
    deadline = time.monotonic() + 120
    try:
        while not (cache.is_dir() and list(cache.glob("*.json"))):
            assert proc.poll() is None, "the sweep ended before it could be killed"
            assert time.monotonic() < deadline, "no point finished within 120 s"
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    done = {p: (p.stat().st_ino, p.stat().st_mtime_ns, p.read_text())
            for p in cache.glob("*.json")}
    assert len(done) == 1 and not (out / "results.json").exists()
    # Restart as the user would; a second, uninterrupted run alongside gives the reference.
    reference = subprocess.Popen([*cmd[:6], str(tmp_path / "whole"), "--jobs", "1", "-q"])
    assert subprocess.run(cmd).returncode == 0
    assert reference.wait() == 0
    for path, (ino, mtime, text) in done.items():
        assert (path.stat().st_ino, path.stat().st_mtime_ns, path.read_text()) == \
            (ino, mtime, text)
    raw = json.loads((out / "results.json").read_text())
    assert raw["computed"] == 1 and raw["from_cache"] == 1
    finished = json.loads(next(iter(done.values()))[2])
    assert finished["computed_at"] in {r["computed_at"] for r in raw["rows"]}
    assert _rows(out) == _rows(tmp_path / "whole")
    assert [r["status"] for r in _rows(out)] == ["ok", "ok"]


def _row(pe, weight, tput, pj, prec="W4A8", df="os", status="ok"):
    return {"precision": prec, "pe": pe, "weight": weight, "dataflow": df, "status": status,
            "key": f"{pe}{weight}{df}", "macs_per_s_per_mm2": tput, "pj_per_mac": pj}


def test_winners_and_pareto_front():
    from qtpe.gen.sweep_report import pareto_front, winners

    rows = [_row("mac", "int4", 10e9, 20.0), _row("lut", "int4", 30e9, 25.0),
            _row("bitserial", "int4", 5e9, 30.0),  # dominated by both
            _row("shiftadd", "apot4", 40e9, 19.0, status="mismatch"),  # not a result
            _row("mac", "int8", 8e9, 40.0, prec="W8A8")]
    assert [r["pe"] for r in pareto_front(rows)] == ["mac", "lut"]
    got = {(w["precision"], w["metric"]): (w["best"]["pe"], w["second"] and w["second"]["pe"],
                                          w["ratio"]) for w in winners(rows)}
    assert got[("W4A8", "macs_per_s_per_mm2")] == ("lut", "mac", 3.0)
    assert got[("W4A8", "pj_per_mac")] == ("mac", "lut", 1.25)
    assert got[("W8A8", "pj_per_mac")] == ("mac", None, None)


def test_tool_error_is_recorded_not_cached_and_retried(tmp_path):
    """A missing simulator fails the point (status error, the tool's message, exit 1, the
    results written); the error is not cached, so the next run computes the point."""
    space = _space(tmp_path, TINY.replace('shape = ["1x1", "2x2"]', 'shape = ["1x1"]'))
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "qtpe.gen.cli", "sweep", str(space), "-o", str(out), "-q"]
    no_tools = dict(os.environ, PATH=str(Path(sys.executable).parent))  # no iverilog
    proc = subprocess.run(cmd, env=no_tools, capture_output=True, text=True)
    assert proc.returncode == 1, proc.stderr
    (row,) = json.loads((out / "results.json").read_text())["rows"]
    assert row["status"] == "error" and "iverilog" in row["reason"]
    assert "iverilog" in (out / "report.md").read_text()
    assert not list((out / "cache").glob("*.json"))
    assert subprocess.run(cmd, capture_output=True).returncode == 0
    data = json.loads((out / "results.json").read_text())
    assert data["computed"] == 1 and data["rows"][0]["status"] == "ok"


def test_source_digest_follows_the_source(tmp_path, monkeypatch):
    """The cache key's source digest changes when a file of qtpe's source does (so a
    hardware change within one version is not served from the cache), and not otherwise."""
    import qtpe.gen.sweep as sweep

    root = tmp_path / "pkg"
    for folder in ("hdl", "gen", "tb", "sim", "synth"):
        (root / folder).mkdir(parents=True)
        (root / folder / "a.py").write_text(f"# {folder}\n")
    (root / "gen" / "sweep.py").write_text("")
    monkeypatch.setattr(sweep, "__file__", str(root / "gen" / "sweep.py"))
    first = sweep.source_digest()
    assert sweep.source_digest() == first and len(first) == 64
    (root / "hdl" / "a.py").write_text("# hdl, changed\n")
    assert sweep.source_digest() != first
