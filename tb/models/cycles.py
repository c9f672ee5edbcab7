"""The cycle model of a GEMM through ``qtpe.hdl.array.SystolicArray`` and its harness."""

from __future__ import annotations

import numpy as np

from qtpe.hdl.array_config import ArrayConfig, Dataflow

from .schedule import Schedule

__all__ = ["expected_cycles"]


def expected_cycles(cfg: ArrayConfig, sched: Schedule) -> int:
    """Cycles the harness counts for ``sched`` when it offers a beat every cycle: from the
    first beat to the cycle that takes the last result row, inclusive.

    A beat is accepted every ``beat_cycles`` cycles (``k``: 1, bit-serial ``weight.bits``).
    OS: a ``last`` beat also waits until ``min_tile_period`` cycles after the previous one;
    the last tile's R rows end ``latency + R - 1`` cycles after its ``last`` beat. WS, IS: the
    last result leaves ``latency`` cycles after the last beat (every beat is accepted at
    once)."""
    k = cfg.beat_cycles
    if cfg.dataflow is not Dataflow.OS:
        return (sched.beats - 1) * k + cfg.latency + 1
    period = cfg.min_tile_period
    t, t_last, nxt = 0, None, 0  # t: cycle the beat 'nxt' can be accepted
    for i in np.flatnonzero(sched.last):
        here = t + (int(i) - nxt) * k  # beats before a 'last' flow freely
        t_last = here if t_last is None else max(here, t_last + period)
        nxt, t = int(i) + 1, t_last + k
    return t_last + cfg.latency + cfg.rows
