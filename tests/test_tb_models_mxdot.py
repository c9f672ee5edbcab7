"""The MX dot-product golden model against an exact rational reference written from the
formats' real values (``FloatType.real``, ``ScaleType.real``) with ``fractions.Fraction``:
``acc * 2^-(frac_bits - scale_min)`` is the sum over blocks of ``2^(Xw + Xa) * sum(w * a)``,
and ``special`` is what IEEE 754 arithmetic on the real values gives (NaN blocks for NaN or
out-of-window scales)."""

import dataclasses
import math
from fractions import Fraction

import numpy as np
import pytest

from qtpe.hdl.formats import FloatType, Overflow, QType, ScaleType
from qtpe.hdl.kind_mxdot import EXAMPLES, PRESETS, MxDotConfig
from qtpe.tb.models.fpmac import float_corners
from qtpe.tb.models.mxdot import MxDotModel, block_exponent, random_scales

E4M3, E5M2, E3M2, E2M3, E2M1 = map(FloatType.parse, ("fp8_e4m3", "fp8_e5m2", "fp6_e3m2",
                                                     "fp6_e2m3", "fp4_e2m1"))
CONFIGS = list(EXAMPLES) + [p.config for p in PRESETS.values()] + [
    MxDotConfig(weight=E2M3, activation=E3M2, lanes=4, block_size=32),
    MxDotConfig(weight=E5M2, activation=QType(8), lanes=2, block_size=8, scale_min=-3,
                scale_max=9),
]
ID = [f"{c.weight}-{c.activation}-b{c.block_size}-l{c.lanes}-{i}" for i, c in enumerate(CONFIGS)]


def real(fmt, op: int) -> float:
    """The real value of an element: a float code's ``real``, an ``int8`` value itself."""
    return fmt.real(int(op)) if isinstance(fmt, FloatType) else float(op)


def reference(cfg, blocks) -> tuple[Fraction, int]:
    """The exact value and the special state of a sequence of blocks, each ``(weights, acts,
    scale_w, scale_a)`` with ``block_size`` elements, from the real values."""
    total, nan, pos, neg = Fraction(0), False, False, False
    for w, a, sw, sa in blocks:
        xw, xa = ScaleType().real(int(sw)), ScaleType().real(int(sa))
        s = math.log2(xw) + math.log2(xa) if not (math.isnan(xw) or math.isnan(xa)) else None
        if s is None or not cfg.scale_min <= s <= cfg.scale_max:
            nan = True
            continue
        block = Fraction(0)
        for x, y in zip(w, a, strict=True):
            p = real(cfg.weight, x) * real(cfg.activation, y)  # float: NaN/Inf as IEEE says
            if math.isnan(p):
                nan = True
            elif math.isinf(p):
                pos, neg = pos or p > 0, neg or p < 0
            else:
                block += Fraction(real(cfg.weight, x)) * Fraction(real(cfg.activation, y))
        total += Fraction(xw) * Fraction(xa) * block
    special = 3 if nan or (pos and neg) else 1 if pos else 2 if neg else 0
    return total, special


def run_blocks(cfg, blocks, gaps=None):
    """Feed whole blocks from a clear (idle cycles between inputs where ``gaps``); the last
    output."""
    model = MxDotModel(cfg)
    out, first = None, True
    for w, a, sw, sa in blocks:
        for k in range(cfg.block_steps):
            if gaps is not None and gaps.random() < 0.3:
                assert model.step(False, False, np.zeros(cfg.lanes), np.zeros(cfg.lanes)) is None
            lanes = slice(k * cfg.lanes, (k + 1) * cfg.lanes)
            got = model.step(True, first, w[lanes], a[lanes], sw, sa)
            first = False
            assert (got is None) == (k < cfg.block_steps - 1)
            out = got if got is not None else out
    return out


def element_codes(rng, fmt, n):
    if isinstance(fmt, FloatType):
        return rng.integers(0, fmt.code_count, n)
    return rng.integers(fmt.min, fmt.max, n, endpoint=True)


def random_blocks(cfg, rng, count):
    sw, sa = random_scales(cfg, rng, count)
    return [(element_codes(rng, cfg.weight, cfg.block_size),
             element_codes(rng, cfg.activation, cfg.block_size), sw[i], sa[i])
            for i in range(count)]


def value_of(cfg, acc: int) -> Fraction:
    """``acc * 2^-(frac_bits - scale_min)``."""
    return acc * Fraction(2) ** -cfg.acc_frac_bits


def check(cfg, blocks, gaps=None):
    acc, special = run_blocks(cfg, blocks, gaps)
    value, want_special = reference(cfg, blocks)
    assert special == want_special
    if special == 0 and cfg.acc_bits is None:  # derived: exact, no overflow
        assert value_of(cfg, acc) == value
        assert cfg.acc.min <= acc <= cfg.acc.max
    return acc, special


@pytest.mark.parametrize("cfg", CONFIGS, ids=ID)
def test_random_blocks_match_the_rational_reference(cfg):
    rng = np.random.default_rng(5)
    seen = set()
    for trial in range(60):
        blocks = random_blocks(cfg, rng, int(rng.integers(1, 4)))
        if trial % 2 == 0:  # finite elements, in-window scales: the value is checked
            blocks = [(np.where(_finite(cfg.weight, w), w, 0), np.where(
                _finite(cfg.activation, a), a, 0), *_in_window(cfg, rng)) for w, a, _, _ in blocks]
        seen.add(check(cfg, blocks, rng if trial % 3 == 0 else None)[1])
    assert 0 in seen and 3 in seen


