"""The base of every PE config record, and the parts several kinds share.

``PEConfig`` holds what every PE kind shares (name, operand formats, accumulator); each kind
subclasses it with its own keys (``qtpe.hdl.kind_mac.MacConfig`` adds ``lanes`` and
``pipeline``) and registers itself in ``qtpe.hdl.kinds``. One frozen record drives the
hardware, the golden model, the testbench and the reports. Derived values (product width,
accumulator format, latency) are properties. The keys a config takes (``keys()``) and how a
TOML/JSON value is read into each (``parse_key``) come from the dataclass fields: an enum field
parses its enum, a format field the formats its kind allows (``FORMATS``). Plain Python: no
Amaranth import (see ``qtpe.hdl.formats``).

The mixins ``Lanes``, ``Pipelined`` and ``GroupScaled`` are put before ``PEConfig`` in a kind's
bases (``class MacConfig(Lanes, Pipelined, PEConfig)``).
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
    Format,
    GroupScale,
    Overflow,
    QType,
    ScaleKind,
    format_names,
    group_scale,
    parse_enum,
    parse_format,
    show,
)

__all__ = [
    "PEConfig", "OperandRule", "Lanes", "Pipelined", "GroupScaled", "Accumulate", "CarrySave",
    "carry_save", "check_int", "check_bool",
    "no_effect", "VERILOG_KEYWORDS",
    "span_bits", "DEPTH_MAX", "LANES_MAX", "NAME_RE",
]

DEPTH_MAX = 1 << 24
LANES_MAX = 64
NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}", re.ASCII)
#: Verilog-2005 and SystemVerilog-2017 keywords: not names of modules.
VERILOG_KEYWORDS = frozenset("""
accept_on alias always always_comb always_ff always_latch and assert assign assume automatic
before begin bind bins binsof bit break buf bufif0 bufif1 byte case casex casez cell chandle
checker class clocking cmos config const constraint context continue cover covergroup
coverpoint cross deassign default defparam design disable dist do edge else end endcase
endchecker endclass endclocking endconfig endfunction endgenerate endgroup endinterface
endmodule endpackage endprimitive endprogram endproperty endspecify endsequence endtable
endtask enum event eventually expect export extends extern final first_match for force
foreach forever fork forkjoin function generate genvar global highz0 highz1 if iff ifnone
ignore_bins illegal_bins implements implies import incdir include initial inout input inside
instance int integer interconnect interface intersect join join_any join_none large let
liblist library local localparam logic longint macromodule matches medium modport module nand
negedge nettype new nexttime nmos nor noshowcancelled not notif0 notif1 null or output package
packed parameter pmos posedge primitive priority program property protected pull0 pull1
pulldown pullup pulsestyle_ondetect pulsestyle_onevent pure rand randc randcase randsequence
rcmos real realtime ref reg reject_on release repeat restrict return rnmos rpmos rtran rtranif0
rtranif1 s_always s_eventually s_nexttime s_until s_until_with scalared sequence shortint
shortreal showcancelled signed small soft solve specify specparam static string strong strong0
strong1 struct super supply0 supply1 sync_accept_on sync_reject_on table tagged task this
throughout time timeprecision timeunit tran tranif0 tranif1 tri tri0 tri1 triand trior trireg
type typedef union unique unique0 unsigned until until_with untyped use uwire var vectored
virtual void wait wait_order wand weak weak0 weak1 while wildcard wire with within wor xnor xor
""".split())


def check_int(name: str, value: object, lo: int, hi: int) -> None:
    """ValueError naming ``name``, the value and the range unless ``lo <= value <= hi``."""
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ValueError(f"{name} must be an integer from {lo} to {hi}, not {show(value)}")


def check_bool(name: str, value: object) -> None:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be true or false, not {show(value)}")


def no_effect(config, key: str, reason: str) -> None:
    """ValueError if ``key`` of ``config`` differs from its default although it changes
    nothing in this config (``reason`` says why): a key given for nothing is a mistake to
    report, not to ignore."""
    default = _field_default(type(config), key)
    if getattr(config, key) != default:
        raise ValueError(f"{key} = {show(getattr(config, key))} has no effect: {reason}; "
                         f"leave it out")


def span_bits(lo: int, hi: int, signed: bool) -> int:
    """Bits of the narrowest signed (or unsigned) shape that holds ``lo .. hi``."""
    if signed:
        return 1 + max(hi.bit_length(), (-lo - 1).bit_length() if lo < 0 else 0)
    return max(hi.bit_length(), 1)


@dataclass(frozen=True)
class OperandRule:
    """The formats a kind takes for one operand (``weight``, ``activation``): the format
    families, and the code widths ``lo .. hi``."""

    families: tuple[type[Format], ...]
    lo: int
    hi: int

    def describe(self) -> str:
        return f"{format_names(self.families)} with N from {self.lo} to {self.hi}"


@dataclass(frozen=True)
class PEConfig:
    """What every PE kind shares. Use a kind's subclass (``MacConfig``...) to build hardware.

    Attributes:
        name: Verilog module name of the top level.
        weight, activation: operand formats (``FORMATS`` says which a kind takes).
        acc_bits: accumulator width; ``None`` derives it from the operands and ``depth``.
        overflow: accumulator overflow policy.
        depth: reduction depth the derived accumulator must hold without overflow.
    """

    #: The kind's name (the ``pe`` key); set by the kind's subclass.
    KIND: ClassVar[str]
    #: Whether the kind's array cells take per-group dequantization (``ArrayConfig``
    #: ``group_size``): kinds whose cells use the shared output-stationary dataflow say so.
    ARRAY_GROUPS: ClassVar[bool] = False
    #: Whether the kind's arrays take a precision per beat (an ``in_wbits`` port of
    #: ``wbits_bits``; 0 is the full ``weight.bits``): bit-serial arrays.
    ARRAY_WBITS: ClassVar[bool] = False
    #: Array dataflows (``qtpe.hdl.array_config.Dataflow`` values) the kind's array cell does
    #: not build, each with the reason (one line); empty: it builds every dataflow.
    NO_DATAFLOW: ClassVar[dict[str, str]] = {}
    #: The formats each operand takes; a kind overrides the entries it narrows or widens.
    FORMATS: ClassVar[dict[str, OperandRule]] = {
        "weight": OperandRule((QType,), 1, 16), "activation": OperandRule((QType,), 1, 16),
    }

    name: str = "qtpe_pe"
    weight: Format = field(default_factory=lambda: QType(8, True))
    activation: Format = field(default_factory=lambda: QType(8, True))
    acc_bits: int | None = None
    overflow: Overflow = Overflow.WRAP
    depth: int = 256

    def __post_init__(self):
        if type(self) is PEConfig:
            raise TypeError("PEConfig is abstract: use a PE kind's config, e.g. MacConfig")
        if not isinstance(self.name, str) or not NAME_RE.fullmatch(self.name):
            raise ValueError(
                f"name must be a Verilog identifier (letter or '_', then letters, digits, '_'; "
                f"at most 64 characters), not {show(self.name)}"
            )
        if self.name in VERILOG_KEYWORDS:
            raise ValueError(f"name must not be a Verilog keyword, not {show(self.name)}")
        for role, rule in self.FORMATS.items():
            value = getattr(self, role)
            if not isinstance(value, rule.families):
                raise TypeError(f"{role} must be {format_names(rule.families)} for pe = "
                                f"{show(self.KIND)}, not {show(value)}")
            if not rule.lo <= value.bits <= rule.hi:
                raise ValueError(f"{role} must be {rule.lo} to {rule.hi} bits for pe = "
                                 f"{show(self.KIND)}, not {value}")
        if not isinstance(self.overflow, Overflow):
            raise TypeError(f"overflow must be an Overflow, not {show(self.overflow)}")
        check_int("depth", self.depth, 1, DEPTH_MAX)
        if self.acc_bits is not None:
            check_int("acc_bits", self.acc_bits, ACC_MIN_BITS, ACC_MAX_BITS)
            no_effect(self, "depth", "acc_bits is given (depth only sizes a derived "
                                     "accumulator)")
        elif self.derived_acc_bits > ACC_MAX_BITS:
            raise ValueError(
                f"derived accumulator width {self.derived_acc_bits} (product "
                f"{self.product_bits} bits + log2(depth={self.depth})) exceeds {ACC_MAX_BITS}; "
                f"lower depth or give acc_bits"
            )

    # -- keys -------------------------------------------------------------------------------
    @classmethod
    def keys(cls) -> frozenset[str]:
        """Every key the kind's TOML/``--set`` form takes: ``pe`` and the dataclass fields."""
        return frozenset({"pe"} | {f.name for f in dataclasses.fields(cls)})

    @classmethod
    def parse_key(cls, key: str, value: object) -> object:
        """A TOML/JSON value as the field's type: enum fields parse their enum, operand
        fields the formats ``FORMATS`` allows; other values pass through (``__post_init__``
        checks them)."""
        if key in cls.FORMATS:
            rule = cls.FORMATS[key]
            return parse_format(value, rule.families, key,
                                f"with N from {rule.lo} to {rule.hi} for pe = {show(cls.KIND)}")
        default = _field_default(cls, key)
        if isinstance(default, enum.Enum):
            return parse_enum(type(default), value, key)
        return value

    @classmethod
    def from_dict(cls, data: dict) -> PEConfig:
        """Build a config from TOML/JSON-style keys; unknown keys and bad values raise.

        ``pe`` names the kind (``qtpe.hdl.kinds``; default: the first registered). Called on
        a kind's class, ``pe`` must name that kind or be absent.
        """
        from .kinds import default_kind, get_kind

        kind = get_kind(data["pe"]) if "pe" in data else (
            default_kind() if cls is PEConfig else get_kind(cls.KIND))
        config_type = kind.config
        allowed = config_type.keys()
        for key in data:
            if key not in allowed:
                raise ValueError(f"unknown key {show(key)} for pe = {show(kind.name)}; allowed: "
                                 f"{', '.join(sorted(allowed))}")
        return config_type(**{k: config_type.parse_key(k, v) for k, v in data.items()
                              if k != "pe"})

    def to_dict(self) -> dict:
        """The config as the keys ``from_dict`` reads (``acc_bits`` only if given)."""
        out: dict = {"name": self.name, "pe": self.KIND}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "name" or (f.name == "acc_bits" and value is None):
                continue
            if isinstance(value, Format):
                value = str(value)
            elif isinstance(value, enum.Enum):
                value = value.value
            out[f.name] = value
        return out

    # -- derived values ---------------------------------------------------------------------
    @property
    def pe(self) -> str:
        """The kind's name (the ``pe`` key)."""
        return self.KIND

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

    # -- what an array of these PEs needs ---------------------------------------------------
    @property
    def beat_lanes(self) -> int:
        """Weight x activation pairs one PE takes per array input beat."""
        raise NotImplementedError

    @property
    def beat_cycles(self) -> int:
        """Cycles one array input beat occupies (1; a bit-serial kind: one per bit-plane)."""
        return 1

    @property
    def cell_latency(self) -> int:
        """Cycles from an array cell's operand registers to the accumulator that includes
        them (the PE's ``latency`` unless the kind says otherwise)."""
        return self.latency

    @property
    def is_source_latency(self) -> int:
        """Cycles an input-stationary array's column source adds to the activations on their
        way into the shadow registers (0: none; LUT: 1, its table-precompute register)."""
        return 0

    #: What the weight format needs per group besides the scale, in an array: ``None``, or
    #: ``"special"`` (a signed special value per group and column: the bit-serial BitMoD
    #: type) or ``"offset"`` (a zero point per group and column, the array's ``zero_points``
    #: of ``special_bits``). A property of the kinds that have such types.
    group_operand: ClassVar[str | None] = None

    def check_alone(self) -> None:
        """ValueError (one line) for what a PE of this config needs when it is built on its
        own and not as an array cell (whose array supplies it). Default: nothing."""

    def check_in_array(self) -> None:
        """ValueError (one line) for what an array cell of this kind does not take. Default:
        no per-group dequantization inside the PEs (an array scales once, after the
        accumulators: ``requant``)."""
        group_size = getattr(self, "group_size", 0)
        if group_size:
            raise ValueError(f"arrays take group_size = 0 (requantize per column with requant "
                             f"= true instead), not {group_size}")


