"""Golden model of a GEMM through ``qtpe.hdl.array.SystolicArray``, bit-exact.

``gemm(cfg, A, W)`` is ``C = A @ W`` as the array computes it:

* **OS**: every output accumulates its reduction in beats of ``lanes`` products, in ascending
  ``k``; each beat adds the exact dot product of its ``lanes`` pairs and wraps or saturates to
  the accumulator (as ``MacPE``). With ``lanes = 1`` that is one product per step.
* **WS**: the reduction is cut into tiles of ``rows * lanes`` (zero padded at the end); each
  tile's partial sum is exact and is added to the accumulator, which wraps or saturates.
* **IS**: the same with tiles of ``rows * cols * lanes`` (an activation tile).
* With wrapping both equal ``A @ W`` wrapped once; with saturation they differ from
  ``clip(A @ W)`` only where a partial sum leaves the range.
* Operands are as ``qtpe.tb.models.formats.Operand`` says: values of integer grids, codes of
  the other formats (decoded by the format's value table).
* Requantization (``cfg.requant``): ``clip(floor((x * scale + r) / 2^shift), -128, 127)``,
  ``r = 2^(shift-1)`` (0 for shift 0), per output column ``n`` (``scale[n]``, ``shift[n]``).

Pure numpy; no cocotb, no Amaranth.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qtpe.hdl.array_config import ArrayConfig
from qtpe.hdl.formats import Overflow

from .dequant import grouped_gemm
from .formats import Operand, fit
from .operands import ceil_div, check_gemm, check_quant, special_weights

__all__ = ["gemm", "requantize", "pad", "GemmRun"]


def requantize(x, scale, shift) -> np.ndarray:
    """``clip(floor((x * scale + r) / 2^shift), -128, 127)``, ``r = 2^(shift-1)`` or 0.

    ``x`` (..., N), ``scale``/``shift`` broadcast over the last axis. Exact (Python integers
    where int64 could overflow)."""
    x = np.asarray(x, dtype=np.int64)
    scale = np.broadcast_to(np.asarray(scale, dtype=np.int64), x.shape)
    shift = np.broadcast_to(np.asarray(shift, dtype=np.int64), x.shape)
    big = (np.abs(x).max(initial=0).item().bit_length() + 16 + 2) > 62
    if big:
        xs, ss, hs = x.astype(object), scale.astype(object), shift.astype(object)
    else:
        xs, ss, hs = x, scale, shift
    half = np.where(shift > 0, np.left_shift(1, np.maximum(shift - 1, 0)), 0)
    if big:
        half = half.astype(object)
    y = (xs * ss + half) >> hs
    return np.clip(y, -128, 127).astype(np.int64)


def pad(x: np.ndarray, rows: int, cols: int, dtype=np.int64) -> np.ndarray:
    """``x`` in the top-left corner of a ``rows`` x ``cols`` array of zeros."""
    out = np.zeros((rows, cols), dtype=dtype)
    out[: x.shape[0], : x.shape[1]] = x
    return out


def _wrap64(x: np.ndarray) -> np.ndarray:
    """Exact integers (int64, or Python ints) modulo 2^64 as int64: enough for any
    accumulator of at most 62 bits that wraps (wider ones stay in Python integers)."""
    if x.dtype != object:
        return x
    return np.array([((int(v) + (1 << 63)) % (1 << 64)) - (1 << 63) for v in x.flat],
                    dtype=np.int64).reshape(x.shape)


def gemm(cfg: ArrayConfig, A, W, scale=None, shift=None, quant=None) -> np.ndarray:
    """``C = A @ W`` (M x N, int64) exactly as the array computes it (see the module doc);
    with ``group_size``, per-group dequantization with ``groups``
    (``qtpe.tb.models.dequant.grouped_gemm``: each group's exact sum of ``(w - zero) * a``
    scaled and accumulated, the accumulator wrapping or saturating after every group; the
    bit-serial ``special`` type's codes first replaced by their special values,
    ``special_weights``)."""
    A, W, scale, shift = check_gemm(cfg, A, W, scale, shift)
    quant = check_quant(cfg, W, quant)
    if quant is not None and quant.scales is not None:
        Wv = special_weights(cfg, Operand(cfg.weight).values(W), quant)
        acc = grouped_gemm(Operand(cfg.activation).values(A), Wv, cfg.group, quant.scales,
                           quant.zeros, cfg.acc)
        return requantize(acc, scale, shift) if cfg.requant else acc
    step = cfg.tile_k
    K = A.shape[1]
    Kp = ceil_div(K, step) * step
    aop, wop = Operand(cfg.activation), Operand(cfg.weight)
    Av, Wv = aop.values(A), wop.values(W)
    # Padding: zero activations make any padded weight harmless.
    Ap, Wp = pad(Av, A.shape[0], Kp, Av.dtype), pad(Wv, Kp, W.shape[1], Wv.dtype)
    # Exact in int64 unless a partial sum could leave it (pot8 weights reach 2^127): then in
    # Python integers.
    bound = wop.largest_value * aop.largest_value * Kp
    wide = cfg.acc.bits > 62  # results beyond int64 (Kulisch accumulators of wide floats)
    exact = np.int64 if bound < (1 << 62) and not wide else object
    held = object if wide else np.int64
    Ap, Wp = Ap.astype(exact), Wp.astype(exact)
    if cfg.acc.overflow is Overflow.WRAP:  # wrapping is a ring homomorphism: once at the end
        acc = fit(Ap @ Wp if wide else _wrap64(Ap @ Wp), cfg.acc)
    else:
        acc = np.zeros((A.shape[0], W.shape[1]), dtype=held)
        lo, hi = cfg.acc.min, cfg.acc.max
        for k0 in range(0, Kp, step):
            part = Ap[:, k0:k0 + step] @ Wp[k0:k0 + step, :]
            acc = np.clip(acc.astype(exact) + part, lo, hi).astype(held)
    if cfg.requant:
        return requantize(acc, scale, shift)
    return acc


@dataclass(frozen=True)
class GemmRun:
    """One GEMM through the simulated array: its result ``C``, the golden model's
    ``expected``, the cycles counted and expected, the wall seconds of the simulation phase
    (the harness streaming), and the useful MACs (M * N * K)."""

    config: ArrayConfig
    C: np.ndarray
    expected: np.ndarray
    cycles: int
    expected_cycles: int
    seconds: float
    macs: int

    @property
    def mismatches(self) -> int:
        return int(np.count_nonzero(self.C != self.expected))

    @property
    def ok(self) -> bool:
        return self.mismatches == 0

    @property
    def macs_per_cycle(self) -> float:
        return self.macs / self.cycles

    @property
    def utilization(self) -> float:
        """Achieved MACs per cycle over the array's peak (``config.macs_per_cycle``)."""
        return self.macs_per_cycle / self.config.macs_per_cycle

    @property
    def cycles_per_second(self) -> float:
        return self.cycles / self.seconds if self.seconds > 0 else float("inf")
