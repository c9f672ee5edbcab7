"""cocotb testbench for ``FpMacPE`` (and kinds with its ports): driver and golden model over
``tb.common.StreamTestbench``.

Imported only inside a simulator process.
"""

from __future__ import annotations

import numpy as np

from qtpe.hdl.formats import FloatType
from qtpe.hdl.kinds import kind_of
from qtpe.tb.common import StreamTestbench
from qtpe.tb.models.fpmac import product_special

__all__ = ["FpMacTestbench"]

SPECIAL_NAMES = {0: "finite", 1: "+inf", 2: "-inf", 3: "nan"}


class FpMacTestbench(StreamTestbench):
    """Drives (valid, clear, weight codes, act) per cycle; checks ``acc``, ``special`` and
    ``result`` in order.

    Coverage (besides clear and overflow): ``operand``, each class of weight and activation
    code on some lane (zero, subnormal, normal, max normal, NaN, infinity where the format
    has them); ``special``, every sticky state the formats can reach (finite, NaN, +inf, -inf,
    and +inf + -inf -> NaN).
    """

    def __init__(self, dut, cfg):
        self._signs: set[int] = set()  # infinities added since the last clear
        super().__init__(dut, cfg, kind_of(cfg).model_class(cfg), ("weight", "act"))

    def classes(self, fmt) -> list[str]:
        if not isinstance(fmt, FloatType):
            return ["zero", "negative", "positive"]
        out = ["zero", "subnormal", "normal", "max normal"]
        if fmt.special(fmt.code_count - 1) is not None:
            out.append("nan")
        if str(fmt) == "fp8_e5m2":
            out.append("inf")
        return out

    def classify(self, fmt, op: int) -> str:
        if not isinstance(fmt, FloatType):
            return "zero" if op == 0 else ("negative" if op < 0 else "positive")
        sp = fmt.special(op)
        if sp is not None:
            return "nan" if sp.name == "NAN" else "inf"
        value = abs(fmt.decode(op))
        if value == 0:
            return "zero"
        if value == fmt.max:
            return "max normal"
        return "subnormal" if fmt.fields(op)[1] == 0 else "normal"

    def cover_points(self) -> None:
        cfg = self.cfg
        self.coverage.point("weight", self.classes(cfg.weight))
        self.coverage.point("act", self.classes(cfg.activation))
        if cfg.specials:
            states = ["finite", "nan"] + (["+inf", "-inf", "+inf + -inf"] if cfg.has_inf
                                          else [])
            self.coverage.point("special", states)

    def cover(self, ports: dict) -> None:
        cfg = self.cfg
        w = np.ravel(ports["weight"]).tolist()
        a = np.ravel(ports["act"]).tolist()
        self.coverage.sample("weight", {self.classify(cfg.weight, x) for x in w})
        self.coverage.sample("act", {self.classify(cfg.activation, y) for y in a})
        if cfg.specials:
            bits = {product_special(cfg.weight, x, cfg.activation, y)
                    for x, y in zip(w, a, strict=True)}
            self._signs |= bits & {1, 2}
            hits = {SPECIAL_NAMES[b] for b in bits}
            if self._signs == {1, 2}:  # both infinities in one sum: NaN
                hits.add("+inf + -inf")
            self.coverage.sample("special", hits)

    def sample_coverage(self, valid: bool, clear: bool, ports: dict) -> None:
        if clear:
            self._signs = set()
        super().sample_coverage(valid, clear, ports)

    def sample(self):
        dut = self.dut
        if not dut.out_valid.value:
            return None
        out = [dut.acc.value.to_signed()]
        if self.cfg.specials:
            out.append(dut.special.value.to_unsigned())
        if self.cfg.output.value != "none":
            out.append(dut.result.value.to_unsigned())
        return tuple(out) if len(out) > 1 else out[0]

    async def drive(self, codes, act, valid=None, clear=None, tag: str = "") -> None:
        """Drive one cycle per row of ``codes``/``act`` ((n, lanes)); ``valid`` defaults to
        ones, ``clear`` to zeros."""
        cfg = self.cfg
        n = len(codes)
        ports = {"weight": np.asarray(codes, dtype=np.int64).reshape(n, cfg.lanes),
                 "act": np.asarray(act, dtype=np.int64).reshape(n, cfg.lanes)}
        valid = np.ones(n, dtype=bool) if valid is None else valid
        clear = np.zeros(n, dtype=bool) if clear is None else clear
        await self.drive_ports(valid, clear, ports, tag)
