"""cocotb tests for ``BitSerialPE`` (run through ``qtpe.sim.runner``; config in ``QTPE_CONFIG``).

Every test also checks the timing of every op (see ``tb.pe_bitserial``).
"""

import cocotb
import numpy as np
from cocotb.triggers import ReadOnly, RisingEdge

from qtpe.hdl.formats import QType
from qtpe.hdl.kind_bitserial import BitSerialDType
from qtpe.tb.models.bitserial import switching_precisions
from qtpe.tb.models.formats import corner_values, random_operands
from qtpe.tb.pe_bitserial import BitSerialTestbench


def group_values(cfg, rng, n):
    """Random per-op scale, special value and zero point (the PE reads a group's first)."""
    return {
        "scale": rng.integers(0, 1 << cfg.scale_bits, n),
        "special": rng.integers(-(1 << (cfg.special_bits - 1)), 1 << (cfg.special_bits - 1), n),
        "zero": rng.integers(0, 1 << cfg.special_bits, n),
    }


def random_fields(cfg, rng, ks):
    """Weight fields for precisions ``ks``: random codes, a quarter of them the most-negative
    (special) code, random bits above the precision."""
    n, W = len(ks), cfg.weight.bits
    fields = rng.integers(0, 1 << W, (n, cfg.lanes))
    k = np.asarray(ks)[:, None]
    sign_code = (1 << (k - 1)) | (fields & ~((1 << k) - 1))
    return np.where(rng.random((n, cfg.lanes)) < 0.25, sign_code, fields)


def group_starts(cfg, n):
    """A clear at the start of every group (every op without groups)."""
    return np.arange(n) % max(cfg.group_steps, 1) == 0


@cocotb.test()
async def random_stream(dut):
    """Random ops, a different precision on every op (now and then an out-of-range wbits: 0
    and the largest the port holds on the first two ops), random clears, idle gaps, group values
    and special codes."""
    tb = await BitSerialTestbench.begin(dut)
    cfg, rng = tb.cfg, tb.rng
    n = 1600 // (cfg.weight.bits + 1) + 40
    ks = switching_precisions(rng, n, cfg.weight.bits)
    wbits = ks.copy()
    odd = rng.random(n) < 0.05  # wbits 0 or above the maximum run at the maximum
    wbits[odd] = rng.choice([0, (1 << cfg.wbits_bits) - 1], int(odd.sum()))
    wbits[:2] = 0, (1 << cfg.wbits_bits) - 1  # each at least once
    k_eff = np.array([cfg.effective_wbits(int(x)) for x in wbits])
    a = random_operands(rng, cfg.activation, (n, cfg.lanes))
    gaps = np.where(rng.random(n) < 0.8, 0, rng.integers(1, 4, n))
    await tb.drive(random_fields(cfg, rng, k_eff), a, wbits, clear=rng.random(n) < 0.03,
                   gaps=gaps, tag="random", **group_values(cfg, rng, n))
    await tb.finish()


@cocotb.test()
async def every_precision_corners(dut):
    """For k = 1..max: every pair of int<k>/uint<k> corner weights and corner activations on
    all lanes (most-negative x most-negative included), a new sum per group."""
    tb = await BitSerialTestbench.begin(dut)
    cfg, rng = tb.cfg, tb.rng
    for k in range(1, cfg.weight.bits + 1):
        wq = QType(k, cfg.weight.signed)
        pairs = [(w, a) for w in corner_values(wq) for a in corner_values(cfg.activation)]
        n = len(pairs)
        w = np.repeat(np.array([p[0] for p in pairs])[:, None], cfg.lanes, axis=1)
        a = np.repeat(np.array([p[1] for p in pairs])[:, None], cfg.lanes, axis=1)
        vals = {"scale": np.full(n, (1 << cfg.scale_bits) - 1),
                "special": np.full(n, -(1 << (cfg.special_bits - 1))),
                "zero": np.full(n, (1 << cfg.special_bits) - 1)}
        await tb.drive(w, a, np.full(n, k), clear=group_starts(cfg, n), tag=f"k{k}", **vals)
        await tb.drive(w, a, np.full(n, k), tag=f"k{k}-acc", **group_values(cfg, rng, n))
    await tb.finish()


