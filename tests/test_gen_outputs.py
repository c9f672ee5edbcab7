"""``qtpe.gen.outputs``: what ``sweep`` removes and what it must leave alone."""

import os
import subprocess
import sys

from qtpe.gen.outputs import sweep, write_files


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_sweep_removes_only_qtpe_entries_of_dead_processes(tmp_path):
    dead, live = _dead_pid(), os.getpid()
    stale = [tmp_path / f".qtpe-{dead}-0123abcd", tmp_path / f".qtpe-{dead}-89abcdef.tmp"]
    kept = [tmp_path / f".qtpe-{live}-0123abcd",          # its process still runs
            tmp_path / f"qtpe-run-{dead}-0123abcd",       # a scratch name outside a scratch sweep
            tmp_path / f".qtpe-{dead}-notahex0",          # not a name qtpe makes
            tmp_path / "results"]
    stale[0].mkdir()
    stale[1].write_text("x")
    for p in kept:
        p.mkdir()
    assert sorted(sweep(tmp_path)) == sorted(stale)
    assert all(p.exists() for p in kept) and not any(p.exists() for p in stale)
    scratch = tmp_path / f"qtpe-sim-{dead}-0123abcd"
    scratch.mkdir()
    # A scratch sweep (qtpe runs it on the temporary folder only) takes scratch names alone.
    assert sorted(sweep(tmp_path, scratch=True)) == sorted([scratch, kept[1]])
    assert kept[0].exists() and kept[2].exists() and kept[3].exists()


def test_write_files_appear_together_with_ordinary_modes(tmp_path):
    old = os.umask(0o022)
    try:
        paths = write_files(tmp_path / "new", {"a.v": "module a; endmodule\n", "a.json": "{}"})
    finally:
        os.umask(old)
    assert sorted(p.name for p in (tmp_path / "new").iterdir()) == ["a.json", "a.v"]
    assert all(p.stat().st_mode & 0o777 == 0o644 for p in paths)
    assert [p.name for p in tmp_path.iterdir()] == ["new"]  # no temporary folder left
