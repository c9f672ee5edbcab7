"""The tiling schedule against an independent reading of the array protocol, and what the
beats carry on the wires."""

import numpy as np
import pytest
from array_sim import IS, OS, WS
from array_sim import mac_array as arr

from qtpe.hdl.array_config import ArrayConfig
from qtpe.hdl.formats import PlaneType
from qtpe.hdl.kind_lut import LutConfig
from qtpe.tb.models.formats import random_operands
from qtpe.tb.models.schedule import schedule


def protocol_reference(cfg, sched):
    """The result rows the documented protocol gives for ``sched`` (wrapping, no requant)."""
    rows = []
    if cfg.dataflow is OS:
        acc = np.zeros((cfg.rows, cfg.cols), dtype=np.int64)
        for i in range(sched.beats):
            acc += np.einsum("rl,cl->rc", sched.a[i], sched.w[i])
            if sched.last[i]:
                rows.extend(acc.tolist())
                acc[:] = 0
    elif cfg.dataflow is IS:
        # PE (r, c) holds an activation; beat j of a period is kept by PE row R-1-j; w_in
        # element c*R + r is PE (r, c)'s weight; the sum of every PE's product goes to ring
        # entry j, one result per 'last' beat.
        R, C = cfg.rows, cfg.cols
        active = np.zeros((R, C, cfg.lanes), dtype=np.int64)
        loading = np.zeros_like(active)
        ring = np.zeros(R, dtype=np.int64)
        for i in range(sched.beats):
            j = i % R
            if j == 0:
                active = loading.copy()
            w = sched.w[i].reshape(C, R, cfg.lanes).transpose(1, 0, 2)  # (r, c, l)
            psum = int((active * w).sum())
            ring[j] = psum if sched.first[i] else ring[j] + psum
            if sched.last[i]:
                rows.append([int(ring[j])])
            loading[R - 1 - j] = sched.a[i]
    else:
        active = np.zeros((cfg.rows, cfg.cols, cfg.lanes), dtype=np.int64)  # by weight row j
        loading = np.zeros_like(active)
        ring = np.zeros((cfg.rows, cfg.cols), dtype=np.int64)
        for i in range(sched.beats):
            j = i % cfg.rows
            if j == 0:
                active = loading.copy()
            psum = np.einsum("jl,jcl->c", sched.a[i], active)
            ring[j] = psum if sched.first[i] else ring[j] + psum
            if sched.last[i]:
                rows.append(ring[j].tolist())
            loading[j] = sched.w[i]
    return np.array(rows, dtype=np.int64)


@pytest.mark.parametrize("cfg", [arr(OS), arr(WS), arr(OS, 3, 2, lanes=2), arr(WS, 3, 2, lanes=2),
                                 arr(OS, 1, 1), arr(WS, 1, 1), arr(IS), arr(IS, 3, 2, lanes=2),
                                 arr(IS, 1, 1)],
                         ids=["os", "ws", "os-l2", "ws-l2", "os-1x1", "ws-1x1", "is", "is-l2",
                              "is-1x1"])
@pytest.mark.parametrize("shape", [(5, 7, 3), (1, 1, 1), (6, 12, 6), (1, 40, 7)])
def test_schedule_follows_the_protocol(cfg, shape):
    rng = np.random.default_rng(5)
    A = random_operands(rng, cfg.activation, shape[:2])
    W = random_operands(rng, cfg.weight, shape[1:])
    sched = schedule(cfg, A, W)
    rows = protocol_reference(cfg, sched)
    assert rows.shape == (sched.results, cfg.out_cols)
    np.testing.assert_array_equal(sched.assemble(rows), A @ W)
    assert sched.macs == A.shape[0] * A.shape[1] * W.shape[1]


def test_ternary_values_go_on_the_wires_as_codes():
    cfg = ArrayConfig(LutConfig(weight=PlaneType.parse("ternary"), g=2), rows=1, cols=1)
    s = schedule(cfg, np.ones((1, 4), dtype=np.int64), np.array([[-1], [0], [1], [1]]))
    assert s.w.reshape(-1).tolist() == [0, 1, 3, 3]


def test_is_gemv_beats():
    """An 8x8 IS GEMV (M = 1, K = 1024, N = 64): one activation-only period, then 16 K tiles
    for each of 8 blocks of R = 8 columns; every beat carries one weight per PE, all for one
    output column, and the active tile holds 64 reduction indices of A's one row."""
    cfg = arr(IS, 8, 8)
    rng = np.random.default_rng(8)
    A, W = rng.integers(-9, 9, (1, 1024)), rng.integers(-9, 9, (1024, 64))
    s = schedule(cfg, A, W)
    assert s.beats == 8 * (1 + 8 * 16) and s.results == 64
    assert s.a.shape == (s.beats, 8, 1) and s.w.shape == (s.beats, 64, 1)
    assert not s.w[:8].any() and not s.a[-8:].any()
    # Beat j of the second period (block 0, K tile 1) streams W[64:128, j]; element c*R + r.
    np.testing.assert_array_equal(s.w[8 + 8 + 3, :, 0], W[64:128, 3])
    # Beat j of the first period loads row R-1-j of tile 0: PE (7-j, c) = A[0, c*8 + 7-j].
    np.testing.assert_array_equal(s.a[2, :, 0], A[0, np.arange(8) * 8 + 5])
    assert s.first.sum() == 8 * 8 and s.last.sum() == 64
    assert s.out_m.tolist() == [0] * 64 and s.out_n0.tolist() == list(range(64))
