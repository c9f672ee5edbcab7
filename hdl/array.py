"""R x C systolic arrays of PEs: output-stationary and weight-stationary, skew inside.

A GEMM ``C = A @ W`` (``A`` activations M x K, ``W`` weights K x N) is cut into tiles by the
user (``qtpe.tb.models.array.schedule`` does it); the array takes plain, unskewed vectors: one
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
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from .array_config import ArrayConfig, Dataflow
from .config import PEKind
from .pe_lut import LutPE, LutPrecompute, lut_dot
from .pe_mac import MacPE
from .pe_shiftadd import ShiftAddPE, shiftadd_dot
from .shapes import acc_shape, code_shape, fit_to_acc, operand_shape, tree_sum

__all__ = ["SystolicArray"]

# The PE component an output-stationary array instantiates per kind. Contract: ports
# ``in_valid``, ``clear``, ``weight`` (``lanes`` codes), the row operand (``ROW_PORT``), ``acc``;
# ``config.pe_latency`` cycles from an input to the ``acc`` that includes it; one input per
# cycle.
OS_CELLS = {PEKind.MAC: MacPE, PEKind.SHIFTADD: ShiftAddPE, PEKind.LUT: LutPE}
# The PE port that takes what flows along a row: the activations, or for LUT PEs the row's
# shared table (``_row_operands``).
ROW_PORT = {PEKind.LUT: "table"}


def _mac_dot(m, pe_cfg, weight, act, name: str):
    """The exact dot product of one weight-stationary MAC PE's ``lanes`` pairs."""
    num = signed if pe_cfg.signed else unsigned
    products = []
    for lane in range(pe_cfg.lanes):
        p = Signal(num(pe_cfg.product_bits), name=f"product_{name}_l{lane}")
        m.d.comb += p.eq(weight[lane] * act[lane])
        products.append(p)
    return tree_sum(m, products, num(pe_cfg.dot_bits), f"dot_{name}")


def _shiftadd_dot(m, pe_cfg, weight, act, name: str):
    return shiftadd_dot(m, pe_cfg, weight, act, prefix=f"{name}_")


def _lut_dot(m, pe_cfg, weight, table, name: str):
    return lut_dot(m, pe_cfg, table, weight, prefix=f"{name}_")


# The combinational dot product a weight-stationary array builds per PE kind:
# ``f(m, pe_config, weight, row_operand, name) -> Value`` (exact, ``lanes`` pairs).
WS_CELLS = {PEKind.MAC: _mac_dot, PEKind.SHIFTADD: _shiftadd_dot, PEKind.LUT: _lut_dot}


