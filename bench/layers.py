"""``make bench`` layer rows and ``docs/real-layer.md``: a real quantized layer through the arrays.

One layer generator serves both (``float_layer``, ``quant_layer``):

* Float weights ``W`` (K x N) from N(0, ``WEIGHT_SIGMA``^2) (the initialisation scale of LLM
  projection weights) and float activations ``A`` (M x K) from N(0, 1), drawn once from
  ``SEED`` (weights first): every kind gets the same floats.
* Weights quantized per group of ``group_size`` along K and per output column by the ready
  quantizer (``qtpe.tb.models.quant.quantize``: round to nearest on the format's grid with a
  clipping search per group; ``SCALE_BITS``-bit unsigned integer scales; zero points with
  ``uint<N>`` weights) to the kind's 4-bit weight format (``weight_format``).
* Activations quantized per row (per token) to the array's ``int8``, symmetric, round to
  nearest: ``s_m = max_k |A[m, k]| / 127``, ``a[m, k] = round(A[m, k] / s_m)`` (-127 .. 127).

The array computes ``C[m, n] = sum_g scale[g, n] * sum_{k in g} (w[k, n] - z[g, n]) a[m, k]``
exactly (integers); the float result it stands for is ``Y_hat = s_m * unit * C`` (``unit``:
the quantizer's), compared with the float layer ``Y = A @ W`` (float64): relative Frobenius
error ``||Y_hat - Y|| / ||Y||`` and the largest absolute error. Every run is checked twice:
``C`` equals the golden model (``run_gemm``'s ``ok``) and numpy's dequantize-then-matmul
``a @ (scale * (w - z))`` in unbounded integers (so no accumulator wrapped either).

Kinds (``group_kinds``): every registered PE kind whose config sets ``ARRAY_GROUPS``; none
is named here. Each takes the 4-bit member of its config's default weight family
(``weight_format``: ``int8`` gives ``int4``, ``pot4`` stays ``pot4``, ``int2`` gives
``int4``), ``uint4`` with zero points (GPTQ/AWQ style) where that family is an integer grid
and the kind's arrays take zero points, the signed format otherwise. Accumulators are
derived for depth K (``depth = K``): the exact sums never wrap.

For each kind and dataflow (``DATAFLOWS``: OS, WS; ``--dataflows`` takes IS too) an R x C array
runs the layer on Verilator (``run_gemm``: cycles, utilization, build seconds, simulation
cycles per wall second) and is synthesized (``qtpe.bench.arrays.synth_row``: ECP5 on the
LFE5U-85F, nextpnr seed 1; OSU 0.18 um with the buffered ASIC flow).

Writes ``layers.json`` (as each row lands) and ``LAYERS.md`` into ``--out`` (default
``bench/``) and ``docs/real-layer.md`` (``--doc-out``), all from the same run. ``--doc``
runs the layer without synthesis and writes only the doc; ``--render`` measures nothing and
writes both Markdown files again from ``layers.json``.
Usage: ``python -m qtpe.bench.layers [--doc | --render] [--no-synth] [--kinds A,B]
[--dataflows os,ws] [--shape M,K,N] [--group G] [--array RxC] [--sim verilator|icarus]
[--out DIR] [--doc-out FILE]``
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qtpe.gen.emit import write_design
from qtpe.gen.gemm import GemmResult, run_gemm
from qtpe.gen.outputs import write_file
from qtpe.hdl.array_config import ArrayConfig, Dataflow
from qtpe.hdl.formats import FORMAT_FAMILIES, Format, GroupScale, QType, ScaleKind
from qtpe.hdl.kinds import Kind, all_kinds, kind_of
from qtpe.sim.runner import SIMULATORS
from qtpe.tb.models.operands import QuantOperands
from qtpe.tb.models.quant import GroupQuant, quantize

from .arrays import ARRAY_ECP5_DEVICE, ECP5_SEEDS, synth_row
from .run import machine

HERE = Path(__file__).resolve().parent
DOC = HERE.parent / "docs" / "real-layer.md"
#: The bench layer: M tokens x K inputs x N outputs, 4-bit weights in groups of 128.
LAYER_MKN = (64, 1024, 64)
GROUP_SIZE = 128
WEIGHT_BITS = 4
ARRAY = (8, 8)
#: The bench's dataflows (``--dataflows`` takes any; input-stationary arrays are for GEMV,
#: M = 1, where the bench layer has M = 64 tokens).
DATAFLOWS = ("os", "ws")
SCALE_KIND = ScaleKind.INT
SCALE_BITS = 8
ACTIVATION = QType(8)
WEIGHT_SIGMA = 0.02
SEED = 0
SIMULATOR = "verilator"
TARGETS = ("ecp5", "asic")


def group_kinds() -> tuple[Kind, ...]:
    """The registered kinds whose arrays take groups (their config's ``ARRAY_GROUPS``)."""
    return tuple(k for k in all_kinds() if k.has_arrays and k.config.ARRAY_GROUPS)


def weight_format(kind: Kind, bits: int = WEIGHT_BITS) -> Format:
    """The ``bits``-bit member of the family of the kind's default weight format
    (``kind.config().weight``); ValueError if the family has no such width."""
    default = kind.config().weight
    try:
        return dataclasses.replace(default, bits=bits)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"pe = {kind.name!r}: its weight format {default} has no {bits}-bit "
                         f"member ({exc})") from None


