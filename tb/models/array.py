"""Golden model of ``qtpe.hdl.array.SystolicArray`` and the tiling of a GEMM onto it.

``gemm(cfg, A, W)`` is the bit-exact result ``C = A @ W`` as the array computes it:

* **OS**: every output accumulates its reduction in beats of ``lanes`` products, in ascending
  ``k``; each beat adds the exact dot product of its ``lanes`` pairs and wraps or saturates to
  the accumulator (as ``MacPE``). With ``lanes = 1`` that is one product per step.
* **WS**: the reduction is cut into tiles of ``rows * lanes`` (zero padded at the end); each
  tile's partial sum is exact and is added to the accumulator, which wraps or saturates.
* With wrapping both equal ``A @ W`` wrapped once; with saturation they differ from
  ``clip(A @ W)`` only where a partial sum leaves the range.
* Weights are given as ``qtpe.tb.models.formats.WeightOperand`` says: integer values for
  ``int<N>``/``uint<N>``/``ternary``, codes for ``pot``/``potz``/``apot``/``sym`` formats.
* Requantization (``cfg.requant``): ``clip(floor((x * scale + r) / 2^shift), -128, 127)``,
  ``r = 2^(shift-1)`` (0 for shift 0), per output column ``n`` (``scale[n]``, ``shift[n]``).

``schedule(cfg, A, W)`` lays a GEMM out as the array's input beats (the protocol in
``qtpe.hdl.array``) and says where each result row goes; ``pack_beats``/``unpack_rows``
convert to and from the harness memory words (hex lines for ``$readmemh``/``$writememh``).
Pure numpy; no cocotb, no Amaranth.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qtpe.hdl.array_config import ArrayConfig, Dataflow

from .formats import WeightOperand, fit, random_operands

__all__ = [
    "GemmOperandError", "check_gemm", "gemm", "requantize", "Schedule", "schedule",
    "BeatLayout", "beat_layout", "pack_beats", "pack_requant", "unpack_rows", "ceil_div",
    "expected_cycles", "random_gemm", "BEATS_FILE", "RQ_FILE", "RESULTS_FILE",
]

# Files the simulation harness (``qtpe.gen.harness``) reads and writes in its working folder.
BEATS_FILE = "gemm_beats.hex"
RQ_FILE = "gemm_rq.hex"
RESULTS_FILE = "gemm_results.hex"


class GemmOperandError(ValueError):
    """The operands do not fit the array's formats or do not chain; one-line message."""


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _check_matrix(x, name: str, dims: str) -> np.ndarray:
    x = np.asarray(x)
    if x.dtype == object or not np.issubdtype(x.dtype, np.integer) or x.ndim != 2:
        raise GemmOperandError(f"{name} must be a 2-D integer array ({dims}), not "
                               f"{x.dtype} of shape {x.shape}")
    if 0 in x.shape:
        raise GemmOperandError(f"{name} must not be empty, not of shape {x.shape}")
    return x


def _check_range(x: np.ndarray, lo: int, hi: int, name: str, what: str) -> np.ndarray:
    """``x`` as int64, or raise naming the first value outside ``lo..hi``."""
    if x.dtype.kind == "u" and x.dtype.itemsize == 8:
        big = x > np.iinfo(np.int64).max
        if big.any():
            bad = np.argwhere(big)[0]
            raise GemmOperandError(f"{name} value {int(x[tuple(bad)])} at "
                                   f"{list(map(int, bad))} is outside {what} "
                                   f"(allowed {lo}..{hi})")
    v = x.astype(np.int64)
    out = (v < lo) | (v > hi)
    if out.any():
        bad = np.argwhere(out)[0]
        raise GemmOperandError(f"{name} value {int(v[tuple(bad)])} at {list(map(int, bad))} "
                               f"is outside {what} (allowed {lo}..{hi})")
    return v


