"""The floating-point MAC golden model against references it does not share code with: exact
rationals (``fractions.Fraction``) of the codes as ``ml_dtypes`` decodes them, and numpy's
float32 / ``ml_dtypes.bfloat16`` rounding for the output stage."""

from fractions import Fraction
from itertools import product

import ml_dtypes
import numpy as np
import pytest

from qtpe.hdl.formats import FloatType, Overflow, QType
from qtpe.hdl.kind_fpmac import FpMacConfig, FpOutput
from qtpe.tb.models.fpmac import FpMacModel, float_corners, random_codes, round_to

ML = {"fp8_e4m3": ml_dtypes.float8_e4m3fn, "fp8_e5m2": ml_dtypes.float8_e5m2,
      "fp6_e3m2": ml_dtypes.float6_e3m2fn, "fp6_e2m3": ml_dtypes.float6_e2m3fn,
      "fp4_e2m1": ml_dtypes.float4_e2m1fn}


def ref_value(fmt, op) -> float:
    """What ``ml_dtypes`` says a code is worth (an ``int<N>`` activation is its value)."""
    if isinstance(fmt, QType):
        return float(op)
    return float(np.array([op], dtype=np.uint8).view(ML[str(fmt)]).astype(np.float64)[0])


def ref_dot(cfg, weights, acts):
    """(exact sum as a Fraction, special) of lane products: NaN if a NaN or inf * 0 appears,
    an infinity of the product's sign otherwise when one does, IEEE style."""
    total, special = Fraction(0), 0
    for w, a in zip(weights, acts, strict=True):
        x, y = ref_value(cfg.weight, w), ref_value(cfg.activation, a)
        if np.isnan(x) or np.isnan(y) or (np.isinf(x) and y == 0) or (np.isinf(y) and x == 0):
            special |= 3
        elif np.isinf(x) or np.isinf(y):
            special |= 2 if (x < 0) != (y < 0) else 1
        else:
            total += Fraction(x) * Fraction(y)
    return total, special


CONFIGS = [
    dict(weight="fp8_e4m3", activation="fp8_e4m3", lanes=2),
    dict(weight="fp8_e5m2", activation="fp8_e5m2", lanes=1),
    dict(weight="fp8_e5m2", activation="fp8_e4m3", lanes=4),
    dict(weight="fp6_e3m2", activation="fp6_e2m3", lanes=3),
    dict(weight="fp4_e2m1", activation="int8", lanes=4),
    dict(weight="fp4_e2m1", activation="fp4_e2m1", lanes=2),
]


def make(spec, **extra):
    act = spec["activation"]
    act = QType.parse(act) if act.startswith("int") else FloatType.parse(act)
    return FpMacConfig(weight=FloatType.parse(spec["weight"]), activation=act,
                       lanes=spec["lanes"], **extra)


@pytest.mark.parametrize("name", ["fp8_e4m3", "fp8_e5m2", "fp6_e3m2", "fp4_e2m1"])
def test_every_product_is_exact(name):
    """Every code pair of a format with itself: the model's product (or special) is the
    rational product."""
    fmt = FloatType.parse(name)
    cfg = FpMacConfig(weight=fmt, activation=fmt)
    model = FpMacModel(cfg)
    scale = Fraction(1, 1 << cfg.frac_bits)
    for w, a in product(range(fmt.code_count), repeat=2):
        total, special = model.dot([w], [a])
        want, want_special = ref_dot(cfg, [w], [a])
        assert special == want_special, (w, a)
        if not special:
            assert total * scale == want, (w, a)


