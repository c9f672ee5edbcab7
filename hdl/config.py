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

from .formats import (
    ACC_MAX_BITS,
    ACC_MIN_BITS,
    AccType,
    GroupScale,
    Overflow,
    PlaneEncoding,
    PlaneType,
    PotType,
    QType,
    ScaleKind,
    parse_enum,
)

__all__ = [
    "PEKind", "PEConfig", "GroupScaled", "MacConfig", "BitSerialDType", "ShiftAddConfig",
    "BitSerialConfig", "LutConfig", "CONFIG_TYPES", "DEPTH_MAX", "LANES_MAX",
]

DEPTH_MAX = 1 << 24
LANES_MAX = 64
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


class PEKind(enum.Enum):
    """Processing-element families, one config record and component each."""

    MAC = "mac"
    BITSERIAL = "bitserial"
    SHIFTADD = "shiftadd"
    LUT = "lut"

    @classmethod
    def parse(cls, text: object) -> PEKind:
        return parse_enum(cls, text, "pe")


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
    # The weight formats a kind accepts (the shift-add PE adds ``PotType``).
    WEIGHT_TYPES: ClassVar[tuple[type, ...]] = (QType,)

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
        if not isinstance(self.weight, self.WEIGHT_TYPES):
            raise TypeError(f"weight must be a {' or '.join(t.__name__ for t in self.WEIGHT_TYPES)}"
                            f", not {self.weight!r}")
        if not isinstance(self.activation, QType):
            raise TypeError(f"activation must be a QType, not {self.activation!r}")
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
            if isinstance(value, QType | PotType | PlaneType):
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

    @property
    def derived_acc_bits(self) -> int:
        """The kind's derived width plus the bits a group scale can add."""
        return super().derived_acc_bits + self.group_growth_bits

    @property
    def group_steps(self) -> int:
        """Accepted inputs (ops) per group, ``group_size / lanes``; 0 without groups.

        Kinds with this mixin have ``lanes`` and require ``group_size`` to be a multiple of it.
        """
        return self.group_size // self.lanes

    @property
    def group_sum_bits(self) -> int:
        """Width of the exact partial sum of one group (``group_size`` products)."""
        return self.product_bits + (max(self.group_size, 1) - 1).bit_length()


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


class BitSerialDType(enum.Enum):
    """How a bit-serial PE reads its ``k``-bit weight codes (``k`` = the op's ``wbits``).

    ``INT``: the code is the weight, ``int<k>`` or ``uint<k>`` as ``weight`` says.
    ``SPECIAL``: a signed ``int<k>`` grid whose most-negative code ``-2^(k-1)`` stands for the
    group's special value (``special`` port, signed ``special_bits``), BitMoD-style.
    ``OFFSET``: an unsigned ``uint<k>`` grid with a per-group zero point: ``w = q - zero``
    (``zero`` port, unsigned ``special_bits``).
    """

    INT = "int"
    SPECIAL = "special"
    OFFSET = "offset"

    @classmethod
    def parse(cls, text: object) -> BitSerialDType:
        return parse_enum(cls, text, "dtype")