def check_gemm(cfg: ArrayConfig, A, W, scale=None, shift=None):
    """Validate the operands; return ``(A, W, scale, shift)`` as int64 (scales ``None``
    without requantization). Raise ``GemmOperandError`` naming the first problem."""
    A = _check_matrix(A, "A (activations)", "M x K")
    W = _check_matrix(W, "W (weights)", "K x N")
    if A.shape[1] != W.shape[0]:
        raise GemmOperandError(f"A is {A.shape[0]} x {A.shape[1]} but W is {W.shape[0]} x "
                               f"{W.shape[1]}: the reduction sizes K differ")
    A = _check_range(A, cfg.activation.min, cfg.activation.max, "A (activations)",
                     str(cfg.activation))
    wop = WeightOperand(cfg.weight)
    W = _check_range(W, wop.min, wop.max, "W (weights)", wop.what)
    rq = cfg.requantizer
    if rq is None:
        if scale is not None or shift is not None:
            raise GemmOperandError("scale and shift need an array with requant = true")
        return A, W, None, None
    n = W.shape[1]
    out = []
    for name, v, hi in (("scale", scale, rq.max_scale), ("shift", shift, rq.max_shift)):
        if v is None:
            raise GemmOperandError(f"requant = true needs a {name} per output column ({n})")
        v = np.asarray(v)
        if v.ndim == 0:
            v = np.full(n, v)
        if v.dtype == object or not np.issubdtype(v.dtype, np.integer) or v.shape != (n,):
            raise GemmOperandError(f"{name} must be an integer vector of N = {n} values, not "
                                   f"{v.dtype} of shape {v.shape}")
        out.append(_check_range(v, 0, hi, name, f"the {name} range"))
    return A, W, out[0], out[1]


def random_gemm(cfg: ArrayConfig, rng: np.random.Generator, M: int, K: int, N: int,
                corner_fraction: float = 0.25, max_shift: int | None = None):
    """Random operands ``(A, W, scale, shift)`` of ``cfg``'s formats for an M x K x N GEMM:
    uniform values (W: values or codes, ``WeightOperand``) with a share of corners; a scale and
    a shift (at most ``max_shift``, default the requantizer's) per column with
    requantization, else ``None``."""
    A = random_operands(rng, cfg.activation, (M, K), corner_fraction)
    W = WeightOperand(cfg.weight).random(rng, (K, N), corner_fraction)
    if not cfg.requant:
        return A, W, None, None
    rq = cfg.requantizer
    top = rq.max_shift if max_shift is None else min(rq.max_shift, max_shift)
    scale = rng.integers(0, rq.max_scale, N, endpoint=True)
    shift = rng.integers(0, top, N, endpoint=True)
    return A, W, scale, shift


def requantize(x, scale, shift) -> np.ndarray:
    """``clip(floor((x * scale + r) / 2^shift), -128, 127)``, ``r = 2^(shift-1)`` or 0.

    ``x`` (..., N), ``scale``/``shift`` broadcast over the last axis. Exact (Python integers
    where int64 could overflow)."""
    x = np.asarray(x, dtype=np.int64)
    scale = np.broadcast_to(np.asarray(scale, dtype=np.int64), x.shape)
    shift = np.broadcast_to(np.asarray(shift, dtype=np.int64), x.shape)
    big = (np.abs(x).max(initial=0).item().bit_length() + 16 + 2) > 62
    if big:
        xs, ss, hs = x.astype(object), scale.astype(object), shift.astype(object)
    else:
        xs, ss, hs = x, scale, shift
    half = np.where(shift > 0, np.left_shift(1, np.maximum(shift - 1, 0)), 0)
    if big:
        half = half.astype(object)
    y = (xs * ss + half) >> hs
    return np.clip(y, -128, 127).astype(np.int64)


def _pad(x: np.ndarray, rows: int, cols: int, dtype=np.int64) -> np.ndarray:
    out = np.zeros((rows, cols), dtype=dtype)
    out[: x.shape[0], : x.shape[1]] = x
    return out


def _wrap64(x: np.ndarray) -> np.ndarray:
    """Exact integers (int64, or Python ints) modulo 2^64 as int64: enough for any
    accumulator (at most 48 bits) that wraps."""
    if x.dtype != object:
        return x
    return np.array([((int(v) + (1 << 63)) % (1 << 64)) - (1 << 63) for v in x.flat],
                    dtype=np.int64).reshape(x.shape)


