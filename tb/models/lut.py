"""Golden model of the LUT PE tile (``qtpe.hdl.pe_lut.LutTile``), following its decomposition.

Weight codes are unsigned bit patterns ``0 .. 2^b - 1`` (an ``int<b>`` weight ``-1`` is code
``2^b - 1``). Every encoding is ``w = sum_k c_k b_k + c_const`` (``LutConfig.plane_coeffs``,
``LutConfig.const_coeff``), so for ``g`` weights and activations:

* ``table``: ``T(i) = sum_{j in i} a_j`` for the ``2^g`` subsets ``i`` (``T(0) = 0``);
  ``S = T(2^g - 1)``, the sum of all ``g`` activations.
* ``sym_table``: ``T_sym(i) = sum_j (2 bit_j(i) - 1) a_j = 2 T(i) - S`` for the ``2^(g-1)``
  indices with bit ``g-1`` clear; ``T_sym(~i) = -T_sym(i)`` gives the other half, and
  ``T_sym(0) = -S``.
* ``planes``: ``idx_k`` = bit ``k`` of the ``g`` codes, weight ``j`` at bit ``j``.
* ``lut_dot``: plain tables ``sum_k c_k T(idx_k) + c_const S``; symmetric tables
  ``(sum_k c_k T_sym(idx_k) + K S) / 2`` with ``K = sum_k c_k + 2 c_const``, the numerator
  always even. The hardware takes ``S`` from the table it already holds (``T(2^g - 1)``, or
  ``-T_sym(0)``), and so does this model.

All arithmetic is int64 (the widest dot product here is 4 x 15 x 128). ``LutModel`` /
``lut_stream`` add the accumulators of the ``sharing`` PEs: cycle-accurate in their outputs,
bit-exact in wrap and saturation.
"""

from __future__ import annotations

import numpy as np

from qtpe.hdl.kind_lut import LutConfig

from .formats import check_operands, fit, random_operands
from .formats import decode as decode_codes

__all__ = [
    "check_codes", "check_zero", "decode", "encode", "planes", "table", "sym_table",
    "stored_table", "full_table", "offset_coeff", "lut_dot", "plain_dot", "tile_ports",
    "LutModel", "lut_stream",
]


def check_codes(cfg: LutConfig, codes) -> np.ndarray:
    """Weight codes as int64, or ValueError naming the first outside ``0 .. 2^b - 1``."""
    decode_codes(cfg.weight, codes)
    return np.asarray(codes, dtype=np.int64)


def check_zero(cfg: LutConfig, zero) -> np.ndarray:
    """Zero points as int64 (``uint<b>``: ``0 .. 2^b - 1``; other weights: must be 0)."""
    z = np.asarray(zero, dtype=np.int64)
    hi = (1 << cfg.weight.bits) - 1 if cfg.has_zero else 0
    bad = (z < 0) | (z > hi)
    if bad.any():
        raise ValueError(f"zero point {int(z[bad].flat[0])} is outside 0..{hi} for {cfg.weight}")
    return z


def decode(cfg: LutConfig, codes, zero=0) -> np.ndarray:
    """The integer weights of ``codes`` (the format's values; ``uint<b>``: ``code - zero``)."""
    return decode_codes(cfg.weight, codes) - check_zero(cfg, zero)


def encode(cfg: LutConfig, values, zero=0) -> np.ndarray:
    """Codes of integer weights ``values`` (the format's ``code_of``; ``uint<b>``:
    ``value + zero``); ValueError if one has no code."""
    v = np.asarray(values, dtype=np.int64)
    w = cfg.weight
    shifted = np.broadcast_to(v + check_zero(cfg, zero), np.broadcast_shapes(
        v.shape, np.shape(zero)))
    codes = np.empty(shifted.shape, dtype=np.int64)
    for i, x in np.ndenumerate(shifted):
        try:
            codes[i] = w.code_of(int(x))
        except ValueError:
            bad = int(np.broadcast_to(v, shifted.shape)[i])
            raise ValueError(f"weight {bad} has no {w} code") from None
    return codes


def planes(cfg: LutConfig, codes) -> np.ndarray:
    """Bit-plane indices ``(..., b)`` of codes ``(..., g)``: ``idx_k = sum_j bit_k(code_j) 2^j``."""
    c = check_codes(cfg, codes)
    if c.shape[-1] != cfg.g:
        raise ValueError(f"codes must have g = {cfg.g} values in the last axis, not {c.shape}")
    k = np.arange(cfg.weight.bits)
    bits = (c[..., None, :] >> k[:, None]) & 1  # (..., b, g)
    return (bits << np.arange(cfg.g)).sum(axis=-1)


