"""Number formats: operand formats that own their wire encoding, and accumulators.

Every operand format is a ``Format`` record: it knows its code width (``bits``, the wires), the
range of the values its codes stand for (``min``, ``max``, ``signed``), how to parse its name
(``match``) and the value of every code (``values()``, ``decode``). The golden models vectorise
that map (``qtpe.tb.models.formats``); the hardware reads the same facts (``qtpe.hdl.shapes``).
A GEMM operand of a format is its value where the format is an integer grid
(``operand_codes`` false: ``int<N>``, ``uint<N>``, ``ternary``) and its code otherwise
(``pot<N>``, ``potz<N>``, ``apot<N>``, ``sym<N>``); ``code_of`` maps a grid value to the code
the wires carry.

A new number format is one more ``Format`` subclass here, added to ``FORMAT_FAMILIES``.

These records are plain Python (no Amaranth import) so that the golden models in
``tb/models`` and the config front end in ``gen`` can use them without pulling in the HDL.
"""

from __future__ import annotations

import enum
import functools
import re
from dataclasses import dataclass
from typing import ClassVar

__all__ = [
    "group_scale",
    "Format", "FORMAT_FAMILIES", "parse_format", "format_names", "show",
    "Overflow", "QType", "AccType", "ScaleKind", "GroupScale", "parse_enum",
    "QTYPE_MIN_BITS", "QTYPE_MAX_BITS", "ACC_MIN_BITS", "ACC_MAX_BITS",
    "PotEncoding", "PotType", "POT_MIN_BITS", "POT_MAX_BITS",
    "PlaneEncoding", "PlaneType", "PLANE_MIN_BITS", "PLANE_MAX_BITS",
    "Specials", "FloatType", "FLOAT_FORMATS", "ScaleType", "Special",
]

QTYPE_MIN_BITS = 1
QTYPE_MAX_BITS = 16
ACC_MIN_BITS = 2
ACC_MAX_BITS = 96  # a Kulisch accumulator of fp8_e5m2 x fp8_e5m2 needs 65 bits + depth


def show(value: object) -> str:
    """``repr(value)`` for a message, kept short: a huge integer is described by its size,
    a long text cut (bad input may be anything); a number format by its name."""
    if isinstance(value, Format):
        return str(value)
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return f"an integer of about {int(value.bit_length() * 0.30103) + 1} digits"
    if isinstance(value, enum.Enum):
        value = value.value  # as the key is written
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def parse_enum(cls: type[enum.Enum], value: object, key: str):
    """The member of ``cls`` that is ``value`` or has it as its value; else ValueError naming
    ``key``, the bad value and the allowed values."""
    if isinstance(value, cls) or any(m.value == value for m in cls):
        return cls(value)
    raise ValueError(f"{key} must be one of {', '.join(repr(m.value) for m in cls)}, "
                     f"not {show(value)}")


def _check_width(bits: object, lo: int, hi: int, what: str, name: str) -> None:
    if isinstance(bits, bool) or not isinstance(bits, int):
        raise TypeError(f"{what} width must be an integer, not {show(bits)}")
    if not lo <= bits <= hi:
        raise ValueError(f"{what} width must be {lo} to {hi} bits, not {bits} ({name})")


