"""A ready group quantizer for real layers: float weights to a PE format with one integer (or
power-of-two) scale and an optional zero point per group of ``size`` weights along K and per
output column, round to nearest with a clipping search.

What the hardware computes with the result (``qtpe.tb.models.dequant.grouped_gemm``) is, per
output, ``sum_g scale[g, n] * sum_{k in g} (w[k, n] - zero[g, n]) * a[m, k]`` with integer
scales; the float layer it stands for is ``unit`` times that: ``W ~ unit * scale * (w - z)``
(``GroupQuant.dequantized``). ``unit`` is one float for the whole matrix (what a requantizer
or the next layer folds in).

Method (per group and column): for each clipping ratio ``rho`` of ``CLIP_RATIOS``, the float
step is ``rho * max|w| / d`` for ``d`` the grid's largest positive value and its largest
negative magnitude (both tried where they differ: int2's -2 is used); with zero points
``rho * (max(w, 0) - min(w, 0)) / (2^b - 1)`` and ``z = round(-min(w, 0) / step)``. The step
is quantized to the integer scale grid (``unit * s``, ``s`` in
``1 .. 2^bits - 1``; or ``unit * 2^e``, ``e`` in ``0 .. 2^bits - 1``), and every weight
rounded to the nearest value of the format's grid (``Format.values()``: any format's values,
so pot/apot/ternary codes are searched the same way; ties to the smaller value); the ratio
with the least squared error wins. ``unit`` is set once from the unclipped steps, so that the
largest step is the largest scale. Pure numpy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qtpe.hdl.formats import Format, GroupScale, QType, ScaleKind

from .formats import Operand, value_table

__all__ = ["GroupQuant", "quantize", "CLIP_RATIOS", "scale_values"]

#: The clipping ratios the search tries (1.0: no clipping).
CLIP_RATIOS = (1.0, 0.95, 0.9, 0.85, 0.8, 0.75, 0.7, 0.65, 0.6, 0.55, 0.5)


def scale_values(scales, group: GroupScale) -> np.ndarray:
    """The multiplier each scale field stands for: the integer itself, or ``2^e``."""
    s = np.asarray(scales, dtype=np.int64)
    return s if group.kind is ScaleKind.INT else np.left_shift(np.int64(1), s)


@dataclass(frozen=True)
class GroupQuant:
    """A group-quantized K x N weight matrix.

    Attributes:
        weights: the GEMM weight operands (``qtpe.tb.models.formats.Operand``: values of
            integer grids, codes of the other formats), K x N.
        scales: ``ceil(K / size)`` x N scale fields (integer scales or exponents).
        zeros: the zero points (same shape, ``0 .. 2^b - 1``), or ``None``.
        unit: the float that one integer unit of ``scale * (w - z)`` stands for.
        fmt, group: the weight format and the group scale record.
    """

    weights: np.ndarray
    scales: np.ndarray
    zeros: np.ndarray | None
    unit: float
    fmt: Format
    group: GroupScale
    specials: np.ndarray | None = None

    def values(self) -> np.ndarray:
        """The weights' values (K x N, int64): grid values, with ``specials`` the special
        code ``-2^(b-1)`` replaced by its group's special value."""
        op = Operand(self.fmt)
        v = value_table(self.fmt)[self.weights] if op.is_code else self.weights
        if self.specials is None:
            return v
        per_k = np.repeat(np.arange(self.scales.shape[0]), self.group.size)[: v.shape[0]]
        return np.where(v == self.fmt.min, self.specials[per_k], v)

    def integer_weights(self) -> np.ndarray:
        """``scale[g, n] * (w[k, n] - zero[g, n])`` for every weight (K x N, exact integers):
        the dequantized matrix in units of ``unit``."""
        w = self.values().astype(object)
        per_k = np.repeat(np.arange(self.scales.shape[0]), self.group.size)[: w.shape[0]]
        z = 0 if self.zeros is None else self.zeros[per_k].astype(object)
        return scale_values(self.scales, self.group)[per_k].astype(object) * (w - z)

    def dequantized(self) -> np.ndarray:
        """The float matrix the quantized weights stand for."""
        return self.unit * self.integer_weights().astype(np.float64)