def _acts(cfg: LutConfig, act) -> np.ndarray:
    a = check_operands(act, cfg.activation, "activation")
    if a.shape[-1] != cfg.g:
        raise ValueError(f"activations must have g = {cfg.g} values in the last axis, "
                         f"not {a.shape}")
    return a


def _subset_bits(g: int) -> np.ndarray:
    """``(2^g, g)``: bit ``j`` of every index."""
    return (np.arange(1 << g)[:, None] >> np.arange(g)) & 1


def table(act) -> np.ndarray:
    """``T(i)`` for all ``2^g`` subsets of the last axis of ``act`` (``(..., 2^g)``)."""
    a = np.asarray(act, dtype=np.int64)
    return a @ _subset_bits(a.shape[-1]).T


def sym_table(act) -> np.ndarray:
    """``T_sym(i)`` for the ``2^(g-1)`` indices with bit ``g-1`` clear (``(..., 2^(g-1))``)."""
    a = np.asarray(act, dtype=np.int64)
    g = a.shape[-1]
    digits = 2 * _subset_bits(g)[: 1 << (g - 1)] - 1
    return a @ digits.T


def stored_table(cfg: LutConfig, act) -> np.ndarray:
    """The entries the precompute unit registers, in ``cfg.table_indices`` order."""
    a = _acts(cfg, act)
    if cfg.symmetric:
        return sym_table(a)
    return table(a)[..., 1:]


def full_table(cfg: LutConfig, stored) -> np.ndarray:
    """All ``2^g`` lookups from the stored entries: ``T(0) = 0`` prepended, or the symmetric
    half completed by ``T_sym(i) = -T_sym(~i)`` for indices with bit ``g-1`` set."""
    s = np.asarray(stored, dtype=np.int64)
    if not cfg.symmetric:
        return np.concatenate([np.zeros(s.shape[:-1] + (1,), np.int64), s], axis=-1)
    half = 1 << (cfg.g - 1)
    upper = -s[..., (half - 1) ^ np.arange(half)]  # index half + i complements to half-1-i
    return np.concatenate([s, upper], axis=-1)


def offset_coeff(cfg: LutConfig, zero=0) -> np.ndarray:
    """Coefficient of ``S``: ``c_const`` (plain tables) or ``sum_k c_k + 2 c_const``
    (symmetric; 0 for ``sym<b>`` and ``ternary``, -1 for ``int<b>``, ``2^b - 1 - 2 zp`` for
    ``uint<b>``)."""
    z = check_zero(cfg, zero)
    const = -z if cfg.has_zero else np.int64(cfg.const_coeff())
    if cfg.symmetric:
        return sum(cfg.plane_coeffs) + 2 * const
    return np.asarray(const, dtype=np.int64)


def lut_dot(cfg: LutConfig, codes, act, zero=0) -> np.ndarray:
    """The dot product of ``g`` weight codes and activations by table lookups (see module).

    ``codes``, ``act``: ``(..., g)``; ``zero`` broadcasts against ``(...)``.
    """
    full = full_table(cfg, stored_table(cfg, act))
    idx = planes(cfg, codes)
    looked = np.take_along_axis(full, idx, axis=-1)  # (..., b)
    terms = (looked * np.array(cfg.plane_coeffs, dtype=np.int64)).sum(axis=-1)
    k = offset_coeff(cfg, zero)
    if not cfg.symmetric:
        return terms + k * full[..., -1]  # S = T(2^g - 1)
    numerator = terms - k * full[..., 0]  # S = -T_sym(0)
    if np.any(numerator % 2):
        raise AssertionError("symmetric-table numerator is odd")  # cannot happen: see tests
    return numerator // 2


def plain_dot(cfg: LutConfig, codes, act, zero=0) -> np.ndarray:
    """The reference: ``sum_j decode(code_j) * a_j`` over the last axis."""
    z = np.asarray(zero, dtype=np.int64)[..., None]
    return (decode(cfg, codes, z) * _acts(cfg, act)).sum(axis=-1)


