"""cocotb testbench for ``LutTile``: driver and golden model over ``tb.common.StreamTestbench``.

Imported only inside a simulator process.
"""

from __future__ import annotations

import functools

import numpy as np

from qtpe.hdl.kind_lut import LutConfig
from qtpe.tb.common import StreamTestbench
from qtpe.tb.coverage import min_x_min_lanes, product_signs
from qtpe.tb.models.lut import LutModel, encode, tile_ports

__all__ = ["LutTestbench"]


class LutTestbench(StreamTestbench):
    """Drives (valid, clear, act, every PE's codes and zero point) per cycle; on ``out_valid``
    checks every PE's accumulator in order (``sample`` returns one tuple per output).

    Coverage (besides clear and overflow), over every PE of the tile: ``index``, every table
    index of every bit-plane lookup (symmetric tables: the indices with bit ``g-1`` set are the
    complemented lookups, ``T_sym(i) = -T_sym(~i)``, labelled so); ``min_x_min``, the smallest
    weight (``weight_range``) times the most-negative activation at every activation position
    (``lane j`` of the ``g``).
    """

    def __init__(self, dut, cfg: LutConfig):
        inputs = ("act", *tile_ports(cfg, np.zeros((cfg.sharing, cfg.g), np.int64)))
        super().__init__(dut, cfg, LutModel(cfg), inputs)
        self.acc_ports = [getattr(dut, f"acc_p{p}") for p in range(cfg.sharing)]

    def _index_label(self, plane: int, index: int) -> str:
        cfg = self.cfg
        half = 1 << (cfg.g - 1)
        if cfg.symmetric and index >= half:
            return f"plane {plane} index {index} (complemented {(1 << cfg.g) - 1 - index})"
        return f"plane {plane} index {index}"

    def sum_signs(self) -> tuple[bool, bool]:
        a = self.cfg.activation
        return product_signs(self.cfg.weight_range, (a.min, a.max))

    def cover_points(self) -> None:
        cfg = self.cfg
        b = cfg.weight.bits
        self._labels = [[self._index_label(k, i) for i in range(1 << cfg.g)] for k in range(b)]
        self.coverage.point("index", [label for plane in self._labels for label in plane])
        self.coverage.point("min_x_min", [f"lane {j}" for j in range(cfg.g)])
        # The code of the smallest weight (uint<b>: code 0 with the largest zero point).
        lo = cfg.weight_range[0]
        self._min_code = 0 if cfg.has_zero else int(encode(cfg, lo))
        self._min_zero = (1 << b) - 1 if cfg.has_zero else 0

    @functools.cache  # noqa: B019 (one testbench per simulator process)
    def _plane_labels(self, codes: tuple[int, ...]) -> frozenset[str]:
        """The index labels of one PE's lookups: plane k's index is bit k of every code."""
        return frozenset(labels[sum(((c >> k) & 1) << j for j, c in enumerate(codes))]
                         for k, labels in enumerate(self._labels))

    def cover(self, ports: dict) -> None:
        cfg = self.cfg
        mask = (1 << cfg.weight.bits) - 1
        codes = [np.ravel(ports[f"weight_p{p}"]).tolist() for p in range(cfg.sharing)]
        hits = set()
        for row in codes:
            hits |= self._plane_labels(tuple(c & mask for c in row))
        self.coverage.sample("index", hits)
        lanes = set()
        for p, row in enumerate(codes):
            if int(ports.get(f"zero_p{p}", 0)) == self._min_zero:
                lanes |= min_x_min_lanes([c & mask for c in row], ports["act"],
                                         self._min_code, cfg.activation.min)
        self.coverage.sample("min_x_min", lanes)

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
