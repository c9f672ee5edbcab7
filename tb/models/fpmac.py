"""Golden model of ``qtpe.hdl.pe_fpmac.FpMacPE``: exact float products, Kulisch accumulator,
special values, and the FP32/BF16 rounding of the output stage, bit for bit.

Values are Python integers (an e5m2 x e5m2 sum needs 73 bits): a code's integer view is its
format's ``decode`` (units of its smallest subnormal), a product the product of two views
(units of ``2^-frac_bits``).
"""

from __future__ import annotations

import numpy as np

from qtpe.hdl.formats import FloatType, Format, Special
from qtpe.hdl.kind_fpmac import ROUNDED, FpMacConfig, FpOutput

from .formats import check_operands, fit, random_operands

__all__ = ["FpMacModel", "product_special", "round_to", "random_codes", "float_corners"]


def _flags(fmt: Format, op: int) -> tuple[bool, bool, bool, bool]:
    """(nan, inf, zero, negative) of one operand (a code, or an ``int<N>`` value)."""
    if not isinstance(fmt, FloatType):
        return False, False, op == 0, op < 0
    sp = fmt.special(op)
    return (sp is Special.NAN, sp in (Special.POS_INF, Special.NEG_INF),
            sp is None and fmt.decode(op) == 0, bool(fmt.fields(op)[0]))


def product_special(wfmt: Format, w: int, afmt: Format, a: int) -> int:
    """The ``special`` bits one product adds (0; 1 +inf; 2 -inf; 3 NaN)."""
    wn, wi, wz, ws = _flags(wfmt, w)
    an, ai, az, as_ = _flags(afmt, a)
    if wn or an or (wi and az) or (ai and wz):
        return 3
    if wi or ai:
        return 2 if ws != as_ else 1
    return 0


def view(fmt: Format, op: int) -> int:
    """The integer view of an operand (0 for NaN and infinity codes)."""
    return fmt.decode(int(op)) if isinstance(fmt, FloatType) else int(op)


def round_to(acc: int, frac_bits: int, special: int, output: FpOutput) -> int:
    """The bits of ``acc * 2^-frac_bits`` in ``output`` (round to nearest, ties to even), as
    ``qtpe.hdl.pe_fpmac.round_output``."""
    ebits, mbits = ROUNDED[output]
    bias = (1 << (ebits - 1)) - 1
    top = (1 << ebits) - 1
    if special == 3:
        return (top << mbits) | (1 << (mbits - 1))
    if special in (1, 2):
        return (top << mbits) | ((special == 2) << (ebits + mbits))
    if acc == 0:
        return 0
    neg, mag = acc < 0, abs(acc)
    lead = mag.bit_length() - 1
    drop = lead - mbits  # bits below the kept mantissa
    if drop > 0:
        kept, rest = mag >> drop, mag & ((1 << drop) - 1)
        half = 1 << (drop - 1)
        if rest > half or (rest == half and kept & 1):
            kept += 1
    else:
        kept = mag << -drop
    # kept = 1.mmm (mbits + 1 bits) or 2^(mbits+1) after a carry: the carry adds one to the
    # exponent through the field sum, as the hardware's {exponent, mantissa} + up.
    word = ((lead - frac_bits + bias) << mbits) + (kept - (1 << mbits))
    return word | (neg << (ebits + mbits))


class FpMacModel:
    """Cycle-by-cycle state of the PE: the accumulator, the sticky ``special`` bits.

    ``step`` returns the outputs the PE shows (``acc``, then ``special`` where the formats
    have NaN/Inf, then ``result`` with an output stage) as a tuple, or the accumulator alone.
    ``last_sum`` is the exact sum before wrapping or saturating (coverage).
    """

    def __init__(self, cfg: FpMacConfig):
        self.cfg = cfg
        self.reset()

    def reset(self) -> None:
        self.acc = 0
        self.special = 0
        self.last_sum = None

    def product(self, w: int, a: int) -> int:
        """One lane's product in units of ``2^-frac_bits`` (finite operands)."""
        return view(self.cfg.weight, w) * view(self.cfg.activation, a)

    def dot(self, weight, act) -> tuple[int, int]:
        cfg = self.cfg
        w = np.ravel(np.asarray(weight, dtype=np.int64)).tolist()
        a = np.ravel(np.asarray(act, dtype=np.int64)).tolist()
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
                total += self.product(x, y)
        return total, special

    def outputs(self):
        cfg = self.cfg
        out = [int(self.acc)]
        if cfg.specials:
            out.append(self.special)
        if cfg.output is not FpOutput.NONE:
            out.append(round_to(int(self.acc), cfg.frac_bits, self.special, cfg.output))
        return tuple(out) if len(out) > 1 else out[0]

    def step(self, valid: bool, clear: bool, weight, act):
        self.last_sum = None
        if not valid:
            if clear:
                self.acc, self.special = 0, 0
            return None
        total, special = self.dot(weight, act)
        base = 0 if clear else int(self.acc)
        self.special = (0 if clear else self.special) | special
        self.last_sum = base + total
        self.acc = int(fit(self.last_sum, self.cfg.acc)[()])
        return self.outputs()

    @staticmethod
    def random_inputs(cfg: FpMacConfig, rng: np.random.Generator, n: int) -> dict:
        """Random codes for ``n`` cycles (a quarter corners: zeros, max, min subnormal,
        NaN/Inf where the format has them)."""
        return {"weight": random_codes(rng, cfg.weight, (n, cfg.lanes)),
                "act": random_codes(rng, cfg.activation, (n, cfg.lanes))}


def float_corners(fmt: FloatType) -> list[int]:
    """Codes of +-0, +-min subnormal, +-max normal, and NaN/+-Inf where the format has them."""
    sign = 1 << (fmt.bits - 1)
    values = fmt.values()
    finite = [c for c in range(fmt.code_count) if fmt.special(c) is None]
    top = max(finite, key=lambda c: values[c])
    out = {0, sign, 1, sign | 1, top, top | sign}
    out |= {c for c in range(fmt.code_count) if fmt.special(c) is not None}
    return sorted(out)


def random_codes(rng: np.random.Generator, fmt: Format, size, corner_fraction=0.25):
    """Uniform codes of a float format (every code) with a share of corners; ``int<N>``
    values as ``random_operands``."""
    if not isinstance(fmt, FloatType):
        return random_operands(rng, fmt, size, corner_fraction)
    v = rng.integers(0, fmt.code_count, size=size, dtype=np.int64)
    pick = rng.random(size) < corner_fraction
    v[pick] = rng.choice(np.array(float_corners(fmt), dtype=np.int64), size=int(pick.sum()))
    return v
