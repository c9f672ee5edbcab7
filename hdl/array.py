"""R x C systolic arrays of PEs: output-stationary and weight-stationary, skew inside.

A GEMM ``C = A @ W`` (``A`` activations M x K, ``W`` weights K x N) is cut into tiles by the
user (``qtpe.tb.models.schedule.schedule`` does it); the array takes plain, unskewed vectors: one
input *beat* per cycle carries a vector of activations (one per array row) and a vector of
weights (one per array column), each element ``lanes`` operands wide (lane ``l`` of row ``r`` at
bits ``[(r*lanes + l)*A +: A]`` of ``a_in``, likewise ``w_in``). Results leave as plain rows of
``C``: one vector of ``cols`` results per ``out_valid`` cycle. The skew of the operands and the
de-skew of the results are inside. ``latency`` and the other timing values are properties of
``ArrayConfig``; tests and drivers read them, never hard-code them.

Common ports (besides ``clk``/``rst``, synchronous active-high reset): ``in_valid``/``in_ready``
(a beat is accepted when both are high; operands of cycles without an accepted beat are
ignored: they enter the array as zeros), ``a_in``, ``w_in``, ``in_last``, ``out_valid``,
``out_data`` (``cols`` results, format ``config.out_type``). No backpressure on the output: the
consumer takes every ``out_valid`` row.

**Output-stationary** (``Dataflow.OS``; PE ``(r, c)`` owns ``C[m0 + r, n0 + c]`` of an R x C
output tile): a tile is ``Kt`` beats, beat ``k`` carrying ``a_in[r] = A[m0 + r, k]`` and
``w_in[c] = W[k, n0 + c]`` (``lanes`` consecutive k per beat); ``in_last`` marks the tile's
last beat, the next beat starts the next tile (the PEs clear on a tile's first beat).
Activations flow right along rows, weights down columns; PE ``(r, c)`` works on a beat
``r + c + 1`` cycles after it was accepted (the ``clear``/``last`` controls ride a shared
diagonal delay line, one tap per anti-diagonal ``r + c``). When PE ``(r, c)`` finishes its sum,
the sum moves to the PE's drain register and the accumulator starts the next tile at once
(overlap: the drain registers are the shadow accumulators). ``drain_start`` = ``R + C + L``
cycles after a tile's ``last`` beat (``L`` = PE latency) all drain registers hold the tile; they
then shift up one row per cycle, so the tile leaves the top as R consecutive ``out_valid``
rows, row ``r`` = ``C[m0 + r, n0 : n0 + C]``, first row at ``latency`` cycles after the
``last`` beat. A next ``last`` beat may follow no sooner than ``min_tile_period`` =
``2R + C - 2`` cycles (``in_ready`` is low while ``in_last`` is high and it would come too
soon; other beats are always ready), so tiles with ``Kt >= 2R + C - 2`` stream back to back
with every PE busy.

**Weight-stationary** (``Dataflow.WS``; PE ``(r, c)`` holds one weight ``lanes`` wide): beats
come in *periods* of exactly R beats (counted from reset). Beat ``j`` of a period carries
``w_in[c] = W[k0 + j, n0 + c]``, row ``j`` of the weight tile that the *next* period uses
(double buffering: it shifts down the columns into the shadow registers while this period
computes with the active ones; PE row ``R-1-j`` keeps it), and ``a_in[j] = A[m, k0' + j]``,
one activation row (reduction offsets ``j``) against the weights loaded in the previous period.
``in_first``/``in_last`` mark the beat's activation row as the first/last reduction tile of its
sum. Activations flow right, partial sums (exact) flow down; each column ends in an
accumulator ring of R entries, one per beat of a period: the beat's partial sum is added to
its entry (``in_first``: to 0) and wrapped or saturated to the accumulator format; a beat with
``in_last`` puts out its row ``C[m, n0 : n0 + C]`` ``latency`` = ``R + C + 1`` cycles later.
The first period of a stream only loads weights (send ``in_first`` = ``in_last`` = 0; its
activations are don't-care); ``in_ready`` is always high.

**Bit-serial cells** (``pe = "bitserial"``, built by ``qtpe.hdl.array_bitserial``): same beats,
ports and results, but every op runs at full precision ``k = weight.bits``
(``config.beat_cycles``), one weight bit-plane per cycle, MSB first: an accepted beat occupies
``k`` cycles, so ``in_ready`` is low for the ``k - 1`` cycles after it (OS: and the ``last``
rule above; WS: ``in_ready`` is high otherwise). Peak ``R * C * lanes / k`` MACs per cycle. OS
timing as above with ``L = k`` (``latency`` = ``R + C + k`` after a tile's ``last`` beat;
``min_tile_period`` = ``2R + C - 2`` cycles); WS ``latency`` = ``R + C + k`` after a beat with
``in_last``. Results are the same as the MAC array's (exact sums until the accumulator).

Reset (synchronous) clears the control: the delay lines, the tile and period counters and the
valid flags. Datapath registers (operand pipelines, PE accumulators, drain registers, weights,
partial sums, accumulator rings) have no reset: the protocol never uses one before it is
written (a PE accumulator restarts on its tile's first beat).

**Requantization** (``config.requant``): the accumulator rows above appear on ``acc_valid`` /
``acc_data``; in each cycle with ``acc_valid`` the array reads the row's per-column ``rq_scale``
and ``rq_shift`` and shows ``clamp(round(acc * scale / 2^shift), -128, 127)`` (ties toward
+infinity, see ``Requant``) on ``out_valid``/``out_data`` one cycle later.
"""

