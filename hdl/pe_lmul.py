"""L-Mul processing element: the FP MAC PE with each lane's multiplier replaced by an adder.

Arithmetic (``qtpe.hdl.kind_lmul.LMulConfig``): an operand's integer view ``M << shift``
(``qtpe.hdl.pe_fpmac.float_operand``) has its leading one at ``t = shift + p``, ``p`` the
leading one of ``M`` (``p = m`` for a normal number); the ``m`` bits below it are the
fraction ``f`` (a subnormal's significand shifted up to normal). A lane computes

    ``S = 2^M + (fw << (M - mw)) + (fa << (M - ma)) + 2^(M - l)``
    ``product = (-1)^(sw ^ sa) * S << (tw + ta)``

in units of ``2^-frac_bits`` (``frac_bits`` = the formats' own + ``M``): one small adder and
a shifter instead of an ``(mw+1) x (ma+1)`` multiplier. A zero, NaN or infinity operand
gives a 0 product (NaN and infinities go to the ``special`` bits as in the FP MAC PE). Lane
sum, pipeline, accumulator, ``special`` and the rounded output are the FP MAC PE's.

Contract: as ``qtpe.hdl.pe_fpmac.FpMacPE``: one input per cycle, latency 1 (2 with
``pipeline``), ``(clear ? 0 : acc) + sum of the lanes' L-Mul products``, exact, then wrap or
saturate.
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, signed

from .kind_lmul import LMulConfig
from .pe_fpmac import FpMacPE, Operand

__all__ = ["LMulPE", "lmul_product", "normalize"]


def normalize(m: Module, op: Operand, man_bits: int, name: str) -> tuple[Signal, Signal]:
    """``(f, t)`` of an operand: the ``man_bits`` fraction bits below the leading one of its
    significand ``op.mant`` and that leading one's position in the integer view."""
    width = man_bits + 1
    lead = Signal(range(width), name=f"{name}_lead")
    for i in range(width):  # a priority encoder: the highest set bit wins
        with m.If(op.mant[i]):
            m.d.comb += lead.eq(i)
    up = Signal(range(width), name=f"{name}_up")  # a subnormal's normalizing shift
    frac = Signal(man_bits, name=f"{name}_frac")
    pos = Signal(range((1 << len(op.shift)) + width), name=f"{name}_lead_pos")
    m.d.comb += [
        up.eq(man_bits - lead),
        frac.eq((op.mant << up)[:man_bits]),
        pos.eq(op.shift + lead),
    ]
    return frac, pos


def lmul_product(m: Module, cfg: LMulConfig, w: Operand, a: Operand, name: str) -> Signal:
    """One lane's L-Mul product (``cfg.product_bits``, signed), 0 if an operand is zero or
    not finite."""
    big = cfg.man_bits
    fw, tw = normalize(m, w, cfg.weight.man_bits, f"{name}_w")
    fa, ta = normalize(m, a, cfg.activation.man_bits, f"{name}_a")
    sig = Signal(range(cfg.significand_max + 1), name=f"{name}_sig")
    m.d.comb += sig.eq((1 << big) + (fw << (big - cfg.weight.man_bits))
                       + (fa << (big - cfg.activation.man_bits))
                       + (1 << (big - cfg.offset_bits)))
    mag = Signal(cfg.product_bits - 1, name=f"{name}_mag")
    m.d.comb += mag.eq(sig << (tw + ta))
    live = Signal(name=f"{name}_live")  # both operands finite and non-zero
    m.d.comb += live.eq(w.mant.any() & a.mant.any())
    prod = Signal(signed(cfg.product_bits), name=name)
    m.d.comb += prod.eq(Mux(live, Mux(w.neg ^ a.neg, -mag, mag), 0))
    return prod


class LMulPE(FpMacPE):
    """``lanes`` L-Mul products of float weight x activation pairs per cycle, accumulated
    exactly: ports and timing of ``qtpe.hdl.pe_fpmac.FpMacPE`` (module docstring)."""

    CONFIG = LMulConfig
    product = staticmethod(lmul_product)
