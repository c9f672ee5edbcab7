"""Typed synthesis reports and the parsers that build them from tool output.

Sources: Yosys ``stat -json`` (cell counts, Liberty area), nextpnr-ecp5 ``--report`` JSON (Fmax,
utilisation), Yosys ``ltp`` text (logic depth; ``ltp`` has no JSON) and OpenSTA ``report_checks``
text (OpenSTA has no JSON). Every parser raises :class:`~qtpe.synth.tools.SynthError` when the
data it needs is missing; none returns ``None``.

Scope of the numbers (stated again in every Markdown table):

* *design*: the bare top module, synthesised on its own, without the timing wrapper;
* *registered I/O*: the ``<top>_regio`` wrapper (see :mod:`qtpe.synth.wrapper`), i.e. the design
  plus one flip-flop per input bit (clock excluded) and per output bit. All Fmax figures are of
  this kind, and so are the ``wrapped_*`` fields.
"""

from __future__ import annotations

import enum
import json
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, ClassVar

from .tools import SynthError

__all__ = [
    "Target",
    "CellCounts",
    "GenericReport",
    "Ecp5Report",
    "AsicReport",
    "SynthReport",
    "YosysStat",
    "StaPath",
    "SCHEMA",
    "is_generic_ff",
    "parse_yosys_stat",
    "parse_ltp_depth",
    "parse_nextpnr_report",
    "parse_sta_worst_path",
]

#: Identifies the JSON layout written by :meth:`SynthReport.to_json`.
SCHEMA = "qtpe.synth.report/1"

#: A cell-type histogram: ``(type, count)`` pairs sorted by type (immutable, hashable).
CellCounts = tuple[tuple[str, int], ...]


class Target(enum.Enum):
    """Synthesis targets of :func:`qtpe.synth.synthesize`."""

    GENERIC = "generic"
    ECP5 = "ecp5"
    ASIC = "asic"

    @classmethod
    def parse(cls, value: object) -> Target:
        """The target that is ``value`` or is named by it; else ValueError."""
        if isinstance(value, Target) or any(m.value == value for m in cls):
            return cls(value)
        allowed = ", ".join(repr(m.value) for m in cls)
        raise ValueError(f"synthesis target must be one of {allowed}, not {value!r}")


def _cell_counts(mapping: Mapping[str, int]) -> CellCounts:
    return tuple(sorted((str(k), int(v)) for k, v in mapping.items()))


_GENERIC_FF_RE = re.compile(r"^\$_(FF|DFF|DFFE|SDFF|SDFFE|SDFFCE|DFFSR|DFFSRE|ALDFF|ALDFFE)_")


def is_generic_ff(cell_type: str) -> bool:
    """Whether ``cell_type`` is one of Yosys's internal single-bit flip-flop cells."""
    return _GENERIC_FF_RE.match(cell_type) is not None


# --------------------------------------------------------------------------------------------
# Parsers


@dataclass(frozen=True)
class YosysStat:
    """One module's entry in Yosys ``stat -json`` (``area`` only with ``-liberty``)."""

    cell_count: int
    cells_by_type: CellCounts
    area: float | None
    sequential_area: float | None


def parse_yosys_stat(path: Path, module: str, *, liberty: bool = False) -> YosysStat:
    """Read module ``module`` from the ``stat -json`` output in ``path``.

    With ``liberty=True`` the ``area`` and ``sequential_area`` keys are required.
    """
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise SynthError(f"cannot read Yosys stat JSON {path}: {exc}") from exc
    entry = data.get("modules", {}).get("\\" + module)
    if entry is None:
        known = sorted(data.get("modules", {}))
        raise SynthError(f"Yosys stat JSON {path} has no module {module!r} (has {known})")
    try:
        cell_count = int(entry["num_cells"])
        by_type = _cell_counts(entry["num_cells_by_type"])
        area = float(entry["area"]) if liberty else None
        sequential = float(entry["sequential_area"]) if liberty else None
    except (KeyError, TypeError, ValueError) as exc:
        raise SynthError(f"Yosys stat JSON {path}, module {module!r}: missing {exc}") from exc
    if sum(n for _, n in by_type) != cell_count:
        raise SynthError(f"Yosys stat JSON {path}: cell types do not add up to num_cells")
    return YosysStat(cell_count, by_type, area, sequential)


