"""The MAC kind: ``lanes`` multipliers, one adder tree, one accumulator (``pe = "mac"``).

Config record, presets and registration; the component is ``qtpe.hdl.pe_mac.MacPE``, the
golden model ``qtpe.tb.models.mac``, the cocotb tests ``qtpe.tb.test_pe_mac``.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import ClassVar

from .array_config import ArrayConfig, Dataflow, Readout, array_preset, example_array
from .config import Accumulate, CarrySave, Lanes, PEConfig, Pipelined
from .formats import Overflow, QType, ScaleKind
from .kinds import Kind, Preset, register

__all__ = ["MacConfig"]


@dataclass(frozen=True)
class MacConfig(CarrySave, Lanes, Pipelined, PEConfig):
    """Multiply-accumulate PE: a dot product of ``lanes`` weight x activation pairs per cycle.

    Attributes:
        lanes: parallel multipliers feeding one adder tree and one accumulator (1 to 64).
        pipeline: register the lane sum before the accumulator (latency 2 instead of 1).
    ``weight`` and ``activation`` are ``int<N>``/``uint<N>``, 1 to 16 bits. ``depth`` counts
    products, so the derived accumulator holds ``depth`` products whatever the number of lanes.
    """

    KIND: ClassVar[str] = "mac"
    ARRAY_GROUPS: ClassVar[bool] = True

    name: str = "qtpe_mac"


_BASE = MacConfig()
_ARRAY = dataclasses.replace(_BASE, acc_bits=32)
_W4, _W2 = QType(4), QType(2)
_CS = Accumulate.CARRY_SAVE

PRESETS = {
    "mac_w8a8": Preset(
        dataclasses.replace(_BASE, name="qtpe_mac_w8a8", acc_bits=32),
        "INT8 x INT8 MAC, 32-bit wrapping accumulator (the reference PE)", bench=True),
    "mac_w4a8": Preset(
        dataclasses.replace(_BASE, name="qtpe_mac_w4a8", weight=_W4),
        "INT4 weights x INT8 activations, accumulator derived for depth 256", bench=True),
    "mac_w2a8": Preset(
        dataclasses.replace(_BASE, name="qtpe_mac_w2a8", weight=_W2),
        "INT2 weights x INT8 activations, accumulator derived for depth 256", bench=True),
    "mac_w4a8_sat_pipe": Preset(
        dataclasses.replace(_BASE, name="qtpe_mac_w4a8_sat_pipe", weight=_W4, acc_bits=16,
                            overflow=Overflow.SATURATE, pipeline=True),
        "INT4 x INT8 MAC, product register (latency 2), 16-bit saturating accumulator",
        bench=True),
    "mac_w4a8_l8": Preset(
        dataclasses.replace(_BASE, name="qtpe_mac_w4a8_l8", weight=_W4, lanes=8),
        "8-lane INT4 x INT8 dot-product MAC (8 MACs/cycle), accumulator for depth 256",
        bench=True),
    "mac_w2a8_l8": Preset(
        dataclasses.replace(_BASE, name="qtpe_mac_w2a8_l8", weight=_W2, lanes=8),
        "8-lane INT2 x INT8 dot-product MAC (8 MACs/cycle), accumulator for depth 256",
        bench=True),
    # Systolic arrays (qtpe.hdl.array). The reference design everything is compared against:
    # the 8x8 INT8 x INT8 output-stationary MAC array with 32-bit accumulators.
    "array_os_w8a8_8x8": Preset(
        array_preset(_ARRAY, "array_os_w8a8_8x8"),
        "8x8 output-stationary array of INT8 x INT8 MACs, 32-bit accumulators "
        "(the reference array)", bench=True),
    "array_os_w8a8_8x8_cs": Preset(
        array_preset(dataclasses.replace(_ARRAY, accumulate=_CS), "array_os_w8a8_8x8_cs"),
        "the reference array with carry-save accumulators (resolved by one adder per column)",
        bench=True),
    "array_os_w8a8_8x8_drain": Preset(
        array_preset(_ARRAY, "array_os_w8a8_8x8_drain", readout=Readout.DRAIN),
        "the reference array with the drain readout (a shadow accumulator per PE)", bench=True),
    "array_ws_w8a8_8x8": Preset(
        array_preset(_ARRAY, "array_ws_w8a8_8x8", Dataflow.WS),
        "8x8 weight-stationary array of INT8 x INT8 MACs, 32-bit accumulators", bench=True),
    "array_is_w8a8_8x8": Preset(
        array_preset(_ARRAY, "array_is_w8a8_8x8", Dataflow.IS),
        "8x8 input-stationary array of INT8 x INT8 MACs (GEMV: one activation row over all "
        "64 PEs), 32-bit accumulator ring"),
    "array_os_w8a8_4x4": Preset(
        array_preset(_ARRAY, "array_os_w8a8_4x4", rows=4, cols=4),
        "4x4 output-stationary INT8 x INT8 MAC array, 32-bit accumulators (the demo GEMM)"),
}

EXAMPLES = (
    MacConfig(),
    MacConfig(weight=QType(1, True), activation=QType(4, False), pipeline=True),
    MacConfig(weight=QType(4, False), activation=QType(8, True), acc_bits=10,
              overflow=Overflow.SATURATE),
    MacConfig(weight=QType(8, False), activation=QType(8, False), acc_bits=12,
              overflow=Overflow.SATURATE, pipeline=True),
    MacConfig(weight=QType(16), activation=QType(16), acc_bits=48),
    MacConfig(weight=QType(3), activation=QType(5, False), lanes=7, acc_bits=12,
              overflow=Overflow.SATURATE, pipeline=True),
    # Carry-save accumulators: the reference widths, lanes with a product register, narrow
    # ones that wrap all the time (one digit: no saved carry).
    MacConfig(acc_bits=32, accumulate=_CS),
    MacConfig(weight=QType(4, False), lanes=3, acc_bits=13, pipeline=True, accumulate=_CS),
    MacConfig(weight=QType(3), activation=QType(5, False), lanes=2, acc_bits=7, accumulate=_CS),
    MacConfig(weight=QType(1, True), activation=QType(2), acc_bits=3, accumulate=_CS),
)

OS, WS, IS = Dataflow.OS, Dataflow.WS, Dataflow.IS
_a = functools.partial(example_array, MacConfig)  # small arrays, top level "arr"
SAT = Overflow.SATURATE
#: Small arrays for the array contract tests (Amaranth simulator, tests/test_hdl_array.py).
ARRAY_EXAMPLES = (
    # groups: int scales, zero points on uint weights, saturation; pot scales, 2 lanes
    _a("os", 2, 3, weight=QType(4, False), groups={"group_size": 4, "zero_points": True}),
    _a("os", 3, 2, weight=QType(3, False), acc_bits=14, overflow=Overflow.SATURATE,
       groups={"group_size": 3, "scale_bits": 3, "zero_points": True}),
    _a("os", 2, 2, weight=QType(2), lanes=2, pipeline=True,
       groups={"group_size": 4, "group_scale": ScaleKind.POT, "scale_bits": 3}),
    _a("ws", 2, 3, weight=QType(4, False), groups={"group_size": 4, "zero_points": True}),
    _a("ws", 3, 2, weight=QType(3), lanes=2, acc_bits=12, overflow=Overflow.SATURATE,
       groups={"group_size": 6, "group_scale": ScaleKind.POT, "scale_bits": 2}),
    _a("os", 1, 1, acc_bits=32),
    _a("os", 2, 3, acc_bits=32),
    _a("os", 3, 2, weight=QType(4), activation=QType(8, False), acc_bits=12,
       overflow=Overflow.SATURATE, pipeline=True),
    _a("os", 2, 2, weight=QType(3, False), activation=QType(5), lanes=3, acc_bits=10),
    _a("ws", 1, 1, acc_bits=32),
    _a("ws", 2, 3, acc_bits=32),
    _a("ws", 3, 2, weight=QType(4), activation=QType(8, False), acc_bits=12,
       overflow=Overflow.SATURATE),
    _a("ws", 2, 2, weight=QType(3, False), activation=QType(5), lanes=3, acc_bits=10),
    _a("os", 2, 3, requant=True, acc_bits=32),
    _a("os", 1, 1, requant=True, scale_bits=3, weight=QType(4, False),
       activation=QType(8, False), acc_bits=12, overflow=Overflow.SATURATE),
    _a("ws", 3, 2, requant=True, scale_bits=5, weight=QType(4), acc_bits=16,
       overflow=Overflow.SATURATE),
    _a("os", 2, 3, acc_bits=32, accumulate=_CS),
    _a("os", 3, 2, weight=QType(4), activation=QType(8, False), lanes=2, acc_bits=11,
       pipeline=True, accumulate=_CS),
    _a("os", 1, 1, requant=True, scale_bits=4, acc_bits=20, accumulate=_CS),
    _a("is", 1, 1, acc_bits=32),
    _a("is", 2, 2, weight=QType(4, False), groups={"group_size": 8, "zero_points": True}),
    _a("is", 2, 3, weight=QType(3), acc_bits=12, overflow=Overflow.SATURATE,
       groups={"group_size": 12, "group_scale": ScaleKind.POT, "scale_bits": 2}),
    _a("is", 2, 3, acc_bits=32),
    _a("is", 3, 2, weight=QType(4), activation=QType(8, False), acc_bits=12,
       overflow=Overflow.SATURATE),
    _a("is", 2, 2, weight=QType(3, False), activation=QType(5), lanes=3, acc_bits=10),
    _a("is", 3, 2, requant=True, scale_bits=5, weight=QType(4), acc_bits=16,
       overflow=Overflow.SATURATE),
)
#: Arrays the regression builds on both simulators (tests/test_tb_array.py), with the
#: bench presets.
ARRAY_REGRESSION = (
    ArrayConfig(MacConfig(name="arr_os_4x4_u4_g128_zp_wrap", weight=QType(4, False),
                          acc_bits=18), rows=4, cols=4, dataflow=OS, group_size=128,
                zero_points=True),
    ArrayConfig(MacConfig(name="arr_ws_4x4_u3_g32_zp_sat", weight=QType(3, False), acc_bits=14,
                          overflow=Overflow.SATURATE), rows=4, cols=4, dataflow=WS,
                group_size=32, scale_bits=3, zero_points=True),
    ArrayConfig(MacConfig(name="arr_os_1x1", acc_bits=32), rows=1, cols=1, dataflow=OS),
    ArrayConfig(MacConfig(name="arr_ws_1x1_w2a8_sat", weight=QType(2), acc_bits=8,
                          overflow=Overflow.SATURATE), rows=1, cols=1, dataflow=WS),
    ArrayConfig(MacConfig(name="arr_os_2x3_w4u8_sat_pipe", weight=QType(4),
                          activation=QType(8, False), acc_bits=12, overflow=Overflow.SATURATE,
                          pipeline=True), rows=2, cols=3, dataflow=OS),
    ArrayConfig(MacConfig(name="arr_ws_2x3_u4a8_l2_sat", weight=QType(4, False), lanes=2,
                          acc_bits=14, overflow=Overflow.SATURATE), rows=2, cols=3, dataflow=WS),
    ArrayConfig(MacConfig(name="arr_os_4x4_rq", acc_bits=32), rows=4, cols=4, dataflow=OS,
                requant=True),
    ArrayConfig(MacConfig(name="arr_ws_4x4_u8u8_rq8", weight=QType(8, False),
                          activation=QType(8, False), acc_bits=20), rows=4, cols=4, dataflow=WS,
                requant=True, requant_scale_bits=8),
    ArrayConfig(MacConfig(name="arr_is_1x1_w2a8_sat", weight=QType(2), acc_bits=8,
                          overflow=Overflow.SATURATE), rows=1, cols=1, dataflow=IS),
    ArrayConfig(MacConfig(name="arr_is_4x4_u4_g128_zp", weight=QType(4, False)), rows=4,
                cols=4, dataflow=IS, group_size=128, zero_points=True),
    ArrayConfig(MacConfig(name="arr_is_3x4_rq", acc_bits=32), rows=3, cols=4, dataflow=IS,
                requant=True),
)

#: What qtpe needs to know about the kind besides its config (``qtpe.hdl.kinds.Kind``).
SUMMARY = "multiply-accumulate: lanes multipliers, one adder tree (the reference PE)"
COMPONENT, CELL = "qtpe.hdl.pe_mac:MacPE", "qtpe.hdl.pe_mac:MacCell"
MODEL, TESTBENCH = "qtpe.tb.models.mac:MacModel", "qtpe.tb.test_pe_mac"
KIND = register(Kind.declare(MacConfig, globals()))
