"""cocotb tests for ``LutTile`` (run through ``qtpe.sim.runner``; config in ``QTPE_CONFIG``)."""

import itertools

import cocotb
import numpy as np
from cocotb.triggers import ReadOnly, RisingEdge

from qtpe.tb.models.formats import random_operands
from qtpe.tb.models.lut import encode, tile_ports
from qtpe.tb.pe_lut import LutTestbench

CODE_TUPLES_MAX = 4096


def n_codes(cfg) -> int:
    return 1 << cfg.weight.bits


def zero_points(cfg) -> list[int]:
    return list(range(n_codes(cfg))) if cfg.has_zero else [0]


def corner_acts(cfg, rng) -> np.ndarray:
    """Activation vectors: all most-negative, all largest, alternating, with zeros, random."""
    a, g = cfg.activation, cfg.g
    rows = [[a.min] * g, [a.max] * g, ([a.min, a.max] * g)[:g], ([a.max, a.min] * g)[:g],
            ([a.min, 0] * g)[:g], ([-1, a.min, 1] * g)[:g]]
    rows += list(random_operands(rng, a, (2, g)))
    return np.array(rows, dtype=np.int64)


def random_inputs(cfg, rng, n):
    codes = rng.integers(0, n_codes(cfg), (n, cfg.sharing, cfg.g))
    act = random_operands(rng, cfg.activation, (n, cfg.g), corner_fraction=0.3)
    zero = rng.integers(0, n_codes(cfg), (n, cfg.sharing)) if cfg.has_zero else None
    return codes, act, zero


@cocotb.test()
async def random_stream(dut):
    """Random codes, zero points and activations (30% corners), random valid and clear."""
    tb = await LutTestbench.begin(dut)
    cfg, rng = tb.cfg, tb.rng
    n = 1500
    codes, act, zero = random_inputs(cfg, rng, n)
    await tb.drive(codes, act, rng.random(n) < 0.8, rng.random(n) < 0.08, zero, tag="random")
    await tb.finish()


@cocotb.test()
async def every_code(dut):
    """Every weight code (with every zero point for uint<b>) against corner activation vectors
    (most-negative included), alone and accumulated. PE ``p`` takes code ``c + p`` on every
    position, then ``c + p + j`` on position ``j``."""
    tb = await LutTestbench.begin(dut)
    cfg, rng = tb.cfg, tb.rng
    acts = corner_acts(cfg, rng)
    rows_codes, rows_act, rows_zero = [], [], []
    for c, z, a, spread in itertools.product(range(n_codes(cfg)), zero_points(cfg), acts,
                                             (0, 1)):
        codes = [[(c + p + spread * j) % n_codes(cfg) for j in range(cfg.g)]
                 for p in range(cfg.sharing)]
        rows_codes.append(codes)
        rows_act.append(a)
        rows_zero.append([(z + p) % len(zero_points(cfg)) for p in range(cfg.sharing)])
    n = len(rows_act)
    clear = np.ones(n, dtype=bool)
    await tb.drive(rows_codes, rows_act, clear=clear, zero=rows_zero, tag="alone")
    await tb.drive(rows_codes, rows_act, zero=rows_zero, tag="accumulated")
    await tb.finish()


@cocotb.test()
async def code_tuples(dut):
    """All g-tuples of codes when there are at most 4096 (else 4096 random ones): every
    bit-plane index, each with a corner or random activation vector and zero point."""
    tb = await LutTestbench.begin(dut)
    cfg, rng = tb.cfg, tb.rng
    if n_codes(cfg) ** cfg.g <= CODE_TUPLES_MAX:
        tuples = np.array(list(itertools.product(range(n_codes(cfg)), repeat=cfg.g)))
    else:
        tuples = rng.integers(0, n_codes(cfg), (CODE_TUPLES_MAX, cfg.g))
    n = len(tuples)
    acts = corner_acts(cfg, rng)
    act = acts[np.arange(n) % len(acts)]
    codes = np.stack([np.roll(tuples, p, axis=0) for p in range(cfg.sharing)], axis=1)
    zero = rng.integers(0, n_codes(cfg), (n, cfg.sharing)) if cfg.has_zero else None
    await tb.drive(codes, act, clear=np.ones(n, dtype=bool), zero=zero, tag="tuple")
    await tb.finish()


@cocotb.test()
async def overflow_run(dut):
    """Long runs of the largest positive dot product (most-negative weights and activations),
    then of the most negative one: wrap or saturate, at both ends."""
    tb = await LutTestbench.begin(dut)
    cfg = tb.cfg
    w_lo, w_hi = cfg.weight_range
    a = cfg.activation
    down = min(((w, x) for w in (w_lo, w_hi) for x in (a.min, a.max)), key=lambda p: p[0] * p[1])
    for tag, (w, x) in (("up", (w_lo, a.min)), ("down", down)):
        zero = n_codes(cfg) - 1 if cfg.has_zero and w < 0 else 0  # uint: 0 - zero = -(2^b - 1)
        # Inputs to cross the accumulator range once (capped).
        steps = min((1 << cfg.acc.bits) // (abs(w * x) * cfg.g) + 8, 1000)
        clear = np.arange(steps) == 0 if tag == "up" else None
        await tb.drive(np.full((steps, cfg.g), encode(cfg, w, zero)), np.full((steps, cfg.g), x),
                       clear=clear, zero=np.full(steps, zero), tag=tag)
    await tb.finish()


@cocotb.test()
async def clear_reset_and_latency(dut):
    """``out_valid`` comes exactly ``latency`` cycles after an input; clear without valid
    zeroes the sums; reset mid-stream drops the sums and in-flight inputs."""
    tb = await LutTestbench.begin(dut)
    cfg, rng = tb.cfg, tb.rng
    codes, act, zero = random_inputs(cfg, rng, 12)
    zero = np.zeros((12, cfg.sharing), np.int64) if zero is None else zero

    ports = {"act": act[0], **tile_ports(cfg, codes[0], zero[0])}
    tb.set_inputs(True, True, **ports)
    tb.expect(tb.model.step(True, True, **ports), "latency probe")
    seen = []
    for cycle in range(1, cfg.latency + 3):
        await RisingEdge(dut.clk)
        tb.idle()
        await ReadOnly()
        if dut.out_valid.value:
            seen.append(cycle)
    assert seen == [cfg.latency], f"out_valid after cycles {seen}, latency is {cfg.latency}"
    await RisingEdge(dut.clk)

    await tb.drive(codes, act, zero=zero, tag="before")
    await tb.drive(codes[:2], act[:2], valid=[False, False], clear=[True, False],
                   zero=zero[:2], tag="idle-clear")
    await tb.drive(codes, act, zero=zero, tag="after-clear")
    await tb.finish()
    await tb.drive(codes[:3], act[:3], zero=zero[:3], tag="in-flight")
    await tb.reset()
    await tb.drive(codes, act, zero=zero, tag="after-reset")
    await tb.finish()