@dataclass(frozen=True)
class BitSerialConfig(GroupScaled, PEConfig):
    """Bit-serial PE: a dot product of ``lanes`` pairs, one weight bit-plane per cycle.

    ``weight`` gives the maximum weight precision (1 to 16 bits) and its signedness; each op
    picks its own precision ``wbits`` = 1..``weight.bits`` at run time. ``activation`` is 2 to
    16 bits. See ``qtpe.hdl.pe_bitserial.BitSerialPE`` for the ports and the contract.

    Attributes:
        lanes: activation/weight pairs per op, summed by one adder tree (1 to 64).
        dtype: weight data type (``BitSerialDType``); ``special`` needs a signed weight,
            ``offset`` an unsigned one, and both need groups (``group_size`` > 0).
        special_bits: width of the per-group special value (signed) or zero point
            (unsigned), 1 to 16; unused for ``dtype = "int"``.
    ``group_size`` counts weights of the reduction (``lanes`` per op), so a group is
    ``group_size / lanes`` ops and ``group_size`` must be a multiple of ``lanes``. ``depth``
    counts products, as for the MAC PE; the derived accumulator adds ``group_growth_bits``.
    """

    kind: ClassVar[PEKind] = PEKind.BITSERIAL
    KEYS: ClassVar[frozenset[str]] = (
        PEConfig.KEYS | GroupScaled.KEYS | {"lanes", "dtype", "special_bits"}
    )
    PARSERS: ClassVar[dict] = (
        PEConfig.PARSERS | GroupScaled.PARSERS | {"dtype": BitSerialDType.parse}
    )

    name: str = "qtpe_bitserial"
    lanes: int = 1
    dtype: BitSerialDType = BitSerialDType.INT
    special_bits: int = 8

    def __post_init__(self):
        _check_int("lanes", self.lanes, 1, LANES_MAX)
        if not isinstance(self.dtype, BitSerialDType):
            raise TypeError(f"dtype must be a BitSerialDType, not {self.dtype!r}")
        _check_int("special_bits", self.special_bits, 1, 16)
        super().__post_init__()
        if self.activation.bits < 2:
            raise ValueError(
                f"activation must be 2 to 16 bits for pe = 'bitserial', not {self.activation}"
            )
        if self.dtype is not BitSerialDType.INT and self.group_size == 0:
            raise ValueError(
                f"dtype = {self.dtype.value!r} needs groups (the value is per group): give "
                f"group_size > 0, not 0"
            )
        if self.dtype is BitSerialDType.SPECIAL and not self.weight.signed:
            raise ValueError(
                f"dtype = 'special' needs a signed weight grid (int<N>), not {self.weight}"
            )
        if self.dtype is BitSerialDType.OFFSET and self.weight.signed:
            raise ValueError(
                f"dtype = 'offset' needs an unsigned weight grid (uint<N>), not {self.weight}"
            )
        if self.group_size % self.lanes:
            raise ValueError(
                f"group_size must be a multiple of lanes ({self.lanes}), not {self.group_size}"
            )

    @property
    def signed(self) -> bool:
        """Sums are signed if either operand is, or the weights carry a zero point."""
        return super().signed or self.dtype is BitSerialDType.OFFSET

    @property
    def wbits_bits(self) -> int:
        """Width of the ``wbits`` port (holds 0 .. 2^n - 1; only 1..``weight.bits`` are used)."""
        return self.weight.bits.bit_length()

    @property
    def plane_bits(self) -> int:
        """Width of one bit-plane sum: ``lanes`` activations, exact."""
        return self.activation.bits + (self.lanes - 1).bit_length()

    @property
    def code_dot_bits(self) -> int:
        """Width of the exact dot product of the weight codes with the activations."""
        return self.weight.bits + self.plane_bits

    @property
    def weight_value_bits(self) -> int:
        """Signed-or-unsigned width that holds every weight value the data type can give."""
        if self.dtype is BitSerialDType.SPECIAL:
            return max(self.weight.bits, self.special_bits)
        if self.dtype is BitSerialDType.OFFSET:
            return max(self.weight.bits, self.special_bits) + 1
        return self.weight.bits

    @property
    def product_bits(self) -> int:
        return self.weight_value_bits + self.activation.bits

    @property
    def fixed_latency(self) -> int:
        """Cycles besides the bit-planes: 1 (operand register), +1 with groups (dequant stage)."""
        return 1 if self.group is None else 2

    def effective_wbits(self, wbits: int) -> int:
        """The precision an op runs at: ``wbits`` if 1..``weight.bits``, else ``weight.bits``."""
        return wbits if 1 <= wbits <= self.weight.bits else self.weight.bits

    def cycles_per_op(self, wbits: int) -> int:
        """Accept-to-accept cycles of back-to-back ops: one per bit-plane."""
        return self.effective_wbits(wbits)

    def result_latency(self, wbits: int) -> int:
        """Cycles from presenting an accepted op to the ``out_valid`` that shows it."""
        return self.effective_wbits(wbits) + self.fixed_latency

    @property
    def latency(self) -> int:
        """``result_latency`` at the maximum precision."""
        return self.result_latency(self.weight.bits)

    @property
    def macs_per_cycle(self) -> float:
        """``lanes / weight.bits``: peak MACs per cycle at the maximum precision (an op at
        ``wbits = k`` runs ``lanes / k``)."""
        return self.lanes / self.weight.bits


