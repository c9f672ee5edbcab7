"""Yosys ``mutate``: mutation lists, mutants, and equivalence checks of a mutant against the
original.

* ``prepare(verilog, top, workdir)``: ``read_verilog`` + ``prep -top`` of the emitted design,
  kept as ``design.il`` (every mutant is made from it) and ``design.json`` (the ``src``
  attributes that locate a mutation in the emitted Verilog).
* ``list_mutations(workdir, count, seed)``: ``mutate -list N -seed S``, parsed into
  ``Mutation`` records (``parse_mutations`` reads the text).
* ``write_mutant(workdir, mutation, out)``: the design with one mutation applied, written by
  ``write_verilog -noattr`` (``Mutation.NONE`` writes the unmutated round trip).
* ``check_equivalence(workdir, mutation, top, depth)``: the original against the mutant, both
  flattened: ``equiv_make`` + ``equiv_simple`` + ``equiv_induct`` (a full proof when every
  ``$equiv`` cell is proved), else ``miter -equiv -flatten -make_assert`` and ``sat
  -tempinduct -prove-asserts -set-init-zero -maxsteps K``. Every register of an
  emitted design has an ``init`` value (Amaranth's reset value), so both start from the reset
  state, every input, reset included, free. The verdict is ``proved`` or ``induction``
  (equivalent at every cycle), ``bounded`` (no difference in the first K cycles, not proved
  beyond) or ``differs`` (a counterexample, with its length).

Amaranth runs with ``emit_src=False``, so the design carries no Python source locations;
``read_verilog`` gives every cell and wire a ``src`` of its own in the emitted ``.v``
(``<top>.v:LINE.COL-LINE.COL``), which ``locate`` turns into a ``Location``: the line of the
cell's statement and its text, and the wire (a named signal) with its declaration line.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from .tools import SynthError, run_yosys

__all__ = ["Mutation", "Location", "Equivalence", "MODES", "parse_mutations", "prepare",
           "parse_sat_log", "parse_equiv_status",
           "list_mutations", "write_mutant", "locate", "check_equivalence", "DESIGN"]

#: The modes ``mutate -list`` draws from: invert a bit, tie it to 0 or 1, or XOR (``cnot1``)
#: or XNOR (``cnot0``) it with another bit of the same port.
MODES = ("inv", "const0", "const1", "cnot0", "cnot1", "none")
#: Files ``prepare`` leaves in the work directory.
DESIGN = "design.il"
DESIGN_JSON = "design.json"

_FIELDS = {"-mode": "mode", "-module": "module", "-cell": "cell", "-port": "port",
           "-portbit": "portbit", "-ctrlbit": "ctrlbit", "-wire": "wire", "-wirebit": "wirebit"}
_INTS = ("portbit", "ctrlbit", "wirebit")
_SRC_RE = re.compile(r"^(?P<file>.+?):(?P<line>\d+)\.(?P<col>\d+)(?:-(?P<end>\d+)\.\d+)?$")


@dataclass(frozen=True)
class Mutation:
    """One line of ``mutate -list``: ``mode`` on bit ``portbit`` of ``port`` of ``cell`` in
    ``module`` (``ctrlbit``: the other bit of the port for ``cnot0``/``cnot1``); ``wire`` and
    ``wirebit`` name the signal on that bit when it has a name, ``src`` the ``src`` tags."""

    mode: str
    module: str = ""
    cell: str = ""
    port: str = ""
    portbit: int = -1
    ctrlbit: int = -1
    wire: str = ""
    wirebit: int = -1
    src: tuple[str, ...] = ()

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"mutation mode {self.mode!r} is not one of {', '.join(MODES)}")
        if self.mode != "none" and not (self.module and self.cell and self.port
                                        and self.portbit >= 0):
            raise ValueError(f"mutation {self.command()!r} lacks a module, cell, port or "
                             f"port bit")
        if self.mode in ("cnot0", "cnot1") and self.ctrlbit < 0:
            raise ValueError(f"mutation {self.command()!r} ({self.mode}) lacks -ctrlbit")

    def command(self) -> str:
        """The Yosys command applying the mutation (as ``mutate -list`` wrote it)."""
        parts = ["mutate", "-mode", self.mode]
        for flag, name in _FIELDS.items():
            if name == "mode":
                continue
            value = getattr(self, name)
            if (value >= 0) if name in _INTS else value:
                parts += [flag, str(value)]
        for s in self.src:
            parts += ["-src", s]
        return " ".join(parts)

    def describe(self) -> str:
        """Short text: what is done to which bit."""
        what = {"inv": "inverted", "const0": "tied to 0", "const1": "tied to 1",
                "cnot0": f"XNOR bit {self.ctrlbit}", "cnot1": f"XOR bit {self.ctrlbit}",
                "none": "unmutated"}[self.mode]
        if self.mode == "none":
            return what
        return f"{self.cell}.{self.port}[{self.portbit}] {what}"

    def to_dict(self) -> dict:
        d = asdict(self)
        d["src"] = list(self.src)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Mutation:
        return cls(**{**d, "src": tuple(d.get("src", ()))})


Mutation.NONE = Mutation("none")  # type: ignore[attr-defined]


def parse_mutations(text: str) -> tuple[Mutation, ...]:
    """The ``mutate ...`` lines of ``text`` (``mutate -list`` output) as records; a line that
    is not a well-formed mutation raises ``SynthError`` quoting it."""
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            words = shlex.split(line, posix=False)
        except ValueError:
            words = line.split()
        try:
            out.append(_parse_line(words))
        except ValueError as exc:
            raise SynthError(f"mutation list line {number} {line[:120]!r}: {exc}") from None
    return tuple(out)


def _parse_line(words: list[str]) -> Mutation:
    if not words or words[0] != "mutate":
        raise ValueError("does not start with 'mutate'")
    fields: dict = {}
    src: list[str] = []
    i = 1
    while i < len(words):
        flag = words[i]
        if i + 1 >= len(words):
            raise ValueError(f"{flag} has no value")
        value = words[i + 1]
        if flag == "-src":
            src.append(value)
        elif flag in _FIELDS:
            name = _FIELDS[flag]
            if name in fields:
                raise ValueError(f"{flag} given twice")
            if name in _INTS:
                if not value.isdigit():
                    raise ValueError(f"{flag} {value!r} is not a bit index")
                value = int(value)
            fields[name] = value
        else:
            raise ValueError(f"unknown option {flag!r}")
        i += 2
    if "mode" not in fields:
        raise ValueError("no -mode")
    return Mutation(**fields, src=tuple(src))


def prepare(verilog: Path, top: str, workdir: Path) -> Path:
    """Copy ``verilog`` into ``workdir`` as ``<top>.v`` (so ``src`` tags name that file),
    run ``prep -top`` and keep ``design.il`` and ``design.json``; return the work folder."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    local = workdir / f"{top}.v"
    if not (local.exists() and local.samefile(verilog)):
        shutil.copyfile(verilog, local)
    run_yosys(f"read_verilog {local.name}\nprep -top {top}\nwrite_rtlil {DESIGN}\n"
              f"write_json {DESIGN_JSON}\n", workdir, name="prepare")
    return workdir


