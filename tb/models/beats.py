"""The memory words of the GEMM simulation harness (``qtpe.gen.harness``): input beats,
requantization parameters and result rows, as the hex lines ``$readmemh``/``$writememh`` use.

``BeatLayout`` is the bit layout of a word; ``pack_beats``/``pack_requant`` write a
``qtpe.tb.models.schedule.Schedule`` as words, ``unpack_rows`` reads result words back. The
file names are those the harness opens in its working folder. Pure numpy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qtpe.hdl.array_config import ArrayConfig, Dataflow

from .operands import ceil_div
from .schedule import Schedule

__all__ = ["BEATS_FILE", "RQ_FILE", "RESULTS_FILE", "BeatLayout", "beat_layout", "pack_beats",
           "pack_requant", "unpack_rows"]

# Files the simulation harness (``qtpe.gen.harness``) reads and writes in its working folder.
BEATS_FILE = "gemm_beats.hex"
RQ_FILE = "gemm_rq.hex"
RESULTS_FILE = "gemm_results.hex"


@dataclass(frozen=True)
class BeatLayout:
    """Bit layout of one harness input word: ``a_in`` at 0, ``w_in`` above it, then
    ``in_first`` and ``in_last``, then (arrays with groups) ``s_in`` (``cols`` scales of
    ``g_scale_bits``) and ``z_in`` (``cols`` zero points of ``g_zero_bits``, with zero
    points), then (bit-serial arrays) ``in_wbits``, then (the bit-serial ``special`` type)
    ``x_in`` (``cols`` special values of ``g_special_bits``); and the widths of the result
    and requantization words."""

    a_bits: int
    w_bits: int
    out_bits: int
    out_width: int  # one result
    out_signed: bool
    rq_scale_bits: int = 0
    rq_shift_bits: int = 0
    cols: int = 1
    g_scale_bits: int = 0
    g_zero_bits: int = 0
    wbits_bits: int = 0
    g_special_bits: int = 0

    @property
    def first_bit(self) -> int:
        return self.a_bits + self.w_bits

    @property
    def last_bit(self) -> int:
        return self.first_bit + 1

    @property
    def scale_lo(self) -> int:
        """The lowest bit of ``s_in``."""
        return self.last_bit + 1

    @property
    def zero_lo(self) -> int:
        """The lowest bit of ``z_in``."""
        return self.scale_lo + self.cols * self.g_scale_bits

    @property
    def wbits_lo(self) -> int:
        """The lowest bit of ``in_wbits`` (bit-serial arrays)."""
        return self.zero_lo + self.cols * self.g_zero_bits

    @property
    def special_lo(self) -> int:
        """The lowest bit of ``x_in`` (the bit-serial ``special`` type)."""
        return self.wbits_lo + self.wbits_bits

    @property
    def beat_bits(self) -> int:
        return self.special_lo + self.cols * self.g_special_bits

    @property
    def rq_bits(self) -> int:
        """Width of a requantization word: ``cols`` scales, then ``cols`` shifts."""
        return self.cols * (self.rq_scale_bits + self.rq_shift_bits)


def beat_layout(cfg: ArrayConfig) -> BeatLayout:
    """The words of ``cfg``'s harness: ``a_in`` R activations (IS: C), ``w_in`` C weights
    (IS: R * C), results and requantization parameters ``out_cols`` wide (IS: 1)."""
    rq = cfg.requantizer
    out = cfg.out_type
    is_ = cfg.dataflow is Dataflow.IS
    return BeatLayout(
        a_bits=(cfg.cols if is_ else cfg.rows) * cfg.lanes * cfg.activation.bits,
        w_bits=(cfg.rows * cfg.cols if is_ else cfg.cols) * cfg.lanes * cfg.weight.bits,
        out_bits=cfg.out_cols * out.bits,
        out_width=out.bits,
        out_signed=out.signed,
        rq_scale_bits=rq.scale_bits if rq else 0,
        rq_shift_bits=rq.shift_bits if rq else 0,
        cols=cfg.out_cols,
        g_scale_bits=cfg.scale_bits if cfg.group_size else 0,
        g_zero_bits=cfg.zero_bits if cfg.zero_points else 0,
        wbits_bits=cfg.pe_config.wbits_bits if cfg.pe_config.ARRAY_WBITS else 0,
        g_special_bits=cfg.pe_config.special_bits if cfg.specials else 0,
    )


def _fields_to_bits(values: np.ndarray, width: int) -> np.ndarray:
    """(n, f) integers -> (n, f * width) bits, field 0 lowest, LSB first."""
    v = values.astype(np.int64) & ((1 << width) - 1)
    bits = (v[:, :, None] >> np.arange(width)[None, None, :]) & 1
    return bits.reshape(v.shape[0], -1).astype(np.uint8)


def _bits_to_hex(bits: np.ndarray) -> list[str]:
    """(n, b) LSB-first bits -> hex lines (MSB first)."""
    n, b = bits.shape
    nib = ceil_div(b, 4) * 4
    padded = np.zeros((n, ceil_div(nib, 8) * 8), dtype=np.uint8)
    padded[:, :b] = bits
    msb_first = padded[:, ::-1]
    raw = np.packbits(msb_first, axis=1)
    lines = [row.tobytes().hex() for row in raw]
    extra = (padded.shape[1] - nib) // 4  # leading zero nibbles from byte padding
    return [line[extra:] for line in lines]


def pack_beats(cfg: ArrayConfig, sched: Schedule) -> list[str]:
    """One hex word per beat (``BeatLayout``) for the harness's ``$readmemh``."""
    n = sched.beats
    bits = np.concatenate([
        _fields_to_bits(sched.a.reshape(n, -1), cfg.activation.bits),
        _fields_to_bits(sched.w.reshape(n, -1), cfg.weight.bits),
        sched.first[:, None].astype(np.uint8),
        sched.last[:, None].astype(np.uint8),
        *([_fields_to_bits(sched.g_scale, cfg.scale_bits)] if cfg.group_size else []),
        *([_fields_to_bits(sched.g_zero, cfg.zero_bits)] if cfg.zero_points else []),
        *([_fields_to_bits(sched.wbits[:, None], cfg.pe_config.wbits_bits)]
          if cfg.pe_config.ARRAY_WBITS else []),
        *([_fields_to_bits(sched.g_special, cfg.pe_config.special_bits)]
          if cfg.specials else []),
    ], axis=1)
    return _bits_to_hex(bits)


