"""The shift-add golden model: weight formats and value tables, decoders, encoders (nearest
level, tie rule, clipping), the error report, and the PE model against references."""

import numpy as np
import pytest

from qtpe.hdl.config import PEConfig
from qtpe.hdl.formats import AccType, Overflow, PotEncoding, PotType, QType, ScaleKind
from qtpe.hdl.kind_mac import MacConfig
from qtpe.hdl.kind_shiftadd import ShiftAddConfig
from qtpe.tb.models import dequant
from qtpe.tb.models.formats import Operand, random_operands
from qtpe.tb.models.mac import mac_stream
from qtpe.tb.models.shiftadd import ShiftAddModel, encode, mse_report, shiftadd_stream


def decode(fmt, operands):
    """Weight operands (pot codes, int values) to integers: the format's own table."""
    return Operand(fmt).decode(operands)


ALL_POT = [PotType(b, e) for e in PotEncoding for b in range(2, 9)]

# The value tables of the docs (PotType, README), code 0 first.
TABLES = {
    "pot2": (1, 2, -1, -2),
    "pot3": (1, 2, 4, 8, -1, -2, -4, -8),
    "potz2": (0, 1, 0, -1),
    "potz3": (0, 1, 2, 4, 0, -1, -2, -4),
    "apot2": (0, 1, 0, -1),
    "apot3": (0, 1, 2, 3, 0, -1, -2, -3),
    "apot4": (0, 1, 4, 16, 2, 3, 6, 18, 0, -1, -4, -16, -2, -3, -6, -18),
    "pot4": (1, 2, 4, 8, 16, 32, 64, 128, -1, -2, -4, -8, -16, -32, -64, -128),
}


@pytest.mark.parametrize("name", sorted(TABLES))
def test_value_tables(name):
    fmt = PotType.parse(name)
    assert str(fmt) == name and fmt.values() == TABLES[name]
    assert decode(fmt, np.arange(1 << fmt.bits)).tolist() == list(TABLES[name])
    assert (fmt.min, fmt.max) == (min(TABLES[name]), max(TABLES[name]))


@pytest.mark.parametrize("fmt", ALL_POT, ids=str)
def test_formats(fmt):
    values = fmt.values()
    mags = [fmt.magnitude(m) for m in range(1 << fmt.field_bits)]
    assert values[: len(mags)] == tuple(mags)
    assert values[len(mags):] == tuple(-x for x in mags)  # the sign bit is the top bit
    assert len(set(mags)) == len(mags)  # no magnitude is coded twice
    assert fmt.max_magnitude == max(mags) and fmt.signed
    if fmt.encoding is PotEncoding.POT:
        assert mags == [1 << p for p in range(1 << (fmt.bits - 1))]
    elif fmt.encoding is PotEncoding.POTZ:
        assert mags == [0] + [1 << p for p in range((1 << (fmt.bits - 1)) - 1)]
    else:
        assert all(bin(m).count("1") <= 2 for m in mags)
    assert decode(fmt, [(1 << fmt.bits) - 1]).tolist() == [values[-1]]  # wide values stay exact


def test_parse_errors_and_config_keys():
    assert PotType.parse("apot7") == PotType(7, PotEncoding.APOT)
    with pytest.raises(ValueError, match=r"pot weight width must be 2 to 8 bits, not 9 \(pot9\)"):
        PotType.parse("pot9")
    with pytest.raises(ValueError, match="must be pot<N>, potz<N> or apot<N>"):
        PotType.parse("log4")
    with pytest.raises(ValueError, match="potz4 code must be an integer from 0 to 15, not 16"):
        PotType.parse("potz4").decode(16)
    with pytest.raises(ValueError,
                       match=r"weight code 16 is outside potz4 codes \(allowed 0..15\)"):
        decode(PotType.parse("potz4"), [3, 16])
    cfg = PEConfig.from_dict({"pe": "shiftadd", "weight": "apot5", "lanes": 4,
                              "group_size": 8, "group_scale": "pot", "scale_bits": 2})
    assert cfg.weight == PotType(5, PotEncoding.APOT) and cfg.group_steps == 2
    assert PEConfig.from_dict(cfg.to_dict()) == cfg


@pytest.mark.parametrize("fmt", ALL_POT + [QType(b, s) for b in (2, 5, 8) for s in (True, False)],
                         ids=str)
