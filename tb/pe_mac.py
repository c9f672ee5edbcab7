"""cocotb testbench for ``MacPE``: driver and golden model over ``tb.common.StreamTestbench``.

Imported only inside a simulator process.
"""

from __future__ import annotations

import numpy as np

from qtpe.hdl.kind_mac import MacConfig
from qtpe.tb.common import StreamTestbench
from qtpe.tb.coverage import min_x_min_lanes
from qtpe.tb.models.mac import MacModel

__all__ = ["MacTestbench"]


class MacTestbench(StreamTestbench):
    """Drives (valid, clear, weight, act) per cycle; checks ``acc`` in order on ``out_valid``.

    Coverage (besides clear and overflow): ``min_x_min``, the most-negative weight times the
    most-negative activation on every lane (signed x signed only: the one product that needs
    all W + A bits).
    """

    def __init__(self, dut, cfg: MacConfig):
        super().__init__(dut, cfg, MacModel(cfg), ("weight", "act"))

    def cover_points(self) -> None:
        cfg = self.cfg
        if cfg.weight.signed and cfg.activation.signed:
            self.coverage.point("min_x_min", [f"lane {i}" for i in range(cfg.lanes)])

    def cover(self, ports: dict) -> None:
        self.coverage.sample("min_x_min", min_x_min_lanes(
            ports["weight"], ports["act"], self.cfg.weight.min, self.cfg.activation.min))

    def sample(self):
        if not self.dut.out_valid.value:
            return None
        raw = self.dut.acc.value
        return raw.to_signed() if self.cfg.acc.signed else raw.to_unsigned()

    async def drive(self, weight, act, valid=None, clear=None, tag: str = "") -> None:
        """Drive one cycle per row of ``weight``/``act`` ((n,) or (n, lanes); a scalar stream
        goes to every lane). ``valid`` defaults to all ones, ``clear`` to zeros."""
        n = len(weight)
        weight = np.asarray(weight, dtype=np.int64).reshape(n, -1)
        act = np.asarray(act, dtype=np.int64).reshape(n, -1)
        if weight.shape[1] == 1 and self.cfg.lanes > 1:
            weight = np.repeat(weight, self.cfg.lanes, axis=1)
            act = np.repeat(act, self.cfg.lanes, axis=1)
        valid = np.ones(n, dtype=bool) if valid is None else valid
        clear = np.zeros(n, dtype=bool) if clear is None else clear
        await self.drive_ports(valid, clear, {"weight": weight, "act": act}, tag)
