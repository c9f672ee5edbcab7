"""The record that configures a processing element.

One frozen dataclass drives the hardware, the golden model, the testbench and the reports.
Derived values (product width, accumulator format, latency) are properties.
Plain Python: no Amaranth import (see ``qtpe.hdl.formats``).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field

from .formats import ACC_MAX_BITS, ACC_MIN_BITS, AccType, Overflow, QType

__all__ = ["PEKind", "PEConfig", "DEPTH_MAX", "COMMON_KEYS", "KIND_KEYS"]

DEPTH_MAX = 1 << 24
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


class PEKind(enum.Enum):
    """Processing-element families. Only ``MAC`` is implemented so far."""

    MAC = "mac"

    @classmethod
    def parse(cls, text: object) -> PEKind:
        if isinstance(text, PEKind):
            return text
        for member in cls:
            if member.value == text:
                return member
        allowed = ", ".join(repr(m.value) for m in cls)
        raise ValueError(f"pe must be one of {allowed}, not {text!r}")


COMMON_KEYS = frozenset({"name", "pe", "weight", "activation", "acc_bits", "overflow", "depth"})
KIND_KEYS = {PEKind.MAC: frozenset({"pipeline"})}


@dataclass(frozen=True)
class PEConfig:
    """Configuration of one processing element.

    Attributes:
        name: Verilog module name of the top level.
        pe: PE family.
        weight, activation: operand formats.
        acc_bits: accumulator width; ``None`` derives it from the operands and ``depth``.
        overflow: accumulator overflow policy.
        depth: reduction depth the derived accumulator must hold without overflow.
        pipeline: (MAC) register the product before the accumulator (latency 2 instead of 1).
    """

    name: str = "qtpe_mac"
    pe: PEKind = PEKind.MAC
    weight: QType = field(default_factory=lambda: QType(8, True))
    activation: QType = field(default_factory=lambda: QType(8, True))
    acc_bits: int | None = None
    overflow: Overflow = Overflow.WRAP
    depth: int = 256
    pipeline: bool = False

    def __post_init__(self):
        if not isinstance(self.name, str) or not _NAME_RE.match(self.name):
            raise ValueError(
                f"name must be a Verilog identifier (letter or '_', then letters, digits, '_'; "
                f"at most 64 characters), not {self.name!r}"
            )
        if not isinstance(self.pe, PEKind):
            raise TypeError(f"pe must be a PEKind, not {self.pe!r}")
        for role in ("weight", "activation"):
            if not isinstance(getattr(self, role), QType):
                raise TypeError(f"{role} must be a QType, not {getattr(self, role)!r}")
        if not isinstance(self.overflow, Overflow):
            raise TypeError(f"overflow must be an Overflow, not {self.overflow!r}")
        if isinstance(self.depth, bool) or not isinstance(self.depth, int) or not (
            1 <= self.depth <= DEPTH_MAX
        ):
            raise ValueError(f"depth must be an integer from 1 to {DEPTH_MAX}, not {self.depth!r}")
        if self.acc_bits is not None and (
            isinstance(self.acc_bits, bool)
            or not isinstance(self.acc_bits, int)
            or not ACC_MIN_BITS <= self.acc_bits <= ACC_MAX_BITS
        ):
            raise ValueError(
                f"acc_bits must be an integer from {ACC_MIN_BITS} to {ACC_MAX_BITS}, "
                f"not {self.acc_bits!r}"
            )
        if self.acc_bits is None and self.derived_acc_bits > ACC_MAX_BITS:
            raise ValueError(
                f"derived accumulator width {self.derived_acc_bits} (product "
                f"{self.product_bits} bits + log2(depth={self.depth})) exceeds {ACC_MAX_BITS}; "
                f"lower depth or give acc_bits"
            )
        if not isinstance(self.pipeline, bool):
            raise TypeError(f"pipeline must be a bool, not {self.pipeline!r}")

    @property
    def signed(self) -> bool:
        """Products and sums are signed if either operand is."""
        return self.weight.signed or self.activation.signed

    @property
    def product_bits(self) -> int:
        """Width that holds every product exactly, the most-negative x most-negative included."""
        return self.weight.bits + self.activation.bits

    @property
    def derived_acc_bits(self) -> int:
        return self.product_bits + (self.depth - 1).bit_length()

    @property
    def acc(self) -> AccType:
        bits = self.acc_bits if self.acc_bits is not None else self.derived_acc_bits
        return AccType(bits, self.signed, self.overflow)

    @property
    def latency(self) -> int:
        """Cycles from an accepted input to the ``out_valid`` pulse that shows its sum."""
        return 2 if self.pipeline else 1

    @classmethod
    def from_dict(cls, data: dict) -> PEConfig:
        """Build a config from TOML/JSON-style keys; unknown keys and bad values raise ValueError.

        Keys: ``name``, ``pe``, ``weight``/``activation`` (``int<N>``/``uint<N>``), ``acc_bits``,
        ``overflow`` (``wrap``/``saturate``), ``depth``; MAC adds ``pipeline``.
        """
        kind = PEKind.parse(data.get("pe", PEKind.MAC.value))
        allowed = COMMON_KEYS | KIND_KEYS[kind]
        for key in data:
            if key not in allowed:
                raise ValueError(
                    f"unknown key {key!r} for pe = {kind.value!r}; allowed: "
                    f"{', '.join(sorted(allowed))}"
                )
        kwargs = dict(data)
        kwargs["pe"] = kind
        for role in ("weight", "activation"):
            if role in kwargs:
                kwargs[role] = QType.parse(kwargs[role])
        if "overflow" in kwargs:
            kwargs["overflow"] = Overflow.parse(kwargs["overflow"])
        return cls(**kwargs)

    def to_dict(self) -> dict:
        """The config as the TOML/JSON keys ``from_dict`` reads (``acc_bits`` only if given)."""
        out = {
            "name": self.name,
            "pe": self.pe.value,
            "weight": str(self.weight),
            "activation": str(self.activation),
            "overflow": self.overflow.value,
            "depth": self.depth,
            "pipeline": self.pipeline,
        }
        if self.acc_bits is not None:
            out["acc_bits"] = self.acc_bits
        return out