def gemm(cfg: ArrayConfig, A, W, scale=None, shift=None) -> np.ndarray:
    """``C = A @ W`` (M x N, int64) exactly as the array computes it (see the module doc)."""
    A, W, scale, shift = check_gemm(cfg, A, W, scale, shift)
    step = cfg.lanes if cfg.dataflow is Dataflow.OS else cfg.ws_tile_k
    K = A.shape[1]
    Kp = ceil_div(K, step) * step
    wop = WeightOperand(cfg.weight)
    Wv = wop.values(W)  # padding below: zero activations make any padded weight harmless
    Ap, Wp = _pad(A, A.shape[0], Kp), _pad(Wv, Kp, W.shape[1], Wv.dtype)
    # Exact in int64 unless a partial sum could leave it (pot8 weights reach 2^127): then in
    # Python integers.
    bound = wop.largest_value * max(-cfg.activation.min, cfg.activation.max) * Kp
    exact = np.int64 if bound < (1 << 62) else object
    Ap, Wp = Ap.astype(exact), Wp.astype(exact)
    if cfg.acc.overflow.value == "wrap":  # wrapping is a ring homomorphism: once at the end
        acc = fit(_wrap64(Ap @ Wp), cfg.acc)
    else:
        acc = np.zeros((A.shape[0], W.shape[1]), dtype=np.int64)
        lo, hi = cfg.acc.min, cfg.acc.max
        for k0 in range(0, Kp, step):
            part = Ap[:, k0:k0 + step] @ Wp[k0:k0 + step, :]
            acc = np.clip(acc.astype(exact) + part, lo, hi).astype(np.int64)
    if cfg.requant:
        return requantize(acc, scale, shift)
    return acc


@dataclass(frozen=True)
class Schedule:
    """A GEMM as the array's input beats and where its result rows go.

    ``a`` (beats, rows, lanes), ``w`` (beats, cols, lanes), ``first``/``last`` (beats,);
    result row ``i`` (in the order the array puts them out) is ``C[out_m[i], out_n0[i] + c]``
    for ``c`` = 0..cols-1 (entries beyond M or N are padding). ``rq_scale``/``rq_shift``
    (results, cols) with requantization.
    """

    M: int
    N: int
    K: int
    a: np.ndarray
    w: np.ndarray
    first: np.ndarray
    last: np.ndarray
    out_m: np.ndarray
    out_n0: np.ndarray
    rq_scale: np.ndarray | None = None
    rq_shift: np.ndarray | None = None

    @property
    def beats(self) -> int:
        return self.a.shape[0]

    @property
    def results(self) -> int:
        return self.out_m.shape[0]

    @property
    def macs(self) -> int:
        """Useful multiply-accumulates: M * N * K."""
        return self.M * self.N * self.K

    def assemble(self, rows) -> np.ndarray:
        """Scatter the result rows (results, cols) into ``C`` (M x N)."""
        rows = np.asarray(rows, dtype=np.int64)
        cols = rows.shape[1]
        full = np.zeros((int(self.out_m.max()) + 1, int(self.out_n0.max()) + cols),
                        dtype=np.int64)
        idx_n = self.out_n0[:, None] + np.arange(cols)[None, :]
        full[self.out_m[:, None], idx_n] = rows
        return full[: self.M, : self.N]


