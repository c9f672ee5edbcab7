"""``make bench``: synthesize every benchmark preset on every target and record the table.

Writes ``bench/RESULTS.md`` (committed) and ``bench/results.json`` with the date, the machine
and the tool versions. Numbers are measured, never typed in: rerun to refresh them.

Usage: ``python -m qtpe.bench.run [--presets a,b [--merge]] [--out DIR]`` (``--merge`` keeps
the rows of the bench presets not measured again from ``results.json``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import tempfile
from pathlib import Path

from qtpe.gen.config import PRESETS, preset
from qtpe.gen.emit import write_design
from qtpe.gen.outputs import write_file
from qtpe.gen.sweep import machine
from qtpe.hdl.array_config import ArrayConfig
from qtpe.synth import synthesize

HERE = Path(__file__).resolve().parent
#: The PE presets the kinds mark for the bench (``Preset.bench``), kind by kind.
BENCH_PRESETS = tuple(name for name, p in PRESETS.items()
                      if p.bench and not isinstance(p.config, ArrayConfig))


def synthesize_row(row: dict, verilog: Path, top: str, targets, workdir: Path):
    """``row`` with each target's report (``row[target]``); and the tool versions."""
    tools = {}
    for target in targets:
        report = synthesize(verilog, top, target, workdir / f"{top}.{target}")
        tools.update(dict(report.tool_versions))
        row[target] = report.result.to_dict()
    return row, tools


def measure(name: str, workdir: Path) -> dict:
    return measure_config(name, preset(name), workdir)


def measure_config(name: str, cfg, workdir: Path):
    """The row of design ``cfg`` (``name`` in the tables) on every target, and the tools."""
    row = {"preset": name, "pe": cfg.pe, "weight": str(cfg.weight),
           "activation": str(cfg.activation), "acc": str(cfg.acc),
           "latency": cfg.latency, "macs_per_cycle": cfg.macs_per_cycle}
    vpath, _ = write_design(cfg, workdir / name)
    return synthesize_row(row, vpath, cfg.name, ("generic", "ecp5", "asic"), workdir / name)


def markdown(rows: list[dict], tools: dict, when: str) -> str:
    """The table; rows kept from an earlier run (``--merge``, their ``measured`` record) are
    marked with the run they come from."""
    runs: list[dict] = []
    for r in rows:
        m = r.get("measured")
        if m is not None and m not in runs:
            runs.append(m)
    head = [
        "# qtpe benchmark results",
        "",
        f"Measured {when} on {machine()} by `make bench` (`python -m qtpe.bench.run`)"
        + (", except the rows marked with an earlier run below." if runs else "."),
        "ECP5: Yosys `synth_ecp5` + nextpnr-ecp5 (25k, out of context), Fmax of the design with "
        "every input and output registered. OSU 0.18 um: Yosys `abc -liberty` + OpenSTA, "
        "typical corner, pre-layout, same registered-I/O wrapper for Fmax; areas of the design "
        "alone.",
        "",
        "| preset | PE | W x A | acc | MACs/cycle | ECP5 LUT4 | FF | CCU2C | DSP | ECP5 Fmax MHz "
        "| OSU018 area um^2 | OSU018 Fmax MHz | generic cells | logic depth |",
        "| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
        "| ---: |",
    ]
    for r in rows:
        e, a, g = r["ecp5"], r["asic"], r["generic"]
        mark = f" [{runs.index(r['measured']) + 1}]" if r.get("measured") else ""
        head.append(
            f"| {r['preset']}{mark} | {r['pe']} | {r['weight']} x {r['activation']} | {r['acc']} "
            f"| {r['macs_per_cycle']:g} | {e['lut4_count']} | {e['ff_count']} "
            f"| {e['carry_count']} | {e['dsp_count']} | {e['fmax_mhz']:.1f} "
            f"| {a['area_um2']:.0f} | {a['fmax_mhz']:.1f} | {g['cell_count']} "
            f"| {g['logic_depth']} |"
        )
    head += ["", "Tools: " + "; ".join(f"{k} {v}" for k, v in sorted(tools.items())), ""]
    for i, run in enumerate(runs, 1):
        head += [f"[{i}] measured {run['date']} on {run['machine']}; tools: "
                 + "; ".join(f"{k} {v}" for k, v in sorted(run["tools"].items())), ""]
    return "\n".join(head)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="qtpe-bench", description=__doc__.splitlines()[0])
    parser.add_argument("--presets", default=",".join(BENCH_PRESETS))
    parser.add_argument("--out", type=Path, default=HERE)
    parser.add_argument("--merge", action="store_true",
                        help="keep the other bench presets' rows from results.json")
    args = parser.parse_args(argv)
    names = [n for n in args.presets.split(",") if n]
    for n in names:
        if n not in PRESETS:
            parser.error(f"unknown preset {n!r}; available: {', '.join(sorted(PRESETS))}")
    rows: dict[str, dict] = {}
    tools: dict[str, str] = {}
    if args.merge and (args.out / "results.json").exists():
        data = json.loads((args.out / "results.json").read_text())
        earlier = {"date": data["date"], "machine": data["machine"], "tools": data["tools"]}
        rows = {r["preset"]: {"measured": earlier} | r for r in data["rows"]
                if r["preset"] in BENCH_PRESETS and r["preset"] not in names}
    with tempfile.TemporaryDirectory(prefix="qtpe-bench-") as tmp:
        for n in names:
            rows[n], t = measure(n, Path(tmp))
            tools.update(t)
            print(f"measured {n}", flush=True)
    order = [n for n in BENCH_PRESETS if n in rows] + [n for n in rows if n not in BENCH_PRESETS]
    record(args.out / "results.json", args.out / "RESULTS.md", [rows[n] for n in order], tools,
           markdown)
    return 0


def record(json_path: Path, md_path: Path, rows: list[dict], tools: dict, markdown,
           extra: dict | None = None) -> str:
    """Write the measured ``rows`` with the date, the machine and the tool versions (and the
    ``extra`` keys) as JSON, and ``markdown(rows, tools, date)`` as the table; print and
    return the table."""
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    data = {"date": when, "machine": machine(), "tools": tools, "rows": rows, **(extra or {})}
    return publish(data, json_path, md_path, markdown(rows, tools, when))


def publish(data: dict, json_path: Path, md_path: Path, text: str) -> str:
    """Write ``data`` as JSON and ``text`` (its Markdown table); print and return the text."""
    write_file(json_path, json.dumps(data, indent=2) + "\n")
    write_file(md_path, text)
    print(text)
    return text


if __name__ == "__main__":
    raise SystemExit(main())