def test_encode_decoded_values_is_identity(fmt):
    values = np.array(sorted(set(fmt.values()) if isinstance(fmt, PotType)
                             else range(fmt.min, fmt.max + 1)), dtype=object)
    assert decode(fmt, encode(fmt, values.astype(np.float64))).tolist() == values.tolist()


@pytest.mark.parametrize("name", ["pot3", "potz4", "apot5", "int4", "uint3"])
def test_encoder_picks_nearest_level(name):
    fmt = QType.parse(name) if "int" in name else PotType.parse(name)
    x = np.random.default_rng(3).normal(0, 4, 5000)
    got = decode(fmt, encode(fmt, x)).astype(np.float64)
    levels = np.array(sorted(set(fmt.values()) if isinstance(fmt, PotType)
                             else range(fmt.min, fmt.max + 1)), dtype=np.float64)
    if isinstance(fmt, PotType) and fmt.encoding is not PotEncoding.APOT:
        # log domain: nearest in log2|x| among the nonzero levels of the same sign (magnitudes
        # above 2^-0.5 only, for potz; below that potz gives zero)
        big = np.abs(x) >= 2 ** -0.5
        mags = levels[levels > 0]
        best = mags[np.argmin(np.abs(np.log2(np.abs(x[big]))[:, None] - np.log2(mags)), axis=1)]
        assert np.array_equal(np.abs(got[big]), best)
        assert np.array_equal(np.sign(got[big]), np.sign(x[big]))
    else:
        dist = np.abs(x[:, None] - levels[None, :]).min(axis=1)
        assert np.allclose(np.abs(got - x), dist)


def test_tie_rule_and_clipping():
    def values(name, xs):
        fmt = QType.parse(name) if "int" in name else PotType.parse(name)
        return decode(fmt, encode(fmt, np.array(xs, dtype=np.float64))).tolist()

    r2 = float(np.exp2(0.5))
    below = float(np.nextafter(r2, 0))
    assert values("pot3", [r2, below, -r2, 0.0, -0.0, 1e9, -1e-9]) == [2, 1, -2, 1, 1, 8, -1]
    h = float(np.exp2(-0.5))
    assert values("potz3", [h, float(np.nextafter(h, 0)), -h, 0.0, 1e9]) == [1, 0, -1, 0, 4]
    assert values("apot3", [0.5, 1.5, 2.5, -2.5, 0.49, 99]) == [1, 2, 3, -3, 0, 3]
    assert values("int4", [0.5, -0.5, 2.5, -7.5, 1e3, -1e3]) == [1, -1, 3, -8, 7, -8]
    assert values("uint3", [-3, 6.5, 0.4]) == [0, 7, 0]
    potz = PotType.parse("potz3")
    assert encode(potz, np.array([-0.1])).tolist() == [0]  # zero always has sign bit 0
    with pytest.raises(ValueError, match="finite"):
        encode(potz, np.array([np.nan]))


def test_mse_report_is_reproducible_and_ordered():
    rows = {r.fmt: r for r in mse_report(bits=(3, 4, 5), samples=4096)}
    again = {r.fmt: r for r in mse_report(bits=(3, 4, 5), samples=4096)}
    assert rows == again
    for b in (3, 4, 5):
        assert rows[f"int{b}"].ratio_maxabs == rows[f"int{b}"].ratio_best == 1.0
        for r in rows.values():
            assert r.mse_best <= r.mse_maxabs
    assert rows["int5"].mse_best < rows["int4"].mse_best < rows["int3"].mse_best
    # Log-domain rounding has a relative-error floor: past 4 bits more exponents only add range.
    assert rows["pot5"].mse_best == pytest.approx(rows["pot4"].mse_best, rel=0.02)
    assert rows["apot5"].mse_best < rows["pot5"].mse_best
    assert rows["pot4"].levels == 16 and rows["potz4"].levels == 15


# -- the PE model ---------------------------------------------------------------------------
def mac_reference(cfg):
    """The MAC PE with integer weights wide enough for the decoded values, same accumulator."""
    bits = max(cfg.weight.max_magnitude.bit_length() + 1, 2) if isinstance(cfg.weight, PotType) \
        else cfg.weight.bits
    signed = cfg.weight.signed
    return MacConfig(weight=QType(bits, signed), activation=cfg.activation, lanes=cfg.lanes,
                     acc_bits=cfg.acc.bits, overflow=cfg.overflow)