from __future__ import annotations

from typing import ClassVar

from amaranth.hdl import (
    ClockDomain,
    ClockSignal,
    Const,
    DomainRenamer,
    Module,
    Mux,
    Signal,
    signed,
    unsigned,
)
from amaranth.lib import data
from amaranth.lib.wiring import In, Out

from .array_config import ArrayConfig, Dataflow
from .array_parts import (
    delay,
    delay_line,
    gated,
    os_drain,
    register_chain,
    tile_ready,
    ws_beats,
    ws_ring,
    ws_weight,
)
from .kinds import kind_of
from .pe import ConfigComponent
from .shapes import acc_shape, wire_shape

__all__ = ["SystolicArray", "Cell"]


class Cell:
    """How an array builds the cells of one PE kind (a kind's ``Kind.cell``).

    The default dataflows here are those of single-cycle PEs with operand registers (MAC,
    shift-add, LUT): output-stationary arrays instantiate the kind's PE component (``pe``)
    per cell, with ``in_valid`` high, its ``clear`` on the anti-diagonal delay line, the
    weight and the row operand (``row_port``); weight-stationary arrays build the kind's exact
    dot product per cell (``ws_dot``) and sum it down the columns. A kind with other timing
    (bit-serial) overrides ``elaborate_os`` / ``elaborate_ws``.

    Contract of ``pe``: ports ``in_valid``, ``clear``, ``weight`` (``lanes`` codes), the row
    operand, ``acc``; ``config.pe_latency`` cycles from an input to the ``acc`` that includes
    it; one input per cycle.
    """

    #: The PE component an output-stationary cell instantiates.
    pe: ClassVar[type]
    #: The PE port that takes what flows along a row.
    row_port: ClassVar[str] = "act"

    def __init__(self, config: ArrayConfig):
        self.array = config
        self.config = config.pe_config

    def row_operands(self, m: Module, entry, r: int) -> list:
        """What PE ``(r, c)`` reads along row ``r``, for every ``c``: ``entry`` (the row's
        skewed activations) registered ``c + 1`` times."""
        reg = Signal(entry.shape(), name=f"act_r{r}_c0", reset_less=True)
        m.d.sync += reg.eq(entry)
        return register_chain(m, reg, self.array.cols, lambda c: f"act_r{r}_c{c}")

    def ws_dot(self, m: Module, weight, row_operand, name: str):
        """The exact dot product of one weight-stationary cell's ``lanes`` pairs (signals
        named after ``name`` = ``r{r}_c{c}``)."""
        raise NotImplementedError

    # -- output-stationary ------------------------------------------------------------------
    def elaborate_os(self, array: SystolicArray, m: Module, acc_valid, acc_data) -> None:
        cfg = self.array
        rows, cols, lat = cfg.rows, cfg.cols, cfg.pe_latency
        acc = acc_shape(cfg.acc)

        accept = Signal(name="accept")
        m.d.comb += accept.eq(array.in_valid & array.in_ready)
        m.d.comb += array.in_ready.eq(tile_ready(m, cfg, accept, array.in_last))

        # The next accepted beat starts a tile (after reset and after a 'last' beat).
        tile_first = Signal(init=1, name="tile_first")
        with m.If(accept):
            m.d.sync += tile_first.eq(array.in_last)
        clear0, last0 = Signal(name="clear"), Signal(name="last")
        m.d.comb += [clear0.eq(accept & tile_first), last0.eq(accept & array.in_last)]
        taps = rows + cols + lat
        clear = delay_line(m, clear0, rows + cols, "clear")
        last = delay_line(m, last0, taps, "last")

        a_edge = gated(m, array.a_in, accept, "a_edge")
        w_edge = gated(m, array.w_in, accept, "w_edge")
        acts = [self.row_operands(m, delay(m, a_edge[r], r, f"a_skew_r{r}"), r)
                for r in range(rows)]
        wgts = [[None] * cols for _ in range(rows)]
        for c in range(cols):
            prev = delay(m, w_edge[c], c, f"w_skew_c{c}")
            for r in range(rows):
                reg = Signal(w_edge[c].shape(), name=f"wgt_r{r}_c{c}", reset_less=True)
                m.d.sync += reg.eq(prev)
                wgts[r][c] = prev = reg

        # The PEs run in a reset-less copy of the clock domain: an accumulator is cleared by its
        # tile's first beat, so a reset would only add a 32-bit-per-PE reset net.
        m.domains.pe = pe_domain = ClockDomain("pe", reset_less=True, local=True)
        m.d.comb += pe_domain.clk.eq(ClockSignal())
        accs = [[None] * cols for _ in range(rows)]
        for r in range(rows):
            for c in range(cols):
                pe = DomainRenamer("pe")(self.pe(self.config))
                m.submodules[f"pe_r{r}_c{c}"] = pe
                a = Signal(acc, name=f"acc_r{r}_c{c}")
                m.d.comb += [
                    pe.in_valid.eq(1),
                    pe.clear.eq(clear[r + c + 1]),
                    pe.weight.eq(wgts[r][c]),
                    getattr(pe, self.row_port).eq(acts[r][c]),
                    a.eq(pe.acc),
                ]
                accs[r][c] = a

        os_drain(m, cfg, accs, last, 1 + lat, acc_valid, acc_data)

    # -- weight-stationary ------------------------------------------------------------------
    def elaborate_ws(self, array: SystolicArray, m: Module, acc_valid, acc_data) -> None:
        cfg = self.array
        rows, cols, lanes = cfg.rows, cfg.cols, cfg.lanes
        num = signed if cfg.signed else unsigned

        accept = Signal(name="accept")
        m.d.comb += [array.in_ready.eq(1), accept.eq(array.in_valid)]
        valid0 = Signal(name="valid")
        first0, last0 = Signal(name="first"), Signal(name="last")
        m.d.comb += [
            valid0.eq(accept), first0.eq(accept & array.in_first),
            last0.eq(accept & array.in_last),
        ]
        beats, swap0 = ws_beats(m, cfg, accept)
        ring_tap = rows + cols
        valid = delay_line(m, valid0, ring_tap + 1, "valid")
        swap = delay_line(m, swap0, rows + cols - 1, "swap")
        first = delay_line(m, first0, ring_tap + 1, "first")
        last = delay_line(m, last0, ring_tap + 1, "last")

        a_edge = gated(m, array.a_in, accept, "a_edge")
        w_edge = gated(m, array.w_in, accept, "w_edge")
        # a_in[j] (reduction offset j) goes to PE row R-1-j: weight row j, sent j-th, shifts
        # down the column and stops in row R-1-j.
        acts = [self.row_operands(m, delay(m, a_edge[rows - 1 - r], r, f"a_skew_r{r}"), r)
                for r in range(rows)]

        psums_out = []
        for c in range(cols):
            shadow = delay(m, w_edge[c], c, f"w_skew_c{c}")
            psum = None
            for r in range(rows):
                shadow, active = ws_weight(m, r, c, shadow, valid, beats, swap)
                dot = self.ws_dot(m, active, acts[r][c], f"r{r}_c{c}")
                width = cfg.product_bits + ((r + 1) * lanes - 1).bit_length()
                nxt = Signal(num(width), name=f"psum_r{r}_c{c}", reset_less=True)
                m.d.sync += nxt.eq(dot if psum is None else psum + dot)
                psum = nxt
            psums_out.append(delay(m, psum, cols - 1 - c, f"psum_deskew_c{c}"))

        # Accumulator rings: entry 0 is the oldest beat of the period, entry R-1 the newest.
        for c in range(cols):
            ws_ring(m, cfg, c, psums_out[c], valid[ring_tap], first[ring_tap], acc_data[c])
        m.d.sync += acc_valid.eq(last[ring_tap])  # 'last' beats are valid beats


