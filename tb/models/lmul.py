"""Golden model of ``qtpe.hdl.pe_lmul.LMulPE``: L-Mul products, bit for bit, and L-Mul's error
against the exact product.

A finite non-zero code's integer view (``FloatType.decode``, units of its smallest
subnormal) is ``+-(2^m + f) << (t - m)`` with its leading one at ``t``: the normalized
fraction ``f`` and ``t`` are read off the view, so subnormals are normalized exactly as the
hardware does. A product is ``+-S << (tw + ta)`` with ``S = 2^M + fw<<(M-mw) + fa<<(M-ma) +
2^(M-l)``, in units of ``2^-frac_bits`` (``LMulConfig``). Everything else (specials, the
accumulator, rounding) is ``qtpe.tb.models.fpmac.FpMacModel``.
"""

from __future__ import annotations

from qtpe.hdl.formats import FloatType
from qtpe.hdl.kind_lmul import LMulConfig, offset_exponent

from .fpmac import FpMacModel

__all__ = ["LMulModel", "lmul_view", "error_stats"]


def _split(fmt: FloatType, code: int) -> tuple[int, int, int] | None:
    """``(sign, f, t)`` of a finite non-zero code (``None`` for zeros, NaN and infinities)."""
    view = fmt.decode(code)
    if view == 0:
        return None
    mag = abs(view)
    t = mag.bit_length() - 1
    m = fmt.man_bits
    f = (mag << m >> t) & ((1 << m) - 1)  # the m bits below the leading one (all present)
    return int(view < 0), f, t


def lmul_view(wfmt: FloatType, w: int, afmt: FloatType, a: int) -> int:
    """The L-Mul product of codes ``w``, ``a`` in units of ``2^-(frac_w + frac_a + M)``
    (0 if either is zero or not finite)."""
    x, y = _split(wfmt, w), _split(afmt, a)
    if x is None or y is None:
        return 0
    big = max(wfmt.man_bits, afmt.man_bits)
    s = ((1 << big) + (x[1] << (big - wfmt.man_bits)) + (y[1] << (big - afmt.man_bits))
         + (1 << (big - offset_exponent(big))))
    mag = s << (x[2] + y[2])
    return -mag if x[0] ^ y[0] else mag


class LMulModel(FpMacModel):
    """``FpMacModel`` with L-Mul products (``lmul_view``)."""

    cfg: LMulConfig

    def product(self, w: int, a: int) -> int:
        return lmul_view(self.cfg.weight, w, self.cfg.activation, a)


def error_stats(wfmt: FloatType, afmt: FloatType) -> dict:
    """L-Mul's relative error ``|L-Mul(x, y) - x*y| / |x*y|`` over every pair of finite
    non-zero codes: the number of pairs, the mean, the largest, and the mean of the signed
    ratio ``L-Mul(x, y) / (x*y) - 1`` (the bias)."""
    big = max(wfmt.man_bits, afmt.man_bits)
    ws = [c for c in range(wfmt.code_count) if wfmt.decode(c) != 0]
    as_ = [c for c in range(afmt.code_count) if afmt.decode(c) != 0]
    total = worst = bias = 0.0
    for w in ws:
        for a in as_:
            exact = wfmt.decode(w) * afmt.decode(a) << big  # the same units as lmul_view
            rel = (lmul_view(wfmt, w, afmt, a) - exact) / exact  # > 0: L-Mul is larger
            total += abs(rel)
            bias += rel
            worst = max(worst, abs(rel))
    n = len(ws) * len(as_)
    return {"pairs": n, "mean_rel_error": total / n, "max_rel_error": worst,
            "mean_signed_rel_error": bias / n}
