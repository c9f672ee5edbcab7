"""The MX dot-product kind: OCP Microscaling blocks (MXFP8, MXFP6, MXFP4), each block's exact
dot product scaled by its two e8m0 block scales and accumulated exactly (``pe = "mxdot"``).

Config record, presets and registration; the component is ``qtpe.hdl.pe_mxdot.MxDotPE``, the
golden model ``qtpe.tb.models.mxdot``, the cocotb tests ``qtpe.tb.test_pe_mxdot``. There is no
array cell: MX arrays are out of scope (an array of this kind is refused).

Arithmetic (the component's docstring has the port timing): a block is ``block_size``
elements, ``block_size / lanes`` accepted inputs counted from reset or ``clear``. Its exact dot
product ``P`` (units ``2^-frac_bits``, as ``fpmac``) is multiplied by ``2^(Xw + Xa)``, ``Xw =
scale_w - 127`` and ``Xa = scale_a - 127`` the e8m0 scales of the input that completes the
block, and added exactly to a fixed-point accumulator whose least significant bit is
``2^(scale_min - frac_bits)``: the addend is ``P << (Xw + Xa - scale_min)``. A block whose scale
sum is outside ``[scale_min, scale_max]`` or that has a NaN scale (code 255) adds nothing and
makes the sticky ``special`` state NaN.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import ClassVar

from .config import DEPTH_MAX, Lanes, OperandRule, PEConfig, Pipelined, check_int, span_bits
from .formats import (
    ACC_MAX_BITS,
    FloatType,
    Format,
    Overflow,
    QType,
    ScaleType,
    Specials,
)
from .kinds import Kind, Preset, register

__all__ = ["MxDotConfig", "SCALE_SUM_MIN", "SCALE_SUM_MAX"]

#: The range of ``Xw + Xa`` for finite e8m0 scales (codes 0 .. 254: exponents -127 .. 127).
SCALE_SUM_MIN, SCALE_SUM_MAX = -2 * ScaleType.bias, 2 * (ScaleType.NAN_CODE - 1 - ScaleType.bias)


def _fp(name: str) -> FloatType:
    return FloatType.parse(name)


@dataclass(frozen=True)
class MxDotConfig(Lanes, Pipelined, PEConfig):
    """MX dot-product PE: ``lanes`` element pairs per cycle, blocks of ``block_size`` with an
    e8m0 scale per operand, accumulated exactly in a window of scale exponents.

    ``weight`` is an MX element format (``fp8_e4m3``, ``fp8_e5m2``, ``fp6_e3m2``,
    ``fp6_e2m3``, ``fp4_e2m1``); ``activation`` one of them or ``int8`` (an integer element,
    ``frac_bits`` 0: OCP MXINT8's implicit ``2^-6`` goes into ``scale_a``). The accumulator
    is two's complement with LSB ``2^(scale_min - frac_bits)``; its derived width holds
    ``depth / block_size`` blocks (rounded up) of the largest block sum at the largest scale:
    ``block_sum_bits + (scale_max - scale_min) + log2(blocks)``. ``acc_bits``/``overflow``
    as for the other kinds.

    Attributes:
        lanes: element pairs per cycle, summed exactly by one adder tree (1 to 64).
        pipeline: register the lane sum (and the scales) before the block stage (latency 2
            instead of 1).
        block_size: elements per block sharing one pair of scales (a multiple of ``lanes``;
            OCP MX: 32).
        scale_min, scale_max: the window of scale sums ``Xw + Xa`` the accumulator holds
            exactly (``SCALE_SUM_MIN`` .. ``SCALE_SUM_MAX``, ``scale_min <= scale_max``); a
            block outside it is NaN.
    """

    KIND: ClassVar[str] = "mxdot"
    FORMATS: ClassVar[dict] = {
        "weight": OperandRule((FloatType,), 4, 8),
        "activation": OperandRule((FloatType, QType), 4, 8),
    }

    name: str = "qtpe_mxdot"
    weight: Format = field(default_factory=lambda: _fp("fp8_e4m3"))
    activation: Format = field(default_factory=lambda: _fp("fp8_e4m3"))
    block_size: int = 32
    scale_min: int = -16
    scale_max: int = 15

    def __post_init__(self):
        check_int("block_size", self.block_size, 1, DEPTH_MAX)
        check_int("depth", self.depth, 1, DEPTH_MAX)  # PEConfig checks it too, after us
        check_int("scale_min", self.scale_min, SCALE_SUM_MIN, SCALE_SUM_MAX)
        check_int("scale_max", self.scale_max, SCALE_SUM_MIN, SCALE_SUM_MAX)
        if self.scale_min > self.scale_max:
            raise ValueError(f"scale_min must be at most scale_max ({self.scale_max}), not "
                             f"{self.scale_min}")
        if isinstance(self.activation, QType) and self.activation != QType(8):
            raise ValueError(f"activation must be int8 or a float format for pe = 'mxdot', "
                             f"not {self.activation}")
        formats_ok = all(isinstance(getattr(self, r), rule.families)
                         for r, rule in self.FORMATS.items())
        if formats_ok and self.acc_bits is None and self.derived_acc_bits > ACC_MAX_BITS:
            raise ValueError(
                f"derived accumulator width {self.derived_acc_bits} (block sum "
                f"{self.block_sum_bits} bits + window {self.window} + log2(blocks="
                f"{self.blocks})) exceeds {ACC_MAX_BITS}; narrow scale_min..scale_max, lower "
                f"depth or give acc_bits")
        super().__post_init__()
        if self.block_size % self.lanes:
            raise ValueError(f"block_size must be a multiple of lanes ({self.lanes}), not "
                             f"{self.block_size}")

    @property
    def frac_bits(self) -> int:
        """A block sum's value is ``P * 2^-frac_bits`` (the two element formats' own)."""
        return self.weight.frac_bits + self.activation.frac_bits

    @property
    def acc_frac_bits(self) -> int:
        """The accumulator's value is ``acc * 2^-acc_frac_bits`` (``frac_bits - scale_min``)."""
        return self.frac_bits - self.scale_min

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
    def block_steps(self) -> int:
        """Accepted inputs per block, ``block_size / lanes``."""
        return self.block_size // self.lanes

    @property
    def block_sum_bits(self) -> int:
        """Width of the exact dot product of one block (``block_size`` products)."""
        return self.product_bits + (self.block_size - 1).bit_length()

    @property
    def window(self) -> int:
        """``scale_max - scale_min``: the largest left shift of a block sum."""
        return self.scale_max - self.scale_min

    @property
    def scaled_bits(self) -> int:
        """Width of a block sum shifted into the accumulator's units."""
        return self.block_sum_bits + self.window

    @property
    def blocks(self) -> int:
        """Blocks the derived accumulator holds: ``depth / block_size``, rounded up."""
        return -(-self.depth // self.block_size)

    @property
    def derived_acc_bits(self) -> int:
        return self.scaled_bits + (self.blocks - 1).bit_length()

    @property
    def element_specials(self) -> bool:
        """Whether an element format has NaN or infinity codes."""
        return any(isinstance(f, FloatType) and f.specials is not Specials.NONE
                   for f in (self.weight, self.activation))

    def check_in_array(self) -> None:
        raise ValueError("pe = 'mxdot' has no array cell (MX arrays are not supported)")


E4M3, E5M2, E3M2, E2M3, E2M1 = map(_fp, ("fp8_e4m3", "fp8_e5m2", "fp6_e3m2", "fp6_e2m3",
                                         "fp4_e2m1"))
_BASE = MxDotConfig(lanes=8)

PRESETS = {
    "mxdot_fp8_e4m3": Preset(
        dataclasses.replace(_BASE, name="qtpe_mxdot_fp8_e4m3"),
        "MXFP8 E4M3 dot product, blocks of 32 with e8m0 scales, 8 MACs/cycle, exact "
        "accumulator for scale sums -16..15 and depth 256", bench=True),
    "mxdot_fp4_e2m1": Preset(
        dataclasses.replace(_BASE, name="qtpe_mxdot_fp4_e2m1", weight=E2M1, activation=E2M1),
        "MXFP4 E2M1 dot product, blocks of 32 with e8m0 scales, 8 MACs/cycle, exact "
        "accumulator for scale sums -16..15 and depth 256", bench=True),
}

EXAMPLES = (
    MxDotConfig(block_size=8, lanes=4),
    MxDotConfig(weight=E5M2, activation=E5M2, lanes=2, block_size=4, scale_min=-4,
                scale_max=3),
    MxDotConfig(weight=E3M2, activation=E2M3, lanes=3, block_size=6, pipeline=True),
    MxDotConfig(weight=E2M1, activation=QType(8), lanes=4, block_size=4, acc_bits=16,
                overflow=Overflow.SATURATE),
    MxDotConfig(weight=E2M1, activation=E2M1, lanes=2, block_size=2, scale_min=3, scale_max=3,
                pipeline=True),
    MxDotConfig(weight=E4M3, activation=E5M2, lanes=1, block_size=3, scale_min=-20,
                scale_max=20, depth=6),
)

#: What qtpe needs to know about the kind besides its config (``qtpe.hdl.kinds.Kind``).
SUMMARY = "MX dot product: FP8/FP6/FP4 blocks with e8m0 block scales, exact accumulator"
COMPONENT, CELL = "qtpe.hdl.pe_mxdot:MxDotPE", None
MODEL, TESTBENCH = "qtpe.tb.models.mxdot:MxDotModel", "qtpe.tb.test_pe_mxdot"
KIND = register(Kind.declare(MxDotConfig, globals()))
