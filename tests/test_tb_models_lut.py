"""The LUT golden model: weight formats, the decomposition into tables, bit-planes and offset
terms against a plain integer dot product (exhaustive over codes for small cases, most-negative
activations), and the tile model against a plain-Python accumulator."""

import itertools

import numpy as np
import pytest

from qtpe.hdl.formats import AccType, Overflow, PlaneEncoding, PlaneType, QType
from qtpe.hdl.kind_lut import LutConfig
from qtpe.tb.models.formats import random_operands
from qtpe.tb.models.lut import (
    decode,
    encode,
    full_table,
    lut_dot,
    lut_stream,
    offset_coeff,
    plain_dot,
    planes,
    stored_table,
    sym_table,
    table,
)

WEIGHTS = ([QType(b, s) for s in (True, False) for b in range(1, 5)]
           + [PlaneType(b) for b in range(1, 5)] + [PlaneType.parse("ternary")])
CODE_TUPLES_MAX = 4096


def zero_points(cfg):
    return range(1 << cfg.weight.bits) if cfg.has_zero else [0]


# -- formats -------------------------------------------------------------------------------
@pytest.mark.parametrize("text, values", [
    ("sym1", (-1, 1)), ("sym2", (-3, -1, 1, 3)), ("sym3", (-7, -5, -3, -1, 1, 3, 5, 7)),
    ("ternary", (-1, 0, 0, 1)),
])
def test_plane_type_values(text, values):
    fmt = PlaneType.parse(text)
    assert str(fmt) == text and fmt.values() == values and fmt.signed
    assert (fmt.min, fmt.max) == (min(values), max(values))
    assert decode(LutConfig(weight=fmt), np.arange(len(values))).tolist() == list(values)


def test_plane_type_errors():
    for text, match in [("sym0", "sym weight width must be 1 to 4 bits, not 0"),
                        ("sym5", "not 5 \\(sym5\\)"), ("ternary2", "sym<N> or ternary"),
                        ("int4", "not 'int4'")]:
        with pytest.raises(ValueError, match=match):
            PlaneType.parse(text)
    with pytest.raises(ValueError, match="ternary weights are 2-bit codes, not 3 bits"):
        PlaneType(3, PlaneEncoding.TERNARY)
    with pytest.raises(ValueError, match="code must be an integer from 0 to 3, not 4"):
        PlaneType(2).decode(4)


@pytest.mark.parametrize("weight", WEIGHTS, ids=str)
def test_coefficients_and_codes(weight):
    """``w = sum_k c_k b_k + c_const`` for every code (and zero point); encode inverts decode."""
    cfg = LutConfig(weight=weight)
    codes = np.arange(1 << weight.bits)
    for z in zero_points(cfg):
        w = decode(cfg, codes, z)
        bits = (codes[:, None] >> np.arange(weight.bits)) & 1
        assert (bits @ np.array(cfg.plane_coeffs) + cfg.const_coeff(z) == w).all()
        assert cfg.weight_range[0] <= w.min() and w.max() <= cfg.weight_range[1]
        again = encode(cfg, w, z)
        assert (decode(cfg, again, z) == w).all()
        if not (isinstance(weight, PlaneType) and weight.encoding is PlaneEncoding.TERNARY):
            assert (again == codes).all()
    if isinstance(weight, PlaneType) and weight.encoding is PlaneEncoding.TERNARY:
        assert encode(cfg, [-1, 0, 1]).tolist() == [0, 1, 3]  # zero is written as 01
    lo, hi = cfg.weight_range
    assert decode(cfg, codes, max(zero_points(cfg))).min() == lo or not cfg.has_zero
    assert decode(cfg, codes).max() == hi


