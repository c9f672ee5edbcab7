"""Switching activity from simulation traces: toggle counts and time at 1 of every one-bit net.

Two readers, one result (:class:`Activity`):

* :func:`read_saif`: a SAIF file (Verilator ``--trace-saif``): the simulator counts while it
  runs, so the file stays small however long the run;
* :func:`read_vcd`: a VCD file (Icarus ``$dumpvars``, Verilator ``--trace``), counted here.

Only the nets declared directly in the instance ``scope`` (a path of instance names, matched as
the end of the trace's own path) are read, and only one-bit ones (the power flow's simulation
netlist declares one wire per bit). A toggle is a change between 0 and 1; changes to or from
x or z are not toggles (SAIF ``TC`` counts the same way).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Activity", "NetActivity", "ActivityError", "read_saif", "read_vcd"]


class ActivityError(ValueError):
    """A trace that cannot be read, or lacks the scope asked for."""


@dataclass(frozen=True)
class NetActivity:
    """One net over the window: ``toggles`` (0 <-> 1 changes) and the time it spent at 1, in
    the trace's time unit."""

    toggles: int
    time_high: float


@dataclass(frozen=True)
class Activity:
    """The nets of one scope over a window of ``duration`` time units of ``unit_s`` seconds."""

    duration: float
    unit_s: float
    nets: dict[str, NetActivity]

    def cycles(self, clock_period_s: float) -> float:
        """The window in clock cycles of the simulated clock."""
        return self.duration * self.unit_s / clock_period_s


_UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9, "ps": 1e-12, "fs": 1e-15}
_TIMESCALE_RE = re.compile(r"^\s*(1|10|100)\s*(s|ms|us|ns|ps|fs)\s*$")


def _unit(text: str, path: Path) -> float:
    m = _TIMESCALE_RE.match(text)
    if not m:
        raise ActivityError(f"{path}: unknown timescale {text!r}")
    return int(m.group(1)) * _UNITS[m.group(2)]


def _matches(path: list[str], scope: tuple[str, ...]) -> bool:
    return len(path) >= len(scope) and tuple(path[len(path) - len(scope):]) == scope


# --------------------------------------------------------------------------------------------
# SAIF


_SAIF_TOKEN_RE = re.compile(r'\(|\)|"[^"]*"|(?:\\.|[^\s()])+')


def _unescape(name: str) -> str:
    return re.sub(r"\\(.)", r"\1", name)


def read_saif(path: Path, scope: tuple[str, ...]) -> Activity:
    """The one-bit nets of instance ``scope`` in SAIF file ``path`` (``T1`` is time at 1,
    ``TC`` the toggle count)."""
    path = Path(path)
    text = re.sub(r"//[^\n]*", "", path.read_text(errors="replace"))  # comments
    tokens = _SAIF_TOKEN_RE.findall(text)
    pos = 0

    def parse():  # one s-expression
        nonlocal pos
        tok = tokens[pos]
        pos += 1
        if tok != "(":
            return tok
        items = []
        while tokens[pos] != ")":
            items.append(parse())
        pos += 1
        return items

    try:
        tree = parse()
    except IndexError:
        raise ActivityError(f"{path}: truncated SAIF file") from None
    if not isinstance(tree, list) or not tree or tree[0] != "SAIFILE":
        raise ActivityError(f"{path}: not a SAIF file")
    header = {item[0]: item[1:] for item in tree if isinstance(item, list) and item}
    try:
        duration = float(header["DURATION"][0])
        unit = _unit(" ".join(header["TIMESCALE"]), path)
    except (KeyError, IndexError, ValueError):
        raise ActivityError(f"{path}: SAIF header lacks DURATION or TIMESCALE") from None
    found: list[dict[str, NetActivity]] = []

    def walk(node: list, where: list[str]) -> None:
        name = _unescape(node[1]) if len(node) > 1 and isinstance(node[1], str) else ""
        here = [*where, name]
        nets: dict[str, NetActivity] = {}
        for item in node[2:]:
            if not isinstance(item, list) or not item:
                continue
            if item[0] == "INSTANCE":
                walk(item, here)
            elif item[0] == "NET":
                for net in item[1:]:
                    if not isinstance(net, list) or not net:
                        continue
                    fields = {f[0]: float(f[1]) for f in net[1:]
                              if isinstance(f, list) and len(f) == 2}
                    nets[_unescape(net[0])] = NetActivity(int(fields.get("TC", 0)),
                                                          fields.get("T1", 0.0))
        if _matches(here, scope):
            found.append(nets)

    for item in tree:
        if isinstance(item, list) and item and item[0] == "INSTANCE":
            walk(item, [])
    if len(found) != 1:
        raise ActivityError(f"{path}: {len(found)} instances match scope {'/'.join(scope)!r}")
    return Activity(duration, unit, found[0])


# --------------------------------------------------------------------------------------------
# VCD


def _until_end(words) -> list[str]:
    """The words of a VCD declaration up to its ``$end`` (consumed)."""
    out = []
    for w in words:
        if w == "$end":
            break
        out.append(w)
    return out


def read_vcd(path: Path, scope: tuple[str, ...]) -> Activity:
    """The one-bit nets of instance ``scope`` in VCD file ``path``, counted over the whole
    dump (from time 0 to the last timestamp)."""
    path = Path(path)
    unit = None
    where: list[str] = []
    codes: dict[str, list[str]] = {}  # identifier code -> net names in scope
    state: dict[str, tuple[str, int]] = {}  # code -> (value, since)
    toggles: dict[str, int] = {}
    high: dict[str, float] = {}
    matched = False
    now = 0
    with path.open(errors="replace") as f:
        words = (w for line in f for w in line.split())
        for w in words:
            if w == "$timescale":
                unit = _unit("".join(_until_end(words)), path)
            elif w == "$scope":
                next(words)
                where.append(next(words))
            elif w == "$upscope":
                where.pop()
            elif w == "$var":
                parts = _until_end(words)
                _, width, code, name = parts[:4]
                if _matches(where, scope):
                    matched = True
                    if width == "1" and len(parts) == 4:
                        codes.setdefault(code, []).append(name)
            elif w.startswith("$"):
                if w in ("$comment", "$date", "$version"):
                    _until_end(words)
            elif w[0] == "#":
                now = int(w[1:])
            elif w[0] in "01xXzZ":
                value, code = w[0].lower(), w[1:]
                if code in codes:
                    old, since = state.get(code, ("x", 0))
                    if old == "1":
                        high[code] = high.get(code, 0.0) + now - since
                    if {old, value} == {"0", "1"}:
                        toggles[code] = toggles.get(code, 0) + 1
                    state[code] = (value, now)
            elif w[0] in "bBrR":
                next(words)  # vectors and reals are not one-bit nets
    if unit is None:
        raise ActivityError(f"{path}: VCD file without $timescale")
    if not matched:
        raise ActivityError(f"{path}: no scope {'/'.join(scope)!r} in the VCD file")
    nets: dict[str, NetActivity] = {}
    for code, names in codes.items():
        value, since = state.get(code, ("x", now))
        t1 = high.get(code, 0.0) + (now - since if value == "1" else 0)
        for name in names:
            nets[name] = NetActivity(toggles.get(code, 0), t1)
    return Activity(float(now), unit, nets)
