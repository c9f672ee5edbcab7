"""Integer format arithmetic shared by the golden models: range checks, wrap and saturation."""

import numpy as np

from qtpe.hdl.formats import AccType, Overflow, QType

__all__ = ["fit", "check_operands", "random_operands"]


def fit(values, acc: AccType) -> np.ndarray:
    """Bring exact int64 values into the accumulator format, as the hardware does.

    ``WRAP``: keep the low ``acc.bits`` bits, read as two's complement if ``acc.signed``.
    ``SATURATE``: clamp to ``[acc.min, acc.max]``.
    """
    v = np.asarray(values, dtype=np.int64)
    if acc.overflow is Overflow.SATURATE:
        return np.clip(v, acc.min, acc.max).astype(np.int64)
    mask = np.int64((1 << acc.bits) - 1)
    low = v & mask
    if acc.signed:
        sign = np.int64(1 << (acc.bits - 1))
        low = (low ^ sign) - sign
    return low.astype(np.int64)


def check_operands(values, q: QType, role: str) -> np.ndarray:
    """Return ``values`` as int64, or raise ValueError naming the first value outside ``q``."""
    v = np.asarray(values, dtype=np.int64)
    bad = (v < q.min) | (v > q.max)
    if bad.any():
        first = int(v[bad].flat[0])
        raise ValueError(f"{role} value {first} is outside {q} (allowed {q.min}..{q.max})")
    return v


def random_operands(rng: np.random.Generator, q: QType, size, corner_fraction=0.25) -> np.ndarray:
    """Uniform values of ``q`` with a share replaced by the corners (min, max, 0, -1/1)."""
    v = rng.integers(q.min, q.max, size=size, endpoint=True, dtype=np.int64)
    corners = np.array(sorted({q.min, q.max, 0, min(max(-1, q.min), q.max), min(1, q.max)}),
                       dtype=np.int64)
    pick = rng.random(size) < corner_fraction
    v[pick] = rng.choice(corners, size=int(pick.sum()))
    return v
