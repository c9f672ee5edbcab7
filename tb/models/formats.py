"""Format arithmetic shared by the golden models: codes to values, range checks, wrap and
saturation, random operands.

The code -> value map is the format's own (``qtpe.hdl.formats.Format.values``); ``decode``
vectorises it, and ``Operand`` says how a GEMM operand matrix holds a format. Nothing else in
the models decodes codes.
"""

from __future__ import annotations

import functools

import numpy as np

from qtpe.hdl.formats import AccType, Format, Overflow

__all__ = [
    "fit", "check_operands", "corner_values", "random_operands", "value_table", "decode", "Operand",
]

_INT64_SAFE_BITS = 62  # values below 2^62 in magnitude stay int64 (sums of a few stay exact)


def fit(values, acc: AccType) -> np.ndarray:
    """Bring exact int64 values into the accumulator format, as the hardware does.

    ``WRAP``: keep the low ``acc.bits`` bits, read as two's complement if ``acc.signed``.
    ``SATURATE``: clamp to ``[acc.min, acc.max]``.
    """
    raw = np.asarray(values)
    if acc.bits > _INT64_SAFE_BITS or raw.dtype == object:  # wide: exact in Python integers
        return _fit_wide(raw, acc)
    v = raw.astype(np.int64)
    if acc.overflow is Overflow.SATURATE:
        return np.clip(v, acc.min, acc.max).astype(np.int64)
    mask = np.int64((1 << acc.bits) - 1)
    low = v & mask
    if acc.signed:
        sign = np.int64(1 << (acc.bits - 1))
        low = (low ^ sign) - sign
    return low.astype(np.int64)


def _fit_wide(values: np.ndarray, acc: AccType) -> np.ndarray:
    """``fit`` in Python integers (an object array, or int64 where the result fits)."""
    def one(x: int) -> int:
        x = int(x)
        if acc.overflow is Overflow.SATURATE:
            return min(max(x, acc.min), acc.max)
        low = x & ((1 << acc.bits) - 1)
        return low - (1 << acc.bits) if acc.signed and low >> (acc.bits - 1) else low
    out = np.array([one(x) for x in values.flat], dtype=object).reshape(values.shape)
    if acc.bits <= _INT64_SAFE_BITS:
        return out.astype(np.int64)
    return out


def check_operands(values, q: Format, role: str) -> np.ndarray:
    """Return ``values`` as int64, or raise ValueError naming the first value outside ``q``'s
    value range."""
    v = np.asarray(values, dtype=np.int64)
    bad = (v < q.min) | (v > q.max)
    if bad.any():
        first = int(v[bad].flat[0])
        raise ValueError(f"{role} value {first} is outside {q} (allowed {q.min}..{q.max})")
    return v


def corner_values(q: Format) -> list[int]:
    """The corner values of ``q``'s range: min, max, 0, -1, 1, min + 1, max - 1 (those in it)."""
    return sorted({q.min, q.max, 0, max(q.min, -1), min(q.max, 1), min(q.min + 1, q.max),
                   max(q.max - 1, q.min)})


def random_operands(rng: np.random.Generator, q: Format, size, corner_fraction=0.25) -> np.ndarray:
    """Uniform values of ``q``'s range with a share replaced by the corners (min, max, 0,
    -1/1)."""
    v = rng.integers(q.min, q.max, size=size, endpoint=True, dtype=np.int64)
    corners = np.array(sorted({q.min, q.max, 0, min(max(-1, q.min), q.max), min(1, q.max)}),
                       dtype=np.int64)
    pick = rng.random(size) < corner_fraction
    v[pick] = rng.choice(corners, size=int(pick.sum()))
    return v


@functools.cache
def value_table(fmt: Format) -> np.ndarray:
    """``fmt.values()`` as an array: int64 where every value fits, else Python integers (pot8
    reaches 2^127). Read-only."""
    wide = fmt.largest_magnitude.bit_length() > _INT64_SAFE_BITS
    table = np.array(fmt.values(), dtype=object if wide else np.int64)
    table.flags.writeable = False
    return table


def decode(fmt: Format, codes) -> np.ndarray:
    """The values of ``codes`` (bit patterns 0 .. 2^bits - 1), element by element; ValueError
    naming the first code outside that range."""
    c = np.asarray(codes, dtype=np.int64)
    bad = (c < 0) | (c >= fmt.code_count)
    if bad.any():
        raise ValueError(f"weight code {int(c[bad].flat[0])} is outside {fmt} codes "
                         f"(allowed 0..{fmt.code_count - 1})")
    return value_table(fmt)[c]


@functools.cache
def _code_of_value(fmt: Format) -> np.ndarray:
    """``table[v - fmt.min]``: the code the wires carry for grid value ``v``."""
    return np.array([fmt.code_of(v) for v in range(fmt.min, fmt.max + 1)], dtype=np.int64)