_LTP_RE = re.compile(r"Longest topological path in \S+ \(length=(\d+)\)")


def parse_ltp_depth(log: str) -> int:
    """Path length (in cells) from Yosys ``ltp`` output; raises if there is none or several."""
    found = _LTP_RE.findall(log)
    if len(found) != 1:
        raise SynthError(f"expected one 'Longest topological path' line from ltp, found {found}")
    return int(found[0])


def parse_nextpnr_report(path: Path, clock: str) -> tuple[float, float, dict[str, int]]:
    """``(achieved Fmax MHz, constraint MHz, {bel type: used})`` from nextpnr's ``--report``.

    The clock is looked up by name; a single entry whose name ends with ``clock`` (nextpnr may
    decorate promoted clock nets) is accepted too.
    """
    try:
        data = json.loads(Path(path).read_text())
        fmax = data["fmax"]
        utilisation = {str(k): int(v["used"]) for k, v in data["utilization"].items()}
    except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise SynthError(f"nextpnr report {path} lacks fmax/utilization: {exc!r}") from exc
    entry = fmax.get(clock)
    if entry is None:
        candidates = [k for k in fmax if k.endswith(clock)]
        if len(candidates) != 1:
            raise SynthError(f"nextpnr report {path} has no Fmax for clock {clock!r}: {list(fmax)}")
        entry = fmax[candidates[0]]
    try:
        return float(entry["achieved"]), float(entry["constraint"]), utilisation
    except (KeyError, TypeError, ValueError) as exc:
        raise SynthError(f"nextpnr report {path}: Fmax entry malformed: {entry!r}") from exc


@dataclass(frozen=True)
class StaPath:
    """One path of an OpenSTA ``report_checks -path_delay max -format full`` report (ns)."""

    group: str
    startpoint: str
    endpoint: str
    arrival_ns: float
    required_ns: float
    slack_ns: float
    stages: tuple[PathStage, ...] = ()


@dataclass(frozen=True)
class PathStage:
    """One line of a timing path: the pin (``instance/pin``), its cell, the load on the net
    it drives (pF; 0 on input pins), the slew (ns), the stage's delay and the arrival time at
    the pin (ns), and the edge (``"^"`` rise, ``"v"`` fall)."""

    pin: str
    cell: str
    edge: str
    cap_pf: float
    slew_ns: float
    delay_ns: float
    time_ns: float

    def to_list(self) -> list:
        return [self.pin, self.cell, self.edge, self.cap_pf, self.slew_ns, self.delay_ns,
                self.time_ns]


# ``report_checks -fields {capacitance slew}`` data lines: [cap] slew delay time edge pin (cell)
_STAGE_RE = re.compile(
    r"^\s+(?:(-?\d+\.\d+)\s+)?(-?\d+\.\d+)\s+(-?\d+\.\d+)\s+(-?\d+\.\d+)\s+([\^v])\s+"
    r"(\S+)\s+\((\S+)\)\s*$", re.MULTILINE)


def _parse_stages(block: str) -> tuple[PathStage, ...]:
    """The data-arrival half of a path (up to ``data arrival time``)."""
    arrival = block.split("data arrival time", 1)[0]
    return tuple(PathStage(pin, cell, edge, float(cap or 0.0), float(slew), float(delay),
                           float(time))
                 for cap, slew, delay, time, edge, pin, cell in _STAGE_RE.findall(arrival))


_NUMBER = r"(-?\d+(?:\.\d+)?)"