class Format:
    """An operand format: ``bits``-bit codes on the wires, each standing for an integer value.

    Subclasses are frozen dataclasses with a ``bits`` field and define ``NAMES`` (the name
    patterns, for messages), ``match``, ``__str__``, ``decode`` and ``min``/``max``.
    """

    #: The name patterns of the family, for messages: ``"int<N>, uint<N>"``.
    NAMES: ClassVar[str]
    #: What the family is called in messages, and its code widths ``N``.
    ROLE: ClassVar[str]
    WIDTHS: ClassVar[tuple[int, int]]
    bits: int

    @classmethod
    def parse(cls, text: object) -> Format:
        """The format of this family named ``text``; ValueError naming it and the names and
        widths allowed."""
        lo, hi = cls.WIDTHS
        return parse_format(text, (cls,), cls.ROLE, f"with N from {lo} to {hi}")

    @classmethod
    def match(cls, text: str) -> Format | None:
        """The format named ``text``, ``None`` if the name is not of this family; ValueError
        (naming the value and what is allowed) if it is, but out of range."""
        raise NotImplementedError

    def decode(self, code: int) -> int:
        """The value of ``code`` (0 .. 2^bits - 1)."""
        raise NotImplementedError

    min: int
    max: int

    # -- derived from the above ---------------------------------------------------------------
    @property
    def signed(self) -> bool:
        """Whether values can be negative."""
        return self.min < 0

    @property
    def wire_signed(self) -> bool:
        """Whether the wires carry the value itself as a two's-complement number (an integer
        grid whose code is its value); else they carry the unsigned code."""
        return False

    @property
    def operand_codes(self) -> bool:
        """GEMM operands of this format are codes (``True``) or grid values (``False``)."""
        return True

    @property
    def code_count(self) -> int:
        return 1 << self.bits

    @property
    def frac_bits(self) -> int:
        """The value of a code is ``decode(code) * 2^-frac_bits``: 0 for integer grids; a
        floating-point format's integer view counts its smallest subnormal (see
        ``FloatType``)."""
        return 0

    def special(self, code: int) -> Special | None:
        """``Special.NAN`` / ``POS_INF`` / ``NEG_INF`` for a code that is no finite number
        (whose ``decode`` is 0 by convention), else ``None``."""
        return None

    def real(self, code: int) -> float:
        """The value of ``code`` as a float (exact for every format here; signed zeros,
        infinities and NaN where the format has them)."""
        return float(self.decode(code)) / (1 << self.frac_bits)

    def check_code(self, code: object) -> int:
        if isinstance(code, bool) or not isinstance(code, int) or not 0 <= code < self.code_count:
            raise ValueError(f"{self} code must be an integer from 0 to {self.code_count - 1}, "
                             f"not {show(code)}")
        return code

    def values(self) -> tuple[int, ...]:
        """The value table: ``values()[code]`` for every code 0 .. 2^bits - 1."""
        return _value_table(self)

    @property
    def largest_magnitude(self) -> int:
        return max(-self.min, self.max)

    def code_of(self, value: int) -> int:
        """The code the wires carry for grid value ``value`` (the first code with that value).
        ValueError if no code has it."""
        try:
            return _inverse_table(self)[value]
        except KeyError:
            raise ValueError(f"{show(value)} is not a value of {self} "
                             f"(allowed {self.min}..{self.max})") from None

    @property
    def plane_coeffs(self) -> tuple[int, ...]:
        """``c_k`` of ``value = sum_k c_k * bit_k(code) + const_coeff``, where a format's value
        is affine in its code bits (bit-plane arithmetic: LUT and bit-serial PEs)."""
        raise ValueError(f"{self} codes are not an affine function of their bits")

    @property
    def const_coeff(self) -> int:
        """``c_const`` of the bit-plane decomposition (see ``plane_coeffs``)."""
        raise ValueError(f"{self} codes are not an affine function of their bits")


@functools.cache
def _value_table(fmt: Format) -> tuple[int, ...]:
    return tuple(fmt.decode(c) for c in range(fmt.code_count))


@functools.cache
def _inverse_table(fmt: Format) -> dict[int, int]:
    out: dict[int, int] = {}
    for code, value in enumerate(fmt.values()):
        out.setdefault(value, code)
    return out


_QTYPE_RE = re.compile(r"(u?int)([0-9]+)", re.ASCII)


