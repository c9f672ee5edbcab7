"""BitSerialPE in Amaranth's simulator against the golden model and the cycle formula (fast)."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from qtpe.hdl.config import BitSerialConfig, BitSerialDType, PEConfig
from qtpe.hdl.formats import Overflow, QType, ScaleKind
from qtpe.hdl.pe_bitserial import BitSerialPE
from qtpe.tb.models.bitserial import bitserial_stream
from qtpe.tb.models.formats import random_operands

CONFIGS = [
    BitSerialConfig(weight=QType(4), activation=QType(8), lanes=8),
    BitSerialConfig(weight=QType(1), activation=QType(2, False), lanes=3, acc_bits=6,
                    overflow=Overflow.SATURATE),
    BitSerialConfig(weight=QType(8, False), activation=QType(8), lanes=5, acc_bits=12),
    BitSerialConfig(weight=QType(16), activation=QType(16), lanes=2, acc_bits=48),
    BitSerialConfig(weight=QType(4), activation=QType(8, False), lanes=4, group_size=8,
                    scale_bits=3, acc_bits=16, overflow=Overflow.SATURATE),
    BitSerialConfig(weight=QType(3), activation=QType(6), lanes=3, group_size=6,
                    dtype=BitSerialDType.SPECIAL, special_bits=5, group_scale=ScaleKind.POT,
                    scale_bits=2),
    BitSerialConfig(weight=QType(4, False), activation=QType(5, False), lanes=2, group_size=2,
                    dtype=BitSerialDType.OFFSET, special_bits=4, acc_bits=10),
]


def cfg_id(c):
    g = f"-g{c.group_size}{c.group_scale.value}{c.scale_bits}" if c.group else ""
    return f"l{c.lanes}-{c.weight}x{c.activation}-{c.dtype.value}{g}-{c.acc}"


def random_ops(cfg, rng, n):
    """n ops with random fields (upper bits random too), random precision incl. 0 and > max."""
    W = cfg.weight.bits
    ops = {
        "weight": rng.integers(0, 1 << W, (n, cfg.lanes)),
        "act": random_operands(rng, cfg.activation, (n, cfg.lanes)),
        "wbits": rng.integers(0, 1 << cfg.wbits_bits, n),
        "clear": rng.random(n) < 0.05,
        "scale": rng.integers(0, 1 << cfg.scale_bits, n),
        "special": rng.integers(-(1 << (cfg.special_bits - 1)), 1 << (cfg.special_bits - 1), n),
        "zero": rng.integers(0, 1 << cfg.special_bits, n),
    }
    # Make special codes (the most-negative code of the op's precision) frequent.
    k = np.where((ops["wbits"] >= 1) & (ops["wbits"] <= W), ops["wbits"], W)
    pick = rng.random((n, cfg.lanes)) < 0.2
    sign_code = (1 << (k[:, None] - 1)) | (ops["weight"] & ~((1 << k[:, None]) - 1))
    ops["weight"] = np.where(pick, sign_code, ops["weight"])
    return ops


def run_ops(cfg, ops, gaps):
    """Drive the ops through the handshake (``gaps[i]`` idle cycles before op i).

    Returns (outputs, accept cycles, output cycles); a cycle number is the edge count.
    """
    dut = BitSerialPE(cfg)
    n = len(ops["wbits"])
    got, accepts, outs = [], [], []

    async def bench(ctx):
        cycle = 0

        async def tick():
            nonlocal cycle
            await ctx.tick()
            cycle += 1
            if ctx.get(dut.out_valid):
                got.append(ctx.get(dut.acc))
                outs.append(cycle)

        for i in range(n):
            for _ in range(int(gaps[i])):
                ctx.set(dut.in_valid, 0)
                await tick()
            ctx.set(dut.in_valid, 1)
            ctx.set(dut.clear, int(ops["clear"][i]))
            ctx.set(dut.wbits, int(ops["wbits"][i]))
            for lane in range(cfg.lanes):
                ctx.set(dut.weight[lane], int(ops["weight"][i, lane]))
                ctx.set(dut.act[lane], int(ops["act"][i, lane]))
            if cfg.group is not None:
                ctx.set(dut.scale, int(ops["scale"][i]))
            if cfg.dtype is BitSerialDType.SPECIAL:
                ctx.set(dut.special, int(ops["special"][i]))
            if cfg.dtype is BitSerialDType.OFFSET:
                ctx.set(dut.zero, int(ops["zero"][i]))
            while True:
                ready = ctx.get(dut.in_ready)
                await tick()
                if ready:
                    accepts.append(cycle)
                    break
        ctx.set(dut.in_valid, 0)
        for _ in range(cfg.latency + 2):
            await tick()

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return got, accepts, outs


def model_outputs(cfg, ops):
    return bitserial_stream(cfg, ops["weight"], ops["act"], ops["wbits"], ops["clear"],
                            ops["scale"], ops["special"], ops["zero"]).tolist()


@pytest.mark.parametrize("cfg", CONFIGS, ids=cfg_id)
def test_matches_model_and_cycle_formula(cfg):
    rng = np.random.default_rng(11)
    n = 120
    ops = random_ops(cfg, rng, n)
    gaps = np.where(rng.random(n) < 0.7, 0, rng.integers(1, 3, n))
    got, accepts, outs = run_ops(cfg, ops, gaps)
    assert got == model_outputs(cfg, ops)

    ks = [cfg.effective_wbits(int(x)) for x in ops["wbits"]]
    # Accept-to-accept: cycles_per_op(k) of the previous op, unless the driver idles longer.
    for i in range(1, n):
        want = max(cfg.cycles_per_op(int(ops["wbits"][i - 1])), 1 + int(gaps[i]))
        assert accepts[i] - accepts[i - 1] == want, i
    # Accept-to-result: result_latency(k) - 1 edges after the accept edge.
    producing = list(range(n)) if cfg.group is None else _group_ends(cfg, ops["clear"])
    assert len(outs) == len(producing)
    for out, i in zip(outs, producing, strict=True):
        assert out - accepts[i] == cfg.result_latency(int(ops["wbits"][i])) - 1
    assert min(ks) == 1 and max(ks) == cfg.weight.bits


def _group_ends(cfg, clear):
    ends, count = [], 0
    for i, c in enumerate(clear):
        index = 0 if c else count
        count = 0 if index == cfg.group_steps - 1 else index + 1
        if count == 0:
            ends.append(i)
    return ends


def test_component_exposes_config_and_ports():
    cfg = BitSerialConfig(weight=QType(4, False), lanes=4, group_size=8,
                          dtype=BitSerialDType.OFFSET, special_bits=4)
    pe = BitSerialPE(cfg)
    pe._MustUse__silence = True  # inspected, not elaborated
    assert pe.config is cfg and pe.latency == 4 + 2 and pe.fixed_latency == 2
    members = pe.signature.members
    assert set(members) == {"in_valid", "in_ready", "clear", "wbits", "weight", "act", "scale",
                            "zero", "acc", "out_valid"}
    assert members["weight"].shape.size == 16 and members["wbits"].shape.width == 3
    assert members["acc"].shape.width == cfg.acc.bits


# -- the config record (hdl/config.py BitSerialConfig) ------------------------------------------

def test_config_derived_values():
    cfg = BitSerialConfig(weight=QType(4), activation=QType(8), lanes=8)
    assert (cfg.acc.bits, cfg.acc.signed) == (4 + 8 + 8, True)  # as the 8-lane MAC, depth 256
    assert cfg.macs_per_cycle == 2.0 and cfg.fixed_latency == 1 and cfg.latency == 5
    assert [cfg.cycles_per_op(k) for k in range(8)] == [4, 1, 2, 3, 4, 4, 4, 4]
    assert [cfg.result_latency(k) for k in (1, 4)] == [2, 5]
    assert cfg.wbits_bits == 3 and cfg.plane_bits == 11 and cfg.code_dot_bits == 15

    grouped = BitSerialConfig(weight=QType(3), lanes=4, group_size=128, scale_bits=6,
                              dtype=BitSerialDType.SPECIAL, special_bits=5)
    assert grouped.group_steps == 32 and grouped.fixed_latency == 2 and grouped.latency == 5
    assert grouped.product_bits == 5 + 8 and grouped.acc.bits == 13 + 8 + 6
    assert grouped.group_sum_bits == 13 + 7

    offset = BitSerialConfig(weight=QType(4, False), activation=QType(8, False), lanes=2,
                             group_size=2, dtype=BitSerialDType.OFFSET, special_bits=4,
                             group_scale=ScaleKind.POT, scale_bits=2)
    assert offset.signed and offset.weight_value_bits == 5 and offset.acc.bits == 13 + 8 + 3
    assert BitSerialConfig(weight=QType(1), lanes=3).macs_per_cycle == 3.0


@pytest.mark.parametrize("kwargs,match", [
    ({"activation": QType(1)}, "activation must be 2 to 16 bits for pe = 'bitserial', not int1"),
    ({"lanes": 65}, "lanes must be an integer from 1 to 64, not 65"),
    ({"special_bits": 0}, "special_bits must be an integer from 1 to 16, not 0"),
    ({"lanes": 3, "group_size": 8}, r"group_size must be a multiple of lanes \(3\), not 8"),
    ({"dtype": BitSerialDType.SPECIAL}, "dtype = 'special' needs groups .* not 0"),
    ({"dtype": BitSerialDType.SPECIAL, "group_size": 4, "weight": QType(4, False)},
     r"dtype = 'special' needs a signed weight grid \(int<N>\), not uint4"),
    ({"dtype": BitSerialDType.OFFSET, "group_size": 4},
     r"dtype = 'offset' needs an unsigned weight grid \(uint<N>\), not int8"),
    ({"dtype": "special"}, "dtype must be a BitSerialDType, not 'special'"),
])
def test_config_rejects(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        BitSerialConfig(**kwargs)


def test_config_from_dict_round_trip_and_errors():
    cfg = BitSerialConfig(weight=QType(4, False), lanes=4, group_size=8, acc_bits=30,
                          dtype=BitSerialDType.OFFSET, special_bits=4, group_scale=ScaleKind.POT,
                          scale_bits=3)
    data = cfg.to_dict()
    assert data["pe"] == "bitserial" and data["dtype"] == "offset"
    assert PEConfig.from_dict(data) == cfg
    with pytest.raises(ValueError, match="dtype must be one of 'int', 'special', 'offset', "
                                         "not 'fp4'"):
        PEConfig.from_dict({"pe": "bitserial", "dtype": "fp4"})
    with pytest.raises(ValueError, match="unknown key 'pipeline' for pe = 'bitserial'"):
        PEConfig.from_dict({"pe": "bitserial", "pipeline": True})
