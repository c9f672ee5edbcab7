"""The records that configure processing elements.

``PEConfig`` holds what every PE kind shares (name, operand formats, accumulator); each kind
subclasses it with its own keys (``MacConfig`` adds ``pipeline``). One frozen record drives the
hardware, the golden model, the testbench and the reports. Derived values (product width,
accumulator format, latency) are properties. ``PEConfig.from_dict`` picks the subclass from the
``pe`` key. Plain Python: no Amaranth import (see ``qtpe.hdl.formats``).
"""

from __future__ import annotations

import dataclasses
import enum
import re
from dataclasses import dataclass, field
from typing import ClassVar

from .formats import ACC_MAX_BITS, ACC_MIN_BITS, AccType, GroupScale, Overflow, QType, ScaleKind

__all__ = [
    "PEKind", "PEConfig", "GroupScaled", "MacConfig", "CONFIG_TYPES", "DEPTH_MAX", "LANES_MAX",
]

DEPTH_MAX = 1 << 24
LANES_MAX = 64
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


def _check_int(name: str, value: object, lo: int, hi: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ValueError(f"{name} must be an integer from {lo} to {hi}, not {value!r}")


def _check_bool(name: str, value: object) -> None:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be true or false, not {value!r}")


@dataclass(frozen=True)
class PEConfig:
    """What every PE kind shares. Use a subclass (``MacConfig``...) to build hardware.

    Attributes:
        name: Verilog module name of the top level.
        weight, activation: operand formats.
        acc_bits: accumulator width; ``None`` derives it from the operands and ``depth``.
        overflow: accumulator overflow policy.
        depth: reduction depth the derived accumulator must hold without overflow.
    """

    kind: ClassVar[PEKind]
    KEYS: ClassVar[frozenset[str]] = frozenset(
        {"name", "pe", "weight", "activation", "acc_bits", "overflow", "depth"}
    )
    # How from_dict turns a TOML/JSON value into the field's type (other keys pass through).
    PARSERS: ClassVar[dict] = {
        "weight": QType.parse, "activation": QType.parse, "overflow": Overflow.parse,
    }

    name: str = "qtpe_pe"
    weight: QType = field(default_factory=lambda: QType(8, True))
    activation: QType = field(default_factory=lambda: QType(8, True))
    acc_bits: int | None = None
    overflow: Overflow = Overflow.WRAP
    depth: int = 256

    def __post_init__(self):
        if type(self) is PEConfig:
            raise TypeError("PEConfig is abstract: use a PE kind's config, e.g. MacConfig")
        if not isinstance(self.name, str) or not _NAME_RE.match(self.name):
            raise ValueError(
                f"name must be a Verilog identifier (letter or '_', then letters, digits, '_'; "
                f"at most 64 characters), not {self.name!r}"
            )
        for role in ("weight", "activation"):
            if not isinstance(getattr(self, role), QType):
                raise TypeError(f"{role} must be a QType, not {getattr(self, role)!r}")
        if not isinstance(self.overflow, Overflow):
            raise TypeError(f"overflow must be an Overflow, not {self.overflow!r}")
        _check_int("depth", self.depth, 1, DEPTH_MAX)
        if self.acc_bits is not None:
            _check_int("acc_bits", self.acc_bits, ACC_MIN_BITS, ACC_MAX_BITS)
        elif self.derived_acc_bits > ACC_MAX_BITS:
            raise ValueError(
                f"derived accumulator width {self.derived_acc_bits} (product "
                f"{self.product_bits} bits + log2(depth={self.depth})) exceeds {ACC_MAX_BITS}; "
                f"lower depth or give acc_bits"
            )

    @property
    def pe(self) -> PEKind:
        return self.kind

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
        raise NotImplementedError

    @property
    def macs_per_cycle(self) -> float:
        """Peak multiply-accumulates per clock cycle."""
        raise NotImplementedError

    @classmethod
    def from_dict(cls, data: dict) -> PEConfig:
        """Build a config from TOML/JSON-style keys; unknown keys and bad values raise.

        Common keys: ``name``, ``pe``, ``weight``/``activation`` (``int<N>``/``uint<N>``),
        ``acc_bits``, ``overflow`` (``wrap``/``saturate``), ``depth``; each kind adds its own.
        """
        kind = PEKind.parse(data.get("pe", PEKind.MAC.value))
        config_type = CONFIG_TYPES[kind]
        for key in data:
            if key not in config_type.KEYS:
                raise ValueError(
                    f"unknown key {key!r} for pe = {kind.value!r}; allowed: "
                    f"{', '.join(sorted(config_type.KEYS))}"
                )
        kwargs = {
            k: config_type.PARSERS[k](v) if k in config_type.PARSERS else v
            for k, v in data.items() if k != "pe"
        }
        return config_type(**kwargs)

    def to_dict(self) -> dict:
        """The config as the keys ``from_dict`` reads (``acc_bits`` only if given)."""
        out: dict = {"name": self.name, "pe": self.kind.value}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "name" or (f.name == "acc_bits" and value is None):
                continue
            if isinstance(value, QType):
                value = str(value)
            elif isinstance(value, enum.Enum):
                value = value.value
            out[f.name] = value
        return out


@dataclass(frozen=True)
class GroupScaled:
    """Mixin for PE configs with optional per-group dequantization (see ``GroupScale``).

    Put it before ``PEConfig`` in the bases: ``class XConfig(GroupScaled, PEConfig)``, and
    add ``GroupScaled.KEYS`` / ``GroupScaled.PARSERS`` to the kind's own. ``group_size = 0``
    turns the unit off. A kind whose derived accumulator should cover the scaled sums adds
    ``group_growth_bits`` to its width.
    """

    KEYS: ClassVar[frozenset[str]] = frozenset({"group_size", "group_scale", "scale_bits"})
    PARSERS: ClassVar[dict] = {"group_scale": ScaleKind.parse}

    group_size: int = 0
    group_scale: ScaleKind = ScaleKind.INT
    scale_bits: int = 8

    def __post_init__(self):
        super().__post_init__()
        _check_int("group_size", self.group_size, 0, DEPTH_MAX)
        if not isinstance(self.group_scale, ScaleKind):
            raise TypeError(f"group_scale must be a ScaleKind, not {self.group_scale!r}")
        _ = self.group  # building the record validates scale_bits for the scale kind

    @property
    def group(self) -> GroupScale | None:
        if self.group_size == 0:
            return None
        return GroupScale(self.group_size, self.group_scale, self.scale_bits)

    @property
    def group_growth_bits(self) -> int:
        return 0 if self.group is None else self.group.growth_bits


@dataclass(frozen=True)
class MacConfig(PEConfig):
    """Multiply-accumulate PE: a dot product of ``lanes`` weight x activation pairs per cycle.

    Attributes:
        lanes: parallel multipliers feeding one adder tree and one accumulator (1 to 64).
        pipeline: register the lane sum before the accumulator (latency 2 instead of 1).
    ``depth`` counts products, so the derived accumulator holds ``depth`` products whatever
    the number of lanes.
    """

    kind: ClassVar[PEKind] = PEKind.MAC
    KEYS: ClassVar[frozenset[str]] = PEConfig.KEYS | {"lanes", "pipeline"}

    name: str = "qtpe_mac"
    lanes: int = 1
    pipeline: bool = False

    def __post_init__(self):
        _check_int("lanes", self.lanes, 1, LANES_MAX)
        super().__post_init__()
        _check_bool("pipeline", self.pipeline)

    @property
    def dot_bits(self) -> int:
        """Width that holds the exact sum of ``lanes`` products."""
        return self.product_bits + (self.lanes - 1).bit_length()

    @property
    def latency(self) -> int:
        return 2 if self.pipeline else 1

    @property
    def macs_per_cycle(self) -> float:
        return float(self.lanes)


CONFIG_TYPES: dict[PEKind, type[PEConfig]] = {PEKind.MAC: MacConfig}