SHIFTADD_WEIGHT_BITS = (2, 8)
SHIFTADD_ACTIVATION_BITS = (4, 16)


def _parse_shiftadd_weight(text: object) -> QType | PotType:
    """``int<N>``/``uint<N>`` (``QType``) or ``pot<N>``/``potz<N>``/``apot<N>`` (``PotType``)."""
    if isinstance(text, QType | PotType):
        return text
    if isinstance(text, str) and text.startswith(("pot", "apot")):
        return PotType.parse(text)
    try:
        return QType.parse(text)
    except ValueError:
        lo, hi = SHIFTADD_WEIGHT_BITS
        raise ValueError(f"weight must be int<N>, uint<N>, pot<N>, potz<N> or apot<N> with N from "
                         f"{lo} to {hi} for pe = 'shiftadd', not {text!r}") from None


def span_bits(lo: int, hi: int, signed: bool) -> int:
    """Bits of the narrowest signed (or unsigned) shape that holds ``lo .. hi``."""
    if signed:
        return 1 + max(hi.bit_length(), (-lo - 1).bit_length() if lo < 0 else 0)
    return max(hi.bit_length(), 1)


@dataclass(frozen=True)
class ShiftAddConfig(GroupScaled, PEConfig):
    """Shift-add PE: a dot product of ``lanes`` weight x activation pairs per cycle, no multiplier.

    ``weight`` is a power-of-two code (``PotType``: ``pot<N>``, ``potz<N>``, ``apot<N>``; bit
    layouts and value tables there) or an integer (``QType``: ``int<N>``/``uint<N>``) multiplied
    by shift-and-add of its set bits; 2 to 8 bits. ``activation`` is ``int<N>``/``uint<N>``,
    4 to 16 bits. See ``qtpe.hdl.pe_shiftadd.ShiftAddPE`` for the ports and the contract.

    Attributes:
        lanes: weight x activation pairs per cycle, summed by one adder tree (1 to 64).
        pipeline: register the lane sum before the accumulator (latency 2 instead of 1).
    ``product_bits`` comes from the decoded weight range, not the code width (pot4 spans
    -128..128, so pot4 x int8 products take 16 bits). ``group_size`` counts weights: a group is
    ``group_size / lanes`` accepted inputs, so it must be a multiple of ``lanes``. ``depth``
    counts products; the derived accumulator adds ``group_growth_bits``.
    """

    kind: ClassVar[PEKind] = PEKind.SHIFTADD
    KEYS: ClassVar[frozenset[str]] = PEConfig.KEYS | GroupScaled.KEYS | {"lanes", "pipeline"}
    PARSERS: ClassVar[dict] = (
        PEConfig.PARSERS | GroupScaled.PARSERS | {"weight": _parse_shiftadd_weight}
    )
    WEIGHT_TYPES: ClassVar[tuple[type, ...]] = (QType, PotType)

    name: str = "qtpe_shiftadd"
    weight: QType | PotType = field(default_factory=lambda: PotType.parse("pot4"))
    lanes: int = 1
    pipeline: bool = False

    def __post_init__(self):
        _check_int("lanes", self.lanes, 1, LANES_MAX)
        for role, (lo, hi) in (("weight", SHIFTADD_WEIGHT_BITS),
                               ("activation", SHIFTADD_ACTIVATION_BITS)):
            value = getattr(self, role)
            if isinstance(value, QType | PotType) and not lo <= value.bits <= hi:
                raise ValueError(f"{role} must be {lo} to {hi} bits for pe = 'shiftadd', "
                                 f"not {value}")
        super().__post_init__()
        _check_bool("pipeline", self.pipeline)
        if self.group_size % self.lanes:
            raise ValueError(
                f"group_size must be a multiple of lanes ({self.lanes}), not {self.group_size}"
            )

    @property
    def product_bits(self) -> int:
        """Width that holds every decoded weight x activation product exactly."""
        w, a = self.weight, self.activation
        corners = [x * y for x in (w.min, w.max) for y in (a.min, a.max)]
        return span_bits(min(corners), max(corners), self.signed)

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