def array_config(kind: Kind, dataflow: str, K: int, weight: Format, zero_points: bool,
                 group_size: int = GROUP_SIZE, shape: tuple[int, int] = ARRAY) -> ArrayConfig:
    """The kind's ``shape`` array in ``dataflow`` with ``weight`` (and ``zero_points``), int8
    activations, groups of ``group_size`` with ``SCALE_BITS``-bit integer scales and
    accumulators derived for depth ``K``; ValueError (the config's message) where the kind's
    arrays do not build it."""
    rows, cols = shape
    name = f"qtpe_layer_{dataflow}_{kind.name}_{weight}_g{group_size}_{rows}x{cols}"
    pe = kind.config(name=name, weight=weight, activation=ACTIVATION, depth=K)
    return ArrayConfig(pe, rows=rows, cols=cols, dataflow=Dataflow(dataflow),
                       group_size=group_size, group_scale=SCALE_KIND, scale_bits=SCALE_BITS,
                       zero_points=zero_points)


def weight_choices(fmt: Format) -> list[tuple[Format, bool]]:
    """``fmt`` as a layer's weights: an integer grid as ``uint<N>`` with zero points first,
    then as it is; any other format as it is."""
    if isinstance(fmt, QType):
        return [(QType(fmt.bits, False), True), (fmt, False)]
    return [(fmt, False)]


def layer_config(kind: Kind, dataflow: str, K: int, group_size: int = GROUP_SIZE,
                 bits: int = WEIGHT_BITS, shape: tuple[int, int] = ARRAY) -> ArrayConfig:
    """The kind's array for the layer (``array_config``) with its ``bits``-bit weight format
    (``weight_format``): the first of ``weight_choices`` its arrays build. ValueError (the
    config's message) where they build none."""
    choices = weight_choices(weight_format(kind, bits))
    for i, (weight, zero_points) in enumerate(choices):
        try:
            return array_config(kind, dataflow, K, weight, zero_points, group_size, shape)
        except ValueError:
            if i == len(choices) - 1:
                raise
    raise AssertionError("unreachable")


def formats_of_width(bits: int) -> list[Format]:
    """Every operand format of ``bits`` bits, family by family (``FORMAT_FAMILIES``, each
    name pattern with ``<N>`` = ``bits``)."""
    out = []
    for family in FORMAT_FAMILIES:
        for pattern in family.NAMES.split(", "):
            try:
                fmt = family.parse(pattern.replace("<N>", str(bits)))
            except ValueError:
                continue
            if fmt.bits == bits and fmt not in out:
                out.append(fmt)
    return out


def format_survey(kinds, floats: FloatLayer, K: int, group_size: int,
                  bits: int = WEIGHT_BITS) -> list[dict]:
    """Every ``bits``-bit weight format (``weight_choices`` of ``formats_of_width``) that an
    output-stationary array of one of ``kinds`` takes, quantized as the layer's weights
    (numpy only, no array run): the weights' relative error and the layer's error from the
    weights alone, with the kinds that take it."""
    out = []
    for fmt in formats_of_width(bits):
        for weight, zero_points in weight_choices(fmt):
            takers = []
            for kind in kinds:
                try:
                    array_config(kind, "os", K, weight, zero_points, group_size)
                except (TypeError, ValueError):
                    continue
                takers.append(kind.name)
            if not takers or any(r["weight"] == str(weight) for r in out):
                continue
            q = quantize(floats.W, weight, GroupScale(group_size, SCALE_KIND, SCALE_BITS),
                         zero_points=zero_points)
            Wq = q.dequantized()
            out.append({"weight": str(weight), "zero_points": zero_points, "kinds": takers,
                        "weight_rel_fro": _rel(Wq, floats.W),
                        "weights_only_rel_fro": _rel(floats.A @ Wq, floats.Y)})
    return out


