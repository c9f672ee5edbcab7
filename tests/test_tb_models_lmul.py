"""The L-Mul golden model against the paper's formula in exact rationals (``fractions``) on
the values ``ml_dtypes`` decodes, every code pair of each format with itself and of mixed
pairs; exact accumulation of random and corner streams with special values; and the error
statistics against the exact product."""

import math
from fractions import Fraction
from itertools import product

import numpy as np
import pytest
from test_tb_models_fpmac import ref_dot, ref_value

from qtpe.hdl.formats import FloatType
from qtpe.hdl.kind_lmul import LMulConfig
from qtpe.tb.models.fpmac import float_corners, random_codes
from qtpe.tb.models.lmul import LMulModel, error_stats

fp = FloatType.parse
#: The paper's l(m) for the mantissa widths of these formats (m <= 3: l = m).
L_OF_M = {1: 1, 2: 2, 3: 3}


def ref_lmul(x: float, y: float, m: int) -> Fraction:
    """(1 + fx + fy + 2^-l(m)) * 2^(ex + ey) with the sign's xor; 0 for a zero operand."""
    if x == 0 or y == 0:
        return Fraction(0)
    (mx, ex), (my, ey) = math.frexp(abs(x)), math.frexp(abs(y))  # |v| = mant * 2^e, [0.5, 1)
    fx, fy = Fraction(mx) * 2 - 1, Fraction(my) * 2 - 1  # |v| = (1 + f) * 2^(e - 1)
    mag = (1 + fx + fy + Fraction(1, 1 << L_OF_M[m])) * Fraction(2) ** (ex - 1 + ey - 1)
    return -mag if (x < 0) != (y < 0) else mag


PAIRS = [("fp8_e4m3", "fp8_e4m3"), ("fp8_e5m2", "fp8_e5m2"), ("fp6_e3m2", "fp6_e3m2"),
         ("fp6_e2m3", "fp6_e2m3"), ("fp4_e2m1", "fp4_e2m1"), ("fp8_e4m3", "fp8_e5m2"),
         ("fp4_e2m1", "fp6_e2m3")]


@pytest.mark.parametrize("wname,aname", PAIRS)
def test_every_product_is_the_papers_formula(wname, aname):
    """Every code pair: the model's product is L-Mul of the ml_dtypes values (fractions
    aligned to the wider mantissa), its special bits those of the exact product."""
    cfg = LMulConfig(weight=fp(wname), activation=fp(aname))
    model = LMulModel(cfg)
    scale = Fraction(1, 1 << cfg.frac_bits)
    m = max(cfg.weight.man_bits, cfg.activation.man_bits)
    checked = 0
    for w, a in product(range(cfg.weight.code_count), range(cfg.activation.code_count)):
        total, special = model.dot([w], [a])
        _, want_special = ref_dot(cfg, [w], [a])
        assert special == want_special, (w, a)
        if not special:
            x, y = ref_value(cfg.weight, w), ref_value(cfg.activation, a)
            assert total * scale == ref_lmul(x, y, m), (w, a, x, y)
            checked += 1
    assert checked > 0.9 * cfg.weight.code_count * cfg.activation.code_count


def test_named_products():
    """A few products by hand: 1 x 1 = 1.125 (offset 2^-3), 1.875 x 1.875 = 2.875 (exact
    3.515625), the smallest subnormal squared normalized, max normal x -max normal."""
    e4m3 = fp("fp8_e4m3")
    model = LMulModel(LMulConfig())
    scale = Fraction(1, 1 << model.cfg.frac_bits)

    def lmul(x, y):
        return model.dot([x], [y])[0] * scale

    one, top = 0x38, 0x7E  # 1.0 and 448 = 1.75 * 2^8
    assert lmul(one, one) == Fraction(9, 8)
    assert lmul(0x3F, 0x3F) == Fraction(23, 8)  # 1.875 = 0x3F
    assert lmul(0x01, 0x01) == Fraction(9, 8) * Fraction(1, 2 ** 18)  # 2^-9 squared
    assert lmul(top, top | 0x80) == -(1 + Fraction(3, 4) + Fraction(3, 4) + Fraction(1, 8)) \
        * 2 ** 16
    assert lmul(0x00, top) == 0 and lmul(0x80, one) == 0
    assert e4m3.real(top) == 448.0


@pytest.mark.parametrize("wname,aname,lanes", [("fp8_e4m3", "fp8_e4m3", 2),
                                               ("fp8_e5m2", "fp8_e4m3", 3),
                                               ("fp4_e2m1", "fp4_e2m1", 4)])
def test_random_and_corner_sums_are_exact(wname, aname, lanes):
    """Random streams, a third corners (+-0, +-min subnormal, +-max normal, NaN/Inf): the
    accumulator is the exact rational sum of the L-Mul products, the special state sticky."""
    rng = np.random.default_rng(58)
    cfg = LMulConfig(weight=fp(wname), activation=fp(aname), lanes=lanes, depth=1 << 12)
    model = LMulModel(cfg)
    scale = Fraction(1, 1 << cfg.frac_bits)
    m = max(cfg.weight.man_bits, cfg.activation.man_bits)
    total, special = Fraction(0), 0
    for step in range(400):
        clear = step % 100 == 0
        w = random_codes(rng, cfg.weight, lanes, corner_fraction=0.33)
        a = random_codes(rng, cfg.activation, lanes, corner_fraction=0.33)
        model.step(True, clear, w, a)
        _, s = ref_dot(cfg, w.tolist(), a.tolist())
        t = sum((ref_lmul(ref_value(cfg.weight, x), ref_value(cfg.activation, y), m)
                 for x, y in zip(w.tolist(), a.tolist(), strict=True)
                 if not ref_dot(cfg, [x], [y])[1]), Fraction(0))
        total = t if clear else total + t
        special = s if clear else special | s
        assert model.special == special and model.acc * scale == total, step
    assert set(float_corners(cfg.weight)) <= set(range(cfg.weight.code_count))


def test_error_statistics():
    """Over every pair of finite non-zero E4M3 codes: the mean relative error of L-Mul
    against the exact product is a few percent; the signed ratio's mean (the bias) is the
    mean of (1/8 - fx fy) / ((1 + fx)(1 + fy)) over the codes' fractions (as ml_dtypes values
    give them: the exponents cancel); the worst case is 1.875^2 (fractions 7/8: 2.875
    against 3.515625)."""
    e4m3 = fp("fp8_e4m3")
    stats = error_stats(e4m3, e4m3)
    assert stats["pairs"] == 252 ** 2  # 256 codes less +-0 and the two NaNs
    assert 0.05 < stats["mean_rel_error"] < 0.08
    values = [ref_value(e4m3, c) for c in range(256)]
    fracs = [2 * math.frexp(abs(v))[0] - 1 for v in values if v != 0 and not math.isnan(v)]
    assert len(fracs) == 252
    bias = sum((0.125 - x * y) / ((1 + x) * (1 + y)) for x in fracs for y in fracs) / 252 ** 2
    assert stats["mean_signed_rel_error"] == pytest.approx(bias, rel=1e-9)
    assert stats["mean_signed_rel_error"] < 0  # L-Mul is smaller than the product on average
    assert stats["max_rel_error"] == pytest.approx(1 - 2.875 / 3.515625)
