"""Shared by the cocotb regression tests: run a design's cocotb tests on one simulator and fail
with the seed to replay and the end of the log, or with the coverage bins never hit.

With ``QTPE_COVERAGE_DIR`` set (``python -m qtpe.bench.coverage``), the coverage file of every
design whose tests pass is kept there as ``<simulator>/<design>.yml``, its seed in ``.json``."""

import json
import os
import re
import shutil
from pathlib import Path

from qtpe.gen.emit import write_design
from qtpe.gen.flow import simulate
from qtpe.hdl.kinds import kind_of
from qtpe.sim.coverage import COVERAGE_FILE
from qtpe.sim.runner import run_cocotb


def assert_passes(cfg, simulator: str, tmp_path, tests: int):
    """``qtpe sim`` of ``cfg`` on ``simulator`` in ``tmp_path``: all ``tests`` cocotb tests
    must run and pass, and every coverage bin they declare be hit. Returns the result."""
    result = simulate(cfg, simulator, tmp_path)
    assert result.tests == tests
    replay = f"replay: qtpe sim --sim {simulator} --seed {result.seed} ..."
    assert result.tests_ok, (
        f"{result.failed}/{result.tests} cocotb tests failed on {simulator} with seed "
        f"{result.seed} ({replay}); log {result.log}:\n{result.log.read_text()[-3000:]}"
    )
    keep = os.environ.get("QTPE_COVERAGE_DIR")
    if keep:
        folder = Path(keep) / simulator
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(result.log.parent / COVERAGE_FILE, folder / f"{cfg.name}.yml")
        (folder / f"{cfg.name}.json").write_text(json.dumps(
            {"seed": result.seed, "config": cfg.to_dict()}) + "\n")
    assert result.coverage is not None and result.coverage.ok, (
        f"{cfg.name} on {simulator}, seed {result.seed} ({replay}): "
        f"{result.coverage.verdict() if result.coverage else 'no coverage recorded'}")
    return result


def run_mutant(cfg, tmp_path, pattern: str, replacement: str, simulator: str = "icarus",
               count: int = 1):
    """The kind's cocotb tests on ``cfg``'s Verilog with the regular expression ``pattern``
    replaced (it must match ``count`` times; the first is replaced). Returns the result, for
    the test to assert that the testbench caught the change."""
    vpath, _ = write_design(cfg, tmp_path)
    text = vpath.read_text()
    assert len(re.findall(pattern, text)) == count, pattern
    vpath.write_text(re.sub(pattern, replacement, text, count=1))
    return run_cocotb(simulator, [vpath], cfg.name, tmp_path / simulator, kind_of(cfg).testbench,
                      extra_env={"QTPE_CONFIG": json.dumps(cfg.to_dict())}, seed=1)
