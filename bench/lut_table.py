"""The LUT table-precompute unit with and without symmetrization: what halving the table buys.

Synthesizes ``qtpe.hdl.pe_lut.LutPrecompute`` alone (int8 activations) for g = 2, 3, 4, plain
and symmetric, on ECP5 and OSU 0.18 um, and writes ``LUT_TABLE.md`` and ``lut_table.json``
with the date, the machine and the tool versions. Numbers are measured, never typed in.

Usage: ``python -m qtpe.bench.lut_table [--out DIR]`` (default: this folder)
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from qtpe.gen.emit import emit_verilog
from qtpe.gen.outputs import write_file
from qtpe.hdl.formats import QType
from qtpe.hdl.kind_lut import LutConfig
from qtpe.hdl.pe_lut import LutPrecompute

from .run import machine, record, synthesize_row

HERE = Path(__file__).resolve().parent
GS = (2, 3, 4)


def precompute_config(g: int, symmetric: bool) -> LutConfig:
    kind = "sym" if symmetric else "plain"
    return LutConfig(name=f"qtpe_lut_precompute_g{g}_{kind}", g=g, symmetric=symmetric,
                     activation=QType(8))


def measure(cfg: LutConfig, workdir: Path) -> tuple[dict, dict]:
    """Synthesize the precompute unit of ``cfg`` alone on ECP5 and OSU 0.18 um."""
    unit = LutPrecompute(cfg)
    vpath = workdir / f"{cfg.name}.v"
    write_file(vpath, emit_verilog(cfg, unit))
    row = {"g": cfg.g, "symmetric": cfg.symmetric, "activation": str(cfg.activation),
           "stored_entries": unit.stored_entries, "table_bits": cfg.table_bits}
    return synthesize_row(row, vpath, cfg.name, ("ecp5", "asic"), workdir)


def markdown(rows: list[dict], tools: dict, when: str) -> str:
    out = [
        "# LUT table-precompute unit: plain vs symmetric table",
        "",
        f"Measured {when} on {machine()} by `python -m qtpe.bench.lut_table`.",
        "`LutPrecompute` alone, int8 activations: the table of subset sums of g activations, "
        "registered. Plain tables store T(i) for i = 1 .. 2^g - 1 (T(0) = 0 is a constant); "
        "symmetric tables store T_sym(i) = 2 T(i) - S for the 2^(g-1) indices with bit g-1 "
        "clear (the other half is T_sym(~i) = -T_sym(i)), each entry exactly as wide as its "
        "range. ECP5 and OSU 0.18 um flows as in `bench/RESULTS.md` (areas of the unit alone, "
        "Fmax with registered I/O).",
        "",
        "| g | table | stored entries | table bits | ECP5 FF | ECP5 LUT4 | CCU2C | ECP5 Fmax MHz "
        "| OSU018 area um^2 | OSU018 FF | OSU018 Fmax MHz |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        e, a = r["ecp5"], r["asic"]
        out.append(
            f"| {r['g']} | {'symmetric' if r['symmetric'] else 'plain'} | {r['stored_entries']} "
            f"| {r['table_bits']} | {e['ff_count']} | {e['lut4_count']} | {e['carry_count']} "
            f"| {e['fmax_mhz']:.1f} | {a['area_um2']:.0f} | {a['ff_count']} "
            f"| {a['fmax_mhz']:.1f} |"
        )
    out += ["", "Tools: " + "; ".join(f"{k} {v}" for k, v in sorted(tools.items())), ""]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="qtpe-lut-table", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args(argv)
    rows, tools = [], {}
    with tempfile.TemporaryDirectory(prefix="qtpe-lut-table-") as tmp:
        for g in GS:
            for symmetric in (False, True):
                row, t = measure(precompute_config(g, symmetric), Path(tmp))
                rows.append(row)
                tools.update(t)
                print(f"measured g={g} {'symmetric' if symmetric else 'plain'}", flush=True)
    record(args.out / "lut_table.json", args.out / "LUT_TABLE.md", rows, tools, markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
