"""What a PE computes, said in plain integers: the decoded operands of its current input.

Every PE kind computes, per accumulator, ``acc = fit((clear ? 0 : acc) + sum_i w_i * a_i)``
over the *decoded* values of its inputs (a pot code's ``+-2^e``, a ``sym`` code's odd value,
``q - zp`` of a zero-pointed weight, ...). ``Reference`` names those values as Amaranth
expressions of the component's own input ports, one per lane, and the accumulator port they
end up in; ``qtpe.hdl.miter`` feeds them to a MAC PE and proves that the two agree.

A kind says how its codes decode by overriding ``reference()`` on its top-level component
(``PEComponent.reference`` decodes ``weight`` and ``act`` with their formats, which is right
for every kind whose ports are one weight code and one activation per lane).
"""

from __future__ import annotations

from dataclasses import dataclass

from amaranth.hdl import Const, Mux, Value, signed, unsigned

from .formats import Format

__all__ = ["Reference", "decode", "value_shape"]


def value_shape(lo: int, hi: int):
    """The narrowest shape holding every integer from ``lo`` to ``hi``."""
    if lo >= 0:
        return unsigned(max(hi.bit_length(), 1))
    return signed(max(max(hi, -lo - 1).bit_length() + 1, 2))


def decode(fmt: Format, code: Value) -> Value:
    """The value of the ``fmt`` code on ``code``: the wire itself where it carries the value
    (``int<N>``, ``uint<N>``), else the format's value table as a chain of multiplexers (not
    an ``Array``: Yosys would make that a ROM, whose contents a proof's induction step treats
    as free state)."""
    if fmt.wire_signed:
        return Value.cast(code).as_signed()
    values = fmt.values()
    if values == tuple(range(fmt.code_count)):
        return Value.cast(code).as_unsigned()
    shape = value_shape(min(values), max(values))
    code = Value.cast(code).as_unsigned()
    value = Const(values[0], shape)
    for c, v in enumerate(values[1:], 1):
        value = Mux(code == c, Const(v, shape), value)
    return value


@dataclass(frozen=True)
class Reference:
    """One accumulator of a PE and the decoded operands that feed it in the current cycle.

    ``weights`` and ``acts`` (one per lane, Amaranth values of the component's ports) are
    what a MAC PE multiplies; ``acc`` is the component's accumulator output they accumulate
    into. A PE that accepts an input only with ``in_ready`` is read at acceptance.
    """

    weights: tuple[Value, ...]
    acts: tuple[Value, ...]
    acc: Value

    def __post_init__(self):
        if len(self.weights) != len(self.acts) or not self.weights:
            raise ValueError(f"a reference needs as many weights as activations (at least "
                             f"one), not {len(self.weights)} and {len(self.acts)}")
