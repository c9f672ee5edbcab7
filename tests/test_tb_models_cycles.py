"""The cycle model of a GEMM through the harness."""

import numpy as np
from array_sim import OS, WS
from array_sim import mac_array as arr

from qtpe.tb.models.cycles import expected_cycles
from qtpe.tb.models.schedule import schedule


def test_expected_cycles():
    cfg = arr(OS, 2, 3)  # min_tile_period 5
    rng = np.random.default_rng(6)
    long = schedule(cfg, rng.integers(-9, 9, (4, 7)), rng.integers(-9, 9, (7, 6)))
    assert expected_cycles(cfg, long) == long.beats - 1 + cfg.latency + cfg.rows
    short = schedule(cfg, rng.integers(-9, 9, (4, 2)), rng.integers(-9, 9, (2, 6)))
    tiles = short.results // cfg.rows
    assert expected_cycles(cfg, short) == 1 + (tiles - 1) * 5 + cfg.latency + cfg.rows
    ws = arr(WS, 2, 3)
    s = schedule(ws, rng.integers(-9, 9, (4, 7)), rng.integers(-9, 9, (7, 6)))
    assert expected_cycles(ws, s) == s.beats + ws.latency
