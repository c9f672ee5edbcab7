"""Golden model of per-group dequantization (``qtpe.hdl.dequant``)."""

import numpy as np

from qtpe.hdl.formats import AccType, GroupScale, Overflow, ScaleKind

from .formats import fit

__all__ = ["check_scales", "scale_partial_sum", "grouped_gemm"]


def check_scales(scales, group: GroupScale) -> np.ndarray:
    """Return ``scales`` as int64, or raise ValueError naming the first out-of-range value."""
    v = np.asarray(scales, dtype=np.int64)
    bad = (v < 0) | (v > group.max_scale)
    if bad.any():
        what = "scale" if group.kind is ScaleKind.INT else "scale exponent"
        raise ValueError(f"{what} {int(v[bad].flat[0])} is outside 0..{group.max_scale} "
                         f"({group.bits}-bit {group.kind.value})")
    return v


def scale_partial_sum(psum, scale, group: GroupScale) -> np.ndarray:
    """``psum * scale`` for ``INT``, ``psum * 2**scale`` for ``POT``; exact int64."""
    p = np.asarray(psum, dtype=np.int64)
    s = check_scales(scale, group)
    if group.kind is ScaleKind.INT:
        return p * s
    return p << s


def grouped_gemm(A, W, group: GroupScale, scales, zeros, acc: AccType) -> np.ndarray:
    """``C = A @ W`` with per-group dequantization, bit-exact to a group-scaled accumulator.

    ``A`` (M x K) and ``W`` (K x N) are values (decoded operands); ``scales`` and ``zeros``
    (``None``: no zero points) are ``ceil(K / group.size)`` x N. For each output, groups are
    taken in ascending K: the group's sum ``sum_k (W[k, n] - zeros[g, n]) * A[m, k]`` is exact,
    scaled exactly (``scale_partial_sum``) and added to the accumulator, which wraps or
    saturates (``acc``) after every group. A last partial group counts its own weights only.
    """
    A = np.asarray(A, dtype=np.int64)
    W = np.asarray(W, dtype=np.int64)
    M, K = A.shape
    N = W.shape[1]
    ng = -(-K // group.size)
    s = check_scales(scales, group)
    z = np.zeros((ng, N), dtype=np.int64) if zeros is None else np.asarray(zeros, np.int64)
    if s.shape != (ng, N) or z.shape != (ng, N):
        raise ValueError(f"scales and zeros must be {ng} x {N} (groups x N), not "
                         f"{s.shape[0]} x {s.shape[1]} and {z.shape[0]} x {z.shape[1]}")
    total = np.zeros((M, N), dtype=object)
    for g in range(ng):
        ks = slice(g * group.size, min((g + 1) * group.size, K))
        part = A[:, ks].astype(object) @ (W[ks].astype(object) - z[g].astype(object))
        part = part * (s[g].astype(object) if group.kind is ScaleKind.INT
                       else np.array([1 << int(e) for e in s[g]], dtype=object))
        total = total + part
        if acc.overflow is Overflow.SATURATE:
            total = fit(total, acc).astype(object)
    return fit(total, acc)