def list_mutations(workdir: Path, count: int, seed: int, **filters) -> tuple[Mutation, ...]:
    """``mutate -list count -seed seed`` of the prepared design (``prepare``); ``filters``
    (``mode="inv"``, ``wire="acc"`` ...: ``mutate``'s own ``-mode``, ``-module``, ``-cell``,
    ``-port``, ``-portbit``, ``-ctrlbit``, ``-wire``, ``-wirebit`` options) keep only the
    candidates matching them."""
    flags = {name: flag for flag, name in _FIELDS.items()}
    extra = ""
    for name, value in filters.items():
        if name not in flags:
            raise ValueError(f"unknown mutate filter {name!r}; allowed: {', '.join(flags)}")
        extra += f" {flags[name]} {value}"
    out = Path(workdir) / "mutations.txt"
    out.unlink(missing_ok=True)
    run_yosys(f"read_rtlil {DESIGN}\nmutate -list {count} -seed {seed}{extra} -o {out.name}\n",
              workdir, name="mutate_list")
    if not out.exists():
        raise SynthError(f"yosys mutate -list wrote no {out}")
    return parse_mutations(out.read_text())


def write_mutant(workdir: Path, mutation: Mutation, out: Path, *, name: str = "mutant") -> Path:
    """The prepared design with ``mutation`` applied, as Verilog at ``out`` (a path inside
    ``workdir``; ``Mutation.NONE``: the design as Yosys writes it back, unmutated)."""
    workdir = Path(workdir)
    rel = Path(out).resolve().relative_to(workdir.resolve())
    apply = "" if mutation.mode == "none" else f"{mutation.command()}\n"
    run_yosys(f"read_rtlil {DESIGN}\n{apply}write_verilog -noattr {rel}\n",
              workdir, name=name)
    return Path(out)