class SystolicArray(ConfigComponent):
    """R x C systolic array; see the module docstring for the ports, protocol and timing.

    The cells are the PE kind's (``qtpe.hdl.kinds``: ``Kind.cell``, a ``Cell``)."""

    def __init__(self, config: ArrayConfig):
        if not isinstance(config, ArrayConfig):
            raise TypeError(f"SystolicArray needs an ArrayConfig, not {type(config).__name__}")
        pe = config.pe_config
        lanes = config.lanes
        a_row = data.ArrayLayout(wire_shape(pe.activation), lanes)
        w_col = data.ArrayLayout(wire_shape(pe.weight), lanes)
        members = {
            "in_valid": In(1),
            "in_ready": Out(1),
            "in_last": In(1),
            "a_in": In(data.ArrayLayout(a_row, config.rows)),
            "w_in": In(data.ArrayLayout(w_col, config.cols)),
        }
        if config.dataflow is Dataflow.WS:
            members["in_first"] = In(1)
        rq = config.requantizer
        if rq is not None:
            members |= {
                "rq_scale": In(data.ArrayLayout(unsigned(rq.scale_bits), config.cols)),
                "rq_shift": In(data.ArrayLayout(unsigned(rq.shift_bits), config.cols)),
                "acc_valid": Out(1),
                "acc_data": Out(data.ArrayLayout(acc_shape(config.acc), config.cols)),
            }
        out = wire_shape(config.out_type) if config.requant else acc_shape(config.acc)
        members |= {
            "out_valid": Out(1),
            "out_data": Out(data.ArrayLayout(out, config.cols)),
        }
        super().__init__(config, members)

    @property
    def rows(self) -> int:
        return self._config.rows

    @property
    def cols(self) -> int:
        return self._config.cols

    @property
    def dataflow(self) -> Dataflow:
        return self._config.dataflow

    def elaborate(self, platform):
        m = Module()
        cfg = self._config
        if cfg.requant:
            acc_valid, acc_data = self.acc_valid, self.acc_data
        else:
            acc_valid, acc_data = self.out_valid, self.out_data
        cell_class = kind_of(cfg).cell_class
        if cell_class is None:
            raise TypeError(f"pe = {cfg.pe!r} has no array cells")
        cell = cell_class(cfg)
        if cfg.dataflow is Dataflow.OS:
            cell.elaborate_os(self, m, acc_valid, acc_data)
        else:
            cell.elaborate_ws(self, m, acc_valid, acc_data)
        if cfg.requant:
            self._elaborate_requant(m)
        return m

    # -- requantization ---------------------------------------------------------------------
    def _elaborate_requant(self, m):
        cfg = self._config
        rq = cfg.requantizer
        out = cfg.out_type
        m.d.sync += self.out_valid.eq(self.acc_valid)
        for c in range(cfg.cols):
            x = self.acc_data[c]
            if not cfg.acc.signed:
                x = x.as_unsigned()
            scale = self.rq_scale[c]
            shift = self.rq_shift[c]
            prod = Signal(signed(rq.product_bits), name=f"rq_product_c{c}")
            half = Signal(signed(rq.product_bits), name=f"rq_half_c{c}")
            shifted = Signal(signed(rq.product_bits), name=f"rq_shifted_c{c}")
            m.d.comb += [
                half.eq((Const(1, unsigned(rq.max_shift + 1)) << shift) >> 1),
                prod.eq(x * scale + half),
                shifted.eq(prod >> shift),
            ]
            with m.If(self.acc_valid):
                m.d.sync += self.out_data[c].eq(Mux(
                    shifted > out.max, out.max, Mux(shifted < out.min, out.min, shifted)))