@cocotb.test()
async def overflow_run(dut):
    """Long runs of the largest positive then the most negative products at the maximum
    precision (special: half the lanes the most-negative special value; offset: the largest
    zero point going down): wrap or saturate, at both ends."""
    tb = await BitSerialTestbench.begin(dut)
    cfg = tb.cfg
    W = cfg.weight.bits
    w, a = cfg.weight, cfg.activation
    pairs = [(x, y) for x in (w.min, w.max) for y in (a.min, a.max)]
    n = 1200 // (W + 1) + 8
    clear = np.zeros(n, dtype=bool)
    clear[0] = True
    vals = {"scale": np.full(n, (1 << cfg.scale_bits) - 1),
            "special": np.full(n, -(1 << (cfg.special_bits - 1))),
            "zero": np.zeros(n, dtype=np.int64)}
    for tag, (wv, av) in (("up", max(pairs, key=lambda p: p[0] * p[1])),
                          ("down", min(pairs, key=lambda p: p[0] * p[1]))):
        wf = np.full((n, cfg.lanes), wv)
        if cfg.dtype is BitSerialDType.SPECIAL:
            wf[:, ::2] = 1 << (W - 1)  # half the lanes the special value
        if tag == "down" and cfg.dtype is BitSerialDType.OFFSET:
            wf, av = np.zeros((n, cfg.lanes)), a.max  # 0 - zero: the most negative weight
            vals["zero"] = np.full(n, (1 << cfg.special_bits) - 1)
        elif wv * av == 0:  # no products of this sign (unsigned x unsigned)
            continue
        await tb.drive(wf, np.full((n, cfg.lanes), av), np.full(n, W),
                       clear if tag == "up" else None, tag=tag, **vals)
    await tb.finish()


@cocotb.test()
async def back_to_back_cycles(dut):
    """``in_valid`` held high: ops issue every k cycles and results come k + fixed_latency
    cycles after the op was presented; ``in_ready`` is low inside every op."""
    tb = await BitSerialTestbench.begin(dut)
    cfg, rng = tb.cfg, tb.rng
    W = cfg.weight.bits
    ks = np.concatenate([np.arange(1, W + 1), np.arange(W, 0, -1),
                         switching_precisions(rng, 4 * max(cfg.group_steps, 1), W)])
    n = len(ks)
    a = random_operands(rng, cfg.activation, (n, cfg.lanes))
    busy_cycles = []

    async def watch_ready():
        while True:
            await RisingEdge(dut.clk)
            await ReadOnly()
            busy_cycles.append((tb.cycle, int(dut.in_ready.value)))

    watcher = cocotb.start_soon(watch_ready())
    await tb.drive(random_fields(cfg, rng, ks), a, ks, clear=group_starts(cfg, n), tag="b2b",
                   **group_values(cfg, rng, n))
    await tb.finish()
    watcher.cancel()
    acc = tb.accepts[-n:]
    intervals = np.diff(acc).tolist()
    assert intervals == [cfg.cycles_per_op(int(k)) for k in ks[:-1]], intervals
    producing = [i for i in range(n) if (i + 1) % max(cfg.group_steps, 1) == 0]
    lat = [o - acc[i] + 1 for o, i in zip(tb.out_cycles[-len(producing):], producing,
                                          strict=True)]
    assert lat == [cfg.result_latency(int(ks[i])) for i in producing], lat
    # in_ready is low in every cycle of an op but its last plane.
    ready = dict(busy_cycles)
    for edge, k in zip(acc, ks, strict=True):
        assert [ready[edge + j] for j in range(int(k))] == [0] * (int(k) - 1) + [1], edge
    dut._log.info("accept-to-accept %s, accept-to-result %s (cycles)", intervals[:2 * W], lat[:4])


@cocotb.test()
async def clear_and_reset(dut):
    """A clear mid-group drops the unfinished group; reset mid-op drops the op in flight."""
    tb = await BitSerialTestbench.begin(dut)
    cfg, rng = tb.cfg, tb.rng
    W = cfg.weight.bits
    n = 3 * max(cfg.group_steps, 1) + 1
    ks = switching_precisions(rng, n, W)
    a = random_operands(rng, cfg.activation, (n, cfg.lanes))
    w = random_fields(cfg, rng, ks)
    vals = group_values(cfg, rng, n)
    clear = np.zeros(n, dtype=bool)
    clear[0] = clear[n // 2] = True
    await tb.drive(w, a, ks, clear=clear, tag="mid-clear", **vals)
    await tb.finish()
    await tb.drive(w[:1], a[:1], [W], tag="in-flight", **{k: v[:1] for k, v in vals.items()})
    await tb.reset()
    await tb.drive(w, a, ks, tag="after-reset", **vals)
    await tb.finish()