@dataclass(frozen=True)
class Location:
    """Where a mutation sits in the emitted Verilog: ``file:line`` of the cell's statement and
    that line's text; the wire on the mutated bit (a named signal, or ``""``) and the line
    that declares it (0 when unknown)."""

    file: str
    line: int
    text: str
    wire: str = ""
    wire_line: int = 0

    def __str__(self) -> str:
        wire = ""
        if self.wire:
            decl = f", declared at line {self.wire_line}" if self.wire_line else ""
            wire = f" (wire {self.wire}{decl})"
        return f"{self.file}:{self.line}{wire}"


def _src_lines(src: str) -> list[tuple[str, int]]:
    out = []
    for part in str(src).split("|"):
        m = _SRC_RE.match(part.strip())
        if m:
            out.append((m.group("file"), int(m.group("line"))))
    return out


def locate(workdir: Path, mutation: Mutation, verilog_lines: list[str] | None = None
           ) -> Location:
    """The ``Location`` of ``mutation`` from the prepared design's ``src`` attributes (the
    cell's own, else the first of the mutation's tags) and the emitted Verilog's lines."""
    workdir = Path(workdir)
    design = _design_json(workdir)
    module = design.get("modules", {}).get(mutation.module, {})
    cell = module.get("cells", {}).get(mutation.cell, {})
    where = _src_lines(cell.get("attributes", {}).get("src", ""))
    if not where:
        where = [loc for s in mutation.src for loc in _src_lines(s)]
    if not where:
        raise SynthError(f"no source location for {mutation.command()!r} in {DESIGN_JSON}")
    file, line = where[0]
    if verilog_lines is None:
        verilog_lines = (workdir / file).read_text().splitlines()
    text = verilog_lines[line - 1].strip() if 0 < line <= len(verilog_lines) else ""
    wire_line = 0
    if mutation.wire:
        net = module.get("netnames", {}).get(mutation.wire, {})
        decl = _src_lines(net.get("attributes", {}).get("src", ""))
        wire_line = decl[0][1] if decl else 0
    return Location(file, line, text[:100], _wire_name(mutation.wire), wire_line)


def _wire_name(wire: str) -> str:
    return wire[1:] if wire.startswith("\\") else wire


_DESIGN_CACHE: dict[Path, tuple[float, dict]] = {}


def _design_json(workdir: Path) -> dict:
    path = (Path(workdir) / DESIGN_JSON).resolve()
    stamp = path.stat().st_mtime
    cached = _DESIGN_CACHE.get(path)
    if cached is None or cached[0] != stamp:
        cached = (stamp, json.loads(path.read_text()))
        _DESIGN_CACHE[path] = cached
    return cached[1]


@dataclass(frozen=True)
class Equivalence:
    """The verdict of ``check_equivalence``: ``induction`` (temporal induction on the miter
    closed at length ``depth``: equal at every cycle), ``proved`` (every ``$equiv`` cell of
    ``equiv_make`` proved by ``equiv_simple``/``equiv_induct`` and the first cycles from reset
    by SAT: the mutant equals the original at every cycle; ``depth`` is the number of
    ``$equiv`` cells), ``bounded`` (equal for
    ``depth`` cycles from reset, not proved beyond), ``differs`` (a counterexample ``depth``
    cycles long), or ``timeout`` (the SAT solver ran out of time at ``depth`` cycles)."""

    verdict: str
    depth: int

    def __str__(self) -> str:
        return {"proved": f"equivalent (proved: all {self.depth} $equiv cells by "
                          f"equiv_simple + equiv_induct, the first {_BASE} cycles by SAT)",
                "induction": "equivalent (proved: temporal induction on the miter, "
                             f"length {self.depth})",
                "bounded": f"equivalent for {self.depth} cycles from reset (bounded proof)",
                "differs": f"differs from the original (counterexample, {self.depth} cycles)",
                "timeout": f"undecided (SAT timeout after {self.depth} cycles)"}[self.verdict]

    @property
    def equivalent(self) -> bool:
        return self.verdict in ("proved", "induction", "bounded")

    def to_dict(self) -> dict:
        return asdict(self)


#: Cycles from reset that a proof by ``equiv_induct -seq 2`` is checked for on the miter.
_BASE = 3
_LEN_RE = re.compile(r"\[base case (\d+)\] Solving")
_EQUIV_RE = re.compile(r"Of those cells (\d+) are proven and (\d+) are unproven")


