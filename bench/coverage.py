"""``make coverage``: the functional coverage of the cocotb regression, design by design.

Runs the regression's cocotb tests of every registered kind's PEs and arrays (the
``test_mac_pe``, ``test_bitserial_pe``, ``test_shiftadd_pe``, ``test_lut_tile`` and
``test_array`` cases of ``tests/test_tb_*.py``) on the simulators given (default Icarus; the
bins are sampled from the stimulus and the golden model, so both simulators see the same
hits for a seed) with ``QTPE_COVERAGE_DIR`` set, so that every design's coverage database is
kept; then writes ``docs/coverage.md``: per design each declared bin and its hits (added over
the simulators), with the seeds, the date, the machine and the tool versions. Exits 1 if a
regression case failed or a bin was never hit.

Usage: ``python -m qtpe.bench.coverage [--sim icarus,verilator] [-n JOBS] [--out FILE]``
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
from importlib.metadata import version
from pathlib import Path

from qtpe.gen.outputs import write_file
from qtpe.sim.coverage import CoverageReport, read_coverage
from qtpe.sim.runner import SIMULATORS, verilator_setup

from .run import machine

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "coverage.md"
TEST_FILES = ("tests/test_tb_pe_mac.py", "tests/test_tb_pe_bitserial.py",
              "tests/test_tb_pe_shiftadd.py", "tests/test_tb_pe_lut.py", "tests/test_tb_array.py")
CASES = ("test_mac_pe", "test_bitserial_pe", "test_shiftadd_pe", "test_lut_tile", "test_array")


def run_regression(sims: list[str], keep: Path, jobs: int) -> int:
    """The regression's design cases on ``sims``, coverage kept in ``keep``; pytest's status."""
    select = f"({' or '.join(CASES)}) and ({' or '.join(sims)})"
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", select,
           *TEST_FILES]
    if jobs > 1:
        cmd += ["-n", str(jobs)]
    env = dict(os.environ, QTPE_COVERAGE_DIR=str(keep))
    print(f"running {' '.join(cmd[2:])}", flush=True)
    return subprocess.run(cmd, cwd=ROOT, env=env).returncode


def collect(keep: Path, sims: list[str]) -> dict[str, dict]:
    """Design name -> {"config", "seeds" (simulator -> seed), "coverage" (merged)}."""
    designs: dict[str, dict] = {}
    for sim in sims:
        for path in sorted((keep / sim).glob("*.yml")):
            meta = json.loads(path.with_suffix(".json").read_text())
            entry = designs.setdefault(path.stem, {"config": meta["config"], "seeds": {},
                                                   "coverage": CoverageReport(())})
            entry["seeds"][sim] = meta["seed"]
            entry["coverage"] = entry["coverage"].merge(read_coverage(path))
    return designs


def tool_versions() -> dict:
    iverilog = subprocess.run(["iverilog", "-V"], capture_output=True, text=True).stdout
    verilator = subprocess.run([verilator_setup(), "--version"], capture_output=True,
                               text=True).stdout
    return {"cocotb": version("cocotb"), "cocotb-coverage": version("cocotb-coverage"),
            "icarus": iverilog.splitlines()[0].replace("Icarus Verilog version ", "")
            .replace(" ()", "") if iverilog else "?",
            "verilator": verilator.strip()}


def _what(config: dict) -> str:
    pe = config.get("pe_config", config)
    text = f"{pe.get('pe', 'mac')} {pe.get('weight', 'int8')} x {pe.get('activation', 'int8')}"
    if "rows" in config:
        text = (f"{config['rows']}x{config['cols']} {config.get('dataflow', 'os').upper()} "
                f"array of {text}")
    return text


def markdown(data: dict, designs: dict[str, dict]) -> str:
    tools = "; ".join(f"{k} {v}" for k, v in data["tools"].items())
    total = sum(len(d["coverage"].bins) for d in designs.values())
    missed = [(name, b) for name, d in designs.items() for b in d["coverage"].missed]
    lines = [
        "# Functional coverage of the regression",
        "",
        f"Measured {data['date']} on {data['machine']} by `make coverage` "
        f"(`python -m qtpe.bench.coverage --sim {','.join(data['sims'])}`). Tools: {tools}.",
        "",
        "Every design the cocotb regression builds (`tests/test_tb_pe_*.py`, "
        "`tests/test_tb_array.py`), its cocotb tests run once per simulator with a random seed "
        "(listed; `qtpe sim --seed N` replays it). The bins are sampled by the testbenches' "
        "drivers from the stimulus and the golden model (`qtpe.tb.coverage`); hits are added "
        "over the simulators. The regression fails a design if one of its bins is never hit.",
        "",
        f"{len(designs)} designs, {total} bins, "
        + ("every bin hit." if not missed else f"{len(missed)} bins never hit: "
           + ", ".join(f"{n} {b.name}" for n, b in missed) + "."),
        "",
        "| design | what | seeds | bins | hit |",
        "| --- | --- | --- | ---: | ---: |",
    ]
    for name, d in designs.items():
        seeds = ", ".join(f"{s} {n}" for s, n in d["seeds"].items())
        cov = d["coverage"]
        lines.append(f"| [{name}](#{name}) | {_what(d['config'])} | {seeds} | {len(cov.bins)} "
                     f"| {cov.hit} |")
    for name, d in designs.items():
        lines += ["", f"## {name}", "", "| point | bin | hits |", "| --- | --- | ---: |"]
        lines += [f"| {b.point} | {b.label} | {b.hits}{' (never hit)' if not b.hits else ''} |"
                  for b in d["coverage"].bins]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="qtpe-bench-coverage",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--sim", default="icarus", help="simulators, comma-separated")
    parser.add_argument("-n", "--jobs", type=int, default=1, help="pytest workers")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    sims = [s for s in args.sim.split(",") if s]
    bad = [s for s in sims if s not in SIMULATORS]
    if bad or not sims:
        parser.error(f"--sim takes {' and/or '.join(SIMULATORS)}, comma-separated, "
                     f"not {args.sim!r}")
    keep = Path(tempfile.mkdtemp(prefix="qtpe-coverage-"))
    try:
        status = run_regression(sims, keep, args.jobs)
        designs = collect(keep, sims)
    finally:
        shutil.rmtree(keep, ignore_errors=True)
    data = {"date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": machine(), "tools": tool_versions(), "sims": sims}
    write_file(args.out, markdown(data, designs))
    missed = sum(len(d["coverage"].missed) for d in designs.values())
    print(f"wrote {args.out}: {len(designs)} designs, "
          f"{sum(len(d['coverage'].bins) for d in designs.values())} bins, {missed} never hit")
    return 0 if status == 0 and missed == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
