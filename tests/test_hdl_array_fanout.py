"""Fanout-safe arrays: no flip-flop of an array drives more loads when the array grows.

Every kind's bench array is emitted at 2x2 and at 3x5, synthesized by Yosys (generic gates,
flattened, so that identical registers in different cells could be merged) and the loads of
every flip-flop output counted. The controls ride along the rows or come through register
trees (``qtpe.hdl.array_grid.spread``), so the largest count is set by one cell (its
accumulator width and a few gates), not by R or C: it must not grow from 2x2 to 3x5 (a
shared anti-diagonal ``clear`` drives ``min(R, C)`` cells, a shared drain shift ``(R-1) C``).

Input-stationary arrays: a cell's swap (and shadow-load) flag enables its whole stationary
register, which in a LUT cell is the table of its activations (77 bits at g = 4, int8), so
one cell's worth is the larger of that and the accumulator; and they grow from 2x3, the
smallest array with a middle column (whose swap register also feeds the next column's: one
load more than any cell of a 2x2 array has).
"""

import dataclasses
import json

import pytest

from qtpe.gen.config import PRESETS
from qtpe.gen.emit import write_design
from qtpe.hdl.array_config import ArrayConfig, Dataflow
from qtpe.hdl.config import carry_save
from qtpe.hdl.formats import QType
from qtpe.hdl.kind_bitserial import BitSerialConfig
from qtpe.hdl.kind_lut import LutConfig
from qtpe.hdl.kinds import kind_of
from qtpe.synth.buffers import net_loads
from qtpe.synth.tools import run_yosys

BENCH = [p.config for p in PRESETS.values() if p.bench and isinstance(p.config, ArrayConfig)]
#: Input-stationary arrays (no bench preset yet): the GEMV preset (the generic ``ISCell``
#: that MAC, shift-add and FP MAC share), LUT cells (with the column precompute units) and
#: bit-serial cells (their own).
BENCH += [PRESETS["array_is_w8a8_8x8"].config,
          ArrayConfig(LutConfig(name="lut_is", weight=QType(2), acc_bits=24),
                      dataflow=Dataflow.IS),
          ArrayConfig(BitSerialConfig(name="abs_is", weight=QType(4), acc_bits=24),
                      dataflow=Dataflow.IS)]


def flip_flop_loads(cfg: ArrayConfig, workdir) -> list[tuple[int, str]]:
    """``(loads, flip-flop cell)`` of every flip-flop output bit, largest first."""
    verilog, _ = write_design(cfg, workdir)
    run_yosys(f"read_verilog {verilog.name}\nsynth -top {cfg.name} -flatten\n"
              f"write_json netlist.json\n", workdir, name="fanout")
    module = json.loads((workdir / "netlist.json").read_text())["modules"][cfg.name]
    loads = net_loads(module)
    out = [(len(loads.get(bit, [])), name) for name, cell in module["cells"].items()
           if "DFF" in cell["type"] for bit in cell["connections"]["Q"]]
    return sorted(out, reverse=True)


def resized(cfg: ArrayConfig, rows: int, cols: int) -> ArrayConfig:
    pe = dataclasses.replace(cfg.pe_config, name=f"fanout_{rows}x{cols}")
    return dataclasses.replace(cfg, rows=rows, cols=cols, pe_config=pe)


@pytest.mark.parametrize("cfg", BENCH, ids=lambda c: f"{c.pe}-{c.dataflow.value}")
def test_flip_flop_fanout_does_not_grow(cfg, tmp_path):
    is_ = cfg.dataflow is Dataflow.IS
    rows, cols = (2, 3) if is_ else (2, 2)
    small = flip_flop_loads(resized(cfg, rows, cols), tmp_path / "small")
    large = flip_flop_loads(resized(cfg, 3, 5), tmp_path / "large")
    assert large[0][0] <= small[0][0], (
        f"a 3x5 {cfg.pe} {cfg.dataflow.value} array has a flip-flop with {large[0][0]} loads "
        f"({large[0][1]}), a {rows}x{cols} one at most {small[0][0]}")
    # One cell's worth: the accumulator's state bits (a carry-save one's saved carries too),
    # or an input-stationary cell's stationary register, and a few gates.
    state = cfg.acc.bits + (cfg.pe_config.saved_carries if carry_save(cfg.pe_config) else 0)
    if is_:
        state = max(state, kind_of(cfg).cell_class(cfg).is_layout().size)
    assert large[0][0] <= state + 8, large[:3]
