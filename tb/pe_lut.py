"""cocotb testbench for ``LutTile``: driver and golden model over ``tb.common.StreamTestbench``.

Imported only inside a simulator process.
"""

from __future__ import annotations

import numpy as np

from qtpe.hdl.kind_lut import LutConfig
from qtpe.tb.common import StreamTestbench
from qtpe.tb.models.lut import LutModel, tile_ports

__all__ = ["LutTestbench"]


class LutTestbench(StreamTestbench):
    """Drives (valid, clear, act, every PE's codes and zero point) per cycle; on ``out_valid``
    checks every PE's accumulator in order (``sample`` returns one tuple per output)."""

    def __init__(self, dut, cfg: LutConfig):
        inputs = ("act", *tile_ports(cfg, np.zeros((cfg.sharing, cfg.g), np.int64)))
        super().__init__(dut, cfg, LutModel(cfg), inputs)
        self.acc_ports = [getattr(dut, f"acc_p{p}") for p in range(cfg.sharing)]

    def sample(self):
        if not self.dut.out_valid.value:
            return None
        return tuple(port.value.to_signed() for port in self.acc_ports)

    async def drive(self, codes, act, valid=None, clear=None, zero=None, tag: str = "") -> None:
        """One cycle per row: ``codes`` ``(n, sharing, g)`` (or ``(n, g)``, the same codes for
        every PE), ``act`` ``(n, g)``, ``zero`` ``(n, sharing)`` or ``(n,)``; ``valid``
        defaults to all ones, ``clear`` and ``zero`` to zeros."""
        cfg = self.cfg
        n = len(act)
        codes = np.broadcast_to(np.asarray(codes, np.int64).reshape(n, -1, cfg.g),
                                (n, cfg.sharing, cfg.g))
        zero = np.zeros(n, np.int64) if zero is None else np.asarray(zero, np.int64)
        zero = np.broadcast_to(zero.reshape(n, -1), (n, cfg.sharing))
        ports = {"act": np.asarray(act, dtype=np.int64).reshape(n, cfg.g)}
        rows = [tile_ports(cfg, codes[i], zero[i]) for i in range(n)]
        ports |= {name: np.array([r[name] for r in rows]) for name in rows[0]} if n else {}
        valid = np.ones(n, dtype=bool) if valid is None else valid
        clear = np.zeros(n, dtype=bool) if clear is None else clear
        await self.drive_ports(valid, clear, ports, tag)