def test_encode_rejects_values_without_a_code():
    with pytest.raises(ValueError, match="weight 2 has no sym2 code"):
        encode(LutConfig(weight=PlaneType(2)), [1, 2])
    with pytest.raises(ValueError, match="weight -2 has no ternary code"):
        encode(LutConfig(weight=PlaneType.parse("ternary")), [-2])
    with pytest.raises(ValueError, match="weight 2 has no int2 code"):
        encode(LutConfig(weight=QType(2)), [2])
    with pytest.raises(ValueError, match="weight -3 has no uint2 code"):
        encode(LutConfig(weight=QType(2, False)), [-3], zero=2)
    with pytest.raises(ValueError, match="weight code 4 is outside int2 codes"):
        decode(LutConfig(weight=QType(2)), [4])
    with pytest.raises(ValueError, match="zero point 1 is outside 0..0 for int2"):
        plain_dot(LutConfig(weight=QType(2)), [[0] * 4], [[0] * 4], zero=1)


# -- tables ---------------------------------------------------------------------------------
@pytest.mark.parametrize("g", [2, 3, 4])
def test_tables(g):
    rng = np.random.default_rng(g)
    cfg = LutConfig(g=g)
    a = np.concatenate([np.full((1, g), -128), np.full((1, g), 127),
                        random_operands(rng, cfg.activation, (200, g))])
    t, ts = table(a), sym_table(a)
    s = a.sum(axis=1, keepdims=True)
    assert (t[:, 0] == 0).all() and (t[:, -1] == s[:, 0]).all()
    half = 1 << (g - 1)
    assert (ts == 2 * t[:, :half] - s).all()  # T_sym(i) = 2 T(i) - S
    full = full_table(cfg, stored_table(cfg, a))
    assert (full == 2 * t - s).all()
    assert (full[:, ::-1] == -full).all()  # T_sym(~i) = -T_sym(i)
    for symmetric in (False, True):
        c = LutConfig(g=g, symmetric=symmetric)
        stored = stored_table(c, a)
        for col, i in enumerate(c.table_indices):
            lo, hi = c.entry_range(i)
            assert lo <= stored[:, col].min() and stored[:, col].max() <= hi
        # most-negative activations reach the bound of T(all ones) and of T_sym(0)
        extreme = stored[0, -1] if not symmetric else stored[1, 0]
        assert extreme == (c.entry_range(c.table_indices[-1])[0] if not symmetric
                           else c.entry_range(0)[0])
    assert LutConfig(g=g).entry_range(0)[1] == g * 128  # T_sym(0) = -S reaches g * 2^(A-1)
    assert stored_table(LutConfig(g=g), np.full(g, -128)).tolist()[0] == g * 128


def test_planes():
    cfg = LutConfig(weight=QType(3), g=3)
    codes = np.array([0b101, 0b011, 0b110])
    # plane k: bit k of weight 0 at bit 0, of weight 1 at bit 1, ...
    assert planes(cfg, codes).tolist() == [0b011, 0b110, 0b101]


# -- the decomposition against the plain dot product ---------------------------------------
def code_tuples(cfg, rng):
    n = 1 << cfg.weight.bits
    if n ** cfg.g <= CODE_TUPLES_MAX:
        return np.array(list(itertools.product(range(n), repeat=cfg.g)))
    return rng.integers(0, n, (CODE_TUPLES_MAX, cfg.g))


def act_vectors(cfg, rng):
    a, g = cfg.activation, cfg.g
    rows = [[a.min] * g, [a.max] * g, ([a.min, a.max] * g)[:g], ([a.max, a.min] * g)[:g]]
    return np.concatenate([np.array(rows), random_operands(rng, a, (4, g))])


@pytest.mark.parametrize("symmetric", [False, True], ids=["plain", "sym"])
@pytest.mark.parametrize("g", [2, 3, 4])
@pytest.mark.parametrize("weight", WEIGHTS, ids=str)
def test_decomposition_is_exact(weight, g, symmetric):
    """Every code tuple (or 4096 random ones) x corner and random activation vectors x every
    zero point: lookups, shifts and offset terms give the plain integer dot product."""
    cfg = LutConfig(weight=weight, g=g, symmetric=symmetric)
    rng = np.random.default_rng(100 * g + weight.bits)
    codes = code_tuples(cfg, rng)
    for a in act_vectors(cfg, rng):
        act = np.broadcast_to(a, codes.shape)
        for z in zero_points(cfg):
            assert (lut_dot(cfg, codes, act, z) == plain_dot(cfg, codes, act, z)).all()