def _field_default(cls, key: str):
    for f in dataclasses.fields(cls):
        if f.name == key:
            if f.default is not dataclasses.MISSING:
                return f.default
            if f.default_factory is not dataclasses.MISSING:
                return f.default_factory()
    return None


@dataclass(frozen=True)
class Lanes:
    """Mixin: ``lanes`` weight x activation pairs per input, summed by one adder tree.

    ``lanes`` is 1 to ``LANES_MAX``; ``depth`` counts products, so the derived accumulator
    holds ``depth`` products whatever the number of lanes.
    """

    lanes: int = 1

    def __post_init__(self):
        check_int("lanes", self.lanes, 1, LANES_MAX)
        super().__post_init__()

    @property
    def dot_bits(self) -> int:
        """Width that holds the exact sum of ``lanes`` products."""
        return self.product_bits + (self.lanes - 1).bit_length()

    @property
    def macs_per_cycle(self) -> float:
        return float(self.lanes)

    @property
    def beat_lanes(self) -> int:
        return self.lanes


class Accumulate(enum.Enum):
    """How the accumulator holds its sum: ``PLAIN`` (one register, a carry-propagate adder in
    the loop) or ``CARRY_SAVE`` (a sum vector and a saved carry per digit; the loop is a
    carry-save tree and one short adder per digit, ``qtpe.hdl.carry_save``)."""

    PLAIN = "plain"
    CARRY_SAVE = "carry_save"


