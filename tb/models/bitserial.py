"""Golden model of ``qtpe.hdl.pe_bitserial.BitSerialPE``, bit-exact, one call per accepted op.

It follows the hardware: weight codes are the low ``k`` bits of each lane's field, bit-planes
are walked MSB first (the sign plane of a signed grid subtracted), special-coded lanes are
left out of the planes and corrected with ``special * t`` (``-zero * sum(a)`` for the offset
type), group sums are exact, and only the accumulator wraps or saturates, at the same points.
Timing (cycles per op, result latency) comes from the config's properties.
"""

from __future__ import annotations

import numpy as np

from qtpe.hdl.formats import QType
from qtpe.hdl.kind_bitserial import BitSerialConfig, BitSerialDType

from .dequant import check_scales, scale_partial_sum
from .formats import check_operands, fit, random_operands
from .formats import decode as decode_codes

__all__ = [
    "BitSerialModel", "codes_of", "decode", "plane_dot", "bitserial_stream",
    "switching_precisions",
]


def _check_range(value, lo: int, hi: int, what: str) -> int:
    v = int(value)
    if not lo <= v <= hi:
        raise ValueError(f"{what} {v} is outside {lo}..{hi}")
    return v


def codes_of(cfg: BitSerialConfig, weight, k: int) -> np.ndarray:
    """The ``k``-bit codes the PE reads: the low ``k`` bits of each lane's weight field.

    A field may be given as its bit pattern (0 .. 2^W - 1) or as a signed value
    (-2^(W-1) .. -1, two's complement); upper bits are ignored by the PE.
    """
    W = cfg.weight.bits
    w = np.asarray(weight, dtype=np.int64)
    bad = (w < -(1 << (W - 1))) | (w >= (1 << W))
    if bad.any():
        raise ValueError(f"weight field {int(w[bad].flat[0])} does not fit {W} bits")
    return w & np.int64((1 << k) - 1)


def _special_mask(cfg: BitSerialConfig, codes: np.ndarray, k: int) -> np.ndarray:
    if cfg.dtype is BitSerialDType.SPECIAL:
        return codes == (1 << (k - 1))
    return np.zeros(codes.shape, dtype=bool)


def decode(cfg: BitSerialConfig, weight, k: int, special: int = 0, zero: int = 0) -> np.ndarray:
    """The weight values an op at precision ``k`` means (the reference the planes must meet)."""
    c = codes_of(cfg, weight, k)
    if cfg.dtype is BitSerialDType.OFFSET:
        return c - np.int64(zero)
    v = decode_codes(QType(k, cfg.weight.signed), c)  # the op's int<k> / uint<k> grid
    if cfg.dtype is BitSerialDType.SPECIAL:
        v = np.where(_special_mask(cfg, c, k), np.int64(special), v)
    return v.astype(np.int64)


def plane_dot(cfg: BitSerialConfig, codes, act, k: int) -> np.int64:
    """``sum_i c_i * a_i`` walked as the PE does: bit-planes MSB first, Horner.

    ``psum = +-P(k-1)`` (minus for a signed grid: the sign plane), then
    ``psum = 2*psum + P(j)`` for ``j = k-2 .. 0``, with ``P(j) = sum_i bit_j(c_i) * a_i``.
    """
    c = np.asarray(codes, dtype=np.int64)
    a = np.asarray(act, dtype=np.int64)
    psum = np.int64(0)
    for j in range(k - 1, -1, -1):
        p = np.sum(((c >> j) & 1) * a, dtype=np.int64)
        if j == k - 1:
            psum = -p if cfg.weight.signed else p
        else:
            psum = 2 * psum + p
    return np.int64(psum)


