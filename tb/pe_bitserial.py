"""cocotb testbench for ``BitSerialPE``: handshake driver, model and cycle checks.

Imported only inside a simulator process. Besides the values (in order, through
``StreamTestbench``), every accepted op and every result is checked against the documented
timing: an op is accepted ``cycles_per_op(k)`` cycles after the previous one when it waits
(``max`` with the cycle it was first offered), and its result (if it has one) shows
``result_latency(k) - 1`` clock edges after its accept edge.

Coverage (besides the shared bins; a clear acts only with an op, so only ``clear: with
valid``): ``precision``, every precision ``k`` = 1..max an op ran at and the out-of-range
``wbits`` values that run at the maximum (0, and above the maximum where the port holds one);
``min_x_min`` (``dtype = "int"``, signed weights and activations), the most-negative weight of
the op's ``int<k>`` grid times the most-negative activation, on every lane.
"""

from __future__ import annotations

from collections import deque

import cocotb
import numpy as np
from cocotb.triggers import ReadOnly, RisingEdge

from qtpe.hdl.kind_bitserial import BitSerialConfig, BitSerialDType
from qtpe.tb.common import StreamTestbench
from qtpe.tb.coverage import min_x_min_lanes, product_signs
from qtpe.tb.models.bitserial import BitSerialModel

__all__ = ["BitSerialTestbench"]


