"""GEMM operands: the checks every GEMM runs before anything is built, and random operands.

``check_gemm(cfg, A, W, scale, shift)`` validates a GEMM for an array config: ``A`` (M x K) and
``W`` (K x N) are 2-D integer arrays whose entries are operands of the activation and weight
formats (``qtpe.tb.models.formats.Operand``: values of integer grids, codes of the other
formats), or float arrays of values each format holds exactly (mapped to those operands),
and, with requantization, a scale and a shift per output column. Every problem is a
``GemmOperandError`` with a one-line message naming the first bad value and what is allowed.
Pure numpy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qtpe.hdl.array_config import ArrayConfig
from qtpe.hdl.formats import ScaleKind

from .formats import Operand

__all__ = ["GemmOperandError", "QuantOperands", "check_gemm", "check_quant", "random_gemm",
           "special_weights", "ceil_div"]


@dataclass(frozen=True)
class QuantOperands:
    """The quantization operands of a GEMM besides A and W. On an array with ``group_size``:
    ``scales`` (groups x N, ``groups = ceil(K / group_size)``: integer scales, or exponents
    for ``group_scale = "pot"``) and ``zeros`` (groups x N zero points, with
    ``zero_points``). On a bit-serial array: ``wbits`` (K,), the precision each row of W is
    read at (1 .. ``weight.bits``; the rows one beat or, WS, one reduction tile carries
    share it). On a bit-serial array of the ``special`` type: ``specials`` (groups x N,
    signed ``special_bits``), the value the code ``-2^(p-1)`` stands for in a row of
    precision ``p`` (BitMoD). Fields a config does not use are ``None``."""

    scales: np.ndarray | None = None
    zeros: np.ndarray | None = None
    wbits: np.ndarray | None = None
    specials: np.ndarray | None = None


class GemmOperandError(ValueError):
    """The operands do not fit the array's formats or do not chain; one-line message."""


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _check_matrix(x, name: str, dims: str, op: Operand) -> np.ndarray:
    """``x`` as a 2-D integer array; for a floating-point format, float values (a float
    array) become the codes that hold them exactly (``Operand.from_values``)."""
    x = np.asarray(x)
    floats = bool(op.fmt.frac_bits) and np.issubdtype(x.dtype, np.floating)
    if x.dtype == object or not (np.issubdtype(x.dtype, np.integer) or floats) or x.ndim != 2:
        kinds = "integer (codes) or float (values)" if op.fmt.frac_bits else "integer"
        raise GemmOperandError(f"{name} must be a 2-D {kinds} array ({dims}), not "
                               f"{x.dtype} of shape {x.shape}")
    if 0 in x.shape:
        raise GemmOperandError(f"{name} must not be empty, not of shape {x.shape}")
    if floats:
        try:
            x = op.from_values(x, name)
        except ValueError as exc:
            raise GemmOperandError(str(exc)) from None
    return x


def _check_range(x: np.ndarray, lo: int, hi: int, name: str, what: str) -> np.ndarray:
    """``x`` as int64, or raise naming the first value outside ``lo..hi``."""
    if x.dtype.kind == "u" and x.dtype.itemsize == 8:
        big = x > np.iinfo(np.int64).max
        if big.any():
            bad = np.argwhere(big)[0]
            raise GemmOperandError(f"{name} value {int(x[tuple(bad)])} at "
                                   f"{list(map(int, bad))} is outside {what} "
                                   f"(allowed {lo}..{hi})")
    v = x.astype(np.int64)
    out = (v < lo) | (v > hi)
    if out.any():
        bad = np.argwhere(out)[0]
        raise GemmOperandError(f"{name} value {int(v[tuple(bad)])} at {list(map(int, bad))} "
                               f"is outside {what} (allowed {lo}..{hi})")
    return v


