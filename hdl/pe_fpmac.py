"""Floating-point MAC processing element (exact products, Kulisch accumulator), its array
cell, and the parts the other float kinds share (operand fields, special values, rounding).

Arithmetic: a float code is read as ``(-1)^s * M << shift`` in units of its smallest
subnormal (``qtpe.hdl.formats.FloatType``: ``M = hidden << man_bits | m``, ``shift = max(e, 1)
- 1``), an ``int<N>`` activation as itself (shift 0). A product is ``(sig_w * sig_a) <<
(shift_w + shift_a)``, exact, in units of ``2^-frac_bits``; ``lanes`` of them are summed by
an adder tree and accumulated by the shared accumulator (clear, add, wrap or saturate).

Special values (where an operand format has them), IEEE 754 for a sum of products (the OCP
MX spec leaves element NaN/Inf to it): a product is NaN if an operand is NaN or it is
infinity x zero, else +-infinity if an operand is infinite (sign: the xor of the operand
signs); the ``special`` port holds, since the last ``clear``, bit 0 "a +infinity was added"
and bit 1 "a -infinity was added", and NaN sets both: 0 finite, 1 +inf, 2 -inf, 3 NaN (so
+inf + -inf is NaN). ``acc`` keeps adding the finite products (an infinite or NaN product
adds 0); read it when ``special`` is 0.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value, signed
from amaranth.lib import data
from amaranth.lib.wiring import Out

from .array import Cell
from .formats import FloatType, Format, Specials
from .kind_fpmac import ROUNDED, FpMacConfig, FpOutput
from .pe import ConfigComponent, PEComponent, accumulate, pe_members, pipeline_stage
from .shapes import tree_sum, wire_shape

__all__ = ["FpMacPE", "FpMacCell", "Operand", "float_operand", "fp_dot", "special_of",
           "round_output", "SPECIAL_BITS"]

SPECIAL_BITS = 2


class Operand:
    """One operand's parts as Amaranth values: ``sig`` (signed significand: ``-M`` or ``M``),
    ``shift``, and the flags ``nan``, ``inf``, ``zero``, ``neg``."""

    def __init__(self, sig, shift, nan, inf, zero, neg, mant, exp):
        self.sig, self.shift, self.nan, self.inf, self.zero, self.neg = \
            sig, shift, nan, inf, zero, neg
        self.mant, self.exp = mant, exp  # unsigned significand M, exponent field


def float_operand(m: Module, fmt: Format, code: Value, name: str) -> Operand:
    """The parts of one operand ``code`` of ``fmt`` (named ``{name}_sig``, ``{name}_shift``)."""
    if not isinstance(fmt, FloatType):  # int<N>: the value itself, no shift, no specials
        v = Value.cast(code)
        zero = Const(0, 1)
        return Operand(v, Const(0, 1), zero, zero, ~v.any(), v < 0, abs(v), Const(0, 1))
    mb, eb = fmt.man_bits, fmt.exp_bits
    c = Value.cast(code)
    sign, exp, man = c[fmt.bits - 1], c[mb:mb + eb], c[:mb]
    normal = exp.any()
    mant = Signal(mb + 1, name=f"{name}_mant")
    shift = Signal(range(max(fmt.max_field_exponent, 1) + 1 + 1), name=f"{name}_shift")
    if fmt.specials is Specials.FN:
        nan, inf = exp.all() & man.all(), Const(0, 1)
    elif fmt.specials is Specials.IEEE:
        nan, inf = exp.all() & man.any(), exp.all() & ~man.any()
    else:
        nan = inf = Const(0, 1)
    special = Signal(name=f"{name}_special")
    m.d.comb += [
        special.eq(nan | inf),
        mant.eq(Mux(special, 0, Cat(man, normal))),
        shift.eq(Mux(normal, exp - 1, 0)),
    ]
    sig = Signal(signed(mb + 2), name=f"{name}_sig")
    m.d.comb += sig.eq(Mux(sign, -mant, mant))
    zero = Signal(name=f"{name}_zero")  # a finite zero: NaN and infinity codes are not zeros
    m.d.comb += zero.eq(~(mant.any() | special))
    return Operand(sig, shift, nan, inf, zero, sign, mant, exp)


def special_of(w: Operand, a: Operand) -> tuple[Value, Value]:
    """The ``special`` bits (+inf seen, -inf seen) one product adds: NaN sets both."""
    nan = w.nan | a.nan | (w.inf & a.zero) | (a.inf & w.zero)
    inf = (w.inf | a.inf) & ~nan
    neg = w.neg ^ a.neg
    return nan | (inf & ~neg), nan | (inf & neg)


def fp_product(m: Module, cfg, w: Operand, a: Operand, name: str) -> Signal:
    """The exact product ``(sig_w * sig_a) << (shift_w + shift_a)`` (``cfg.product_bits``)."""
    prod = Signal(signed(cfg.product_bits), name=name)
    m.d.comb += prod.eq((w.sig * a.sig) << (w.shift + a.shift))
    return prod


def fp_dot(m: Module, cfg, weight, act, name: str = "", product=fp_product):
    """The exact dot product (``cfg.dot_bits``) of ``lanes`` float pairs and its ``special``
    bits (a 2-bit value). ``product`` computes one lane's product (L-Mul replaces it)."""
    suffix = f"_{name}" if name else ""
    products, pos, neg = [], [], []
    for i in range(cfg.lanes):
        w = float_operand(m, cfg.weight, weight[i], f"w{suffix}_l{i}")
        a = float_operand(m, cfg.activation, act[i], f"a{suffix}_l{i}")
        products.append(product(m, cfg, w, a, f"product{suffix}_l{i}"))
        p, n = special_of(w, a)
        pos.append(p)
        neg.append(n)
    dot = tree_sum(m, products, signed(cfg.dot_bits), f"dot{suffix}")
    special = Signal(SPECIAL_BITS, name=f"dot_special{suffix}")
    m.d.comb += special.eq(Cat(_any(pos), _any(neg)))
    return dot, special


