"""Golden model of ``qtpe.hdl.pe_mxdot.MxDotPE``: MX blocks, e8m0 block scales, the exact
windowed accumulator and the sticky special state, bit for bit.

Values are Python integers (a block sum shifted across the scale window is wider than 64
bits): an element's integer view is its format's ``decode`` (``qtpe.tb.models.fpmac.view``),
a block sum ``P`` is in units of ``2^-frac_bits``, the accumulator in units of
``2^-(frac_bits - scale_min)``.
"""

from __future__ import annotations

import numpy as np

from qtpe.hdl.formats import FloatType, ScaleType
from qtpe.hdl.kind_mxdot import SCALE_SUM_MAX, SCALE_SUM_MIN, MxDotConfig

from .formats import check_operands, fit
from .fpmac import float_corners, product_special, random_codes, view

__all__ = ["MxDotModel", "block_exponent", "random_scales", "random_elements"]

NAN = 3


def block_exponent(cfg: MxDotConfig, scale_w: int, scale_a: int) -> int | None:
    """``Xw + Xa`` of a block's scales, or ``None`` for a NaN block (a NaN scale code, or a sum
    outside ``[scale_min, scale_max]``)."""
    xw, xa = ScaleType().exponent(int(scale_w)), ScaleType().exponent(int(scale_a))
    if xw is None or xa is None or not cfg.scale_min <= xw + xa <= cfg.scale_max:
        return None
    return xw + xa


class MxDotModel:
    """Cycle-by-cycle state of the PE: accumulator, open block (partial sum, count), special.

    ``step`` returns ``(acc, special)`` on the input that completes a block, else ``None``.
    ``last_sum`` is the exact sum given to the accumulator before it wraps or saturates
    (``None`` when the step adds nothing); ``last_scale`` says what the completed block's
    scales were (``"in window"``, ``"below window"``, ``"above window"``, ``"nan scale_w"``,
    ``"nan scale_a"``) and ``cut`` whether the step's ``clear`` dropped an open block
    (coverage).
    """

    def __init__(self, cfg: MxDotConfig):
        self.cfg = cfg
        self.reset()

    def reset(self) -> None:
        self.acc = 0
        self.psum = 0
        self.count = 0
        self.special = 0
        self.last_sum = None
        self.last_scale = None
        self.last_exponent = None
        self.cut = False

    def dot(self, weight, act) -> tuple[int, int]:
        """The exact dot product of one input's lanes (units ``2^-frac_bits``) and the
        ``special`` bits it adds."""
        cfg = self.cfg
        w = np.ravel(np.asarray(weight, dtype=np.int64)).tolist()
        a = np.ravel(np.asarray(act, dtype=np.int64)).tolist()
        if len(w) != cfg.lanes or len(a) != cfg.lanes:
            raise ValueError(f"weight and act must hold {cfg.lanes} values each, not "
                             f"{len(w)} and {len(a)}")
        for x in w:
            cfg.weight.check_code(x)
        if isinstance(cfg.activation, FloatType):
            for y in a:
                cfg.activation.check_code(y)
        else:
            check_operands(a, cfg.activation, "activation")
        special, total = 0, 0
        for x, y in zip(w, a, strict=True):
            sp = product_special(cfg.weight, x, cfg.activation, y)
            special |= sp
            if sp == 0:
                total += view(cfg.weight, x) * view(cfg.activation, y)
        return total, special

    def scale_label(self, scale_w: int, scale_a: int) -> str:
        if scale_w == ScaleType.NAN_CODE:
            return "nan scale_w"
        if scale_a == ScaleType.NAN_CODE:
            return "nan scale_a"
        x = scale_w + scale_a - 2 * ScaleType.bias
        if x < self.cfg.scale_min:
            return "below window"
        return "above window" if x > self.cfg.scale_max else "in window"

    def step(self, valid: bool, clear: bool, weight, act, scale_w: int = 127,
             scale_a: int = 127):
        self.last_sum = self.last_scale = self.last_exponent = None
        cut = bool(clear) and self.count > 0
        if not valid:
            if clear:
                self.reset()
            self.cut = cut
            return None
        self.cut = cut
        cfg = self.cfg
        d, sp = self.dot(weight, act)
        base = 0 if clear else self.acc
        self.special = (0 if clear else self.special) | sp
        psum = (0 if clear else self.psum) + d
        count = 0 if clear else self.count
        if count < cfg.block_steps - 1:
            self.acc, self.psum, self.count = base, psum, count + 1
            return None
        x = block_exponent(cfg, scale_w, scale_a)
        self.last_scale = self.scale_label(int(scale_w), int(scale_a))
        self.last_exponent = x
        if x is None:
            self.special = NAN
            addend = 0
        else:
            addend = psum << (x - cfg.scale_min)
        self.last_sum = base + addend
        self.acc = int(fit(self.last_sum, cfg.acc)[()])
        self.psum, self.count = 0, 0
        return self.acc, self.special

    @staticmethod
    def random_inputs(cfg: MxDotConfig, rng: np.random.Generator, n: int) -> dict:
        """Random ports for ``n`` cycles: element codes with corners and a few NaN/Inf
        (``random_elements``), scales mostly in the window with some outside it and some NaN
        (``random_scales``)."""
        sw, sa = random_scales(cfg, rng, n)
        return {"weight": random_elements(rng, cfg.weight, (n, cfg.lanes), cfg.block_size),
                "act": random_elements(rng, cfg.activation, (n, cfg.lanes), cfg.block_size),
                "scale_w": sw, "scale_a": sa}


