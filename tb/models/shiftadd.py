"""Golden model of ``qtpe.hdl.pe_shiftadd.ShiftAddPE``; weight encoders and their error report.

* Weight operands (codes of ``pot<N>``/``potz<N>``/``apot<N>``, values of ``int<N>``) decode
  with ``qtpe.tb.models.formats.Operand`` (the format's own value table).
* ``ShiftAddModel`` / ``shiftadd_stream``: the PE, cycle-accurate in its outputs, bit-exact
  (groups, wrap and saturation). The PE state is kept in Python integers: ``pot7``, ``pot8``
  and ``potz8`` weights decode beyond int64 (up to 2^127), which numpy cannot hold.
* ``encode``: real-valued weights (in units of the decoded integer) -> codes. Every encoding
  rounds the magnitude to the nearest level by thresholds, and a magnitude exactly on a
  threshold goes to the larger level (ties away from zero):

  - ``int<N>``/``uint<N>``: thresholds at ``k + 1/2`` (round half away from zero), then
    clipped to ``[min, max]`` (negative values become 0 for ``uint<N>``).
  - ``pot<N>``/``potz<N>``: nearest in the log domain, thresholds at ``2^(k + 1/2)`` (the
    float64 ``np.exp2(k + 0.5)``) between exponents ``k`` and ``k + 1``; magnitudes above the
    largest level clip to it. ``pot<N>`` is zero-free: magnitudes below ``2^(1/2)``, zero
    included, become ``2^0`` (with sign ``+`` for ``x >= 0``). ``potz<N>`` flushes exponents
    below 0 to its zero code: ``|x| < 2^(-1/2)`` encodes as 0.
  - ``apot<N>``: nearest representable value, thresholds at the midpoints of consecutive
    magnitudes.

  Zero and ``-0.0`` encode with sign bit 0.
* ``mse_report``: each encoding's quantization MSE on a Gaussian sample relative to
  round-to-nearest ``int<N>`` of the same width (``python -m qtpe.tb.models.shiftadd``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from qtpe.hdl.formats import Overflow, PotEncoding, PotType, QType, ScaleKind
from qtpe.hdl.kind_shiftadd import ShiftAddConfig

from .dequant import check_scales
from .formats import Operand, check_operands, fit, random_operands

__all__ = [
    "code_of", "encode", "quantize", "ShiftAddModel", "shiftadd_stream", "MseRow", "mse_report",
    "format_mse_report",
]


def code_of(fmt: QType | PotType, sign: np.ndarray, field: np.ndarray) -> np.ndarray:
    """A ``PotType`` code from its sign bit and magnitude field."""
    return (np.asarray(sign, dtype=np.int64) << fmt.field_bits) | np.asarray(field, np.int64)


def _levels(fmt: PotType) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct magnitudes (ascending, float64), the field that gives each, and thresholds."""
    fields = np.arange(1 << fmt.field_bits, dtype=np.int64)
    mags = np.array([float(fmt.magnitude(int(f))) for f in fields])
    order = np.argsort(mags, kind="stable")
    mags, fields = mags[order], fields[order]
    if fmt.encoding is PotEncoding.APOT:
        thresholds = (mags[:-1] + mags[1:]) / 2
    else:
        exps = np.log2(mags[mags > 0]).round().astype(np.int64)
        thresholds = np.exp2(exps[:-1] + 0.5)
        if fmt.encoding is PotEncoding.POTZ:
            thresholds = np.concatenate([[np.exp2(-0.5)], thresholds])
    return mags, fields, thresholds


def encode(fmt: QType | PotType, x) -> np.ndarray:
    """Codes of the levels nearest to real values ``x`` (tie and clipping rules: module doc).

    ``x`` is in units of the decoded integer (divide by the tensor's scale first).
    """
    x = np.asarray(x, dtype=np.float64)
    if not np.isfinite(x).all():
        raise ValueError("weights to encode must be finite")
    if isinstance(fmt, QType):
        q = np.sign(x) * np.floor(np.abs(x) + 0.5)
        return np.clip(q, fmt.min, fmt.max).astype(np.int64)
    _, fields, thresholds = _levels(fmt)
    level = np.searchsorted(thresholds, np.abs(x), side="right")
    field = fields[level]
    sign = (x < 0) & (field != 0 if fmt.encoding is not PotEncoding.POT else True)
    return code_of(fmt, sign, field)


