"""cocotb testbench for ``ShiftAddPE``: driver and golden model over ``tb.common.StreamTestbench``.

Imported only inside a simulator process.
"""

from __future__ import annotations

import numpy as np

from qtpe.hdl.formats import PotType
from qtpe.hdl.kind_shiftadd import ShiftAddConfig
from qtpe.tb.common import StreamTestbench
from qtpe.tb.coverage import min_x_min_lanes
from qtpe.tb.models.formats import Operand
from qtpe.tb.models.shiftadd import ShiftAddModel

__all__ = ["ShiftAddTestbench", "random_codes", "code_for"]


def random_codes(rng: np.random.Generator, cfg: ShiftAddConfig, size) -> np.ndarray:
    """Uniform weight operands: every code of a ``PotType``, corner-rich values for ints."""
    op = Operand(cfg.weight)
    return op.random(rng, size, 0.25 if not op.is_code else 0.0)


def code_for(cfg: ShiftAddConfig, value: int) -> int:
    """The weight operand that decodes to ``value`` (the integer itself for ``int<N>``)."""
    if not Operand(cfg.weight).is_code:
        return value
    return cfg.weight.values().index(value)


class ShiftAddTestbench(StreamTestbench):
    """Drives (valid, clear, weight codes, act, scale) per cycle; checks ``acc`` in order.

    Coverage (besides clear and overflow): ``code``, every code of a pot/potz/apot weight on
    some lane (each its own sign, shift and zero decode); ``min_x_min``, the most-negative
    weight value times the most-negative activation on every lane (weights and activations
    with negative values).
    """

    def __init__(self, dut, cfg: ShiftAddConfig):
        inputs = ("weight", "act") + (("scale",) if cfg.group is not None else ())
        super().__init__(dut, cfg, ShiftAddModel(cfg), inputs)

    def cover_points(self) -> None:
        cfg = self.cfg
        self._codes = None
        if isinstance(cfg.weight, PotType):
            self._codes = [f"code {c} ({v})" for c, v in enumerate(cfg.weight.values())]
            self.coverage.point("code", self._codes)
        if cfg.weight.min < 0 and cfg.activation.min < 0:
            self.coverage.point("min_x_min", [f"lane {i}" for i in range(cfg.lanes)])
        self._min_code = Operand(cfg.weight).extremes()[0]  # the operand of weight.min

    def cover(self, ports: dict) -> None:
        codes = np.ravel(ports["weight"])
        if self._codes is not None:
            self.coverage.sample("code", {self._codes[c] for c in codes.tolist()})
        self.coverage.sample("min_x_min", min_x_min_lanes(
            codes, ports["act"], self._min_code, self.cfg.activation.min))

    def sample(self):
        if not self.dut.out_valid.value:
            return None
        raw = self.dut.acc.value
        return raw.to_signed() if self.cfg.acc.signed else raw.to_unsigned()

    async def drive(self, codes, act, valid=None, clear=None, scale=None, tag: str = "") -> None:
        """Drive one cycle per row of ``codes``/``act`` ((n, lanes)).

        ``valid`` defaults to all ones, ``clear`` and ``scale`` to zeros.
        """
        cfg = self.cfg
        n = len(codes)
        ports = {"weight": np.asarray(codes, dtype=np.int64).reshape(n, cfg.lanes),
                 "act": np.asarray(act, dtype=np.int64).reshape(n, cfg.lanes)}
        if cfg.group is not None:
            ports["scale"] = np.zeros(n, np.int64) if scale is None else np.asarray(scale)
        valid = np.ones(n, dtype=bool) if valid is None else valid
        clear = np.zeros(n, dtype=bool) if clear is None else clear
        await self.drive_ports(valid, clear, ports, tag)