def check_gemm(cfg: ArrayConfig, A, W, scale=None, shift=None):
    """Validate the operands; return ``(A, W, scale, shift)`` as int64 (scales ``None``
    without requantization). Raise ``GemmOperandError`` naming the first problem."""
    aop, wop = Operand(cfg.activation), Operand(cfg.weight)
    A = _check_matrix(A, "A (activations)", "M x K", aop)
    W = _check_matrix(W, "W (weights)", "K x N", wop)
    if A.shape[1] != W.shape[0]:
        raise GemmOperandError(f"A is {A.shape[0]} x {A.shape[1]} but W is {W.shape[0]} x "
                               f"{W.shape[1]}: the reduction sizes K differ")
    A = _check_range(A, aop.min, aop.max, "A (activations)", aop.what)
    W = _check_range(W, wop.min, wop.max, "W (weights)", wop.what)
    for op, x, name in ((aop, A, "A (activations)"), (wop, W, "W (weights)")):
        try:
            op.check_finite(x, name)
        except ValueError as exc:
            raise GemmOperandError(str(exc)) from None
    rq = cfg.requantizer
    if rq is None:
        if scale is not None or shift is not None:
            raise GemmOperandError("scale and shift need an array with requant = true")
        return A, W, None, None
    n = W.shape[1]
    out = []
    for name, v, hi in (("scale", scale, rq.max_scale), ("shift", shift, rq.max_shift)):
        if v is None:
            raise GemmOperandError(f"requant = true needs a {name} per output column ({n})")
        v = np.asarray(v)
        if v.ndim == 0:
            v = np.full(n, v)
        if v.dtype == object or not np.issubdtype(v.dtype, np.integer) or v.shape != (n,):
            raise GemmOperandError(f"{name} must be an integer vector of N = {n} values, not "
                                   f"{v.dtype} of shape {v.shape}")
        out.append(_check_range(v, 0, hi, name, f"the {name} range"))
    return A, W, out[0], out[1]


def check_quant(cfg: ArrayConfig, W: np.ndarray, quant) -> QuantOperands | None:
    """The quantization operands (``QuantOperands``) of the checked K x N weight operands
    ``W`` as int64, or ``GemmOperandError`` naming the first problem: group scales missing
    where the array has groups or given where it has none, a wrong shape, a value out of
    range; a precision outside 1 .. ``weight.bits``, differing within one beat (WS: one
    reduction tile), or too narrow for a weight of its row. ``None`` when there is nothing
    to give."""
    K, N = W.shape
    quant = quant if quant is not None else QuantOperands()
    scales, zeros, specials = _check_groups(cfg, K, N, quant)
    wbits = _check_wbits(cfg, W, quant.wbits)
    if scales is None and wbits is None:
        return None
    return QuantOperands(scales, zeros, wbits, specials)


def special_weights(cfg: ArrayConfig, W: np.ndarray, quant: QuantOperands) -> np.ndarray:
    """The weight values of a ``special``-type GEMM (checked operands): each code
    ``-2^(p-1)`` (``p`` its row's precision, default ``weight.bits``) replaced by its group's
    special value for the column; ``W`` itself for the other types."""
    if quant is None or quant.specials is None:
        return W
    K = W.shape[0]
    p = (np.full(K, cfg.weight.bits, dtype=np.int64) if quant.wbits is None
         else quant.wbits.astype(np.int64))
    code = -(np.left_shift(np.int64(1), p - 1))
    g = np.arange(K) // cfg.group_size
    return np.where(W == code[:, None], quant.specials[g], W)


def _check_groups(cfg: ArrayConfig, K: int, N: int, quant: QuantOperands):
    group = cfg.group
    if group is None:
        if quant.scales is not None or quant.zeros is not None or quant.specials is not None:
            raise GemmOperandError("group scales, zero points and special values need an "
                                   "array with group_size > 0")
        return None, None, None
    n_groups = ceil_div(K, group.size)
    if quant.scales is None:
        raise GemmOperandError(f"group_size = {group.size} needs group scales ({n_groups} x "
                               f"{N}: groups x N)")
    out = []
    pot = group.kind is ScaleKind.POT
    zb = cfg.zero_bits
    xb = getattr(cfg.pe_config, "special_bits", 1)
    for name, v, lo, hi, what in (
            ("group scales", quant.scales, 0, group.max_scale,
             f"{group.bits}-bit {'exponents' if pot else 'scales'}"),
            ("zero points", quant.zeros, 0, (1 << zb) - 1, f"{zb}-bit unsigned zero points"),
            ("special values", quant.specials, -(1 << (xb - 1)), (1 << (xb - 1)) - 1,
             f"{xb}-bit signed special values")):
        used = {"zero points": cfg.zero_points, "special values": cfg.specials}.get(name, True)
        if not used:
            if v is not None:
                key = ("zero_points = true" if name == "zero points"
                       else "dtype = 'special' (bit-serial)")
                raise GemmOperandError(f"{name} need an array with {key}")
            out.append(None)
            continue
        if v is None:
            key = "zero_points = true" if name == "zero points" else "dtype = 'special'"
            raise GemmOperandError(f"{key} needs {name} ({n_groups} x {N})")
        v = np.asarray(v)
        if v.dtype == object or not np.issubdtype(v.dtype, np.integer) or \
                v.shape != (n_groups, N):
            raise GemmOperandError(f"{name} must be an integer {n_groups} x {N} array (groups "
                                   f"of {group.size} along K = {K} x N), not {v.dtype} of "
                                   f"shape {v.shape}")
        out.append(_check_range(v, lo, hi, name, what))
    return out[0], out[1], out[2]