@dataclass(frozen=True)
class FloatLayer:
    """The float layer: activations ``A`` (M x K), weights ``W`` (K x N), float64."""

    A: np.ndarray
    W: np.ndarray

    @property
    def Y(self) -> np.ndarray:
        """The float result ``A @ W``."""
        return self.A @ self.W


def float_layer(M: int, K: int, N: int, seed: int = SEED,
                sigma: float = WEIGHT_SIGMA) -> FloatLayer:
    """Gaussian weights N(0, sigma^2) (drawn first) and activations N(0, 1)."""
    rng = np.random.default_rng(seed)
    W = rng.normal(0.0, sigma, (K, N))
    return FloatLayer(rng.normal(0.0, 1.0, (M, K)), W)


def quantize_rows(A: np.ndarray, fmt: QType = ACTIVATION) -> tuple[np.ndarray, np.ndarray]:
    """Per-row symmetric quantization to the signed ``fmt``: ``s_m = max |A[m]| / fmt.max``
    (1 for an all-zero row), ``a = round(A / s_m)`` (round half to even; within
    ``-fmt.max .. fmt.max``). Returns ``a`` (int64) and ``s`` (M,)."""
    top = np.abs(A).max(axis=1)
    s = np.where(top > 0, top / fmt.max, 1.0)
    a = np.clip(np.rint(A / s[:, None]), -fmt.max, fmt.max).astype(np.int64)
    return a, s


@dataclass(frozen=True)
class QuantLayer:
    """A float layer quantized for one array config: int8 activations ``a`` with per-row
    scales ``a_scale``, group-quantized weights ``q``."""

    floats: FloatLayer
    a: np.ndarray
    a_scale: np.ndarray
    q: GroupQuant

    @property
    def quant_operands(self) -> QuantOperands:
        return QuantOperands(self.q.scales, self.q.zeros)

    def exact(self) -> np.ndarray:
        """numpy's dequantize-then-matmul in unbounded integers: ``a @ (scale * (w - z))``."""
        return self.a.astype(object) @ self.q.integer_weights()

    def dequantize(self, C) -> np.ndarray:
        """The float result an integer result ``C`` stands for: ``s_m * unit * C``."""
        return self.a_scale[:, None] * self.q.unit * np.asarray(C, dtype=np.float64)

    def errors(self, C) -> dict:
        """``C`` against the float layer: relative Frobenius and largest absolute error;
        with the weights' own relative error and the layer's error from the weights alone
        (float activations) and from the activations alone (float weights)."""
        Y = self.floats.Y
        Wq = self.q.dequantized()
        Aq = self.a_scale[:, None] * self.a
        return {"rel_fro": _rel(self.dequantize(C), Y),
                "max_abs": float(np.abs(self.dequantize(C) - Y).max()),
                "weight_rel_fro": _rel(Wq, self.floats.W),
                "weights_only_rel_fro": _rel(self.floats.A @ Wq, Y),
                "activations_only_rel_fro": _rel(Aq @ self.floats.W, Y)}


def _rel(x: np.ndarray, ref: np.ndarray) -> float:
    return float(np.linalg.norm(x - ref) / np.linalg.norm(ref))


def quant_layer(cfg: ArrayConfig, floats: FloatLayer) -> QuantLayer:
    """``floats`` quantized for ``cfg`` (the module docstring has the method)."""
    a, s = quantize_rows(floats.A, cfg.activation)
    q = quantize(floats.W, cfg.weight, cfg.group, zero_points=cfg.zero_points)
    return QuantLayer(floats, a, s, q)


def run_layer(cfg: ArrayConfig, floats: FloatLayer, simulator: str,
              workdir: Path) -> tuple[GemmResult, QuantLayer]:
    """The quantized layer through the simulated array; RuntimeError unless the result
    equals the golden model and numpy's dequantize-then-matmul."""
    layer = quant_layer(cfg, floats)
    r = run_gemm(cfg, layer.a, layer.q.weights, simulator, workdir,
                 quant=layer.quant_operands, seed=SEED)
    if not r.ok:
        raise RuntimeError(f"{cfg.name} on {simulator}: {r.mismatches} results differ from "
                           f"the golden model")
    if not np.array_equal(np.asarray(r.C, dtype=object), layer.exact()):
        raise RuntimeError(f"{cfg.name} on {simulator}: the result differs from numpy's "
                           f"dequantize-then-matmul")
    return r, layer


