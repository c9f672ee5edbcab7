"""``qtpe prove``: formal equivalence of a PE with the MAC PE, and of a small array with the
golden-model schedule.

A PE config is proved with ``qtpe.hdl.miter.PEMiter`` (the kind's emitted top level beside a
MAC PE on the decoded operands); an array config with ``qtpe.hdl.array_proof.ArrayProof``
(the array fed one GEMM laid out by ``qtpe.tb.models.schedule``, with free operands). Both
run through ``qtpe.synth.formal.run_proof``. Proofs are for small formats: SAT effort grows
steeply with the multiplier (an 8x8-bit multiplier against a shift-add one takes about 11 s,
10x10 about 5 minutes, 12x12 does not finish), so operands are limited to ``MAX_BITS`` bits,
lanes to ``MAX_LANES`` and arrays to ``MAX_ARRAY`` PEs a side; groups are not proved.

A failed proof comes with a counterexample from reset, printed as one row per cycle: the
dut's inputs (lanes split, as the ports carry them), then the expected (MAC reference or
schedule) and actual values; the row where they part is marked.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from amaranth.back import rtlil
from amaranth.hdl import Shape
from amaranth.lib import data

from qtpe.hdl.array_config import ArrayConfig, Dataflow
from qtpe.hdl.config import PEConfig
from qtpe.hdl.formats import Overflow, show
from qtpe.synth.formal import ProofResult, run_proof

from .config import ConfigError
from .progress import say

__all__ = ["MAX_BITS", "MAX_LANES", "MAX_ARRAY", "Counterexample", "ProveResult",
           "check_provable", "prove", "read_trace"]

MAX_BITS = 8
MAX_LANES = 4
MAX_ARRAY = 2


def check_provable(cfg: PEConfig | ArrayConfig) -> None:
    """``ConfigError`` naming the first key that puts ``cfg`` outside what proofs cover."""
    pe = cfg.pe_config if isinstance(cfg, ArrayConfig) else cfg
    for key in ("weight", "activation"):
        fmt = getattr(pe, key)
        if fmt.bits > MAX_BITS:
            raise ConfigError(f"{key} {fmt} is too wide to prove: operands up to {MAX_BITS} "
                              f"bits (SAT time grows steeply with the multiplier)")
    lanes = pe.beat_lanes
    if lanes > MAX_LANES:
        raise ConfigError(f"{lanes} lanes is too many to prove: at most {MAX_LANES}")
    if getattr(pe, "group_size", 0):
        raise ConfigError(f"group_size = {pe.group_size}: configs with groups are not proved "
                          f"(give group_size = 0)")
    if not isinstance(cfg, ArrayConfig):
        return
    if max(cfg.rows, cfg.cols) > MAX_ARRAY:
        raise ConfigError(f"a {cfg.rows}x{cfg.cols} array is too large to prove: rows and "
                          f"cols up to {MAX_ARRAY}")
    if pe.overflow is not Overflow.WRAP:
        raise ConfigError(f"overflow = {pe.overflow.value!r}: array proofs check wrapped "
                          f"sums (give overflow = 'wrap'; the PE proofs cover saturation)")
    if cfg.requant:
        raise ConfigError("requant: array proofs check accumulator rows (give requant = "
                          "false)")
    if cfg.dataflow is Dataflow.IS:
        raise ConfigError("dataflow = 'is': array proofs cover 'os' and 'ws' arrays (the "
                          "input-stationary array is checked in simulation only)")


@dataclass(frozen=True)
class Counterexample:
    """A failing run from reset: ``columns`` (input names, then expected/actual names) and
    one row of values per cycle; ``cycle`` is the first cycle whose check fails."""

    columns: tuple[str, ...]
    rows: tuple[tuple, ...]
    cycle: int
    what: str

    def table(self) -> str:
        cells = [list(self.columns) + [""]] + [
            [_cell(v) for v in row] + ["<- differs" if i == self.cycle else ""]
            for i, row in enumerate(self.rows)]
        widths = [max(len(r[j]) for r in cells) for j in range(len(cells[0]))]
        lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)).rstrip()
                 for r in cells]
        return f"counterexample ({self.what}), one row per cycle from reset:\n" + \
            "\n".join(lines)

    def to_dict(self) -> dict:
        return {"columns": list(self.columns), "rows": [list(r) for r in self.rows],
                "cycle": self.cycle, "what": self.what}


def _cell(value) -> str:
    return str(list(value)) if isinstance(value, tuple) else str(value)


@dataclass(frozen=True)
class ProveResult:
    config: PEConfig | ArrayConfig
    proof: ProofResult
    counterexample: Counterexample | None
    what: str
    bound_note: str = ""

    @property
    def ok(self) -> bool:
        return self.proof.ok

    def summary(self) -> str:
        p = self.proof
        head = {"proved": f"PROVED {self.config.name}: {self.what}, in every cycle "
                          f"(base case {p.depth} cycles from reset and {p.depth}-induction)",
                "bounded": f"PROVED (bounded) {self.config.name}: {self.what}, for the first "
                           f"{p.depth} cycles from reset{self.bound_note} (the induction "
                           f"step did not close)",
                "failed": f"FAILED {self.config.name}: {self.what} does not hold",
                "timeout": f"TIMEOUT {self.config.name}: no answer in {p.seconds:.0f} s "
                           f"({self.what})"}[p.status]
        text = f"{head} [{p.seconds:.1f} s]"
        if self.counterexample is not None:
            text += "\n" + self.counterexample.table()
        return text

    def to_dict(self) -> dict:
        return {"config": self.config.to_dict(), "name": self.config.name, "what": self.what,
                **self.proof.to_dict(),
                "counterexample": self.counterexample.to_dict() if self.counterexample
                else None}

    def to_markdown(self) -> str:
        text = f"# Proof of {self.config.name}\n\n```\n{self.summary()}\n```\n"
        return text


# -- reading a trace ---------------------------------------------------------------------------
def read_trace(vcd: Path) -> list[dict[str, int]]:
    """The values of every signal of a SMTBMC trace per step: ``[{"top.x": v, ...}, ...]``
    (hierarchical names, integers; undefined bits read as 0)."""
    from vcd.reader import TokenKind, tokenize

    names: dict[str, list[str]] = {}
    scope: list[str] = []
    current: dict[str, int] = {}
    steps: list[dict[str, int]] = []
    time = 0

    def close(upto: int) -> None:
        while len(steps) * 10 <= upto:
            steps.append(dict(current))

    with open(vcd, "rb") as f:
        for tok in tokenize(f):
            kind = tok.kind
            if kind is TokenKind.SCOPE:
                scope.append(tok.data.ident)
            elif kind is TokenKind.UPSCOPE:
                scope.pop()
            elif kind is TokenKind.VAR:
                names.setdefault(tok.data.id_code, []).append(
                    ".".join([*scope, tok.data.reference]))
            elif kind is TokenKind.CHANGE_TIME:
                if tok.data != time:
                    close(time)
                time = tok.data
            elif kind in (TokenKind.CHANGE_SCALAR, TokenKind.CHANGE_VECTOR):
                value = _int(tok.data.value)
                for name in names.get(tok.data.id_code, ()):
                    current[name] = value
    close(time)
    return steps


def _int(value) -> int:
    """A VCD value (pyvcd: an integer, or a bit string with ``x``/``z``) as an integer."""
    if isinstance(value, int):
        return value
    return int(str(value).translate(str.maketrans("xzXZ", "0000")) or "0", 2)


def _signed(value: int, shape: Shape) -> int:
    value &= (1 << shape.width) - 1
    if shape.signed and value >> (shape.width - 1):
        value -= 1 << shape.width
    return value


def _split(value: int, shape) -> int | tuple:
    """A port value as the port carries it: lanes of an ``ArrayLayout`` split, signed where
    the lane (or port) is."""
    if isinstance(shape, data.ArrayLayout):
        elem = Shape.cast(shape.elem_shape)
        return tuple(_signed(value >> (i * elem.width), elem) for i in range(shape.length))
    return _signed(value, Shape.cast(shape))


def _counterexample(trace: Path, inputs: dict, observed: dict, fails: list[str],
                    what: str) -> Counterexample:
    """``inputs``: column -> (trace name, port shape); ``observed``: column -> (trace name,
    shape); ``fails``: trace names of the per-check failure flags."""
    steps = read_trace(trace)
    rows, first = [], None
    for i, step in enumerate(steps):
        row = [_split(step.get(n, 0), s) for n, s in inputs.values()]
        row += [_split(step.get(n, 0), s) for n, s in observed.values()]
        rows.append(tuple(row))
        if first is None and any(step.get(f, 0) for f in fails):
            first = i
    if first is not None:
        rows = rows[: first + 1]
    return Counterexample((*inputs, *observed), tuple(rows),
                          first if first is not None else len(rows) - 1, what)


# -- the proofs --------------------------------------------------------------------------------
def _run(cfg, design, what: str, workdir: Path, depth: int | None,
         timeout: float | None) -> ProofResult:
    """Prove ``design`` (a miter or harness with ``ports()`` and a default ``depth``)."""
    depth = depth if depth is not None else design.depth
    say(f"proving {cfg.name}: {what}, depth {depth}")
    text = rtlil.convert(design, ports=design.ports())
    return run_proof(text, workdir, name=cfg.name, depth=depth, timeout=timeout)


def _prove_pe(cfg: PEConfig, workdir: Path, depth: int | None, dut, timeout) -> ProveResult:
    from qtpe.hdl.miter import PEMiter

    try:
        miter = PEMiter(cfg, dut)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    refs = ", ".join(str(r.weight) + " x " + str(r.activation) for r in miter.ref_configs[:1])
    n = len(miter.refs)
    accs = "its accumulator equals" if n == 1 else f"each of its {n} accumulators equals"
    what = f"{accs} a MAC PE's on the decoded operands ({refs}, {cfg.acc})"
    proof = _run(cfg, miter, what, workdir, depth, timeout)
    cex = None
    if proof.status == "failed":
        members = miter.dut.signature.members
        inputs = {"rst": ("top.rst", 1)}
        inputs |= {name: (f"top.dut.{name}", members[name].shape) for name in miter.inputs}
        observed = {name: (f"top.dut.{name}", 1) for name in ("in_ready", "out_valid")
                    if name in members}
        for p in range(len(miter.refs)):
            shape = miter.expected[p].shape()
            observed[f"expected_p{p}"] = (f"top.expected_p{p}", shape)
            observed[f"actual_p{p}"] = (f"top.actual_p{p}", shape)
        cex = _counterexample(proof.trace, inputs, observed,
                              [f"top.fail_p{p}" for p in range(len(miter.refs))],
                              "PE vs MAC reference")
    return ProveResult(cfg, proof, cex, what)


def _prove_array(cfg: ArrayConfig, workdir: Path, depth: int | None, plan,
                 timeout) -> ProveResult:
    from qtpe.hdl.array_proof import ArrayProof

    from .array_proof import proof_plan

    plan = proof_plan(cfg) if plan is None else plan
    harness = ArrayProof(cfg, plan)
    what = (f"a {plan.M}x{plan.K} @ {plan.K}x{plan.N} GEMM with free operands gives the "
            f"schedule's result rows ({plan.results} rows, any input gaps)")
    proof = _run(cfg, harness, what, workdir, depth, timeout)
    cex = None
    if proof.status == "failed":
        inputs = {"rst": ("top.rst", 1), "gap": ("top.gap", 1)}
        inputs |= {n: (f"top.{n}", s.shape()) for n, s in harness.operand_ports().items()}
        observed = {"row": ("top.result_index", harness.result_index.shape()),
                    "expected": ("top.expected_row", harness.expected_row.shape()),
                    "actual": ("top.actual_row", harness.actual_row.shape())}
        cex = _counterexample(proof.trace, inputs, observed, ["top.fail"],
                              "array vs schedule")
    note = (f" (the whole GEMM takes {plan.cycles} without gaps)"
            if proof.depth > plan.cycles else "")
    return ProveResult(cfg, proof, cex, what, note)


def prove(cfg: PEConfig | ArrayConfig, workdir: Path, *, depth: int | None = None,
          timeout: float | None = None, dut=None, plan=None) -> ProveResult:
    """Prove ``cfg`` (files in ``workdir``), giving up after ``timeout`` seconds; ``dut``
    replaces a PE's top level and ``plan`` an array's ``ProofPlan`` (tests prove
    deliberately broken ones)."""
    check_provable(cfg)
    if depth is not None and (isinstance(depth, bool) or not isinstance(depth, int)
                              or not 1 <= depth <= 200):
        raise ConfigError(f"depth must be an integer from 1 to 200, not {show(depth)}")
    if timeout is not None and not timeout > 0:
        raise ConfigError(f"timeout must be a positive number of seconds, not {show(timeout)}")
    if isinstance(cfg, ArrayConfig):
        return _prove_array(cfg, Path(workdir), depth, plan, timeout)
    return _prove_pe(cfg, Path(workdir), depth, dut, timeout)


def report_files(result: ProveResult) -> dict[str, str | bytes]:
    """``proof.json``, ``proof.md`` and, for a failure, ``counterexample.vcd``."""
    files: dict[str, str | bytes] = {
        "proof.json": json.dumps(result.to_dict(), indent=2, sort_keys=True) + "\n",
        "proof.md": result.to_markdown(),
    }
    if result.proof.trace is not None:
        files["counterexample.vcd"] = result.proof.trace.read_bytes()
    return files
