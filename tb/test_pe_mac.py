"""cocotb tests for ``MacPE`` (run through ``qtpe.sim.runner``; config in ``QTPE_CONFIG``)."""

import cocotb
import numpy as np

from qtpe.tb.models.formats import corner_values, random_operands
from qtpe.tb.pe_mac import MacTestbench

EXHAUSTIVE_MAX_PAIRS = 4096
LONG_RUN = 1500  # inputs an overflow run drives one by one
HOLD_MAX = 1 << 20  # inputs it holds at once (no Python per cycle)
EDGE = 8  # inputs driven one by one before and after a held run



@cocotb.test()
async def random_stream(dut):
    """Random operands (a quarter of them corner values), random valid and clear."""
    tb = await MacTestbench.begin(dut)
    cfg, rng = tb.cfg, tb.rng
    n = 2000
    w = random_operands(rng, cfg.weight, (n, cfg.lanes))
    a = random_operands(rng, cfg.activation, (n, cfg.lanes))
    await tb.drive(w, a, rng.random(n) < 0.8, rng.random(n) < 0.08, tag="random")
    await tb.finish()


@cocotb.test()
async def corner_products(dut):
    """Every pair of corner values (min, max, 0, +-1, min+1, max-1) alone and accumulated.

    The pair is driven on every lane at once (the largest lane sums).
    """
    tb = await MacTestbench.begin(dut)
    cfg = tb.cfg
    pairs = [(w, a) for w in corner_values(cfg.weight) for a in corner_values(cfg.activation)]
    w = np.array([p[0] for p in pairs])
    a = np.array([p[1] for p in pairs])
    await tb.drive(w, a, clear=np.ones(len(pairs), dtype=bool), tag="alone")
    await tb.drive(w, a, tag="accumulated")
    await tb.finish()


@cocotb.test()
async def exhaustive_products(dut):
    """All weight x activation pairs when there are at most 4096, else 4096 random pairs.

    Lane 0 gets the pair; the other lanes random operands.
    """
    tb = await MacTestbench.begin(dut)
    cfg, rng = tb.cfg, tb.rng
    if (1 << (cfg.weight.bits + cfg.activation.bits)) <= EXHAUSTIVE_MAX_PAIRS:
        ws = np.arange(cfg.weight.min, cfg.weight.max + 1)
        acts = np.arange(cfg.activation.min, cfg.activation.max + 1)
        w, a = (x.ravel() for x in np.meshgrid(ws, acts))
    else:
        w = rng.integers(cfg.weight.min, cfg.weight.max, EXHAUSTIVE_MAX_PAIRS, endpoint=True)
        a = rng.integers(cfg.activation.min, cfg.activation.max, EXHAUSTIVE_MAX_PAIRS,
                         endpoint=True)
    ws = random_operands(rng, cfg.weight, (w.size, cfg.lanes))
    acts = random_operands(rng, cfg.activation, (w.size, cfg.lanes))
    ws[:, 0], acts[:, 0] = w, a
    await tb.drive(ws, acts, clear=np.ones(w.size, dtype=bool), tag="pair")
    await tb.finish()


@cocotb.test()
async def overflow_run(dut):
    """Long runs of the largest positive then the most negative product (where there are
    negative products), long enough to cross the accumulator range: wrap or saturate, at both
    ends. Runs longer than ``LONG_RUN`` inputs (wide accumulators) hold the input for the bulk
    of the run (``StreamTestbench.hold``, at most ``HOLD_MAX`` cycles), the sums checked on
    ``EDGE`` inputs either side."""
    tb = await MacTestbench.begin(dut)
    cfg = tb.cfg
    w, a = cfg.weight, cfg.activation
    pairs = [(x, y) for x in (w.min, w.max) for y in (a.min, a.max)]
    for tag, (wv, av) in (("up", max(pairs, key=lambda p: p[0] * p[1])),
                          ("down", min(pairs, key=lambda p: p[0] * p[1]))):
        if wv * av == 0:  # no products of this sign (int1 x uint, uint x uint)
            continue
        steps = (1 << cfg.acc.bits) // (abs(wv * av) * cfg.lanes) + 8
        clear = np.arange(steps) == 0 if tag == "up" else None
        if steps <= LONG_RUN:
            await tb.drive(np.full(steps, wv), np.full(steps, av), clear=clear, tag=tag)
            continue
        await tb.drive(np.full(EDGE, wv), np.full(EDGE, av),
                       clear=None if clear is None else clear[:EDGE], tag=tag)
        await tb.hold(min(steps - 2 * EDGE, HOLD_MAX),
                      {"weight": np.full(cfg.lanes, wv), "act": np.full(cfg.lanes, av)}, tag)
        await tb.drive(np.full(EDGE, wv), np.full(EDGE, av), tag=f"{tag}-after-hold")
    await tb.finish()


@cocotb.test()
async def clear_and_reset(dut):
    """Clear without valid zeroes the sum; reset mid-stream drops the sum and in-flight data."""
    tb = await MacTestbench.begin(dut)
    cfg, rng = tb.cfg, tb.rng
    w = random_operands(rng, cfg.weight, (12, cfg.lanes))
    a = random_operands(rng, cfg.activation, (12, cfg.lanes))
    await tb.drive(w, a, tag="before")
    await tb.drive([0, 0], [0, 0], valid=[False, False], clear=[True, False], tag="idle-clear")
    await tb.drive(w, a, tag="after-clear")
    await tb.finish()
    await tb.drive(w[:3], a[:3], tag="in-flight")
    await tb.reset()
    await tb.drive(w, a, tag="after-reset")
    await tb.finish()