def random_elements(rng: np.random.Generator, fmt, size, block_size: int = 32):
    """Codes (or ``int8`` values) of ``fmt`` with a quarter corners, the NaN/Inf codes kept on
    about one block in ten (replaced by finite codes elsewhere, so that most blocks are
    finite)."""
    v = random_codes(rng, fmt, size)
    if isinstance(fmt, FloatType):
        special = np.array([fmt.special(int(c)) is not None for c in range(fmt.code_count)])
        finite = np.array([c for c in float_corners(fmt) if not special[c]] +
                          [c for c in range(fmt.code_count) if not special[c]], dtype=np.int64)
        drop = special[v] & (rng.random(size) >= 0.1 / max(block_size, 1) * 8)
        v[drop] = rng.choice(finite, size=int(drop.sum()))
    return v


def random_scales(cfg: MxDotConfig, rng: np.random.Generator, n: int,
                  outside: float = 0.1, nan: float = 0.06):
    """``(scale_w, scale_a)`` codes for ``n`` cycles: sums ``Xw + Xa`` uniform in the window
    (an eighth of them at its ends), a share ``outside`` of it (below and above, where finite
    scales get there) and a share ``nan`` with a NaN code on one side."""
    lo, hi = cfg.scale_min, cfg.scale_max
    target = rng.integers(lo, hi, size=n, endpoint=True)
    edge = rng.random(n) < 0.125
    target[edge] = np.where(rng.random(int(edge.sum())) < 0.5, lo, hi)
    out = rng.random(n) < outside
    below = rng.random(n) < 0.5
    below_ok, above_ok = lo > SCALE_SUM_MIN, hi < SCALE_SUM_MAX
    for i in np.flatnonzero(out):
        if (below[i] and below_ok) or not above_ok:
            target[i] = rng.integers(SCALE_SUM_MIN, lo) if below_ok else target[i]
        else:
            target[i] = rng.integers(hi + 1, SCALE_SUM_MAX, endpoint=True)
    # Split each sum into two exponents within -127 .. 127.
    bias = ScaleType.bias
    xw_lo = np.maximum(-bias, target - bias)
    xw_hi = np.minimum(bias, target + bias)
    xw = rng.integers(xw_lo, xw_hi, endpoint=True)
    sw, sa = xw + bias, target - xw + bias
    nan_at = rng.random(n) < nan
    side = rng.random(n) < 0.5
    sw[nan_at & side] = ScaleType.NAN_CODE
    sa[nan_at & ~side] = ScaleType.NAN_CODE
    return sw.astype(np.int64), sa.astype(np.int64)