class SystolicArray(wiring.Component):
    """R x C systolic array; see the module docstring for the ports, protocol and timing."""

    def __init__(self, config: ArrayConfig):
        if not isinstance(config, ArrayConfig):
            raise TypeError(f"SystolicArray needs an ArrayConfig, not {type(config).__name__}")
        self._config = config
        pe = config.pe_config
        lanes = config.lanes
        a_row = data.ArrayLayout(operand_shape(pe.activation), lanes)
        w_col = data.ArrayLayout(code_shape(pe.weight), lanes)
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
        members |= {
            "out_valid": Out(1),
            "out_data": Out(data.ArrayLayout(self._out_shape(config), config.cols)),
        }
        super().__init__(members)

    @staticmethod
    def _out_shape(config: ArrayConfig):
        if config.requant:
            return operand_shape(config.out_type)
        return acc_shape(config.acc)

    @property
    def config(self) -> ArrayConfig:
        return self._config

    @property
    def rows(self) -> int:
        return self._config.rows

    @property
    def cols(self) -> int:
        return self._config.cols

    @property
    def dataflow(self) -> Dataflow:
        return self._config.dataflow

    @property
    def latency(self) -> int:
        return self._config.latency

    def elaborate(self, platform):
        m = Module()
        if self._config.requant:
            acc_valid, acc_data = self.acc_valid, self.acc_data
        else:
            acc_valid, acc_data = self.out_valid, self.out_data
        if self._config.pe is PEKind.BITSERIAL:
            from . import array_bitserial as bitserial  # kept local to this dispatch

            elaborate = bitserial.elaborate_os if self._config.dataflow is Dataflow.OS \
                else bitserial.elaborate_ws
            elaborate(self, m, acc_valid, acc_data)
        elif self._config.dataflow is Dataflow.OS:
            self._elaborate_os(m, acc_valid, acc_data)
        else:
            self._elaborate_ws(m, acc_valid, acc_data)
        if self._config.requant:
            self._elaborate_requant(m)
        return m

    # -- shared pieces ----------------------------------------------------------------------
    def _gated(self, m, port, accept, name):
        """The port's value on accepted beats, zero otherwise."""
        sig = Signal(port.shape(), name=name)
        m.d.comb += sig.as_value().eq(Mux(accept, port.as_value(), 0))
        return sig

    @staticmethod
    def _delay(m, value, cycles: int, name: str):
        """``value`` delayed by ``cycles`` registers named ``{name}_d{i}``; 0 cycles: itself.
        Datapath: no reset (only the control delay lines are reset)."""
        for i in range(cycles):
            reg = Signal.like(value, name=f"{name}_d{i + 1}", reset_less=True)
            m.d.sync += reg.eq(value)
            value = reg
        return value

    def _row_operands(self, m, entry, r: int) -> list:
        """What PE ``(r, c)`` reads along row ``r``, for every ``c``: ``entry`` (the row's
        skewed activations) registered ``c + 1`` times. LUT arrays put the row's one
        ``LutPrecompute`` unit in place of the first register (it registers its table), and
        the table, not the activations, flows along the row to every LUT PE of it."""
        pe_cfg = self._config.pe_config
        if pe_cfg.pe is PEKind.LUT:
            pre = LutPrecompute(pe_cfg)
            m.submodules[f"precompute_r{r}"] = pre
            m.d.comb += [pre.in_valid.eq(1), pre.act.eq(entry)]
            prev = pre.table
            name = "table"
        else:
            reg = Signal(entry.shape(), name=f"act_r{r}_c0", reset_less=True)
            m.d.sync += reg.eq(entry)
            prev = reg
            name = "act"
        out = [prev]
        for c in range(1, self._config.cols):
            reg = Signal(prev.shape(), name=f"{name}_r{r}_c{c}", reset_less=True)
            m.d.sync += reg.eq(prev)
            out.append(reg)
            prev = reg
        return out

    @staticmethod
    def _delay_line(m, first, taps: int, name: str) -> list:
        """``line[i]`` = ``first`` delayed by ``i`` cycles, ``i`` = 0 .. ``taps - 1``."""
        line = [first]
        for i in range(1, taps):
            reg = Signal.like(first, name=f"{name}_d{i}")
            m.d.sync += reg.eq(line[-1])
            line.append(reg)
        return line

    # -- output-stationary ------------------------------------------------------------------
    def _elaborate_os(self, m, acc_valid, acc_data):
        cfg = self._config
        pe_cfg = cfg.pe_config
        rows, cols, lat = cfg.rows, cfg.cols, cfg.pe_latency
        acc = acc_shape(cfg.acc)

        accept = Signal(name="accept")
        m.d.comb += accept.eq(self.in_valid & self.in_ready)
        period = cfg.min_tile_period
        if period > 1:
            gap = Signal(range(period + 1), init=period, name="tile_gap")
            with m.If(accept & self.in_last):
                m.d.sync += gap.eq(1)
            with m.Elif(gap < period):
                m.d.sync += gap.eq(gap + 1)
            m.d.comb += self.in_ready.eq(~self.in_last | (gap == period))
        else:
            m.d.comb += self.in_ready.eq(1)

        # The next accepted beat starts a tile (after reset and after a 'last' beat).
        tile_first = Signal(init=1, name="tile_first")
        with m.If(accept):
            m.d.sync += tile_first.eq(self.in_last)
        clear0, last0 = Signal(name="clear"), Signal(name="last")
        m.d.comb += [clear0.eq(accept & tile_first), last0.eq(accept & self.in_last)]
        taps = rows + cols + lat
        clear = self._delay_line(m, clear0, rows + cols, "clear")
        last = self._delay_line(m, last0, taps, "last")

        a_edge = self._gated(m, self.a_in, accept, "a_edge")
        w_edge = self._gated(m, self.w_in, accept, "w_edge")
        acts = [self._row_operands(m, self._delay(m, a_edge[r], r, f"a_skew_r{r}"), r)
                for r in range(rows)]
        wgts = [[None] * cols for _ in range(rows)]
        for c in range(cols):
            prev = self._delay(m, w_edge[c], c, f"w_skew_c{c}")
            for r in range(rows):
                reg = Signal(w_edge[c].shape(), name=f"wgt_r{r}_c{c}", reset_less=True)
                m.d.sync += reg.eq(prev)
                wgts[r][c] = prev = reg

        # The PEs run in a reset-less copy of the clock domain: an accumulator is cleared by its
        # tile's first beat, so a reset would only add a 32-bit-per-PE reset net.
        m.domains.pe = pe_domain = ClockDomain("pe", reset_less=True, local=True)
        m.d.comb += pe_domain.clk.eq(ClockSignal())
        cell = OS_CELLS[pe_cfg.pe]
        row_port = ROW_PORT.get(pe_cfg.pe, "act")
        accs = [[None] * cols for _ in range(rows)]
        for r in range(rows):
            for c in range(cols):
                pe = DomainRenamer("pe")(cell(pe_cfg))
                m.submodules[f"pe_r{r}_c{c}"] = pe
                a = Signal(acc, name=f"acc_r{r}_c{c}")
                m.d.comb += [
                    pe.in_valid.eq(1),
                    pe.clear.eq(clear[r + c + 1]),
                    pe.weight.eq(wgts[r][c]),
                    getattr(pe, row_port).eq(acts[r][c]),
                    a.eq(pe.acc),
                ]
                accs[r][c] = a

        self._drain(m, accs, last, 1 + lat, acc_valid, acc_data)

    def _drain(self, m, accs, last, offset: int, acc_valid, acc_data):
        """OS drain: PE ``(r, c)``'s finished sum moves to its drain register (its shadow
        accumulator) on tap ``r + c + offset`` of the ``last`` delay line; from the tap of the
        last PE on, the drain registers shift up one row per cycle and the top row is the
        output (``acc_valid`` for R cycles)."""
        rows, cols = self.rows, self.cols
        acc = acc_shape(self._config.acc)
        count = Signal(range(rows + 1), name="drain_count")
        shift = Signal(name="drain_shift")
        with m.If(last[rows + cols - 2 + offset]):
            m.d.sync += count.eq(rows)
        with m.Elif(count != 0):
            m.d.sync += count.eq(count - 1)
        if rows > 1:
            m.d.comb += shift.eq(count > 1)
        drains = [[Signal(acc, name=f"drain_r{r}_c{c}", reset_less=True) for c in range(cols)]
                  for r in range(rows)]
        for r in range(rows):
            for c in range(cols):
                with m.If(last[r + c + offset]):
                    m.d.sync += drains[r][c].eq(accs[r][c])
                if r + 1 < rows:
                    with m.Elif(shift):
                        m.d.sync += drains[r][c].eq(drains[r + 1][c])
        m.d.comb += acc_valid.eq(count != 0)
        for c in range(cols):
            m.d.comb += acc_data[c].eq(drains[0][c])

    # -- weight-stationary ------------------------------------------------------------------
    def _elaborate_ws(self, m, acc_valid, acc_data):
        cfg = self._config
        pe_cfg = cfg.pe_config
        rows, cols, lanes = cfg.rows, cfg.cols, cfg.lanes
        num = signed if cfg.signed else unsigned
        cell = WS_CELLS[pe_cfg.pe]

        accept = Signal(name="accept")
        m.d.comb += [self.in_ready.eq(1), accept.eq(self.in_valid)]
        valid0 = Signal(name="valid")
        first0, last0 = Signal(name="first"), Signal(name="last")
        m.d.comb += [
            valid0.eq(accept), first0.eq(accept & self.in_first),
            last0.eq(accept & self.in_last),
        ]
        beats, swap0 = self._ws_beats(m, accept)
        ring_tap = rows + cols
        valid = self._delay_line(m, valid0, ring_tap + 1, "valid")
        swap = self._delay_line(m, swap0, rows + cols - 1, "swap")
        first = self._delay_line(m, first0, ring_tap + 1, "first")
        last = self._delay_line(m, last0, ring_tap + 1, "last")

        a_edge = self._gated(m, self.a_in, accept, "a_edge")
        w_edge = self._gated(m, self.w_in, accept, "w_edge")
        # a_in[j] (reduction offset j) goes to PE row R-1-j: weight row j, sent j-th, shifts
        # down the column and stops in row R-1-j.
        acts = [self._row_operands(m, self._delay(m, a_edge[rows - 1 - r], r, f"a_skew_r{r}"),
                                   r) for r in range(rows)]

        psums_out = []
        for c in range(cols):
            shadow = self._delay(m, w_edge[c], c, f"w_skew_c{c}")
            psum = None
            for r in range(rows):
                shadow, active = self._ws_weight(m, r, c, shadow, valid, beats, swap)
                dot = cell(m, pe_cfg, active, acts[r][c], f"r{r}_c{c}")
                width = cfg.product_bits + ((r + 1) * lanes - 1).bit_length()
                nxt = Signal(num(width), name=f"psum_r{r}_c{c}", reset_less=True)
                m.d.sync += nxt.eq(dot if psum is None else psum + dot)
                psum = nxt
            psums_out.append(self._delay(m, psum, cols - 1 - c, f"psum_deskew_c{c}"))

        # Accumulator rings: entry 0 is the oldest beat of the period, entry R-1 the newest.
        acc = acc_shape(cfg.acc)
        sum_bits = max(cfg.acc.bits, cfg.psum_bits) + 2
        v, f = valid[ring_tap], first[ring_tap]
        for c in range(cols):
            ring = [Signal(acc, name=f"acc_r{k}_c{c}", reset_less=True) for k in range(rows)]
            base = Signal(acc, name=f"ring_base_c{c}")
            total = Signal(signed(sum_bits), name=f"ring_sum_c{c}")
            m.d.comb += [
                base.eq(Mux(f, Const(0, acc), ring[0])),
                total.eq(base + psums_out[c]),
            ]
            with m.If(v):
                m.d.sync += [ring[k].eq(ring[k + 1]) for k in range(rows - 1)]
                m.d.sync += ring[rows - 1].eq(fit_to_acc(total, cfg.acc))
            m.d.comb += acc_data[c].eq(ring[rows - 1])
        m.d.sync += acc_valid.eq(last[ring_tap])  # 'last' beats are valid beats

    def _ws_beats(self, m, accept):
        """WS periods: R accepted beats, counted from reset. Returns ``(beats, swap0)``: the
        beat index's delay line (``None`` for one row) and the flag of a period's first beat."""
        rows = self.rows
        swap0 = Signal(name="swap")
        if rows == 1:
            m.d.comb += swap0.eq(accept)
            return None, swap0
        beat = Signal(range(rows), name="beat")  # a period starts with beat 0
        with m.If(accept):
            m.d.sync += beat.eq(Mux(beat == rows - 1, 0, beat + 1))
        m.d.comb += swap0.eq(accept & ~beat.any())
        return self._delay_line(m, beat, self.cols, "beat"), swap0

    @staticmethod
    def _ws_weight(m, r, c, incoming, valid, beats, swap):
        """The double-buffered weight of WS PE ``(r, c)``: beat ``j``'s weight row shifts down
        the column's shadow registers (``incoming``: the skewed ``w_in`` at row 0, else the
        shadow above), PE row ``R-1-j`` keeping it; the active register takes the shadow when
        the next period's first beat reaches the PE (``swap`` tap ``r + c``). ``valid``: the
        accepted-beat delay line. Returns ``(shadow, active)``."""
        shadow = Signal(incoming.shape(), name=f"wshadow_r{r}_c{c}", reset_less=True)
        active = Signal(incoming.shape(), name=f"wgt_r{r}_c{c}", reset_less=True)
        load = valid[c] if r == 0 else valid[c] & (beats[c] >= r)
        with m.If(load):
            m.d.sync += shadow.eq(incoming)
        with m.If(swap[r + c]):
            m.d.sync += active.eq(shadow)
        return shadow, active

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
