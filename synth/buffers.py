"""Fanout buffering of a mapped netlist (Yosys JSON), the step ABC leaves out.

ABC maps and sizes the combinational logic between flip-flops and ports: with a delay target
(``abc -D``) its script buffers and resizes the nets *inside* that logic (``buffer -p``,
``upsize``, ``dnsize``). It sees flip-flop outputs and input ports as ideal inputs, so a
register that fans out to hundreds of loads (an array's clear flag, a reset) stays one
minimum-size flip-flop driving them all. :func:`buffer_fanout` closes that gap on the mapped
netlist: every net with more than ``max_fanout`` loads, whoever drives it, gets a balanced tree of
buffer cells, each driving at most ``max_fanout`` loads, so that no driver in the netlist sees
more. The clock is left alone (its tree is not modelled: STA treats it as ideal).

The netlist is Yosys ``write_json`` output (one flattened module); the result is the same
structure with the buffers added, ready for ``read_json``. Loads are grouped in their netlist
order (sorted by cell name and port), so the result is deterministic; without placement the
grouping does not know which loads are near each other.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["BufferCell", "FanoutResult", "buffer_fanout", "net_loads", "name_cells"]

_NAME_RE = re.compile(r"[^A-Za-z0-9_]+")


@dataclass(frozen=True)
class BufferCell:
    """The library buffer used for the trees: cell name, input pin, output pin."""

    cell: str
    input: str
    output: str


@dataclass(frozen=True)
class FanoutResult:
    """What :func:`buffer_fanout` did: buffers added, nets buffered, and the largest fanout
    before and after (over every net but the excluded ones)."""

    buffers: int
    nets: int
    max_fanout_before: int
    max_fanout_after: int


def _module(netlist: dict, top: str) -> dict:
    try:
        return netlist["modules"][top]
    except KeyError:
        raise ValueError(f"netlist has no module {top!r}") from None


def net_loads(module: dict) -> dict[int, list[tuple[str, str, int]]]:
    """Every net bit's loads: ``(cell, port, index)`` of the cell inputs it feeds, plus
    ``("", port, index)`` for the module's output ports; constants are left out."""
    loads: dict[int, list[tuple[str, str, int]]] = {}
    for name, cell in module["cells"].items():
        dirs = cell["port_directions"]
        for port, bits in cell["connections"].items():
            if dirs.get(port) != "input":
                continue
            for i, bit in enumerate(bits):
                if isinstance(bit, int):
                    loads.setdefault(bit, []).append((name, port, i))
    for port, info in module["ports"].items():
        if info["direction"] == "output":
            for i, bit in enumerate(info["bits"]):
                if isinstance(bit, int):
                    loads.setdefault(bit, []).append(("", port, i))
    return loads


def _bit_names(module: dict) -> dict[int, str]:
    names: dict[int, str] = {}
    for name, info in sorted(module["netnames"].items(), key=lambda kv: kv[1].get("hide_name", 0)):
        bits = info["bits"]
        for i, bit in enumerate(bits):
            if isinstance(bit, int) and bit not in names:
                names[bit] = name if len(bits) == 1 else f"{name}_{i}"
    return names


def buffer_fanout(netlist: dict, top: str, buffer: BufferCell, max_fanout: int,
                  exclude: frozenset[int] = frozenset()) -> FanoutResult:
    """Insert buffer trees in module ``top`` of ``netlist`` (changed in place) so that no net
    bit drives more than ``max_fanout`` loads; ``exclude`` lists bits left alone (the
    clock). Output-port loads stay on their net (a port is its bits); cell loads move."""
    if max_fanout < 2:
        raise ValueError(f"max_fanout must be at least 2, not {max_fanout}")
    module = _module(netlist, top)
    loads = net_loads(module)
    names = _bit_names(module)
    next_bit = 1 + max((b for b in loads), default=1)
    for info in module["netnames"].values():
        next_bit = max(next_bit, 1 + max((b for b in info["bits"] if isinstance(b, int)),
                                         default=0))
    before = max((len(v) for b, v in loads.items() if b not in exclude), default=0)
    cells = module["cells"]
    added = nets = 0
    for bit in sorted(loads):
        sinks = loads[bit]
        if bit in exclude or len(sinks) <= max_fanout:
            continue
        nets += 1
        stem = _NAME_RE.sub("_", names.get(bit, f"n{bit}")).strip("_")
        ports = [s for s in sinks if not s[0]]
        level_sinks = sorted(s for s in sinks if s[0])
        level = 0
        # Each pass puts one buffer in front of every group of max_fanout sinks; the buffers
        # become the next pass's sinks, until the root's own loads (ports included) fit.
        while len(level_sinks) + len(ports) > max_fanout:
            groups = [level_sinks[i:i + max_fanout]
                      for i in range(0, len(level_sinks), max_fanout)]
            new_sinks = []
            for k, group in enumerate(groups):
                out_bit = next_bit
                next_bit += 1
                cname = f"fanout_{stem}_l{level}_{k}"
                while cname in cells:
                    cname += "_"
                cells[cname] = {
                    "hide_name": 0,
                    "type": buffer.cell,
                    "parameters": {},
                    "attributes": {},
                    "port_directions": {buffer.input: "input", buffer.output: "output"},
                    "connections": {buffer.input: [bit], buffer.output: [out_bit]},
                }
                module["netnames"][cname + "_y"] = {"hide_name": 0, "bits": [out_bit],
                                                   "attributes": {}}
                for cell, port, index in group:
                    cells[cell]["connections"][port][index] = out_bit
                new_sinks.append((cname, buffer.input, 0))
                added += 1
            level_sinks = new_sinks
            level += 1
    after_loads = net_loads(module)
    after = max((len(v) for b, v in after_loads.items() if b not in exclude), default=0)
    return FanoutResult(added, nets, before, after)


def name_cells(netlist: dict, top: str) -> int:
    """Give every cell Yosys left anonymous (``$abc$...``) the name ``g<k>`` (``k`` counting
    in the order of the old names), so that the JSON netlist, the Verilog written from it and
    OpenSTA's reports all use the same instance names. Returns the number renamed."""
    cells = _module(netlist, top)["cells"]
    anonymous = sorted(n for n in cells if n.startswith("$"))
    taken = set(cells)
    k = 0
    for old in anonymous:
        while f"g{k}" in taken:
            k += 1
        cells[f"g{k}"] = cells.pop(old)
        taken.add(f"g{k}")
    return len(anonymous)
