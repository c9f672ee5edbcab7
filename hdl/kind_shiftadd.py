"""The shift-add kind: weights applied by shifts, inversions and adds, no multiplier
(``pe = "shiftadd"``, DenseShift / MixPE / ShiftAddLLM style).

Config record, presets and registration; the component is
``qtpe.hdl.pe_shiftadd.ShiftAddPE``, the golden model ``qtpe.tb.models.shiftadd``, the cocotb
tests ``qtpe.tb.test_pe_shiftadd``.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field
from typing import ClassVar

from .array_config import ArrayConfig, Dataflow, bench_array_presets, example_array
from .config import (
    Accumulate,
    CarrySave,
    GroupScaled,
    Lanes,
    OperandRule,
    PEConfig,
    Pipelined,
    span_bits,
)
from .formats import Format, Overflow, PotType, QType, ScaleKind
from .kinds import Kind, Preset, register

__all__ = ["ShiftAddConfig"]


@dataclass(frozen=True)
class ShiftAddConfig(CarrySave, GroupScaled, Lanes, Pipelined, PEConfig):
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

    KIND: ClassVar[str] = "shiftadd"
    ARRAY_GROUPS: ClassVar[bool] = True
    FORMATS: ClassVar[dict] = {
        "weight": OperandRule((QType, PotType), 2, 8),
        "activation": OperandRule((QType,), 4, 16),
    }

    name: str = "qtpe_shiftadd"
    weight: Format = field(default_factory=lambda: PotType.parse("pot4"))

    @property
    def product_bits(self) -> int:
        """Width that holds every decoded weight x activation product exactly."""
        w, a = self.weight, self.activation
        corners = [x * y for x in (w.min, w.max) for y in (a.min, a.max)]
        return span_bits(min(corners), max(corners), self.signed)


_BASE = ShiftAddConfig(lanes=8)  # 8 MACs/cycle, as mac_w4a8_l8
_ARRAY = ShiftAddConfig(weight=PotType.parse("pot4"), acc_bits=32)
_ARRAY_WHAT = "shift-add PEs, pot4 (DenseShift) weights x INT8, 32-bit accumulators"

PRESETS = {
    "shiftadd_pot_w4a8": Preset(
        dataclasses.replace(_BASE, name="qtpe_shiftadd_pot_w4a8", weight=PotType.parse("pot4")),
        "8-lane shift-add PE, pot4 (DenseShift +-2^0..2^7) x INT8, no multiplier; "
        "counterpart mac_w4a8_l8", bench=True),
    "shiftadd_int_w4a8": Preset(
        dataclasses.replace(_BASE, name="qtpe_shiftadd_int_w4a8", weight=QType(4)),
        "8-lane shift-add PE, INT4 by shift-and-add of set bits x INT8; counterpart mac_w4a8_l8",
        bench=True),
    "shiftadd_int_w4a8_g128": Preset(
        dataclasses.replace(_BASE, name="qtpe_shiftadd_int_w4a8_g128", weight=QType(4),
                            group_size=128, group_scale=ScaleKind.POT, scale_bits=4),
        "shiftadd_int_w4a8 + per-group dequantization: groups of 128, 4-bit power-of-two "
        "scale (MixPE-style)", bench=True),
} | bench_array_presets(_ARRAY, "shiftadd_pot4a8", _ARRAY_WHAT)

_POT = PotType.parse
EXAMPLES = (
    ShiftAddConfig(),
    ShiftAddConfig(weight=_POT("pot3"), activation=QType(4, False), lanes=3, acc_bits=10,
                   overflow=Overflow.SATURATE, pipeline=True),
    ShiftAddConfig(weight=_POT("potz2"), activation=QType(5), lanes=4, acc_bits=6),
    ShiftAddConfig(weight=_POT("potz4"), activation=QType(8, False), lanes=2, group_size=6,
                   group_scale=ScaleKind.POT, scale_bits=2),
    ShiftAddConfig(weight=_POT("apot5"), activation=QType(6), lanes=2, group_size=4,
                   scale_bits=3, acc_bits=14, overflow=Overflow.SATURATE, pipeline=True),
    ShiftAddConfig(weight=_POT("apot4"), activation=QType(4, False), lanes=5),
    ShiftAddConfig(weight=QType(4), activation=QType(8), lanes=8),
    ShiftAddConfig(weight=_POT("pot4"), activation=QType(8), lanes=2, acc_bits=11,
                   accumulate=Accumulate.CARRY_SAVE),
    ShiftAddConfig(weight=QType(3, False), activation=QType(6), lanes=3, acc_bits=9,
                   overflow=Overflow.SATURATE),
    ShiftAddConfig(weight=QType(2), activation=QType(4, False), lanes=2, group_size=2,
                   group_scale=ScaleKind.INT, scale_bits=2, pipeline=True),
    ShiftAddConfig(weight=QType(5, False), activation=QType(4, False), acc_bits=8,
                   overflow=Overflow.SATURATE),
    # Beyond 64 bits: pot8 spans +-2^127, so every path must stay exact and wide.
    ShiftAddConfig(weight=_POT("pot8"), activation=QType(4), lanes=2, acc_bits=20,
                   overflow=Overflow.SATURATE),
    ShiftAddConfig(weight=_POT("potz8"), activation=QType(4), lanes=2, acc_bits=24),
)

OS, WS, IS = Dataflow.OS, Dataflow.WS, Dataflow.IS
_POT4, _POT8, _APOT5, _POTZ3 = map(PotType.parse, ("pot4", "pot8", "apot5", "potz3"))
_a = functools.partial(example_array, ShiftAddConfig)  # small arrays, top level "arr"
SAT = Overflow.SATURATE
#: Small arrays for the array contract tests (Amaranth simulator, tests/test_hdl_array.py).
ARRAY_EXAMPLES = (
    _a("os", 2, 3, weight=PotType.parse("pot4"),
       groups={"group_size": 2, "group_scale": ScaleKind.POT, "scale_bits": 2}),
    _a("os", 2, 2, weight=QType(4, False), lanes=2, acc_bits=16, overflow=Overflow.SATURATE,
       groups={"group_size": 4, "scale_bits": 4, "zero_points": True}),
    _a("ws", 2, 3, weight=PotType.parse("pot4"),
       groups={"group_size": 4, "group_scale": ScaleKind.POT, "scale_bits": 2}),
    _a("os", 2, 3, weight=PotType.parse("pot4"), acc_bits=32),
    _a("os", 3, 2, weight=PotType.parse("apot5"), lanes=2, acc_bits=14,
       overflow=Overflow.SATURATE, pipeline=True),
    _a("os", 1, 1, weight=PotType.parse("pot8"), activation=QType(6), acc_bits=48),
    _a("os", 2, 2, weight=PotType.parse("pot4"), lanes=2, acc_bits=13,
       accumulate=Accumulate.CARRY_SAVE),
    _a("ws", 2, 3, weight=PotType.parse("potz3"), activation=QType(6), acc_bits=16,
       overflow=Overflow.SATURATE),
    _a("ws", 1, 1, weight=QType(4), lanes=3, acc_bits=20),
    _a("ws", 2, 2, weight=PotType.parse("pot8"), acc_bits=20, overflow=Overflow.SATURATE),
    _a("is", 2, 3, weight=PotType.parse("potz3"), activation=QType(6), acc_bits=16,
       overflow=Overflow.SATURATE),
    _a("is", 1, 2, weight=PotType.parse("apot5"), lanes=2, acc_bits=20),
    _a("is", 2, 2, weight=QType(4, False), groups={"group_size": 8, "zero_points": True}),
    _a("is", 2, 2, weight=PotType.parse("pot8"), acc_bits=20, overflow=Overflow.SATURATE),
)
#: Arrays the regression builds on both simulators (tests/test_tb_array.py), with the
#: bench presets.
ARRAY_REGRESSION = (
    ArrayConfig(ShiftAddConfig(name="sa_os_1x1_pot4", weight=_POT4, acc_bits=32), rows=1,
                cols=1, dataflow=OS),
    ArrayConfig(ShiftAddConfig(name="sa_os_2x3_apot5_l2_sat_pipe", weight=_APOT5, lanes=2,
                               acc_bits=16, overflow=Overflow.SATURATE, pipeline=True),
                rows=2, cols=3, dataflow=OS),
    ArrayConfig(ShiftAddConfig(name="sa_os_4x4_potz3a6_rq", weight=_POTZ3,
                               activation=QType(6), acc_bits=20), rows=4, cols=4, dataflow=OS,
                requant=True, requant_scale_bits=10),
    ArrayConfig(ShiftAddConfig(name="sa_ws_1x1_int4_l3_sat", weight=QType(4), lanes=3,
                               acc_bits=12, overflow=Overflow.SATURATE), rows=1, cols=1,
                dataflow=WS),
    ArrayConfig(ShiftAddConfig(name="sa_ws_2x3_pot8a6_sat", weight=_POT8, activation=QType(6),
                               acc_bits=24, overflow=Overflow.SATURATE), rows=2, cols=3,
                dataflow=WS),
    ArrayConfig(ShiftAddConfig(name="sa_ws_4x4_uint4_rq", weight=QType(4, False),
                               acc_bits=24), rows=4, cols=4, dataflow=WS, requant=True),
    ArrayConfig(ShiftAddConfig(name="sa_os_4x4_int2_g32pot_sat", weight=QType(2), acc_bits=12,
                               overflow=Overflow.SATURATE), rows=4, cols=4, dataflow=OS,
                group_size=32, group_scale=ScaleKind.POT, scale_bits=3),
    ArrayConfig(ShiftAddConfig(name="sa_ws_4x4_uint4_g128_zp", weight=QType(4, False)), rows=4,
                cols=4, dataflow=WS, group_size=128, zero_points=True),
    ArrayConfig(ShiftAddConfig(name="sa_is_3x2_apot5_l2_sat", weight=_APOT5, lanes=2,
                               acc_bits=14, overflow=Overflow.SATURATE), rows=3, cols=2,
                dataflow=IS),
)

#: What qtpe needs to know about the kind besides its config (``qtpe.hdl.kinds.Kind``).
SUMMARY = "shift-add: pot/potz/apot or integer weights by shifts and adds, no multiplier"
COMPONENT, CELL = "qtpe.hdl.pe_shiftadd:ShiftAddPE", "qtpe.hdl.pe_shiftadd:ShiftAddCell"
MODEL, TESTBENCH = "qtpe.tb.models.shiftadd:ShiftAddModel", "qtpe.tb.test_pe_shiftadd"
KIND = register(Kind.declare(ShiftAddConfig, globals()))
