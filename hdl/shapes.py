"""Amaranth shapes and overflow handling for the records in ``qtpe.hdl.formats``."""

from amaranth.hdl import Const, Mux, Shape, Value, signed, unsigned

from .formats import AccType, Overflow, QType

__all__ = ["operand_shape", "acc_shape", "fit_to_acc"]


def operand_shape(q: QType) -> Shape:
    return signed(q.bits) if q.signed else unsigned(q.bits)


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