def _any(bits) -> Value:
    out = Const(0, 1)
    for b in bits:
        out = out | b
    return out


def round_output(m: Module, acc: Value, acc_bits: int, frac_bits: int, special: Value,
                 output: FpOutput) -> Signal:
    """``acc * 2^-frac_bits`` rounded to ``output`` (FP32 or BF16), to nearest, ties to even;
    ``special`` 3 gives the quiet NaN ``0x7FC00000`` (``0x7FC0``), 1 and 2 the infinities; a
    zero sum is +0. The config guarantees every nonzero sum is a normal number of the output
    format (no overflow, no subnormal)."""
    ebits, mbits = ROUNDED[output]
    width = 1 + ebits + mbits
    bias = (1 << (ebits - 1)) - 1
    acc = Value.cast(acc)
    neg = acc[acc_bits - 1]
    mag = Signal(acc_bits, name="round_mag")
    m.d.comb += mag.eq(Mux(neg, -acc, acc))
    # The leading one's position: a priority encoder over the magnitude.
    lead = Signal(range(acc_bits), name="round_lead")
    for i in range(acc_bits):
        with m.If(mag[i]):
            m.d.comb += lead.eq(i)
    # Normalized: the leading one at bit N - 1 of an N-bit field (N >= mbits + 3, so a guard
    # and a sticky bit exist below the kept mantissa).
    n = max(acc_bits, mbits + 3)
    norm = Signal(n, name="round_norm")
    lz = Signal(range(n), name="round_lz")
    m.d.comb += [lz.eq(n - 1 - lead), norm.eq((mag << lz)[:n])]
    keep_lo = n - 1 - mbits
    mant = norm[keep_lo:n - 1]
    guard = norm[keep_lo - 1]
    sticky = norm[:keep_lo - 1].any() if keep_lo > 1 else Const(0, 1)
    up = guard & (sticky | mant[0])
    biased = Signal(ebits + 1, name="round_exp")
    m.d.comb += biased.eq(lead - frac_bits + bias)
    # {exponent, mantissa} + up: a mantissa carry rounds into the exponent.
    rounded = Signal(ebits + mbits + 1, name="round_sum")
    m.d.comb += rounded.eq(Cat(mant, biased[:ebits]) + up)
    result = Signal(width, name="result_bits")
    qnan = (((1 << ebits) - 1) << mbits) | (1 << (mbits - 1))
    inf = ((1 << ebits) - 1) << mbits
    with m.If(special == 3):
        m.d.comb += result.eq(qnan)
    with m.Elif(special == 1):
        m.d.comb += result.eq(inf)
    with m.Elif(special == 2):
        m.d.comb += result.eq(inf | (1 << (width - 1)))
    with m.Elif(~mag.any()):
        m.d.comb += result.eq(0)
    with m.Else():
        m.d.comb += result.eq(Cat(rounded[:ebits + mbits], neg))
    return result


