import pytest

from qtpe.hdl.formats import AccType, Overflow, QType, parse_enum


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