def quantize(fmt: QType | PotType, x, scale: float) -> np.ndarray:
    """``decode(encode(x / scale)) * scale`` as float64."""
    codes = encode(fmt, np.asarray(x) / scale)
    return Operand(fmt).values(codes).astype(np.float64) * scale


# -- the PE --------------------------------------------------------------------------------
def _fit(value: int, cfg: ShiftAddConfig) -> int:
    """``fit`` for an exact Python integer of any size (reduced first, same result)."""
    acc = cfg.acc
    if acc.overflow is Overflow.SATURATE:
        value = max(min(value, acc.max), acc.min)
    else:
        value &= (1 << acc.bits) - 1
    return int(fit(np.int64(value), acc))


class ShiftAddModel:
    """Cycle-by-cycle state of the PE: accumulator, group partial sum and group count.

    ``last_sum``: the exact sum the last ``step`` gave the accumulator before wrapping or
    saturating it (``None`` when the step did not add); the testbench's coverage reads it.
    """

    def __init__(self, cfg: ShiftAddConfig):
        self.cfg = cfg
        self.reset()

    def reset(self) -> None:
        self.acc = 0
        self.psum = 0
        self.count = 0
        self.last_sum = None

    def dot(self, codes, act) -> int:
        """The exact decoded-integer dot product of one input (``lanes`` codes, activations)."""
        w = Operand(self.cfg.weight).decode(np.reshape(codes, -1))
        a = check_operands(np.reshape(act, -1), self.cfg.activation, "activation")
        if w.shape != a.shape or w.size != self.cfg.lanes:
            raise ValueError(f"weight and act must hold {self.cfg.lanes} values each")
        return sum(int(x) * int(y) for x, y in zip(w, a, strict=True))

    def _scaled(self, psum: int, scale: int) -> int:
        """``qtpe.tb.models.dequant.scale_partial_sum`` in exact Python integers."""
        group = self.cfg.group
        s = int(check_scales(scale, group))
        return psum * s if group.kind is ScaleKind.INT else psum << s

    def step(self, valid: bool, clear: bool, weight, act, scale: int = 0) -> int | None:
        """Advance one input cycle (the PE's ports: ``weight`` codes, ``act``, ``scale``);
        return the new ``acc`` if ``out_valid`` will show it."""
        self.last_sum = None
        if not valid:
            if clear:
                self.reset()
            return None
        d = self.dot(weight, act)
        base = 0 if clear else self.acc
        if self.cfg.group is None:
            self.last_sum = base + d
            self.acc = _fit(self.last_sum, self.cfg)
            return self.acc
        psum = (0 if clear else self.psum) + d
        count = 0 if clear else self.count
        if count == self.cfg.group_steps - 1:
            self.last_sum = base + self._scaled(psum, scale)
            self.acc = _fit(self.last_sum, self.cfg)
            self.psum, self.count = 0, 0
            return self.acc
        self.acc, self.psum, self.count = base, psum, count + 1
        return None

    @staticmethod
    def random_inputs(cfg: ShiftAddConfig, rng: np.random.Generator, n: int) -> dict:
        """Random port values for ``n`` cycles: every code (or value), a quarter of the
        activations corners, random scales with groups."""
        ports = {"weight": Operand(cfg.weight).random(rng, (n, cfg.lanes), 0.0),
                 "act": random_operands(rng, cfg.activation, (n, cfg.lanes))}
        if cfg.group is not None:
            ports["scale"] = rng.integers(0, 1 << cfg.scale_bits, n)
        return ports