#: Bits per digit of a carry-save accumulator: the longest carry chain in its loop.
CARRY_DIGIT_BITS = 4


@dataclass(frozen=True)
class CarrySave:
    """Mixin: ``accumulate`` (``Accumulate``), for kinds whose PE uses the shared
    accumulator. A carry-save accumulator wraps (saturation needs the resolved sum every
    cycle) and has no group stage in front of it."""

    accumulate: Accumulate = Accumulate.PLAIN

    def __post_init__(self):
        super().__post_init__()
        if not isinstance(self.accumulate, Accumulate):
            raise TypeError(f"accumulate must be an Accumulate, not {show(self.accumulate)}")
        if self.accumulate is Accumulate.CARRY_SAVE:
            if self.overflow is not Overflow.WRAP:
                raise ValueError("accumulate = 'carry_save' needs overflow = 'wrap' (a "
                                 "saturating accumulator needs its resolved sum every cycle), "
                                 f"not {show(self.overflow)}")
            if getattr(self, "group_size", 0):
                raise ValueError("accumulate = 'carry_save' takes group_size = 0, not "
                                 f"{self.group_size}")

    @property
    def carry_digit_bits(self) -> int:
        """Bits per digit (``CARRY_DIGIT_BITS``, at most the accumulator's width)."""
        return min(CARRY_DIGIT_BITS, self.acc.bits)

    @property
    def saved_carries(self) -> int:
        """Saved carry bits: one per digit boundary, ``ceil(W / D) - 1``."""
        return -(-self.acc.bits // self.carry_digit_bits) - 1


def carry_save(config) -> bool:
    """Whether ``config``'s accumulator is carry-save."""
    return getattr(config, "accumulate", Accumulate.PLAIN) is Accumulate.CARRY_SAVE


@dataclass(frozen=True)
class Pipelined:
    """Mixin: ``pipeline`` registers the lane sum before the accumulator (latency 2, not 1)."""

    pipeline: bool = False

    def __post_init__(self):
        super().__post_init__()
        check_bool("pipeline", self.pipeline)

    @property
    def latency(self) -> int:
        return 2 if self.pipeline else 1


@dataclass(frozen=True)
class GroupScaled:
    """Mixin for PE configs with optional per-group dequantization (see ``GroupScale``).

    ``group_size = 0`` turns the unit off. A kind whose derived accumulator should cover the
    scaled sums adds ``group_growth_bits`` to its width (this mixin does, through
    ``derived_acc_bits``).
    """

    group_size: int = 0
    group_scale: ScaleKind = ScaleKind.INT
    scale_bits: int = 8

    def __post_init__(self):
        check_int("group_size", self.group_size, 0, DEPTH_MAX)
        if not isinstance(self.group_scale, ScaleKind):
            raise TypeError(f"group_scale must be a ScaleKind, not {show(self.group_scale)}")
        if self.group_size == 0:
            for key in ("group_scale", "scale_bits"):
                no_effect(self, key, "there are no groups (group_size = 0)")
        super().__post_init__()
        _ = self.group  # building the record validates scale_bits for the scale kind
        if self.group_size % self.lanes:
            raise ValueError(
                f"group_size must be a multiple of lanes ({self.lanes}), not {self.group_size}"
            )

    @property
    def group(self) -> GroupScale | None:
        return group_scale(self.group_size, self.group_scale, self.scale_bits)

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

        Kinds with this mixin have ``lanes``; ``group_size`` is a multiple of it.
        """
        return self.group_size // self.lanes

    @property
    def group_sum_bits(self) -> int:
        """Width of the exact partial sum of one group (``group_size`` products)."""
        return self.product_bits + (max(self.group_size, 1) - 1).bit_length()
