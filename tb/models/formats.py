"""Integer format arithmetic shared by the golden models: range checks, wrap and saturation."""

import numpy as np

from qtpe.hdl.formats import AccType, Overflow, PlaneEncoding, PlaneType, PotType, QType

__all__ = [
    "fit", "check_operands", "random_operands", "WeightOperand",
]


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


class WeightOperand:
    """How a GEMM's weight matrix holds a weight format, and how that maps to the wires.

    Integer grids (``int<N>``, ``uint<N>``, ``ternary``) are given as their integer values;
    the formats that are not an integer grid (``pot<N>``/``potz<N>``/``apot<N>``, ``sym<N>``)
    as their codes ``0 .. 2^N - 1`` (layouts in ``qtpe.hdl.formats``). ``ternary`` values
    -1, 0, +1 go on the wires as codes 0, 1, 3.
    """

    def __init__(self, fmt: QType | PotType | PlaneType):
        self.fmt = fmt
        self.is_code = isinstance(fmt, PotType) or (
            isinstance(fmt, PlaneType) and fmt.encoding is PlaneEncoding.SYM)
        if self.is_code:
            self.min, self.max = 0, (1 << fmt.bits) - 1
        else:
            self.min, self.max = fmt.min, fmt.max
        self._values = fmt.values() if self.is_code else None

    @property
    def what(self) -> str:
        """Names the operand in messages: ``pot4 codes``, ``int8``."""
        return f"{self.fmt} codes" if self.is_code else str(self.fmt)

    @property
    def largest_value(self) -> int:
        """The largest decoded magnitude."""
        return max(-self.fmt.min, self.fmt.max)

    def values(self, w) -> np.ndarray:
        """The decoded integer values of operands ``w`` (int64; Python ints in an object array
        where a value does not fit in int64, as pot8's 2^127)."""
        w = np.asarray(w, dtype=np.int64)
        if not self.is_code:
            return w
        fits = self.largest_value < (1 << 62)
        table = np.array(self._values, dtype=np.int64 if fits else object)
        return table[w]

    def codes(self, w) -> np.ndarray:
        """What the hardware's weight wires carry for operands ``w`` (int64)."""
        w = np.asarray(w, dtype=np.int64)
        if isinstance(self.fmt, PlaneType) and not self.is_code:  # ternary -1, 0, 1 -> 0, 1, 3
            return np.array([0, 1, 3], dtype=np.int64)[w + 1]
        return w

    def extremes(self) -> tuple[int, int]:
        """The operands of the most negative (smallest) and the largest value."""
        if not self.is_code:
            return self.fmt.min, self.fmt.max
        vals = list(self._values)
        return vals.index(min(vals)), vals.index(max(vals))

    def random(self, rng: np.random.Generator, size, corner_fraction=0.25) -> np.ndarray:
        """Uniform operands (every code, or every value) with a share of corners."""
        if not self.is_code:
            return random_operands(rng, self.fmt, size, corner_fraction)
        v = rng.integers(self.min, self.max, size=size, endpoint=True, dtype=np.int64)
        corners = np.array(sorted(set(self.extremes())), dtype=np.int64)
        pick = rng.random(size) < corner_fraction
        v[pick] = rng.choice(corners, size=int(pick.sum()))
        return v
