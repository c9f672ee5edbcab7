"""Reusable cocotb testbench parts: config loading, seeding, clock/reset, in-order checking.

Imported only inside a simulator process. Each PE's testbench subclasses ``StreamTestbench``,
names the PE's input ports and its golden model (whose ``step(valid, clear, **ports)`` takes
the same ports, ``qtpe.hdl.kinds.Kind.model``), and implements ``sample`` to read one output
(or ``None``) after a rising edge; ``drive_ports`` then drives any per-cycle stream, feeds the
model and queues the expected outputs. The driver also samples the functional coverage
(``qtpe.tb.coverage``): the bins every PE shares, and the kind's own (``cover_points``,
``cover``).
"""

from __future__ import annotations

import json
import os
from collections import deque

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, Event, ReadOnly, RisingEdge, Timer

from qtpe.hdl.config import PEConfig
from qtpe.tb.coverage import Coverage, overflow_bins, overflow_hits, product_signs

__all__ = ["CLOCK_NS", "load_config", "make_rng", "to_bits", "pack", "describe",
           "StreamTestbench"]

CLOCK_NS = 10
MAX_REPORTED_ERRORS = 20


def load_config() -> PEConfig:
    """The design's config, passed by ``qtpe.gen.flow.simulate`` as JSON in ``QTPE_CONFIG``."""
    return PEConfig.from_dict(json.loads(os.environ["QTPE_CONFIG"]))


def make_rng(dut) -> np.random.Generator:
    """A numpy generator seeded from cocotb's per-test seed, logged for replay."""
    seed = cocotb.RANDOM_SEED
    run_seed = os.environ.get("COCOTB_RANDOM_SEED", "?")
    dut._log.info("seed %s (this test: %d); replay with 'qtpe sim ... --seed %s'",
                  run_seed, seed, run_seed)
    return np.random.default_rng(seed)


def to_bits(value: int, bits: int) -> int:
    """Two's-complement bit pattern of ``value`` in ``bits`` bits (what a port is driven with)."""
    return int(value) & ((1 << bits) - 1)


def pack(values, bits: int) -> int:
    """Pack a lane array into one flat port value: lane ``i`` at bits ``[i*bits +: bits]``."""
    word = 0
    for i, v in enumerate(values):
        word |= to_bits(int(v), bits) << (i * bits)
    return word


def describe(ports: dict) -> str:
    """``name=value`` pairs of one cycle's port values, for messages."""
    return " ".join(f"{k}={np.asarray(v).tolist()}" for k, v in ports.items())


