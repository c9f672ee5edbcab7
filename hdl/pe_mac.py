"""Multiply-accumulate processing element (``lanes`` multipliers, one adder tree)."""

from amaranth.hdl import Module, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from .config import MacConfig
from .shapes import acc_shape, fit_to_acc, operand_shape, tree_sum

__all__ = ["MacPE"]


class MacPE(wiring.Component):
    """Dot product of ``lanes`` weight x activation pairs, accumulated, with valid/clear.

    Ports (besides ``clk``/``rst``, synchronous active-high reset to zero):

    * ``in_valid``: accept ``weight`` and ``act`` this cycle.
    * ``clear``: start a new sum. With ``in_valid`` the accumulator becomes this cycle's dot
      product alone; without it the accumulator is set to zero.
    * ``weight``, ``act``: arrays of ``lanes`` operands; in Verilog one flat port each, lane ``i``
      at bits ``[i*W +: W]`` (``[i*A +: A]``).
    * ``acc``: the accumulator register (format ``config.acc``).
    * ``out_valid``: ``acc`` now includes the input accepted ``latency`` cycles earlier.

    Contract:

    * Throughput one input (``lanes`` MACs) per cycle; ``latency`` 1, or 2 with
      ``config.pipeline`` (a register on the lane sum, the valid and the clear).
    * Products and their sum are exact (W + A + ceil(log2(lanes)) bits).
    * Each step computes ``(clear ? 0 : acc) + sum_i w_i*a_i`` exactly, then wraps to
      ``acc.bits`` bits (``overflow = wrap``) or clamps to the accumulator's range
      (``overflow = saturate``).
    """

    def __init__(self, config: MacConfig):
        if not isinstance(config, MacConfig):
            raise TypeError(f"MacPE needs a MacConfig, not {type(config).__name__}")
        self._config = config
        super().__init__({
            "in_valid": In(1),
            "clear": In(1),
            "weight": In(data.ArrayLayout(operand_shape(config.weight), config.lanes)),
            "act": In(data.ArrayLayout(operand_shape(config.activation), config.lanes)),
            "acc": Out(acc_shape(config.acc)),
            "out_valid": Out(1),
        })

    @property
    def config(self) -> MacConfig:
        return self._config

    @property
    def lanes(self) -> int:
        return self._config.lanes

    @property
    def latency(self) -> int:
        return self._config.latency

    def elaborate(self, platform):
        m = Module()
        cfg = self._config
        num = signed if cfg.signed else unsigned

        products = []
        for i in range(cfg.lanes):
            product = Signal(num(cfg.product_bits), name=f"product_l{i}")
            m.d.comb += product.eq(self.weight[i] * self.act[i])
            products.append(product)
        dot = tree_sum(m, products, num(cfg.dot_bits), "dot")

        if cfg.pipeline:
            dot_s = Signal(num(cfg.dot_bits), name="dot_r")
            valid_s = Signal(name="valid_r")
            clear_s = Signal(name="clear_r")
            m.d.sync += [dot_s.eq(dot), valid_s.eq(self.in_valid), clear_s.eq(self.clear)]
        else:
            dot_s, valid_s, clear_s = dot, self.in_valid, self.clear

        # Exact sum: one bit wider than the wider of accumulator and dot product, plus a sign
        # bit so unsigned values compare correctly against the saturation bounds.
        sum_bits = max(cfg.acc.bits, cfg.dot_bits) + 2
        base = Signal(acc_shape(cfg.acc))
        acc_sum = Signal(signed(sum_bits))
        m.d.comb += [
            base.eq(self.acc & ~clear_s.replicate(cfg.acc.bits)),
            acc_sum.eq(base + dot_s),
        ]

        m.d.sync += self.out_valid.eq(valid_s)
        with m.If(valid_s):
            m.d.sync += self.acc.eq(fit_to_acc(acc_sum, cfg.acc))
        with m.Elif(clear_s):
            m.d.sync += self.acc.eq(0)
        return m