class BitSerialModel:
    """The PE's architectural state: accumulator, group counter, group registers.

    ``op(...)`` models one accepted op and returns the accumulator value the PE shows for it
    (``None`` when the op does not end a group). ``reset()`` is the synchronous reset.
    ``last_sum``: the exact sum the last op gave the accumulator before wrapping or
    saturating it (``None`` when it did not add); the testbench's coverage reads it.
    """

    def __init__(self, cfg: BitSerialConfig):
        self.cfg = cfg
        self.reset()

    def reset(self) -> None:
        self.acc = np.int64(0)
        self.gcount = 0
        self.gsum = np.int64(0)
        self.scale_g = 0
        self.param_g = 0
        self.clear_g = False
        self.last_sum = None

    def step(self, valid: bool, clear: bool, weight, act, wbits: int, scale: int = 0,
             special: int = 0, zero: int = 0) -> int | None:
        """The PE's ports for one offered op: ``op`` if it is accepted (``valid``; ``clear``
        acts only with an op)."""
        if not valid:
            return None
        out = self.op(weight, act, wbits, clear, scale, special, zero)
        return None if out is None else int(out)

    def latency_of(self, wbits: int, **_) -> int:
        """Cycles from an op's acceptance to its result (``result_latency``)."""
        return self.cfg.result_latency(int(wbits))

    def cycles_of(self, wbits: int, **_) -> int:
        """Cycles an op occupies the PE (``cycles_per_op``)."""
        return self.cfg.cycles_per_op(int(wbits))

    @staticmethod
    def random_inputs(cfg: BitSerialConfig, rng: np.random.Generator, n: int) -> dict:
        """Random ops: fields with random bits above the precision, a fifth of the lanes the
        most-negative (special) code, any ``wbits`` (0 and above the maximum run at the
        maximum), random group values."""
        W = cfg.weight.bits
        ports = {
            "weight": rng.integers(0, 1 << W, (n, cfg.lanes)),
            "act": random_operands(rng, cfg.activation, (n, cfg.lanes)),
            "wbits": rng.integers(0, 1 << cfg.wbits_bits, n),
        }
        k = np.where((ports["wbits"] >= 1) & (ports["wbits"] <= W), ports["wbits"], W)
        sign_code = (1 << (k[:, None] - 1)) | (ports["weight"] & ~((1 << k[:, None]) - 1))
        pick = rng.random((n, cfg.lanes)) < 0.2
        ports["weight"] = np.where(pick, sign_code, ports["weight"])
        if cfg.group is not None:
            ports["scale"] = rng.integers(0, 1 << cfg.scale_bits, n)
        if cfg.dtype is BitSerialDType.SPECIAL:
            ports["special"] = rng.integers(-(1 << (cfg.special_bits - 1)),
                                            1 << (cfg.special_bits - 1), n)
        elif cfg.dtype is BitSerialDType.OFFSET:
            ports["zero"] = rng.integers(0, 1 << cfg.special_bits, n)
        return ports

    def op(self, weight, act, wbits: int, clear: bool = False, scale: int = 0,
           special: int = 0, zero: int = 0) -> np.int64 | None:
        """One accepted op: ``lanes`` weight fields and activations at precision ``wbits``.

        ``scale``, ``special`` and ``zero`` are read only on a group's first op, as in the
        hardware.
        """
        cfg = self.cfg
        _check_range(wbits, 0, (1 << cfg.wbits_bits) - 1, "wbits")
        k = cfg.effective_wbits(int(wbits))
        a = check_operands(np.asarray(act, dtype=np.int64).reshape(cfg.lanes), cfg.activation,
                           "activation")
        c = codes_of(cfg, np.asarray(weight).reshape(cfg.lanes), k)
        sp = _special_mask(cfg, c, k)
        dot = plane_dot(cfg, np.where(sp, 0, c), a, k)
        self.last_sum = None

        group = cfg.group
        if group is None:
            base = np.int64(0) if clear else self.acc
            self.last_sum = int(base + dot)
            self.acc = fit(self.last_sum, cfg.acc)[()]
            return self.acc

        index = 0 if clear else self.gcount
        first, last = index == 0, index == cfg.group_steps - 1
        self.gcount = 0 if last else index + 1
        if first:
            self.scale_g = int(check_scales(scale, group))
            self.clear_g = bool(clear)
            if cfg.dtype is BitSerialDType.SPECIAL:
                self.param_g = _check_range(special, -(1 << (cfg.special_bits - 1)),
                                            (1 << (cfg.special_bits - 1)) - 1, "special value")
            elif cfg.dtype is BitSerialDType.OFFSET:
                self.param_g = _check_range(zero, 0, (1 << cfg.special_bits) - 1, "zero point")
        if cfg.dtype is BitSerialDType.SPECIAL:
            dot = dot + np.int64(self.param_g) * np.sum(np.where(sp, a, 0), dtype=np.int64)
        elif cfg.dtype is BitSerialDType.OFFSET:
            dot = dot - np.int64(self.param_g) * np.sum(a, dtype=np.int64)
        self.gsum = (np.int64(0) if first else self.gsum) + dot
        if not last:
            return None
        scaled = scale_partial_sum(self.gsum, self.scale_g, group)[()]
        base = np.int64(0) if self.clear_g else self.acc
        self.last_sum = int(base + scaled)
        self.acc = fit(self.last_sum, cfg.acc)[()]
        return self.acc


def bitserial_stream(cfg: BitSerialConfig, weight, act, wbits, clear=None, scale=None,
                     special=None, zero=None) -> np.ndarray:
    """Outputs for a sequence of n accepted ops from reset, in order.

    ``weight``/``act``: (n, lanes); ``wbits``: (n,); the optional per-op arrays default to
    zeros (``clear``: False).
    """
    w = np.asarray(weight, dtype=np.int64).reshape(len(wbits), cfg.lanes)
    a = np.asarray(act, dtype=np.int64).reshape(len(wbits), cfg.lanes)
    n = len(wbits)
    zeros = np.zeros(n, dtype=np.int64)
    clear = np.zeros(n, dtype=bool) if clear is None else np.asarray(clear, dtype=bool)
    scale = zeros if scale is None else scale
    special = zeros if special is None else special
    zero = zeros if zero is None else zero
    model = BitSerialModel(cfg)
    outs = [model.op(w[i], a[i], int(wbits[i]), bool(clear[i]), int(scale[i]),
                     int(special[i]), int(zero[i])) for i in range(n)]
    return np.array([o for o in outs if o is not None], dtype=np.int64)


def switching_precisions(rng: np.random.Generator, n: int, max_bits: int) -> np.ndarray:
    """n precisions in 1..``max_bits``, each different from the one before (when max > 1)."""
    if max_bits == 1:
        return np.ones(n, dtype=np.int64)
    steps = rng.integers(1, max_bits, n)  # a non-zero step modulo max_bits
    steps[0] = rng.integers(0, max_bits)
    return np.cumsum(steps) % max_bits + 1