LUT_G = (2, 4)
LUT_WEIGHT_BITS = (1, 4)
LUT_ACTIVATION_BITS = (4, 8)
LUT_SHARING_MAX = 16


def _parse_lut_weight(text: object) -> QType | PlaneType:
    """``int<N>``/``uint<N>`` (``QType``) or ``sym<N>``/``ternary`` (``PlaneType``)."""
    if isinstance(text, QType | PlaneType):
        return text
    if isinstance(text, str) and (text.startswith("sym") or text == "ternary"):
        return PlaneType.parse(text)
    try:
        return QType.parse(text)
    except ValueError:
        lo, hi = LUT_WEIGHT_BITS
        raise ValueError(f"weight must be int<N>, uint<N> or sym<N> with N from {lo} to {hi}, "
                         f"or ternary, for pe = 'lut', not {text!r}") from None


@dataclass(frozen=True)
class LutConfig(PEConfig):
    """LUT PE tile: one table-precompute unit shared by ``sharing`` LUT PEs (T-MAC, LUT-GEMM,
    LUT Tensor Core). See ``qtpe.hdl.pe_lut`` for the ports and the contract.

    Every weight encoding is written ``w = sum_k c_k b_k + c_const`` over the bits ``b_k`` of
    its ``b``-bit code (``plane_coeffs``, ``const_coeff``):

    * ``int<b>``: ``c_k = 2^k``, ``c_{b-1} = -2^(b-1)``, ``c_const = 0``.
    * ``uint<b>`` with a run-time zero point ``zp`` (``w = q - zp``): ``c_k = 2^k``,
      ``c_const = -zp``.
    * ``sym<b>``: ``c_k = 2^(k+1)``, ``c_const = -(2^b - 1)``.
    * ``ternary``: ``c_0 = c_1 = 1``, ``c_const = -1``.

    With ``T(i)`` the sum of the activations at the set bits of ``i`` and ``S`` the sum of all
    ``g``: ``dot = sum_k c_k T(idx_k) + c_const S``, ``idx_k`` the k-th bit-plane of the ``g``
    weight codes. ``symmetric`` stores ``T_sym(i) = 2 T(i) - S`` for the ``2^(g-1)`` indices
    with bit ``g-1`` clear (``T_sym(~i) = -T_sym(i)``) and
    ``dot = (sum_k c_k T_sym(idx_k) + (sum_k c_k + 2 c_const) S) / 2``.

    Attributes:
        g: activations per table (2 to 4); the table has 2^g entries (2^(g-1) stored with
            ``symmetric``).
        symmetric: store the symmetrized table (half the entries).
        sharing: LUT PEs fed by one precompute unit (1 to 16); each PE has its own ``g``
            weights and accumulator.
    ``weight`` is ``int<b>``, ``uint<b>`` (with a zero-point port), ``sym<b>`` (b = 1..4) or
    ``ternary``; ``activation`` is ``int<4>`` to ``int<8>``. ``depth`` counts products per
    accumulator, as for the MAC PE.
    """

    kind: ClassVar[PEKind] = PEKind.LUT
    KEYS: ClassVar[frozenset[str]] = PEConfig.KEYS | {"g", "symmetric", "sharing"}
    PARSERS: ClassVar[dict] = PEConfig.PARSERS | {"weight": _parse_lut_weight}
    WEIGHT_TYPES: ClassVar[tuple[type, ...]] = (QType, PlaneType)

    name: str = "qtpe_lut"
    weight: QType | PlaneType = field(default_factory=lambda: QType(2, True))
    g: int = 4
    symmetric: bool = True
    sharing: int = 1

    def __post_init__(self):
        _check_int("g", self.g, *LUT_G)
        _check_bool("symmetric", self.symmetric)
        _check_int("sharing", self.sharing, 1, LUT_SHARING_MAX)
        lo, hi = LUT_WEIGHT_BITS
        if isinstance(self.weight, QType) and not lo <= self.weight.bits <= hi:
            raise ValueError(f"weight must be {lo} to {hi} bits for pe = 'lut', not {self.weight}")
        lo, hi = LUT_ACTIVATION_BITS
        a = self.activation
        if isinstance(a, QType) and not (a.signed and lo <= a.bits <= hi):
            raise ValueError(f"activation must be int<N> (signed) with N from {lo} to {hi} for "
                             f"pe = 'lut', not {a}")
        super().__post_init__()

    @property
    def has_zero(self) -> bool:
        """``uint<b>`` weights carry a run-time zero point (a ``zero`` port per PE)."""
        return isinstance(self.weight, QType) and not self.weight.signed

    @property
    def weight_range(self) -> tuple[int, int]:
        """Smallest and largest decoded weight (``uint<b>``: ``q - zp`` for every ``q``, ``zp``)."""
        if self.has_zero:
            return -((1 << self.weight.bits) - 1), (1 << self.weight.bits) - 1
        return self.weight.min, self.weight.max

    @property
    def signed(self) -> bool:
        return True

    @property
    def product_bits(self) -> int:
        """Width that holds every decoded weight x activation product exactly."""
        corners = [w * a for w in self.weight_range
                   for a in (self.activation.min, self.activation.max)]
        return span_bits(min(corners), max(corners), True)

    @property
    def dot_bits(self) -> int:
        """Width that holds the exact dot product of ``g`` weights and activations."""
        corners = [w * a for w in self.weight_range
                   for a in (self.activation.min, self.activation.max)]
        return span_bits(self.g * min(corners), self.g * max(corners), True)

    @property
    def plane_coeffs(self) -> tuple[int, ...]:
        """``c_k``, the weight of bit ``k`` of a code (see the class docstring)."""
        w, b = self.weight, self.weight.bits
        if isinstance(w, PlaneType):
            return (1, 1) if w.encoding is PlaneEncoding.TERNARY else tuple(
                2 << k for k in range(b))
        top = -(1 << (b - 1)) if w.signed else 1 << (b - 1)
        return tuple(1 << k for k in range(b - 1)) + (top,)

    def const_coeff(self, zero: int = 0) -> int:
        """``c_const`` (``-zero`` for ``uint<b>``; ``zero`` is ignored otherwise)."""
        w = self.weight
        if isinstance(w, PlaneType):
            return -1 if w.encoding is PlaneEncoding.TERNARY else -((1 << w.bits) - 1)
        return -zero if self.has_zero else 0

    @property
    def table_indices(self) -> tuple[int, ...]:
        """Indices of the stored entries: 1 .. 2^g - 1 (``T(0) = 0`` is a constant), or
        0 .. 2^(g-1) - 1 with ``symmetric``."""
        if self.symmetric:
            return tuple(range(1 << (self.g - 1)))
        return tuple(range(1, 1 << self.g))

    def entry_range(self, index: int) -> tuple[int, int]:
        """Smallest and largest value of table entry ``index`` over all activations."""
        lo, hi = self.activation.min, self.activation.max
        p = index.bit_count()
        if not self.symmetric:
            return p * lo, p * hi
        q = self.g - p  # digits read as -1
        return p * lo - q * hi, p * hi - q * lo

    def entry_bits(self, index: int) -> int:
        """Width of table entry ``index`` (signed, exact)."""
        return span_bits(*self.entry_range(index), True)

    @property
    def table_bits(self) -> int:
        """Register bits of the stored table."""
        return sum(self.entry_bits(i) for i in self.table_indices)

    @property
    def latency(self) -> int:
        """Tile: 1 (table register, weights delayed to meet it) + 1 (accumulator)."""
        return 2

    @property
    def macs_per_cycle(self) -> float:
        """``g * sharing``: every PE takes ``g`` weights per cycle."""
        return float(self.g * self.sharing)


CONFIG_TYPES: dict[PEKind, type[PEConfig]] = {
    PEKind.MAC: MacConfig, PEKind.BITSERIAL: BitSerialConfig, PEKind.SHIFTADD: ShiftAddConfig,
    PEKind.LUT: LutConfig,
}
