"""The L-Mul kind: the approximate float product of "Addition is All You Need" (Luo and Sun,
2024), mantissas added instead of multiplied, with exact accumulation (``pe = "lmul"``).

Config record, presets and registration; the component is ``qtpe.hdl.pe_lmul.LMulPE``, the
golden model ``qtpe.tb.models.lmul``, the cocotb tests those of the FP MAC
(``qtpe.tb.test_pe_fpmac``: the same ports).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import ClassVar

from .config import OperandRule, span_bits
from .formats import FloatType, Format, Overflow
from .kind_fpmac import FpMacConfig, FpOutput
from .kinds import Kind, Preset, register

__all__ = ["LMulConfig", "offset_exponent"]


def offset_exponent(man_bits: int) -> int:
    """The paper's ``l(m)``: the offset term of an L-Mul product is ``2^-l(m)`` for ``m``
    mantissa bits (``m`` for m <= 3, 3 for m = 4, 4 above)."""
    if man_bits <= 3:
        return man_bits
    return 3 if man_bits == 4 else 4


def _fp(name: str) -> FloatType:
    return FloatType.parse(name)


@dataclass(frozen=True)
class LMulConfig(FpMacConfig):
    """L-Mul PE: ``lanes`` approximate float products per cycle, accumulated exactly.

    Both operands are float formats (``fp8_e4m3``, ``fp8_e5m2``, ``fp6_e3m2``, ``fp6_e2m3``,
    ``fp4_e2m1``). A finite non-zero operand is ``(-1)^s * (1 + f) * 2^E`` with an ``m``-bit
    fraction ``f`` (a subnormal is normalized first: exact, it has fewer significant bits).
    The product of two is

        ``L-Mul(x, y) = (-1)^(sx ^ sy) * (1 + fx + fy + 2^-l) * 2^(Ex + Ey)``

    with ``l = offset_exponent(M)``, ``M`` the larger of the two mantissa widths (the
    paper's formula; the fractions are aligned to ``M`` bits, exactly). A zero operand gives
    0. NaN and infinities as the FP MAC PE. Everything after the product is the FP MAC PE's:
    the lane sum and the accumulator are exact, in units of ``2^-frac_bits`` with
    ``frac_bits`` = the two formats' own + ``M`` (the offset term is finer than the exact
    product's LSB), width derived from ``depth``, ``acc_bits`` and ``overflow`` as usual.
    No arrays: the array golden model sums exact products.

    Attributes: as ``FpMacConfig``.
    """

    KIND: ClassVar[str] = "lmul"
    FORMATS: ClassVar[dict] = {
        "weight": OperandRule((FloatType,), 4, 8),
        "activation": OperandRule((FloatType,), 4, 8),
    }

    name: str = "qtpe_lmul"
    weight: Format = field(default_factory=lambda: _fp("fp8_e4m3"))
    activation: Format = field(default_factory=lambda: _fp("fp8_e4m3"))

    @property
    def man_bits(self) -> int:
        """``M``: the fraction width both fractions are aligned to."""
        return max(self.weight.man_bits, self.activation.man_bits)

    @property
    def offset_bits(self) -> int:
        """``l``: the offset term is ``2^-l``."""
        return offset_exponent(self.man_bits)

    @property
    def frac_bits(self) -> int:
        return self.weight.frac_bits + self.activation.frac_bits + self.man_bits

    @property
    def significand_max(self) -> int:
        """The largest ``2^M * (1 + fx + fy + 2^-l)`` (both fractions all ones)."""
        big = self.man_bits
        w, a = self.weight.man_bits, self.activation.man_bits
        return ((1 << big) + (((1 << w) - 1) << (big - w)) + (((1 << a) - 1) << (big - a))
                + (1 << max(big - self.offset_bits, 0)))

    @property
    def product_bits(self) -> int:
        """Width of the largest product's magnitude ``significand_max << (tw + ta)`` with a
        sign (``tw``: the leading one's position in a code's integer view)."""
        t = sum(f.max_field_exponent + f.man_bits for f in (self.weight, self.activation))
        top = self.significand_max << t
        return span_bits(-top, top, True)

    def check_in_array(self) -> None:
        raise ValueError("pe = 'lmul' has no array cell (the array golden model sums exact "
                         "products)")


E4M3, E5M2, E3M2, E2M3, E2M1 = map(_fp, ("fp8_e4m3", "fp8_e5m2", "fp6_e3m2", "fp6_e2m3",
                                         "fp4_e2m1"))
_BASE = LMulConfig()

PRESETS = {
    "lmul_e4m3": Preset(
        dataclasses.replace(_BASE, name="qtpe_lmul_e4m3"),
        "L-Mul FP8 E4M3 x FP8 E4M3 (mantissas added, offset 2^-3), exact accumulator for "
        "depth 256; counterpart fpmac_e4m3", bench=True),
    "lmul_e5m2": Preset(
        dataclasses.replace(_BASE, name="qtpe_lmul_e5m2", weight=E5M2, activation=E5M2),
        "L-Mul FP8 E5M2 x FP8 E5M2 (offset 2^-2), exact accumulator for depth 256"),
}

EXAMPLES = (
    LMulConfig(),
    LMulConfig(weight=E5M2, activation=E5M2, lanes=2),
    LMulConfig(weight=E3M2, activation=E2M3, lanes=3, pipeline=True),
    LMulConfig(weight=E2M1, activation=E2M1, lanes=4, acc_bits=10,
               overflow=Overflow.SATURATE),
    LMulConfig(weight=E4M3, activation=E5M2, output=FpOutput.FP32),
    LMulConfig(weight=E2M1, activation=E4M3, lanes=2, output=FpOutput.BF16, pipeline=True),
)

#: What qtpe needs to know about the kind besides its config (``qtpe.hdl.kinds.Kind``).
SUMMARY = "L-Mul: approximate float products by mantissa addition, exact accumulator"
COMPONENT, CELL = "qtpe.hdl.pe_lmul:LMulPE", None
MODEL, TESTBENCH = "qtpe.tb.models.lmul:LMulModel", "qtpe.tb.test_pe_fpmac"
KIND = register(Kind.declare(LMulConfig, globals()))