@pytest.mark.parametrize("cfg", [
    ShiftAddConfig(lanes=8),
    ShiftAddConfig(weight=PotType.parse("potz5"), activation=QType(6, False), lanes=3,
                   acc_bits=14, overflow=Overflow.SATURATE),
    ShiftAddConfig(weight=PotType.parse("apot6"), activation=QType(4), lanes=2, acc_bits=9),
    ShiftAddConfig(weight=QType(3, False), activation=QType(5), lanes=4),
], ids=lambda c: f"{c.weight}x{c.activation}-{c.acc}")
def test_model_matches_mac_on_decoded_weights(cfg):
    rng = np.random.default_rng(5)
    n = 600
    codes = (random_operands(rng, cfg.weight, (n, cfg.lanes)) if isinstance(cfg.weight, QType)
             else rng.integers(0, 1 << cfg.weight.bits, (n, cfg.lanes)))
    a = random_operands(rng, cfg.activation, (n, cfg.lanes))
    valid, clear = rng.random(n) < 0.8, rng.random(n) < 0.05
    want = mac_stream(mac_reference(cfg), decode(cfg.weight, codes), a, valid, clear)
    assert shiftadd_stream(cfg, codes, a, valid, clear) == want.tolist()


def plain_groups(cfg, codes, a, valid, clear, scale):
    """Independent reference for groups: plain Python, one group at a time."""
    acc, psum, count, out = 0, 0, 0, []
    table = cfg.weight.values()
    lo, hi, bits = cfg.acc.min, cfg.acc.max, cfg.acc.bits
    for v, c, ws, xs, s in zip(valid, clear, codes, a, scale, strict=True):
        if c:
            acc, psum, count = 0, 0, 0
        if not v:
            continue
        psum += sum(table[int(w)] * int(x) for w, x in zip(ws, xs, strict=True))
        count += 1
        if count == cfg.group_steps:
            total = acc + (psum * int(s) if cfg.group_scale is ScaleKind.INT
                           else psum * 2 ** int(s))
            if cfg.overflow is Overflow.SATURATE:
                acc = min(max(total, lo), hi)
            else:
                acc = (total + (1 << (bits - 1))) % (1 << bits) - (1 << (bits - 1))
            out.append(acc)
            psum, count = 0, 0
    return out


@pytest.mark.parametrize("kind,overflow", [(ScaleKind.INT, Overflow.WRAP),
                                           (ScaleKind.POT, Overflow.SATURATE)])
def test_model_groups_against_plain_reference(kind, overflow):
    cfg = ShiftAddConfig(weight=PotType.parse("potz4"), lanes=2, group_size=6, group_scale=kind,
                         scale_bits=3, acc_bits=18, overflow=overflow)
    rng = np.random.default_rng(9)
    n = 900
    codes = rng.integers(0, 16, (n, 2))
    a = random_operands(rng, cfg.activation, (n, 2))
    valid, clear = rng.random(n) < 0.8, rng.random(n) < 0.02
    scale = rng.integers(0, 8, n)
    got = shiftadd_stream(cfg, codes, a, valid, clear, scale)
    assert len(got) > 100
    assert got == plain_groups(cfg, codes, a, valid, clear, scale)
    model = ShiftAddModel(cfg)
    assert model._scaled(-37, 5) == int(dequant.scale_partial_sum(-37, 5, cfg.group))


def test_wide_weights_stay_exact():
    """pot8 decodes to +-2^127: a single product saturates, and wraps to zero in 20 bits."""
    for overflow, want in ((Overflow.SATURATE, [AccType(20, True).max, AccType(20, True).min]),
                           (Overflow.WRAP, [0, 0])):
        cfg = ShiftAddConfig(weight=PotType.parse("pot8"), activation=QType(4), acc_bits=20,
                             overflow=overflow)
        got = shiftadd_stream(cfg, [[127], [255]], [[3], [3]], [True, True], [True, True])
        assert got == want
    cfg = ShiftAddConfig(weight=PotType.parse("pot8"), activation=QType(4), lanes=2, acc_bits=20,
                         overflow=Overflow.SATURATE)
    assert shiftadd_stream(cfg, [[127, 255]], [[3, 3]], [True], [True]) == [0]  # cancels exactly
