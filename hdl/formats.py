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
]

QTYPE_MIN_BITS = 1
QTYPE_MAX_BITS = 16
ACC_MIN_BITS = 2
ACC_MAX_BITS = 48

_QTYPE_RE = re.compile(r"^(u?int)(\d+)$")


class Overflow(enum.Enum):
    """What the accumulator does when a sum leaves its range.

    ``WRAP`` keeps the low ``bits`` bits (two's complement for a signed accumulator);
    ``SATURATE`` clamps to the nearest representable value.
    """

    WRAP = "wrap"
    SATURATE = "saturate"

    @classmethod
    def parse(cls, text: object) -> Overflow:
        if isinstance(text, Overflow):
            return text
        for member in cls:
            if member.value == text:
                return member
        allowed = ", ".join(repr(m.value) for m in cls)
        raise ValueError(f"overflow must be one of {allowed}, not {text!r}")


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
        if isinstance(text, ScaleKind):
            return text
        for member in cls:
            if member.value == text:
                return member
        allowed = ", ".join(repr(m.value) for m in cls)
        raise ValueError(f"group_scale must be one of {allowed}, not {text!r}")


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