def pack_requant(cfg: ArrayConfig, sched: Schedule) -> list[str]:
    """One hex word per result row: ``cols`` scales (column 0 lowest), then ``cols`` shifts."""
    lay = beat_layout(cfg)
    bits = np.concatenate([
        _fields_to_bits(sched.rq_scale, lay.rq_scale_bits),
        _fields_to_bits(sched.rq_shift, lay.rq_shift_bits),
    ], axis=1)
    return _bits_to_hex(bits)


def unpack_rows(cfg: ArrayConfig, text: str) -> np.ndarray:
    """Result words (hex, as ``$writememh`` writes them) -> (rows, out_cols) int64."""
    lines = [t for t in (line.split("//")[0].strip() for line in text.splitlines())
             if t and not t.startswith("@")]
    lay = beat_layout(cfg)
    width = lay.out_width
    out = np.zeros((len(lines), lay.cols), dtype=np.int64)
    mask = (1 << width) - 1
    for i, line in enumerate(lines):
        try:
            word = int(line, 16)
        except ValueError:
            raise ValueError(f"result row {i} is not a defined hex word: {line!r}") from None
        for c in range(lay.cols):
            v = (word >> (c * width)) & mask
            if lay.out_signed and v >> (width - 1):
                v -= 1 << width
            out[i, c] = v
    return out
