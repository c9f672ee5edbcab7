"""The GEMM an array proof runs (``qtpe prove`` on an array config), laid out by the golden
model's own schedule (``qtpe.tb.models.schedule.layout``) and cycle model.

``proof_plan(cfg)`` picks a small GEMM that crosses the array's tile boundaries (two N tiles;
output-stationary also two M tiles of two beats, weight-stationary two K tiles; odd sizes,
so padding is exercised) and lays out *element numbers* instead of operands: each beat field
then names the operand it carries, and ``qtpe.hdl.array_proof.ArrayProof`` feeds the array
the free operands the schedule says, beat by beat.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qtpe.hdl.array_config import ArrayConfig, Dataflow
from qtpe.tb.models.cycles import expected_cycles
from qtpe.tb.models.schedule import layout

__all__ = ["ProofPlan", "proof_plan"]


@dataclass(frozen=True)
class ProofPlan:
    """``a[b][r][l]`` / ``w[b][c][l]``: the flat index of the ``A`` (``m*K + k``) / ``W``
    (``k*N + n``) element beat ``b`` carries in that field, or -1 (padding, code 0);
    ``first``/``last`` per beat; ``rows[i]``: result row ``i`` as (``m``, ``n0``);
    ``cycles``: the cycle model's count from the first beat to the last result row."""

    M: int
    K: int
    N: int
    a: tuple
    w: tuple
    first: tuple[bool, ...]
    last: tuple[bool, ...]
    rows: tuple[tuple[int, int], ...]
    cycles: int

    @property
    def beats(self) -> int:
        return len(self.first)

    @property
    def results(self) -> int:
        return len(self.rows)


def _tuples(x: np.ndarray):
    return tuple(_tuples(v) for v in x) if x.ndim else int(x)


def proof_plan(cfg: ArrayConfig, M: int | None = None, K: int | None = None,
               N: int | None = None) -> ProofPlan:
    """The plan of an ``M x K @ K x N`` GEMM. Defaults, small enough to prove in about a
    minute: output-stationary ``(R + 1) x (lanes + 1) @ (lanes + 1) x (C + 1)`` (two M and
    two N tiles of two beats, the second beat partly padding); weight-stationary
    ``R x (R * lanes + 1) @ (R * lanes + 1) x (C + 1)`` (two N tiles of two K tiles, the
    second partly padding, after the weight-only period)."""
    R, C, lanes = cfg.rows, cfg.cols, cfg.lanes
    os = cfg.dataflow is Dataflow.OS
    M = (R + 1 if os else R) if M is None else M
    N = C + 1 if N is None else N
    if K is None:
        K = lanes + 1 if os else R * lanes + 1
    ids_a = np.arange(1, M * K + 1).reshape(M, K)
    ids_w = np.arange(1, K * N + 1).reshape(K, N)
    sched = layout(cfg, ids_a, ids_w)
    cycles = expected_cycles(cfg, sched)
    return ProofPlan(M, K, N, _tuples(sched.a - 1), _tuples(sched.w - 1),
                     tuple(bool(x) for x in sched.first), tuple(bool(x) for x in sched.last),
                     tuple(zip((int(m) for m in sched.out_m), (int(n) for n in sched.out_n0),
                               strict=True)), cycles)