def shiftadd_stream(cfg: ShiftAddConfig, codes, act, valid, clear, scale=None) -> list[int]:
    """``acc`` values the PE shows on ``out_valid``, in order, starting from reset.

    Per cycle: ``valid``/``clear`` booleans of length n, ``codes``/``act`` of shape
    (n, lanes), ``scale`` (n,) (ignored without groups). Operands on cycles without ``valid``
    are ignored.
    """
    n = len(valid)
    codes = np.asarray(codes, dtype=np.int64).reshape(n, cfg.lanes)
    act = np.asarray(act, dtype=np.int64).reshape(n, cfg.lanes)
    scale = np.zeros(n, dtype=np.int64) if scale is None else np.asarray(scale, dtype=np.int64)
    model = ShiftAddModel(cfg)
    outs = [model.step(bool(v), bool(c), w, a, int(s))
            for v, c, w, a, s in zip(valid, clear, codes, act, scale, strict=True)]
    return [o for o in outs if o is not None]


# -- quantization error of the encoders ------------------------------------------------------
MSE_SAMPLES = 1 << 15
MSE_SEED = 0
SCALE_STEPS = 8  # scale grid points per octave
SCALE_OCTAVES_MAX = 16  # the grid reaches max|x| / 2^(min(log2 largest level, 16) + 3)


@dataclass(frozen=True)
class MseRow:
    """One weight format's quantization error on the Gaussian sample.

    ``mse_maxabs``: per-tensor scale ``max|x| / largest level`` (the largest level takes the
    largest weight; ``int<N>`` uses its positive maximum 2^(N-1)-1). ``mse_best``: the
    smallest MSE over the max-abs scale and the grid ``max|x| * 2^(-k/8)``, k = 0 ..
    8 * (min(log2(largest level), 16) + 3) (from "the largest weight is level 1" to 3 octaves
    of clipping). ``*_ratio``: relative to ``int<N>`` of the same width, same scale rule.
    """

    fmt: str
    bits: int
    levels: int
    mse_maxabs: float
    mse_best: float
    ratio_maxabs: float
    ratio_best: float


def _mse(fmt, x: np.ndarray) -> tuple[float, float]:
    top = float(np.abs(x).max())

    def err(scale: float) -> float:
        return float(np.mean((x - quantize(fmt, x, scale)) ** 2))

    octaves = min(math.log2(fmt.max), SCALE_OCTAVES_MAX) + 3
    grid = [err(top * 2.0 ** (-k / SCALE_STEPS)) for k in range(int(octaves * SCALE_STEPS) + 1)]
    maxabs = err(top / fmt.max)
    return maxabs, min(maxabs, *grid)


def mse_report(bits=range(2, 9), samples: int = MSE_SAMPLES, seed: int = MSE_SEED
               ) -> list[MseRow]:
    """MSE of ``int<N>``, ``pot<N>``, ``potz<N>``, ``apot<N>`` on ``samples`` N(0, 1) weights.

    Deterministic for a given ``seed`` (numpy ``default_rng``).
    """
    x = np.random.default_rng(seed).standard_normal(samples)
    rows = []
    for b in bits:
        ref = _mse(QType(b), x)
        for fmt in (QType(b), *(PotType(b, e) for e in PotEncoding)):
            mse = ref if isinstance(fmt, QType) else _mse(fmt, x)
            levels = len(set(fmt.values())) if isinstance(fmt, PotType) else 1 << b
            rows.append(MseRow(str(fmt), b, levels, mse[0], mse[1], mse[0] / ref[0],
                               mse[1] / ref[1]))
    return rows


def format_mse_report(rows: list[MseRow]) -> str:
    lines = [
        f"Quantization MSE on {MSE_SAMPLES} N(0,1) weights (seed {MSE_SEED}), relative to "
        f"round-to-nearest int<N> of the same width",
        "",
        "| format | levels | MSE, max-abs scale | / int<N> | MSE, best scale | / int<N> |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    lines += [f"| {r.fmt} | {r.levels} | {r.mse_maxabs:.3g} | {r.ratio_maxabs:.2f} "
              f"| {r.mse_best:.3g} | {r.ratio_best:.2f} |" for r in rows]
    return "\n".join(lines)


if __name__ == "__main__":
    print(format_mse_report(mse_report()))
