"""The record that configures a systolic array of PEs (plain Python, no Amaranth import).

``ArrayConfig`` holds the array's own keys (``rows``, ``cols``, ``dataflow``, requantization)
and the PE config record of the cells (``pe_config``); TOML and ``--set`` keys stay flat:
``config_from_dict`` builds an array config when ``rows``, ``cols`` or ``dataflow`` is given,
and the PE config from the remaining keys. The hardware is ``qtpe.hdl.array.SystolicArray``;
the golden model ``qtpe.tb.models.gemm``.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass

from .config import (
    DEPTH_MAX,
    PEConfig,
    Pipelined,
    _field_default,
    carry_save,
    check_bool,
    check_int,
    no_effect,
)
from .formats import (
    ACC_MAX_BITS,
    AccType,
    Format,
    GroupScale,
    Overflow,
    QType,
    ScaleKind,
    group_scale,
    parse_enum,
    show,
)
from .kinds import default_kind, get_kind

__all__ = [
    "Dataflow", "Readout", "Requant", "ArrayConfig", "config_from_dict", "array_preset",
    "bench_array_presets",
    "example_array",
    "ARRAY_MAX",
    "REQUANT_SCALE_MAX_BITS",
]

ARRAY_MAX = 256
REQUANT_SCALE_MAX_BITS = 16
REQUANT_OUT = QType(8, True)


class Dataflow(enum.Enum):
    """``OS``: every PE keeps one output's accumulator; activations flow right, weights down.
    ``WS``: every PE keeps one weight; activations flow right, partial sums flow down into
    per-column accumulators.
    ``IS``: every PE keeps one activation (a GEMV's activation row spread over all R x C PEs);
    every beat streams one weight to each PE, partial sums flow down the columns and across
    the bottom into one accumulator ring."""

    OS = "os"
    WS = "ws"
    IS = "is"

    @property
    def title(self) -> str:
        """The dataflow in words (``"weight-stationary"``)."""
        return {"os": "output-stationary", "ws": "weight-stationary",
                "is": "input-stationary"}[self.value]

    @property
    def a_title(self) -> str:
        """The title with its article (``"an input-stationary"``)."""
        return ("an " if self.title[0] in "aeiou" else "a ") + self.title


class Readout(enum.Enum):
    """How an output-stationary array hands a finished tile to its output (both give the same
    rows at the same rate; ``qtpe.hdl.array`` has the timing).

    ``BUS``: each column has a result bus (an OR tree of its cells' gated sums); a cell puts its
    accumulator on it in the one cycle its sum is final, the cycle before it restarts on the
    next tile, so the column's R results leave on R consecutive cycles, and a de-skew at the
    bottom edge lines the columns up into rows. No second set of accumulators; tiles of at
    least R cycles stream back to back.
    ``DRAIN``: every cell copies its finished sum into a shadow (drain) register, and the
    shadows shift up the columns a row per cycle (tiles of at least ``2R + C - 2`` cycles
    stream back to back)."""

    BUS = "bus"
    DRAIN = "drain"


@dataclass(frozen=True)
class Requant:
    """Requantization of an accumulator ``x`` with a per-column unsigned ``scale`` and ``shift``:

    ``y = clamp(floor((x * scale + r) / 2^shift), -128, 127)`` with ``r = 2^(shift-1)`` for
    ``shift > 0``, else 0: round to nearest, ties toward +infinity (``2.5 -> 3``,
    ``-2.5 -> -2``), then saturate to int8. The product and the rounding are exact.

    Attributes:
        scale_bits: width of the unsigned integer scale (1 to 16).
        acc_bits: width of the accumulator being requantized (sets the shift range).
    """

    scale_bits: int
    acc_bits: int

    def __post_init__(self):
        check_int("requant_scale_bits", self.scale_bits, 1, REQUANT_SCALE_MAX_BITS)

    @property
    def out(self) -> QType:
        return REQUANT_OUT

    @property
    def max_scale(self) -> int:
        return (1 << self.scale_bits) - 1

    @property
    def max_shift(self) -> int:
        """Largest useful shift: the product has ``acc_bits + scale_bits`` bits."""
        return self.acc_bits + self.scale_bits

    @property
    def shift_bits(self) -> int:
        return self.max_shift.bit_length()

    @property
    def product_bits(self) -> int:
        """Signed width of ``x * scale + r`` (exact)."""
        return self.acc_bits + self.scale_bits + 2


@dataclass(frozen=True)
class ArrayConfig:
    """An R x C systolic array of one PE kind (see ``qtpe.hdl.array`` for ports and timing).

    Attributes:
        rows, cols: array size R x C, 1 to ``ARRAY_MAX`` (256) each.
        dataflow: ``Dataflow.OS`` (output-stationary), ``Dataflow.WS`` (weight-stationary) or
            ``Dataflow.IS`` (input-stationary, for GEMV).
        pe_config: the config record of every PE (its ``name`` names the array's top level).
        requant: requantize the results to int8 (``Requant``), with a per-column scale and
            shift given at run time.
        requant_scale_bits: width of the requantization scale (1 to 16).
        readout: output-stationary readout (``Readout``: a result bus per column, or shadow
            drain registers).
        group_size: per-group dequantization (0: none): every ``group_size`` reduction
            indices of a tile form a group whose exact sum is scaled once, at the foot of
            its column (``qtpe.hdl.array``, "Groups"); a multiple of ``lanes`` (OS), of
            ``rows * lanes`` (WS) or of ``rows * cols * lanes`` (IS).
        group_scale: ``ScaleKind.INT`` (an unsigned ``scale_bits``-bit integer scale per
            group and column) or ``ScaleKind.POT`` (an exponent: the sum is shifted left).
        scale_bits: width of the scale field (1..16 for int, 1..4 for pot).
        zero_points: a zero point per group and column (``uint<N>`` weights): the group
            sum is of ``(w - zero) * a``.
    """

    pe_config: PEConfig
    rows: int = 8
    cols: int = 8
    dataflow: Dataflow = Dataflow.OS
    requant: bool = False
    requant_scale_bits: int = 16
    readout: Readout = Readout.BUS
    group_size: int = 0
    group_scale: ScaleKind = ScaleKind.INT
    scale_bits: int = 8
    zero_points: bool = False

    def __post_init__(self):
        check_int("rows", self.rows, 1, ARRAY_MAX)
        check_int("cols", self.cols, 1, ARRAY_MAX)
        if not isinstance(self.dataflow, Dataflow):
            raise TypeError(f"dataflow must be a Dataflow, not {show(self.dataflow)}")
        if not isinstance(self.pe_config, PEConfig):
            raise TypeError(f"pe_config must be a PE config record, not {show(self.pe_config)}")
        self.pe_config.check_in_array()
        refused = type(self.pe_config).NO_DATAFLOW
        why = refused.get(self.dataflow.value)
        if why is not None:
            take = " or ".join(repr(d.value) for d in Dataflow if d.value not in refused)
            raise ValueError(f"pe = {show(self.pe)} arrays take no dataflow = "
                             f"{show(self.dataflow.value)} ({why}); use {take}")
        df = self.dataflow
        if df is not Dataflow.OS and isinstance(self.pe_config, Pipelined) and \
                self.pe_config.pipeline:
            raise ValueError(f"pipeline = true has no effect in {df.a_title} array (its "
                             "cells have no accumulator to pipeline); leave it out")
        if df is not Dataflow.OS and carry_save(self.pe_config):
            raise ValueError(f"accumulate = 'carry_save' has no effect in {df.a_title} "
                             "array (its cells have no accumulator); leave it out")
        if not self.requant:
            no_effect(self, "requant_scale_bits", "requant is false")
        if not isinstance(self.readout, Readout):
            raise TypeError(f"readout must be a Readout, not {show(self.readout)}")
        if self.dataflow is Dataflow.WS:
            no_effect(self, "readout", "a weight-stationary array reads out of its column "
                      "accumulators")
        if self.dataflow is Dataflow.IS:
            no_effect(self, "readout", "an input-stationary array reads out of its "
                      "accumulator ring")
        check_bool("requant", self.requant)
        check_int("requant_scale_bits", self.requant_scale_bits, 1, REQUANT_SCALE_MAX_BITS)
        self._check_groups()

    def _check_groups(self) -> None:
        check_int("group_size", self.group_size, 0, DEPTH_MAX)
        check_bool("zero_points", self.zero_points)
        if not isinstance(self.group_scale, ScaleKind):
            raise TypeError(f"group_scale must be a ScaleKind, not {show(self.group_scale)}")
        operand = self.pe_config.group_operand
        if self.group_size == 0:
            if operand is not None:
                raise ValueError(f"dtype = {show(operand)} needs groups (the value is per group "
                                 f"and column): give group_size > 0, not 0")
            for key in ("group_scale", "scale_bits", "zero_points"):
                no_effect(self, key, "there are no groups (group_size = 0)")
            return
        if operand == "offset" and not self.zero_points:
            raise ValueError("dtype = 'offset' takes the array's zero points "
                             "(special_bits wide): give zero_points = true")
        _ = self.group  # validates scale_bits for the scale kind
        G = self.group_size
        if not self.pe_config.ARRAY_GROUPS:
            raise ValueError(_no_groups(G, self.pe))
        if self.dataflow is Dataflow.WS and G % self.ws_tile_k:
            raise ValueError(f"group_size must be a multiple of the reduction tile of a "
                             f"weight-stationary array (rows x lanes = {self.ws_tile_k}), "
                             f"not {G}")
        if self.dataflow is Dataflow.IS and G % self.is_tile_k:
            raise ValueError(f"group_size must be a multiple of the activation tile of an "
                             f"input-stationary array (rows x cols x lanes = "
                             f"{self.is_tile_k}), not {G}")
        if self.dataflow is Dataflow.IS and self.specials:
            raise ValueError("dtype = 'special' needs an output- or weight-stationary array "
                             "(input-stationary ones take int and offset groups)")
        if self.readout is not Readout.BUS:
            raise ValueError(f"group_size = {G} needs readout = 'bus' (the groups' sums leave "
                             f"on the column buses), not {show(self.readout.value)}")
        if carry_save(self.pe_config):
            raise ValueError(f"group_size = {G} needs accumulate = 'plain' (the PEs hold a "
                             f"group's exact sum), not 'carry_save'")
        if G % self.lanes:
            raise ValueError(f"group_size must be a multiple of the reduction indices one beat "
                             f"carries (lanes = {self.lanes}), not {G}")
        w = self.weight
        if self.zero_points and not (isinstance(w, QType) and not w.signed):
            raise ValueError(f"zero_points = true needs uint<N> weights, not {w}")
        if self.pe_config.acc_bits is None and self.derived_group_acc_bits > ACC_MAX_BITS:
            raise ValueError(f"derived accumulator width {self.derived_group_acc_bits} exceeds "
                             f"{ACC_MAX_BITS}; lower depth or scale_bits, or give acc_bits")

    # -- the PE's values, so that reports read the same for PEs and arrays ------------------
    @property
    def name(self) -> str:
        return self.pe_config.name

    @property
    def pe(self) -> str:
        return self.pe_config.pe

    @property
    def weight(self) -> Format:
        return self.pe_config.weight

    @property
    def activation(self) -> Format:
        return self.pe_config.activation

    @property
    def acc(self) -> AccType:
        """The accumulators the results come from (the PE config's; with groups, the
        column feet's: derived from the PE's product, the zero point, ``depth`` and the
        scale's growth unless the PE config gives ``acc_bits``)."""
        pe = self.pe_config
        if self.group_size == 0:
            return pe.acc
        signed = pe.signed or self.zero_points
        bits = pe.acc_bits if pe.acc_bits is not None else self.derived_group_acc_bits
        return AccType(bits, signed, pe.overflow)

    @property
    def group(self) -> GroupScale | None:
        """The group scale record, or ``None`` without groups."""
        return group_scale(self.group_size, self.group_scale, self.scale_bits)

    @property
    def zero_bits(self) -> int:
        """Width of a zero point (``z_in``): ``weight.bits``; ``special_bits`` for the
        bit-serial ``offset`` type."""
        if self.pe_config.group_operand == "offset":
            return self.pe_config.special_bits
        return self.weight.bits

    @property
    def specials(self) -> bool:
        """Whether the array takes a special value per group and column (``x_in``, signed
        ``special_bits``: the bit-serial ``special`` type)."""
        return self.group_size > 0 and self.pe_config.group_operand == "special"

    @property
    def group_beats(self) -> int:
        """OS: beats per group (``group_size / lanes``); 0 without groups."""
        return self.group_size // self.lanes

    @property
    def group_tiles(self) -> int:
        """WS, IS: reduction tiles per group (``group_size / tile_k``: WS ``rows * lanes``,
        IS ``rows * cols * lanes``); 0 without."""
        return self.group_size // self.tile_k

    @property
    def derived_group_acc_bits(self) -> int:
        pe = self.pe_config
        return (pe.product_bits + int(self.zero_points) + (pe.depth - 1).bit_length()
                + self.group.growth_bits)

    @property
    def cell_pe_config(self) -> PEConfig:
        """The PE config the cells are built from: ``pe_config``, or with groups one whose
        accumulator holds a group's exact sum (``product_bits + log2(group_size)`` bits,
        never overflowing)."""
        pe = self.pe_config
        if self.group_size == 0:
            return pe
        bits = max(pe.product_bits + (self.group_size - 1).bit_length(), 2)
        return dataclasses.replace(pe, acc_bits=bits, overflow=Overflow.WRAP,
                                   depth=_field_default(type(pe), "depth"))

    @property
    def asum_bits(self) -> int:
        """Zero points: width of a row's activation sum over a group (signed)."""
        a = self.activation
        top = max(abs(a.min), abs(a.max)) * self.group_size
        return top.bit_length() + 1

    @property
    def signed(self) -> bool:
        return self.pe_config.signed

    @property
    def product_bits(self) -> int:
        return self.pe_config.product_bits

    @property
    def lanes(self) -> int:
        """Weight x activation pairs per PE per input beat (the PE config's ``beat_lanes``)."""
        return self.pe_config.beat_lanes

    # -- derived array values ---------------------------------------------------------------
    @property
    def beat_cycles(self) -> int:
        """Cycles one input beat occupies (the PE config's ``beat_cycles``: 1, or
        ``k = weight.bits`` for bit-serial cells, one weight bit-plane per cycle)."""
        return self.pe_config.beat_cycles

    @property
    def pe_latency(self) -> int:
        """Cycles from a cell's operand registers to the accumulator that includes them (the
        PE config's ``cell_latency``: the PE's ``latency``; LUT 1, as the row's table
        register is the first operand register; bit-serial ``k``, from the beat's first plane
        to the accumulator after its last)."""
        return self.pe_config.cell_latency

    @property
    def requantizer(self) -> Requant | None:
        if not self.requant:
            return None
        return Requant(self.requant_scale_bits, self.acc.bits)

    @property
    def out_type(self) -> QType | AccType:
        """Format of the result port: the accumulator, or int8 with requantization."""
        return REQUANT_OUT if self.requant else self.acc

    @property
    def macs_per_cycle(self) -> float:
        """Peak: every PE takes ``lanes`` pairs per beat, one beat per ``beat_cycles``
        cycles (``rows * cols * lanes / k`` for bit-serial cells)."""
        return self.rows * self.cols * self.lanes / self.beat_cycles

    @property
    def out_cols(self) -> int:
        """Results per ``out_valid`` cycle (the length of ``out_data``): a row of ``cols``
        (OS, WS), one (IS: one output per beat with ``in_last``)."""
        return 1 if self.dataflow is Dataflow.IS else self.cols

    @property
    def tile_k(self) -> int:
        """Reduction indices summed exactly before the accumulator wraps or saturates: OS
        ``lanes`` (each beat), WS ``rows * lanes`` (a weight tile), IS ``rows * cols *
        lanes`` (an activation tile)."""
        return {Dataflow.OS: self.lanes, Dataflow.WS: self.ws_tile_k,
                Dataflow.IS: self.is_tile_k}[self.dataflow]

    @property
    def is_tile_k(self) -> int:
        """IS: reduction depth of one activation tile (``rows * cols * lanes``)."""
        return self.rows * self.cols * self.lanes

    @property
    def k_per_beat(self) -> int:
        """Reduction indices one input beat carries per activation row (the PE's lanes)."""
        return self.lanes

    @property
    def ws_tile_k(self) -> int:
        """WS: reduction depth of one weight tile (``rows * lanes``)."""
        return self.rows * self.lanes

    @property
    def psum_bits(self) -> int:
        """Width of the exact partial sum into an accumulator ring: WS a column's (``rows *
        lanes`` products), IS the whole array's (``rows * cols * lanes`` products)."""
        n = self.is_tile_k if self.dataflow is Dataflow.IS else self.ws_tile_k
        return self.product_bits + (n - 1).bit_length()

    @property
    def min_tile_period(self) -> int:
        """OS: fewest input cycles from one tile's ``last`` beat to the next (``in_ready``
        holds a ``last`` beat back until then): bus readout ``R`` (a column's R results use
        its bus on R consecutive cycles); drain readout ``2R + C - 2`` (a tile's drain
        registers are all loaded ``R + C + L`` cycles after its ``last`` beat and shift for
        ``R - 1`` cycles; the next tile's first PE must not load before); 1 for WS (no
        tiles). In cycles, also for bit-serial cells (a beat takes ``beat_cycles`` of them,
        so tiles of ``Kt * k`` cycles at least that long never wait). 1 for IS."""
        if self.dataflow is not Dataflow.OS:
            return 1
        if self.readout is Readout.BUS:
            return self.rows
        return max(2 * self.rows + self.cols - 2, 1)

    @property
    def drain_start(self) -> int:
        """OS: cycles from a tile's ``last`` beat to its first result row on the accumulator
        side: bus readout ``C + L + 1`` (row 0's cells finish ``L + 1 + c`` cycles after it,
        then the bus register and the de-skew; + 1 with carry-save accumulators, whose
        column adder has its own register: ``bus_resolve_cycles``), drain readout
        ``R + C + L``."""
        if self.readout is Readout.BUS:
            return (self.cols + self.pe_latency + 1 + self.bus_resolve_cycles
                    + self.group_foot_cycles)
        return self.rows + self.cols + self.pe_latency

    @property
    def group_foot_cycles(self) -> int:
        """Cycles the group hardware adds to the latency: OS 3 (the column feet register
        the corrected group sum, then the scaled one, then accumulate), WS and IS 2 (the
        column end registers a group's sum, then its scaled value, before its accumulator
        ring takes it); 0 without groups."""
        if not self.group_size:
            return 0
        return 3 if self.dataflow is Dataflow.OS else 2

    @property
    def bus_resolve_cycles(self) -> int:
        """OS bus readout: cycles the column's carry-save resolution adds (1: the bus carries
        the redundant form into a register, one adder per column resolves it into the
        de-skew; 0 for plain accumulators)."""
        return 1 if carry_save(self.pe_config) and self.readout is Readout.BUS else 0

    @property
    def requant_latency(self) -> int:
        """Extra cycles of the requantization stage (1, or 0 without)."""
        return 1 if self.requant else 0

    @property
    def latency(self) -> int:
        """Cycles from an accepted input beat to the ``out_valid`` of the first result row it
        completes: OS ``drain_start`` (``C + L + 1`` or ``R + C + L``, from a tile's
        ``last`` beat; its R rows follow on consecutive cycles; groups: + 3), WS
        ``R + C + k`` (+ 2 with groups; from a beat with ``in_last``; ``k`` =
        ``beat_cycles``: 1, or ``weight.bits`` for bit-serial cells), IS ``R + C + 1 + k + s``
        (from a beat with ``in_last`` to its one result: the weight skew and register, R
        partial sums down a column, C across the bottom, the ring, after the beat's ``k``
        planes; ``s`` = ``is_source_latency``: 0, LUT 1; + 2 with groups); +1 with
        requantization.
        Bit-serial OS: ``L = k``."""
        if self.dataflow is Dataflow.OS:
            base = self.drain_start
        elif self.dataflow is Dataflow.IS:
            base = (self.rows + self.cols + 1 + self.beat_cycles
                    + self.pe_config.is_source_latency + self.group_foot_cycles)
        else:
            base = self.rows + self.cols + self.beat_cycles + self.group_foot_cycles
        return base + self.requant_latency

    # -- dict round trip --------------------------------------------------------------------
    @classmethod
    def keys(cls) -> frozenset[str]:
        """The array's own keys (every field but ``pe_config``)."""
        return frozenset(f.name for f in dataclasses.fields(cls) if f.name != "pe_config")

    @classmethod
    def from_dict(cls, data: dict) -> ArrayConfig:
        """Array keys go to the array; every other key to ``PEConfig.from_dict``."""
        own_keys = cls.keys()
        pe_keys = {k: v for k, v in data.items() if k not in own_keys}
        kind = get_kind(pe_keys["pe"]) if "pe" in pe_keys else default_kind()
        allowed = kind.config.keys() | own_keys
        for key in data:
            if key not in allowed:
                raise ValueError(f"unknown key {show(key)} for an array of pe = {show(kind.name)}; "
                                 f"allowed: {', '.join(sorted(allowed))}")
        if data.get("group_size") and not kind.config.ARRAY_GROUPS:  # before the PE's checks
            raise ValueError(_no_groups(show(data["group_size"]), kind.name))
        pe_config = PEConfig.from_dict(pe_keys)
        kwargs = {k: cls.parse_key(k, v) for k, v in data.items() if k in own_keys}
        return cls(pe_config=pe_config, **kwargs)

    @classmethod
    def parse_key(cls, key: str, value: object) -> object:
        """A TOML/JSON value as the field's type (enum fields parse their enum)."""
        default = next(f.default for f in dataclasses.fields(cls) if f.name == key)
        if isinstance(default, enum.Enum):
            return parse_enum(type(default), value, key)
        return value

    def to_dict(self) -> dict:
        out = self.pe_config.to_dict()
        out.update(rows=self.rows, cols=self.cols, dataflow=self.dataflow.value)
        if self.requant:
            out.update(requant=True, requant_scale_bits=self.requant_scale_bits)
        if self.readout is not Readout.BUS:
            out.update(readout=self.readout.value)
        if self.group_size:
            out.update(group_size=self.group_size, group_scale=self.group_scale.value,
                       scale_bits=self.scale_bits)
            if self.zero_points:
                out.update(zero_points=True)
        return out


def _no_groups(size, pe: str) -> str:
    """The message for ``group_size`` on an array of a kind whose cells take no groups."""
    from .kinds import all_kinds

    takers = [k.name for k in all_kinds() if k.config.ARRAY_GROUPS]
    return (f"group_size = {size}: arrays of pe = {show(pe)} do not take groups (arrays of "
            f"{', '.join(takers)} do); leave it out")


ARRAY_MARKER_KEYS = frozenset({"rows", "cols", "dataflow"})


def config_from_dict(data: dict) -> PEConfig | ArrayConfig:
    """An ``ArrayConfig`` if any of ``rows``/``cols``/``dataflow`` is given, else a PE config."""
    if ARRAY_MARKER_KEYS & data.keys():
        return ArrayConfig.from_dict(data)
    kind = get_kind(data["pe"]) if "pe" in data else default_kind()
    # keys of both (a PE's own group_size ...) belong to the PE here
    extra = (ArrayConfig.keys() - ARRAY_MARKER_KEYS - kind.config.keys()) & data.keys()
    if extra:
        raise ValueError(f"key {show(sorted(extra)[0])} is for arrays only; give rows, cols and "
                         f"dataflow too")
    cfg = PEConfig.from_dict(data)
    cfg.check_alone()
    return cfg


def array_preset(pe_config: PEConfig, name: str, dataflow: Dataflow = Dataflow.OS,
                 rows: int = 8, cols: int = 8, **keys) -> ArrayConfig:
    """An array preset: ``pe_config`` renamed ``qtpe_<name>`` (the top level), ``rows`` x
    ``cols`` in ``dataflow``."""
    return ArrayConfig(dataclasses.replace(pe_config, name=f"qtpe_{name}"), rows=rows,
                       cols=cols, dataflow=dataflow, **keys)


def bench_array_presets(pe_config: PEConfig, key: str, what: str) -> dict:
    """The bench pair of a kind: ``array_os_<key>_8x8`` and ``array_ws_<key>_8x8``, 8x8
    arrays of ``pe_config`` in both dataflows, described as arrays of ``what``."""
    from .kinds import Preset

    out = {}
    for df, word in ((Dataflow.OS, "output"), (Dataflow.WS, "weight")):
        name = f"array_{df.value}_{key}_8x8"
        out[name] = Preset(array_preset(pe_config, name, df),
                           f"8x8 {word}-stationary array of {what}", bench=True)
    return out


def example_array(pe_type: type, dataflow: str, rows: int, cols: int, requant: bool = False,
                  scale_bits: int = 16, name: str = "arr", groups: dict | None = None,
                  **pe) -> ArrayConfig:
    """A small array of ``pe_type(name=name, **pe)`` (a kind's ``array_examples``);
    ``groups``: the array's group keys (``group_size``, ``group_scale``, ...)."""
    return ArrayConfig(pe_type(name=name, **pe), rows=rows, cols=cols,
                       dataflow=Dataflow(dataflow), requant=requant,
                       requant_scale_bits=scale_bits, **(groups or {}))