class StreamTestbench:
    """Clock, synchronous reset, a driver, a monitor coroutine and an in-order checker.

    ``inputs`` names the PE's input ports besides ``in_valid`` and ``clear``; ``model`` is its
    golden model. ``drive_ports`` drives a per-cycle stream and queues what the model expects;
    ``expect(value, what)`` queues one expected output; the monitor calls ``sample()`` after
    every rising edge (in the read-only phase) and compares each output it returns with the
    oldest expected value. ``finish()`` waits ``drain_cycles`` and fails on mismatches,
    missing outputs or outputs that came without an expected value.

    Coverage: every input the driver gives the model is sampled (``sample_coverage``): a clear
    with and without ``in_valid`` (``clear_bins``), the exact sum the model gave the
    accumulator (the model's ``last_sum``, where it has one) beyond its range, and the kind's
    own points, which a subclass declares in ``cover_points`` and samples in ``cover``.
    """

    #: The clear bins that apply: a PE whose clear acts only with an input overrides this.
    clear_bins: tuple[str, ...] = ("with valid", "without valid")

    def __init__(self, dut, cfg: PEConfig, model, inputs: tuple[str, ...]):
        self.dut = dut
        self.cfg = cfg
        self.model = model
        self.inputs = tuple(inputs)
        self.expected: deque[tuple[object, str]] = deque()
        self.errors: list[str] = []
        self.checked = 0
        self.ops = 0  # accepted input beats (each ``lanes`` MACs), for the power flow
        self._monitoring = Event()  # cleared while ``hold`` runs without the monitor
        self._monitoring.set()
        self.coverage = Coverage()
        if self.coverage.enabled:
            self.coverage.point("clear", self.clear_bins)
            if hasattr(model, "last_sum"):  # the model tells the exact sums it fits
                self.coverage.point("overflow", overflow_bins(cfg.acc, self.sum_signs()))
            self.cover_points()

    # -- to implement -----------------------------------------------------------------------
    def sample(self):
        """Read one output after a rising edge, or return ``None`` when there is none."""
        raise NotImplementedError

    def sum_signs(self) -> tuple[bool, bool]:
        """Whether an input can add a positive, and a negative, amount to the accumulator
        (which overflow bins apply); by default from the weight and activation ranges."""
        w, a = self.cfg.weight, self.cfg.activation
        return product_signs((w.min, w.max), (a.min, a.max))

    def cover_points(self) -> None:
        """Declare the kind's own cover points (``self.coverage.point``); none by default."""

    def cover(self, ports: dict) -> None:
        """Sample the kind's own points for one accepted input (its ports, as the model took
        them); none by default."""

    # -- ports ------------------------------------------------------------------------------
    def idle(self) -> None:
        """Drive every input to zero (reset excluded)."""
        self.dut.in_valid.value = 0
        self.dut.clear.value = 0
        for name in self.inputs:
            getattr(self.dut, name).value = 0

    def set_inputs(self, valid: bool, clear: bool, **ports) -> None:
        """Drive one cycle: a scalar port takes its integer, an array port its elements packed
        (element ``i`` at ``[i*w +: w]``, ``w`` the port width over the element count)."""
        self.dut.in_valid.value = int(valid)
        self.dut.clear.value = int(clear)
        for name, value in ports.items():
            port = getattr(self.dut, name)
            v = np.asarray(value)
            port.value = int(v) if v.ndim == 0 else pack(v.ravel(), len(port) // v.size)

    def model_reset(self) -> None:
        """Return the golden model to its reset state."""
        self.model.reset()

    async def drive_ports(self, valid, clear, ports: dict, tag: str = "") -> None:
        """Drive one cycle per entry of ``valid``/``clear`` with ``ports`` (name -> per-cycle
        values), feeding the model and queueing its outputs; idle afterwards."""
        valid = np.asarray(valid, dtype=bool)
        clear = np.asarray(clear, dtype=bool)
        for i in range(len(valid)):
            v, c = bool(valid[i]), bool(clear[i])
            self.ops += v
            row = {name: values[i] for name, values in ports.items()}
            self.set_inputs(v, c, **row)
            out = self.model.step(v, c, **row)
            self.sample_coverage(v, c, row)
            if out is not None:
                self.expect(out, f"{tag}[{i}] {describe(row)} clear={int(c)}")
            await RisingEdge(self.dut.clk)
        self.idle()

    def sample_coverage(self, valid: bool, clear: bool, ports: dict) -> None:
        """Sample every cover point for one input, after the model has stepped on it."""
        if not self.coverage.enabled:
            return
        if clear:
            self.coverage.sample("clear", "with valid" if valid else "without valid")
        exact = getattr(self.model, "last_sum", None)
        if exact is not None:
            self.coverage.sample("overflow", overflow_hits(self.cfg.acc, exact))
        if valid:
            self.cover(ports)

    @property
    def drain_cycles(self) -> int:
        return self.cfg.latency + 2

    # -- provided ---------------------------------------------------------------------------
    @classmethod
    async def begin(cls, dut):
        """The testbench for the design's config (``QTPE_CONFIG``), started (clock, reset,
        monitor), with ``rng`` seeded from cocotb's seed."""
        tb = cls(dut, load_config())
        tb.rng = make_rng(dut)
        await tb.start()
        return tb

    async def start(self) -> None:
        self.clock = Clock(self.dut.clk, CLOCK_NS, unit="ns")
        self.clock.start()
        self.dut.rst.value = 0
        self.idle()
        await self.reset()
        cocotb.start_soon(self._monitor_loop())

    async def reset(self, cycles: int = 2) -> None:
        """Synchronous reset; in-flight results are dropped with the model's state."""
        self.dut.rst.value = 1
        for _ in range(cycles):
            await RisingEdge(self.dut.clk)
        self.dut.rst.value = 0
        self.model_reset()
        await RisingEdge(self.dut.clk)
        self.expected.clear()

    def expect(self, value, what: str) -> None:
        self.expected.append((value, what))

    async def hold(self, n: int, ports: dict, tag: str = "") -> None:
        """Hold one valid input (no clear) for ``n`` cycles with no Python per cycle, for runs
        long enough to cross a wide accumulator; the model takes the ``n`` inputs at once
        (``model.hold(n, **ports)``, for kinds that accept one input per cycle). Earlier
        outputs are drained and checked first; the outputs of the held inputs are not
        compared one by one: the next input driven checks the sum they left."""
        for _ in range(self.drain_cycles):
            await RisingEdge(self.dut.clk)
        if self.expected:
            self._error(f"{tag}: {len(self.expected)} expected outputs never came")
            self.expected.clear()
        self._monitoring.clear()
        await RisingEdge(self.dut.clk)  # the monitor finishes this edge, then waits
        self.set_inputs(True, False, **ports)
        self.model.hold(n, **ports)
        self.ops += n
        self.sample_coverage(True, False, ports)
        # ``n`` edges with no Python on any: one timer, and the clock in the GPI layer for
        # the while (switched at a rising edge: both start high, so the phase is kept).
        self.clock = self._switch_clock(self.clock, "gpi")
        await Timer((n - 1) * CLOCK_NS + CLOCK_NS // 2, unit="ns")
        await RisingEdge(self.dut.clk)
        self.clock = self._switch_clock(self.clock, "py")
        self.idle()
        await ClockCycles(self.dut.clk, self.drain_cycles)  # the held outputs, unchecked
        self._monitoring.set()

    def _switch_clock(self, clock: Clock, impl: str) -> Clock:
        clock.stop()
        new = Clock(self.dut.clk, CLOCK_NS, unit="ns", impl=impl)
        new.start()
        return new

    async def _monitor_loop(self) -> None:
        while True:
            if not self._monitoring.is_set():
                await self._monitoring.wait()
            await RisingEdge(self.dut.clk)
            await ReadOnly()
            got = self.sample()
            if got is None:
                continue
            if not self.expected:
                self._error(f"unexpected output {got}")
                continue
            want, what = self.expected.popleft()
            self.checked += 1
            if got != want:
                self._error(f"{what}: got {got}, expected {want}")

    def _error(self, text: str) -> None:
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(text)

    async def finish(self) -> None:
        """Wait out the pipeline, then fail on any mismatch, missing or extra output."""
        for _ in range(self.drain_cycles):
            await RisingEdge(self.dut.clk)
        if self.expected:
            self._error(f"{len(self.expected)} expected outputs never came")
        assert not self.errors, "\n".join(self.errors)
        assert self.checked > 0, "no outputs were checked"
        self.dut._log.info("checked %d outputs", self.checked)
        stats = os.environ.get("QTPE_STATS_FILE")
        if stats:  # the power flow counts the MACs of the traced run
            with open(stats, "w") as f:
                json.dump({"ops": self.ops, "macs": self.ops * self.cfg.lanes}, f)