def schedule(cfg: ArrayConfig, A, W, scale=None, shift=None) -> Schedule:
    """Tile ``A @ W`` onto the array (operands are checked first, see ``check_gemm``).

    OS: output tiles in order (M tile, N tile), each ``ceil(K / lanes)`` beats. WS: periods
    in order (N tile, M block of R rows, K tile of ``R * lanes``), after one weight-only
    period; every period loads the next one's weights.
    """
    A, W, scale, shift = check_gemm(cfg, A, W, scale, shift)
    W = WeightOperand(cfg.weight).codes(W)  # the beats carry what the weight wires take
    R, C, lanes = cfg.rows, cfg.cols, cfg.lanes
    M, K = A.shape
    N = W.shape[1]
    Mt, Nt = ceil_div(M, R), ceil_div(N, C)
    if cfg.dataflow is Dataflow.OS:
        Kb = ceil_div(K, lanes)
        Ap, Wp = _pad(A, Mt * R, Kb * lanes), _pad(W, Kb * lanes, Nt * C)
        # a[mt, nt, kb, r, l] = Ap[mt*R + r, kb*lanes + l]
        a = Ap.reshape(Mt, R, Kb, lanes).transpose(0, 2, 1, 3)[:, None]
        a = np.broadcast_to(a, (Mt, Nt, Kb, R, lanes)).reshape(-1, R, lanes)
        # w[mt, nt, kb, c, l] = Wp[kb*lanes + l, nt*C + c]
        w = Wp.reshape(Kb, lanes, Nt, C).transpose(2, 0, 3, 1)[None]
        w = np.broadcast_to(w, (Mt, Nt, Kb, C, lanes)).reshape(-1, C, lanes)
        last = np.zeros((Mt * Nt, Kb), dtype=bool)
        last[:, -1] = True
        last = last.reshape(-1)
        first = np.zeros_like(last)
        tiles_m = np.repeat(np.arange(Mt), Nt)
        tiles_n = np.tile(np.arange(Nt), Mt)
        out_m = (tiles_m[:, None] * R + np.arange(R)[None, :]).reshape(-1)
        out_n0 = np.repeat(tiles_n * C, R)
    else:
        Kt = ceil_div(K, R * lanes)
        Ap, Wp = _pad(A, Mt * R, Kt * R * lanes), _pad(W, Kt * R * lanes, Nt * C)
        # Activation beats of period (nt, mb, kt), beat j: a_in[i, l] = A[mb*R + j, kt*R*lanes
        # + i*lanes + l]  -> a[nt, mb, kt, j, i, l]
        a = Ap.reshape(Mt, R, Kt, R, lanes).transpose(0, 2, 1, 3, 4)[None]
        a = np.broadcast_to(a, (Nt, Mt, Kt, R, R, lanes)).reshape(-1, R, lanes)
        # Weight beats of period (nt, mb, kt), beat j: w_in[c, l] = W[kt*R*lanes + j*lanes + l,
        # nt*C + c]  -> w[nt, mb, kt, j, c, l]
        w = Wp.reshape(Kt, R, lanes, Nt, C).transpose(3, 0, 1, 4, 2)[:, None]
        w = np.broadcast_to(w, (Nt, Mt, Kt, R, C, lanes)).reshape(-1, C, lanes)
        zeros_a = np.zeros((R, R, lanes), dtype=np.int64)
        zeros_w = np.zeros((R, C, lanes), dtype=np.int64)
        a = np.concatenate([zeros_a, a])  # the first period only loads weights
        w = np.concatenate([w, zeros_w])  # the last period only computes
        kt = np.broadcast_to(np.arange(Kt)[None, None, :, None], (Nt, Mt, Kt, R)).reshape(-1)
        first = np.concatenate([np.zeros(R, dtype=bool), kt == 0])
        last = np.concatenate([np.zeros(R, dtype=bool), kt == Kt - 1])
        # Results: one row per beat with 'last', in beat order (nt, mb, j).
        out_m = np.tile(np.arange(Mt * R), Nt)
        out_n0 = np.repeat(np.arange(Nt) * C, Mt * R)
    rq_scale = rq_shift = None
    if cfg.requant:
        sp = np.zeros(Nt * C, dtype=np.int64)
        hp = np.zeros(Nt * C, dtype=np.int64)
        sp[:N], hp[:N] = scale, shift
        cols = out_n0[:, None] + np.arange(C)[None, :]
        rq_scale, rq_shift = sp[cols], hp[cols]
    return Schedule(M, N, K, np.ascontiguousarray(a), np.ascontiguousarray(w), first, last,
                    out_m, out_n0, rq_scale, rq_shift)


# -- harness memory words ---------------------------------------------------------------------
@dataclass(frozen=True)
class BeatLayout:
    """Bit layout of one harness input word: ``a_in`` at 0, ``w_in`` above it, then
    ``in_first`` and ``in_last``; and the widths of the result and requantization words."""

    a_bits: int
    w_bits: int
    out_bits: int
    out_width: int  # one result
    out_signed: bool
    rq_scale_bits: int = 0
    rq_shift_bits: int = 0
    cols: int = 1

    @property
    def first_bit(self) -> int:
        return self.a_bits + self.w_bits

    @property
    def last_bit(self) -> int:
        return self.first_bit + 1

    @property
    def beat_bits(self) -> int:
        return self.last_bit + 1

    @property
    def rq_bits(self) -> int:
        """Width of a requantization word: ``cols`` scales, then ``cols`` shifts."""
        return self.cols * (self.rq_scale_bits + self.rq_shift_bits)


def beat_layout(cfg: ArrayConfig) -> BeatLayout:
    rq = cfg.requantizer
    out = cfg.out_type
    return BeatLayout(
        a_bits=cfg.rows * cfg.lanes * cfg.activation.bits,
        w_bits=cfg.cols * cfg.lanes * cfg.weight.bits,
        out_bits=cfg.cols * out.bits,
        out_width=out.bits,
        out_signed=out.signed,
        rq_scale_bits=rq.scale_bits if rq else 0,
        rq_shift_bits=rq.shift_bits if rq else 0,
        cols=cfg.cols,
    )


