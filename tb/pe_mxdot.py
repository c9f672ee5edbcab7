"""cocotb testbench for ``MxDotPE``: driver and golden model over ``tb.common.StreamTestbench``.

Imported only inside a simulator process.
"""

from __future__ import annotations

import numpy as np

from qtpe.hdl.formats import FloatType, Special, Specials
from qtpe.hdl.kind_mxdot import SCALE_SUM_MAX, SCALE_SUM_MIN, MxDotConfig
from qtpe.tb.common import StreamTestbench
from qtpe.tb.models.fpmac import product_special
from qtpe.tb.models.mxdot import MxDotModel

__all__ = ["MxDotTestbench", "scale_codes"]

PORTS = ("weight", "act", "scale_w", "scale_a")


def scale_codes(xsum: int) -> tuple[int, int]:
    """e8m0 codes ``(scale_w, scale_a)`` whose exponents add up to ``xsum`` (-254 .. 254)."""
    xw = max(-127, min(127, xsum))
    return xw + 127, xsum - xw + 127


def _codes(fmt) -> list[int]:
    """Every element operand: the codes of a float format, the values of ``int8``."""
    if isinstance(fmt, FloatType):
        return list(range(fmt.code_count))
    return list(range(fmt.min, fmt.max + 1))


def _kind(fmt, op: int) -> str:
    """``nan``, ``inf``, ``zero`` or ``finite``: what an element operand is."""
    sp = fmt.special(int(op)) if isinstance(fmt, FloatType) else None
    if sp is not None:
        return "nan" if sp is Special.NAN else "inf"
    value = fmt.decode(int(op)) if isinstance(fmt, FloatType) else int(op)
    return "zero" if value == 0 else "finite"


class MxDotTestbench(StreamTestbench):
    """Drives (valid, clear, weight, act, scale_w, scale_a) per cycle; checks ``(acc,
    special)`` in order on every completed block.

    Coverage (besides clear and overflow), sampled from the stimulus and the model:

    * ``scale``: the scales of a completed block in the window, below it, above it (where
      finite scales get there), NaN ``scale_w``, NaN ``scale_a``;
    * ``window end``: a block at ``scale_min`` (no shift) and at ``scale_max`` (the largest);
    * ``block``: completed; an open block dropped by ``clear`` with and without ``in_valid``
      (one-input blocks: completed with ``clear`` instead);
    * ``element``: a NaN element product, +inf and -inf products and inf x 0 (formats with
      them);
    * ``weight code``, ``act code``: every element code (every ``int8`` value) on some lane.
    """

    def __init__(self, dut, cfg: MxDotConfig):
        super().__init__(dut, cfg, MxDotModel(cfg), PORTS)

    def cover_points(self) -> None:
        cfg = self.cfg
        scale = ["in window", "nan scale_w", "nan scale_a"]
        scale += ["below window"] if cfg.scale_min > SCALE_SUM_MIN else []
        scale += ["above window"] if cfg.scale_max < SCALE_SUM_MAX else []
        self.coverage.point("scale", scale)
        self.coverage.point("window end", ["scale_min", "scale_max"] if cfg.window else
                            ["scale_min = scale_max"])
        self.coverage.point("block", ["completed", "cut by clear with valid",
                                      "cut by clear without valid"] if cfg.block_steps > 1
                            else ["completed", "completed with clear"])
        specials = {f.specials for f in (cfg.weight, cfg.activation) if isinstance(f, FloatType)}
        element = ["nan element"] if specials - {Specials.NONE} else []
        element += ["+inf product", "-inf product", "inf x 0"] if Specials.IEEE in specials \
            else []
        self.coverage.point("element", element)
        self._labels = {}
        for role, fmt in (("weight", cfg.weight), ("act", cfg.activation)):
            self._labels[role] = {c: f"{c}" for c in _codes(fmt)}
            self.coverage.point(f"{role} code", self._labels[role].values())

    def cover(self, ports: dict) -> None:
        cfg, model = self.cfg, self.model
        w, a = np.ravel(ports["weight"]).tolist(), np.ravel(ports["act"]).tolist()
        self.coverage.sample("weight code", {self._labels["weight"][c] for c in w})
        self.coverage.sample("act code", {self._labels["act"][c] for c in a})
        hits = set()
        for x, y in zip(w, a, strict=True):
            kinds = {_kind(cfg.weight, x), _kind(cfg.activation, y)}
            if "nan" in kinds:
                hits.add("nan element")
            elif kinds == {"inf", "zero"}:
                hits.add("inf x 0")
            elif "inf" in kinds:
                sp = product_special(cfg.weight, x, cfg.activation, y)
                hits.add("+inf product" if sp == 1 else "-inf product")
        self.coverage.sample("element", hits)
        if model.last_scale is not None:
            self.coverage.sample("scale", model.last_scale)
            x = model.last_exponent
            if x is not None:
                if not cfg.window:
                    self.coverage.sample("window end", "scale_min = scale_max")
                elif x in (cfg.scale_min, cfg.scale_max):
                    self.coverage.sample("window end",
                                         "scale_min" if x == cfg.scale_min else "scale_max")
            self.coverage.sample("block", "completed")
            if cfg.block_steps == 1 and self._clear:
                self.coverage.sample("block", "completed with clear")

    def sample_coverage(self, valid: bool, clear: bool, ports: dict) -> None:
        self._clear = clear
        super().sample_coverage(valid, clear, ports)
        if self.coverage.enabled and self.model.cut:
            self.coverage.sample("block", "cut by clear with valid" if valid else
                                 "cut by clear without valid")

    def sample(self):
        if not self.dut.out_valid.value:
            return None
        return self.dut.acc.value.to_signed(), int(self.dut.special.value)

    async def drive(self, weight, act, scale_w=None, scale_a=None, valid=None, clear=None,
                    tag: str = "") -> None:
        """Drive one cycle per row of ``weight``/``act`` ((n, lanes)). ``scale_w``/``scale_a``
        default to 127 (2^0), ``valid`` to all ones, ``clear`` to zeros."""
        cfg = self.cfg
        n = len(weight)
        unit = np.full(n, 127, dtype=np.int64)
        ports = {"weight": np.asarray(weight, dtype=np.int64).reshape(n, cfg.lanes),
                 "act": np.asarray(act, dtype=np.int64).reshape(n, cfg.lanes),
                 "scale_w": unit if scale_w is None else np.asarray(scale_w, dtype=np.int64),
                 "scale_a": unit if scale_a is None else np.asarray(scale_a, dtype=np.int64)}
        valid = np.ones(n, dtype=bool) if valid is None else valid
        clear = np.zeros(n, dtype=bool) if clear is None else clear
        await self.drive_ports(valid, clear, ports, tag)