class BitSerialTestbench(StreamTestbench):
    """Drives ops through ``in_valid``/``in_ready``; checks ``acc`` on ``out_valid``.

    ``cycle`` counts rising edges since ``start``; ``accepts`` and ``out_cycles`` record the
    edge of every accepted op and every result, for tests that measure them.
    """

    clear_bins = ("with valid",)

    def __init__(self, dut, cfg: BitSerialConfig):
        inputs = ["wbits", "weight", "act"]
        if cfg.group is not None:
            inputs.append("scale")
        if cfg.dtype is BitSerialDType.SPECIAL:
            inputs.append("special")
        elif cfg.dtype is BitSerialDType.OFFSET:
            inputs.append("zero")
        super().__init__(dut, cfg, BitSerialModel(cfg), tuple(inputs))
        self.cycle = 0
        self.accepts: list[int] = []
        self.out_cycles: list[int] = []
        self.want_cycles: deque[int] = deque()
        self.last_accept: tuple[int, int] | None = None  # (edge, k) of the latest op

    # -- StreamTestbench --------------------------------------------------------------------
    def sum_signs(self) -> tuple[bool, bool]:
        """The weight values an op can mean: its grid, the special value, ``q - zero``."""
        cfg = self.cfg
        lo, hi = cfg.weight.min, cfg.weight.max
        if cfg.dtype is BitSerialDType.SPECIAL:
            half = 1 << (cfg.special_bits - 1)
            lo, hi = min(lo, -half), max(hi, half - 1)
        elif cfg.dtype is BitSerialDType.OFFSET:
            lo = -((1 << cfg.special_bits) - 1)
        a = cfg.activation
        return product_signs((lo, hi), (a.min, a.max))

    def cover_points(self) -> None:
        cfg = self.cfg
        W = cfg.weight.bits
        labels = [f"k={k}" for k in range(1, W + 1)] + [f"wbits=0 (k={W})"]
        if (1 << cfg.wbits_bits) - 1 > W:
            labels.append(f"wbits>{W} (k={W})")
        self.coverage.point("precision", labels)
        if cfg.dtype is BitSerialDType.INT and cfg.weight.signed and cfg.activation.signed:
            self.coverage.point("min_x_min", [f"lane {i}" for i in range(cfg.lanes)])

    def cover(self, ports: dict) -> None:
        cfg = self.cfg
        wbits = int(ports["wbits"])
        k = cfg.effective_wbits(wbits)
        W = cfg.weight.bits
        self.coverage.sample("precision", f"k={k}" if k == wbits else
                             f"wbits=0 (k={W})" if wbits == 0 else f"wbits>{W} (k={W})")
        if cfg.dtype is BitSerialDType.INT:  # int<k>'s most-negative code: the sign bit alone
            codes = [w & ((1 << k) - 1) for w in np.ravel(ports["weight"]).tolist()]
            self.coverage.sample("min_x_min", min_x_min_lanes(
                codes, ports["act"], 1 << (k - 1), cfg.activation.min))

    async def start(self) -> None:
        cocotb.start_soon(self._count_edges())
        await super().start()

    async def _count_edges(self) -> None:
        while True:
            await RisingEdge(self.dut.clk)
            self.cycle += 1

    def model_reset(self) -> None:
        super().model_reset()
        self.want_cycles.clear()
        self.last_accept = None

    def sample(self):
        if not self.dut.out_valid.value:
            return None
        self.out_cycles.append(self.cycle)
        if self.want_cycles:
            want = self.want_cycles.popleft()
            if want != self.cycle:
                self._error(f"result at edge {self.cycle}, expected at edge {want} "
                            f"(accept edge + result_latency(k) - 1)")
        raw = self.dut.acc.value
        return raw.to_signed() if self.cfg.acc.signed else raw.to_unsigned()

    # -- driver -----------------------------------------------------------------------------
    async def drive(self, weight, act, wbits, clear=None, scale=None, special=None, zero=None,
                    gaps=None, tag: str = "") -> None:
        """Offer n ops in order, each held until accepted; ``gaps[i]`` idle cycles before op i.

        ``weight``/``act``: (n, lanes) (weight fields may carry bits above the precision);
        ``wbits``: (n,); the other per-op arrays default to zeros.
        """
        cfg, dut = self.cfg, self.dut
        n = len(wbits)
        w = np.asarray(weight, dtype=np.int64).reshape(n, cfg.lanes)
        a = np.asarray(act, dtype=np.int64).reshape(n, cfg.lanes)
        zeros = np.zeros(n, dtype=np.int64)
        clear = zeros if clear is None else np.asarray(clear, dtype=np.int64)
        scale = zeros if scale is None else np.asarray(scale)
        special = zeros if special is None else np.asarray(special)
        zero = zeros if zero is None else np.asarray(zero)
        gaps = zeros if gaps is None else np.asarray(gaps)
        for i in range(n):
            if gaps[i]:
                self.idle()
                for _ in range(int(gaps[i])):
                    await RisingEdge(dut.clk)
            k = cfg.effective_wbits(int(wbits[i]))
            ports = {"wbits": wbits[i], "weight": w[i], "act": a[i], "scale": scale[i],
                     "special": special[i], "zero": zero[i]}
            self.set_inputs(True, bool(clear[i]), **{n: ports[n] for n in self.inputs})
            offered = None
            while True:
                await ReadOnly()
                ready = bool(dut.in_ready.value)
                edge = self.cycle + 1  # the edge that samples this cycle's inputs
                offered = edge if offered is None else offered
                await RisingEdge(dut.clk)
                if ready:
                    break
            what = f"{tag}[{i}] k={k} w={w[i].tolist()} a={a[i].tolist()} clear={int(clear[i])}"
            if self.last_accept is not None:
                prev_edge, prev_k = self.last_accept
                want = max(prev_edge + self.cfg.cycles_per_op(prev_k), offered)
                if edge != want:
                    self._error(f"{what}: accepted at edge {edge}, expected {want} "
                                f"(previous op k={prev_k} accepted at {prev_edge})")
            self.last_accept = (edge, k)
            self.accepts.append(edge)
            self.ops += 1
            out = self.model.step(True, bool(clear[i]), **ports)
            self.sample_coverage(True, bool(clear[i]), ports)
            if out is not None:
                self.expect(out, what)
                self.want_cycles.append(edge + cfg.result_latency(k) - 1)
        self.idle()