def _finite(fmt, codes):
    if not isinstance(fmt, FloatType):
        return np.ones(len(codes), dtype=bool)
    return np.array([fmt.special(int(c)) is None for c in codes])


def _in_window(cfg, rng):
    x = int(rng.integers(cfg.scale_min, cfg.scale_max, endpoint=True))
    xw = int(rng.integers(max(-127, x - 127), min(127, x + 127), endpoint=True))
    return xw + 127, x - xw + 127


@pytest.mark.parametrize("cfg", CONFIGS, ids=ID)
def test_corner_elements_match_the_rational_reference(cfg):
    """Max normal, min subnormal, both zeros and NaN/Inf (where present) of each format, at
    both ends of the scale window and outside it."""
    rng = np.random.default_rng(9)
    wc = _corners(cfg.weight)
    ac = _corners(cfg.activation)
    pairs = [(x, y) for x in wc for y in ac]
    ends = [(cfg.scale_min, 0), (cfg.scale_max, 0), (cfg.scale_min - 1, 3),
            (cfg.scale_max + 1, 3)]
    for x, y in pairs:
        for xsum, want_nan in ends:
            if not -254 <= xsum <= 254:
                continue
            xw = max(-127, min(127, xsum))
            w = np.full(cfg.block_size, x)
            a = np.full(cfg.block_size, y)
            a[1:] = rng.choice(ac, cfg.block_size - 1)
            _, special = check(cfg, [(w, a, xw + 127, xsum - xw + 127)])
            if want_nan:
                assert special == 3
    for sw, sa in ((255, 127), (127, 255), (255, 255)):
        assert check(cfg, [(np.full(cfg.block_size, wc[0]), np.full(cfg.block_size, ac[0]),
                            sw, sa)])[1] == 3


def _corners(fmt):
    if isinstance(fmt, FloatType):
        return float_corners(fmt)
    return [fmt.min, -1, 0, 1, fmt.max]


DERIVED = [(c, i) for c, i in zip(CONFIGS, ID, strict=True) if c.acc_bits is None]


@pytest.mark.parametrize("cfg", [c for c, _ in DERIVED], ids=[i for _, i in DERIVED])
def test_largest_blocks_at_the_top_of_the_window_fill_the_derived_accumulator(cfg):
    """``blocks`` blocks of the largest product at scale ``scale_max`` stay exact; the sum of
    both signs at the bottom of the window is the smallest nonzero step."""
    top = max((c for c in _corners(cfg.weight) if _finite(cfg.weight, [c])[0]),
              key=lambda c: abs(real(cfg.weight, c)))
    atop = max((c for c in _corners(cfg.activation) if _finite(cfg.activation, [c])[0]),
               key=lambda c: abs(real(cfg.activation, c)))
    x = cfg.scale_max
    xw = max(-127, min(127, x))
    block = (np.full(cfg.block_size, top), np.full(cfg.block_size, atop), xw + 127, x - xw + 127)
    acc, special = check(cfg, [block] * cfg.blocks)
    assert special == 0 and acc.bit_length() >= cfg.acc.bits - 4  # the width is not loose
    assert block_exponent(cfg, xw + 127, x - xw + 127) == cfg.scale_max


def test_wrap_and_saturate_match_the_exact_sum():
    base = MxDotConfig(weight=E2M1, activation=E2M1, lanes=2, block_size=2, acc_bits=8)
    for overflow in Overflow:
        cfg = dataclasses.replace(base, overflow=overflow)
        model = MxDotModel(cfg)
        top = max(range(8), key=E2M1.real)  # max normal, +6: integer view 12
        exact = 0
        for _ in range(6):  # scale sum scale_min: no shift
            acc, special = model.step(True, False, [top, top], [top, top], 127 - 16, 127)
            exact += 2 * 12 * 12
            assert model.last_sum is not None and special == 0
            if overflow is Overflow.WRAP:
                assert acc == ((exact + 128) % 256) - 128
            else:
                assert acc == min(exact, 127)


def test_clear_restarts_the_block_and_the_special_state():
    cfg = MxDotConfig(weight=E5M2, activation=E5M2, lanes=1, block_size=2, scale_min=-2,
                      scale_max=2)
    model = MxDotModel(cfg)
    one = 0x3C  # e5m2 1.0
    inf = 0x7C
    assert model.step(True, False, [inf], [one], 127, 127) is None
    acc, special = model.step(True, False, [one], [one], 127, 127)
    assert special == 1 and value_of(cfg, acc) == 1
    assert model.step(True, False, [one], [one]) is None
    assert model.step(False, True, [0], [0]) is None and model.cut
    assert model.step(True, False, [one], [one]) is None
    acc, special = model.step(True, False, [one], [one], 128, 127)
    assert special == 0 and value_of(cfg, acc) == 4
    assert model.step(True, True, [one], [one]) is None  # clear on the first of a block
    assert model.step(True, False, [one], [one], 255, 127) == (0, 3)
