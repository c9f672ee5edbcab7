"""The LUT kind: multiplications replaced by table lookups (``pe = "lut"``, T-MAC, LUT-GEMM,
LUT Tensor Core style).

Config record, presets and registration; the components are ``qtpe.hdl.pe_lut`` (the generated
top level is ``LutTile``), the golden model ``qtpe.tb.models.lut``, the cocotb tests
``qtpe.tb.test_pe_lut``.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field
from typing import ClassVar

from .array_config import ArrayConfig, Dataflow, bench_array_presets, example_array
from .config import Accumulate, CarrySave, OperandRule, PEConfig, check_bool, check_int, span_bits
from .formats import Format, Overflow, PlaneType, QType, ScaleKind
from .kinds import Kind, Preset, register

__all__ = ["LutConfig", "LUT_G", "LUT_WEIGHT_BITS", "LUT_ACTIVATION_BITS", "LUT_SHARING_MAX"]

LUT_G = (2, 4)
LUT_WEIGHT_BITS = (1, 4)
LUT_ACTIVATION_BITS = (4, 8)
LUT_SHARING_MAX = 16


@dataclass(frozen=True)
class LutConfig(CarrySave, PEConfig):
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

    KIND: ClassVar[str] = "lut"
    ARRAY_GROUPS: ClassVar[bool] = True
    FORMATS: ClassVar[dict] = {
        "weight": OperandRule((QType, PlaneType), *LUT_WEIGHT_BITS),
        "activation": OperandRule((QType,), *LUT_ACTIVATION_BITS),
    }

    name: str = "qtpe_lut"
    weight: Format = field(default_factory=lambda: QType(2, True))
    g: int = 4
    symmetric: bool = True
    sharing: int = 1

    def __post_init__(self):
        check_int("g", self.g, *LUT_G)
        check_bool("symmetric", self.symmetric)
        check_int("sharing", self.sharing, 1, LUT_SHARING_MAX)
        a = self.activation
        if isinstance(a, QType) and not a.signed:
            lo, hi = LUT_ACTIVATION_BITS
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
        """``c_k``, the weight of bit ``k`` of a code (the format's ``plane_coeffs``)."""
        return self.weight.plane_coeffs

    def const_coeff(self, zero: int = 0) -> int:
        """``c_const``: the format's, or ``-zero`` for ``uint<b>`` (``zero`` is ignored
        otherwise)."""
        return -zero if self.has_zero else self.weight.const_coeff

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

    # -- in arrays: one precompute unit per row, its table flows along the row --------------
    @property
    def beat_lanes(self) -> int:
        """``g``: a PE takes ``g`` weights per beat."""
        return self.g

    @property
    def cell_latency(self) -> int:
        """1: the row's table register is the cell's first operand register."""
        return 1

    @property
    def is_source_latency(self) -> int:
        """1: an input-stationary column's table-precompute unit registers its table."""
        return 1

    def check_in_array(self) -> None:
        """No run-time zero point (``uint<b>`` weights), and ``sharing`` stays 1: the array
        shares one precompute unit per row among all ``cols`` PEs of the row."""
        super().check_in_array()
        if self.has_zero:
            raise ValueError(f"LUT arrays take int<b>, sym<b> or ternary weights (no zero-point "
                             f"port), not {self.weight}")
        if self.sharing != 1:
            raise ValueError(f"LUT arrays share one precompute unit per row (all cols PEs); "
                             f"sharing must stay 1, not {self.sharing}")


_BASE = LutConfig(g=4, symmetric=True, sharing=2)  # 4 x 2 = 8 MACs/cycle, as the *_l8 MACs
_ARRAY = LutConfig(weight=QType(2), g=4, symmetric=True, acc_bits=32)
_ARRAY_WHAT = ("LUT PEs, INT2 weights x INT8, g=4 symmetric tables (one precompute unit per "
               "row), 32-bit accumulators")

PRESETS = {
    "lut_w2a8_g4": Preset(
        dataclasses.replace(_BASE, name="qtpe_lut_w2a8_g4", weight=QType(2)),
        "LUT tile, INT2 weights x INT8, g=4 symmetric table shared by 2 PEs (8 MACs/cycle); "
        "counterpart mac_w2a8_l8", bench=True),
    "lut_ternary_a8_g4": Preset(
        dataclasses.replace(_BASE, name="qtpe_lut_ternary_a8_g4",
                            weight=PlaneType.parse("ternary")),
        "LUT tile, ternary (1.58-bit) weights x INT8, g=4 symmetric table shared by 2 PEs "
        "(8 MACs/cycle); counterpart mac_w2a8_l8", bench=True),
    "lut_w4a8_g4": Preset(
        dataclasses.replace(_BASE, name="qtpe_lut_w4a8_g4", weight=QType(4)),
        "LUT tile, INT4 weights x INT8, g=4 symmetric table shared by 2 PEs (8 MACs/cycle); "
        "counterpart mac_w4a8_l8", bench=True),
} | bench_array_presets(_ARRAY, "lut_w2a8", _ARRAY_WHAT)

_PLANE = PlaneType.parse
EXAMPLES = (
    LutConfig(),  # int2, g 4, symmetric
    LutConfig(weight=QType(4), g=3, symmetric=False, sharing=2, acc_bits=12,
              overflow=Overflow.SATURATE),
    LutConfig(weight=QType(3, False), g=4, symmetric=True, sharing=3, activation=QType(5)),
    LutConfig(weight=QType(2, False), g=2, symmetric=False, acc_bits=9),
    LutConfig(weight=_PLANE("sym3"), g=2, symmetric=True, activation=QType(4)),
    LutConfig(weight=_PLANE("sym2"), g=3, symmetric=False, sharing=2),
    LutConfig(weight=_PLANE("ternary"), g=4, symmetric=True, sharing=2, acc_bits=10,
              overflow=Overflow.SATURATE),
    LutConfig(weight=_PLANE("ternary"), g=3, symmetric=False),
    LutConfig(weight=QType(1), g=2, symmetric=True, activation=QType(6)),
    LutConfig(weight=_PLANE("sym1"), g=4, symmetric=False, activation=QType(7)),
    LutConfig(weight=QType(2), g=4, acc_bits=10, accumulate=Accumulate.CARRY_SAVE),
    LutConfig(weight=QType(3), g=2, sharing=2, acc_bits=9, accumulate=Accumulate.CARRY_SAVE),
)

OS, WS, IS = Dataflow.OS, Dataflow.WS, Dataflow.IS
_TERNARY, _SYM1, _SYM2 = map(PlaneType.parse, ("ternary", "sym1", "sym2"))
_a = functools.partial(example_array, LutConfig)  # small arrays, top level "arr"
SAT = Overflow.SATURATE
#: Small arrays for the array contract tests (Amaranth simulator, tests/test_hdl_array.py).
ARRAY_EXAMPLES = (
    _a("os", 2, 3, weight=QType(2), groups={"group_size": 8, "scale_bits": 5}),
    _a("ws", 2, 2, weight=QType(2), groups={"group_size": 16, "scale_bits": 4}),
    _a("os", 2, 2, weight=PlaneType.parse("ternary"), g=3, symmetric=False, acc_bits=12,
       overflow=Overflow.SATURATE,
       groups={"group_size": 6, "group_scale": ScaleKind.POT, "scale_bits": 3}),
    _a("os", 2, 3, weight=QType(2), acc_bits=24),
    _a("os", 3, 2, weight=PlaneType.parse("ternary"), g=3, symmetric=False, acc_bits=10,
       overflow=Overflow.SATURATE),
    _a("os", 1, 1, weight=QType(4), g=2, activation=QType(5), acc_bits=16, requant=True,
       scale_bits=6),
    _a("os", 2, 3, weight=QType(2), acc_bits=11, accumulate=Accumulate.CARRY_SAVE),
    _a("ws", 2, 3, weight=PlaneType.parse("sym3"), g=2, acc_bits=16,
       overflow=Overflow.SATURATE),
    _a("ws", 1, 1, weight=QType(4), g=4, symmetric=False, acc_bits=24),
    _a("ws", 3, 2, weight=PlaneType.parse("sym1"), g=3, acc_bits=12, requant=True,
       scale_bits=4),
    _a("is", 2, 3, weight=QType(2), acc_bits=24),
    _a("is", 2, 2, weight=QType(2), acc_bits=16, overflow=Overflow.SATURATE,
       groups={"group_size": 32, "scale_bits": 4}),
    _a("is", 1, 1, weight=QType(4), g=2, activation=QType(5), acc_bits=16),
    _a("is", 3, 2, weight=PlaneType.parse("ternary"), g=3, symmetric=False, acc_bits=10,
       overflow=Overflow.SATURATE),
    _a("is", 2, 2, weight=PlaneType.parse("sym2"), g=2, acc_bits=14, requant=True,
       scale_bits=5),
)
#: Arrays the regression builds on both simulators (tests/test_tb_array.py), with the
#: bench presets.
ARRAY_REGRESSION = (
    ArrayConfig(LutConfig(name="lut_os_4x4_int2_g32pot", weight=QType(2)), rows=4, cols=4,
                dataflow=OS, group_size=32, group_scale=ScaleKind.POT, scale_bits=2),
    ArrayConfig(LutConfig(name="lut_ws_4x4_int4g2_g128_sat", weight=QType(4), g=2,
                          acc_bits=16, overflow=Overflow.SATURATE), rows=4, cols=4,
                dataflow=WS, group_size=128, scale_bits=6),
    ArrayConfig(LutConfig(name="lut_os_1x1_ternary", weight=_TERNARY, acc_bits=16), rows=1,
                cols=1, dataflow=OS),
    ArrayConfig(LutConfig(name="lut_os_2x3_sym2_g3_plain_sat", weight=_SYM2, g=3,
                          symmetric=False, acc_bits=12, overflow=Overflow.SATURATE),
                rows=2, cols=3, dataflow=OS),
    ArrayConfig(LutConfig(name="lut_os_4x4_int4a5_g2_rq", weight=QType(4), g=2,
                          activation=QType(5), acc_bits=20), rows=4, cols=4, dataflow=OS,
                requant=True, requant_scale_bits=8),
    ArrayConfig(LutConfig(name="lut_ws_1x1_sym1_g2_sat", weight=_SYM1, g=2, acc_bits=10,
                          overflow=Overflow.SATURATE), rows=1, cols=1, dataflow=WS),
    ArrayConfig(LutConfig(name="lut_is_3x2_ternary_g3_sat", weight=_TERNARY, g=3,
                          symmetric=False, acc_bits=10, overflow=Overflow.SATURATE), rows=3,
                cols=2, dataflow=IS),
    ArrayConfig(LutConfig(name="lut_ws_2x3_int4_plain", weight=QType(4), symmetric=False,
                          acc_bits=20), rows=2, cols=3, dataflow=WS),
    ArrayConfig(LutConfig(name="lut_ws_4x4_ternary_g3_rq", weight=_TERNARY, g=3,
                          acc_bits=16), rows=4, cols=4, dataflow=WS, requant=True),
)

#: What qtpe needs to know about the kind besides its config (``qtpe.hdl.kinds.Kind``).
SUMMARY = "LUT: g activations' subset sums in a table, weights' bit-planes as indices"
COMPONENT, CELL = "qtpe.hdl.pe_lut:LutTile", "qtpe.hdl.pe_lut:LutCell"
MODEL, TESTBENCH = "qtpe.tb.models.lut:LutModel", "qtpe.tb.test_pe_lut"
KIND = register(Kind.declare(LutConfig, globals()))