def parse_sat_log(log: str, depth: int) -> Equivalence:
    """The verdict of a ``sat -tempinduct[-baseonly] -maxsteps depth`` run from its log."""
    lengths = [int(n) for n in _LEN_RE.findall(log)]
    reached = lengths[-1] if lengths else 0
    if "model found for base case: FAIL" in log:
        return Equivalence("differs", reached)
    if "Induction step proven: SUCCESS" in log:
        return Equivalence("induction", reached)
    if ("proved base case for" in log and "SUCCESS" in log) or \
            "Reached maximum number of time steps -> proof failed" in log:
        return Equivalence("bounded", depth)
    if "TIMEOUT" in log.upper():  # the lengths before the one that timed out are proved
        return Equivalence("bounded", reached - 1) if reached > 1 else \
            Equivalence("timeout", 0)
    raise SynthError("yosys sat gave no verdict (neither a counterexample nor the step "
                     "bound) in its log:\n" + "\n".join(log.splitlines()[-15:]))


def parse_equiv_status(log: str) -> tuple[int, int]:
    """``(proven, unproven)`` ``$equiv`` cells from ``equiv_status``'s log."""
    m = _EQUIV_RE.search(log)
    if m is None:
        if "Found 0 $equiv cells" in log:
            return 0, 0
        raise SynthError("yosys equiv_status printed no count:\n"
                         + "\n".join(log.splitlines()[-15:]))
    return int(m.group(1)), int(m.group(2))


def _gold_gate(top: str, mutation: Mutation) -> list[str]:
    """Script lines: the original as ``gold``, the mutant as ``gate``, each flattened and
    cleaned (logic that drives nothing removed), both in the design."""
    lines = []
    for name, apply in (("gold", ""), ("gate", mutation.command())):
        lines += [f"read_rtlil {DESIGN}", *([apply] if apply else []), f"hierarchy -top {top}",
                  "flatten", f"hierarchy -top {top}", "opt_clean -purge",
                  f"rename {top} {name}", f"design -stash {name}"]
    return lines + ["design -copy-from gold -as gold gold",
                    "design -copy-from gate -as gate gate"]


def check_equivalence(workdir: Path, mutation: Mutation, top: str, depth: int, *,
                      timeout_s: int = 60, name: str = "equiv") -> Equivalence:
    """The mutant (``gate``) against the prepared design (``gold``), both flattened.

    First ``equiv_make`` (a ``$equiv`` cell on every signal the two share by name, the gate
    reading the gold side there), ``equiv_simple -seq 2`` and ``equiv_induct -seq 2``: when
    every ``$equiv`` is proved the two never diverge once they agree for 2 cycles, and the
    miter below checks the first 3 cycles from reset: then they are equal at every cycle.
    Otherwise a miter (``miter -equiv -flatten -make_assert``) and ``sat -tempinduct
    -maxsteps depth`` from the reset state (every register at its ``init``, any without one
    at zero), every input, reset included, free, each SAT call limited to ``timeout_s``
    seconds: a
    counterexample, a proof (the induction closes), or a bounded proof of ``depth`` cycles
    (fewer when a SAT call times out: the lengths before it)."""
    workdir = Path(workdir)
    lines = _gold_gate(top, mutation)
    log = run_yosys("\n".join(lines + ["equiv_make gold gate equiv", "hierarchy -top equiv",
                                        "equiv_simple -seq 2", "equiv_induct -seq 2",
                                        "equiv_status", ""]), workdir, name=f"{name}_equiv")
    proven, unproven = parse_equiv_status(log)
    miter = lines + ["miter -equiv -flatten -make_assert gold gate miter", "hierarchy -top miter"]
    if proven and not unproven:
        # equiv_induct -seq 2 proves that the two never diverge once equal for 2 cycles;
        # the first cycles from reset are checked on the miter.
        base = parse_sat_log(run_yosys("\n".join(miter + [
            f"sat -prove-asserts -set-init-zero -tempinduct-baseonly -maxsteps {_BASE} "
            f"-timeout {timeout_s} miter", ""]), workdir, name=f"{name}_base"), _BASE)
        if base.verdict == "differs":
            return base
        if base.verdict == "bounded" and base.depth >= _BASE:
            return Equivalence("proved", proven)
    log = run_yosys("\n".join(miter + [
        f"sat -prove-asserts -set-init-zero -tempinduct -maxsteps {depth} "
        f"-timeout {timeout_s} miter", ""]), workdir, name=f"{name}_bmc")
    return parse_sat_log(log, depth)
