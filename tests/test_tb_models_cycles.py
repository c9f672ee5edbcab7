"""The cycle model of a GEMM through the harness."""

import dataclasses

import numpy as np
from array_sim import OS, WS
from array_sim import mac_array as arr

from qtpe.hdl.array_config import Readout
from qtpe.tb.models.cycles import expected_cycles
from qtpe.tb.models.schedule import schedule


def test_expected_cycles():
    rng = np.random.default_rng(6)
    # Tiles of 2 beats, shorter than the bus readout's tile period R = 3 and the drain
    # readout's 2R + C - 2 = 6: each 'last' beat waits for the period.
    for cfg, period in ((arr(OS, 3, 2), 3),
                        (dataclasses.replace(arr(OS, 3, 2), readout=Readout.DRAIN), 6)):
        assert cfg.min_tile_period == period
        long = schedule(cfg, rng.integers(-9, 9, (4, 7)), rng.integers(-9, 9, (7, 6)))
        assert expected_cycles(cfg, long) == long.beats - 1 + cfg.latency + cfg.rows
        short = schedule(cfg, rng.integers(-9, 9, (6, 2)), rng.integers(-9, 9, (2, 6)))
        tiles = short.results // cfg.rows
        assert tiles == 6
        assert expected_cycles(cfg, short) == 1 + (tiles - 1) * period + cfg.latency + cfg.rows
    ws = arr(WS, 2, 3)
    s = schedule(ws, rng.integers(-9, 9, (4, 7)), rng.integers(-9, 9, (7, 6)))
    assert expected_cycles(ws, s) == s.beats + ws.latency
