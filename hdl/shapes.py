"""Amaranth shapes, overflow handling and adder trees for the records in ``qtpe.hdl.formats``."""

from amaranth.hdl import Const, Module, Mux, Shape, Signal, Value, signed, unsigned

from .formats import AccType, Format, Overflow

__all__ = ["wire_shape", "acc_shape", "fit_to_acc", "tree_sum"]


def wire_shape(fmt: Format) -> Shape:
    """What a format's wires carry (``Format.wire_signed``): the two's-complement integer of
    ``int<N>``, the unsigned integer of ``uint<N>``, else the unsigned code."""
    return signed(fmt.bits) if fmt.wire_signed else unsigned(fmt.bits)


def acc_shape(acc: AccType) -> Shape:
    return signed(acc.bits) if acc.signed else unsigned(acc.bits)


def fit_to_acc(value: Value, acc: AccType) -> Value:
    """Bring an exact (wide enough) sum into the accumulator format.

    ``WRAP`` keeps the low ``acc.bits`` bits (two's complement for a signed accumulator);
    ``SATURATE`` clamps to ``[acc.min, acc.max]``. ``value`` must hold the exact result,
    so its own width never wraps. Pure combinational logic.
    """
    shape = acc_shape(acc)
    if acc.overflow is Overflow.WRAP:
        return value.as_unsigned()[: acc.bits].as_signed() if acc.signed else value[: acc.bits]
    hi = Const(acc.max, shape)
    lo = Const(acc.min, shape)
    return Mux(value > acc.max, hi, Mux(value < acc.min, lo, value[: acc.bits]))


def tree_sum(m: Module, values: list[Value], shape: Shape, name: str, *,
             keep: bool = False) -> Value:
    """Sum ``values`` with a balanced tree of adders (depth ceil(log2(n))), combinationally.

    ``shape`` must hold the exact sum; every level is a named signal of that shape
    (``{name}_s{level}_{index}``) so the Verilog reads well. Returns the root.
    ``keep`` marks the tree's nodes ``(* keep *)``: Yosys then maps every addition to its own
    adder (a carry chain on FPGAs) instead of merging the tree into one ``$macc`` compressor,
    which ``synth_ecp5`` builds from LUT full adders.
    """
    level = list(values)
    depth = 0
    while len(level) > 1:
        nxt = []
        for i in range(0, len(level) - 1, 2):
            node = Signal(shape, name=f"{name}_s{depth}_{i // 2}",
                          attrs={"keep": 1} if keep else {})
            m.d.comb += node.eq(level[i] + level[i + 1])
            nxt.append(node)
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
        depth += 1
    root = Signal(shape, name=name)
    m.d.comb += root.eq(level[0])
    return root