def _check_wbits(cfg: ArrayConfig, W: np.ndarray, wbits) -> np.ndarray | None:
    if wbits is None:
        return None
    if not cfg.pe_config.ARRAY_WBITS:
        raise GemmOperandError(f"wbits (a precision per row of W) needs a bit-serial array, "
                               f"not pe = {cfg.pe!r}")
    K = W.shape[0]
    v = np.asarray(wbits)
    if v.dtype == object or not np.issubdtype(v.dtype, np.integer) or v.shape != (K,):
        raise GemmOperandError(f"wbits must be an integer vector of K = {K} precisions (one "
                               f"per row of W), not {v.dtype} of shape {v.shape}")
    top = cfg.weight.bits
    v = _check_range(v, 1, top, "wbits", f"the precisions of {cfg.weight}")
    unit = cfg.tile_k
    for k0 in range(0, K, unit):
        chunk = v[k0:k0 + unit]
        if (chunk != chunk[0]).any():
            bad = k0 + int(np.argmax(chunk != chunk[0]))
            raise GemmOperandError(
                f"wbits of rows {k0} and {bad} differ ({int(chunk[0])} and {int(v[bad])}); "
                f"the {unit} rows of one "
                f"{'beat' if cfg.dataflow.value == 'os' else 'reduction tile'} "
                f"share one precision")
    lo = np.where(cfg.weight.signed, -(1 << (v - 1)), 0)
    hi = np.where(cfg.weight.signed, (1 << (v - 1)) - 1, (1 << v) - 1)
    out = (W < lo[:, None]) | (W > hi[:, None])
    if out.any():
        k, n = (int(i) for i in np.argwhere(out)[0])
        raise GemmOperandError(f"W (weights) value {int(W[k, n])} at [{k}, {n}] does not fit "
                               f"its row's precision wbits = {int(v[k])} "
                               f"(allowed {int(lo[k])}..{int(hi[k])})")
    return v


def random_gemm(cfg: ArrayConfig, rng: np.random.Generator, M: int, K: int, N: int,
                corner_fraction: float = 0.25, max_shift: int | None = None):
    """Random operands ``(A, W, scale, shift, quant)`` of ``cfg``'s formats for an M x K x N
    GEMM: uniform operands (values or codes, ``Operand``) with a share of corners; a scale
    and a shift (at most ``max_shift``, default the requantizer's) per column with
    requantization, else ``None``; with ``group_size``, uniform group scales (a share of the
    largest) and zero points, and on bit-serial arrays a random precision per beat (WS: per
    reduction tile; a share at full precision) with W clipped into it (``QuantOperands``),
    else ``None``."""
    A = Operand(cfg.activation).random(rng, (M, K), corner_fraction)
    W = Operand(cfg.weight).random(rng, (K, N), corner_fraction)
    quant = None
    if cfg.pe_config.ARRAY_WBITS:  # a random precision per beat (WS: per K tile), W within it
        unit = cfg.tile_k
        top = cfg.weight.bits
        per_unit = rng.integers(1, top, ceil_div(K, unit), endpoint=True)
        per_unit[rng.random(per_unit.shape) < corner_fraction] = top
        wbits = np.repeat(per_unit, unit)[:K]
        lo = np.where(cfg.weight.signed, -(1 << (wbits - 1)), 0)[:, None]
        hi = np.where(cfg.weight.signed, (1 << (wbits - 1)) - 1, (1 << wbits) - 1)[:, None]
        W = np.clip(W, lo, hi)
        quant = QuantOperands(wbits=wbits)
    if cfg.group is not None:
        shape = (ceil_div(K, cfg.group_size), N)
        top = cfg.group.max_scale
        scales = rng.integers(0, top, shape, endpoint=True)
        scales[rng.random(shape) < corner_fraction] = top
        zeros = specials = None
        if cfg.zero_points:
            zmax = (1 << cfg.zero_bits) - 1
            zeros = rng.integers(0, zmax, shape, endpoint=True)
            zeros[rng.random(shape) < corner_fraction] = zmax
        if cfg.specials:
            xb = cfg.pe_config.special_bits
            specials = rng.integers(-(1 << (xb - 1)), 1 << (xb - 1), shape)
            corner = rng.random(shape) < corner_fraction
            specials[corner] = rng.choice([-(1 << (xb - 1)), (1 << (xb - 1)) - 1],
                                          int(corner.sum()))
        quant = QuantOperands(scales, zeros, None if quant is None else quant.wbits, specials)
    if not cfg.requant:
        return A, W, None, None, quant
    rq = cfg.requantizer
    top = rq.max_shift if max_shift is None else min(rq.max_shift, max_shift)
    scale = rng.integers(0, rq.max_scale, N, endpoint=True)
    shift = rng.integers(0, top, N, endpoint=True)
    return A, W, scale, shift, quant
