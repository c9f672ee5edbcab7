"""The tiling schedule against an independent reading of the array protocol, and what the
beats carry on the wires."""

import numpy as np
import pytest
from array_sim import OS, WS
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
                                 arr(OS, 1, 1), arr(WS, 1, 1)],
                         ids=["os", "ws", "os-l2", "ws-l2", "os-1x1", "ws-1x1"])
@pytest.mark.parametrize("shape", [(5, 7, 3), (1, 1, 1), (6, 12, 6)])
def test_schedule_follows_the_protocol(cfg, shape):
    rng = np.random.default_rng(5)
    A = random_operands(rng, cfg.activation, shape[:2])
    W = random_operands(rng, cfg.weight, shape[1:])
    sched = schedule(cfg, A, W)
    rows = protocol_reference(cfg, sched)
    assert rows.shape == (sched.results, cfg.cols)
    np.testing.assert_array_equal(sched.assemble(rows), A @ W)
    assert sched.macs == A.shape[0] * A.shape[1] * W.shape[1]


def test_ternary_values_go_on_the_wires_as_codes():
    cfg = ArrayConfig(LutConfig(weight=PlaneType.parse("ternary"), g=2), rows=1, cols=1)
    s = schedule(cfg, np.ones((1, 4), dtype=np.int64), np.array([[-1], [0], [1], [1]]))
    assert s.w.reshape(-1).tolist() == [0, 1, 3, 3]