class Operand:
    """How a GEMM operand matrix holds a format, and how that maps to the wires.

    Integer grids (``operand_codes`` false: ``int<N>``, ``uint<N>``, ``ternary``) are given as
    their values; every other format as its codes ``0 .. 2^N - 1`` (layouts in
    ``qtpe.hdl.formats``). ``codes`` gives what the wires carry: the value itself where the
    format's wires are two's complement (``int<N>``), else the format's code (``ternary``
    -1, 0, +1 are codes 0, 1, 3).
    """

    def __init__(self, fmt: Format):
        self.fmt = fmt
        self.is_code = fmt.operand_codes
        if self.is_code:
            self.min, self.max = 0, fmt.code_count - 1
        else:
            self.min, self.max = fmt.min, fmt.max

    @property
    def what(self) -> str:
        """Names the operand in messages: ``pot4 codes``, ``int8``."""
        return f"{self.fmt} codes" if self.is_code else str(self.fmt)

    @property
    def largest_value(self) -> int:
        """The largest decoded magnitude."""
        return self.fmt.largest_magnitude

    def check(self, w, role: str = "weight") -> np.ndarray:
        """``w`` as int64, or ValueError naming the first operand outside ``min .. max`` (and,
        for a floating-point format, the first NaN or infinity code: GEMM operands are
        finite). Float values (a float array) are first mapped to their codes
        (``from_values``)."""
        w = np.asarray(w)
        if w.dtype.kind == "f":
            w = self.from_values(w, role)
        w = w.astype(np.int64)
        bad = (w < self.min) | (w > self.max)
        if bad.any():
            raise ValueError(f"{role} {'code' if self.is_code else 'value'} "
                             f"{int(w[bad].flat[0])} is outside {self.what} "
                             f"(allowed {self.min}..{self.max})")
        self.check_finite(w, role)
        return w

    def _special_codes(self) -> np.ndarray:
        """A mask over the codes: True where a code is NaN or an infinity (none for the
        integer formats)."""
        if not self.fmt.frac_bits:
            return np.zeros(self.max - self.min + 1, dtype=bool)
        return np.array([self.fmt.special(c) is not None for c in range(self.max + 1)])

    def check_finite(self, w, role: str = "weight") -> None:
        """ValueError naming the first NaN or infinity code in ``w`` (operands in range):
        the GEMMs and the golden models take finite operands only."""
        if not self.fmt.frac_bits:
            return
        w = np.asarray(w, dtype=np.int64)
        hit = self._special_codes()[w]
        if hit.any():
            where = tuple(int(i) for i in np.argwhere(hit)[0])
            code = int(w[where])
            raise ValueError(f"{role} code {code} at {list(where)} is "
                             f"{self.fmt.special(code).name} in {self.fmt} (GEMM operands "
                             f"are finite)")

    def from_values(self, x, role: str = "weight") -> np.ndarray:
        """The operands of float values ``x``: a float format's codes (every value must be
        exactly one of the format's; -0.0 is the negative zero code), an integer grid's
        integers; ValueError naming the first value that is not."""
        x = np.asarray(x, dtype=np.float64)
        table: dict[tuple[float, bool], int] = {}
        if self.is_code:
            for code in range(self.fmt.code_count):
                v = self.fmt.real(code)
                if np.isfinite(v):
                    table.setdefault((v, bool(np.signbit(v))), code)
        else:
            for v in range(self.fmt.min, self.fmt.max + 1):
                table.setdefault((float(v), False), v)
                table.setdefault((float(v), v == 0), v)
        out = np.zeros(x.shape, dtype=np.int64)
        for idx, v in np.ndenumerate(x):
            code = table.get((float(v), bool(np.signbit(v))))
            if code is None:
                where = tuple(int(i) for i in idx)
                raise ValueError(f"{role} value {float(v)!r} at {where} is not a value of "
                                 f"{self.fmt} (give values the format holds exactly, or its "
                                 f"codes)")
            out[idx] = code
        return out

    def values(self, w) -> np.ndarray:
        """The decoded integer values of operands ``w`` (int64; Python ints in an object array
        where a value does not fit in int64, as pot8's 2^127)."""
        w = np.asarray(w, dtype=np.int64)
        return decode(self.fmt, w) if self.is_code else w

    def decode(self, w, role: str = "weight") -> np.ndarray:
        """``values`` of operands checked against the range (``check``)."""
        return self.values(self.check(w, role))

    def codes(self, w) -> np.ndarray:
        """What the hardware's wires carry for operands ``w`` (int64)."""
        w = np.asarray(w, dtype=np.int64)
        if self.is_code or self.fmt.wire_signed:
            return w
        return _code_of_value(self.fmt)[w - self.fmt.min]

    def extremes(self) -> tuple[int, int]:
        """The operands of the most negative (smallest) and the largest value."""
        if not self.is_code:
            return self.fmt.min, self.fmt.max
        vals = list(self.fmt.values())
        return vals.index(min(vals)), vals.index(max(vals))

    def random(self, rng: np.random.Generator, size, corner_fraction=0.25) -> np.ndarray:
        """Uniform operands (every code, or every value) with a share of corners."""
        if not self.is_code:
            return random_operands(rng, self.fmt, size, corner_fraction)
        if self.fmt.frac_bits:  # a float format: finite codes only
            v = rng.choice(np.flatnonzero(~self._special_codes()), size=size).astype(np.int64)
        else:
            v = rng.integers(self.min, self.max, size=size, endpoint=True, dtype=np.int64)
        corners = np.array(sorted(set(self.extremes())), dtype=np.int64)
        pick = rng.random(size) < corner_fraction
        v[pick] = rng.choice(corners, size=int(pick.sum()))
        return v
