"""cocotb testbench for ``MacPE``: driver, monitor, golden model and in-order checker.

Imported only inside a simulator process. The config arrives as JSON in ``QTPE_CONFIG``.
"""

from __future__ import annotations

import json
import os
from collections import deque

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ReadOnly, RisingEdge

from qtpe.hdl.config import PEConfig
from qtpe.tb.models.mac import MacModel

__all__ = ["load_config", "make_rng", "MacTestbench"]

CLOCK_NS = 10


def load_config() -> PEConfig:
    return PEConfig.from_dict(json.loads(os.environ["QTPE_CONFIG"]))


def make_rng(dut) -> np.random.Generator:
    """A numpy generator seeded from cocotb's per-test seed, logged for replay."""
    seed = cocotb.RANDOM_SEED
    run_seed = os.environ.get("COCOTB_RANDOM_SEED", "?")
    dut._log.info("seed %s (this test: %d); replay with 'qtpe sim ... --seed %s'",
                  run_seed, seed, run_seed)
    return np.random.default_rng(seed)


class MacTestbench:
    """Drives (valid, clear, weight, act) per cycle and checks ``acc`` in order on ``out_valid``.

    The driver feeds the golden model with exactly what it drives; the monitor samples the
    outputs after each rising edge; the checker compares every ``out_valid`` sample with the
    oldest expected value and flags outputs that come without an expected value.
    """

    def __init__(self, dut, cfg: PEConfig):
        self.dut = dut
        self.cfg = cfg
        self.model = MacModel(cfg)
        self.expected: deque[tuple[int, str]] = deque()
        self.errors: list[str] = []
        self.checked = 0
        self._monitor = None
        self._w_mask = (1 << cfg.weight.bits) - 1
        self._a_mask = (1 << cfg.activation.bits) - 1

    async def start(self) -> None:
        dut = self.dut
        cocotb.start_soon(Clock(dut.clk, CLOCK_NS, unit="ns").start())
        self._idle()
        await self.reset()
        self._monitor = cocotb.start_soon(self._monitor_loop())

    async def reset(self, cycles: int = 2) -> None:
        """Synchronous reset; the model's accumulator returns to zero with the hardware's."""
        self.dut.rst.value = 1
        for _ in range(cycles):
            await RisingEdge(self.dut.clk)
        self.dut.rst.value = 0
        self.model.reset()
        # Anything in flight when reset hit is gone.
        await RisingEdge(self.dut.clk)
        self.expected.clear()

    def _idle(self) -> None:
        dut = self.dut
        dut.rst.value = 0
        dut.in_valid.value = 0
        dut.clear.value = 0
        dut.weight.value = 0
        dut.act.value = 0

    async def drive(self, weight, act, valid=None, clear=None, tag: str = "") -> None:
        """Drive one cycle per element; ``valid`` defaults to all ones, ``clear`` to zeros."""
        n = len(weight)
        valid = np.ones(n, dtype=bool) if valid is None else np.asarray(valid, dtype=bool)
        clear = np.zeros(n, dtype=bool) if clear is None else np.asarray(clear, dtype=bool)
        dut = self.dut
        for i in range(n):
            w, a = int(weight[i]), int(act[i])
            v, c = bool(valid[i]), bool(clear[i])
            dut.in_valid.value = int(v)
            dut.clear.value = int(c)
            dut.weight.value = w & self._w_mask  # two's-complement bit pattern
            dut.act.value = a & self._a_mask
            out = self.model.step(v, c, w, a)
            if out is not None:
                self.expected.append((int(out), f"{tag}[{i}] w={w} a={a} clear={int(c)}"))
            await RisingEdge(dut.clk)
        self._idle()

    async def _monitor_loop(self) -> None:
        dut = self.dut
        signed = self.cfg.acc.signed
        while True:
            await RisingEdge(dut.clk)
            await ReadOnly()
            if not dut.out_valid.value:
                continue
            raw = dut.acc.value
            got = raw.to_signed() if signed else raw.to_unsigned()
            if not self.expected:
                self.errors.append(f"unexpected output acc={got}")
                continue
            want, what = self.expected.popleft()
            self.checked += 1
            if got != want and len(self.errors) < 20:
                self.errors.append(f"{what}: acc={got}, expected {want}")
            elif got != want:
                self.errors.append("...")

    async def finish(self) -> None:
        """Wait out the pipeline, then fail on any mismatch, missing or extra output."""
        for _ in range(self.cfg.latency + 2):
            await RisingEdge(self.dut.clk)
        if self.expected:
            self.errors.append(f"{len(self.expected)} expected outputs never came")
        assert not self.errors, "\n".join(self.errors[:20])
        assert self.checked > 0, "no outputs were checked"
        self.dut._log.info("checked %d outputs", self.checked)
