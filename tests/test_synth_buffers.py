"""Fanout buffering of a mapped netlist (``qtpe.synth.buffers``) on hand-built JSON netlists."""

from __future__ import annotations

import copy

import pytest

from qtpe.synth.buffers import BufferCell, buffer_fanout, name_cells, net_loads

BUF = BufferCell("BUFX4", "A", "Y")


def _netlist(loads: int, port_loads: int = 0) -> dict:
    """One flip-flop (``src``) whose Q (bit 3) feeds ``loads`` inverters; ``port_loads`` bits
    of the output port are that net too; the clock (bit 2) feeds the flip-flop only."""
    cells = {"src": {"type": "DFFPOSX1", "port_directions": {"CLK": "input", "D": "input",
                                                             "Q": "output"},
                     "connections": {"CLK": [2], "D": [4], "Q": [3]}}}
    for i in range(loads):
        cells[f"inv{i:03d}"] = {"type": "INVX1",
                                "port_directions": {"A": "input", "Y": "output"},
                                "connections": {"A": [3], "Y": [100 + i]}}
    ports = {"clk": {"direction": "input", "bits": [2]},
             "d": {"direction": "input", "bits": [4]},
             "y": {"direction": "output", "bits": [100 + i for i in range(loads)] + [3] *
                   port_loads}}
    return {"modules": {"top": {"ports": ports, "cells": cells,
                                "netnames": {"q": {"hide_name": 0, "bits": [3]}}}}}


def _driver_chain(module: dict, cell: str, port: str) -> list[str]:
    """The cells from ``cell``'s input ``port`` back to a non-buffer driver."""
    drivers = {b: name for name, c in module["cells"].items()
               for p, bits in c["connections"].items()
               if c["port_directions"][p] == "output" for b in bits}
    chain = []
    bit = module["cells"][cell]["connections"][port][0]
    while True:
        name = drivers[bit]
        chain.append(name)
        if module["cells"][name]["type"] != BUF.cell:
            return chain
        bit = module["cells"][name]["connections"][BUF.input][0]


@pytest.mark.parametrize("loads,limit", [(5, 12), (12, 12), (13, 12), (144, 12), (145, 12),
                                         (1000, 8), (3, 2)])
def test_every_net_within_the_limit_and_every_load_still_driven(loads, limit):
    netlist = _netlist(loads)
    result = buffer_fanout(netlist, "top", BUF, limit, frozenset({2}))
    module = netlist["modules"]["top"]
    fanouts = {b: len(v) for b, v in net_loads(module).items()}
    assert result.max_fanout_before == loads
    assert result.max_fanout_after == max(fanouts.values()) <= limit
    if loads <= limit:
        assert result.buffers == 0 and result.nets == 0
    else:
        assert result.nets == 1 and result.buffers > 0
    # every inverter is still driven by the flip-flop, through buffers only, and the tree
    # is balanced: all depths equal
    depths = set()
    for i in range(loads):
        chain = _driver_chain(module, f"inv{i:03d}", "A")
        assert chain[-1] == "src"
        depths.add(len(chain) - 1)
    assert len(depths) == 1
    levels = depths.pop()  # buffer levels: as few as hold the loads
    assert limit ** levels < loads <= limit ** (levels + 1) or (levels == 0 and loads <= limit)


def test_output_port_bits_stay_on_their_net_and_the_clock_is_left_alone():
    netlist = _netlist(40, port_loads=3)
    clk_before = copy.deepcopy(netlist["modules"]["top"]["cells"]["src"]["connections"]["CLK"])
    buffer_fanout(netlist, "top", BUF, 8, frozenset({2}))
    module = netlist["modules"]["top"]
    assert module["ports"]["y"]["bits"][-3:] == [3, 3, 3]
    assert module["cells"]["src"]["connections"]["CLK"] == clk_before
    assert len(net_loads(module)[3]) <= 8


def test_deterministic():
    a, b = _netlist(300), _netlist(300)
    buffer_fanout(a, "top", BUF, 12, frozenset({2}))
    buffer_fanout(b, "top", BUF, 12, frozenset({2}))
    assert a == b


def test_limit_and_module_are_checked():
    with pytest.raises(ValueError, match="max_fanout must be at least 2, not 1"):
        buffer_fanout(_netlist(3), "top", BUF, 1)
    with pytest.raises(ValueError, match="netlist has no module 'nope'"):
        buffer_fanout(_netlist(3), "nope", BUF, 4)


def test_name_cells_gives_anonymous_cells_stable_names():
    netlist = _netlist(2)
    cells = netlist["modules"]["top"]["cells"]
    cells["$abc$9$x"] = cells.pop("inv000")
    cells["$abc$10$x"] = cells.pop("inv001")
    cells["g0"] = cells.pop("src")  # a taken name is skipped
    assert name_cells(netlist, "top") == 2
    assert sorted(cells) == ["g0", "g1", "g2"]
    assert cells["g1"]["connections"]["Y"] == [101]  # "$abc$10$x" sorts before "$abc$9$x"
