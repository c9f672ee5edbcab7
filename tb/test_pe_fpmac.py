"""cocotb tests for ``FpMacPE`` and kinds with its ports (config in ``QTPE_CONFIG``)."""

import cocotb
import numpy as np

from qtpe.hdl.formats import FloatType
from qtpe.tb.models.fpmac import float_corners, random_codes
from qtpe.tb.pe_fpmac import FpMacTestbench

EXHAUSTIVE_MAX = 1 << 16  # every (weight, activation) code pair up to this many


def all_ops(fmt) -> list[int]:
    """Every code of a float format; every value of an ``int<N>``."""
    if isinstance(fmt, FloatType):
        return list(range(fmt.code_count))
    return list(range(fmt.min, fmt.max + 1))


def corners(fmt) -> list[int]:
    if isinstance(fmt, FloatType):
        return float_corners(fmt)
    return sorted({fmt.min, fmt.min + 1, -1, 0, 1, fmt.max - 1, fmt.max})


@cocotb.test()
async def exhaustive_pairs(dut):
    """Every weight code against every activation code (random ones beyond 2^16 pairs),
    spread over the lanes, every input a new sum: each output one product (and the lanes'
    others), its special state and its rounding."""
    tb = await FpMacTestbench.begin(dut)
    cfg, rng = tb.cfg, tb.rng
    ws, as_ = all_ops(cfg.weight), all_ops(cfg.activation)
    if len(ws) * len(as_) <= EXHAUSTIVE_MAX:
        pairs = [(w, a) for w in ws for a in as_]
    else:
        pairs = [(w, a) for w in ws for a in corners(cfg.activation)]
        pairs += [(w, int(a)) for w in ws for a in rng.choice(as_, 8)]
    # shuffled, so that no pair always shares a cycle with the same partner (a NaN next to
    # every infinity x infinity pair in code order would hide a wrong special state)
    pairs = [pairs[i] for i in rng.permutation(len(pairs))]
    n = -(-len(pairs) // cfg.lanes)
    codes = random_codes(rng, cfg.weight, (n, cfg.lanes), 0.0)
    act = random_codes(rng, cfg.activation, (n, cfg.lanes), 0.0)
    for i, (w, a) in enumerate(pairs):
        codes.flat[i], act.flat[i] = w, a
    await tb.drive(codes, act, clear=np.ones(n, dtype=bool), tag="pairs")
    await tb.finish()


@cocotb.test()
async def random_stream(dut):
    """Random codes (a quarter corners: zeros, min subnormal, max, NaN/Inf), random valid and
    clear: long sums, sticky special states."""
    tb = await FpMacTestbench.begin(dut)
    cfg, rng = tb.cfg, tb.rng
    n = 2000
    codes = random_codes(rng, cfg.weight, (n, cfg.lanes), 0.1)
    act = random_codes(rng, cfg.activation, (n, cfg.lanes), 0.1)
    await tb.drive(codes, act, rng.random(n) < 0.8, rng.random(n) < 0.05, tag="random")
    await tb.finish()


def _largest(fmt, sign: int):
    """The operand of the largest finite magnitude with ``sign`` (0 positive)."""
    if not isinstance(fmt, FloatType):
        return fmt.max if sign == 0 else fmt.min
    values = fmt.values()
    code = max((c for c in range(fmt.code_count) if fmt.special(c) is None),
               key=lambda c: values[c])
    return code | (sign << (fmt.bits - 1))


@cocotb.test()
async def overflow_run(dut):
    """Runs of the largest positive then negative products across the accumulator's range:
    wrap or saturate (a derived accumulator holds ``depth`` of them, so this takes a few
    times ``depth`` inputs)."""
    tb = await FpMacTestbench.begin(dut)
    cfg = tb.cfg
    wmax = _largest(cfg.weight, 0)
    biggest = cfg.weight.max * cfg.activation.max * cfg.lanes
    steps = min((1 << cfg.acc.bits) // biggest + 8, 3000)
    clear = np.zeros(steps, dtype=bool)
    clear[0] = True
    for tag, sign in (("up", 0), ("down", 1)):
        codes = np.full((steps, cfg.lanes), wmax)
        act = np.full((steps, cfg.lanes), _largest(cfg.activation, sign))
        await tb.drive(codes, act, clear=clear if tag == "up" else None, tag=tag)
    await tb.finish()


@cocotb.test()
async def clear_and_reset(dut):
    """Clear without valid zeroes the sum and the special state; reset mid-stream drops the
    sum and in-flight data."""
    tb = await FpMacTestbench.begin(dut)
    cfg, rng = tb.cfg, tb.rng
    n = 12
    codes = random_codes(rng, cfg.weight, (n, cfg.lanes), 0.3)
    act = random_codes(rng, cfg.activation, (n, cfg.lanes), 0.3)
    await tb.drive(codes, act, tag="before")
    idle = np.zeros((2, cfg.lanes), dtype=np.int64)
    await tb.drive(idle, idle, valid=[False, False], clear=[True, False], tag="idle-clear")
    await tb.drive(codes, act, tag="after-clear")
    await tb.finish()
    await tb.drive(codes[:3], act[:3], tag="in-flight")
    await tb.reset()
    await tb.drive(codes, act, tag="after-reset")
    await tb.finish()
