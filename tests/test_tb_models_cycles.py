"""The cycle model of a GEMM through the harness."""

import dataclasses

import numpy as np
from array_sim import IS, OS, WS
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


def test_expected_cycles_input_stationary():
    """IS: R beats per period, one activation-only period then M x ceil(N / R) x ceil(K / (R C
    lanes)) periods; the last result ``latency`` = R + C + 2 cycles after the last beat. The
    8x8 GEMV of issue 17 (M = 1, K = 1024, N = 64): 1032 beats, 1050 cycles, 97.5%."""
    rng = np.random.default_rng(7)
    cfg = arr(IS, 3, 2, lanes=2)
    assert cfg.latency == 3 + 2 + 2 and cfg.min_tile_period == 1
    s = schedule(cfg, rng.integers(-9, 9, (2, 13)), rng.integers(-9, 9, (13, 4)))
    assert s.beats == 3 * (1 + 2 * 2 * 2)
    assert expected_cycles(cfg, s) == s.beats + cfg.latency
    gemv = arr(IS, 8, 8)
    g = schedule(gemv, np.ones((1, 1024), dtype=np.int64), np.ones((1024, 64), dtype=np.int64))
    cycles = expected_cycles(gemv, g)
    assert (g.beats, cycles) == (1032, 1050)
    assert g.macs / cycles / gemv.macs_per_cycle >= 0.9