def _parse_sta_path(block: str) -> StaPath:
    def one(pattern: str, what: str) -> str:
        found = re.findall(pattern, block, re.MULTILINE)
        if len(found) != 1:
            raise SynthError(f"OpenSTA report: expected one {what} per path, found {found}")
        return found[0]

    def time(what: str) -> float:
        # The path's summary repeats the arrival (negated) and required times: all must agree.
        found = re.findall(rf"^\s+{_NUMBER}\s+{what}\s*$", block, re.MULTILINE)
        if len({abs(float(v)) for v in found}) != 1:
            raise SynthError(f"OpenSTA report: no single {what!r} in a path: {found}")
        return float(found[0])

    arrival = time("data arrival time")
    required = time("data required time")
    slack = float(one(rf"^\s+{_NUMBER}\s+slack \((?:MET|VIOLATED)\)", "slack"))
    if abs((required - arrival) - slack) > 1e-3:
        raise SynthError(
            f"OpenSTA report inconsistent: required {required} - arrival {arrival} != {slack}"
        )
    return StaPath(
        group=one(r"^Path Group: (\S+)", "Path Group"),
        startpoint=one(r"^Startpoint: (\S+)", "Startpoint"),
        endpoint=one(r"^Endpoint: (\S+)", "Endpoint"),
        arrival_ns=arrival,
        required_ns=required,
        slack_ns=slack,
        stages=_parse_stages(block),
    )


def parse_sta_worst_path(log: str) -> StaPath:
    """The least-slack path of ``report_checks -path_delay max -format full``.

    OpenSTA reports the worst path of each path group (the clock's setup checks and, with
    asynchronous resets, ``**async_default**`` recovery checks); the worst of them is returned.
    Raises :class:`SynthError` when there is no path or a path lacks a field.
    """
    blocks = re.split(r"^(?=Startpoint: )", log, flags=re.MULTILINE)[1:]
    if not blocks:
        raise SynthError("OpenSTA found no constrained register-to-register path")
    paths = [_parse_sta_path(block) for block in blocks]
    return min(paths, key=lambda p: p.slack_ns)


# --------------------------------------------------------------------------------------------
# Per-target reports


def _fmt_int(n: int) -> str:
    return f"{n:,}".replace(",", " ")


def _fmt_area(um2: float) -> str:
    return f"{um2:,.1f} um^2".replace(",", " ")


class _Result:
    """Shared JSON / Markdown plumbing of the per-target reports."""

    target: ClassVar[Target]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if f.name.endswith("cells_by_type"):
                value = dict(value)
            elif f.name == "critical_path":
                value = [stage.to_list() for stage in value]
            out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Any:
        names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
        missing = [n for n in names if n not in data]
        if missing:
            raise ValueError(f"{cls.__name__} data lacks {missing}")
        values = {
            n: _cell_counts(data[n]) if n.endswith("cells_by_type") else data[n] for n in names
        }
        if "critical_path" in values:
            values["critical_path"] = tuple(PathStage(*stage) for stage in values["critical_path"])
        return cls(**values)

    def rows(self) -> list[tuple[str, str, str]]:
        """``(metric, value, scope)`` rows of the Markdown table."""
        raise NotImplementedError

    def notes(self) -> list[str]:
        """Markdown lines after the table (method, paths)."""
        return []


@dataclass(frozen=True)
class GenericReport(_Result):
    """Yosys ``synth -flatten`` to its generic gate library (design alone, no wrapper).

    Attributes:
        cell_count: all cells after synthesis.
        cells_by_type: the histogram behind ``cell_count``.
        ff_count: flip-flop cells (``$_DFF*``, ``$_SDFF*``, ``$_FF_``...; one per bit).
        logic_depth: ``ltp -noff``: cells on the longest combinational path between flip-flops
            and/or ports.
    """

    target: ClassVar[Target] = Target.GENERIC
    cell_count: int
    cells_by_type: CellCounts
    ff_count: int
    logic_depth: int

    def rows(self) -> list[tuple[str, str, str]]:
        return [
            ("cells (generic gates)", _fmt_int(self.cell_count), "design"),
            ("flip-flops", _fmt_int(self.ff_count), "design"),
            ("logic depth (ltp -noff, cells)", str(self.logic_depth), "design"),
        ]


