import numpy as np
import pytest

from qtpe.hdl.formats import AccType, FloatType, Overflow, QType, ScaleType, Special, parse_enum


@pytest.mark.parametrize("text,bits,signed,lo,hi", [
    ("int1", 1, True, -1, 0),
    ("uint1", 1, False, 0, 1),
    ("int8", 8, True, -128, 127),
    ("uint8", 8, False, 0, 255),
    ("int16", 16, True, -32768, 32767),
    ("uint16", 16, False, 0, 65535),
])
def test_qtype_parse_and_range(text, bits, signed, lo, hi):
    q = QType.parse(text)
    assert (q.bits, q.signed, q.min, q.max) == (bits, signed, lo, hi)
    assert str(q) == text


@pytest.mark.parametrize("text", ["int0", "uint17", "int", "float8", "i8", 8, "INT8", "int08x"])
def test_qtype_parse_rejects(text):
    with pytest.raises(ValueError, match=r"int<N> or uint<N>|1 to 16 bits"):
        QType.parse(text)


def test_qtype_width_errors_name_value():
    with pytest.raises(ValueError, match=r"not 0 \(int0\)"):
        QType(0)
    with pytest.raises(ValueError, match=r"not 17 \(uint17\)"):
        QType(17, signed=False)


def test_acc_type_range_and_limits():
    acc = AccType(12, True, Overflow.SATURATE)
    assert (acc.min, acc.max) == (-2048, 2047)
    assert AccType(12, False).max == 4095
    with pytest.raises(ValueError, match="2 to 96 bits, not 97"):
        AccType(97, True)
    with pytest.raises(ValueError, match="2 to 96 bits, not 1"):
        AccType(1, True)


def test_overflow_parse():
    assert parse_enum(Overflow, "saturate", "overflow") is Overflow.SATURATE
    with pytest.raises(ValueError, match=r"'wrap', 'saturate', not 'clip'"):
        parse_enum(Overflow, "clip", "overflow")


ML_DTYPES = {"fp8_e4m3": "float8_e4m3fn", "fp8_e5m2": "float8_e5m2",
             "fp6_e3m2": "float6_e3m2fn", "fp6_e2m3": "float6_e2m3fn",
             "fp4_e2m1": "float4_e2m1fn"}


@pytest.mark.parametrize("name", sorted(ML_DTYPES))
def test_float_codes_decode_as_ml_dtypes(name):
    """Every code's value (sign of zero, NaN, infinities included) and the integer view are
    those of ``ml_dtypes``, the reference codecs."""
    import ml_dtypes

    fmt = FloatType.parse(name)
    ref = np.arange(fmt.code_count, dtype=np.uint8).view(getattr(ml_dtypes, ML_DTYPES[name]))
    ref = ref.astype(np.float64)
    assert fmt.code_count == 1 << fmt.bits == len(ref)
    for code, want in enumerate(ref.tolist()):
        got = fmt.real(code)
        if np.isnan(want):
            assert np.isnan(got) and fmt.special(code) is Special.NAN, (name, code)
            continue
        assert got == want and np.signbit(got) == np.signbit(want), (name, code, got, want)
        if np.isinf(want):
            assert fmt.special(code) is (Special.NEG_INF if want < 0 else Special.POS_INF)
        else:
            assert fmt.special(code) is None
            assert fmt.decode(code) == want * 2 ** fmt.frac_bits, (name, code)


def test_e8m0_codes_decode_as_ml_dtypes():
    import ml_dtypes

    ref = np.arange(256, dtype=np.uint8).view(ml_dtypes.float8_e8m0fnu).astype(np.float64)
    scale = ScaleType.parse("e8m0")
    for code, want in enumerate(ref.tolist()):
        got = scale.real(code)
        assert (np.isnan(got) and np.isnan(want)) or got == want, (code, got, want)
    assert scale.exponent(255) is None and scale.exponent(0) == -127