@pytest.mark.parametrize("spec", CONFIGS, ids=lambda s: f"{s['weight']}_{s['activation']}")
def test_random_and_corner_sums_are_exact(spec):
    """Long random streams (a third corners: +-0, +-min subnormal, +-max normal, NaN/Inf where
    the format has them): the accumulator is the exact rational sum, the sticky special the
    reference's, and the FP32 / BF16 output the correctly rounded value of the sum."""
    rng = np.random.default_rng(16)
    cfg = make(spec, depth=1 << 12)
    model = FpMacModel(cfg)
    scale = Fraction(1, 1 << cfg.frac_bits)
    total, special = Fraction(0), 0
    for step in range(600):
        clear = step % 150 == 0
        w = random_codes(rng, cfg.weight, cfg.lanes, corner_fraction=0.33)
        a = random_codes(rng, cfg.activation, cfg.lanes, corner_fraction=0.33)
        model.step(True, clear, w, a)
        t, s = ref_dot(cfg, w.tolist(), a.tolist())
        total = t if clear else total + t
        special = s if clear else special | s
        assert model.special == special, step
        assert model.acc * scale == total, step
    assert min(float_corners(cfg.weight)) == 0


def test_corners_cover_the_named_values():
    fmt = FloatType.parse("fp8_e4m3")
    reals = {fmt.real(c) for c in float_corners(fmt) if fmt.special(c) is None}
    assert reals == {0.0, 2.0 ** -9, -(2.0 ** -9), 448.0, -448.0}
    assert [c for c in float_corners(fmt) if fmt.special(c)] == [0x7F, 0xFF]
    e5m2 = FloatType.parse("fp8_e5m2")
    assert {e5m2.real(c) for c in float_corners(e5m2) if e5m2.special(c) is None} == {
        0.0, 2.0 ** -16, -(2.0 ** -16), 57344.0, -57344.0}


@pytest.mark.parametrize("output", [FpOutput.FP32, FpOutput.BF16])
def test_rounding_equals_numpy(output):
    """``round_to`` of random exact sums (at most 53 significant bits, so a double holds
    them) equals numpy's float32 and ml_dtypes' bfloat16 conversion (round to nearest, ties
    to even), ties included."""
    rng = np.random.default_rng(32)
    frac_bits = 18
    cast = np.float32 if output is FpOutput.FP32 else ml_dtypes.bfloat16
    width = 32 if output is FpOutput.FP32 else 16
    sums = [int(x) for x in rng.integers(-(1 << 52), 1 << 52, size=3000)]
    keep = 24 if output is FpOutput.FP32 else 8
    for lead in range(keep + 1, 50):  # exact ties, and one ulp either side of them
        tie = (1 << lead) | (1 << (lead - keep))
        sums += [tie, tie + 1, tie - 1, -tie, tie | (1 << (lead - keep + 1))]
    for acc in sums + [0, 1, -1, (1 << 52) - 1]:
        want = np.array([acc / 2.0 ** frac_bits]).astype(cast)
        bits = int(want.view(np.uint32 if width == 32 else np.uint16)[0])
        assert round_to(acc, frac_bits, 0, output) == bits, acc


def test_special_outputs():
    nan, inf = round_to(5, 3, 3, FpOutput.FP32), round_to(5, 3, 1, FpOutput.FP32)
    assert nan == 0x7FC00000 and inf == 0x7F800000
    assert round_to(5, 3, 2, FpOutput.FP32) == 0xFF800000
    assert round_to(5, 3, 3, FpOutput.BF16) == 0x7FC0


def test_saturation_and_wrap_of_the_exact_sum():
    """A small given accumulator: wrap is two's complement, saturation clamps, as for the
    integer PEs."""
    max_code = 0x7E  # 448 in e4m3
    for overflow in (Overflow.WRAP, Overflow.SATURATE):
        cfg = make(CONFIGS[0], acc_bits=24, overflow=overflow)
        model = FpMacModel(cfg)
        exact = 0
        for _ in range(40):
            model.step(True, False, [max_code] * 2, [max_code] * 2)
            exact += 2 * model.product(max_code, max_code)
        lo, hi = -(1 << 23), (1 << 23) - 1
        if overflow is Overflow.SATURATE:
            assert model.acc == min(exact, hi)
        else:
            assert model.acc == ((exact - lo) % (1 << 24)) + lo
