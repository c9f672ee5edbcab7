"""cocotb testbench for ``MacPE``: driver and golden model over ``tb.common.StreamTestbench``.

Imported only inside a simulator process.
"""

from __future__ import annotations

import numpy as np
from cocotb.triggers import RisingEdge

from qtpe.hdl.config import MacConfig
from qtpe.tb.common import StreamTestbench, pack
from qtpe.tb.models.mac import MacModel

__all__ = ["MacTestbench"]


class MacTestbench(StreamTestbench):
    """Drives (valid, clear, weight, act) per cycle; checks ``acc`` in order on ``out_valid``."""

    def __init__(self, dut, cfg: MacConfig):
        super().__init__(dut, cfg)
        self.model = MacModel(cfg)

    def idle(self) -> None:
        dut = self.dut
        dut.in_valid.value = 0
        dut.clear.value = 0
        dut.weight.value = 0
        dut.act.value = 0

    def model_reset(self) -> None:
        self.model.reset()

    def sample(self):
        if not self.dut.out_valid.value:
            return None
        raw = self.dut.acc.value
        return raw.to_signed() if self.cfg.acc.signed else raw.to_unsigned()

    async def drive(self, weight, act, valid=None, clear=None, tag: str = "") -> None:
        """Drive one cycle per row of ``weight``/``act`` ((n,) or (n, lanes)).

        ``valid`` defaults to all ones, ``clear`` to zeros.
        """
        n = len(weight)
        weight = np.asarray(weight, dtype=np.int64).reshape(n, -1)
        act = np.asarray(act, dtype=np.int64).reshape(n, -1)
        if weight.shape[1] == 1 and self.cfg.lanes > 1:  # broadcast a scalar stream to all lanes
            weight = np.repeat(weight, self.cfg.lanes, axis=1)
            act = np.repeat(act, self.cfg.lanes, axis=1)
        valid = np.ones(n, dtype=bool) if valid is None else np.asarray(valid, dtype=bool)
        clear = np.zeros(n, dtype=bool) if clear is None else np.asarray(clear, dtype=bool)
        dut, cfg = self.dut, self.cfg
        for i in range(n):
            v, c = bool(valid[i]), bool(clear[i])
            dut.in_valid.value = int(v)
            dut.clear.value = int(c)
            dut.weight.value = pack(weight[i], cfg.weight.bits)
            dut.act.value = pack(act[i], cfg.activation.bits)
            out = self.model.step(v, c, weight[i], act[i])
            if out is not None:
                self.expect(int(out), f"{tag}[{i}] w={weight[i].tolist()} "
                                      f"a={act[i].tolist()} clear={int(c)}")
            await RisingEdge(dut.clk)
        self.idle()
