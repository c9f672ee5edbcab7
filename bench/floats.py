"""``make bench`` floating-point rows: each float PE next to its integer counterpart at the same
MACs per cycle, and L-Mul's error against the exact product.

The pairs (``PAIRS``): FP8 E4M3 x FP8 MAC against the INT8 x INT8 MAC (1 MAC/cycle); FP4 E2M1
weights x INT8 against INT4 x INT8 (1 MAC/cycle); the MXFP4 block PE (E2M1 x E2M1, blocks of
32 with an e8m0 scale per operand) against INT4 x INT4 with a power-of-two scale per group of
32 weights (the shift-add PE's group unit, shifts 0..15; 8 MACs/cycle each); L-Mul E4M3
against the FP8 E4M3 MAC (1 MAC/cycle). Every design is synthesized as ``make bench`` does
(``run.measure_config``: ECP5 through nextpnr, OSU 0.18 um through ABC and OpenSTA,
registered-I/O wrapper for Fmax). L-Mul's error is measured over every pair of finite non-zero codes
(``qtpe.tb.models.lmul.error_stats``). Energy per MAC is ``qtpe power`` of the design (the
buffered OSU 0.18 um netlist, gate-level Verilator SAIF x OpenSTA per-pin energies, 100 MHz)
under its own testbench's ``random_stream`` (random codes or values of its formats, a tenth
corners, random valid and clear): each design's own operand distribution, not a shared one.

Writes ``floats.json`` and ``FLOATS.md`` into ``--out`` (default ``bench/``).
Usage: ``python -m qtpe.bench.floats [--out DIR] [--designs A,B --merge]``
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
from pathlib import Path

from qtpe.gen.config import preset
from qtpe.gen.power import DEFAULT_CLOCK_MHZ, run_power
from qtpe.hdl.formats import QType, ScaleKind

from .run import HERE, machine, measure_config, record

#: (what is compared, float design, integer or exact counterpart) at equal MACs per cycle.
PAIRS = (
    ("FP8 E4M3 x FP8 E4M3 vs INT8 x INT8", "fpmac_e4m3", "mac_w8a8"),
    ("FP4 E2M1 x INT8 vs INT4 x INT8", "fpmac_e2m1_a8", "mac_w4a8"),
    ("MXFP4 (blocks of 32) vs INT4 x INT4 with pot scales per 32", "mxdot_fp4_e2m1",
     "int4_g32"),
    ("L-Mul E4M3 vs FP8 E4M3 MAC", "lmul_e4m3", "fpmac_e4m3"),
)


#: Every design of the pairs, in table order.
DESIGNS = tuple(dict.fromkeys(n for _, a, b in PAIRS for n in (a, b)))


def config(name: str):
    """A preset, or the group-scaled INT4 counterpart of the MXFP4 PE (not a preset)."""
    if name == "int4_g32":
        base = preset("shiftadd_int_w4a8")
        return dataclasses.replace(base, name="qtpe_shiftadd_int_w4a4_g32",
                                   activation=QType(4), group_size=32,
                                   group_scale=ScaleKind.POT, scale_bits=4)
    return preset(name)


def lmul_error() -> dict:
    from qtpe.tb.models.lmul import error_stats

    cfg = preset("lmul_e4m3")
    return error_stats(cfg.weight, cfg.activation)


def markdown(data: dict, tools: dict, when: str) -> str:
    rows = {r["preset"]: r for r in data["rows"]}
    out = [
        "# Floating-point PEs against their counterparts",
        "",
        f"Measured {when} by `make bench` (`python -m qtpe.bench.floats`); machine and tools "
        "below. Same flows as `bench/RESULTS.md`: ECP5 25k out of context through nextpnr, "
        "OSU 0.18 um through Yosys `abc -liberty` and OpenSTA (typical corner, pre-layout), "
        "Fmax with every input and output registered; areas of the design alone. Each pair "
        "has equal MACs per cycle.",
        "",
        f"Energy: `qtpe power` at {DEFAULT_CLOCK_MHZ:g} MHz on the buffered OSU netlist under "
        "the design's own testbench `random_stream` (its formats' random codes, a tenth "
        "corners, random valid and clear): pJ per MAC done.",
        "",
        "| comparison | design | PE | W x A | acc | MACs/cycle | ECP5 LUT4 | FF | DSP "
        "| ECP5 Fmax MHz | OSU018 area um^2 | OSU018 Fmax MHz | pJ/MAC | area / counterpart "
        "| energy / counterpart |",
        "| --- | --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
        "| ---: | ---: |",
    ]
    for what, a, b in PAIRS:
        for name in (a, b):
            r = rows[name]
            e, s = r["ecp5"], r["asic"]
            pj = r["energy"]["pj_per_mac"]
            ratio = (f"{s['area_um2'] / rows[b]['asic']['area_um2']:.2f}" if name == a
                     else "1")
            eratio = f"{pj / rows[b]['energy']['pj_per_mac']:.2f}" if name == a else "1"
            out.append(
                f"| {what if name == a else ''} | {name} | {r['pe']} "
                f"| {r['weight']} x {r['activation']} | {r['acc']} | {r['macs_per_cycle']:g} "
                f"| {e['lut4_count']} | {e['ff_count']} | {e['dsp_count']} "
                f"| {e['fmax_mhz']:.1f} | {s['area_um2']:.0f} | {s['fmax_mhz']:.1f} "
                f"| {pj:.1f} | {ratio} | {eratio} |")
    err = data["lmul_error"]
    out += [
        "",
        f"L-Mul error (`lmul_e4m3`, over all {err['pairs']:,} pairs of finite non-zero "
        f"codes): mean relative error {err['mean_rel_error']:.4f}, largest "
        f"{err['max_rel_error']:.4f}; mean of L-Mul / exact - 1: "
        f"{err['mean_signed_rel_error']:+.4f}.",
        "",
        f"Machine: {data['machine']}.",
        "",
        "Tools: " + "; ".join(f"{k} {v}" for k, v in sorted(tools.items())),
        "",
    ]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="qtpe-bench-floats",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE)
    parser.add_argument("--designs", default=",".join(DESIGNS),
                        help="the designs to measure (default: every design of the pairs)")
    parser.add_argument("--merge", action="store_true",
                        help="keep the rows of designs not measured again from floats.json")
    args = parser.parse_args(argv)
    names = [n for n in args.designs.split(",") if n]
    for n in names:
        if n not in DESIGNS:
            parser.error(f"unknown design {n!r}; the pairs have: {', '.join(DESIGNS)}")
    old = {}
    if args.merge and (args.out / "floats.json").exists():
        data = json.loads((args.out / "floats.json").read_text())
        old = {r["preset"]: r for r in data["rows"]}
        tools = data["tools"]
    else:
        tools = {}
    with tempfile.TemporaryDirectory(prefix="qtpe-bench-floats-") as tmp:
        for n in names:
            cfg = config(n)
            old[n], t = measure_config(n, cfg, Path(tmp))
            tools.update(t)
            p = run_power(cfg, Path(tmp) / n / "power", simulator="verilator").power
            old[n]["energy"] = {"pj_per_mac": p.pj_per_mac, "pj_per_cycle": p.pj_per_cycle,
                                "macs": p.macs, "cycles": p.cycles, "source": p.source}
            print(f"measured {n}", flush=True)
    missing = [n for n in DESIGNS if n not in old]
    if missing:
        parser.error(f"no rows for {', '.join(missing)}: measure them (--designs) first")
    rows = [old[n] for n in DESIGNS]
    error = lmul_error()
    record(args.out / "floats.json", args.out / "FLOATS.md", rows, tools,
           lambda rows_, tools_, when: markdown({"rows": rows_, "lmul_error": error,
                                                 "machine": machine()}, tools_, when),
           extra={"lmul_error": error})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