def tile_ports(cfg: LutConfig, codes, zero=0) -> dict:
    """The tile's weight (and zero-point) ports for ``codes`` ``(sharing, g)`` and ``zero``
    ``(sharing,)``: ``weight_p{p}``, ``zero_p{p}``."""
    c = np.broadcast_to(np.asarray(codes, dtype=np.int64), (cfg.sharing, cfg.g))
    ports = {f"weight_p{p}": c[p] for p in range(cfg.sharing)}
    if cfg.has_zero:
        z = np.broadcast_to(np.asarray(zero, dtype=np.int64), (cfg.sharing,))
        ports |= {f"zero_p{p}": z[p] for p in range(cfg.sharing)}
    return ports


class LutModel:
    """Cycle-by-cycle accumulators of the tile's ``sharing`` PEs; ``step`` takes the tile's
    ports (``act``, ``weight_p{p}``, ``zero_p{p}``). ``last_sum``: the exact sums (one per PE)
    the last ``step`` gave the accumulators before wrapping or saturating them (``None`` when
    the step did not add); the testbench's coverage reads it."""

    def __init__(self, cfg: LutConfig):
        self.cfg = cfg
        self.reset()

    def reset(self) -> None:
        self.acc = np.zeros(self.cfg.sharing, dtype=np.int64)
        self.last_sum = None

    def step(self, valid: bool, clear: bool, act, **ports) -> tuple[int, ...] | None:
        """One input cycle: ``act`` ``(g,)``, every PE's ``weight_p{p}`` ``(g,)`` (codes, or
        the signed integers the port carries for ``int<b>``) and ``zero_p{p}``. Returns the
        new accumulators (one per PE) if the input was accepted."""
        cfg = self.cfg
        self.last_sum = None
        if valid:
            mask = (1 << cfg.weight.bits) - 1
            c = np.array([np.asarray(ports[f"weight_p{p}"], dtype=np.int64) & mask
                          for p in range(cfg.sharing)]).reshape(cfg.sharing, cfg.g)
            z = np.array([ports.get(f"zero_p{p}", 0) for p in range(cfg.sharing)],
                         dtype=np.int64)
            a = np.broadcast_to(np.asarray(act, dtype=np.int64), (cfg.sharing, cfg.g))
            base = np.zeros_like(self.acc) if clear else self.acc
            self.last_sum = base + lut_dot(cfg, c, a, z)
            self.acc = fit(self.last_sum, cfg.acc)
            return tuple(int(x) for x in self.acc)
        if clear:
            self.acc = np.zeros_like(self.acc)
        return None

    @staticmethod
    def random_inputs(cfg: LutConfig, rng: np.random.Generator, n: int) -> dict:
        """Random port values for ``n`` cycles: every code, every zero point, activations
        with 40% corners."""
        codes = rng.integers(0, 1 << cfg.weight.bits, (n, cfg.sharing, cfg.g))
        zero = rng.integers(0, 1 << cfg.weight.bits, (n, cfg.sharing))
        ports = {"act": random_operands(rng, cfg.activation, (n, cfg.g), corner_fraction=0.4)}
        ports |= {k: np.asarray(v) for k, v in _stack([tile_ports(cfg, codes[i], zero[i])
                                                        for i in range(n)]).items()}
        return ports


def lut_stream(cfg: LutConfig, codes, act, valid, clear, zero=None) -> np.ndarray:
    """Accumulators ``(outputs, sharing)`` the tile shows, one row per accepted input.

    Per cycle: ``codes`` ``(n, sharing, g)``, ``act`` ``(n, g)``, ``valid``/``clear`` ``(n,)``,
    ``zero`` ``(n, sharing)`` (default 0). Inputs on cycles without ``valid`` are ignored.
    """
    valid = np.asarray(valid, dtype=bool)
    n = valid.shape[0]
    codes = np.asarray(codes, dtype=np.int64).reshape(n, cfg.sharing, cfg.g)
    act = np.asarray(act, dtype=np.int64).reshape(n, cfg.g)
    zero = np.zeros((n, cfg.sharing), np.int64) if zero is None else np.reshape(zero, (n, -1))
    model = LutModel(cfg)
    outs = [model.step(v, c, a, **tile_ports(cfg, w, z))
            for v, c, w, a, z in zip(valid, clear, codes, act, zero, strict=True)]
    return np.array([o for o in outs if o is not None], dtype=np.int64).reshape(-1, cfg.sharing)


def _stack(rows: list[dict]) -> dict:
    return {k: np.stack([r[k] for r in rows]) for k in rows[0]}
