"""cocotb driver for the GEMM harness around a systolic array (``qtpe.gen.harness``).

Imported only inside a simulator process. The driver lays a whole GEMM out as input beats
(``qtpe.tb.models.schedule.schedule``), writes them to the harness's memory file, starts the
harness and waits for ``done``: nothing in Python runs per clock cycle (the harness has its
own clock). It then reads the result rows back and assembles ``C``; the checker compares with
the golden model and the cycle count with ``expected_cycles``. Every GEMM is sampled for
functional coverage (``tiling_bins``: how the GEMM falls into tiles).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from cocotb.triggers import FallingEdge, RisingEdge, with_timeout

from qtpe.hdl.array_config import ArrayConfig, Dataflow, config_from_dict
from qtpe.tb.coverage import Coverage
from qtpe.tb.models.beats import (
    BEATS_FILE,
    RESULTS_FILE,
    RQ_FILE,
    pack_beats,
    pack_requant,
    unpack_rows,
)
from qtpe.tb.models.cycles import expected_cycles
from qtpe.tb.models.gemm import GemmRun, gemm
from qtpe.tb.models.schedule import Schedule, schedule

__all__ = ["load_array_config", "tiling_bins", "tiling_hits", "GemmHarness"]

CLOCK_NS = 10


def load_array_config() -> ArrayConfig:
    """The array's config, passed as JSON in ``QTPE_CONFIG``."""
    cfg = config_from_dict(json.loads(os.environ["QTPE_CONFIG"]))
    if not isinstance(cfg, ArrayConfig):
        raise TypeError(f"QTPE_CONFIG is not an array config: {cfg}")
    return cfg


def _units(cfg: ArrayConfig) -> tuple[int, int, int]:
    """(M, N, K) that one tile covers: OS and WS ``R``, ``C`` and ``lanes`` (OS) or ``R *
    lanes`` (WS) of K; IS one row of M, ``R`` columns of N, ``R * C * lanes`` of K."""
    if cfg.dataflow is Dataflow.IS:
        return 1, cfg.rows, cfg.tile_k
    return cfg.rows, cfg.cols, cfg.tile_k


def _tiling(cfg: ArrayConfig, M: int, K: int, N: int) -> tuple[int, int, int, int]:
    """(K block, M tiles, N tiles, K tiles) (``_units``)."""
    um, un, block = _units(cfg)
    return block, -(-M // um), -(-N // un), -(-K // block)


def tiling_bins(cfg: ArrayConfig) -> list[str]:
    """The tile-boundary corners of an array: a GEMM of one tile, tiles back to back, OS tiles
    shorter than ``min_tile_period`` (their ``last`` beat held back), WS reductions over
    several K tiles (the accumulator rings add them), and GEMMs that end inside a tile in M,
    N or K (padded), each where the array's shape allows it."""
    um, un, block = _units(cfg)
    bins = ["one tile", "back-to-back tiles"]
    if cfg.dataflow is Dataflow.OS and cfg.min_tile_period > cfg.beat_cycles:
        bins.append("held-back tiles")
    if cfg.dataflow is not Dataflow.OS:
        bins.append("several K tiles")
    bins += [label for label, n in (("M edge", um), ("N edge", un),
                                    ("K edge", block)) if n > 1]
    return bins


def tiling_hits(cfg: ArrayConfig, M: int, K: int, N: int) -> set[str]:
    """Which ``tiling_bins`` a GEMM of ``M x K`` by ``K x N`` hits."""
    block, Mt, Nt, Kt = _tiling(cfg, M, K, N)
    tiles = Mt * Nt if cfg.dataflow is Dataflow.OS else Mt * Nt * Kt
    hits = set()
    if tiles == 1:
        hits.add("one tile")
    elif cfg.dataflow is not Dataflow.OS or Kt * cfg.beat_cycles >= cfg.min_tile_period:
        hits.add("back-to-back tiles")
    else:
        hits.add("held-back tiles")
    if cfg.dataflow is not Dataflow.OS and Kt > 1:
        hits.add("several K tiles")
    um, un, _ = _units(cfg)
    for label, size, unit in (("M edge", M, um), ("N edge", N, un),
                              ("K edge", K, block)):
        if size % unit:
            hits.add(label)
    return hits


class GemmHarness:
    """Runs whole GEMMs through ``<top>_harness``; capacity from ``QTPE_HARNESS``."""

    def __init__(self, dut, cfg: ArrayConfig):
        self.dut = dut
        self.cfg = cfg
        caps = json.loads(os.environ["QTPE_HARNESS"])
        self.depth, self.max_results = caps["depth"], caps["results"]
        dut.start.value = 0
        dut.n_beats.value = 0
        dut.n_results.value = 0
        self.coverage = Coverage()
        self.coverage.point("tiling", tiling_bins(cfg))

    async def run_schedule(self, sched: Schedule):
        """Stream ``sched``; return (result rows, cycles, wall seconds)."""
        cfg, dut = self.cfg, self.dut
        if sched.beats > self.depth or sched.results > self.max_results:
            raise ValueError(f"the GEMM needs {sched.beats} beats and {sched.results} result "
                             f"rows; the harness holds {self.depth} and {self.max_results}")
        Path(BEATS_FILE).write_text("\n".join(pack_beats(cfg, sched)) + "\n")
        if cfg.requant:
            Path(RQ_FILE).write_text("\n".join(pack_requant(cfg, sched)) + "\n")
        Path(RESULTS_FILE).unlink(missing_ok=True)
        dut.n_beats.value = sched.beats
        dut.n_results.value = sched.results
        dut.start.value = 1
        budget = (expected_cycles(cfg, sched) + 64) * 4
        await with_timeout(RisingEdge(dut.busy), 64 * CLOCK_NS, "ns")
        t0 = time.perf_counter()
        await with_timeout(FallingEdge(dut.busy), budget * CLOCK_NS, "ns")
        seconds = time.perf_counter() - t0
        await with_timeout(RisingEdge(dut.done), 64 * CLOCK_NS, "ns")
        cycles = int(dut.cycles.value)
        rows = unpack_rows(cfg, Path(RESULTS_FILE).read_text())
        dut.start.value = 0
        await FallingEdge(dut.done)
        return rows, cycles, seconds

    async def run(self, A, W, scale=None, shift=None, quant=None) -> GemmRun:
        """``A @ W`` through the array (with ``groups``: its group scales and zero points,
        ``QuantOperands``), with the golden result and the expected cycles."""
        sched = schedule(self.cfg, A, W, scale, shift, quant)
        self.coverage.sample("tiling", tiling_hits(self.cfg, sched.M, sched.K, sched.N))
        rows, cycles, seconds = await self.run_schedule(sched)
        return GemmRun(self.cfg, sched.assemble(rows),
                       gemm(self.cfg, A, W, scale, shift, quant),
                       cycles, expected_cycles(self.cfg, sched), seconds, sched.macs)

    def report(self, run: GemmRun, what: str) -> str:
        text = (f"{what}: {run.cycles} cycles (expected {run.expected_cycles}), "
                f"{run.macs_per_cycle:.2f} MACs/cycle, utilization {run.utilization:.1%}, "
                f"{run.cycles_per_second:,.0f} cycles/s, {run.mismatches} mismatches")
        self.dut._log.info(text)
        return text
