"""Number formats: integer operands and accumulators.

These records are plain Python (no Amaranth import) so that the golden models in
``tb/models`` and the config front end in ``gen`` can use them without pulling in the HDL.
``qtpe.hdl.shapes`` turns them into Amaranth shapes.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

__all__ = [
    "Overflow", "QType", "AccType", "ScaleKind", "GroupScale",
    "QTYPE_MIN_BITS", "QTYPE_MAX_BITS", "ACC_MAX_BITS",
    "PotEncoding", "PotType", "POT_MIN_BITS", "POT_MAX_BITS",
    "PlaneEncoding", "PlaneType", "PLANE_MIN_BITS", "PLANE_MAX_BITS",
]

QTYPE_MIN_BITS = 1
QTYPE_MAX_BITS = 16
ACC_MIN_BITS = 2
ACC_MAX_BITS = 48

_QTYPE_RE = re.compile(r"^(u?int)(\d+)$")


def parse_enum(cls: type[enum.Enum], value: object, key: str):
    """The member of ``cls`` that is ``value`` or has it as its value; else ValueError naming
    ``key``, the bad value and the allowed values."""
    if isinstance(value, cls):
        return value
    for member in cls:
        if member.value == value:
            return member
    allowed = ", ".join(repr(m.value) for m in cls)
    raise ValueError(f"{key} must be one of {allowed}, not {value!r}")


class Overflow(enum.Enum):
    """What the accumulator does when a sum leaves its range.

    ``WRAP`` keeps the low ``bits`` bits (two's complement for a signed accumulator);
    ``SATURATE`` clamps to the nearest representable value.
    """

    WRAP = "wrap"
    SATURATE = "saturate"

    @classmethod
    def parse(cls, text: object) -> Overflow:
        return parse_enum(cls, text, "overflow")


@dataclass(frozen=True)
class QType:
    """An integer operand format: ``int<N>`` (two's complement) or ``uint<N>``, 1 to 16 bits.

    ``int1`` holds {-1, 0}; ``uint1`` holds {0, 1}.
    """

    bits: int
    signed: bool = True

    def __post_init__(self):
        if isinstance(self.bits, bool) or not isinstance(self.bits, int):
            raise TypeError(f"operand width must be an integer, not {self.bits!r}")
        if not QTYPE_MIN_BITS <= self.bits <= QTYPE_MAX_BITS:
            raise ValueError(
                f"operand width must be {QTYPE_MIN_BITS} to {QTYPE_MAX_BITS} bits, "
                f"not {self.bits} ({'int' if self.signed else 'uint'}{self.bits})"
            )
        if not isinstance(self.signed, bool):
            raise TypeError(f"signed must be a bool, not {self.signed!r}")

    @classmethod
    def parse(cls, text: object) -> QType:
        """Parse ``int<N>`` or ``uint<N>``."""
        if isinstance(text, QType):
            return text
        match = _QTYPE_RE.match(text) if isinstance(text, str) else None
        if match is None:
            raise ValueError(
                f"operand format must be int<N> or uint<N> with N from {QTYPE_MIN_BITS} to "
                f"{QTYPE_MAX_BITS}, not {text!r}"
            )
        return cls(int(match.group(2)), signed=match.group(1) == "int")

    def __str__(self) -> str:
        return f"{'int' if self.signed else 'uint'}{self.bits}"

    @property
    def min(self) -> int:
        return -(1 << (self.bits - 1)) if self.signed else 0

    @property
    def max(self) -> int:
        return (1 << (self.bits - 1)) - 1 if self.signed else (1 << self.bits) - 1


POT_MIN_BITS = 2
POT_MAX_BITS = 8
_POT_RE = re.compile(r"^(pot|potz|apot)(\d+)$")


class PotEncoding(enum.Enum):
    """Power-of-two weight encodings (bit layouts and value tables in ``PotType``)."""

    POT = "pot"  # DenseShift: zero-free sign + exponent
    POTZ = "potz"  # sign + exponent with an explicit zero code
    APOT = "apot"  # sign + two power-of-two terms (additive powers of two)


@dataclass(frozen=True)
class PotType:
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

    bits: int
    encoding: PotEncoding = PotEncoding.POT

    def __post_init__(self):
        if not isinstance(self.encoding, PotEncoding):
            raise TypeError(f"encoding must be a PotEncoding, not {self.encoding!r}")
        if isinstance(self.bits, bool) or not isinstance(self.bits, int):
            raise TypeError(f"weight code width must be an integer, not {self.bits!r}")
        if not POT_MIN_BITS <= self.bits <= POT_MAX_BITS:
            raise ValueError(
                f"{self.encoding.value} weight width must be {POT_MIN_BITS} to {POT_MAX_BITS} "
                f"bits, not {self.bits} ({self.encoding.value}{self.bits})"
            )

    @classmethod
    def parse(cls, text: object) -> PotType:
        """Parse ``pot<N>``, ``potz<N>`` or ``apot<N>``."""
        if isinstance(text, PotType):
            return text
        match = _POT_RE.match(text) if isinstance(text, str) else None
        if match is None:
            raise ValueError(
                f"power-of-two weight format must be pot<N>, potz<N> or apot<N> with N from "
                f"{POT_MIN_BITS} to {POT_MAX_BITS}, not {text!r}"
            )
        return cls(int(match.group(2)), PotEncoding(match.group(1)))

    def __str__(self) -> str:
        return f"{self.encoding.value}{self.bits}"

    @property
    def signed(self) -> bool:
        return True

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
            raise ValueError(f"magnitude field {m!r} is outside 0..{(1 << self.field_bits) - 1}")
        if self.encoding is PotEncoding.POT:
            return 1 << m
        if self.encoding is PotEncoding.POTZ:
            return 0 if m == 0 else 1 << (m - 1)
        hi, lo = m >> self.apot_fields[1], m & ((1 << self.apot_fields[1]) - 1)
        return (0 if hi == 0 else 2 << (2 * (hi - 1))) + (0 if lo == 0 else 1 << (2 * (lo - 1)))

    def decode(self, code: int) -> int:
        """The integer value of ``code`` (0 .. 2^bits - 1)."""
        if isinstance(code, bool) or not isinstance(code, int) or not 0 <= code < (1 << self.bits):
            raise ValueError(f"{self} code must be an integer from 0 to {(1 << self.bits) - 1}, "
                             f"not {code!r}")
        mag = self.magnitude(code & ((1 << self.field_bits) - 1))
        return -mag if code >> self.field_bits else mag

    def values(self) -> tuple[int, ...]:
        """The value table: ``values()[code]`` for every code 0 .. 2^bits - 1."""
        return tuple(self.decode(c) for c in range(1 << self.bits))

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
_PLANE_RE = re.compile(r"^sym(\d+)$")


class PlaneEncoding(enum.Enum):
    """Weight codes whose bit-planes are read as {-1, +1} (``PlaneType``)."""

    SYM = "sym"  # every bit b_k stands for s_k = 2 b_k - 1
    TERNARY = "ternary"  # 2-bit code, w = b1 + b0 - 1


@dataclass(frozen=True)
class PlaneType:
    """A weight code built for bit-plane (LUT) arithmetic: ``sym<N>`` (1 to 4 bits) or ``ternary``.

    The code is an unsigned bit pattern ``b_{N-1} .. b_0``:

    * ``sym<N>``: every bit is a {-1, +1} digit, ``w = sum_k 2^k (2 b_k - 1)``: the odd values
      ``-(2^N - 1) .. 2^N - 1``; code ``c`` means ``2c - (2^N - 1)``. sym1: -1, +1 (binary);
      sym2: -3, -1, 1, 3.
    * ``ternary`` (BitNet b1.58): 2 bits, ``w = b1 + b0 - 1``: codes 0, 1, 2, 3 mean -1, 0, 0,
      +1 (encoders write 1 for zero).

    ``min``/``max``/``signed`` describe the decoded integer values, as for ``QType``.
    """

    bits: int
    encoding: PlaneEncoding = PlaneEncoding.SYM

    def __post_init__(self):
        if not isinstance(self.encoding, PlaneEncoding):
            raise TypeError(f"encoding must be a PlaneEncoding, not {self.encoding!r}")
        if isinstance(self.bits, bool) or not isinstance(self.bits, int):
            raise TypeError(f"weight code width must be an integer, not {self.bits!r}")
        if self.encoding is PlaneEncoding.TERNARY and self.bits != 2:
            raise ValueError(f"ternary weights are 2-bit codes, not {self.bits} bits")
        if not PLANE_MIN_BITS <= self.bits <= PLANE_MAX_BITS:
            raise ValueError(f"sym weight width must be {PLANE_MIN_BITS} to {PLANE_MAX_BITS} "
                             f"bits, not {self.bits} (sym{self.bits})")

    @classmethod
    def parse(cls, text: object) -> PlaneType:
        """Parse ``sym<N>`` or ``ternary``."""
        if isinstance(text, PlaneType):
            return text
        if text == "ternary":
            return cls(2, PlaneEncoding.TERNARY)
        match = _PLANE_RE.match(text) if isinstance(text, str) else None
        if match is None:
            raise ValueError(f"bit-plane weight format must be sym<N> with N from "
                             f"{PLANE_MIN_BITS} to {PLANE_MAX_BITS}, or ternary, not {text!r}")
        return cls(int(match.group(1)), PlaneEncoding.SYM)

    def __str__(self) -> str:
        if self.encoding is PlaneEncoding.TERNARY:
            return "ternary"
        return f"sym{self.bits}"

    @property
    def signed(self) -> bool:
        return True

    def decode(self, code: int) -> int:
        """The integer value of ``code`` (0 .. 2^bits - 1)."""
        if isinstance(code, bool) or not isinstance(code, int) or not 0 <= code < (1 << self.bits):
            raise ValueError(f"{self} code must be an integer from 0 to {(1 << self.bits) - 1}, "
                             f"not {code!r}")
        if self.encoding is PlaneEncoding.TERNARY:
            return (code >> 1) + (code & 1) - 1
        return 2 * code - ((1 << self.bits) - 1)

    def values(self) -> tuple[int, ...]:
        """The value table: ``values()[code]`` for every code 0 .. 2^bits - 1."""
        return tuple(self.decode(c) for c in range(1 << self.bits))

    @property
    def min(self) -> int:
        return -self.max

    @property
    def max(self) -> int:
        return 1 if self.encoding is PlaneEncoding.TERNARY else (1 << self.bits) - 1


@dataclass(frozen=True)
class AccType:
    """An accumulator format: width, signedness and overflow policy (2 to 48 bits)."""

    bits: int
    signed: bool
    overflow: Overflow = Overflow.WRAP

    def __post_init__(self):
        if isinstance(self.bits, bool) or not isinstance(self.bits, int):
            raise TypeError(f"accumulator width must be an integer, not {self.bits!r}")
        if not ACC_MIN_BITS <= self.bits <= ACC_MAX_BITS:
            raise ValueError(
                f"accumulator width must be {ACC_MIN_BITS} to {ACC_MAX_BITS} bits, "
                f"not {self.bits}"
            )
        if not isinstance(self.overflow, Overflow):
            raise TypeError(f"overflow must be an Overflow, not {self.overflow!r}")

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

    @classmethod
    def parse(cls, text: object) -> ScaleKind:
        return parse_enum(cls, text, "group_scale")


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
            raise ValueError(f"group_size must be a positive integer, not {self.size!r}")
        if not isinstance(self.kind, ScaleKind):
            raise TypeError(f"group_scale must be a ScaleKind, not {self.kind!r}")
        hi = SCALE_MAX_BITS[self.kind]
        if isinstance(self.bits, bool) or not isinstance(self.bits, int) or not (
            1 <= self.bits <= hi
        ):
            raise ValueError(
                f"scale_bits must be an integer from 1 to {hi} for group_scale = "
                f"{self.kind.value!r}, not {self.bits!r}"
            )

    @property
    def max_scale(self) -> int:
        """Largest scale field value (the integer scale, or the exponent)."""
        return (1 << self.bits) - 1

    @property
    def growth_bits(self) -> int:
        """Bits a partial sum can grow by when scaled."""
        return self.bits if self.kind is ScaleKind.INT else self.max_scale
