"""cocotb tests for ``SystolicArray`` through the GEMM harness (config in ``QTPE_CONFIG``).

Every GEMM runs whole in the simulator (no Python per cycle); results are checked against the
golden model element by element and the cycle count against ``expected_cycles``.
"""

import cocotb
import numpy as np

from qtpe.tb.array import GemmHarness, load_array_config
from qtpe.tb.common import make_rng
from qtpe.tb.models.formats import Operand
from qtpe.tb.models.operands import random_gemm


def check(h, run, what):
    text = h.report(run, what)
    assert run.mismatches == 0, (
        f"{text}\nfirst mismatches at {np.argwhere(run.C != run.expected)[:5].tolist()}")
    assert run.cycles == run.expected_cycles, text


@cocotb.test()
async def random_gemms(dut):
    """Random GEMMs with odd M, K, N: smaller and larger than the array, one tile, many;
    tiles of one beat back to back (OS: each held back until ``min_tile_period``); with
    groups, a K of two and a half groups."""
    cfg = load_array_config()
    rng = make_rng(dut)
    h = GemmHarness(dut, cfg)
    R, C = cfg.rows, cfg.cols
    long_k = 2 * cfg.min_tile_period * cfg.lanes + 3
    shapes = [(5, 7, 3), (9, 13, 11), (1, 1, 1), (R, 1, C), (2 * R + 1, long_k, C + 2),
              (2 * R + 1, 1, C + 1)]
    if cfg.group_size:  # two whole groups and a part one
        shapes.append((2 * R + 1, 2 * cfg.group_size + cfg.group_size // 2 + 1, C + 3))
    for M, K, N in shapes:
        check(h, await h.run(*random_gemm(cfg, rng, M, K, N)), f"{M}x{K}x{N}")


@cocotb.test()
async def extreme_gemms(dut):
    """Only the most-negative/largest operands: the longest overflow runs (wrap or
    saturation where the accumulator is small), then all corner values."""
    cfg = load_array_config()
    rng = make_rng(dut)
    h = GemmHarness(dut, cfg)
    M, N = cfg.rows + 1, cfg.cols + 1
    K = 3 * cfg.rows * cfg.lanes + 5
    a_min, a_max = Operand(cfg.activation).extremes()
    A = np.full((M, K), a_min if cfg.activation.signed else a_max)
    w_min, w_max = Operand(cfg.weight).extremes()
    W = np.full((K, N), w_min if cfg.weight.signed else w_max)
    W[:, 1::2] = w_max
    _, _, scale, shift, quant = random_gemm(cfg, rng, M, K, N)
    if quant is not None:  # the largest scales (and zero points 0: the largest w - z; the
        # most negative special values, which the most negative weights stand for), at full
        # precision
        quant = type(quant)(
            None if quant.scales is None else np.full_like(quant.scales, cfg.group.max_scale),
            None if quant.zeros is None else np.zeros_like(quant.zeros), None,
            None if quant.specials is None else np.full_like(
                quant.specials, -(1 << (cfg.pe_config.special_bits - 1))))
    check(h, await h.run(A, W, scale, shift, quant), f"extreme {M}x{K}x{N}")
    check(h, await h.run(*random_gemm(cfg, rng, M, K, N, corner_fraction=1.0)),
          f"corners {M}x{K}x{N}")


@cocotb.test()
async def gemms_with_input_bubbles(dut):
    """Random GEMMs with ``in_valid`` low in pseudo-random cycles (the harness's ``bubbles``
    LFSR, about one cycle in four): the same results as back to back, in more cycles. State
    that must hold still while no beat arrives (a weight-stationary shadow weight, a column
    accumulator between steps) is seen to."""
    cfg = load_array_config()
    rng = make_rng(dut)
    h = GemmHarness(dut, cfg)
    R, C = cfg.rows, cfg.cols
    long_k = 2 * cfg.min_tile_period * cfg.lanes + 3
    dut.bubbles.value = int(rng.integers(1, 1 << 16))
    cycles = expected = 0
    try:
        for M, K, N in [(5, 7, 3), (2 * R + 1, long_k, C + 2)]:
            run = await h.run(*random_gemm(cfg, rng, M, K, N))
            text = h.report(run, f"bubbles {M}x{K}x{N}")
            assert run.mismatches == 0, (
                f"{text}\nfirst mismatches at "
                f"{np.argwhere(run.C != run.expected)[:5].tolist()}")
            cycles, expected = cycles + run.cycles, expected + run.expected_cycles
    finally:
        dut.bubbles.value = 0
    # A short GEMM may see no bubble while its beats stream (the LFSR's start is random);
    # the long one cannot miss them all.
    assert cycles > expected, f"no bubble slowed the GEMMs down ({cycles} cycles)"
