"""The tiling of a GEMM onto ``qtpe.hdl.array.SystolicArray``: its input beats, and where each
result row goes.

``schedule(cfg, A, W)`` lays a GEMM out as the array's input beats (the protocol in
``qtpe.hdl.array``): OS output tiles in order (M tile, N tile), ``ceil(K / lanes)`` beats each;
WS periods in order (N tile, M block of R rows, K tile of ``R * lanes``) after one weight-only
period; IS periods in order (M row, N block of R columns, K tile of ``R * C * lanes``) after
one activation-only period. The beats carry what the wires take (``Operand.codes``). Pure
numpy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qtpe.hdl.array_config import ArrayConfig, Dataflow

from .formats import Operand
from .gemm import pad
from .operands import ceil_div, check_gemm, check_quant

__all__ = ["Schedule", "layout", "schedule"]


@dataclass(frozen=True)
class Schedule:
    """A GEMM as the array's input beats and where its result rows go.

    ``a`` (beats, rows, lanes), ``w`` (beats, cols, lanes) (IS: ``a`` (beats, cols, lanes),
    ``w`` (beats, rows * cols, lanes)), ``first``/``last`` (beats,);
    result row ``i`` (in the order the array puts them out) is ``C[out_m[i], out_n0[i] + c]``
    for ``c`` = 0..``out_cols``-1 (``cfg.out_cols``: ``cols``, IS 1; entries beyond M or N are
    padding). ``rq_scale``/``rq_shift`` (results, out_cols) with requantization. With
    groups (OS): ``group_last`` (beats,), the beats that end a group (the array's readout
    beats), and ``g_scale``/``g_zero`` (beats, cols): the scale and zero point of each beat's
    group per column (``g_zero`` ``None`` without zero points; ``g_special`` likewise, the
    bit-serial ``special`` type's values). Bit-serial arrays: ``wbits`` (beats,), each beat's
    precision (0: full).
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
    group_last: np.ndarray | None = None
    g_scale: np.ndarray | None = None
    g_zero: np.ndarray | None = None
    wbits: np.ndarray | None = None
    g_special: np.ndarray | None = None

    def beat_cycles(self, cfg: ArrayConfig) -> np.ndarray:
        """Cycles each beat occupies: ``cfg.beat_cycles``, or a bit-serial beat's precision
        (``wbits``; 0 is the full ``weight.bits``)."""
        k = cfg.beat_cycles
        if self.wbits is None:
            return np.full(self.beats, k, dtype=np.int64)
        return np.where(self.wbits == 0, k, self.wbits)

    @property
    def readout_beats(self) -> np.ndarray:
        """OS: the beats that end what a PE sums (a tile, or a group): ``in_ready`` holds
        each back until ``min_tile_period`` cycles after the previous one."""
        return self.last if self.group_last is None else self.group_last

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
        cols = rows.shape[1]  # config.out_cols
        full = np.zeros((int(self.out_m.max()) + 1, int(self.out_n0.max()) + cols),
                        dtype=np.int64)
        idx_n = self.out_n0[:, None] + np.arange(cols)[None, :]
        full[self.out_m[:, None], idx_n] = rows
        return full[: self.M, : self.N]


def schedule(cfg: ArrayConfig, A, W, scale=None, shift=None, quant=None) -> Schedule:
    """Tile ``A @ W`` onto the array (operands are checked first, see ``check_gemm`` and
    ``check_quant``).

    OS: output tiles in order (M tile, N tile), each ``ceil(K / lanes)`` beats. WS: periods
    in order (N tile, M block of R rows, K tile of ``R * lanes``), after one weight-only
    period; every period loads the next one's weights. IS: periods in order (M row, N block
    of R columns, K tile of ``R * C * lanes``), after one activation-only period; every
    period loads the next one's activations, and beat ``j`` streams the weights of column
    ``n0 + j`` (one result per beat with ``last``).
    """
    A, W, scale, shift = check_gemm(cfg, A, W, scale, shift)
    quant = check_quant(cfg, W, quant)
    A = Operand(cfg.activation).codes(A)  # the beats carry what the wires take
    W = Operand(cfg.weight).codes(W)
    return layout(cfg, A, W, scale, shift, quant)


def layout(cfg: ArrayConfig, A, W, scale=None, shift=None, quant=None) -> Schedule:
    """The tiling of ``schedule`` applied to integer arrays as they are (no checks, no
    encoding; padding is 0): ``schedule`` lays out operand codes with it, the proofs
    (``qtpe.gen.prove``) element numbers, to see where each operand goes."""
    A, W = np.asarray(A, dtype=np.int64), np.asarray(W, dtype=np.int64)
    R, C, lanes = cfg.rows, cfg.cols, cfg.lanes
    M, K = A.shape
    N = W.shape[1]
    Mt, Nt = ceil_div(M, R), ceil_div(N, C)
    if cfg.dataflow is Dataflow.OS:
        Kb = ceil_div(K, lanes)
        Ap, Wp = pad(A, Mt * R, Kb * lanes), pad(W, Kb * lanes, Nt * C)
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
    elif cfg.dataflow is Dataflow.IS:
        return _layout_is(cfg, A, W, scale, shift, quant)
    else:
        Kt = ceil_div(K, R * lanes)
        Ap, Wp = pad(A, Mt * R, Kt * R * lanes), pad(W, Kt * R * lanes, Nt * C)
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
    group_last = g_scale = g_zero = g_special = None
    groups = quant is not None and quant.scales is not None
    if groups and cfg.dataflow is Dataflow.WS:
        # Beat j of period (nt, mb, kt) reads the group of K tile kt, columns nt*C + c; the
        # weight-only first period reads nothing.
        T = cfg.group_tiles
        ktb = np.broadcast_to(np.arange(Kt)[None, None, :, None], (Nt, Mt, Kt, R)).reshape(-1)
        ntb = np.broadcast_to(np.arange(Nt)[:, None, None, None], (Nt, Mt, Kt, R)).reshape(-1)
        cols = ntb[:, None] * C + np.arange(C)[None, :]

        def per_beat(x):
            xp = np.zeros((x.shape[0], Nt * C), dtype=np.int64)
            xp[:, :N] = x
            return np.concatenate([np.zeros((R, C), dtype=np.int64),
                                   xp[(ktb // T)[:, None], cols]])

        g_scale = per_beat(quant.scales)
        g_zero = None if quant.zeros is None else per_beat(quant.zeros)
        g_special = None if quant.specials is None else per_beat(quant.specials)
    elif groups:  # OS: beat kb of a tile is in group kb // group_beats
        gb = cfg.group_beats
        kb = np.arange(Kb)
        group_last = np.tile((kb % gb == gb - 1) | (kb == Kb - 1), Mt * Nt)
        tiles_n_beats = np.repeat(tiles_n, Kb)
        cols = tiles_n_beats[:, None] * C + np.arange(C)[None, :]
        g_of_beat = np.tile(kb // gb, Mt * Nt)

        def per_beat(x):
            xp = np.zeros((x.shape[0], Nt * C), dtype=np.int64)
            xp[:, :N] = x
            return xp[g_of_beat[:, None], cols]

        g_scale = per_beat(quant.scales)
        g_zero = None if quant.zeros is None else per_beat(quant.zeros)
        g_special = None if quant.specials is None else per_beat(quant.specials)
    wbits = None
    if cfg.pe_config.ARRAY_WBITS:  # each beat's precision (0: the full weight.bits)
        rows_w = (quant.wbits if quant is not None and quant.wbits is not None
                  else np.zeros(K, dtype=np.int64))
        if cfg.dataflow is Dataflow.OS:  # beat kb of every tile reads row kb * lanes on
            wbits = np.tile(rows_w[np.arange(Kb) * lanes], Mt * Nt)
        else:  # period (nt, mb, kt) reads K tile kt; the weight-only period as the first
            per = np.broadcast_to(rows_w[np.arange(Kt) * R * lanes][None, None, :, None],
                                  (Nt, Mt, Kt, R)).reshape(-1)
            wbits = np.concatenate([np.full(R, per[0]), per])
    return _finish(cfg, M, N, K, a, w, first, last, out_m, out_n0, Nt * C, scale, shift,
                   group_last=group_last, g_scale=g_scale, g_zero=g_zero, g_special=g_special,
                   wbits=wbits)


def _finish(cfg: ArrayConfig, M, N, K, a, w, first, last, out_m, out_n0, n_padded, scale,
            shift, **extra) -> Schedule:
    """The ``Schedule``, with the requantization parameters of each result row (and the
    ``extra`` fields: groups, precisions)."""
    rq_scale = rq_shift = None
    if cfg.requant:
        sp = np.zeros(n_padded, dtype=np.int64)
        hp = np.zeros(n_padded, dtype=np.int64)
        sp[:N], hp[:N] = scale, shift
        cols = out_n0[:, None] + np.arange(cfg.out_cols)[None, :]
        rq_scale, rq_shift = sp[cols], hp[cols]
    return Schedule(M, N, K, np.ascontiguousarray(a), np.ascontiguousarray(w), first, last,
                    out_m, out_n0, rq_scale, rq_shift, **extra)


def _layout_is(cfg: ArrayConfig, A, W, scale, shift, quant=None) -> Schedule:
    """IS: period (m, nb, kt) holds activation tile ``A[m, kt*T : (kt+1)*T]`` (``T = R * C *
    lanes``; PE (r, c) lanes ``l``: reduction offset ``(c*R + r)*lanes + l``) active; its beat
    ``j`` carries ``w_in[c*R + r, l] = W[kt*T + (c*R + r)*lanes + l, nb*R + j]`` and
    ``a_in[c, l]`` = the next period's activation for PE (R-1-j, c)."""
    R, C, lanes = cfg.rows, cfg.cols, cfg.lanes
    M, K = A.shape
    N = W.shape[1]
    T = R * C * lanes
    Kt, Nb = ceil_div(K, T), ceil_div(N, R)
    Ap, Wp = pad(A, M, Kt * T), pad(W, Kt * T, Nb * R)
    # Activation tiles: tile[m, kt, c, r, l] = Ap[m, kt*T + (c*R + r)*lanes + l]; beat j of
    # the loading period carries row R-1-j: a[m, nb, kt, j, c, l] = tile[m, kt, c, R-1-j, l].
    tile = Ap.reshape(M, Kt, C, R, lanes)
    rows_in = tile[:, :, :, ::-1, :].transpose(0, 1, 3, 2, 4)  # (m, kt, j, c, l)
    a = np.broadcast_to(rows_in[:, None], (M, Nb, Kt, R, C, lanes)).reshape(-1, C, lanes)
    # w[m, nb, kt, j, i, l] = Wp[kt*T + i*lanes + l, nb*R + j], i = c*R + r.
    wt = Wp.reshape(Kt, R * C, lanes, Nb, R).transpose(3, 0, 4, 1, 2)  # (nb, kt, j, i, l)
    w = np.broadcast_to(wt[None], (M, Nb, Kt, R, R * C, lanes)).reshape(-1, R * C, lanes)
    zeros_a = np.zeros((R, C, lanes), dtype=np.int64)
    zeros_w = np.zeros((R, R * C, lanes), dtype=np.int64)
    a = np.concatenate([a, zeros_a])  # the last period only computes
    w = np.concatenate([zeros_w, w])  # the first period only loads activations
    kt = np.broadcast_to(np.arange(Kt)[None, None, :, None], (M, Nb, Kt, R)).reshape(-1)
    first = np.concatenate([np.zeros(R, dtype=bool), kt == 0])
    last = np.concatenate([np.zeros(R, dtype=bool), kt == Kt - 1])
    # Results: one per beat with 'last', in beat order (m, nb, j): C[m, nb*R + j].
    out_m = np.repeat(np.arange(M), Nb * R)
    out_n0 = np.tile(np.arange(Nb * R), M)
    extra = {}
    if quant is not None and quant.scales is not None:
        # Beat j of period (m, nb, kt) computes C[m, nb*R + j] over K tile kt: its group's
        # operands for that column; the activation-only first period reads nothing.
        nb = np.broadcast_to(np.arange(Nb)[None, :, None, None], (M, Nb, Kt, R)).reshape(-1)
        j = np.broadcast_to(np.arange(R)[None, None, None, :], (M, Nb, Kt, R)).reshape(-1)
        g_of_beat, n_of_beat = kt // cfg.group_tiles, nb * R + j

        def per_beat(x):
            xp = np.zeros((x.shape[0], Nb * R), dtype=np.int64)
            xp[:, :N] = x
            return np.concatenate([np.zeros((R, 1), dtype=np.int64),
                                   xp[g_of_beat, n_of_beat][:, None]])

        extra["g_scale"] = per_beat(quant.scales)
        extra["g_zero"] = None if quant.zeros is None else per_beat(quant.zeros)
    if cfg.pe_config.ARRAY_WBITS:  # period (m, nb, kt) reads K tile kt (the first as kt 0)
        rows_w = (quant.wbits if quant is not None and quant.wbits is not None
                  else np.zeros(K, dtype=np.int64))
        per = np.broadcast_to(rows_w[np.arange(Kt) * T][None, None, :, None],
                              (M, Nb, Kt, R)).reshape(-1)
        extra["wbits"] = np.concatenate([np.full(R, per[0]), per])
    return _finish(cfg, M, N, K, a, w, first, last, out_m, out_n0, Nb * R, scale, shift,
                   **extra)
