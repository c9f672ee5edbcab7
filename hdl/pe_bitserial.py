"""Bit-serial processing element (Stripes / BitMoD style): one weight bit-plane per cycle.

One piece of hardware serves every weight precision from 1 bit to ``config.weight.bits``; an op
at precision ``k`` takes ``k`` cycles. Per-group dequantization (``GroupScaled``) and the
BitMoD-style weight data types (``BitSerialDType``) are optional.
"""

from amaranth.hdl import Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data

from .dequant import scale_partial_sum, scale_port_shape, scaled_shape
from .kind_bitserial import BitSerialConfig, BitSerialDType
from .pe import PEComponent, accumulate
from .reference import Reference, decode
from .shapes import tree_sum, wire_shape

__all__ = ["BitSerialPE"]


class BitSerialPE(PEComponent):
    """Dot product of ``lanes`` weight x activation pairs, walked one weight bit-plane per cycle.

    Ports (besides ``clk``/``rst``, synchronous active-high reset to idle with a zero
    accumulator and the group counter at the start of a group):

    * ``in_valid`` / ``in_ready``: an op is accepted at a rising edge where both are high.
      ``in_ready`` is high when the PE is idle and in the last bit-plane cycle of an op, so
      ops issue back to back. It depends only on registers, never on ``in_valid``.
    * ``wbits``: the op's weight precision ``k``. Values outside 1..``weight.bits`` (0, or
      above the maximum) run at the maximum precision ``weight.bits``.
    * ``weight``: ``lanes`` weight codes, ``weight.bits`` wide each; in Verilog one flat port,
      lane ``i`` at bits ``[i*W +: W]``. An op at precision ``k`` reads only the low ``k`` bits
      of each lane (the code); the upper bits are ignored.
    * ``act``: ``lanes`` activations (``config.activation``), flat like ``weight``.
    * ``clear``: the op starts a new sum (and a new group): its result is not added to the
      earlier accumulator. Sampled only with an accepted op.
    * ``scale`` (with groups): the group's unsigned scale (``group_scale = "int"``) or
      exponent (``"pot"``), ``scale_bits`` wide.
    * ``special`` (``dtype = "special"``): the group's special value, signed ``special_bits``.
    * ``zero`` (``dtype = "offset"``): the group's zero point, unsigned ``special_bits``.
      ``scale``, ``special`` and ``zero`` are sampled with the first op of each group only.
    * ``acc``: the accumulator register (format ``config.acc``).
    * ``out_valid``: ``acc`` now holds a new result (one pulse per op without groups, one per
      group with them).

    Weight encodings, for an op at precision ``k`` with code ``c`` (the low ``k`` bits):

    * ``dtype = "int"``, signed weight: ``w = c`` read as ``int<k>``: planes ``k-2..0`` add
      ``2^j * sum(a)``, plane ``k-1`` (the sign) subtracts ``2^(k-1) * sum(a)``. Unsigned
      weight: ``w = c`` as ``uint<k>``, every plane adds.
    * ``dtype = "special"`` (signed weight): codes other than ``-2^(k-1)`` are ``int<k>``
      values walked as above; the code ``-2^(k-1)`` (sign bit alone; for ``k = 1`` the code
      ``1``) means the group's ``special`` value. Its lanes take part in no bit-plane; their
      activations are summed at accept into ``t`` and ``special * t`` is added to the op's
      dot product with one multiplier. So the grid is ``[-(2^(k-1) - 1), 2^(k-1) - 1]`` plus
      one value per group.
    * ``dtype = "offset"`` (unsigned weight): ``w = c - zero`` with ``c`` a ``uint<k>`` walked
      as above and ``zero`` the group's zero point; ``t = sum(a)`` over all lanes and
      ``-zero * t`` is added to the op's dot product (``sum(q*a) - z*sum(a)``).
    Neither data type costs cycles: the correction runs beside the bit-planes.

    Bit-planes go MSB first (Horner): in the op's first cycle the partial sum becomes
    ``+-P(k-1)``, then ``2*psum + P(j)`` for ``j = k-2 .. 0``, where
    ``P(j) = sum_i bit_j(c_i) * a_i`` comes from one balanced adder tree over the lanes. Every
    partial sum is exact (``config.code_dot_bits`` wide).

    Groups (``group_size > 0``): a group is ``group_steps = group_size / lanes`` consecutive
    ops (counted from reset or from an op with ``clear``; a ``clear`` drops an unfinished
    group). The ops' exact dot products (with their corrections) are summed in a group
    register; after the group's last op the sum goes through one pipeline stage (the dequant
    stage) that scales it with ``qtpe.hdl.dequant.scale_partial_sum`` and adds it to the
    accumulator.

    Accumulation: without groups each op computes ``(clear ? 0 : acc) + dot``, with groups
    each group ``(clear of its first op ? 0 : acc) + scale * group_sum``, exactly, then wraps
    to ``acc.bits`` bits (``overflow = wrap``) or clamps to the accumulator's range
    (``overflow = saturate``). Only the accumulator wraps or saturates.

    Timing, for an op at precision ``k``: one bit-plane per cycle, so back-to-back ops are
    accepted every ``k`` cycles (``config.cycles_per_op(k)``); the result is valid
    ``k + fixed_latency`` cycles after the op was presented (``config.result_latency(k)``,
    the MAC PE's convention: latency 1 = ``out_valid`` in the cycle after acceptance).
    ``fixed_latency`` is 1 (the operand register) or 2 with groups (plus the dequant stage).
    Peak throughput ``lanes / k`` MACs per cycle.
    """

    CONFIG = BitSerialConfig
    READY = True
    ACC_BASE = "base"

    @staticmethod
    def inputs(config: BitSerialConfig) -> dict:
        cfg = config
        inputs = {
            "wbits": unsigned(cfg.wbits_bits),
            "weight": data.ArrayLayout(unsigned(cfg.weight.bits), cfg.lanes),
            "act": data.ArrayLayout(wire_shape(cfg.activation), cfg.lanes),
        }
        if cfg.group is not None:
            inputs["scale"] = scale_port_shape(cfg.group)
        if cfg.dtype is BitSerialDType.SPECIAL:
            inputs["special"] = signed(cfg.special_bits)
        elif cfg.dtype is BitSerialDType.OFFSET:
            inputs["zero"] = unsigned(cfg.special_bits)
        return inputs

    @property
    def fixed_latency(self) -> int:
        return self._config.fixed_latency

    def reference(self) -> list[Reference]:
        """The op's weights as the documented encoding says, written independently of the
        bit-plane walk: precision ``k`` (``wbits``, the maximum when out of range), each code
        the low ``k`` bits of its lane read as ``int<k>`` or ``uint<k>`` (``dtype = "int"``;
        the special and offset types need groups, which the proofs leave out)."""
        cfg = self._config
        W = cfg.weight.bits
        weights = []
        for i in range(cfg.lanes):
            code = self.weight[i]
            value = code.as_signed() if cfg.weight.signed else code
            for k in range(W - 1, 0, -1):
                low = code[:k].as_signed() if cfg.weight.signed else code[:k]
                value = Mux(self.wbits == k, low, value)
            weights.append(value)
        acts = tuple(decode(cfg.activation, self.act[i]) for i in range(cfg.lanes))
        return [Reference(tuple(weights), acts, self.acc)]

    def elaborate(self, platform):
        m = Module()
        cfg = self._config
        W, lanes = cfg.weight.bits, cfg.lanes
        act_num = signed if cfg.activation.signed else unsigned
        num = signed if cfg.signed else unsigned
        dtype = cfg.dtype

        # -- accept: precision, special-code detection, operand registers ------------------
        accept = Signal()
        m.d.comb += accept.eq(self.in_valid & self.in_ready)

        k = Signal(range(W + 1), name="k")  # effective precision of the offered op
        out_of_range = ~self.wbits.any()
        if (1 << cfg.wbits_bits) - 1 > W:
            out_of_range |= self.wbits > W
        m.d.comb += k.eq(Mux(out_of_range, W, self.wbits))
        sign_code = Signal(W, name="sign_code")  # one-hot bit k-1: the code -2^(k-1)
        code_mask = Signal(W, name="code_mask")  # the low k bits
        m.d.comb += [
            sign_code.eq(Const(1, W) << (k - 1).as_unsigned()[: max(1, (W - 1).bit_length())]),
            code_mask.eq(sign_code | (sign_code - 1)),
        ]

        t_terms = []
        codes = []
        for i in range(lanes):
            code = Signal(W, name=f"code_l{i}")
            m.d.comb += code.eq(self.weight[i] & code_mask)
            if dtype is BitSerialDType.SPECIAL:
                is_special = Signal(name=f"special_l{i}")
                m.d.comb += is_special.eq(code == sign_code)
                masked = Signal(W, name=f"plane_code_l{i}")
                m.d.comb += masked.eq(Mux(is_special, 0, code))
                term = Signal(act_num(cfg.activation.bits), name=f"t_term_l{i}")
                m.d.comb += term.eq(Mux(is_special, self.act[i], 0))
                codes.append(masked)
                t_terms.append(term)
            else:
                codes.append(code)
                t_terms.append(self.act[i])

        busy = Signal()
        plane = Signal(W, name="plane")  # one-hot: the bit-plane of this cycle, k-1 .. 0
        first = Signal()  # this cycle walks the op's first (most significant) plane
        w_r = Signal(data.ArrayLayout(unsigned(W), lanes), name="weight_r")
        a_r = Signal(data.ArrayLayout(wire_shape(cfg.activation), lanes), name="act_r")
        clear_r = Signal()
        last_plane = Signal()
        done = Signal()  # the op's dot product is complete this cycle
        m.d.comb += [
            last_plane.eq(plane[0]),
            done.eq(busy & last_plane),
            self.in_ready.eq(~busy | last_plane),
        ]

        with m.If(accept):
            m.d.sync += [busy.eq(1), plane.eq(sign_code), first.eq(1)]
            if cfg.group is None:
                m.d.sync += clear_r.eq(self.clear)
            for i in range(lanes):
                m.d.sync += [w_r[i].eq(codes[i]), a_r[i].eq(self.act[i])]
        with m.Elif(busy):
            m.d.sync += first.eq(0)
            with m.If(last_plane):
                m.d.sync += busy.eq(0)
            with m.Else():
                m.d.sync += plane.eq(plane >> 1)

        # -- one bit-plane per cycle: P(j) = sum_i bit_j(c_i) * a_i, Horner MSB first ------
        plane_terms = []
        for i in range(lanes):
            term = Signal(act_num(cfg.activation.bits), name=f"plane_term_l{i}")
            m.d.comb += term.eq(Mux((w_r[i] & plane).any(), a_r[i], 0))
            plane_terms.append(term)
        plane_sum = tree_sum(m, plane_terms, act_num(cfg.plane_bits), "plane_sum")

        code_num = signed if (cfg.weight.signed or cfg.activation.signed) else unsigned
        psum = Signal(code_num(cfg.code_dot_bits), name="psum")
        horner = Signal(code_num(cfg.code_dot_bits), name="horner")
        top = -plane_sum if cfg.weight.signed else plane_sum  # the sign plane subtracts
        m.d.comb += horner.eq(Mux(first, top, (psum << 1) + plane_sum))
        with m.If(busy):
            m.d.sync += psum.eq(horner)

        # -- the op's dot product, with the data type's per-group correction ----------------
        group = cfg.group
        if group is None:
            m.d.sync += self.out_valid.eq(done)
            accumulate(m, self.acc, cfg.acc, horner, done, clear_r, idle_clear=False,
                       base_name=self.ACC_BASE)
            return m

        # Group bookkeeping at accept: the op's index in its group decides first/last.
        gcount = Signal(range(max(cfg.group_steps, 2)), name="group_count")
        index = Signal.like(gcount, name="group_index")
        op_first = Signal()
        op_last = Signal()
        scale_g = Signal(scale_port_shape(group), name="scale_g")
        clear_g = Signal(name="clear_g")
        index_zero = Signal()
        m.d.comb += [index.eq(Mux(self.clear, 0, gcount)), index_zero.eq(~index.any())]
        with m.If(accept):
            m.d.sync += [
                op_first.eq(index_zero),
                op_last.eq(index == cfg.group_steps - 1),
                gcount.eq(Mux(index == cfg.group_steps - 1, 0, index + 1)),
            ]
            with m.If(index_zero):
                m.d.sync += [scale_g.eq(self.scale), clear_g.eq(self.clear)]

        gsum_shape = num(cfg.group_sum_bits)
        op_dot = Signal(signed(cfg.product_bits + (lanes - 1).bit_length() + 1), name="op_dot")
        if dtype is BitSerialDType.INT:
            m.d.comb += op_dot.eq(horner)
        else:
            t_r = Signal(act_num(cfg.plane_bits), name="t_r")
            t_sum = tree_sum(m, t_terms, act_num(cfg.plane_bits), "t_sum")
            special = dtype is BitSerialDType.SPECIAL
            param_port = self.special if special else self.zero
            param_g = Signal.like(param_port, name="special_g" if special else "zero_g")
            with m.If(accept):
                m.d.sync += t_r.eq(t_sum)
                with m.If(index_zero):
                    m.d.sync += param_g.eq(param_port)
            corr = param_g * t_r if special else -(param_g * t_r)
            m.d.comb += op_dot.eq(horner + corr)

        gsum = Signal(gsum_shape, name="group_sum")
        gsum_next = Signal(gsum_shape, name="group_sum_next")
        m.d.comb += gsum_next.eq(Mux(op_first, 0, gsum) + op_dot)

        # Dequant stage: the finished group's exact sum, its scale and clear.
        stage_valid = Signal()
        stage_sum = Signal(gsum_shape, name="stage_sum")
        stage_scale = Signal(scale_port_shape(group), name="stage_scale")
        stage_clear = Signal()
        m.d.sync += stage_valid.eq(done & op_last)
        with m.If(done):
            m.d.sync += gsum.eq(gsum_next)
            with m.If(op_last):
                m.d.sync += [
                    stage_sum.eq(gsum_next), stage_scale.eq(scale_g), stage_clear.eq(clear_g),
                ]

        scaled = Signal(scaled_shape(cfg.group_sum_bits + 1, group), name="scaled")
        m.d.comb += scaled.eq(scale_partial_sum(stage_sum, stage_scale, group))
        m.d.sync += self.out_valid.eq(stage_valid)
        accumulate(m, self.acc, cfg.acc, scaled, stage_valid, stage_clear, idle_clear=False,
                   base_name=self.ACC_BASE)
        return m
