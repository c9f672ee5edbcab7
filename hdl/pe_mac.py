"""Multiply-accumulate processing element (``lanes`` multipliers, one adder tree), and its
array cell."""

from amaranth.hdl import Module, Signal, Value, signed, unsigned
from amaranth.lib import data

from .array import Cell
from .carry_save import BitHeap, product_heap
from .kind_mac import MacConfig
from .pe import PEComponent
from .shapes import tree_sum, wire_shape

__all__ = ["MacPE", "MacCell", "mac_dot"]


def mac_dot(m: Module, cfg: MacConfig, weight, act, name: str = "") -> Signal:
    """The exact dot product (``cfg.dot_bits``) of ``lanes`` weights and activations: one
    multiplier per lane (``product{_name}_l{i}``) and a balanced adder tree (``dot{_name}``)."""
    num = signed if cfg.signed else unsigned
    suffix = f"_{name}" if name else ""
    products = []
    for i in range(cfg.lanes):
        product = Signal(num(cfg.product_bits), name=f"product{suffix}_l{i}")
        m.d.comb += product.eq(weight[i] * act[i])
        products.append(product)
    return tree_sum(m, products, num(cfg.dot_bits), f"dot{suffix}")


class MacPE(PEComponent):
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

    CONFIG = MacConfig
    ACC_BASE = "base"

    @staticmethod
    def inputs(config: MacConfig) -> dict:
        return {"weight": data.ArrayLayout(wire_shape(config.weight), config.lanes),
                "act": data.ArrayLayout(wire_shape(config.activation), config.lanes)}

    def dot(self, m: Module):
        return mac_dot(m, self.config, self.weight, self.act)

    def dot_heap(self, m: Module, heap: BitHeap) -> None:
        """Carry-save: every lane's partial products, unresolved (no multiplier adders)."""
        cfg = self.config
        for i in range(cfg.lanes):
            product_heap(heap, Value.cast(self.weight[i]), Value.cast(self.act[i]),
                         cfg.weight.signed, cfg.activation.signed)


class MacCell(Cell):
    """MAC cells: ``MacPE`` in output-stationary arrays, ``mac_dot`` in weight-stationary ones."""

    pe = MacPE

    def ws_dot(self, m, weight, row_operand, name: str):
        return mac_dot(m, self.config, weight, row_operand, name)