def _nearest(grid: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The value of the sorted ``grid`` nearest to each ``x`` (ties to the smaller)."""
    i = np.clip(np.searchsorted(grid, x), 1, len(grid) - 1)
    lo, hi = grid[i - 1], grid[i]
    return np.where(x - lo <= hi - x, lo, hi)


def _scale_fields(step: np.ndarray, unit: float, group: GroupScale) -> np.ndarray:
    """The scale fields nearest to ``step / unit`` (in log for exponents), in range."""
    ratio = np.maximum(step / unit, np.finfo(np.float64).tiny)
    if group.kind is ScaleKind.INT:
        return np.clip(np.rint(ratio), 1, group.max_scale).astype(np.int64)
    return np.clip(np.rint(np.log2(ratio)), 0, group.max_scale).astype(np.int64)


def quantize(W, fmt: Format, group: GroupScale, zero_points: bool = False,
             ratios=CLIP_RATIOS, special_bits: int = 0) -> GroupQuant:
    """Quantize float weights ``W`` (K x N) to ``fmt`` with ``group`` scales per group of
    ``group.size`` along K and per column (the module docstring has the method).
    ``zero_points`` needs an unsigned integer grid (``uint<N>``). ``special_bits`` > 0
    (signed ``int<b>`` grids): the BitMoD special type, the grid without its most negative
    value ``-2^(b-1)``, whose code stands for a special value per group and column (signed
    ``special_bits``): for each scale tried, the value with the least squared error over the
    group (each weight taking the nearer of its grid value and the special one) is chosen.
    ValueError (one line) for what it does not take."""
    W = np.asarray(W, dtype=np.float64)
    if W.ndim != 2 or not np.isfinite(W).all():
        raise ValueError(f"weights must be a finite K x N float matrix, not shape {W.shape}")
    grid = np.unique(value_table(fmt).astype(np.int64))
    if zero_points and not (isinstance(fmt, QType) and not fmt.signed):
        raise ValueError(f"zero points need uint<N> weights, not {fmt}")
    if special_bits and not (isinstance(fmt, QType) and fmt.signed and fmt.bits > 1
                             and not zero_points):
        raise ValueError(f"special values need int<N> weights of 2 bits or more and no zero "
                         f"points, not {fmt}")
    if special_bits:
        grid = grid[1:]  # -2^(b-1) is the special code
        candidates = np.arange(-(1 << (special_bits - 1)), 1 << (special_bits - 1))
    if not zero_points and grid.max() <= 0:
        raise ValueError(f"{fmt} has no positive value to scale to")
    K, N = W.shape
    G = group.size
    ng = -(-K // G)
    padded = np.zeros((ng * G, N))
    padded[:K] = W
    blocks = padded.reshape(ng, G, N)
    valid = (np.arange(ng * G) < K).reshape(ng, G, 1)
    hi, lo = blocks.max(axis=1), blocks.min(axis=1)  # (ng, N)
    if zero_points:  # the range, 0 included, over the grid's 2^b - 1 steps
        bases = [(np.maximum(hi, 0) - np.minimum(lo, 0)) / grid.max()]
    else:  # the largest magnitude onto the grid's largest positive or negative value
        tops = {int(grid.max()), int(-grid.min())}
        if special_bits:  # the special value may stand for -2^(b-1) or an outlier beyond
            tops.add(-fmt.min)
        bases = [np.maximum(np.abs(hi), np.abs(lo)) / d for d in sorted(tops) if d > 0]
    bases = [np.where(b > 0, b, 1.0) for b in bases]  # an all-zero group: any step gives 0
    top = max(b.max() for b in bases)  # the largest step is the largest scale
    unit = top / (group.max_scale if group.kind is ScaleKind.INT else 2.0 ** group.max_scale)
    best_err = np.full((ng, N), np.inf)
    best = None
    for base in bases:
        for rho in ratios:
            fields = _scale_fields(rho * base, unit, group)
            step = unit * scale_values(fields, group).astype(np.float64)  # (ng, N)
            if zero_points:
                z = np.clip(np.rint(-np.minimum(lo, 0) / step), 0, grid.max()).astype(np.int64)
            else:
                z = np.zeros((ng, N), dtype=np.int64)
            q = _nearest(grid, blocks / step[:, None, :] + z[:, None, :])
            each = ((q - z[:, None, :]) * step[:, None, :] - blocks) ** 2 * valid
            x = np.zeros((ng, N), dtype=np.int64)
            if special_bits:  # the special value that lowers the group's error most
                err = each.sum(axis=1)
                for cand in candidates:
                    e = (np.minimum(each, (cand * step[:, None, :] - blocks) ** 2) * valid)
                    e = e.sum(axis=1)
                    x = np.where(e < err, cand, x)
                    err = np.minimum(e, err)
                use = (x[:, None, :] * step[:, None, :] - blocks) ** 2 < each
                q = np.where(use, fmt.min, q)
            else:
                err = each.sum(axis=1)
            better = err < best_err
            best_err = np.where(better, err, best_err)
            if best is None:
                best = [fields, z, q, x]
            else:
                best[0] = np.where(better, fields, best[0])
                best[1] = np.where(better, z, best[1])
                best[2] = np.where(better[:, None, :], q, best[2])
                best[3] = np.where(better, x, best[3])
    fields, z, q, x = best
    values = q.reshape(ng * G, N)[:K].astype(np.int64)
    op = Operand(fmt)
    weights = (np.vectorize(fmt.code_of, otypes=[np.int64])(values) if op.is_code else values)
    return GroupQuant(weights, fields, z if zero_points else None, float(unit), fmt, group,
                      x if special_bits else None)
