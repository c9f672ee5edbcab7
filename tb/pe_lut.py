"""cocotb testbench for ``LutTile``: driver and golden model over ``tb.common.StreamTestbench``.

Imported only inside a simulator process.
"""

from __future__ import annotations

import numpy as np
from cocotb.triggers import RisingEdge

from qtpe.hdl.config import LutConfig
from qtpe.tb.common import StreamTestbench, pack
from qtpe.tb.models.lut import LutModel

__all__ = ["LutTestbench"]


class LutTestbench(StreamTestbench):
    """Drives (valid, clear, act, every PE's codes and zero point) per cycle; on ``out_valid``
    checks every PE's accumulator in order (``sample`` returns one tuple per output)."""

    def __init__(self, dut, cfg: LutConfig):
        super().__init__(dut, cfg)
        self.model = LutModel(cfg)
        self.weight_ports = [getattr(dut, f"weight_p{p}") for p in range(cfg.sharing)]
        self.zero_ports = ([getattr(dut, f"zero_p{p}") for p in range(cfg.sharing)]
                           if cfg.has_zero else [])
        self.acc_ports = [getattr(dut, f"acc_p{p}") for p in range(cfg.sharing)]

    def idle(self) -> None:
        dut = self.dut
        dut.in_valid.value = 0
        dut.clear.value = 0
        dut.act.value = 0
        for port in self.weight_ports + self.zero_ports:
            port.value = 0

    def model_reset(self) -> None:
        self.model.reset()

    def sample(self):
        if not self.dut.out_valid.value:
            return None
        return tuple(port.value.to_signed() for port in self.acc_ports)

    def set_inputs(self, valid: bool, clear: bool, codes, act, zero) -> None:
        """Drive one cycle's inputs; ``codes`` ``(sharing, g)`` bit patterns, ``act`` ``(g,)``,
        ``zero`` ``(sharing,)``."""
        cfg, dut = self.cfg, self.dut
        dut.in_valid.value = int(valid)
        dut.clear.value = int(clear)
        dut.act.value = pack(act, cfg.activation.bits)
        for p, port in enumerate(self.weight_ports):
            port.value = pack(codes[p], cfg.weight.bits)
        for p, port in enumerate(self.zero_ports):
            port.value = int(zero[p])

    async def drive(self, codes, act, valid=None, clear=None, zero=None, tag: str = "") -> None:
        """One cycle per row: ``codes`` ``(n, sharing, g)`` (or ``(n, g)``, the same codes for
        every PE), ``act`` ``(n, g)``, ``zero`` ``(n, sharing)`` or ``(n,)``; ``valid``
        defaults to all ones, ``clear`` and ``zero`` to zeros."""
        cfg = self.cfg
        n = len(act)
        codes = np.broadcast_to(np.asarray(codes, np.int64).reshape(n, -1, cfg.g),
                                (n, cfg.sharing, cfg.g))
        act = np.asarray(act, dtype=np.int64).reshape(n, cfg.g)
        zero = np.zeros(n, np.int64) if zero is None else np.asarray(zero, np.int64)
        zero = np.broadcast_to(zero.reshape(n, -1), (n, cfg.sharing))
        valid = np.ones(n, dtype=bool) if valid is None else np.asarray(valid, dtype=bool)
        clear = np.zeros(n, dtype=bool) if clear is None else np.asarray(clear, dtype=bool)
        for i in range(n):
            v, c = bool(valid[i]), bool(clear[i])
            self.set_inputs(v, c, codes[i], act[i], zero[i])
            out = self.model.step(v, c, codes[i], act[i], zero[i])
            if out is not None:
                self.expect(tuple(int(x) for x in out),
                            f"{tag}[{i}] codes={codes[i].tolist()} a={act[i].tolist()} "
                            f"zero={zero[i].tolist()} clear={int(c)}")
            await RisingEdge(self.dut.clk)
        self.idle()