@dataclass(frozen=True)
class QType(Format):
    """An integer format: ``int<N>`` (two's complement) or ``uint<N>``, 1 to 16 bits.

    The wires carry the integer itself. ``int1`` holds {-1, 0}; ``uint1`` holds {0, 1}.
    """

    NAMES: ClassVar[str] = "int<N>, uint<N>"
    ROLE: ClassVar[str] = "operand format"
    WIDTHS: ClassVar[tuple[int, int]] = (QTYPE_MIN_BITS, QTYPE_MAX_BITS)
    bits: int
    signed: bool = True  # shadows Format.signed: the field is the fact

    def __post_init__(self):
        _check_width(self.bits, QTYPE_MIN_BITS, QTYPE_MAX_BITS, "operand",
                     f"{'int' if self.signed is True else 'uint'}{self.bits}")
        if not isinstance(self.signed, bool):
            raise TypeError(f"signed must be a bool, not {show(self.signed)}")

    @classmethod
    def match(cls, text: str) -> QType | None:
        m = _QTYPE_RE.fullmatch(text)
        return None if m is None else cls(int(m.group(2)), m.group(1) == "int")


    def __str__(self) -> str:
        return f"{'int' if self.signed else 'uint'}{self.bits}"

    @property
    def wire_signed(self) -> bool:
        return self.signed

    @property
    def operand_codes(self) -> bool:
        return False

    @property
    def min(self) -> int:
        return -(1 << (self.bits - 1)) if self.signed else 0

    @property
    def max(self) -> int:
        return (1 << (self.bits - 1)) - 1 if self.signed else (1 << self.bits) - 1

    def decode(self, code: int) -> int:
        c = self.check_code(code)
        return c - (1 << self.bits) if self.signed and c >> (self.bits - 1) else c

    def code_of(self, value: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not (
                self.min <= value <= self.max):
            raise ValueError(f"{show(value)} is not a value of {self} "
                             f"(allowed {self.min}..{self.max})")
        return value & ((1 << self.bits) - 1)

    @property
    def plane_coeffs(self) -> tuple[int, ...]:
        """``2^k``; the sign bit of ``int<N>`` weighs ``-2^(N-1)``."""
        top = -(1 << (self.bits - 1)) if self.signed else 1 << (self.bits - 1)
        return tuple(1 << k for k in range(self.bits - 1)) + (top,)

    @property
    def const_coeff(self) -> int:
        return 0


POT_MIN_BITS = 2
POT_MAX_BITS = 8
_POT_RE = re.compile(r"(pot|potz|apot)([0-9]+)", re.ASCII)


class PotEncoding(enum.Enum):
    """Power-of-two weight encodings (bit layouts and value tables in ``PotType``)."""

    POT = "pot"  # DenseShift: zero-free sign + exponent
    POTZ = "potz"  # sign + exponent with an explicit zero code
    APOT = "apot"  # sign + two power-of-two terms (additive powers of two)


@dataclass(frozen=True)
class PotType(Format):
    """A ``bits``-bit power-of-two weight code (2 to 8 bits): ``pot<N>``, ``potz<N>``, ``apot<N>``.

    The code is an unsigned bit pattern. Bit ``N-1`` is the sign ``s`` (1 = negative); the low
    ``N-1`` bits are the magnitude field ``m``:

    * ``pot<N>`` (DenseShift, zero-free): ``(-1)^s * 2^m``, exponent ``m`` = 0 .. 2^(N-1)-1.
      pot3: codes 0..7 -> 1, 2, 4, 8, -1, -2, -4, -8.
    * ``potz<N>`` (explicit zero): ``0`` if ``m == 0``, else ``(-1)^s * 2^(m-1)``, exponent
      0 .. 2^(N-1)-2. Both sign codes of ``m == 0`` read as zero (encoders write ``s = 0``).
      potz3: 0, 1, 2, 4, 0, -1, -2, -4; potz2 is ternary: 0, 1, 0, -1.
    * ``apot<N>`` (sum of two power-of-two terms): ``m`` splits into a high field ``h`` of
      ``floor((N-1)/2)`` bits over a low field ``l`` of ``ceil((N-1)/2)`` bits;
      ``(-1)^s * (H + L)`` with ``H = 0`` if ``h == 0`` else ``2 * 4^(h-1)`` (odd exponents
      1, 3, 5, ...) and ``L = 0`` if ``l == 0`` else ``4^(l-1)`` (even exponents 0, 2, 4, ...).
      The two terms never share a bit, so all 2^(N-1) magnitudes differ (the interleaved
      additive powers of two of Li et al., 2020). apot3: 0, 1, 2, 3, 0, -1, -2, -3;
      apot4 magnitudes for m = 0..7: 0, 1, 4, 16, 2, 3, 6, 18.

    ``min``/``max``/``signed`` describe the decoded integer values, as for ``QType``.
    """

    NAMES: ClassVar[str] = "pot<N>, potz<N>, apot<N>"
    ROLE: ClassVar[str] = "power-of-two weight format"
    WIDTHS: ClassVar[tuple[int, int]] = (POT_MIN_BITS, POT_MAX_BITS)
    bits: int
    encoding: PotEncoding = PotEncoding.POT

    def __post_init__(self):
        if not isinstance(self.encoding, PotEncoding):
            raise TypeError(f"encoding must be a PotEncoding, not {show(self.encoding)}")
        _check_width(self.bits, POT_MIN_BITS, POT_MAX_BITS, f"{self.encoding.value} weight",
                     f"{self.encoding.value}{self.bits}")

    @classmethod
    def match(cls, text: str) -> PotType | None:
        m = _POT_RE.fullmatch(text)
        return None if m is None else cls(int(m.group(2)), PotEncoding(m.group(1)))


    def __str__(self) -> str:
        return f"{self.encoding.value}{self.bits}"

    @property
    def field_bits(self) -> int:
        """Width of the magnitude field ``m`` (all bits but the sign)."""
        return self.bits - 1

    @property
    def apot_fields(self) -> tuple[int, int]:
        """``apot``: widths of the high (odd-exponent) and low (even-exponent) fields."""
        return self.field_bits // 2, self.field_bits - self.field_bits // 2

    def magnitude(self, m: int) -> int:
        """The decoded magnitude of magnitude field value ``m``."""
        if not 0 <= m < (1 << self.field_bits):
            raise ValueError(f"magnitude field {show(m)} is outside "
                             f"0..{(1 << self.field_bits) - 1}")
        if self.encoding is PotEncoding.POT:
            return 1 << m
        if self.encoding is PotEncoding.POTZ:
            return 0 if m == 0 else 1 << (m - 1)
        hi, lo = m >> self.apot_fields[1], m & ((1 << self.apot_fields[1]) - 1)
        return (0 if hi == 0 else 2 << (2 * (hi - 1))) + (0 if lo == 0 else 1 << (2 * (lo - 1)))

    def decode(self, code: int) -> int:
        """The integer value of ``code`` (0 .. 2^bits - 1)."""
        mag = self.magnitude(self.check_code(code) & ((1 << self.field_bits) - 1))
        return -mag if code >> self.field_bits else mag

    @property
    def max_magnitude(self) -> int:
        return self.magnitude((1 << self.field_bits) - 1)

    @property
    def min(self) -> int:
        return -self.max_magnitude

    @property
    def max(self) -> int:
        return self.max_magnitude


PLANE_MIN_BITS = 1
PLANE_MAX_BITS = 4
_PLANE_RE = re.compile(r"sym([0-9]+)", re.ASCII)


class PlaneEncoding(enum.Enum):
    """Weight codes whose bit-planes are read as {-1, +1} (``PlaneType``)."""

    SYM = "sym"  # every bit b_k stands for s_k = 2 b_k - 1
    TERNARY = "ternary"  # 2-bit code, w = b1 + b0 - 1


@dataclass(frozen=True)
class PlaneType(Format):
    """A weight code built for bit-plane (LUT) arithmetic: ``sym<N>`` (1 to 4 bits) or ``ternary``.

    The code is an unsigned bit pattern ``b_{N-1} .. b_0``:

    * ``sym<N>``: every bit is a {-1, +1} digit, ``w = sum_k 2^k (2 b_k - 1)``: the odd values
      ``-(2^N - 1) .. 2^N - 1``; code ``c`` means ``2c - (2^N - 1)``. sym1: -1, +1 (binary);
      sym2: -3, -1, 1, 3. GEMM operands are codes.
    * ``ternary`` (BitNet b1.58): 2 bits, ``w = b1 + b0 - 1``: codes 0, 1, 2, 3 mean -1, 0, 0,
      +1 (encoders write 1 for zero). GEMM operands are the values -1, 0, 1.

    ``min``/``max``/``signed`` describe the decoded integer values, as for ``QType``.
    """

    NAMES: ClassVar[str] = "sym<N>, ternary"
    ROLE: ClassVar[str] = "bit-plane weight format"
    WIDTHS: ClassVar[tuple[int, int]] = (PLANE_MIN_BITS, PLANE_MAX_BITS)
    bits: int
    encoding: PlaneEncoding = PlaneEncoding.SYM

    def __post_init__(self):
        if not isinstance(self.encoding, PlaneEncoding):
            raise TypeError(f"encoding must be a PlaneEncoding, not {show(self.encoding)}")
        _check_width(self.bits, PLANE_MIN_BITS, PLANE_MAX_BITS, "sym weight", f"sym{self.bits}")
        if self.encoding is PlaneEncoding.TERNARY and self.bits != 2:
            raise ValueError(f"ternary weights are 2-bit codes, not {self.bits} bits")

    @classmethod
    def match(cls, text: str) -> PlaneType | None:
        if text == "ternary":
            return cls(2, PlaneEncoding.TERNARY)
        m = _PLANE_RE.fullmatch(text)
        return None if m is None else cls(int(m.group(1)), PlaneEncoding.SYM)


    def __str__(self) -> str:
        if self.encoding is PlaneEncoding.TERNARY:
            return "ternary"
        return f"sym{self.bits}"

    @property
    def operand_codes(self) -> bool:
        return self.encoding is PlaneEncoding.SYM

    def decode(self, code: int) -> int:
        """The integer value of ``code`` (0 .. 2^bits - 1)."""
        c = self.check_code(code)
        if self.encoding is PlaneEncoding.TERNARY:
            return (c >> 1) + (c & 1) - 1
        return 2 * c - ((1 << self.bits) - 1)

    def code_of(self, value: int) -> int:
        """Ternary writes zero as code 1."""
        if self.encoding is PlaneEncoding.TERNARY and value == 0:
            return 1
        return super().code_of(value)

    @property
    def min(self) -> int:
        return -self.max

    @property
    def max(self) -> int:
        return 1 if self.encoding is PlaneEncoding.TERNARY else (1 << self.bits) - 1

    @property
    def plane_coeffs(self) -> tuple[int, ...]:
        """``sym<N>``: ``2^(k+1)``; ``ternary``: 1, 1."""
        if self.encoding is PlaneEncoding.TERNARY:
            return (1, 1)
        return tuple(2 << k for k in range(self.bits))

    @property
    def const_coeff(self) -> int:
        """``sym<N>``: ``-(2^N - 1)``; ``ternary``: -1."""
        return -1 if self.encoding is PlaneEncoding.TERNARY else -((1 << self.bits) - 1)


class Special(enum.Enum):
    """What a code that is not a finite number stands for (and the sticky state of an exact
    floating-point accumulator): values are the 2-bit ``special`` port codes."""

    POS_INF = 1
    NEG_INF = 2
    NAN = 3


class Specials(enum.Enum):
    """Which codes of a floating-point format are not finite numbers.

    ``FN``: no infinities, one NaN per sign (all exponent and mantissa bits set: OCP E4M3).
    ``IEEE``: the all-ones exponent holds infinity (mantissa 0) and NaNs (OCP E5M2).
    ``NONE``: every code is a finite number (OCP FP6 and FP4).
    """

    FN = "fn"
    IEEE = "ieee"
    NONE = "none"


#: The floating-point formats: name -> (exponent bits, mantissa bits, specials). Layout of a
#: code: sign (top bit), exponent field, mantissa field; bias 2^(E-1) - 1; exponent field 0
#: is subnormal (no hidden bit, exponent as for field 1).
FLOAT_FORMATS = {
    "fp8_e4m3": (4, 3, Specials.FN),
    "fp8_e5m2": (5, 2, Specials.IEEE),
    "fp6_e3m2": (3, 2, Specials.NONE),
    "fp6_e2m3": (2, 3, Specials.NONE),
    "fp4_e2m1": (2, 1, Specials.NONE),
}


@dataclass(frozen=True)
class FloatType(Format):
    """A low-bit floating-point format (OCP 8-bit and MX element formats): ``fp8_e4m3``
    (E4M3FN), ``fp8_e5m2``, ``fp6_e3m2``, ``fp6_e2m3``, ``fp4_e2m1``.

    A code is ``s | e (E bits) | m (M bits)``; value ``(-1)^s * (1 + m/2^M) * 2^(e - bias)``
    for ``e > 0`` and ``(-1)^s * (m/2^M) * 2^(1 - bias)`` for ``e = 0`` (subnormals), bias
    ``2^(E-1) - 1``; the codes ``specials`` names are NaN or infinities (``special``).

    The integer view (what the golden models and the arrays add up) counts the smallest
    subnormal, ``2^(1 - bias - M)``: ``decode(code) = (-1)^s * M_full << (max(e, 1) - 1)``
    with ``M_full = (e > 0) << M | m``, and ``frac_bits = bias + M - 1``. Both zeros decode
    to 0 (``real`` keeps the sign); NaN and infinity codes decode to 0 and ``special`` names
    them (GEMM operands must be finite). ``min``/``max`` are the integer view of -max and
    +max normal.
    """

    NAMES: ClassVar[str] = ", ".join(FLOAT_FORMATS)
    ROLE: ClassVar[str] = "floating-point format"
    WIDTHS: ClassVar[tuple[int, int]] = (4, 8)
    exp_bits: int
    man_bits: int
    specials: Specials = Specials.NONE

    def __post_init__(self):
        key = (self.exp_bits, self.man_bits, self.specials)
        if key not in FLOAT_FORMATS.values():
            raise ValueError(f"floating-point format must be one of {self.NAMES}, not "
                             f"e{show(self.exp_bits)}m{show(self.man_bits)} "
                             f"({show(self.specials)})")

    @classmethod
    def parse(cls, text: object) -> FloatType:
        return parse_format(text, (cls,), cls.ROLE)

    @classmethod
    def match(cls, text: str) -> FloatType | None:
        fields = FLOAT_FORMATS.get(text)
        return None if fields is None else cls(*fields)

    def __str__(self) -> str:
        return next(n for n, f in FLOAT_FORMATS.items()
                    if f == (self.exp_bits, self.man_bits, self.specials))

    @property
    def bits(self) -> int:  # type: ignore[override]
        return 1 + self.exp_bits + self.man_bits

    @property
    def bias(self) -> int:
        return (1 << (self.exp_bits - 1)) - 1

    @property
    def frac_bits(self) -> int:
        return self.bias + self.man_bits - 1

    def fields(self, code: int) -> tuple[int, int, int]:
        """``(sign, exponent field, mantissa field)`` of ``code``."""
        c = self.check_code(code)
        return (c >> (self.bits - 1), (c >> self.man_bits) & ((1 << self.exp_bits) - 1),
                c & ((1 << self.man_bits) - 1))

    def special(self, code: int) -> Special | None:
        s, e, m = self.fields(code)
        top = (1 << self.exp_bits) - 1
        if self.specials is Specials.FN and e == top and m == (1 << self.man_bits) - 1:
            return Special.NAN
        if self.specials is Specials.IEEE and e == top:
            return Special.NAN if m else (Special.NEG_INF if s else Special.POS_INF)
        return None

    def decode(self, code: int) -> int:
        s, e, m = self.fields(code)
        if self.special(code) is not None:
            return 0
        mag = (((1 if e else 0) << self.man_bits) | m) << (max(e, 1) - 1)
        return -mag if s else mag

    def real(self, code: int) -> float:
        sp = self.special(code)
        if sp is Special.NAN:
            return float("nan")
        if sp is not None:
            return float("inf") if sp is Special.POS_INF else float("-inf")
        value = float(self.decode(code)) / (1 << self.frac_bits)
        return -0.0 if value == 0 and self.fields(code)[0] else value

    @property
    def max(self) -> int:
        return max(self.values())

    @property
    def min(self) -> int:
        return -self.max

    @property
    def max_field_exponent(self) -> int:
        """The largest shift ``max(e, 1) - 1`` of a finite code."""
        top = (1 << self.exp_bits) - 1
        return top - 1 - (1 if self.specials is Specials.IEEE else 0)


@dataclass(frozen=True)
class ScaleType:
    """The OCP MX block scale ``e8m0``: an 8-bit unsigned exponent, value ``2^(code - 127)``;
    code 255 is NaN. Not an operand format (its values are not an integer grid)."""

    bits: ClassVar[int] = 8
    bias: ClassVar[int] = 127
    NAN_CODE: ClassVar[int] = 255

    @classmethod
    def parse(cls, text: object) -> ScaleType:
        if text == "e8m0" or isinstance(text, ScaleType):
            return cls()
        raise ValueError(f"block scale format must be 'e8m0', not {show(text)}")

    def __str__(self) -> str:
        return "e8m0"

    def exponent(self, code: int) -> int | None:
        """``code - 127``, or ``None`` for the NaN code."""
        if isinstance(code, bool) or not isinstance(code, int) or not 0 <= code <= 255:
            raise ValueError(f"e8m0 code must be an integer from 0 to 255, not {show(code)}")
        return None if code == self.NAN_CODE else code - self.bias

    def real(self, code: int) -> float:
        e = self.exponent(code)
        return float("nan") if e is None else 2.0 ** e


#: Every operand format family, in the order names are tried. A new format is added here.
FORMAT_FAMILIES: tuple[type[Format], ...] = (QType, PotType, PlaneType, FloatType)


def format_names(families) -> str:
    """``"int<N>, uint<N>, pot<N>"`` ... with ``or`` before the last name."""
    names = [n.strip() for fam in families for n in fam.NAMES.split(",")]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def parse_format(text: object, families=FORMAT_FAMILIES, role: str = "operand format",
                 limits: str = "") -> Format:
    """The format named ``text`` among ``families`` (a ``Format`` of one of them passes through).

    Unknown names raise ValueError: ``{role} must be {names}[ {limits}], not {show(text)}``; a
    family's own range errors (``int0``) pass through.
    """
    if isinstance(text, tuple(families)):
        return text
    if isinstance(text, str):
        for family in families:
            fmt = family.match(text)
            if fmt is not None:
                return fmt
    limits = f" {limits}" if limits else ""
    raise ValueError(f"{role} must be {format_names(families)}{limits}, not {show(text)}")


class Overflow(enum.Enum):
    """What the accumulator does when a sum leaves its range.

    ``WRAP`` keeps the low ``bits`` bits (two's complement for a signed accumulator);
    ``SATURATE`` clamps to the nearest representable value.
    """

    WRAP = "wrap"
    SATURATE = "saturate"


@dataclass(frozen=True)
class AccType:
    """An accumulator format: width, signedness and overflow policy (2 to 96 bits)."""

    bits: int
    signed: bool
    overflow: Overflow = Overflow.WRAP

    def __post_init__(self):
        if isinstance(self.bits, bool) or not isinstance(self.bits, int):
            raise TypeError(f"accumulator width must be an integer, not {show(self.bits)}")
        if not ACC_MIN_BITS <= self.bits <= ACC_MAX_BITS:
            raise ValueError(
                f"accumulator width must be {ACC_MIN_BITS} to {ACC_MAX_BITS} bits, "
                f"not {self.bits}"
            )
        if not isinstance(self.overflow, Overflow):
            raise TypeError(f"overflow must be an Overflow, not {show(self.overflow)}")

    @property
    def min(self) -> int:
        return -(1 << (self.bits - 1)) if self.signed else 0

    @property
    def max(self) -> int:
        return (1 << (self.bits - 1)) - 1 if self.signed else (1 << self.bits) - 1

    def __str__(self) -> str:
        return f"{'int' if self.signed else 'uint'}{self.bits}/{self.overflow.value}"


class ScaleKind(enum.Enum):
    """How a group's partial sum is rescaled (per-group dequantization).

    ``INT``: multiplied by an unsigned integer scale of ``bits`` bits (0 .. 2^bits - 1).
    ``POT``: multiplied by 2^e, e an unsigned exponent of ``bits`` bits (a left shift by
    0 .. 2^bits - 1).
    """

    INT = "int"
    POT = "pot"


SCALE_MAX_BITS = {ScaleKind.INT: 16, ScaleKind.POT: 4}


@dataclass(frozen=True)
class GroupScale:
    """Per-group dequantization: every ``size`` weights, the group's exact partial sum is
    multiplied by the group's scale (``kind``, ``bits``) and added to the accumulator.

    The scaled partial sum is exact; only the accumulator wraps or saturates.
    """

    size: int
    kind: ScaleKind = ScaleKind.INT
    bits: int = 8

    def __post_init__(self):
        if isinstance(self.size, bool) or not isinstance(self.size, int) or self.size < 1:
            raise ValueError(f"group_size must be a positive integer, not {show(self.size)}")
        if not isinstance(self.kind, ScaleKind):
            raise TypeError(f"group_scale must be a ScaleKind, not {show(self.kind)}")
        hi = SCALE_MAX_BITS[self.kind]
        if isinstance(self.bits, bool) or not isinstance(self.bits, int) or not (
            1 <= self.bits <= hi
        ):
            raise ValueError(
                f"scale_bits must be an integer from 1 to {hi} for group_scale = "
                f"{show(self.kind.value)}, not {show(self.bits)}"
            )

    @property
    def max_scale(self) -> int:
        """Largest scale field value (the integer scale, or the exponent)."""
        return (1 << self.bits) - 1

    @property
    def growth_bits(self) -> int:
        """Bits a partial sum can grow by when scaled."""
        return self.bits if self.kind is ScaleKind.INT else self.max_scale


def group_scale(size: int, kind: ScaleKind, bits: int) -> GroupScale | None:
    """The ``GroupScale`` of a config's ``group_size``, ``group_scale`` and ``scale_bits``
    keys, or ``None`` for ``group_size = 0`` (no groups)."""
    return None if size == 0 else GroupScale(size, kind, bits)