def layer_row(cfg: ArrayConfig, floats: FloatLayer, simulator: str, workdir: Path) -> dict:
    """One row: the config, the quantization, the errors, the cycles and the simulation's
    speed (no synthesis: ``synth_layer_row``)."""
    start = time.monotonic()
    r, layer = run_layer(cfg, floats, simulator, workdir)
    wall = time.monotonic() - start
    M, K = floats.A.shape
    row = {"pe": cfg.pe, "name": cfg.name, "dataflow": cfg.dataflow.value, "rows": cfg.rows,
           "cols": cfg.cols, "weight": str(cfg.weight), "activation": str(cfg.activation),
           "zero_points": cfg.zero_points, "group_size": cfg.group_size,
           "group_scale": cfg.group_scale.value, "scale_bits": cfg.scale_bits,
           "acc": str(cfg.acc), "config": cfg.to_dict(),
           "default_weight": str(kind_of(cfg).config().weight),
           "layer": {"M": M, "K": K, "N": floats.W.shape[1]}, "unit": layer.q.unit,
           "error": layer.errors(r.C), "checked": ["golden model", "numpy reference"],
           "cycles": r.cycles, "expected_cycles": r.expected_cycles, "macs": r.macs,
           "macs_per_cycle": r.macs_per_cycle, "peak_macs_per_cycle": cfg.macs_per_cycle,
           "utilization": r.utilization,
           "sim": {simulator: {"build_seconds": r.build_seconds, "seconds": r.seconds,
                               "cycles_per_second": r.cycles_per_second,
                               "wall_seconds": wall}}}
    print(f"  {cfg.name} on {simulator}: {r.cycles} cycles, utilization {r.utilization:.1%}, "
          f"error {row['error']['rel_fro']:.4f}, build {r.build_seconds:.0f} s, "
          f"{r.cycles_per_second:,.0f} cycles/s", flush=True)
    return row


def synth_layer_row(cfg: ArrayConfig, workdir: Path) -> tuple[dict, dict]:
    """The array synthesized for ``TARGETS`` (``qtpe.bench.arrays.synth_row``: ECP5 on the
    LFE5U-85F with nextpnr seed 1, OSU 0.18 um buffered), and the tool versions."""
    vpath, _ = write_design(cfg, workdir / "rtl")
    start = time.monotonic()
    out, tools = synth_row(vpath, cfg.name, workdir / "synth", ECP5_SEEDS[:1], TARGETS)
    out["seconds"] = time.monotonic() - start
    return out, tools


def plan(kinds, dataflows, K: int, group_size: int, shape) -> tuple[list, list[str]]:
    """The array configs to run, kind by kind, and one line per (kind, dataflow) whose
    arrays do not build (the config's reason)."""
    configs, refused = [], []
    for kind in kinds:
        for df in dataflows:
            try:
                configs.append(layer_config(kind, df, K, group_size, WEIGHT_BITS, shape))
            except ValueError as exc:
                refused.append(f"{kind.name} {df.upper()}: {exc}")
    return configs, refused


# -- rendering ---------------------------------------------------------------------------------

def _fmt_weight(r: dict) -> str:
    return r["weight"] + (" + zero points" if r["zero_points"] else "")


def _sim(r: dict) -> tuple[str, dict]:
    (name, s), = r["sim"].items()
    return name, s


def _tools(data: dict) -> str:
    return "; ".join(f"{k} {v}" for k, v in sorted(data["tools"].items()))


def _span(rows: list[dict], key: str, digits: int) -> str:
    """The smallest and largest simulation ``key`` of ``rows``: ``"3-15"``."""
    values = [_sim(r)[1][key] for r in rows]
    lo, hi = f"{min(values):.{digits}f}", f"{max(values):.{digits}f}"
    return lo if lo == hi else f"{lo}-{hi}"


def _duration(data: dict) -> str:
    s = data["run_seconds"]
    return f"{s:.0f} s" if s < 120 else f"{s / 60:.0f} minutes"


def _method(data: dict) -> str:
    ly = data["layer"]
    return (f"Layer M = {ly['M']} tokens, K = {ly['K']}, N = {ly['N']}: float weights from "
            f"N(0, {ly['weight_sigma']:g}^2) quantized per group of {ly['group_size']} along K "
            f"and per column by `qtpe.tb.models.quant.quantize` (round to nearest, clipping "
            f"search, {ly['scale_bits']}-bit integer scales), activations from N(0, 1) "
            f"quantized per row to int8 (symmetric, scale = max |row| / 127); seed "
            f"{ly['seed']}, the same floats for every kind.")