def fp_members(cfg, pe_cls) -> dict:
    """The PE signature with ``special`` (where the formats have NaN/Inf) and ``result`` (the
    rounded output) after ``acc``."""
    members = pe_members(cfg, pe_cls.inputs(cfg))
    out_valid = members.pop("out_valid")
    if cfg.specials:
        members["special"] = Out(SPECIAL_BITS)
    if cfg.output is not FpOutput.NONE:
        ebits, mbits = ROUNDED[cfg.output]
        members["result"] = Out(1 + ebits + mbits)
    members["out_valid"] = out_valid
    return members


class FpMacPE(PEComponent):
    """Dot product of ``lanes`` float weight x activation pairs, accumulated exactly.

    Ports (besides ``clk``/``rst``, synchronous active-high reset to zero):

    * ``in_valid``, ``clear``: as the MAC PE (``qtpe.hdl.pe_mac.MacPE``).
    * ``weight``, ``act``: ``lanes`` codes each (an ``int<N>`` activation: the integer); in
      Verilog one flat port each, lane ``i`` at ``[i*W +: W]``.
    * ``acc``: the exact sum in units of ``2^-frac_bits`` (two's complement, ``config.acc``).
    * ``special`` (formats with NaN/Inf only): 0 finite, 1 +inf, 2 -inf, 3 NaN (module doc).
    * ``result`` (``output`` fp32/bf16 only): ``acc`` with ``special`` rounded, combinational
      from the registers.
    * ``out_valid``: ``acc`` now includes the input accepted ``latency`` cycles earlier.

    Contract: one input per cycle, ``latency`` 1 (2 with ``pipeline``); each step computes
    ``(clear ? 0 : acc) + sum_i w_i*a_i`` exactly and wraps or saturates it.
    """

    CONFIG = FpMacConfig
    #: One lane's product (the L-Mul kind replaces it).
    product = staticmethod(fp_product)

    def __init__(self, config):
        if not isinstance(config, self.CONFIG):
            self._MustUse__silence = True
            raise TypeError(f"{type(self).__name__} needs a {self.CONFIG.__name__}, not "
                            f"{type(config).__name__}")
        ConfigComponent.__init__(self, config, fp_members(config, type(self)))

    @staticmethod
    def inputs(config) -> dict:
        return {"weight": data.ArrayLayout(wire_shape(config.weight), config.lanes),
                "act": data.ArrayLayout(wire_shape(config.activation), config.lanes)}

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        dot, special = fp_dot(m, cfg, self.weight, self.act, product=self.product)
        s = pipeline_stage(m, cfg.pipeline, {"dot": dot, "special": special,
                                             "valid": self.in_valid, "clear": self.clear})
        m.d.sync += self.out_valid.eq(s["valid"])
        accumulate(m, self.acc, cfg.acc, s["dot"], s["valid"], s["clear"])
        state = Signal(SPECIAL_BITS, name="acc_special")
        with m.If(s["valid"]):
            m.d.sync += state.eq(Mux(s["clear"], 0, state) | s["special"])
        with m.Elif(s["clear"]):
            m.d.sync += state.eq(0)
        if cfg.specials:
            m.d.comb += self.special.eq(state)
        if cfg.output is not FpOutput.NONE:
            m.d.comb += self.result.eq(round_output(m, self.acc, cfg.acc.bits, cfg.frac_bits,
                                                    state, cfg.output))
        return m

    def reference(self):
        raise NotImplementedError("fpmac proofs are not supported (float operands)")


class FpMacCell(Cell):
    """FP MAC cells: ``FpMacPE`` in output-stationary arrays, ``fp_dot`` in weight-stationary
    ones (GEMM operands are finite: the arrays have no ``special`` port)."""

    pe = FpMacPE

    def ws_dot(self, m, weight, row_operand, name: str):
        return fp_dot(m, self.config, weight, row_operand, name)[0]