@dataclass(frozen=True)
class Ecp5Report(_Result):
    """Lattice ECP5: Yosys ``synth_ecp5`` + nextpnr-ecp5 (out of context).

    Attributes:
        device: nextpnr device option (``25k`` is an LFE5U-25F) and package.
        lut4_count, ff_count, carry_count, dsp_count: ``LUT4``, ``TRELLIS_FF``, ``CCU2C`` and
            ``MULT18X18D`` + ``ALU54B`` cells of the design alone (Yosys ``stat -json``).
        cells_by_type: the design's full cell histogram.
        clock: the clock port.
        fmax_mhz: nextpnr's achieved Fmax of the registered-I/O wrapper after place and route
            (rounded to 1 kHz).
        target_mhz: the ``--freq`` constraint nextpnr placed and routed for.
        seed: nextpnr placer seed (fixed, for repeatable numbers).
        io_register_bits: flip-flops the wrapper adds around the design.
        wrapped_comb_used, wrapped_ff_used: nextpnr ``TRELLIS_COMB`` / ``TRELLIS_FF`` utilisation
            of the wrapper (includes the I/O registers; one ``CCU2C`` uses two ``TRELLIS_COMB``).
    """

    target: ClassVar[Target] = Target.ECP5
    device: str
    lut4_count: int
    ff_count: int
    carry_count: int
    dsp_count: int
    cells_by_type: CellCounts
    clock: str
    fmax_mhz: float
    target_mhz: float
    seed: int
    io_register_bits: int
    wrapped_comb_used: int
    wrapped_ff_used: int

    def rows(self) -> list[tuple[str, str, str]]:
        return [
            ("LUT4", _fmt_int(self.lut4_count), "design"),
            ("flip-flops (TRELLIS_FF)", _fmt_int(self.ff_count), "design"),
            ("carry (CCU2C)", _fmt_int(self.carry_count), "design"),
            ("DSP (MULT18X18D + ALU54B)", _fmt_int(self.dsp_count), "design"),
            ("Fmax (nextpnr)", f"{self.fmax_mhz:.1f} MHz", "registered I/O"),
            ("placed for", f"{self.target_mhz:.1f} MHz, seed {self.seed}", "registered I/O"),
            ("TRELLIS_COMB used", _fmt_int(self.wrapped_comb_used), "registered I/O"),
            ("TRELLIS_FF used", _fmt_int(self.wrapped_ff_used), "registered I/O"),
            ("I/O register bits", _fmt_int(self.io_register_bits), "wrapper only"),
            ("part", f"LFE5U-{self.device.upper()}", "registered I/O"),
        ]