@pytest.mark.parametrize("symmetric", [False, True], ids=["plain", "sym"])
@pytest.mark.parametrize("weight", [QType(2), QType(2, False), PlaneType(2),
                                    PlaneType.parse("ternary")], ids=str)
def test_exhaustive_small(weight, symmetric):
    """g = 2, int4 activations: every code pair x every activation pair x every zero point."""
    cfg = LutConfig(weight=weight, g=2, symmetric=symmetric, activation=QType(4))
    grid = np.array(list(itertools.product(range(4), range(4), range(-8, 8), range(-8, 8))))
    codes, act = grid[:, :2], grid[:, 2:]
    for z in zero_points(cfg):
        assert (lut_dot(cfg, codes, act, z) == plain_dot(cfg, codes, act, z)).all()


def test_offset_coefficients():
    """Symmetric offsets: none for sym/ternary, -S for int, (2^b - 1 - 2 zp) S for uint."""
    sym = dict(g=4, symmetric=True)
    assert offset_coeff(LutConfig(weight=PlaneType(3), **sym)) == 0
    assert offset_coeff(LutConfig(weight=PlaneType.parse("ternary"), **sym)) == 0
    assert offset_coeff(LutConfig(weight=QType(4), **sym)) == -1
    uint = LutConfig(weight=QType(3, False), **sym)
    assert offset_coeff(uint, np.arange(8)).tolist() == [7 - 2 * z for z in range(8)]
    assert offset_coeff(LutConfig(weight=QType(3, False), symmetric=False), 5) == -5
    assert offset_coeff(LutConfig(weight=PlaneType(3), symmetric=False)) == -7


# -- the tile model ----------------------------------------------------------------------------
def reference_stream(cfg, codes, act, valid, clear, zero):
    """Plain Python: per PE, sum_j decode(code) * a_j, accumulated, wrapped or saturated."""
    acc = [0] * cfg.sharing
    out = []
    for i in range(len(valid)):
        if not valid[i]:
            if clear[i]:
                acc = [0] * cfg.sharing
            continue
        for p in range(cfg.sharing):
            w = decode(cfg, codes[i, p], zero[i, p]).tolist()
            dot = sum(x * y for x, y in zip(w, act[i].tolist(), strict=True))
            total = (0 if clear[i] else acc[p]) + dot
            if cfg.acc.overflow is Overflow.SATURATE:
                total = min(max(total, cfg.acc.min), cfg.acc.max)
            else:
                total = (total + (1 << (cfg.acc.bits - 1))) % (1 << cfg.acc.bits) \
                    - (1 << (cfg.acc.bits - 1))
            acc[p] = total
        out.append(list(acc))
    return out


@pytest.mark.parametrize("cfg", [
    LutConfig(weight=QType(3, False), g=3, sharing=3, acc_bits=10, overflow=Overflow.SATURATE),
    LutConfig(weight=PlaneType.parse("ternary"), g=4, sharing=2, symmetric=False, acc_bits=7),
    LutConfig(weight=QType(4), g=2, acc_bits=9),
], ids=lambda c: f"{c.weight}-s{c.sharing}-{c.acc}")
def test_stream_matches_reference(cfg):
    rng = np.random.default_rng(5)
    n = 400
    codes = rng.integers(0, 1 << cfg.weight.bits, (n, cfg.sharing, cfg.g))
    act = random_operands(rng, cfg.activation, (n, cfg.g))
    zero = (rng.integers(0, 1 << cfg.weight.bits, (n, cfg.sharing)) if cfg.has_zero
            else np.zeros((n, cfg.sharing), np.int64))
    valid, clear = rng.random(n) < 0.8, rng.random(n) < 0.1
    got = lut_stream(cfg, codes, act, valid, clear, zero)
    assert got.shape == (valid.sum(), cfg.sharing)
    assert got.tolist() == reference_stream(cfg, codes, act, valid, clear, zero)
    assert isinstance(cfg.acc, AccType)
