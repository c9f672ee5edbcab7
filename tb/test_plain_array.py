"""cocotb test of the plain hand-written baseline ``bench/ref/plain_mac_array.v`` (R x C
registered INT8 MACs, accumulators as ports, no skew or readout) against the golden model.

The baseline has no tile protocol, so the test is its user: it skews the operands itself (row
``r``'s activations ``r`` cycles late, column ``c``'s weights ``c`` cycles late, each row's
clear flag with its row's first activation), streams tiles back to back, and reads accumulator
``(r, c)`` in the one cycle it holds its finished sum, ``K + r + c + 1`` cycles after its
tile's first beat (the next tile then overwrites it). Tiles: random int8 operands, then only
the most-negative value (every product +2^14). The expected sums are
``qtpe.tb.models.gemm.gemm`` for the reference array's config (int8 x int8, 32-bit wrapping
accumulators): the same model the generated arrays are checked against.
"""

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, RisingEdge

from qtpe.hdl.array_config import ArrayConfig
from qtpe.hdl.kind_mac import MacConfig
from qtpe.tb.common import make_rng
from qtpe.tb.models.gemm import gemm


def _pack(values, bits: int) -> int:
    word = 0
    for i, v in enumerate(values):
        word |= (int(v) & ((1 << bits) - 1)) << (i * bits)
    return word


@cocotb.test()
async def back_to_back_tiles(dut):
    R, C = len(dut.a_in) // 8, len(dut.w_in) // 8
    cfg = ArrayConfig(MacConfig(name="plain", acc_bits=32), rows=R, cols=C)
    rng = make_rng(dut)
    tiles = []
    for K in (R + 3, 1, 2 * R, R):
        tiles.append((rng.integers(-128, 128, (R, K)), rng.integers(-128, 128, (K, C))))
    tiles.append((np.full((R, 40), -128), np.full((40, C), -128)))
    starts, t = [], 0
    for A, _ in tiles:
        starts.append(t)
        t += A.shape[1]
    total = t + R + C + 2
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    got = [np.zeros((R, C), dtype=np.int64) for _ in tiles]
    seen = [np.zeros((R, C), dtype=bool) for _ in tiles]
    for cycle in range(total):
        await FallingEdge(dut.clk)
        a, w, clear = [0] * R, [0] * C, [0] * R
        for i, (A, W) in enumerate(tiles):
            K = A.shape[1]
            for r in range(R):
                k = cycle - r - starts[i]
                if 0 <= k < K:
                    a[r], clear[r] = A[r, k], int(k == 0)
            for c in range(C):
                k = cycle - c - starts[i]
                if 0 <= k < K:
                    w[c] = W[k, c]
        dut.a_in.value = _pack(a, 8)
        dut.w_in.value = _pack(w, 8)
        dut.clear_in.value = _pack(clear, 1)
        due = [(i, r, c) for i, (A, _) in enumerate(tiles) for r in range(R) for c in range(C)
               if cycle == starts[i] + A.shape[1] + r + c + 1]
        if due:
            acc = dut.acc.value
            for i, r, c in due:
                v = int(acc[(r * C + c) * 32 + 31:(r * C + c) * 32])
                got[i][r, c] = v - (1 << 32) if v >> 31 else v
                seen[i][r, c] = True
        await RisingEdge(dut.clk)
    for i, (A, W) in enumerate(tiles):
        assert seen[i].all(), f"tile {i}: not every accumulator was read"
        want = gemm(cfg, A, W)
        bad = np.argwhere(got[i] != want)
        assert not len(bad), (f"tile {i} (K = {A.shape[1]}): {len(bad)} of {R * C} sums differ, "
                              f"first at {bad[0].tolist()}: {got[i][tuple(bad[0])]} != "
                              f"{want[tuple(bad[0])]}")
