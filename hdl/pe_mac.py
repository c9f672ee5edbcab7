"""Multiply-accumulate processing element."""

from amaranth.hdl import Module, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .config import MacConfig
from .shapes import acc_shape, fit_to_acc, operand_shape

__all__ = ["MacPE"]


class MacPE(wiring.Component):
    """Weight x activation multiply-accumulate with a valid/clear handshake.

    Ports (besides ``clk``/``rst``, synchronous active-high reset to zero):

    * ``in_valid``: accept ``weight`` and ``act`` this cycle.
    * ``clear``: start a new sum. With ``in_valid`` the accumulator becomes the product alone
      (``acc = w*a``); without it the accumulator is set to zero.
    * ``acc``: the accumulator register (format ``config.acc``).
    * ``out_valid``: ``acc`` now includes the input accepted ``latency`` cycles earlier.

    Contract:

    * Throughput one input per cycle; ``latency`` 1, or 2 with ``config.pipeline``
      (a register on the product, the valid and the clear).
    * Products are exact (``product_bits`` = W + A holds most-negative x most-negative).
    * Each step computes ``(clear ? 0 : acc) + w*a`` exactly, then wraps to ``acc.bits`` bits
      (``overflow = wrap``) or clamps to the accumulator's range (``overflow = saturate``).
    """

    def __init__(self, config: MacConfig):
        if not isinstance(config, MacConfig):
            raise TypeError(f"MacPE needs a MacConfig, not {type(config).__name__}")
        self._config = config
        super().__init__({
            "in_valid": In(1),
            "clear": In(1),
            "weight": In(operand_shape(config.weight)),
            "act": In(operand_shape(config.activation)),
            "acc": Out(acc_shape(config.acc)),
            "out_valid": Out(1),
        })

    @property
    def config(self) -> MacConfig:
        return self._config

    @property
    def latency(self) -> int:
        return self._config.latency

    def elaborate(self, platform):
        m = Module()
        cfg = self._config
        prod_shape = signed(cfg.product_bits) if cfg.signed else unsigned(cfg.product_bits)

        product = Signal(prod_shape)
        m.d.comb += product.eq(self.weight * self.act)

        if cfg.pipeline:
            product_s = Signal(prod_shape, name="product_r")
            valid_s = Signal(name="valid_r")
            clear_s = Signal(name="clear_r")
            m.d.sync += [
                product_s.eq(product),
                valid_s.eq(self.in_valid),
                clear_s.eq(self.clear),
            ]
        else:
            product_s, valid_s, clear_s = product, self.in_valid, self.clear

        # Exact sum: one bit wider than the wider of accumulator and product, plus a sign bit
        # so unsigned values compare correctly against the saturation bounds.
        sum_bits = max(cfg.acc.bits, cfg.product_bits) + 2
        base = Signal(acc_shape(cfg.acc))
        acc_sum = Signal(signed(sum_bits))
        m.d.comb += [
            base.eq(self.acc & ~clear_s.replicate(cfg.acc.bits)),
            acc_sum.eq(base + product_s),
        ]

        m.d.sync += self.out_valid.eq(valid_s)
        with m.If(valid_s):
            m.d.sync += self.acc.eq(fit_to_acc(acc_sum, cfg.acc))
        with m.Elif(clear_s):
            m.d.sync += self.acc.eq(0)
        return m
