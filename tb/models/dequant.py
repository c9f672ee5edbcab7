"""Golden model of per-group dequantization (``qtpe.hdl.dequant``)."""

import numpy as np

from qtpe.hdl.formats import GroupScale, ScaleKind

__all__ = ["check_scales", "scale_partial_sum"]


def check_scales(scales, group: GroupScale) -> np.ndarray:
    """Return ``scales`` as int64, or raise ValueError naming the first out-of-range value."""
    v = np.asarray(scales, dtype=np.int64)
    bad = (v < 0) | (v > group.max_scale)
    if bad.any():
        what = "scale" if group.kind is ScaleKind.INT else "scale exponent"
        raise ValueError(f"{what} {int(v[bad].flat[0])} is outside 0..{group.max_scale} "
                         f"({group.bits}-bit {group.kind.value})")
    return v


def scale_partial_sum(psum, scale, group: GroupScale) -> np.ndarray:
    """``psum * scale`` for ``INT``, ``psum * 2**scale`` for ``POT``; exact int64."""
    p = np.asarray(psum, dtype=np.int64)
    s = check_scales(scale, group)
    if group.kind is ScaleKind.INT:
        return p * s
    return p << s