@dataclass(frozen=True)
class AsicReport(_Result):
    """OSU 0.18 um standard cells: Yosys ``dfflibmap``/``abc -D -liberty``, fanout buffers,
    OpenSTA.

    Attributes:
        liberty: Liberty library name.
        area_um2: cell area of the design alone (``stat -liberty -json``), um^2.
        sequential_area_um2: the flip-flops' share of ``area_um2``.
        cell_count, cells_by_type, ff_count: the design alone (``ff_count`` counts Yosys's
            flip-flops before ``dfflibmap``, which maps each to one library flip-flop).
        clock: the clock port.
        wrapped_area_um2, wrapped_ff_count: the same for the registered-I/O wrapper.
        io_register_bits: flip-flops the wrapper adds around the design.
        clock_period_ns: the period constraint given to OpenSTA (it does not affect delays).
        worst_slack_ns: OpenSTA's worst setup slack at that period.
        worst_arrival_ns: data arrival time of the worst path (clock-to-Q plus logic).
        worst_path_ns: ``clock_period_ns - worst_slack_ns``: the smallest period the worst
            register-to-register path (wrapper included) meets, i.e. arrival plus setup time.
        fmax_mhz: ``1000 / worst_path_ns``.
        worst_group: OpenSTA path group of the worst path (the clock's name for setup checks,
            ``**async_default**`` for recovery checks of asynchronous resets).
        worst_startpoint, worst_endpoint: the worst path's end instances in the netlist.
        critical_path: the worst path stage by stage (:class:`PathStage`), launch clock pin
            first, capture data pin last.
        max_fanout: the fanout limit of the buffering step (no net but the clock drives more
            loads); fanout_buffers: buffers it added to the design alone.
        input_driver, output_load_pf: the cell assumed to drive every input port and the
            load (pF) on every output port.

    Method (what is modelled): ABC maps with the delay target ``clock_period_ns`` (``abc -D``:
    its script buffers and resizes gates inside the logic), then every net with more loads
    than ``max_fanout`` (flip-flop outputs, ports, resets included) gets a buffer tree
    (:mod:`qtpe.synth.buffers`); OpenSTA times the result with the clock, zero input/output
    delays against it, ``input_driver`` on the inputs and ``output_load_pf`` on the outputs.
    Not modelled: placement and wires (no wire-load model or parasitics: pin loads only), the
    clock tree (ideal clock), other corners (typical, 1.8 V, 25 C).
    """

    target: ClassVar[Target] = Target.ASIC
    liberty: str
    area_um2: float
    sequential_area_um2: float
    cell_count: int
    cells_by_type: CellCounts
    ff_count: int
    clock: str
    wrapped_area_um2: float
    wrapped_ff_count: int
    io_register_bits: int
    clock_period_ns: float
    worst_slack_ns: float
    worst_arrival_ns: float
    worst_path_ns: float
    fmax_mhz: float
    worst_group: str
    worst_startpoint: str
    worst_endpoint: str
    critical_path: tuple[PathStage, ...]
    max_fanout: int
    fanout_buffers: int
    input_driver: str
    output_load_pf: float

    def __post_init__(self) -> None:
        if self.worst_path_ns <= 0:
            raise ValueError(f"worst_path_ns must be positive, not {self.worst_path_ns}")

    def rows(self) -> list[tuple[str, str, str]]:
        return [
            ("cell area", _fmt_area(self.area_um2), "design"),
            ("sequential area", _fmt_area(self.sequential_area_um2), "design"),
            ("cells", _fmt_int(self.cell_count), "design"),
            ("flip-flops", _fmt_int(self.ff_count), "design"),
            ("Fmax (OpenSTA)", f"{self.fmax_mhz:.1f} MHz", "registered I/O"),
            ("worst path (period - slack)", f"{self.worst_path_ns:.3f} ns", "registered I/O"),
            (
                "worst path ends",
                f"{self.worst_startpoint} -> {self.worst_endpoint}",
                "registered I/O",
            ),
            ("cell area", _fmt_area(self.wrapped_area_um2), "registered I/O"),
            ("flip-flops", _fmt_int(self.wrapped_ff_count), "registered I/O"),
            ("I/O register bits", _fmt_int(self.io_register_bits), "wrapper only"),
            ("fanout buffers (limit)", f"{self.fanout_buffers} ({self.max_fanout})", "design"),
        ]

    def notes(self) -> list[str]:
        lines = [
            f"Method: ABC mapping with delay target {self.clock_period_ns:g} ns (buffering and "
            f"gate sizing inside the logic), buffer trees on every net with more than "
            f"{self.max_fanout} loads, OpenSTA with an ideal clock of {self.clock_period_ns:g} "
            f"ns, zero input/output delays, {self.input_driver} driving the inputs and "
            f"{self.output_load_pf:g} pF on the outputs; typical corner. Not modelled: "
            "placement, wires (pin loads only), the clock tree.",
            "",
            f"Critical path ({self.worst_startpoint} -> {self.worst_endpoint}, registered I/O):",
            "",
            "| pin | cell | edge | load pF | slew ns | delay ns | time ns |",
            "| --- | --- | :---: | ---: | ---: | ---: | ---: |",
        ]
        lines += [f"| `{st.pin}` | {st.cell} | {st.edge} | {st.cap_pf:.3f} | {st.slew_ns:.3f} | "
                  f"{st.delay_ns:.3f} | {st.time_ns:.3f} |" for st in self.critical_path]
        return lines


_RESULT_TYPES: dict[Target, type[GenericReport] | type[Ecp5Report] | type[AsicReport]] = {
    Target.GENERIC: GenericReport,
    Target.ECP5: Ecp5Report,
    Target.ASIC: AsicReport,
}

