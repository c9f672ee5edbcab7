"""cocotb tests for ``MxDotPE`` (run through ``qtpe.sim.runner``; config in ``QTPE_CONFIG``)."""

import cocotb
import numpy as np

from qtpe.hdl.formats import FloatType
from qtpe.tb.models.fpmac import float_corners
from qtpe.tb.models.mxdot import random_elements, random_scales
from qtpe.tb.pe_mxdot import MxDotTestbench, scale_codes

RANDOM_PARTNERS = 3
OVERFLOW_BLOCKS_MAX = 400


def block_starts(cfg, n: int) -> np.ndarray:
    """``clear`` on the first input of every block: each output is one block alone."""
    return np.arange(n) % cfg.block_steps == 0


def corners(fmt) -> list[int]:
    """Element corners: +-0, +-min subnormal, +-max normal, NaN/Inf (``float_corners``); for
    ``int8`` min, -1, 0, 1, max."""
    return float_corners(fmt) if isinstance(fmt, FloatType) else [fmt.min, -1, 0, 1, fmt.max]


def every_code(fmt) -> list[int]:
    if isinstance(fmt, FloatType):
        return list(range(fmt.code_count))
    return list(range(fmt.min, fmt.max + 1))


def largest(fmt, sign: int) -> int:
    """The finite element of the largest magnitude with the given sign (+1 or -1)."""
    codes = [c for c in every_code(fmt)
             if not isinstance(fmt, FloatType) or fmt.special(c) is None]
    value = (lambda c: fmt.decode(c)) if isinstance(fmt, FloatType) else int
    return max(codes, key=lambda c: sign * value(c))


@cocotb.test()
async def exhaustive_codes(dut):
    """Every weight code against every corner activation and random ones, and every
    activation code against every corner weight and random ones, in-window scales.

    The pairs fill the lanes of consecutive inputs; every block starts with a clear, so every
    output is one scaled block sum (and its own special state).
    """
    tb = await MxDotTestbench.begin(dut)
    cfg, rng = tb.cfg, tb.rng
    w_all, a_all = every_code(cfg.weight), every_code(cfg.activation)
    pairs = [(c, a) for c in w_all for a in corners(cfg.activation)]
    pairs += [(w, c) for c in a_all for w in corners(cfg.weight)]
    pairs += [(c, int(a)) for c in w_all
              for a in rng.choice(a_all, RANDOM_PARTNERS)]
    pairs += [(int(w), c) for c in a_all
              for w in rng.choice(w_all, RANDOM_PARTNERS)]
    n = -(-len(pairs) // cfg.block_size) * cfg.block_steps  # whole blocks
    weight = np.zeros(n * cfg.lanes, dtype=np.int64)
    act = np.zeros(n * cfg.lanes, dtype=np.int64)
    order = rng.permutation(len(pairs))
    for i, k in enumerate(order):
        weight[i], act[i] = pairs[k]
    sw, sa = random_scales(cfg, rng, n, outside=0.0, nan=0.0)
    await tb.drive(weight.reshape(n, cfg.lanes), act.reshape(n, cfg.lanes), sw, sa,
                   clear=block_starts(cfg, n), tag="code")
    await tb.finish()


@cocotb.test()
async def random_stream(dut):
    """Random elements and scales (``MxDotModel.random_inputs``: corners, some NaN/Inf, scales
    in and out of the window and NaN), random valid and clear."""
    tb = await MxDotTestbench.begin(dut)
    cfg, rng = tb.cfg, tb.rng
    n = 2500
    ports = tb.model.random_inputs(cfg, rng, n)
    await tb.drive(ports["weight"], ports["act"], ports["scale_w"], ports["scale_a"],
                   rng.random(n) < 0.85, rng.random(n) < 0.02, tag="random")
    await tb.finish()


@cocotb.test()
async def overflow_run(dut):
    """Blocks of the largest positive, then the most negative, products at the top of the
    scale window: the accumulator wraps or saturates at both ends."""
    tb = await MxDotTestbench.begin(dut)
    cfg = tb.cfg
    w_top = largest(cfg.weight, 1)
    up = (w_top, largest(cfg.activation, 1))
    down = (w_top, largest(cfg.activation, -1))
    top = (cfg.weight.max * cfg.activation.max * cfg.block_size) << cfg.window
    blocks = min((1 << cfg.acc.bits) // top + 3, OVERFLOW_BLOCKS_MAX)
    n = blocks * cfg.block_steps
    clear = np.zeros(n, dtype=bool)
    clear[0] = True
    sw, sa = scale_codes(cfg.scale_max)
    for tag, (wv, av) in (("up", up), ("down", down)):
        await tb.drive(np.full((n, cfg.lanes), wv), np.full((n, cfg.lanes), av),
                       np.full(n, sw), np.full(n, sa), clear=clear if tag == "up" else None,
                       tag=tag)
    await tb.finish()


@cocotb.test()
async def clear_and_reset(dut):
    """Clear without valid drops the open block and the sum; clear with valid mid-block
    restarts the block at that input; reset mid-stream drops the sum and in-flight data."""
    tb = await MxDotTestbench.begin(dut)
    cfg, rng = tb.cfg, tb.rng
    steps = cfg.block_steps
    n = 4 * steps + 1  # ends with an open block (one input) where blocks take several
    ports = tb.model.random_inputs(cfg, rng, n)
    w, a, sw, sa = (ports[k] for k in ("weight", "act", "scale_w", "scale_a"))
    await tb.drive(w, a, sw, sa, tag="before")
    idle = np.zeros((2, cfg.lanes), dtype=np.int64)
    await tb.drive(idle, idle, valid=[False, False], clear=[True, False], tag="idle-clear")
    mid = np.zeros(n, dtype=bool)
    mid[2 * steps + 1] = True  # one input into the third block (every input, one-input blocks)
    await tb.drive(w, a, sw, sa, clear=mid, tag="mid-clear")
    await tb.finish()
    await tb.drive(w[:3], a[:3], sw[:3], sa[:3], tag="in-flight")
    await tb.reset()
    fresh = random_elements(rng, cfg.weight, (n, cfg.lanes), cfg.block_size)
    await tb.drive(fresh, a, sw, sa, tag="after-reset")
    await tb.finish()
