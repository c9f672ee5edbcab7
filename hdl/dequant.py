"""Per-group dequantization: scaling a group's exact partial sum by the group's scale.

Shared by every PE kind with a ``GroupScaled`` config; the golden model is
``qtpe.tb.models.dequant.scale_partial_sum``.
"""

from amaranth.hdl import Shape, Value, signed

from .formats import GroupScale, ScaleKind

__all__ = ["scale_port_shape", "scaled_shape", "scale_partial_sum"]


def scale_port_shape(group: GroupScale) -> Shape:
    """The scale input: an unsigned integer scale, or an unsigned exponent for ``POT``."""
    return Shape(group.bits, signed=False)


def scaled_shape(psum_width: int, group: GroupScale) -> Shape:
    """A signed shape that holds ``psum * scale`` exactly for a signed ``psum_width``-bit sum."""
    return signed(psum_width + group.growth_bits + 1)


def scale_partial_sum(psum: Value, scale: Value, group: GroupScale) -> Value:
    """``psum * scale`` (``INT``) or ``psum << scale`` (``POT``), exact and combinational.

    ``psum`` may be signed or unsigned; the result is signed and fits ``scaled_shape``.
    """
    psum = psum.as_signed() if psum.shape().signed else psum
    if group.kind is ScaleKind.INT:
        return psum * scale
    return psum << scale
