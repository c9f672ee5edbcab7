"""``make mutate``: the mutation score of the regression on a small design of every PE kind
and on 2x2 arrays of both dataflows.

Runs ``qtpe mutate`` (``qtpe.gen.mutate.run_mutation``: 50 Yosys mutants each, seed 1, on
Icarus) on each row and writes ``bench/MUTATION.md`` (committed) and ``bench/mutation.json``
with the date, the machine and the tool versions. Numbers are measured, never typed in: rerun
to refresh them. The cache starts empty (a temporary folder) unless ``--cache DIR`` is given.

Usage: ``python -m qtpe.bench.mutation [--rows a,b] [--jobs J] [--cache DIR] [--out DIR]``
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from qtpe.gen.config import load_config
from qtpe.gen.mutate import DEFAULT_DEPTH, run_mutation
from qtpe.hdl.array_config import ArrayConfig

from .run import machine, record

HERE = Path(__file__).resolve().parent
COUNT = 50
SEED = 1

#: label -> (preset, --set overrides): small configs, so that one regression run is short.
ROWS = {
    "mac": ("mac_w4a8", ("activation=int4", "lanes=2", "name=qtpe_mut_mac")),
    "bitserial": ("bitserial_w4a8_l8", ("activation=int4", "lanes=2",
                                        "name=qtpe_mut_bitserial")),
    "shiftadd": ("shiftadd_pot_w4a8", ("activation=int4", "lanes=2",
                                       "name=qtpe_mut_shiftadd")),
    "lut": ("lut_w2a8_g4", ("activation=int4", "g=2", "sharing=1", "name=qtpe_mut_lut")),
    "array_os": ("array_os_w8a8_4x4", ("rows=2", "cols=2", "name=qtpe_mut_array_os")),
    "array_ws": ("array_ws_w8a8_8x8", ("rows=2", "cols=2", "name=qtpe_mut_array_ws")),
}

#: cocotb tests added for the mutation score (issue 15): a mutant whose failing tests are all
#: among these survived the regression as it was before and is killed by a new test.
ADDED_TESTS: frozenset[str] = frozenset({"gemms_with_input_bubbles"})


def describe(cfg) -> str:
    text = f"{cfg.pe} PE, {cfg.weight} x {cfg.activation} -> {cfg.acc}"
    if getattr(cfg, "lanes", 1) != 1:
        text += f", {cfg.lanes} lanes"
    if isinstance(cfg, ArrayConfig):
        text = f"{cfg.rows}x{cfg.cols} {cfg.dataflow.value.upper()} array of {cfg.pe} PEs, " \
               f"{cfg.weight} x {cfg.activation} -> {cfg.acc}"
    return text


def measure(label: str, cache_root: Path, jobs: int | None) -> tuple[dict, dict]:
    preset, sets = ROWS[label]
    cfg = load_config(preset, None, sets, {})
    started = time.monotonic()
    report = run_mutation(cfg, cache_root / label, count=COUNT, seed=SEED, jobs=jobs,
                          depth=DEFAULT_DEPTH)
    wall = time.monotonic() - started
    data = report.to_dict()
    new_test_kills = [m["index"] for m in data["mutants"]
                      if m["failed_tests"] and set(m["failed_tests"]) <= ADDED_TESTS]
    row = {"label": label, "preset": preset, "sets": list(sets), "design": describe(cfg),
           "top": cfg.name, "testbench": report.testbench, "mutants": len(report.mutants),
           "killed": report.killed, "killed_by": data["killed_by"],
           "killed_by_new_tests": new_test_kills, "survived": len(report.survivors),
           "equivalent": report.equivalent, "kill_rate": data["kill_rate"],
           "score": data["score"], "timeout_s": data["timeout_s"],
           "baseline_seconds": data["baseline_seconds"], "wall_seconds": round(wall, 1),
           "mutant_seconds": round(sum(m["seconds"] for m in data["mutants"]), 1),
           "cached": report.cached, "jobs": report.jobs, "depth": report.depth,
           "survivors": [{k: m[k] for k in ("index", "command", "location", "outcome",
                                             "equivalence", "classification")}
                         for m in data["mutants"] if not m["killed"]]}
    return row, report.tools


def markdown(rows: list[dict], tools: dict, when: str) -> str:
    total = sum(r["wall_seconds"] for r in rows)
    out = [
        "# Mutation score of the regression",
        "",
        f"Measured {when} on {machine()} by `make mutate` (`python -m qtpe.bench.mutation`), "
        f"{total / 60:.1f} min in all, {rows[0]['jobs'] if rows else 0} jobs (wall times "
        f"include any results taken from the cache: their count is in brackets; the mutant "
        f"runs' own times are stored with them).",
        f"Each row: the design's Verilog as `qtpe generate` emits it, Yosys `prep`, then "
        f"`mutate -list {COUNT} -seed {SEED}` (modes inv, const0, const1, cnot0, cnot1 on one "
        f"cell port bit each); every mutant written back by `write_verilog` and run through "
        f"the design's own cocotb regression (the kind's `tb/test_pe_*.py`, or "
        f"`tb/test_array.py` for arrays) on Icarus with seed {SEED}. Killed: a test fails "
        f"(test), the simulator cannot build it (build), the run ends without results (crash) "
        f"or runs past the timeout (10x the unmutated run, at least 60 s). The unmutated "
        f"design, written back the same way, passes first (the baseline). Survivors are "
        f"checked against the original, both flattened: `equiv_make` + `equiv_simple -seq 2` + "
        f"`equiv_induct -seq 2` with the first 3 cycles from reset checked on a miter: proved "
        f"(equal at every cycle); else `miter -equiv -flatten -make_assert` and `sat "
        f"-tempinduct -prove-asserts -set-init-zero -maxsteps {DEFAULT_DEPTH}` from the reset "
        f"state (every register's init value), all inputs free: proved by induction, bounded "
        f"(no difference in that many cycles, induction not closed; labelled) or differs (a "
        f"counterexample). Score: "
        f"killed / (mutants - shown equivalent).",
        "",
        "| design | config | mutants | killed | test / build / crash / timeout "
        "| killed by new tests | survived | shown equivalent | kill rate | score "
        "| unmutated run s | mutant runs s (sum) | wall s (cached results) |",
        "| --- | --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
        "| ---: |",
    ]
    for r in rows:
        by = r["killed_by"]
        cfg = f"`{r['preset']}` " + " ".join(f"`{s}`" for s in r["sets"]
                                              if not s.startswith("name="))
        out.append(
            f"| {r['label']}: {r['design']} | {cfg} | {r['mutants']} | {r['killed']} "
            f"| {by['test']} / {by['build']} / {by['crash']} / {by['timeout']} "
            f"| {len(r['killed_by_new_tests'])} | {r['survived']} | {r['equivalent']} "
            f"| {r['kill_rate']:.1%} | {r['score']:.1%} | {r['baseline_seconds']:.1f} "
            f"| {r['mutant_seconds']:.0f} | {r['wall_seconds']:.0f} ({r['cached']}) |")
    out += ["", "## Survivors", ""]
    if not any(r["survivors"] for r in rows):
        out += ["None.", ""]
    for r in rows:
        if not r["survivors"]:
            continue
        out += [f"### {r['label']} (`{r['top']}`)", "",
                "| # | location (emitted Verilog) | statement | mutation | classification |",
                "| ---: | --- | --- | --- | --- |"]
        for m in r["survivors"]:
            loc = m["location"]
            where = f"{loc['file']}:{loc['line']}"
            if loc["wire"]:
                where += f", wire `{loc['wire']}`"
                if loc["wire_line"]:
                    where += f" (line {loc['wire_line']})"
            text = loc["text"].replace("|", "\\|")
            out.append(f"| {m['index']} | {where} | `{text}` | `{m['command']}` "
                       f"| {m['classification']} |")
        out.append("")
    new = [(r["label"], r["killed_by_new_tests"]) for r in rows if r["killed_by_new_tests"]]
    if new:
        out += ["Killed only by the tests added for the mutation score "
                f"({', '.join(f'`{t}`' for t in sorted(ADDED_TESTS))}): "
                + "; ".join(f"{label} #{', #'.join(map(str, ids))}" for label, ids in new)
                + ".", ""]
    out += ["Tools: " + "; ".join(f"{k} {v}" for k, v in sorted(tools.items())), ""]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="qtpe-bench-mutation",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default=",".join(ROWS))
    parser.add_argument("--jobs", type=int, default=None)
    parser.add_argument("--cache", type=Path, default=None,
                        help="keep the reports and caches here (default: a temporary folder)")
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args(argv)
    labels = [n for n in args.rows.split(",") if n]
    for n in labels:
        if n not in ROWS:
            parser.error(f"unknown row {n!r}; available: {', '.join(ROWS)}")
    rows, tools = [], {}
    with tempfile.TemporaryDirectory(prefix="qtpe-bench-mutation-") as tmp:
        root = args.cache if args.cache is not None else Path(tmp)
        for n in labels:
            row, t = measure(n, root, args.jobs)
            rows.append(row)
            tools.update(t)
            print(f"measured {n}: {row['killed']}/{row['mutants']} killed, "
                  f"{row['wall_seconds']:.0f} s", flush=True)
    record(args.out / "mutation.json", args.out / "MUTATION.md", rows, tools, markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
