"""The bit-serial kind: one weight bit-plane per cycle, precision chosen per op
(``pe = "bitserial"``, Stripes / BitMoD style).

Config record, presets and registration; the component is
``qtpe.hdl.pe_bitserial.BitSerialPE``, the array cell ``qtpe.hdl.array_bitserial``, the golden
model ``qtpe.tb.models.bitserial``, the cocotb tests ``qtpe.tb.test_pe_bitserial``.
"""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass
from typing import ClassVar

from .array_config import ArrayConfig, Dataflow, bench_array_presets, example_array
from .config import GroupScaled, Lanes, OperandRule, PEConfig, check_int, no_effect
from .formats import Overflow, QType, ScaleKind
from .kinds import Kind, Preset, register

__all__ = ["BitSerialDType", "BitSerialConfig"]


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


@dataclass(frozen=True)
class BitSerialConfig(GroupScaled, Lanes, PEConfig):
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

    In an array a beat runs at the precision of its ``in_wbits`` (``beat_cycles`` =
    ``weight.bits`` is the full one), and groups are the array's keys
    (``ArrayConfig.group_size``; the PE's own ``group_size`` stays 0 there).
    """

    KIND: ClassVar[str] = "bitserial"
    ARRAY_WBITS: ClassVar[bool] = True
    ARRAY_GROUPS: ClassVar[bool] = True
    FORMATS: ClassVar[dict] = PEConfig.FORMATS | {"activation": OperandRule((QType,), 2, 16)}

    name: str = "qtpe_bitserial"
    dtype: BitSerialDType = BitSerialDType.INT
    special_bits: int = 8

    def __post_init__(self):
        if not isinstance(self.dtype, BitSerialDType):
            raise TypeError(f"dtype must be a BitSerialDType, not {self.dtype!r}")
        check_int("special_bits", self.special_bits, 1, 16)
        if self.dtype is BitSerialDType.INT:
            no_effect(self, "special_bits", "dtype = 'int' has no special value or zero point")
        super().__post_init__()
        if self.dtype is BitSerialDType.SPECIAL and not self.weight.signed:
            raise ValueError(
                f"dtype = 'special' needs a signed weight grid (int<N>), not {self.weight}"
            )
        if self.dtype is BitSerialDType.OFFSET and self.weight.signed:
            raise ValueError(
                f"dtype = 'offset' needs an unsigned weight grid (uint<N>), not {self.weight}"
            )

    def check_alone(self) -> None:
        """A PE of the ``special`` and ``offset`` types has its own groups (in an array the
        array's ``group_size`` serves)."""
        if self.dtype is not BitSerialDType.INT and self.group_size == 0:
            raise ValueError(
                f"dtype = {self.dtype.value!r} needs groups (the value is per group): give "
                f"group_size > 0, not 0"
            )

    @property
    def group_operand(self) -> str | None:
        """``"special"`` or ``"offset"`` for those data types, else ``None``."""
        return None if self.dtype is BitSerialDType.INT else self.dtype.value

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

    # -- in arrays: every op at full precision, one bit-plane per cycle ----------------------
    @property
    def beat_cycles(self) -> int:
        return self.weight.bits

    @property
    def cell_latency(self) -> int:
        """``k``: from a beat's first plane to the accumulator after its last."""
        return self.beat_cycles


_ARRAY = BitSerialConfig(weight=QType(4), activation=QType(8), acc_bits=32)
_ARRAY_WHAT = ("bit-serial PEs, INT4 weights (4 cycles per beat) x INT8, 32-bit accumulators "
               "(16 MACs/cycle)")

PRESETS = {
    "bitserial_w4a8_l8": Preset(
        BitSerialConfig(name="qtpe_bitserial_w4a8_l8", weight=QType(4), lanes=8),
        "8-lane bit-serial PE, weights int1..int4 at run time x INT8 (8/k MACs/cycle)",
        bench=True),
    "bitserial_w2a8_l8": Preset(
        BitSerialConfig(name="qtpe_bitserial_w2a8_l8", weight=QType(2), lanes=8),
        "8-lane bit-serial PE, weights int1..int2 at run time x INT8 (8/k MACs/cycle)",
        bench=True),
    "bitserial_w4a8_l8_bitmod": Preset(
        BitSerialConfig(name="qtpe_bitserial_w4a8_l8_bitmod", weight=QType(4), lanes=8,
                        dtype=BitSerialDType.SPECIAL, special_bits=5, group_size=128,
                        scale_bits=8),
        "8-lane bit-serial PE, BitMoD-style int4 grid + per-group special value, "
        "groups of 128 with 8-bit scales", bench=True),
} | bench_array_presets(_ARRAY, "bitserial_w4a8", _ARRAY_WHAT)

EXAMPLES = (
    BitSerialConfig(weight=QType(4), activation=QType(8), lanes=8),
    BitSerialConfig(weight=QType(1), activation=QType(2, False), lanes=3, acc_bits=6,
                    overflow=Overflow.SATURATE),
    BitSerialConfig(weight=QType(8, False), activation=QType(8), lanes=5, acc_bits=12),
    BitSerialConfig(weight=QType(16), activation=QType(16), lanes=2, acc_bits=48),
    BitSerialConfig(weight=QType(4), activation=QType(8, False), lanes=4, group_size=8,
                    scale_bits=3, acc_bits=16, overflow=Overflow.SATURATE),
    BitSerialConfig(weight=QType(3), activation=QType(6), lanes=3, group_size=6,
                    dtype=BitSerialDType.SPECIAL, special_bits=5, group_scale=ScaleKind.POT,
                    scale_bits=2),
    BitSerialConfig(weight=QType(4, False), activation=QType(5, False), lanes=2, group_size=2,
                    dtype=BitSerialDType.OFFSET, special_bits=4, acc_bits=10),
)

OS, WS, IS = Dataflow.OS, Dataflow.WS, Dataflow.IS
_a = functools.partial(example_array, BitSerialConfig)  # small arrays, top level "arr"
SAT = Overflow.SATURATE
#: Small arrays for the array contract tests (Amaranth simulator, tests/test_hdl_array.py).
ARRAY_EXAMPLES = (
    _a("os", 1, 1, weight=QType(4), acc_bits=32),
    _a("os", 2, 3, weight=QType(2, False), lanes=2, acc_bits=12, overflow=SAT),
    _a("os", 4, 4, weight=QType(8), activation=QType(8, False), acc_bits=14),
    _a("os", 2, 2, weight=QType(1), activation=QType(5), lanes=3, acc_bits=8, overflow=SAT),
    _a("os", 3, 2, weight=QType(4, False), activation=QType(6, False), acc_bits=10),
    _a("ws", 1, 1, weight=QType(4), acc_bits=32),
    _a("ws", 2, 3, weight=QType(4, False), lanes=2, acc_bits=14, overflow=SAT),
    _a("ws", 4, 4, weight=QType(2), acc_bits=12),
    _a("ws", 3, 2, weight=QType(8, False), activation=QType(5), lanes=3, acc_bits=16,
       overflow=SAT),
    _a("ws", 2, 2, weight=QType(1), activation=QType(8, False), acc_bits=9),
    _a("os", 2, 3, requant=True, scale_bits=6, weight=QType(4), acc_bits=20),
    _a("ws", 3, 2, requant=True, scale_bits=5, weight=QType(2, False), lanes=2, acc_bits=16,
       overflow=SAT),
    _a("is", 1, 1, weight=QType(4), acc_bits=32),
    _a("is", 2, 2, weight=QType(4, False), groups={"group_size": 8, "zero_points": True}),
    _a("is", 2, 3, weight=QType(3), lanes=2, acc_bits=12, overflow=SAT,
       groups={"group_size": 24, "group_scale": ScaleKind.POT, "scale_bits": 2}),
    _a("is", 2, 2, weight=QType(3, False), dtype=BitSerialDType.OFFSET, special_bits=5,
       groups={"group_size": 4, "zero_points": True}),
    _a("is", 2, 3, weight=QType(4, False), lanes=2, acc_bits=14, overflow=SAT),
    _a("is", 3, 2, weight=QType(8, False), activation=QType(5), lanes=3, acc_bits=16,
       overflow=SAT),
    _a("is", 2, 2, weight=QType(1), activation=QType(8, False), acc_bits=9),
    _a("is", 2, 3, requant=True, scale_bits=6, weight=QType(3), acc_bits=20),
    # groups: zero points on uint weights, saturation; pot scales, lanes; a 1-bit grid
    _a("os", 2, 3, weight=QType(4, False), groups={"group_size": 4, "zero_points": True}),
    _a("os", 3, 2, weight=QType(3), lanes=2, acc_bits=12, overflow=SAT,
       groups={"group_size": 6, "group_scale": ScaleKind.POT, "scale_bits": 2}),
    _a("ws", 2, 3, weight=QType(4, False), groups={"group_size": 4, "zero_points": True}),
    _a("ws", 2, 2, weight=QType(2), lanes=2, acc_bits=10, overflow=SAT,
       groups={"group_size": 8, "scale_bits": 3}),
    _a("ws", 3, 2, weight=QType(1), groups={"group_size": 3, "group_scale": ScaleKind.POT,
                                            "scale_bits": 2}),
    # the BitMoD types: a special value per group and column; zero points of special_bits
    _a("os", 2, 3, weight=QType(3), dtype=BitSerialDType.SPECIAL, special_bits=5,
       groups={"group_size": 4}),
    _a("os", 3, 2, weight=QType(4), lanes=2, dtype=BitSerialDType.SPECIAL, special_bits=3,
       acc_bits=12, overflow=SAT, groups={"group_size": 6, "group_scale": ScaleKind.POT,
                                          "scale_bits": 2}),
    _a("ws", 2, 3, weight=QType(3), dtype=BitSerialDType.SPECIAL, special_bits=6,
       groups={"group_size": 4}),
    _a("ws", 2, 2, weight=QType(1), lanes=2, dtype=BitSerialDType.SPECIAL, special_bits=4,
       groups={"group_size": 4, "scale_bits": 3}),
    _a("os", 2, 2, weight=QType(3, False), dtype=BitSerialDType.OFFSET, special_bits=5,
       groups={"group_size": 4, "zero_points": True}),
    _a("ws", 2, 3, weight=QType(2, False), dtype=BitSerialDType.OFFSET, special_bits=4,
       groups={"group_size": 4, "zero_points": True}),
)
#: Arrays the regression builds on both simulators (tests/test_tb_array.py), with the
#: bench presets.
ARRAY_REGRESSION = (
    ArrayConfig(BitSerialConfig(name="abs_os_1x1_u2a8_sat", weight=QType(2, False), acc_bits=8,
                                overflow=Overflow.SATURATE), rows=1, cols=1, dataflow=OS),
    ArrayConfig(BitSerialConfig(name="abs_os_2x3_w4u8_l2", weight=QType(4),
                                activation=QType(8, False), lanes=2, acc_bits=14),
                rows=2, cols=3, dataflow=OS),
    ArrayConfig(BitSerialConfig(name="abs_os_4x4_w8a8_rq", weight=QType(8), acc_bits=32),
                rows=4, cols=4, dataflow=OS, requant=True),
    ArrayConfig(BitSerialConfig(name="abs_ws_1x1_w1a8", weight=QType(1), acc_bits=12),
                rows=1, cols=1, dataflow=WS),
    ArrayConfig(BitSerialConfig(name="abs_ws_2x3_u4a8_l3_sat", weight=QType(4, False), lanes=3,
                                acc_bits=16, overflow=Overflow.SATURATE),
                rows=2, cols=3, dataflow=WS),
    ArrayConfig(BitSerialConfig(name="abs_ws_4x4_w2u8_rq8", weight=QType(2),
                                activation=QType(8, False), acc_bits=20),
                rows=4, cols=4, dataflow=WS, requant=True, requant_scale_bits=8),
    ArrayConfig(BitSerialConfig(name="abs_os_4x4_u4_g32_zp_wrap", weight=QType(4, False),
                                acc_bits=16), rows=4, cols=4, dataflow=OS, group_size=32,
                zero_points=True),
    ArrayConfig(BitSerialConfig(name="abs_ws_4x4_w3_g128pot_sat", weight=QType(3), acc_bits=14,
                                overflow=Overflow.SATURATE), rows=4, cols=4, dataflow=WS,
                group_size=128, group_scale=ScaleKind.POT, scale_bits=3),
    ArrayConfig(BitSerialConfig(name="abs_os_4x4_w4_g32_special", weight=QType(4),
                                dtype=BitSerialDType.SPECIAL, special_bits=6), rows=4, cols=4,
                dataflow=OS, group_size=32),
    ArrayConfig(BitSerialConfig(name="abs_ws_4x4_w3_g32_special_sat", weight=QType(3),
                                dtype=BitSerialDType.SPECIAL, special_bits=5, acc_bits=14,
                                overflow=Overflow.SATURATE), rows=4, cols=4, dataflow=WS,
                group_size=32, group_scale=ScaleKind.POT, scale_bits=2),
    ArrayConfig(BitSerialConfig(name="abs_os_3x3_u4_g32_offset", weight=QType(4, False),
                                dtype=BitSerialDType.OFFSET, special_bits=6), rows=3, cols=3,
                dataflow=OS, group_size=32, zero_points=True),
    ArrayConfig(BitSerialConfig(name="abs_is_4x4_w4_g32pot_sat", weight=QType(4), acc_bits=14,
                                overflow=Overflow.SATURATE), rows=4, cols=4, dataflow=IS,
                group_size=32, group_scale=ScaleKind.POT, scale_bits=3),
    ArrayConfig(BitSerialConfig(name="abs_is_2x3_w4u8_l2_sat", weight=QType(4),
                                activation=QType(8, False), lanes=2, acc_bits=14,
                                overflow=Overflow.SATURATE), rows=2, cols=3, dataflow=IS),
)

#: What qtpe needs to know about the kind besides its config (``qtpe.hdl.kinds.Kind``).
SUMMARY = "bit-serial: one weight bit-plane per cycle, precision 1..max chosen per op"
COMPONENT, CELL = "qtpe.hdl.pe_bitserial:BitSerialPE", "qtpe.hdl.array_bitserial:BitSerialCell"
MODEL, TESTBENCH = "qtpe.tb.models.bitserial:BitSerialModel", "qtpe.tb.test_pe_bitserial"
KIND = register(Kind.declare(BitSerialConfig, globals()))
