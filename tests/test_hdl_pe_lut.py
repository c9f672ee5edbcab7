"""The LUT precompute unit's table and the LUT components' ports (the contract test,
``test_hdl_pe.py``, checks the tile against the model)."""

import gc
import re
import warnings

import numpy as np
import pytest
from amaranth.hdl import UnusedElaboratable
from amaranth.sim import Simulator

from qtpe.gen.emit import emit_verilog
from qtpe.hdl.array_config import ArrayConfig
from qtpe.hdl.config import PEConfig
from qtpe.hdl.formats import PlaneType, QType
from qtpe.hdl.kind_lut import LutConfig
from qtpe.hdl.pe_lut import LutPE, LutPrecompute, LutTile, table_layout
from qtpe.tb.models.lut import stored_table


def sym(text):
    return PlaneType.parse(text)


@pytest.mark.parametrize("g", [2, 3, 4])
@pytest.mark.parametrize("symmetric", [False, True])
def test_precompute_table(g, symmetric):
    """Every stored entry for corner activation vectors (most negative included)."""
    cfg = LutConfig(g=g, symmetric=symmetric)
    a = cfg.activation
    acts = np.array([[a.min] * g, [a.max] * g, [0] * g, [a.min, a.max] * 2][:3] +
                    [([a.min, a.max] * 2)[:g], ([a.max, a.min] * 2)[:g]])
    dut = LutPrecompute(cfg)
    got = []

    async def bench(ctx):
        for row in acts:
            ctx.set(dut.in_valid, 1)
            for j in range(g):
                ctx.set(dut.act[j], int(row[j]))
            await ctx.tick()
            assert ctx.get(dut.out_valid)
            got.append([ctx.get(dut.table[f"e{i}"]) for i in cfg.table_indices])
        ctx.set(dut.in_valid, 0)
        ctx.set(dut.act[0], 1)
        await ctx.tick()
        assert not ctx.get(dut.out_valid)
        held = [ctx.get(dut.table[f"e{i}"]) for i in cfg.table_indices]
        assert held == got[-1]  # the table holds the last accepted group

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert got == stored_table(cfg, acts).tolist()
    for col, i in enumerate(cfg.table_indices):
        lo, hi = cfg.entry_range(i)
        assert all(lo <= row[col] <= hi for row in got)


@pytest.mark.parametrize("g", [2, 3, 4])
def test_symmetric_table_is_half(g):
    plain, symm = LutConfig(g=g, symmetric=False), LutConfig(g=g, symmetric=True)
    assert len(plain.table_indices) == (1 << g) - 1
    assert len(symm.table_indices) == 1 << (g - 1)
    # T(0) = 0 is not stored, so plain tables hold 2^g - 1 entries; symmetric entries are
    # wider (g terms each): register bits g=2: 25 -> 19, g=3: 61 -> 40, g=4: 136 -> 81.
    assert (plain.table_bits, symm.table_bits) == {2: (25, 19), 3: (61, 40), 4: (136, 81)}[g]
    assert table_layout(symm).size == symm.table_bits


def test_components_expose_config_and_latency():
    cfg = LutConfig(weight=QType(3, False), sharing=3)
    tile, pe, pre = LutTile(cfg), LutPE(cfg), LutPrecompute(cfg)
    for c in (tile, pe, pre):
        c._MustUse__silence = True  # inspected, not elaborated
        assert c.config is cfg
    assert (tile.latency, pe.latency, pre.latency) == (2, 1, 1) and tile.sharing == 3
    assert pre.stored_entries == 8
    members = tile.signature.members
    assert [n for n in members if n.startswith(("weight", "zero", "acc"))] == [
        "weight_p0", "weight_p1", "weight_p2", "zero_p0", "zero_p1", "zero_p2",
        "acc_p0", "acc_p1", "acc_p2"]
    assert members["acc_p0"].shape.width == cfg.acc.bits
    assert cfg.macs_per_cycle == 12.0


def test_components_need_a_lut_config():
    with warnings.catch_warnings():  # the half-built component warns when collected
        warnings.simplefilter("ignore", UnusedElaboratable)
        for component in (LutTile, LutPE, LutPrecompute):
            with pytest.raises(TypeError, match=f"{component.__name__} needs a LutConfig, "
                               "not MacConfig"):
                component(PEConfig.from_dict({"pe": "mac"}))
        gc.collect()


def test_lut_arrays_have_one_precompute_unit_per_row():
    cfg = ArrayConfig(LutConfig(name="lut_arr", acc_bits=24), rows=3, cols=4)
    text = emit_verilog(cfg)
    assert len(re.findall(r"^module \S*precompute", text, re.M)) == 3
    assert len(re.findall(r"^\s+\S+precompute_r\d\s+precompute_r\d\s*\(", text, re.M)) == 3
    assert cfg.lanes == 4 and cfg.pe_latency == 1 and cfg.macs_per_cycle == 3 * 4 * 4
