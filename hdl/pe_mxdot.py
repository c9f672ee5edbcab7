"""MX dot-product processing element (OCP Microscaling: MXFP8, MXFP6, MXFP4 blocks).

Arithmetic: each input's ``lanes`` element products are exact and summed exactly
(``qtpe.hdl.pe_fpmac.fp_dot``: units ``2^-frac_bits``, NaN/Inf per IEEE 754 in the
``special`` bits). A block is ``block_steps = block_size / lanes`` accepted
inputs counted from reset or ``clear``; its exact sum ``P`` (``block_sum_bits``) is kept in a
register. The input that completes a block reads the e8m0 scales ``scale_w``, ``scale_a`` (``X
= code - 127``) and adds ``P << (Xw + Xa - scale_min)`` (``scaled_bits``, exact) to ``(clear ?
0 : acc)``, then wraps or saturates: ``acc * 2^-(frac_bits - scale_min)`` is the sum over
blocks of ``2^(Xw + Xa) * sum(w * a)``. A NaN scale (code 255) or a scale sum outside
``[scale_min, scale_max]`` makes the block NaN (OCP: a NaN scale is a NaN block): it adds 0 and
sets ``special`` to 3. An infinite element product stays infinite whatever the scale
(``special`` 1 or 2; both: 3). Element NaN/Inf are sticky from any input of the block.
"""

from __future__ import annotations

from amaranth.hdl import Const, Module, Mux, Signal, signed
from amaranth.lib import data
from amaranth.lib.wiring import Out

from .formats import ScaleType
from .kind_mxdot import MxDotConfig
from .pe import ConfigComponent, PEComponent, acc_base, acc_fit, pe_members, pipeline_stage
from .pe_fpmac import SPECIAL_BITS, fp_dot
from .shapes import wire_shape

__all__ = ["MxDotPE"]

NAN_SPECIAL = (1 << SPECIAL_BITS) - 1


class MxDotPE(PEComponent):
    """Blocks of ``block_size`` float element pairs, each scaled by ``2^(Xw + Xa)`` and
    accumulated exactly.

    Ports (besides ``clk``/``rst``, synchronous active-high reset to zero):

    * ``in_valid``: the inputs below are accepted this cycle (one input per cycle, no stall).
    * ``clear``: restart: the sum, the open block and ``special`` start from zero at this
      input (with ``in_valid``: the input is the first of a new block), or now (without).
    * ``weight``, ``act``: ``lanes`` element codes each (``int8`` activations: the integer);
      in Verilog one flat port each, lane ``i`` at ``[i*W +: W]``.
    * ``scale_w``, ``scale_a``: e8m0 block scales (8 bits), read only on the input that
      completes a block (ignored otherwise).
    * ``acc``: the exact sum in units of ``2^-(frac_bits - scale_min)`` (two's complement,
      ``config.acc``); it changes only when a block completes (or on ``clear``).
    * ``special``: since the last ``clear``: 0 finite, 1 +inf, 2 -inf, 3 NaN (an element NaN,
      +inf plus -inf, inf x 0, or a NaN block); read ``acc`` only when it is 0.
    * ``out_valid``: pulses ``latency`` cycles after the input that completes a block; ``acc``
      and ``special`` then include that block.

    Contract: throughput one input per cycle, ``latency`` 1 (2 with ``pipeline``).
    """

    CONFIG = MxDotConfig

    def __init__(self, config):
        if not isinstance(config, self.CONFIG):
            self._MustUse__silence = True
            raise TypeError(f"{type(self).__name__} needs a {self.CONFIG.__name__}, not "
                            f"{type(config).__name__}")
        members = pe_members(config, self.inputs(config))
        out_valid = members.pop("out_valid")
        members["special"] = Out(SPECIAL_BITS)
        members["out_valid"] = out_valid
        ConfigComponent.__init__(self, config, members)

    @staticmethod
    def inputs(config) -> dict:
        return {"weight": data.ArrayLayout(wire_shape(config.weight), config.lanes),
                "act": data.ArrayLayout(wire_shape(config.activation), config.lanes),
                "scale_w": ScaleType.bits, "scale_a": ScaleType.bits}

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        dot, dot_special = fp_dot(m, cfg, self.weight, self.act)
        s = pipeline_stage(m, cfg.pipeline, {
            "dot": dot, "special": dot_special, "scale_w": self.scale_w,
            "scale_a": self.scale_a, "valid": self.in_valid, "clear": self.clear})
        valid, clear = s["valid"], s["clear"]

        # The open block: its exact partial sum and the inputs it has taken.
        psum = Signal(signed(cfg.block_sum_bits), name="block_psum")
        count = Signal(range(max(cfg.block_steps, 2)), name="block_count")
        count_base = Signal.like(count, name="block_count_base")
        block_sum = Signal(signed(cfg.block_sum_bits), name="block_sum")
        last = Signal(name="block_last")
        m.d.comb += [
            count_base.eq(Mux(clear, 0, count)),
            block_sum.eq(Mux(clear, 0, psum) + s["dot"]),
            last.eq(count_base == cfg.block_steps - 1),
        ]

        # The block scale: Xw + Xa, the NaN block, the shift into the accumulator's units.
        xsum = Signal(signed(10), name="scale_sum")
        scale_nan = Signal(name="scale_nan")
        m.d.comb += [
            xsum.eq(s["scale_w"] + s["scale_a"] - 2 * ScaleType.bias),
            scale_nan.eq((s["scale_w"] == ScaleType.NAN_CODE)
                         | (s["scale_a"] == ScaleType.NAN_CODE)
                         | (xsum < cfg.scale_min) | (xsum > cfg.scale_max)),
        ]
        scaled = Signal(signed(cfg.scaled_bits), name="block_scaled")
        if cfg.window:
            shift = Signal(range(cfg.window + 1), name="block_shift")
            m.d.comb += [shift.eq(xsum - cfg.scale_min),
                         scaled.eq(Mux(scale_nan, 0, block_sum << shift))]
        else:
            m.d.comb += scaled.eq(Mux(scale_nan, 0, block_sum))

        base = acc_base(m, self.acc, cfg.acc, clear)
        nxt = acc_fit(m, base, cfg.acc, scaled)
        m.d.sync += self.out_valid.eq(valid & last)
        with m.If(valid):
            with m.If(last):
                m.d.sync += [self.acc.eq(nxt), psum.eq(0), count.eq(0)]
            with m.Else():
                m.d.sync += [psum.eq(block_sum), count.eq(count_base + 1)]
                with m.If(clear):
                    m.d.sync += self.acc.eq(0)
        with m.Elif(clear):
            m.d.sync += [self.acc.eq(0), psum.eq(0), count.eq(0)]

        # The sticky special state: element specials on every input, a NaN block on the last.
        state = Signal(SPECIAL_BITS, name="acc_special")
        block_nan = Mux(last & scale_nan, NAN_SPECIAL, Const(0, SPECIAL_BITS))
        with m.If(valid):
            m.d.sync += state.eq(Mux(clear, 0, state) | s["special"] | block_nan)
        with m.Elif(clear):
            m.d.sync += state.eq(0)
        m.d.comb += self.special.eq(state)
        return m

    def reference(self):
        raise NotImplementedError("mxdot proofs are not supported (float operands)")
