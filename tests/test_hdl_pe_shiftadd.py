"""ShiftAddPE in Amaranth's simulator against the golden model (fast, no external simulator)."""

import numpy as np
import pytest
from amaranth.back import rtlil
from amaranth.sim import Simulator

from qtpe.hdl.config import MacConfig, ShiftAddConfig
from qtpe.hdl.formats import Overflow, PotType, QType, ScaleKind
from qtpe.hdl.pe_shiftadd import ShiftAddPE
from qtpe.tb.models.formats import random_operands
from qtpe.tb.models.shiftadd import shiftadd_stream


def pot(text):
    return PotType.parse(text)


CONFIGS = [
    ShiftAddConfig(),
    ShiftAddConfig(weight=pot("pot3"), activation=QType(4, False), lanes=3, acc_bits=10,
                   overflow=Overflow.SATURATE, pipeline=True),
    ShiftAddConfig(weight=pot("potz2"), activation=QType(5), lanes=4, acc_bits=6),
    ShiftAddConfig(weight=pot("potz4"), activation=QType(8, False), lanes=2, group_size=6,
                   group_scale=ScaleKind.POT, scale_bits=2),
    ShiftAddConfig(weight=pot("apot5"), activation=QType(6), lanes=2, group_size=4,
                   scale_bits=3, acc_bits=14, overflow=Overflow.SATURATE, pipeline=True),
    ShiftAddConfig(weight=pot("apot4"), activation=QType(4, False), lanes=5),
    ShiftAddConfig(weight=QType(4), activation=QType(8), lanes=8),
    ShiftAddConfig(weight=QType(3, False), activation=QType(6), lanes=3, acc_bits=9,
                   overflow=Overflow.SATURATE),
    ShiftAddConfig(weight=QType(2), activation=QType(4, False), lanes=2, group_size=2,
                   group_scale=ScaleKind.INT, scale_bits=2, pipeline=True),
    ShiftAddConfig(weight=QType(5, False), activation=QType(4, False), acc_bits=8,
                   overflow=Overflow.SATURATE),
    # Beyond 64 bits: pot8 spans +-2^127, so every path must stay exact and wide.
    ShiftAddConfig(weight=pot("pot8"), activation=QType(4), lanes=2, acc_bits=20,
                   overflow=Overflow.SATURATE),
    ShiftAddConfig(weight=pot("potz8"), activation=QType(4), lanes=2, acc_bits=24),
]


def cid(c):
    g = f"-g{c.group_size}{c.group_scale.value}" if c.group else ""
    return f"l{c.lanes}-{c.weight}x{c.activation}-{c.acc}{g}{'-pipe' if c.pipeline else ''}"


def random_codes(rng, cfg, size):
    w = cfg.weight
    if isinstance(w, QType):
        return random_operands(rng, w, size)
    return rng.integers(0, 1 << w.bits, size=size, dtype=np.int64)


def run_stream(cfg, codes, a, valid, clear, scale):
    dut = ShiftAddPE(cfg)
    got = []

    async def bench(ctx):
        for i in range(len(codes) + cfg.latency + 1):
            if i < len(codes):
                ctx.set(dut.in_valid, int(valid[i]))
                ctx.set(dut.clear, int(clear[i]))
                for lane in range(cfg.lanes):
                    ctx.set(dut.weight[lane], int(codes[i, lane]))
                    ctx.set(dut.act[lane], int(a[i, lane]))
                if cfg.group is not None:
                    ctx.set(dut.scale, int(scale[i]))
            else:
                ctx.set(dut.in_valid, 0)
                ctx.set(dut.clear, 0)
            await ctx.tick()
            if ctx.get(dut.out_valid):
                got.append(ctx.get(dut.acc))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return got


@pytest.mark.parametrize("cfg", CONFIGS, ids=cid)
def test_matches_model(cfg):
    rng = np.random.default_rng(11)
    n = 300
    codes = random_codes(rng, cfg, (n, cfg.lanes))
    a = random_operands(rng, cfg.activation, (n, cfg.lanes))
    valid, clear = rng.random(n) < 0.85, rng.random(n) < 0.07
    scale = rng.integers(0, (1 << cfg.scale_bits), n) if cfg.group else None
    want = shiftadd_stream(cfg, codes, a, valid, clear, scale)
    assert len(want) > 10
    assert run_stream(cfg, codes, a, valid, clear, scale) == want


def test_no_multiplier_on_weights():
    """The weight product is shifts and adds: no ``$mul`` cell unless an int group scale."""
    for cfg in CONFIGS:
        text = rtlil.convert(ShiftAddPE(cfg), name="top")
        muls = text.count("cell $mul ")
        assert muls == (1 if cfg.group and cfg.group_scale is ScaleKind.INT else 0), cid(cfg)


def test_component_exposes_config_latency_and_ports():
    cfg = ShiftAddConfig(weight=pot("apot5"), lanes=4, group_size=8, pipeline=True)
    pe = ShiftAddPE(cfg)
    pe._MustUse__silence = True  # inspected, not elaborated
    assert pe.config is cfg and pe.latency == 2 and pe.lanes == 4
    members = pe.signature.members
    assert members["weight"].shape.size == 4 * 5 and members["scale"].shape.width == 8
    assert members["acc"].shape.width == cfg.acc.bits
    plain = ShiftAddPE(ShiftAddConfig())
    plain._MustUse__silence = True
    assert "scale" not in plain.signature.members


@pytest.mark.filterwarnings("error::amaranth.hdl.UnusedElaboratable")
def test_rejects_other_configs():
    with pytest.raises(TypeError, match="ShiftAddPE needs a ShiftAddConfig, not MacConfig"):
        ShiftAddPE(MacConfig())