def _fields_to_bits(values: np.ndarray, width: int) -> np.ndarray:
    """(n, f) integers -> (n, f * width) bits, field 0 lowest, LSB first."""
    v = values.astype(np.int64) & ((1 << width) - 1)
    bits = (v[:, :, None] >> np.arange(width)[None, None, :]) & 1
    return bits.reshape(v.shape[0], -1).astype(np.uint8)


def _bits_to_hex(bits: np.ndarray) -> list[str]:
    """(n, b) LSB-first bits -> hex lines (MSB first)."""
    n, b = bits.shape
    nib = ceil_div(b, 4) * 4
    padded = np.zeros((n, ceil_div(nib, 8) * 8), dtype=np.uint8)
    padded[:, :b] = bits
    msb_first = padded[:, ::-1]
    raw = np.packbits(msb_first, axis=1)
    lines = [row.tobytes().hex() for row in raw]
    extra = (padded.shape[1] - nib) // 4  # leading zero nibbles from byte padding
    return [line[extra:] for line in lines]


def pack_beats(cfg: ArrayConfig, sched: Schedule) -> list[str]:
    """One hex word per beat (``BeatLayout``) for the harness's ``$readmemh``."""
    n = sched.beats
    bits = np.concatenate([
        _fields_to_bits(sched.a.reshape(n, -1), cfg.activation.bits),
        _fields_to_bits(sched.w.reshape(n, -1), cfg.weight.bits),
        sched.first[:, None].astype(np.uint8),
        sched.last[:, None].astype(np.uint8),
    ], axis=1)
    return _bits_to_hex(bits)


def pack_requant(cfg: ArrayConfig, sched: Schedule) -> list[str]:
    """One hex word per result row: ``cols`` scales (column 0 lowest), then ``cols`` shifts."""
    lay = beat_layout(cfg)
    bits = np.concatenate([
        _fields_to_bits(sched.rq_scale, lay.rq_scale_bits),
        _fields_to_bits(sched.rq_shift, lay.rq_shift_bits),
    ], axis=1)
    return _bits_to_hex(bits)


def unpack_rows(cfg: ArrayConfig, text: str) -> np.ndarray:
    """Result words (hex, as ``$writememh`` writes them) -> (rows, cols) int64."""
    lines = [t for t in (line.split("//")[0].strip() for line in text.splitlines())
             if t and not t.startswith("@")]
    lay = beat_layout(cfg)
    width = lay.out_width
    out = np.zeros((len(lines), cfg.cols), dtype=np.int64)
    mask = (1 << width) - 1
    for i, line in enumerate(lines):
        try:
            word = int(line, 16)
        except ValueError:
            raise ValueError(f"result row {i} is not a defined hex word: {line!r}") from None
        for c in range(cfg.cols):
            v = (word >> (c * width)) & mask
            if lay.out_signed and v >> (width - 1):
                v -= 1 << width
            out[i, c] = v
    return out


def expected_cycles(cfg: ArrayConfig, sched: Schedule) -> int:
    """Cycles the harness counts for ``sched`` when it offers a beat every cycle: from the
    first beat to the cycle that takes the last result row, inclusive.

    A beat is accepted every ``beat_cycles`` cycles (``k``: 1, bit-serial ``weight.bits``).
    OS: a ``last`` beat also waits until ``min_tile_period`` cycles after the previous one;
    the last tile's R rows end ``latency + R - 1`` cycles after its ``last`` beat. WS: the
    last row leaves ``latency`` cycles after the last beat."""
    k = cfg.beat_cycles
    if cfg.dataflow is Dataflow.WS:
        return (sched.beats - 1) * k + cfg.latency + 1
    period = cfg.min_tile_period
    t, t_last, nxt = 0, None, 0  # t: cycle the beat 'nxt' can be accepted
    for i in np.flatnonzero(sched.last):
        here = t + (int(i) - nxt) * k  # beats before a 'last' flow freely
        t_last = here if t_last is None else max(here, t_last + period)
        nxt, t = int(i) + 1, t_last + k
    return t_last + cfg.latency + cfg.rows
