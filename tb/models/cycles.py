"""The cycle model of a GEMM through ``qtpe.hdl.array.SystolicArray`` and its harness."""

from __future__ import annotations

import numpy as np

from qtpe.hdl.array_config import ArrayConfig, Dataflow

from .schedule import Schedule

__all__ = ["expected_cycles"]


def expected_cycles(cfg: ArrayConfig, sched: Schedule) -> int:
    """Cycles the harness counts for ``sched`` when it offers a beat every cycle: from the
    first beat to the cycle that takes the last result row, inclusive.

    A beat is accepted every ``beat_cycles`` cycles (``k``: 1, bit-serial ``weight.bits``;
    a bit-serial beat at precision ``wbits``: ``wbits`` cycles, and its results come
    ``k - wbits`` cycles sooner).
    OS: a ``last`` beat (with groups: a beat that ends a group) also waits until its last
    cycle comes ``min_tile_period`` cycles after the previous one's (bit-serial: its last
    bit-plane, ``p`` cycles after a beat of precision ``p`` is accepted);
    the last tile's R rows end ``latency + R - 1`` cycles after its ``last`` beat. WS, IS: the
    last result leaves ``latency`` cycles after the last beat (every beat is accepted at
    once)."""
    k = cfg.beat_cycles
    cycles = sched.beat_cycles(cfg)
    # a shorter last beat (bit-serial, wbits < k) finishes k - wbits cycles early
    early = k - int(cycles[-1])
    if cfg.dataflow is not Dataflow.OS:
        return int(cycles[:-1].sum()) + cfg.latency - early + 1
    period = cfg.min_tile_period
    starts = np.concatenate([[0], np.cumsum(cycles)])  # free-flowing offsets
    t, t_last, nxt, c_last = 0, None, 0, 0  # t: cycle the beat 'nxt' can be accepted
    for i in np.flatnonzero(sched.readout_beats):
        here = t + int(starts[i] - starts[nxt])  # beats before a 'last' flow freely
        c = int(cycles[i])
        t_last = here if t_last is None else max(here, t_last + c_last - c + period)
        nxt, t, c_last = int(i) + 1, t_last + c, c
    return t_last + cfg.latency - early + cfg.rows
