"""cocotb tests for ``ShiftAddPE`` (run through ``qtpe.sim.runner``; config in ``QTPE_CONFIG``)."""

import cocotb
import numpy as np

from qtpe.hdl.formats import QType
from qtpe.tb.models.formats import corner_values, random_operands
from qtpe.tb.pe_shiftadd import ShiftAddTestbench, code_for, random_codes

RANDOM_ACTS_PER_CODE = 3



def group_starts(cfg, n: int) -> np.ndarray:
    """``clear`` on the first input of every group (every input without groups)."""
    return np.arange(n) % max(cfg.group_steps, 1) == 0


def random_scales(rng, cfg, n: int) -> np.ndarray:
    return rng.integers(0, 1 << cfg.scale_bits, n) if cfg.group else np.zeros(n, np.int64)


@cocotb.test()
async def exhaustive_codes(dut):
    """Every weight code against every corner activation and random ones.

    The code under test rotates over the lanes; the other lanes carry random codes and
    activations. Each input (each group, with groups) starts a new sum, so every output is
    one decoded-integer dot product (one scaled group sum).
    """
    tb = await ShiftAddTestbench.begin(dut)
    cfg, rng = tb.cfg, tb.rng
    if isinstance(cfg.weight, QType):  # int<N>/uint<N>: the code is the value
        all_codes = range(cfg.weight.min, cfg.weight.max + 1)
    else:
        all_codes = range(1 << cfg.weight.bits)
    acts = corner_values(cfg.activation)
    pairs = [(c, a) for c in all_codes for a in acts]
    pairs += [(c, int(a)) for c in all_codes
              for a in random_operands(rng, cfg.activation, RANDOM_ACTS_PER_CODE, 0)]
    n = len(pairs)
    codes = random_codes(rng, cfg, (n, cfg.lanes))
    act = random_operands(rng, cfg.activation, (n, cfg.lanes))
    for i, (c, a) in enumerate(pairs):
        lane = i % cfg.lanes
        codes[i, lane], act[i, lane] = c, a
    await tb.drive(codes, act, clear=group_starts(cfg, n), scale=random_scales(rng, cfg, n),
                   tag="code")
    await tb.finish()


@cocotb.test()
async def random_stream(dut):
    """Random codes and activations (a quarter corner values), random valid, clear, scale."""
    tb = await ShiftAddTestbench.begin(dut)
    cfg, rng = tb.cfg, tb.rng
    n = 2000
    codes = random_codes(rng, cfg, (n, cfg.lanes))
    act = random_operands(rng, cfg.activation, (n, cfg.lanes))
    await tb.drive(codes, act, rng.random(n) < 0.8, rng.random(n) < 0.03,
                   random_scales(rng, cfg, n), tag="random")
    await tb.finish()


@cocotb.test()
async def overflow_run(dut):
    """Long runs of the largest positive then most negative products: wrap or saturate."""
    tb = await ShiftAddTestbench.begin(dut)
    cfg = tb.cfg
    w, a = cfg.weight, cfg.activation
    pairs = [(x, y) for x in (w.min, w.max) for y in (a.min, a.max)]
    up = max(pairs, key=lambda p: p[0] * p[1])
    down = min(pairs, key=lambda p: p[0] * p[1])
    top_scale = (1 << cfg.scale_bits) - 1 if cfg.group else 0
    # Inputs to cross the accumulator range once (scaling only shortens it), capped.
    steps = min((1 << cfg.acc.bits) // max(up[0] * up[1] * cfg.lanes, 1) + 8, 1500)
    clear = np.zeros(steps, dtype=bool)
    clear[0] = True
    scale = np.full(steps, top_scale)
    for tag, (wv, av) in (("up", up), ("down", down)):
        if tag == "down" and wv * av >= 0:  # unsigned x unsigned: no negative products
            break
        codes = np.full((steps, cfg.lanes), code_for(cfg, wv))
        await tb.drive(codes, np.full((steps, cfg.lanes), av), clear=clear if tag == "up" else
                       None, scale=scale, tag=tag)
    await tb.finish()


@cocotb.test()
async def clear_and_reset(dut):
    """Clear without valid zeroes the sum (and the open group); clear mid-group restarts the
    group; reset mid-stream drops the sum and in-flight data."""
    tb = await ShiftAddTestbench.begin(dut)
    cfg, rng = tb.cfg, tb.rng
    n = 4 * max(cfg.group_steps, 1) + 3
    codes = random_codes(rng, cfg, (n, cfg.lanes))
    act = random_operands(rng, cfg.activation, (n, cfg.lanes))
    scale = random_scales(rng, cfg, n)
    await tb.drive(codes, act, scale=scale, tag="before")
    idle = np.zeros((2, cfg.lanes), dtype=np.int64)
    await tb.drive(idle, idle, valid=[False, False], clear=[True, False], tag="idle-clear")
    mid = np.zeros(n, dtype=bool)
    mid[n // 2] = True
    await tb.drive(codes, act, clear=mid, scale=scale, tag="mid-clear")
    await tb.finish()
    await tb.drive(codes[:3], act[:3], scale=scale[:3], tag="in-flight")
    await tb.reset()
    await tb.drive(codes, act, scale=scale, tag="after-reset")
    await tb.finish()