def _shapes(rows: list[dict]) -> str:
    return ", ".join(dict.fromkeys(f"{r['rows']}x{r['cols']}" for r in rows))


def bench_markdown(data: dict) -> str:
    """``LAYERS.md``: one row per array (simulation; synthesis where measured)."""
    rows = data["rows"]
    ly = data["layer"]
    lines = [
        f"# qtpe layer benchmark: a W4 g{ly['group_size']} layer through {_shapes(rows)} "
        "arrays",
        "",
        f"Measured {data['date']} on {data['machine']} (load average {data['load']} at the "
        f"start) by `{data['command']}` (`make bench`), {_duration(data)} in all. Every "
        "registered PE kind whose arrays take groups (config `ARRAY_GROUPS`), "
        "one row per dataflow.",
        "",
        _method(data) + " In every row the array's result equals the golden model and "
        "numpy's dequantize-then-matmul; error = relative Frobenius error of "
        "`s_m * unit * C` against the float `A @ W` (the accuracy story, formats and method: "
        "[docs/real-layer.md](../docs/real-layer.md)).",
        "",
        "Utilization = achieved MACs/cycle over the array's peak, every cycle from the first "
        "beat to the last result row (fill and drain included). Simulation: build = the "
        "simulator's build of the array and its harness (Verilator: C++ at -O2 through "
        "ccache, so objects cached by earlier builds are reused), run = wall seconds while the "
        "harness "
        "streams the layer (operand loading excluded), cycles/s = array cycles per second of "
        "that run.",
        "",
        "| PE | dataflow | array | W x A | group scales | acc | cycles | MACs/cycle | peak "
        "| utilization | error | simulator | build s | run s | cycles/s |",
        "| --- | --- | --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | --- | ---: "
        "| ---: | ---: |",
    ]
    for r in rows:
        sim, s = _sim(r)
        lines.append(
            f"| {r['pe']} | {r['dataflow'].upper()} | {r['rows']}x{r['cols']} "
            f"| {_fmt_weight(r)} x {r['activation']} "
            f"| {r['scale_bits']}-bit {r['group_scale']}, g{r['group_size']} | {r['acc']} "
            f"| {r['cycles']:,} | {r['macs_per_cycle']:.2f} | {r['peak_macs_per_cycle']:g} "
            f"| {r['utilization']:.1%} | {r['error']['rel_fro']:.4f} | {sim} "
            f"| {s['build_seconds']:.1f} | {s['seconds']:.2f} | {s['cycles_per_second']:,.0f} |")
    off = [r for r in rows if r["cycles"] != r["expected_cycles"]]
    lines += ["", "Cycles equal the cycle model (`tb/models/cycles.py`) in every row." if not off
              else "Cycles differing from the cycle model (`tb/models/cycles.py`): "
              + ", ".join(f"{r['name']} {r['cycles']} (model {r['expected_cycles']})"
                          for r in off) + "."]
    synth = [r for r in rows if "synth" in r]
    if synth:
        lines += [
            "",
            "## Synthesis with the group hardware",
            "",
            f"The array alone (scale and zero-point logic at the column feet included). ECP5 "
            f"on the LFE5U-{ARRAY_ECP5_DEVICE[:-1]}F, nextpnr seed {ECP5_SEEDS[0]}, Fmax of "
            "the design with registered I/O. OSU 0.18 um: the buffered ASIC flow of "
            "`bench/ARRAYS.md` (Yosys `abc -D` mapping, a balanced buffer tree on every net "
            "with more than 12 loads, OpenSTA at a 5 ns clock, typical corner; pre-layout: "
            "no placement, no wires, ideal clock tree).",
            "",
            "| PE | dataflow | W | ECP5 LUT4 | FF | CCU2C | DSP | ECP5 Fmax MHz "
            "| OSU018 area um^2 | OSU018 Fmax MHz | fanout buffers | synthesis s |",
            "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for r in synth:
            e, a = r["synth"]["ecp5"], r["synth"]["asic"]
            lines.append(
                f"| {r['pe']} | {r['dataflow'].upper()} | {_fmt_weight(r)} "
                f"| {e['lut4_count']:,} | {e['ff_count']:,} | {e['carry_count']:,} "
                f"| {e['dsp_count']} | {e['fmax_mhz']:.1f} | {a['area_um2']:,.0f} "
                f"| {a['fmax_mhz']:.1f} | {a.get('fanout_buffers', 0):,} "
                f"| {r['synth']['seconds']:.0f} |")
    lines += _refused_lines(data)
    lines += ["", f"Tools: {_tools(data)}.", ""]
    return "\n".join(lines)


def _refused_lines(data: dict) -> list[str]:
    if not data.get("refused"):
        return []
    return ["", "Not run (the kind's arrays refuse the config): "
            + "; ".join(data["refused"]) + "."]


def doc_markdown(data: dict) -> str:
    """``docs/real-layer.md``: the layer, the formats, the errors, the cycles, and how the
    run was made."""
    rows = data["rows"]
    ly = data["layer"]
    kinds = list(dict.fromkeys(r["pe"] for r in rows))
    dfs = list(dict.fromkeys(r["dataflow"] for r in rows))
    by = {(r["pe"], r["dataflow"]): r for r in rows}
    first_of = {k: next(by[(k, d)] for d in dfs if (k, d) in by) for k in kinds}
    sims = list(dict.fromkeys(_sim(r)[0] for r in rows))
    synthesized = any("synth" in r for r in rows)
    same = all(r["error"] == first_of[r["pe"]]["error"] for r in rows)
    lines = [
        "# A real quantized layer through the arrays",
        "",
        "Written by `python -m qtpe.bench.layers` (`bench/layers.py`, part of `make bench`; "
        "`--doc` writes this page alone, without synthesis) from the run described at the "
        "end: every number here comes from it."
        + (" The same run's synthesis rows (area, Fmax) are in "
           "[bench/LAYERS.md](../bench/LAYERS.md)." if synthesized else ""),
        "",
        "## The layer",
        "",
        f"A linear layer `Y = A @ W` with M = {ly['M']} tokens, K = {ly['K']} inputs and "
        f"N = {ly['N']} outputs, weights in groups of {ly['group_size']} along K "
        f"({ly['K'] // ly['group_size']} groups per column, the W4 g{ly['group_size']} of "
        "GPTQ/AWQ checkpoints): an LLM projection in miniature (K a slice of a hidden "
        f"dimension), small enough that each array runs it in one simulator build "
        f"({_span(rows, 'build_seconds', 0)} s) and {_span(rows, 'seconds', 2)} s of "
        "simulation, and the same layer as the bench rows, so one run gives both.",
        "",
        f"* **Weights**: `W` (K x N) drawn from N(0, {ly['weight_sigma']:g}^2) (float64, "
        f"numpy `default_rng({ly['seed']})`, drawn before the activations), quantized per "
        f"group of {ly['group_size']} weights along K and per output column by the ready "
        "quantizer `qtpe.tb.models.quant.quantize`: for each group, clipping ratios from "
        "1.0 down to 0.5 are tried; each gives a step, rounded to the scale grid "
        f"(`unit * s`, `s` a {ly['scale_bits']}-bit unsigned integer; `unit` one float for "
        "the whole matrix), a zero point where the format has one, and every weight rounded "
        "to the nearest value of the format's grid; the ratio with the least squared error "
        "is kept.",
        "* **Activations**: `A` (M x K) drawn from N(0, 1), quantized per row (per token) "
        "to int8, symmetric, round to nearest: `s_m = max_k |A[m, k]| / 127`, "
        "`a = round(A / s_m)`, in -127 .. 127.",
        "* **Result**: the array computes `C[m, n] = sum_g scale[g, n] * sum_(k in g) "
        "(w[k, n] - z[g, n]) * a[m, k]` exactly, in integers; it stands for `Y_hat = s_m * "
        "unit * C`, compared with the float64 `Y = A @ W`: relative Frobenius error "
        "`||Y_hat - Y|| / ||Y||` and the largest absolute error (for scale: `Y` has RMS "
        f"{ly['y_rms']:.3f} and largest magnitude {ly['y_max_abs']:.3f}).",
        "* **Checks**: in every run `C` equals the golden model (`tb/models`, checked inside "
        "`run_gemm`) and numpy's dequantize-then-matmul `a @ (scale * (w - z))` in unbounded "
        "integers; accumulators are derived for depth K, so nothing wraps.",
        "",
        "## Through the arrays",
        "",
        "Every registered PE kind whose arrays take groups (its config's `ARRAY_GROUPS`; in "
        "this run " + ", ".join(f"`{k}`" for k in kinds) + "), as an "
        f"{_shapes(rows)} array, with the 4-bit member of its config's default weight family "
        "(`weight_format`), as `uint4` with a zero point per group where that family is an "
        "integer grid and the kind's arrays take zero points (asymmetric, as GPTQ/AWQ), the "
        "signed format otherwise (`layer_config`).",
        "",
        "| PE | config's weight | layer's weights | W error | layer error, weights only "
        "| layer error (array) | max abs error | "
        + " | ".join(f"{d.upper()} cycles | {d.upper()} utilization" for d in dfs) + " |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | "
        + " | ".join("---: | ---:" for _ in dfs) + " |",
    ]
    for k in kinds:
        r = first_of[k]
        e = r["error"]
        cells = [f"{by[(k, d)]['cycles']:,} | {by[(k, d)]['utilization']:.1%}"
                 if (k, d) in by else "- | -" for d in dfs]
        lines.append(
            f"| {k} | {r['default_weight']} | {_fmt_weight(r)}, {r['scale_bits']}-bit scales "
            f"| {e['weight_rel_fro']:.4f} | {e['weights_only_rel_fro']:.4f} "
            f"| {e['rel_fro']:.4f} | {e['max_abs']:.4f} | " + " | ".join(cells) + " |")
    act = rows[0]["error"]["activations_only_rel_fro"]
    lines += [
        "",
        "W error: `||W_hat - W|| / ||W||` of the dequantized weights. Layer error, weights "
        "only: the float activations times the dequantized weights, against `Y`. Layer error "
        "(array): the array's result, int8 activations and all; the int8 activations alone "
        f"(float weights) give {act:.4f}. "
        + ("Both dataflows give the same integer result (the same exact sums), so the "
           "errors are per kind. " if same and len(dfs) > 1 else "")
        + "Cycles and utilization (achieved MACs/cycle over the array's peak, fill and drain "
        "included) are what the simulation counted"
        + ("; they equal the cycle model (`tb/models/cycles.py`) in every row." if all(
            r["cycles"] == r["expected_cycles"] for r in rows) else
            "; rows that differ from the cycle model are listed in bench/LAYERS.md.")
        + " Peaks differ by kind (MACs per cycle of the array): "
        + ", ".join(f"{k} {first_of[k]['peak_macs_per_cycle']:g}" for k in kinds) + ".",
    ]
    survey = data.get("survey", [])
    if survey:
        lines += [
            "",
            "### The other 4-bit formats",
            "",
            "Every 4-bit weight format that an array of these kinds takes, quantized the same "
            "way (numpy only, no array run), for comparison with the formats above:",
            "",
            "| weights | kinds whose arrays take it | W error | layer error, weights only |",
            "| --- | --- | ---: | ---: |",
        ]
        for s in survey:
            lines.append(f"| {_fmt_weight(s)} | {', '.join(s['kinds'])} "
                         f"| {s['weight_rel_fro']:.4f} | {s['weights_only_rel_fro']:.4f} |")
    lines += _refused_lines(data)
    lines += [
        "",
        "## How it was run",
        "",
        f"* Command: `{data['command']}`, {_duration(data)} in all"
        + (" (synthesis included)." if synthesized else "."),
        f"* Date: {data['date']}; qtpe at commit {data.get('commit', 'unknown')}.",
        f"* Machine: {data['machine']}; load average {data['load']} at the start.",
        f"* Simulator: {', '.join(sims)}"
        + (" (C++ built at -O2 through ccache)" if "verilator" in sims else "")
        + "; build and run per array: "
        + ", ".join(f"{r['pe']} {r['dataflow'].upper()} {_sim(r)[1]['build_seconds']:.1f} s "
                    f"and {_sim(r)[1]['seconds']:.2f} s" for r in rows) + ".",
        f"* Tools: {_tools(data)}.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="qtpe-bench-layers",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--doc", action="store_true",
                        help="only docs/real-layer.md: simulate, no synthesis")
    parser.add_argument("--no-synth", action="store_true", help="skip synthesis")
    parser.add_argument("--render", action="store_true",
                        help="measure nothing: write LAYERS.md and the doc again from "
                             "OUT/layers.json")
    parser.add_argument("--kinds", default=None,
                        help="comma-separated kinds (default: every kind whose arrays take "
                             "groups)")
    parser.add_argument("--dataflows", default=",".join(DATAFLOWS))
    parser.add_argument("--shape", default=",".join(map(str, LAYER_MKN)), help="M,K,N")
    parser.add_argument("--group", type=int, default=GROUP_SIZE)
    parser.add_argument("--array", default="x".join(map(str, ARRAY)), help="RxC")
    parser.add_argument("--sim", default=SIMULATOR, choices=SIMULATORS)
    parser.add_argument("--out", type=Path, default=HERE)
    parser.add_argument("--doc-out", type=Path, default=DOC)
    args = parser.parse_args(argv)
    if args.render:
        try:
            data = json.loads((args.out / "layers.json").read_text())
        except (OSError, ValueError) as exc:
            parser.error(f"--render needs a readable {args.out / 'layers.json'}: {exc}")
        write_file(args.out / "LAYERS.md", bench_markdown(data))
        write_file(args.doc_out, doc_markdown(data))
        return 0
    available = {k.name: k for k in group_kinds()}
    names = list(available) if args.kinds is None else [n for n in args.kinds.split(",") if n]
    for n in names:
        if n not in available:
            parser.error(f"{n!r} is not a kind whose arrays take groups; available: "
                         f"{', '.join(available)}")
    dataflows = [d for d in args.dataflows.split(",") if d]
    for d in dataflows:
        if d not in {df.value for df in Dataflow}:
            parser.error(f"unknown dataflow {d!r}; available: "
                         f"{', '.join(df.value for df in Dataflow)}")
    try:
        M, K, N = (int(x) for x in args.shape.split(","))
        shape = tuple(int(x) for x in args.array.lower().split("x"))
        if len(shape) != 2:
            raise ValueError
    except ValueError:
        parser.error(f"--shape takes M,K,N and --array RxC, not {args.shape!r}, "
                     f"{args.array!r}")
    command = " ".join(["python -m qtpe.bench.layers", *(sys.argv[1:] if argv is None
                                                          else argv)])
    data = measure([available[n] for n in names], dataflows, (M, K, N), args.group, shape,
                   args.sim, synth=not (args.doc or args.no_synth), command=command,
                   json_out=None if args.doc else args.out / "layers.json")
    if not data["rows"]:
        parser.error("nothing to run: " + "; ".join(data["refused"]))
    if not args.doc:
        write_file(args.out / "LAYERS.md", bench_markdown(data))
        print(bench_markdown(data))
    write_file(args.doc_out, doc_markdown(data))
    print(doc_markdown(data))
    return 0


def _commit() -> str:
    """The git commit of the checkout (``+ changes`` when it has uncommitted ones), or
    ``unknown`` outside one."""
    import subprocess

    def git(*args):
        return subprocess.run(["git", "-C", str(HERE.parent), *args], capture_output=True,
                              text=True, timeout=60, check=False)

    head = git("rev-parse", "--short=12", "HEAD")
    if head.returncode != 0:
        return "unknown"
    dirty = git("status", "--porcelain", "--untracked-files=no").stdout.strip()
    return head.stdout.strip() + (" + uncommitted changes" if dirty else "")


def measure(kinds, dataflows, mkn: tuple[int, int, int], group_size: int,
            shape: tuple[int, int], simulator: str, *, synth: bool, command: str,
            json_out: Path | None = None) -> dict:
    """The layer through an array of each of ``kinds`` in each of ``dataflows`` (``plan``),
    synthesized with ``synth``: the record ``bench_markdown`` and ``doc_markdown`` render
    (date, machine, load, tool versions, ``command``, the layer, the format survey, the
    rows, the run's seconds). With ``json_out``, written there as each row lands."""
    from qtpe.gen.sweep import tool_versions

    started = time.monotonic()
    M, K, N = mkn
    configs, refused = plan(kinds, dataflows, K, group_size, shape)
    floats = float_layer(M, K, N)
    Y = floats.Y
    data = {"date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": machine(), "load": "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg()),
            "tools": tool_versions(), "command": command, "commit": _commit(),
            "layer": {"M": M, "K": K, "N": N, "seed": SEED, "weight_sigma": WEIGHT_SIGMA,
                      "group_size": group_size, "scale_bits": SCALE_BITS,
                      "y_rms": float(np.sqrt((Y ** 2).mean())),
                      "y_max_abs": float(np.abs(Y).max())},
            "refused": refused, "survey": format_survey(kinds, floats, K, group_size),
            "rows": [], "run_seconds": 0.0}
    for line in refused:
        print(f"  not run: {line}", flush=True)
    with tempfile.TemporaryDirectory(prefix="qtpe-bench-layers-") as tmp:
        for cfg in configs:
            print(f"measuring {cfg.name}", flush=True)
            work = Path(tmp) / cfg.name
            row = layer_row(cfg, floats, simulator, work / "gemm")
            if synth:
                row["synth"], tools = synth_layer_row(cfg, work)
                data["tools"].update(tools)
                print(f"  {cfg.name} synthesized in {row['synth']['seconds']:.0f} s", flush=True)
            data["rows"].append(row)
            data["run_seconds"] = time.monotonic() - started
            if json_out is not None:
                write_file(json_out, json.dumps(data, indent=2) + "\n")
    return data

if __name__ == "__main__":
    raise SystemExit(main())