_TARGET_TITLES = {
    Target.GENERIC: "Yosys generic gates",
    Target.ECP5: "Lattice ECP5 (nextpnr-ecp5)",
    Target.ASIC: "OSU 0.18 um standard cells (OpenSTA)",
}


@dataclass(frozen=True)
class SynthReport:
    """The outcome of :func:`qtpe.synth.synthesize` for one design and one target.

    Attributes:
        top: the design's top module.
        target: the synthesis target.
        tool_versions: ``(tool, version)`` pairs of every tool the flow ran, sorted by tool.
        result: the target's typed report (its type matches ``target``).
    """

    top: str
    target: Target
    tool_versions: tuple[tuple[str, str], ...]
    result: GenericReport | Ecp5Report | AsicReport

    def __post_init__(self) -> None:
        object.__setattr__(self, "target", Target.parse(self.target))
        object.__setattr__(self, "tool_versions", tuple(sorted(self.tool_versions)))
        expected = _RESULT_TYPES[self.target]
        if not isinstance(self.result, expected):
            raise ValueError(
                f"a {self.target.value!r} report needs a {expected.__name__}, "
                f"not {type(self.result).__name__}"
            )

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "top": self.top,
            "target": self.target.value,
            "tool_versions": dict(self.tool_versions),
            "result": self.result.to_dict(),
        }

    def to_json(self) -> str:
        """Indented JSON with a fixed key order (field order; histograms sorted by type)."""
        return json.dumps(self.to_dict(), indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> SynthReport:
        """Inverse of :meth:`to_json`; raises :class:`ValueError` on another schema."""
        data = json.loads(text)
        if data.get("schema") != SCHEMA:
            raise ValueError(f"not a {SCHEMA} report: schema {data.get('schema')!r}")
        target = Target.parse(data["target"])
        return cls(
            top=data["top"],
            target=target,
            tool_versions=tuple(sorted(data["tool_versions"].items())),
            result=_RESULT_TYPES[target].from_dict(data["result"]),
        )

    def to_markdown(self) -> str:
        """A small Markdown table; the scope column says which numbers include I/O registers."""
        lines = [
            f"### `{self.top}` on {_TARGET_TITLES[self.target]}",
            "",
            "| metric | value | scope |",
            "| --- | ---: | --- |",
        ]
        lines += [f"| {m} | {v} | {s} |" for m, v, s in self.result.rows()]
        if self.target is Target.GENERIC:
            scope = "Scope: *design* is the top module synthesised alone (no timing here)."
        else:
            scope = (
                "Scope: *design* is the top module synthesised alone; *registered I/O* is the "
                f"`{self.top}_regio` wrapper, which adds a flip-flop on every input bit (clock "
                "excluded) and every output bit."
            )
        notes = self.result.notes()
        lines += ["", *notes] if notes else []
        lines += [
            "",
            scope,
            "",
            "Tools: " + "; ".join(f"{tool}: {version}" for tool, version in self.tool_versions),
            "",
        ]
        return "\n".join(lines)

    def write(self, outdir: Path) -> tuple[Path, Path]:
        """Write ``<top>.<target>.json`` and ``<top>.<target>.md`` into ``outdir``.

        Both texts are rendered first, written to temporary files in ``outdir`` and then renamed
        into place, so a failure never leaves a half-written report. Returns ``(json, md)``.
        """
        outdir = Path(outdir)
        outdir.mkdir(parents=True, exist_ok=True)
        stem = f"{self.top}.{self.target.value}"
        texts = [
            (outdir / f"{stem}.json", self.to_json()),
            (outdir / f"{stem}.md", self.to_markdown()),
        ]
        temps: list[Path] = []
        try:
            for final, text in texts:
                fd, name = tempfile.mkstemp(dir=outdir, prefix=f".{final.name}.", suffix=".tmp")
                temps.append(Path(name))
                with os.fdopen(fd, "w") as handle:
                    handle.write(text)
                os.chmod(name, 0o644)
            for (final, _), temp in zip(texts, temps, strict=True):
                os.replace(temp, final)
        finally:
            for temp in temps:
                temp.unlink(missing_ok=True)
        return texts[0][0], texts[1][0]
