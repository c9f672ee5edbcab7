"""The LUT PE tile in Amaranth's simulator against the golden model (fast, no external
simulator); the precompute unit's table; the config record."""

import gc
import warnings

import numpy as np
import pytest
from amaranth.hdl import UnusedElaboratable
from amaranth.sim import Simulator

from qtpe.hdl.config import LutConfig, PEConfig
from qtpe.hdl.formats import Overflow, PlaneType, QType
from qtpe.hdl.pe_lut import LutPE, LutPrecompute, LutTile, table_layout
from qtpe.tb.models.formats import random_operands
from qtpe.tb.models.lut import lut_stream, stored_table


def sym(text):
    return PlaneType.parse(text)


CONFIGS = [
    LutConfig(),  # int2, g 4, symmetric
    LutConfig(weight=QType(4), g=3, symmetric=False, sharing=2, acc_bits=12,
              overflow=Overflow.SATURATE),
    LutConfig(weight=QType(3, False), g=4, symmetric=True, sharing=3, activation=QType(5)),
    LutConfig(weight=QType(2, False), g=2, symmetric=False, acc_bits=9),
    LutConfig(weight=sym("sym3"), g=2, symmetric=True, activation=QType(4)),
    LutConfig(weight=sym("sym2"), g=3, symmetric=False, sharing=2),
    LutConfig(weight=sym("ternary"), g=4, symmetric=True, sharing=2, acc_bits=10,
              overflow=Overflow.SATURATE),
    LutConfig(weight=sym("ternary"), g=3, symmetric=False),
    LutConfig(weight=QType(1), g=2, symmetric=True, activation=QType(6)),
    LutConfig(weight=sym("sym1"), g=4, symmetric=False, activation=QType(7)),
]


def cfg_id(c: LutConfig) -> str:
    return (f"{c.weight}-g{c.g}-{'sym' if c.symmetric else 'plain'}-s{c.sharing}-"
            f"{c.activation}-{c.acc}")


def run_stream(cfg, codes, act, valid, clear, zero):
    dut = LutTile(cfg)
    got = []

    async def bench(ctx):
        for i in range(len(act) + cfg.latency + 1):
            if i < len(act):
                ctx.set(dut.in_valid, int(valid[i]))
                ctx.set(dut.clear, int(clear[i]))
                for j in range(cfg.g):
                    ctx.set(dut.act[j], int(act[i, j]))
                for p in range(cfg.sharing):
                    port = getattr(dut, f"weight_p{p}")
                    for j in range(cfg.g):
                        ctx.set(port[j], int(codes[i, p, j]))
                    if cfg.has_zero:
                        ctx.set(getattr(dut, f"zero_p{p}"), int(zero[i, p]))
            else:
                ctx.set(dut.in_valid, 0)
                ctx.set(dut.clear, 0)
            await ctx.tick()
            if ctx.get(dut.out_valid):
                got.append([ctx.get(getattr(dut, f"acc_p{p}")) for p in range(cfg.sharing)])

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return got


def random_inputs(cfg, rng, n):
    codes = rng.integers(0, 1 << cfg.weight.bits, (n, cfg.sharing, cfg.g))
    act = random_operands(rng, cfg.activation, (n, cfg.g), corner_fraction=0.4)
    zero = (rng.integers(0, 1 << cfg.weight.bits, (n, cfg.sharing)) if cfg.has_zero
            else np.zeros((n, cfg.sharing), np.int64))
    return codes, act, zero


@pytest.mark.parametrize("cfg", CONFIGS, ids=cfg_id)
def test_tile_matches_model(cfg):
    rng = np.random.default_rng(11)
    n = 300
    codes, act, zero = random_inputs(cfg, rng, n)
    act[:20] = cfg.activation.min  # most-negative activations, accumulated
    valid, clear = rng.random(n) < 0.85, rng.random(n) < 0.1
    # The tile's port carries the integer for int<b> weights: the same bits as the code.
    if isinstance(cfg.weight, QType) and cfg.weight.signed:
        port_codes = np.where(codes >> (cfg.weight.bits - 1), codes - (1 << cfg.weight.bits),
                              codes)
    else:
        port_codes = codes
    want = lut_stream(cfg, codes, act, valid, clear, zero).tolist()
    assert run_stream(cfg, port_codes, act, valid, clear, zero) == want


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


# -- the config record ------------------------------------------------------------------------
def test_config_keys_and_derived_values():
    cfg = PEConfig.from_dict({"pe": "lut", "weight": "ternary", "g": 3, "symmetric": False,
                              "sharing": 4, "activation": "int6"})
    assert isinstance(cfg, LutConfig) and cfg.weight == PlaneType.parse("ternary")
    assert PEConfig.from_dict(cfg.to_dict()) == cfg
    assert cfg.to_dict()["weight"] == "ternary"
    assert cfg.macs_per_cycle == 12.0 and cfg.latency == 2
    # products: ternary x int6 spans -32..32 (7 bits); 3 of them -96..96 (8 bits)
    assert (cfg.product_bits, cfg.dot_bits) == (7, 8)
    assert cfg.acc.bits == 7 + 8 and cfg.acc.signed
    assert LutConfig(weight=QType(4, False)).weight_range == (-15, 15)
    assert LutConfig(weight=sym("sym4")).weight_range == (-15, 15)
    assert LutConfig(weight=QType(4)).plane_coeffs == (1, 2, 4, -8)
    assert LutConfig(weight=sym("sym3")).plane_coeffs == (2, 4, 8)
    assert LutConfig(weight=sym("sym3")).const_coeff() == -7
    assert LutConfig(weight=QType(2, False)).const_coeff(3) == -3


def test_entry_widths_cover_most_negative():
    cfg = LutConfig(g=4, symmetric=True)  # int8 activations
    assert cfg.entry_range(0) == (-508, 512)  # T_sym(0) = -S reaches 4 * 128
    assert cfg.entry_bits(0) == 11 and cfg.entry_bits(7) == 10
    plain = LutConfig(g=4, symmetric=False)
    assert plain.entry_range(15) == (-512, 508) and plain.entry_bits(15) == 10
    assert plain.entry_bits(1) == 8


@pytest.mark.parametrize("data, match", [
    ({"weight": "int5"}, r"weight must be 1 to 4 bits for pe = 'lut', not int5"),
    ({"weight": "sym5"}, r"sym weight width must be 1 to 4 bits, not 5"),
    ({"weight": "pot4"}, r"weight must be int<N>, uint<N> or sym<N> .* not 'pot4'"),
    ({"activation": "uint8"}, r"activation must be int<N> \(signed\) with N from 4 to 8"),
    ({"activation": "int9"}, r"activation must be .* not int9"),
    ({"activation": "int3"}, r"activation must be .* not int3"),
    ({"g": 5}, r"g must be an integer from 2 to 4, not 5"),
    ({"g": 1}, r"g must be an integer from 2 to 4, not 1"),
    ({"sharing": 0}, r"sharing must be an integer from 1 to 16, not 0"),
    ({"sharing": 17}, r"sharing must be an integer from 1 to 16, not 17"),
    ({"symmetric": "yes"}, r"symmetric must be true or false, not 'yes'"),
    ({"lanes": 2}, r"unknown key 'lanes' for pe = 'lut'"),
])
def test_config_errors(data, match):
    with pytest.raises((ValueError, TypeError), match=match):
        PEConfig.from_dict({"pe": "lut", **data})
