"""cocotb testbench for ``ShiftAddPE``: driver and golden model over ``tb.common.StreamTestbench``.

Imported only inside a simulator process.
"""

from __future__ import annotations

import numpy as np
from cocotb.triggers import RisingEdge

from qtpe.hdl.config import ShiftAddConfig
from qtpe.hdl.formats import QType
from qtpe.tb.common import StreamTestbench, pack
from qtpe.tb.models.formats import random_operands
from qtpe.tb.models.shiftadd import ShiftAddModel

__all__ = ["ShiftAddTestbench", "random_codes", "code_for"]


def random_codes(rng: np.random.Generator, cfg: ShiftAddConfig, size) -> np.ndarray:
    """Uniform weight codes: every bit pattern of a ``PotType``; ``random_operands`` for ints."""
    if isinstance(cfg.weight, QType):
        return random_operands(rng, cfg.weight, size)
    return rng.integers(0, 1 << cfg.weight.bits, size=size, dtype=np.int64)


def code_for(cfg: ShiftAddConfig, value: int) -> int:
    """A code that decodes to ``value`` (the integer itself for ``int<N>``/``uint<N>``)."""
    if isinstance(cfg.weight, QType):
        return value
    return cfg.weight.values().index(value)


class ShiftAddTestbench(StreamTestbench):
    """Drives (valid, clear, weight codes, act, scale) per cycle; checks ``acc`` in order."""

    def __init__(self, dut, cfg: ShiftAddConfig):
        super().__init__(dut, cfg)
        self.model = ShiftAddModel(cfg)

    def idle(self) -> None:
        dut = self.dut
        dut.in_valid.value = 0
        dut.clear.value = 0
        dut.weight.value = 0
        dut.act.value = 0
        if self.cfg.group is not None:
            dut.scale.value = 0

    def model_reset(self) -> None:
        self.model.reset()

    def sample(self):
        if not self.dut.out_valid.value:
            return None
        raw = self.dut.acc.value
        return raw.to_signed() if self.cfg.acc.signed else raw.to_unsigned()

    async def drive(self, codes, act, valid=None, clear=None, scale=None, tag: str = "") -> None:
        """Drive one cycle per row of ``codes``/``act`` ((n, lanes)).

        ``valid`` defaults to all ones, ``clear`` and ``scale`` to zeros.
        """
        cfg, dut = self.cfg, self.dut
        n = len(codes)
        codes = np.asarray(codes, dtype=np.int64).reshape(n, cfg.lanes)
        act = np.asarray(act, dtype=np.int64).reshape(n, cfg.lanes)
        valid = np.ones(n, dtype=bool) if valid is None else np.asarray(valid, dtype=bool)
        clear = np.zeros(n, dtype=bool) if clear is None else np.asarray(clear, dtype=bool)
        scale = np.zeros(n, dtype=np.int64) if scale is None else np.asarray(scale, np.int64)
        for i in range(n):
            v, c, s = bool(valid[i]), bool(clear[i]), int(scale[i])
            dut.in_valid.value = int(v)
            dut.clear.value = int(c)
            dut.weight.value = pack(codes[i], cfg.weight.bits)
            dut.act.value = pack(act[i], cfg.activation.bits)
            if cfg.group is not None:
                dut.scale.value = s
            out = self.model.step(v, c, codes[i], act[i], s)
            if out is not None:
                self.expect(out, f"{tag}[{i}] codes={codes[i].tolist()} a={act[i].tolist()} "
                                 f"clear={int(c)} scale={s}")
            await RisingEdge(dut.clk)
        self.idle()
