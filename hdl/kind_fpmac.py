"""The floating-point MAC kind: low-bit float products, exact (Kulisch) accumulation
(``pe = "fpmac"``).

Config record, presets and registration; the component is ``qtpe.hdl.pe_fpmac.FpMacPE``, the
golden model ``qtpe.tb.models.fpmac``, the cocotb tests ``qtpe.tb.test_pe_fpmac``.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
from dataclasses import dataclass, field
from typing import ClassVar

from .array_config import ArrayConfig, Dataflow, array_preset, example_array
from .config import Lanes, OperandRule, PEConfig, Pipelined, span_bits
from .formats import FloatType, Format, Overflow, QType, Specials, show
from .kinds import Kind, Preset, register

__all__ = ["FpMacConfig", "FpOutput", "ROUNDED"]


class FpOutput(enum.Enum):
    """The optional output stage: ``none`` (the exact accumulator only), or ``result`` rounded
    to ``fp32`` or ``bf16``, round to nearest, ties to even."""

    NONE = "none"
    FP32 = "fp32"
    BF16 = "bf16"


#: Rounded output formats: exponent bits, mantissa bits.
ROUNDED = {FpOutput.FP32: (8, 23), FpOutput.BF16: (8, 7)}


def _fp(name: str) -> FloatType:
    return FloatType.parse(name)


@dataclass(frozen=True)
class FpMacConfig(Lanes, Pipelined, PEConfig):
    """Floating-point MAC PE: ``lanes`` float weight x activation products per cycle, exact.

    ``weight`` is one of the float formats (``fp8_e4m3``, ``fp8_e5m2``, ``fp6_e3m2``,
    ``fp6_e2m3``, ``fp4_e2m1``); ``activation`` is one of them or ``int<N>`` (2 to 8 bits: the
    weight-only quantization case, float weights x INT8). Every product is exact, and so is
    the accumulator: a two's-complement fixed-point number whose least significant bit is the
    smallest product (``2^-frac_bits``, ``frac_bits`` = the two formats' own), wide enough for
    ``depth`` of the largest products (the derived width; ``acc_bits`` and ``overflow`` as for
    the integer PEs). NaN and infinities follow IEEE 754 for a sum of products and are kept
    beside the sum in the ``special`` port (``qtpe.hdl.pe_fpmac``).

    Attributes:
        lanes: products per cycle, summed exactly by one adder tree (1 to 64).
        pipeline: register the lane sum before the accumulator (latency 2 instead of 1).
        output: ``none``, or a ``result`` port with the accumulator rounded to ``fp32`` or
            ``bf16`` (``FpOutput``).
    """

    KIND: ClassVar[str] = "fpmac"
    FORMATS: ClassVar[dict] = {
        "weight": OperandRule((FloatType,), 4, 8),
        "activation": OperandRule((FloatType, QType), 2, 8),
    }

    name: str = "qtpe_fpmac"
    weight: Format = field(default_factory=lambda: _fp("fp8_e4m3"))
    activation: Format = field(default_factory=lambda: _fp("fp8_e4m3"))
    output: FpOutput = FpOutput.NONE

    def __post_init__(self):
        super().__post_init__()
        if not isinstance(self.output, FpOutput):
            raise TypeError(f"output must be an FpOutput, not {show(self.output)}")
        if isinstance(self.activation, QType) and not self.activation.signed:
            raise ValueError(f"activation must be int<N> or a float format for pe = 'fpmac', "
                             f"not {self.activation}")
        if self.output is not FpOutput.NONE:
            ebits, _ = ROUNDED[self.output]
            emax = (1 << (ebits - 1)) - 1
            top = self.acc.bits - 1 - self.frac_bits  # exponent of the accumulator's top bit
            if self.frac_bits > emax - 1 or top > emax:
                raise ValueError(f"output = {show(self.output.value)} covers exponents "
                                 f"{1 - emax}..{emax}, not the accumulator's "
                                 f"{-self.frac_bits}..{top}")

    @property
    def frac_bits(self) -> int:
        """The accumulator's value is ``acc * 2^-frac_bits``."""
        return self.weight.frac_bits + self.activation.frac_bits

    @property
    def signed(self) -> bool:
        return True

    @property
    def product_bits(self) -> int:
        """Width of the exact product of the integer views (``FloatType``)."""
        w, a = self.weight, self.activation
        corners = [x * y for x in (w.min, w.max) for y in (a.min, a.max)]
        return span_bits(min(corners), max(corners), True)

    @property
    def specials(self) -> bool:
        """Whether an operand format has NaN or infinity codes (the ``special`` port)."""
        return any(isinstance(f, FloatType) and f.specials is not Specials.NONE
                   for f in (self.weight, self.activation))

    @property
    def has_inf(self) -> bool:
        return any(isinstance(f, FloatType) and f.specials is Specials.IEEE
                   for f in (self.weight, self.activation))

    def check_in_array(self) -> None:
        super().check_in_array()
        if self.output is not FpOutput.NONE:
            raise ValueError(f"arrays take output = 'none' (they give the exact accumulators), "
                             f"not {show(self.output.value)}")


E4M3, E5M2, E3M2, E2M3, E2M1 = map(_fp, ("fp8_e4m3", "fp8_e5m2", "fp6_e3m2", "fp6_e2m3",
                                         "fp4_e2m1"))
_BASE = FpMacConfig()

PRESETS = {
    "fpmac_e4m3": Preset(
        dataclasses.replace(_BASE, name="qtpe_fpmac_e4m3"),
        "FP8 E4M3 x FP8 E4M3 MAC, exact products, Kulisch accumulator for depth 256; "
        "counterpart mac_w8a8", bench=True),
    "fpmac_e4m3_fp32": Preset(
        dataclasses.replace(_BASE, name="qtpe_fpmac_e4m3_fp32", output=FpOutput.FP32),
        "fpmac_e4m3 with the sum rounded to FP32 (nearest even) on a result port", bench=True),
    "fpmac_e5m2": Preset(
        dataclasses.replace(_BASE, name="qtpe_fpmac_e5m2", weight=E5M2, activation=E5M2),
        "FP8 E5M2 x FP8 E5M2 MAC, Kulisch accumulator (73 bits) for depth 256", bench=True),
    "fpmac_e2m1_a8": Preset(
        dataclasses.replace(_BASE, name="qtpe_fpmac_e2m1_a8", weight=E2M1,
                            activation=QType(8)),
        "FP4 E2M1 weights x INT8 activations (weight-only), exact; counterpart mac_w4a8",
        bench=True),
    "fpmac_e4m3_l8": Preset(
        dataclasses.replace(_BASE, name="qtpe_fpmac_e4m3_l8", lanes=8),
        "8-lane FP8 E4M3 dot-product MAC (8 MACs/cycle), Kulisch accumulator"),
}

EXAMPLES = (
    FpMacConfig(),
    FpMacConfig(weight=E5M2, activation=E5M2, lanes=2),
    FpMacConfig(weight=E3M2, activation=E2M3, lanes=3, pipeline=True),
    FpMacConfig(weight=E2M1, activation=QType(8), lanes=4, acc_bits=10,
                overflow=Overflow.SATURATE),
    FpMacConfig(weight=E4M3, activation=E5M2, output=FpOutput.FP32),
    FpMacConfig(weight=E2M1, activation=E2M1, lanes=2, output=FpOutput.BF16, pipeline=True),
    FpMacConfig(weight=E5M2, activation=QType(4), acc_bits=20, overflow=Overflow.SATURATE),
)

OS, WS, IS = Dataflow.OS, Dataflow.WS, Dataflow.IS
_a = functools.partial(example_array, FpMacConfig)
#: Small arrays for the array contract tests (Amaranth simulator, tests/test_hdl_array.py).
ARRAY_EXAMPLES = (
    _a("os", 2, 3),
    _a("ws", 3, 2, weight=E2M1, activation=QType(8), lanes=2),
    _a("os", 2, 2, weight=E3M2, activation=E2M3, acc_bits=14, overflow=Overflow.SATURATE),
    _a("is", 2, 3, weight=E2M1, activation=QType(8), lanes=2),
    _a("is", 2, 2, weight=E3M2, activation=E2M3, acc_bits=14, overflow=Overflow.SATURATE),
)
#: Arrays the regression builds on both simulators (tests/test_tb_array.py).
ARRAY_REGRESSION = (
    ArrayConfig(FpMacConfig(name="fp_os_4x4_e4m3"), rows=4, cols=4, dataflow=OS),
    ArrayConfig(FpMacConfig(name="fp_ws_4x4_e4m3"), rows=4, cols=4, dataflow=WS),
    ArrayConfig(FpMacConfig(name="fp_ws_2x3_e5m2_e4m3_l2_sat", weight=E5M2, activation=E4M3,
                            lanes=2, acc_bits=40, overflow=Overflow.SATURATE),
                rows=2, cols=3, dataflow=WS),
)
PRESETS |= {
    "array_os_fp8_4x4": Preset(array_preset(_BASE, "array_os_fp8_4x4", OS, 4, 4),
                               "4x4 output-stationary array of FP8 E4M3 MACs, exact sums"),
    "array_ws_fp8_4x4": Preset(array_preset(_BASE, "array_ws_fp8_4x4", WS, 4, 4),
                               "4x4 weight-stationary array of FP8 E4M3 MACs, exact sums"),
}

#: What qtpe needs to know about the kind besides its config (``qtpe.hdl.kinds.Kind``).
SUMMARY = "floating-point MAC: FP8/FP6/FP4 products, exact Kulisch accumulator"
COMPONENT, CELL = "qtpe.hdl.pe_fpmac:FpMacPE", "qtpe.hdl.pe_fpmac:FpMacCell"
MODEL, TESTBENCH = "qtpe.tb.models.fpmac:FpMacModel", "qtpe.tb.test_pe_fpmac"
KIND = register(Kind.declare(FpMacConfig, globals()))
