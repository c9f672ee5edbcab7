"""R x C systolic arrays of PEs: output-, weight- and input-stationary, skew inside.

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
``r + c + 1`` cycles after it was accepted (the ``clear``/``load`` controls enter each row from
a delay line and ride along it with the activations, one register per cell). PE ``(r, c)``
finishes its sum ``L + 1 + r + c`` cycles after the tile's ``last`` beat (``L`` = PE latency)
and restarts on the next tile at once; the readout (``config.readout``) takes the finished
sum in that one cycle:

* ``Readout.BUS`` (default): each column has a result bus, a balanced OR tree at the column's
  foot of its cells' drives (``bus_drive``, ``or_tree``): the cell whose ``load`` flag is high
  drives its accumulator, the others zero, and a column's R cells finish on R consecutive
  cycles, so one bus carries them all. At the bottom
  edge column ``c`` passes ``C - c`` registers (the bus register and the de-skew), so the tile
  leaves as R consecutive ``out_valid`` rows, row ``r`` = ``C[m0 + r, n0 : n0 + C]``, the
  first ``latency`` = ``C + L + 1`` cycles after the ``last`` beat. A next ``last`` beat may
  follow no sooner than ``min_tile_period`` = R cycles (``in_ready`` is low while ``in_last``
  is high and it would come too soon; other beats are always ready), so tiles with ``Kt >= R``
  stream back to back with every PE busy, with no second set of accumulators.
* ``Readout.DRAIN``: the sum moves to the PE's drain register (a shadow accumulator); at
  ``drain_start`` = ``R + C + L`` cycles after the ``last`` beat all drain registers hold the
  tile; they then shift up one row per cycle and the tile leaves the top as R rows, the first
  at ``latency`` = ``R + C + L``; ``min_tile_period`` = ``2R + C - 2``.

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

**Input-stationary** (``Dataflow.IS``, for GEMV: one activation row against the weights,
where the other dataflows fill one PE row of R; PE ``(r, c)`` holds one activation ``lanes``
wide, double-buffered like the WS weights): the reduction is cut into *activation tiles* of
``T = R * C * lanes`` indices of ONE row ``m`` of A, spread over every PE: PE ``(r, c)`` holds
``A[m, k0 + (c*R + r)*lanes + l]``. Beats come in periods of exactly R beats (counted from
reset); a period computes R outputs with the active tile. Beat ``j`` of a period carries
``w_in[c*R + r] = W[k0 + (c*R + r)*lanes + l, n]`` (``R * C`` weights, one per PE, all of one
output column ``n``: the K tile of that column, in order) and ``a_in[c]``, row ``j`` of the
*next* period's activation tile (``C`` activations; they shift down the columns into the
shadow registers as the WS weights do, PE row ``R-1-j`` keeps beat ``j``'s). A PE's weight
reaches it ``r + c + 1`` cycles after the beat (skew ``r + c``, then the cell's weight
register), where it meets the activation the PE swapped in for this period; partial sums
(exact) flow down each column and leave its foot ``R + c + 1`` cycles after the beat; along
the bottom edge column ``c`` adds its sum to the running sum from the left (``is_sum_c{c}``,
one register per column), and the array's sum of ``T`` products enters one accumulator ring
of R entries (one per beat of a period) ``R + C + 1`` cycles after the beat: ``in_first``
starts the entry from 0, every beat wraps or saturates it, and a beat with ``in_last`` puts
out its one result ``C[m, n]`` ``latency`` = ``R + C + 2`` cycles later. ``out_data`` holds
ONE result (``config.out_cols``): an IS beat completes one output, so a row of C would have
to wait for C beats in a buffer; one result per ``in_last`` beat keeps the latency fixed and
the port narrow (requantization: one ``rq_scale``/``rq_shift``). The first period of a
stream only loads activations (``in_first`` = ``in_last`` = 0, weights don't-care);
``in_ready`` is always high, so a GEMV streams at one beat per cycle with all R C PEs busy:
``ceil(K / T) * ceil(N / R)`` periods, ``M > 1`` row by row (no weight reuse: a beat's
``R * C`` weights are used once). Cells: the generic ``ISCell`` with the kind's ``ws_dot``
(MAC, shift-add, FP MAC: the cell holds activations; LUT: it holds their table, built by one
precompute unit per column on the way into the shadows, ``Cell.is_source``, whose register
delays the loads, swaps, weights and sums by ``is_source_latency`` = 1 cycle: latency
``R + C + 3``); bit-serial cells have their own (``qtpe.hdl.array_bitserial``: latency
``R + C + 1 + k``). A kind whose cell does not build a dataflow lists it in
``PEConfig.NO_DATAFLOW`` (the config refuses it in one line).

**Bit-serial cells** (``pe = "bitserial"``, built by ``qtpe.hdl.array_bitserial``): same beats,
ports and results, but every op runs at full precision ``k = weight.bits``
(``config.beat_cycles``), one weight bit-plane per cycle, MSB first: an accepted beat occupies
``k`` cycles, so ``in_ready`` is low for the ``k - 1`` cycles after it (OS: and the ``last``
rule above; WS: ``in_ready`` is high otherwise). Peak ``R * C * lanes / k`` MACs per cycle. OS
timing as above with ``L = k`` (``min_tile_period`` in cycles); WS ``latency`` =
``R + C + k`` after a beat with ``in_last``. Results are the same as the MAC array's (exact
sums until the accumulator).

Reset (synchronous) clears the control: the delay lines, the tile and period counters and the
valid flags. Datapath registers (operand pipelines, PE accumulators, drain registers, weights,
held activations, partial sums, accumulator rings) have no reset: the protocol never uses one
before it is written (a PE accumulator restarts on its tile's first beat). Nor do the control
registers that ride along the rows (``control_register`` says why that is safe).

**Fanout** (the same at any size): no flip-flop drives more loads as the array grows. Per-cell
controls ride along the rows (``ctl_in``/``ctl_out``); a weight- or input-stationary cell
registers its shadow-load flag from its column's taps a cycle early (``ws_load_taps``); flags
every cell needs in the same cycle (the output-stationary drain readout's shift, the
weight- and input-stationary ring step and first flags) come through two-level register
trees made two cycles early (``qtpe.hdl.array_grid.spread``: per row or column, then per
cell or ring entry). An input-stationary PE's weight has its own skew register chain
(``w_skew_r{r}``, lane ``c`` delayed ``r + c``): no register feeds more than one.

**Groups** (``config.group_size``; the kinds whose configs set ``ARRAY_GROUPS``; bit-serial
cells feed the same feet and column ends after a beat's last plane, ``qtpe.hdl.array_bitserial``).
Weight-stationary: ``ws_group_taps`` and the column ends' two rings (``WSColumn``).
Output-stationary (bus readout): a group is ``group_beats`` beats of a tile (``group_ends``);
the PEs clear at a group's first beat and put the group's exact sum on the bus at its last,
which ``in_ready`` holds back until ``min_tile_period`` cycles after the previous one (as a
tile's ``last`` beat). ``s_in`` (and ``z_in``) are read with a group's last beat, with each
row's activation sum over the group (``asum_total_r{r}``); ``group_feet`` delays them to the
column feet, where each column adds ``scale * (sum - zero * asum)`` (exact, two registers) to a
ring of R accumulators (``WSColumn``), one per tile row, zeroed by a tile's first group and
wrapped or saturated after every group; the rows of a tile's last group are the output,
``group_foot_cycles`` = 3 later than without groups. Input-stationary: ``group_size`` is a
multiple of the activation tile ``T = R * C * lanes``, so a group is ``group_size / T``
consecutive K tiles of a sum, as in the weight-stationary arrays; the one ring is a
``WSColumn`` with groups (``is_ring``), ``s_in``/``z_in`` hold one scale and zero point (the
beat's output column's) and are read with every beat, and the zero points' activation sum is
the active tile's (``is_active_sum``: summed while the tile loads). Weight- and
input-stationary column ends add ``group_foot_cycles`` = 2 to the latency (their group sum is
registered, then its scaled value, before the accumulator ring takes it: ``WSColumn``).

**Requantization** (``config.requant``): the accumulator rows above appear on ``acc_valid`` /
``acc_data``; in each cycle with ``acc_valid`` the array reads the row's per-column ``rq_scale``
and ``rq_shift`` and shows ``clamp(round(acc * scale / 2^shift), -128, 127)`` (ties toward
+infinity, see ``Requant``) on ``out_valid``/``out_data`` one cycle later.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from amaranth.hdl import (
    Cat,
    ClockDomain,
    ClockSignal,
    Const,
    DomainRenamer,
    Module,
    Mux,
    Signal,
    Value,
    signed,
    unsigned,
)
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from .array_config import ArrayConfig, Dataflow, Readout
from .array_grid import Chain, Grid, Tap, build_grid, skew, spread
from .array_parts import (
    bus_control,
    bus_drive,
    delay,
    delay_line,
    drain_control,
    drain_register,
    gated,
    or_tree,
    tile_ready,
    ws_beats,
    ws_load,
    ws_ring,
    ws_weights,
)
from .carry_save import resolve
from .config import carry_save
from .dequant import scale_partial_sum
from .kinds import kind_of
from .pe import ConfigComponent
from .shapes import acc_shape, fit_to_acc, wire_shape

__all__ = ["SystolicArray", "Cell", "OSCell", "WSCell", "WSColumn", "ISCell", "control_register",
           "ws_load_taps", "ws_load_ports", "ws_cell_load"]


@dataclasses.dataclass(frozen=True)
class GroupBeat:
    """What output-stationary group feet (``Cell.group_feet``) read of the beats, in the cycle
    a beat's sum is complete in the PEs (MAC cells: the cycle it is accepted; bit-serial:
    its last bit-plane): ``step`` (that cycle), ``end`` (... of a beat that ends a group),
    ``first`` (the beat starts a group), ``tile_last`` (the beat ends its tile), ``scale``,
    ``zero`` (the group's ``s_in``, ``z_in``; ``zero`` is ``None`` without zero points),
    ``acts`` (the beat's activations, R rows of ``lanes``) and ``special`` (``x_in``, the
    bit-serial ``special`` type's values; else ``None``)."""

    step: Value
    end: Value
    first: Value
    tile_last: Value
    scale: Value
    zero: Value | None
    acts: Value
    special: Value | None = None


class Cell:
    """How an array builds the cells of one PE kind (a kind's ``Kind.cell``).

    The default dataflows here are those of single-cycle PEs with operand registers (MAC,
    shift-add, LUT): an output-stationary cell (``OSCell``) holds the kind's PE component
    (``pe``), with ``in_valid`` high and its ``clear`` riding along the row (``ctl_in``), the
    registers that pass the row operand right and the weight down, and its part of the readout; a
    weight-stationary cell (``WSCell``) holds the row operand register, the double-buffered
    weight, the kind's exact dot product (``ws_dot``) and the partial-sum register. A kind with
    other timing (bit-serial) overrides ``elaborate_os`` / ``elaborate_ws``.

    Contract of ``pe``: ports ``in_valid``, ``clear``, ``weight`` (``lanes`` codes), the row
    operand (``row_port``), ``acc``; ``config.pe_latency`` cycles from an input to the ``acc``
    that includes it; one input per cycle.
    """

    #: The PE component an output-stationary cell instantiates.
    pe: ClassVar[type]
    #: The PE port that takes what flows along a row.
    row_port: ClassVar[str] = "act"

    def __init__(self, config: ArrayConfig):
        self.array = config
        self.config = config.cell_pe_config

    # -- what flows along a row -------------------------------------------------------------
    def row_layout(self):
        """The shape of the row operand: ``lanes`` activations."""
        return data.ArrayLayout(wire_shape(self.config.activation), self.array.lanes)

    def row_source(self, m: Module, entry, r: int):
        """What enters row ``r`` at column 0, from ``entry`` (the row's skewed activations)."""
        return entry

    def registers_row(self, c: int) -> bool:
        """Whether the cell in column ``c`` registers the row operand it receives (always, for
        activations: column 0 registers the edge's value)."""
        return True

    def weight_layout(self):
        return data.ArrayLayout(wire_shape(self.config.weight), self.array.lanes)

    def ws_dot(self, m: Module, weight, row_operand, name: str):
        """The exact dot product of one weight-stationary cell's ``lanes`` pairs (signals
        named after ``name``)."""
        raise NotImplementedError

    # -- output-stationary ------------------------------------------------------------------
    def elaborate_os(self, array: SystolicArray, m: Module, acc_valid, acc_data) -> None:
        cfg = self.array
        rows, cols, lat = cfg.rows, cfg.cols, cfg.pe_latency
        groups = cfg.group is not None

        accept = Signal(name="accept")
        m.d.comb += accept.eq(array.in_valid & array.in_ready)
        # What a PE sums ends on a 'last' beat, or with groups on a group's last beat.
        ends = group_ends(m, cfg, accept, array.in_last) if groups else array.in_last
        m.d.comb += array.in_ready.eq(tile_ready(m, cfg, accept, ends))

        # The next accepted beat starts a sum (after reset and after an ending beat).
        tile_first = Signal(init=1, name="group_first" if groups else "tile_first")
        with m.If(accept):
            m.d.sync += tile_first.eq(ends)
        clear0, last0 = Signal(name="clear"), Signal(name="last")
        m.d.comb += [clear0.eq(accept & tile_first), last0.eq(accept & ends)]
        # The controls ride along the rows with the activations (``OSCell``): row r's edge
        # gets them r + 1 (clear) and r + 1 + L (readout load) cycles after the beat.
        clear = delay_line(m, clear0, rows + 1, "clear")
        bus = cfg.readout is Readout.BUS
        readout = readout_grid(bus)
        row_valid, row_data = acc_valid, acc_data
        if groups:  # the group sums go to the column feet first
            row_valid = Signal(name="group_row_valid")
            row_data = [Signal(acc_shape(self.config.acc), name=f"group_row_c{c}")
                        for c in range(cols)]
        if bus:
            offset = 1 + lat + cfg.bus_resolve_cycles
            last = delay_line(m, last0, max(rows + lat, offset + cols - 1) + 1, "last")
            bus_control(m, cfg, last, offset, row_valid)
            shifts = None
        else:
            drain_tap = rows + cols - 1 + lat - (2 if rows > 1 else 0)  # drain_control's
            last = delay_line(m, last0, max(rows + lat, drain_tap) + 1, "last")
            shift_early = drain_control(m, cfg, last, 1 + lat, row_valid)
            shifts = (self.spread_shift(array, m, shift_early) if shift_early is not None
                      else None)
        ctl = []
        for r in range(rows):
            edge = Signal(2, name=f"ctl_r{r}")
            m.d.comb += edge.eq(Cat(clear[r + 1], last[r + 1 + lat]))
            ctl.append(edge)

        a_edge = gated(m, array.a_in, accept, "a_edge")
        w_edge = gated(m, array.w_in, accept, "w_edge")
        skewed = array.skew(m, [a_edge[r] for r in range(rows)], 1, 0, "a_skew")
        sources = [self.row_source(m, skewed[r], r) for r in range(rows)]
        w_top = array.skew(m, [w_edge[c] for c in range(cols)], 1, 0, "w_skew")

        exits = array.place(m, Grid(
            rows, cols, self,
            at=lambda r, c: (OSCell, (self.registers_row(c), c > 0,
                                      not bus and r + 1 < rows, bus)),
            chains=[Chain("row_in", "row_out", "right", tuple(sources)),
                    Chain("ctl_in", "ctl_out", "right", tuple(ctl)),
                    Chain("w_in", "w_out", "down", tuple(w_top)),
                    *readout["chains"]],
            collect=readout["collect"],
            taps=[*([Tap("shift", tuple(shifts), cols, 1, 0)] if shifts is not None else [])]))
        connect_readout(array, m, exits, bus, row_data)
        if groups:
            self.group_feet(array, m, GroupBeat(accept, last0, tile_first, array.in_last,
                                                array.s_in, getattr(array, "z_in", None),
                                                a_edge),
                            cfg.drain_start - cfg.group_foot_cycles, row_valid, row_data,
                            acc_valid, acc_data)

    def group_feet(self, array: SystolicArray, m: Module, beat: GroupBeat, depth: int,
                   row_valid, row_data, acc_valid, acc_data, row_t=None) -> None:
        """Output-stationary groups: the column feet (see the module docstring, "Groups").

        A group's rows leave the buses ``depth`` cycles after ``beat.end`` (MAC cells:
        ``drain_start - group_foot_cycles`` after the group's last beat), row ``r`` ``r``
        cycles later. What the feet need of the group (the scales, zero points, the rows'
        activation sums, whether it is its tile's first and last group) is taken at
        ``beat.end`` and delayed ``depth`` cycles (``gmeta``), then held while the rows
        pass. Each column scales ``(sum - zero * asum)`` (two registered stages of one
        product each: the correction, then the scale) into its accumulator ring
        (``ws_ring``: R entries, one per row); with special values (``row_t``: per column
        the row's sum of the activations whose weight code is the special one, beside its
        sum in ``row_data``) ``(sum + special * t)``."""
        cfg = self.array
        rows, cols = cfg.rows, cfg.cols
        zp = cfg.zero_points
        end0 = beat.end
        # Is the group ending now the first of its tile (``tile_start``) / the last?
        tile_start = Signal(init=1, name="group_tile_first")
        with m.If(end0):
            m.d.sync += tile_start.eq(beat.tile_last)
        fields = [Value.cast(beat.scale)]
        asum_shape = signed(cfg.asum_bits)
        if zp:
            fields.append(Value.cast(beat.zero))
            for r in range(rows):  # the row's activations summed over the group
                add = Signal(asum_shape, name=f"asum_beat_r{r}")
                m.d.comb += add.eq(sum(beat.acts[r][lane] for lane in range(cfg.lanes)))
                held = Signal(asum_shape, name=f"asum_r{r}", reset_less=True)
                total = Signal(asum_shape, name=f"asum_total_r{r}")
                m.d.comb += total.eq(Mux(beat.first, 0, held) + add)
                with m.If(beat.step):
                    m.d.sync += held.eq(total)
                fields.append(total)
        xs = cfg.specials
        if xs:
            fields.insert(1, Value.cast(beat.special))
        fields += [tile_start, beat.tile_last]
        meta0 = Signal(sum(len(Value.cast(f)) for f in fields), name="gmeta")
        m.d.comb += meta0.eq(Cat(*fields))
        meta_at = delay(m, meta0, depth, "gmeta")
        fire = delay_line(m, end0, depth + 1, "group_end")[depth]
        hold = Signal(len(meta0), name="gmeta_hold", reset_less=True)
        with m.If(fire):
            m.d.sync += hold.eq(meta_at)
        cur = Signal(len(meta0), name="gmeta_now")
        m.d.comb += cur.eq(Mux(fire, meta_at, hold))
        sb, zb = cfg.scale_bits, cfg.zero_bits
        pos = cols * sb
        scales = [cur[c * sb:(c + 1) * sb] for c in range(cols)]
        zeros, asum, specials = [], None, []
        if xs:
            xb = cfg.pe_config.special_bits
            specials = [cur[pos + c * xb:pos + (c + 1) * xb].as_signed() for c in range(cols)]
            pos += cols * xb
        if zp:
            zeros = [cur[pos + c * zb:pos + (c + 1) * zb] for c in range(cols)]
            pos += cols * zb
            # The rows' sums pass in order: row 0 in the ``fire`` cycle, then one per row.
            width = cfg.asum_bits
            rest = Signal((rows - 1) * width or 1, name="asum_next", reset_less=True)
            with m.If(fire):
                m.d.sync += rest.eq(meta_at[pos + width:pos + rows * width])
            with m.Elif(row_valid):
                m.d.sync += rest.eq(rest >> width)
            asum = Signal(asum_shape, name="asum_now")
            m.d.comb += asum.eq(Mux(fire, meta_at[pos:pos + width], rest[:width]))
            pos += rows * width
        first, tile_last = cur[pos], cur[pos + 1]
        values = []
        for c in range(cols):
            g = Value.cast(row_data[c])
            corrected = g - zeros[c] * asum if zp else g
            extra = zb + cfg.asum_bits + 1 if zp else 1
            if xs:
                corrected = g + specials[c] * row_t[c]
                extra = xb + cfg.asum_bits + 1
            # two stages, one product each: the correction, then the scale
            fixed = Signal(signed(len(g) + extra), name=f"group_fixed_c{c}", reset_less=True)
            scale = Signal(len(scales[c]), name=f"group_scale_c{c}", reset_less=True)
            m.d.sync += [fixed.eq(corrected), scale.eq(scales[c])]
            scaled = Signal(signed(len(g) + extra + cfg.group.growth_bits + 1),
                            name=f"group_scaled_c{c}")
            m.d.comb += scaled.eq(scale_partial_sum(fixed, scale, cfg.group))
            values.append(delay(m, scaled, 1, f"group_value_c{c}"))
        step = delay_line(m, row_valid, 3, "group_step")
        ring_first = delay_line(m, first, 3, "group_first_row")
        self.place_columns(array, m, values, 2, step, ring_first, None, acc_data)
        out = delay_line(m, row_valid & tile_last, 4, "group_out")
        m.d.comb += acc_valid.eq(out[3])

    def spread_shift(self, array: SystolicArray, m: Module, early) -> list:
        """The drain shift flag (``drain_control``'s, two cycles early) for each drain
        register that shifts (rows 0 .. R-2; element ``r * C + c``): one register per row,
        one per cell."""
        return array.spread(m, early, self.array.rows - 1, self.array.cols, "drain_shift")

    # -- weight-stationary ------------------------------------------------------------------
    def elaborate_ws(self, array: SystolicArray, m: Module, acc_valid, acc_data) -> None:
        cfg = self.array
        rows, cols = cfg.rows, cfg.cols
        accept, valid0, first0, last0, beats, swap0 = period_stream(array, m)
        ring_tap = rows + cols
        valid = delay_line(m, valid0, ring_tap + 1, "valid")
        swap = delay_line(m, swap0, rows, "swap")  # along the rows (WSCell's ctl_in)
        first = delay_line(m, first0, ring_tap + 1, "first")
        foot = cfg.group_foot_cycles  # with groups the accumulators are 2 cycles later
        last = delay_line(m, last0, ring_tap + foot + 1, "last")

        a_edge = gated(m, array.a_in, accept, "a_edge")
        w_edge = gated(m, array.w_in, accept, "w_edge")
        # a_in[j] (reduction offset j) goes to PE row R-1-j: weight row j, sent j-th, shifts
        # down the column and stops in row R-1-j.
        skewed = array.skew(m, [a_edge[rows - 1 - r] for r in range(rows)], 1, 0, "a_skew")
        sources = [self.row_source(m, skewed[r], r) for r in range(rows)]
        w_top = array.skew(m, [w_edge[c] for c in range(cols)], 1, 0, "w_skew")

        exits = array.place(m, Grid(
            rows, cols, self,
            at=lambda r, c: (WSCell, (self.registers_row(c), c > 0,
                                      self.psum_shape(r - 1) if r else None,
                                      self.psum_shape(r))),
            chains=[Chain("row_in", "row_out", "right", tuple(sources)),
                    Chain("ctl_in", "ctl_out", "right", tuple(swap)),
                    Chain("w_in", "w_out", "down", tuple(w_top)),
                    Chain("psum_in", "psum_out", "down", exits=True)],
            taps=ws_load_taps(valid, beats, cols)))
        psums = [exits["psum_out"][c].as_signed() if self.psum_shape(0).signed
                 else exits["psum_out"][c] for c in range(cols)]
        psums_out = array.skew(m, psums, -1, cols - 1, "psum_deskew")

        # Accumulator rings: entry 0 is the oldest beat of the period, entry R-1 the newest.
        group = None
        if cfg.group is not None:
            asum = (sum(a_edge[r][lane] for r in range(rows) for lane in range(cfg.lanes))
                    if cfg.zero_points else None)
            group = self.ws_group_taps(array, m, accept, self.ws_group_flags(array, m, swap0),
                                       array.s_in, getattr(array, "z_in", None), asum,
                                       ring_tap)
        self.place_columns(array, m, psums_out, ring_tap, valid, first, None, acc_data,
                           group)
        m.d.sync += acc_valid.eq(last[ring_tap + foot])  # 'last' beats are valid beats

    def ws_group_flags(self, array: SystolicArray, m: Module, period_start) -> tuple:
        """Weight-stationary groups: whether the offered beat's K tile starts or ends a group
        (``g_first``, ``g_last``) and whether that group is its sum's first (``g_base``: its
        ring entry starts at 0), not yet gated with the beat's acceptance. The position
        ``group_pos`` counts the periods of a sum (from a beat with ``in_first``; it moves at
        ``period_start``, a period's first accepted beat) in groups of ``group_tiles``."""
        T = self.array.group_tiles
        pos = Signal(range(T), name="group_pos")
        head = Signal(init=1, name="group_head")  # the period is in the sum's first group
        pos_now, head_now = Signal.like(pos, name="group_pos_now"), Signal(name="group_head_now")
        step_pos = Mux(pos == T - 1, 0, pos + 1) if T > 1 else Const(0, 1)
        m.d.comb += [
            pos_now.eq(Mux(period_start, Mux(array.in_first, 0, step_pos), pos)),
            head_now.eq(Mux(period_start, array.in_first | (head & (pos != T - 1)), head)),
        ]
        with m.If(period_start):
            m.d.sync += [pos.eq(pos_now), head.eq(head_now)]
        return ~pos_now.any(), (pos_now == T - 1) | array.in_last, head_now  # ~any: lint-clean

    def ws_group_taps(self, array: SystolicArray, m: Module, step, flags, scale, zero, asum,
                      tap: int, special=None) -> list:
        """Weight-stationary groups: what the column ends need besides the partial sums, at
        tap ``tap`` (when a beat's de-skewed partial sum reaches them), taken in the cycle
        ``step`` that the beat's sum enters the array (MAC cells: its acceptance; bit-serial:
        its last bit-plane): the beat's column scales and zero points (``scale``, ``zero``:
        ``s_in``, ``z_in`` of the beat, its activations' group), its activation sum
        (``asum``, for the zero points), its group flags (``flags``: ``ws_group_flags``
        of the beat) and (``special``) the bit-serial ``special`` type's values."""
        cfg = self.array
        cols = cfg.out_cols  # WS: a column end each; IS: the one ring
        g_first0, g_last0, g_base0 = (Signal(name=n) for n in ("g_first", "g_last", "g_base"))
        m.d.comb += [flag.eq(step & value)
                     for flag, value in zip((g_first0, g_last0, g_base0), flags, strict=True)]
        fields = [Value.cast(scale)]
        if cfg.zero_points:
            asum_beat = Signal(signed(cfg.asum_bits), name="asum_beat")
            m.d.comb += asum_beat.eq(asum)
            fields += [Value.cast(zero), asum_beat]
        if cfg.specials:
            fields.append(Value.cast(special))
        meta0 = Signal(sum(len(Value.cast(f)) for f in fields), name="gmeta")
        m.d.comb += meta0.eq(Cat(*fields))
        early = delay(m, meta0, tap - 1, "gmeta") if tap > 1 else meta0
        meta = delay(m, early, 1, "gmeta_at")
        sb, zb = cfg.scale_bits, cfg.zero_bits
        taps = [Tap("scale", tuple(meta[c * sb:(c + 1) * sb] for c in range(cols)), 0, 1, 0)]
        if cfg.specials:  # after the scales (no zero points with special values)
            xb = cfg.pe_config.special_bits
            taps.append(Tap("special", tuple(meta[cols * sb + c * xb:cols * sb + (c + 1) * xb]
                                             for c in range(cols)), 0, 1, 0))
        if cfg.zero_points:  # zero * asum per column, registered from the cycle before
            pos0 = cols * sb
            asum_early = early[pos0 + cols * zb:pos0 + cols * zb + cfg.asum_bits].as_signed()
            prods = []
            for c in range(cols):
                prod = Signal(signed(zb + cfg.asum_bits + 1), name=f"zprod_c{c}",
                              reset_less=True)
                m.d.sync += prod.eq(early[pos0 + c * zb:pos0 + (c + 1) * zb] * asum_early)
                prods.append(prod)
            taps.append(Tap("zprod", tuple(prods), 0, 1, 0))
        for name, flag in (("g_first", g_first0), ("g_last", g_last0), ("g_base", g_base0)):
            line = delay_line(m, flag, tap + 1, name)
            flags = (array.spread(m, line[tap - 2], cols, 1, name) if tap >= 2
                     else [line[tap]] * cols)
            taps.append(Tap(name, tuple(flags), 0, 1, 0))
        return taps

    # -- input-stationary -------------------------------------------------------------------
    def is_layout(self):
        """What an input-stationary cell holds (its stationary operand): ``lanes`` activations
        (LUT: their table)."""
        return data.ArrayLayout(wire_shape(self.config.activation), self.array.lanes)

    def is_source(self, m: Module, entry, c: int):
        """What enters input-stationary column ``c``'s shadow chain from ``entry`` (the
        column's skewed activations), ``config.is_source_latency`` cycles later: ``entry``."""
        return entry

    def elaborate_is(self, array: SystolicArray, m: Module, acc_valid, acc_data) -> None:
        """The input-stationary dataflow (module docstring): the weight-stationary periods,
        shadow loads and swaps with the roles of the operands exchanged (the activations
        shift down the columns into the shadows; every PE gets its own weight per beat,
        skewed by ``r + c``), each column's exact partial sum added across the bottom edge
        (``is_sum_c{c}``) into one accumulator ring."""
        cfg = self.array
        rows, cols = cfg.rows, cfg.cols
        accept, valid0, first0, last0, beats, swap0 = period_stream(array, m)
        # A beat's weights reach PE (r, c) r + c + 1 cycles after it is accepted (the skew,
        # then the cell's weight register); its partial sum leaves column c's foot at
        # R + c + 1 and the bottom edge (is_sum_c{C-1}) at R + C + 1, the ring's step.
        # A column source with a register (LUT: the table precompute, lead = 1) delays the
        # loads, and with them the swaps, the weights and the sums, by ``lead`` cycles.
        lead = cfg.pe_config.is_source_latency
        ring_tap = rows + cols + 1 + lead
        valid = delay_line(m, valid0, max(ring_tap - 1, cols + lead), "valid")
        swap = delay_line(m, swap0, rows + lead, "swap")  # along the rows (ISCell's ctl_in)
        first = delay_line(m, first0, ring_tap - 1, "first")
        foot = cfg.group_foot_cycles  # with groups the accumulators are 2 cycles later
        last = delay_line(m, last0, ring_tap + foot + 1, "last")

        a_edge = gated(m, array.a_in, accept, "a_edge")
        w_edge = gated(m, array.w_in, accept, "w_edge")
        # a_in[c] shifts down column c into the shadows (beat j stops in row R-1-j), as the
        # weight-stationary weights do; w_in[c * R + r] is PE (r, c)'s weight, delayed r + c
        # (one skew module per row: lane c of row r's delayed c + r).
        a_skewed = array.skew(m, [a_edge[c] for c in range(cols)], 1, 0, "a_skew")
        a_top = [self.is_source(m, a_skewed[c], c) for c in range(cols)]
        w_rows = [array.skew(m, [w_edge[c * rows + r] for c in range(cols)], 1, r + lead,
                             f"w_skew_r{r}") for r in range(rows)]
        if lead and beats is not None:  # the beat index one more cycle, for the load taps
            beats = [*beats, *delay_line(m, beats[-1], lead + 1, "beat_lead")[1:]]
        exits = array.place(m, Grid(
            rows, cols, self,
            at=lambda r, c: (ISCell, (c > 0, self.psum_shape(r - 1) if r else None,
                                      self.psum_shape(r))),
            chains=[Chain("a_in", "a_out", "down", tuple(a_top)),
                    Chain("ctl_in", "ctl_out", "right", tuple(swap[lead:])),
                    Chain("psum_in", "psum_out", "down", exits=True)],
            taps=[Tap("w_in", tuple(w_rows[r][c] for r in range(rows) for c in range(cols)),
                      cols, 1, 0),
                  *ws_load_taps(valid[lead:], beats[lead:] if beats is not None else None,
                                cols)]))
        psums = [exits["psum_out"][c].as_signed() if self.psum_shape(0).signed
                 else exits["psum_out"][c] for c in range(cols)]
        total = None
        for c in range(cols):  # the bottom edge: column c adds its sum to the running one
            run = Signal(self.is_sum_shape(c), name=f"is_sum_c{c}", reset_less=True)
            m.d.sync += run.eq(psums[c] if total is None else total + psums[c])
            total = run

        # One accumulator ring (one entry per beat of a period); its step and first flags
        # reach every entry through a register tree made two cycles early.
        steps = array.spread(m, valid[ring_tap - 2], 1, rows, "ring_step")
        firsts = array.spread(m, first[ring_tap - 2], 1, 1, "ring_first")
        if cfg.group is None:
            ws_ring(m, cfg, total, Cat(*steps), firsts[0], acc_data[0])
        else:  # the group and accumulator rings of a weight-stationary column end
            asum = (self.is_active_sum(m, accept, swap0, a_edge) if cfg.zero_points
                    else None)
            taps = self.ws_group_taps(array, m, accept, self.ws_group_flags(array, m, swap0),
                                      array.s_in, getattr(array, "z_in", None), asum,
                                      ring_tap)
            self.is_group_ring(m, total, Cat(*steps), firsts[0], acc_data[0], taps)
        m.d.sync += acc_valid.eq(last[ring_tap + foot])  # 'last' beats are valid beats

    def is_active_sum(self, m: Module, accept, period_start, a_edge):
        """Input-stationary zero points: the sum of the activation tile the offered beat
        computes with (``is_asum``): the activations of a period's beats are summed as they
        load (``is_asum_next``) and become the active sum at the next period's start."""
        cfg = self.array
        shape = signed(cfg.asum_bits)
        beat = Signal(shape, name="is_asum_beat")
        m.d.comb += beat.eq(sum(a_edge[c][lane] for c in range(cfg.cols)
                                for lane in range(cfg.lanes)))
        loading = Signal(shape, name="is_asum_next", reset_less=True)
        active = Signal(shape, name="is_asum_reg", reset_less=True)
        now = Signal(shape, name="is_asum")
        m.d.comb += now.eq(Mux(period_start, loading, active))
        with m.If(accept):
            m.d.sync += [loading.eq(Mux(period_start, beat, loading + beat)), active.eq(now)]
        return now

    def is_group_ring(self, m: Module, value, step, ring_first, acc, taps) -> None:
        """Input-stationary groups: one ``WSColumn`` with groups (``is_ring``) takes the
        array's sum ``value``, ``step`` (one flag per entry), ``ring_first`` and the group
        inputs ``taps`` (``ws_group_taps``: one element each); ``acc`` shows the newest."""
        ring = WSColumn(self, value.shape(), False, group=True)
        m.submodules.is_ring = ring
        m.d.comb += [ring.psum.eq(value), ring.step.eq(step), ring.ring_first.eq(ring_first),
                     acc.eq(ring.acc)]
        m.d.comb += [getattr(ring, tap.port).eq(tap.bus[0]) for tap in taps]

    def is_sum_shape(self, c: int):
        """The exact running sum of an input-stationary array's bottom edge after column
        ``c`` (``(c + 1) * R * lanes`` products)."""
        cfg = self.array
        num = signed if cfg.signed else unsigned
        return num(cfg.product_bits + ((c + 1) * cfg.rows * cfg.lanes - 1).bit_length())

    def place_columns(self, array, m: Module, psums, tap: int, step, ring_first, plane_first,
                      acc_data, group: list | None = None) -> None:
        """The weight-stationary column ends (``WSColumn``, one module for all columns):
        ``psums`` (de-skewed) into the rings; ``acc_data[c]`` shows column ``c``'s. The
        controls are tap ``tap`` of the delay lines ``step``, ``ring_first`` and
        ``plane_first`` (``None``: no Horner step), the same cycle in every column: each
        comes through a tree of registers (``spread``: per column, and ``step`` per ring
        entry), from tap ``tap - 2`` (arrays too small for that lead take the tap itself).
        ``group``: the weight-stationary group inputs (``ws_group_taps``)."""
        rows, cols = self.array.rows, self.array.cols

        def spread(line, copies, name):
            if line is None:
                return None
            if tap < 2:
                return [line[tap]] * (cols * copies)
            return array.spread(m, line[tap - 2], cols, copies, name)

        steps = spread(step, rows, "ring_step")
        steps = [Cat(*steps[c * rows:(c + 1) * rows]) for c in range(cols)]
        firsts = spread(ring_first, 1, "ring_first")
        planes = spread(plane_first, 1, "plane_first")
        exits = array.place(m, Grid(
            1, cols, self, name="columns",
            at=lambda r, c: (WSColumn, (psums[0].shape(), plane_first is not None,
                                        group is not None)),
            chains=[Chain("acc_in", "acc", "down", exits=True)],
            taps=[Tap("psum", tuple(psums), 0, 1, 0), Tap("step", tuple(steps), 0, 1, 0),
                  Tap("ring_first", tuple(firsts), 0, 1, 0),
                  *([Tap("plane_first", tuple(planes), 0, 1, 0)] if planes is not None
                    else []),
                  *(group or [])]))
        for c in range(cols):
            m.d.comb += acc_data[c].eq(exits["acc"][c])

    def column_sum(self, m: Module, psum, plane_first):
        """What a column adds to its ring per step: the de-skewed partial sum itself."""
        return psum

    def psum_shape(self, r: int):
        """The exact partial sum leaving row ``r`` of a weight-stationary column (``(r + 1) *
        lanes`` products)."""
        cfg = self.array
        num = signed if cfg.signed else unsigned
        return num(cfg.product_bits + ((r + 1) * cfg.lanes - 1).bit_length())


def period_stream(array: SystolicArray, m: Module) -> tuple:
    """The input side of the weight- and input-stationary dataflows (always ready): the
    accepted-beat flag, its ``valid``/``first``/``last`` flags and the period's beat index
    and first-beat flag (``ws_beats``): ``(accept, valid, first, last, beats, swap)``."""
    accept = Signal(name="accept")
    m.d.comb += [array.in_ready.eq(1), accept.eq(array.in_valid)]
    valid0 = Signal(name="valid")
    first0, last0 = Signal(name="first"), Signal(name="last")
    m.d.comb += [
        valid0.eq(accept), first0.eq(accept & array.in_first),
        last0.eq(accept & array.in_last),
    ]
    beats, swap0 = ws_beats(m, array.config, accept)
    return accept, valid0, first0, last0, beats, swap0


def group_ends(m: Module, cfg: ArrayConfig, accept, last) -> Signal:
    """Output-stationary groups: whether the offered beat ends a group (its tile's last beat,
    or the ``group_beats``-th of a group; ``group_beat`` counts the accepted beats of the
    group, from 0 after reset and after every group's end)."""
    gb = cfg.group_beats
    ends = Signal(name="group_last")
    if gb == 1:
        m.d.comb += ends.eq(1)
        return ends
    count = Signal(range(gb), name="group_beat")
    m.d.comb += ends.eq(last | (count == gb - 1))
    with m.If(accept):
        m.d.sync += count.eq(Mux(ends, 0, count + 1))
    return ends


class ISCell(wiring.Component):
    """One cell of an input-stationary array: the double-buffered activation (``load`` into
    the shadow ``ashadow`` from above, ``swap`` into the active ``act``: the weight-stationary
    double buffer, ``ws_weights``), the weight register (``wgt``, from the top level's skew,
    a new weight every beat), the kind's exact dot product (``Cell.ws_dot``) and the
    partial-sum register (``psum_in + dot``, of shape ``psum``; row 0: ``dot``). ``swap``
    rides along the row (``ctl_in``), registered in every cell but column 0's
    (``ctl_reg``)."""

    @staticmethod
    def variant(ctl_reg: bool, psum_in, psum) -> str:
        widths = f"{psum_in.width}_{psum.width}" if psum_in is not None else f"{psum.width}_top"
        return f"is_cell{'' if ctl_reg else '_c0'}_p{widths}"

    def __init__(self, cell: Cell, ctl_reg: bool, psum_in, psum):
        self._cell, self._r, self._ctl_reg = cell, psum_in is not None, ctl_reg
        members = {"a_in": In(cell.is_layout()), "w_in": In(cell.weight_layout()),
                   **ws_load_ports(cell.array), "ctl_in": In(1)}
        if psum_in is not None:
            members["psum_in"] = In(psum_in)
        members |= {"a_out": Out(cell.is_layout()), "ctl_out": Out(1), "psum_out": Out(psum)}
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        cell = self._cell
        swap = control_register(m, self.ctl_in, self._ctl_reg)
        shadow, active = ws_weights(m, self.a_in, ws_cell_load(m, self, self._ctl_reg), swap,
                                    ("ashadow", "act"))
        wgt = Signal(cell.weight_layout(), name="wgt", reset_less=True)
        m.d.sync += wgt.eq(self.w_in)
        dot = cell.ws_dot(m, wgt, active, "cell")
        psum = Signal(self.psum_out.shape(), name="psum", reset_less=True)
        m.d.sync += psum.eq(dot if not self._r else self.psum_in + dot)
        m.d.comb += [self.a_out.eq(shadow), self.ctl_out.eq(swap), self.psum_out.eq(psum)]
        return m


class WSColumn(wiring.Component):
    """The end of a weight-stationary column: the kind's ``column_sum`` of the partial sum
    (itself, or the bit-serial Horner step with ``plane_first``), into the accumulator ring
    (``ws_ring``: ``step``, one flag per ring entry, and ``ring_first``); ``acc`` shows the
    newest entry."""

    @staticmethod
    def variant(psum, horner: bool, group: bool = False) -> str:
        return "column_group" if group else "column"

    def __init__(self, cell: Cell, psum, horner: bool, group: bool = False):
        self._cell, self._horner, self._group = cell, horner, group
        cfg = cell.array
        members = {"psum": In(psum), "step": In(cfg.rows), "ring_first": In(1)}
        if horner:
            members["plane_first"] = In(1)
        if group:
            members |= {"scale": In(cfg.scale_bits), "g_first": In(1), "g_last": In(1),
                        "g_base": In(1)}
            if cfg.zero_points:  # zero * asum, made a cycle early (ws_group_taps)
                members["zprod"] = In(signed(cfg.zero_bits + cfg.asum_bits + 1))
            if cfg.specials:
                members |= {"special": In(signed(cfg.pe_config.special_bits)),
                            "tsum": In(psum)}
        members["acc"] = Out(acc_shape(cfg.acc))
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        cell = self._cell
        value = cell.column_sum(m, self.psum, self.plane_first if self._horner else None)
        if self._group:
            self._group_rings(m, value)
        else:
            ws_ring(m, cell.array, value, self.step, self.ring_first, self.acc)
        return m

    def _group_rings(self, m: Module, psum) -> None:
        """Weight-stationary (and input-stationary) groups: two rings of R entries (one per
        beat of a period). The group sums (``gsum_r{k}``, exact: ``(g_first ? 0 : oldest) +
        psum - zero * asum``, the product ``zprod`` made a cycle early) turn on every step.
        A group's sum on its last K tile (``g_last``) is registered with its scale
        (``group_done``, ``group_scale``: held otherwise, so the multiplier works once per
        group and row), scaled exactly into ``group_scaled`` (registered), and two cycles
        after its step the accumulators (``acc_r{k}``) take ``(g_base ? 0 : oldest) +
        scaled``, wrapped or saturated, on the step's delayed copy (``step_d2``; they keep
        their value on the other steps): ``group_foot_cycles`` = 2 cycles of latency, no
        multiplier and no more than two adders in any cycle. ``acc`` shows the newest
        accumulator. Special values (bit-serial): the beat's sum of the activations whose
        weight code is the special one (``tsum``, read on the beat's first plane,
        ``special_t``) times the column's ``special`` is added to the beat's partial sum."""
        cfg = self._cell.array
        rows = cfg.rows
        corrected = psum - self.zprod if cfg.zero_points else psum
        if cfg.specials:
            t_reg = Signal(self.tsum.shape(), name="special_t", reset_less=True)
            t_now = Signal(self.tsum.shape(), name="special_t_now")
            m.d.comb += t_now.eq(Mux(self.plane_first, self.tsum, t_reg))
            m.d.sync += t_reg.eq(t_now)
            corrected = psum + self.special * t_now
        gshape = signed(len(Value.cast(corrected)) + (cfg.group_size - 1).bit_length() + 1)
        gring = [Signal(gshape, name=f"gsum_r{k}", reset_less=True) for k in range(rows)]
        gsum = Signal(gshape, name="group_sum")
        m.d.comb += gsum.eq(Mux(self.g_first, 0, gring[0]) + corrected)
        for k in range(rows - 1):
            with m.If(self.step[k]):
                m.d.sync += gring[k].eq(gring[k + 1])
        with m.If(self.step[rows - 1]):
            m.d.sync += gring[rows - 1].eq(gsum)
        # Two stages: the group's sum and scale, then its scaled value.
        done = Signal(gshape, name="group_done", reset_less=True)
        scale = Signal(cfg.scale_bits, name="group_scale", reset_less=True)
        with m.If(self.g_last):  # the flags come with a step
            m.d.sync += [done.eq(gsum), scale.eq(self.scale)]
        scaled = Signal(signed(gshape.width + cfg.group.growth_bits + 1), name="group_scaled",
                        reset_less=True)
        m.d.sync += scaled.eq(scale_partial_sum(done, scale, cfg.group))
        step2 = delay_line(m, self.step, 3, "step_late")[2]
        last2 = delay_line(m, self.g_last, 3, "g_last_late")[2]
        base2 = delay_line(m, self.g_base, 3, "g_base_late")[2]
        acc = acc_shape(cfg.acc)
        ring = [Signal(acc, name=f"acc_r{k}", reset_less=True) for k in range(rows)]
        total = Signal(signed(max(cfg.acc.bits, scaled.shape().width) + 2), name="ring_sum")
        m.d.comb += total.eq(Mux(base2, 0, ring[0]) + scaled)
        for k in range(rows - 1):
            with m.If(step2[k]):
                m.d.sync += ring[k].eq(ring[k + 1])
        with m.If(step2[rows - 1]):
            m.d.sync += ring[rows - 1].eq(Mux(last2, fit_to_acc(total, cfg.acc), ring[0]))
        m.d.comb += self.acc.eq(ring[rows - 1])


def ws_load_taps(valid: list, beats, cols: int) -> list:
    """What a weight-stationary cell needs to tell when to load its shadow weight: the
    column's accepted-beat flag, beat index and the cell's row (``ws_load``), one cycle early
    (column ``c`` >= 1 gets taps ``c - 1`` and registers its load flag, ``ws_cell_load``;
    column 0 gets taps 0 and uses them as they are), so that a delay-line tap drives R
    comparators, not R cells' weight registers."""
    def early(line):
        return (line[0], *line[:cols - 1])

    taps = [Tap("valid", early(valid), 0, 1, 0)]
    if beats is not None:
        taps += [Tap("beat", early(beats), 0, 1, 0), Tap("row_index", None, 1, 0, 0)]
    return taps


def readout_grid(bus: bool) -> dict:
    """The output-stationary readout's part of the ``Grid``: every cell's bus drive leaves the
    grid (``collect``), or the drain registers form a chain up each column (out at the top)."""
    if bus:
        return {"chains": [], "collect": ("bus_out",)}
    return {"chains": [Chain("drain_in", "drain_out", "up", exits=True)], "collect": ()}


def bus_shape(cfg: ArrayConfig):
    """What an output-stationary column's result bus carries: the accumulator, or a
    carry-save accumulator's redundant form (sum vector, then saved carries)."""
    pe = cfg.cell_pe_config
    if carry_save(pe):
        return unsigned(pe.acc.bits + pe.saved_carries)
    return acc_shape(pe.acc)


def readout_ports(acc, bus: bool, linked: bool, bus_width=None) -> tuple[dict, dict]:
    """An output-stationary cell's readout ports (inputs, outputs): its bus drive
    (``bus_width``, default ``acc``), or the drain shift and the drain register below
    (``linked``: not in the bottom row)."""
    if bus:
        return {}, {"bus_out": Out(acc if bus_width is None else bus_width)}
    return ({"shift": In(1), "drain_in": In(acc)} if linked else {}), {"drain_out": Out(acc)}


def readout_cell(m: Module, cell: wiring.Component, acc, load, bus: bool,
                 linked: bool) -> None:
    """An output-stationary cell's part of the readout (``readout_ports``): its drive of the
    column's result bus, or its drain register."""
    if bus:
        m.d.comb += cell.bus_out.eq(bus_drive(m, acc, load))
        return
    drain = drain_register(m, acc, load, cell.shift if linked else None,
                           cell.drain_in if linked else None)
    m.d.comb += cell.drain_out.eq(drain)


def connect_readout(array: SystolicArray, m: Module, exits: dict, bus: bool,
                    acc_data) -> None:
    """``acc_data`` from the readout's grid exits: each column's bus (the OR tree of its
    cells' drives, ``or_tree``) through the bus register and the de-skew (column ``c``:
    ``C - c`` registers), or the top row's drain registers. Carry-save accumulators: the
    bus register (``out_bus``), one adder per column (``out_resolved_c{c}``), then the
    de-skew."""
    cfg = array.config
    rows, cols = cfg.rows, cfg.cols
    if not bus:
        out = exits["drain_out"]
    else:
        drives = exits["bus_out"]
        buses = [or_tree(m, [drives[r * cols + c] for r in range(rows)], f"bus_c{c}")
                 for c in range(cols)]
        if carry_save(cfg.pe_config):
            pe = cfg.pe_config
            regs = array.skew(m, buses, 0, 1, "out_bus")
            resolved = []
            for c in range(cols):
                value = Signal(acc_shape(cfg.acc), name=f"out_resolved_c{c}")
                word = Value.cast(regs[c])
                m.d.comb += value.eq(resolve(word[:pe.acc.bits], word[pe.acc.bits:],
                                             pe.carry_digit_bits))
                resolved.append(value)
            buses = resolved
        out = array.skew(m, buses, -1, cols, "out_deskew")
    for c in range(cols):
        m.d.comb += acc_data[c].eq(out[c])


def readout_variant(bus: bool, linked: bool) -> str:
    """The readout's part of a cell's module name."""
    if bus:
        return "_bus"
    return "" if linked else "_bottom"


class OSCell(wiring.Component):
    """One cell of an output-stationary array: the row operand register (``registers_row``),
    the weight register, the kind's PE (in a reset-less clock domain: its tile's first beat
    clears it) and its part of the readout (``readout_cell``): with the bus readout
    (``bus``), its drive of the column's result bus (the PE's sum on ``load``, else zero;
    a carry-save PE's redundant form); else the drain register, which takes the PE's sum on
    ``load`` and the drain register below on ``shift`` (``linked``: ``drain_in``, not in the
    bottom row).

    ``clear`` and ``load`` come along the row with the row operand (``ctl_in``: bit 0 clear,
    bit 1 load), registered in every cell but column 0's (``ctl_reg``), so that no control
    register drives more than one cell."""

    @staticmethod
    def variant(registers_row: bool, ctl_reg: bool, linked: bool, bus: bool) -> str:
        return ("os_cell" + ("" if registers_row else "_edge") + ("" if ctl_reg else "_c0")
                + readout_variant(bus, linked))

    def __init__(self, cell: Cell, registers_row: bool, ctl_reg: bool, linked: bool,
                 bus: bool):
        self._cell, self._registers_row, self._linked = cell, registers_row, linked
        self._ctl_reg, self._bus = ctl_reg, bus
        acc = acc_shape(cell.config.acc)
        ins, outs = readout_ports(acc, bus, linked, bus_shape(cell.array))
        members = {"row_in": In(cell.row_layout()), "ctl_in": In(2),
                   "w_in": In(cell.weight_layout()), **ins,
                   "row_out": Out(cell.row_layout()), "ctl_out": Out(2),
                   "w_out": Out(cell.weight_layout()), **outs}
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        cell = self._cell
        row = _row_register(m, cell, self.row_in, self._registers_row)
        ctl = control_register(m, self.ctl_in, self._ctl_reg)
        clear, load = ctl[0], ctl[1]
        wgt = Signal(cell.weight_layout(), name="wgt", reset_less=True)
        m.d.sync += wgt.eq(self.w_in)
        m.domains.pe = pe_domain = ClockDomain("pe", reset_less=True, local=True)
        m.d.comb += pe_domain.clk.eq(ClockSignal())
        m.submodules.pe = pe = DomainRenamer("pe")(cell.pe(cell.config))
        acc = Signal(acc_shape(cell.config.acc), name="acc")
        m.d.comb += [pe.in_valid.eq(1), pe.clear.eq(clear), pe.weight.eq(wgt),
                     getattr(pe, cell.row_port).eq(row), acc.eq(pe.acc)]
        # The bus takes a carry-save accumulator's redundant form, the drain its resolved sum.
        out = pe.acc_cs if self._bus and carry_save(cell.config) else acc
        readout_cell(m, self, out, load, self._bus, self._linked)
        m.d.comb += [self.row_out.eq(row), self.ctl_out.eq(ctl), self.w_out.eq(wgt)]
        return m


class WSCell(wiring.Component):
    """One cell of a weight-stationary array: the row operand register, the double-buffered
    weight (``load`` into the shadow from above, ``swap`` into the active one), the kind's
    exact dot product and the partial-sum register (``psum_in + dot``, of shape ``psum``;
    row 0, where ``psum_in`` is ``None``: ``dot``). ``swap`` rides along the row
    (``ctl_in``), registered in every cell but column 0's (``ctl_reg``)."""

    @staticmethod
    def variant(registers_row: bool, ctl_reg: bool, psum_in, psum) -> str:
        widths = f"{psum_in.width}_{psum.width}" if psum_in is not None else f"{psum.width}_top"
        return (f"ws_cell{'' if registers_row else '_edge'}{'' if ctl_reg else '_c0'}"
                f"_p{widths}")

    def __init__(self, cell: Cell, registers_row: bool, ctl_reg: bool, psum_in, psum):
        self._cell, self._registers_row, self._r = cell, registers_row, psum_in is not None
        self._ctl_reg = ctl_reg
        members = {"row_in": In(cell.row_layout()), "w_in": In(cell.weight_layout()),
                   **ws_load_ports(cell.array), "ctl_in": In(1)}
        if psum_in is not None:
            members["psum_in"] = In(psum_in)
        members |= {"row_out": Out(cell.row_layout()), "w_out": Out(cell.weight_layout()),
                    "ctl_out": Out(1), "psum_out": Out(psum)}
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        cell = self._cell
        row = _row_register(m, cell, self.row_in, self._registers_row)
        swap = control_register(m, self.ctl_in, self._ctl_reg)
        shadow, active = ws_weights(m, self.w_in, ws_cell_load(m, self, self._ctl_reg), swap)
        dot = cell.ws_dot(m, active, row, "cell")
        psum = Signal(self.psum_out.shape(), name="psum", reset_less=True)
        m.d.sync += psum.eq(dot if not self._r else self.psum_in + dot)
        m.d.comb += [self.row_out.eq(row), self.ctl_out.eq(swap), self.w_out.eq(shadow),
                     self.psum_out.eq(psum)]
        return m


def ws_load_ports(cfg: ArrayConfig) -> dict:
    """A weight-stationary cell's load inputs (see ``ws_load_taps``)."""
    if cfg.rows == 1:
        return {"valid": In(1)}
    return {"valid": In(1), "beat": In(range(cfg.rows)), "row_index": In(range(cfg.rows))}


def ws_cell_load(m: Module, cell: wiring.Component, registered: bool):
    """The cell's shadow-load flag from its ``ws_load_taps``: registered (``wload_reg``, no
    reset, as ``control_register``), or, in column 0, as it is."""
    members = cell.signature.members
    load = ws_load(m, cell.valid, cell.beat if "beat" in members else None,
                   cell.row_index if "beat" in members else 0)
    if not registered:
        return load
    reg = Signal(name="wload_reg", reset_less=True)
    m.d.sync += reg.eq(load)
    return reg


def control_register(m: Module, ctl_in, registers: bool):
    """A cell's control flags riding along its row: ``ctl_in`` registered (``ctl``), or, in
    column 0, ``ctl_in`` itself (the edge's delay-line tap).

    The register has no reset, unlike the delay line: so it is not the same circuit as the
    delay-line register that holds the same flag (cell ``(r, c)``'s flag is cell
    ``(r + 1, c - 1)``'s), which a synthesis tool would merge back into one register per
    anti-diagonal. That is safe: a flag needs ``c`` cycles to travel from the edge to column
    ``c``, and an accepted beat reaches cell ``(r, c)`` only ``r + c + 1`` cycles after it
    was accepted, by when every flag the chain held before it is the edge's (reset) value."""
    if not registers:
        return ctl_in
    ctl = Signal(len(ctl_in), name="ctl", reset_less=True)
    m.d.sync += ctl.eq(ctl_in)
    return ctl


def _row_register(m: Module, cell: Cell, row_in, registers: bool):
    """The cell's row operand: ``row_in`` registered (``row``), or ``row_in`` itself."""
    if not registers:
        return row_in
    row = Signal(cell.row_layout(), name="row", reset_less=True)
    m.d.sync += row.eq(row_in)
    return row


class SystolicArray(ConfigComponent):
    """R x C systolic array; see the module docstring for the ports, protocol and timing.

    The cells are the PE kind's (``qtpe.hdl.kinds``: ``Kind.cell``, a ``Cell``). With
    ``instances`` (what the Verilog emitter uses) every distinct cell is one module,
    instantiated R x C times (``cell_modules`` after elaboration: name -> component); without,
    the cells are submodules (for Amaranth's simulator)."""

    def __init__(self, config: ArrayConfig, *, instances: bool = False):
        if not isinstance(config, ArrayConfig):
            raise TypeError(f"SystolicArray needs an ArrayConfig, not {type(config).__name__}")
        self._instances = instances
        self.cell_modules: dict[str, wiring.Component] = {}
        pe = config.pe_config
        lanes = config.lanes
        a_row = data.ArrayLayout(wire_shape(pe.activation), lanes)
        w_col = data.ArrayLayout(wire_shape(pe.weight), lanes)
        is_ = config.dataflow is Dataflow.IS
        n_out = config.out_cols
        members = {
            "in_valid": In(1),
            "in_ready": Out(1),
            "in_last": In(1),
            "a_in": In(data.ArrayLayout(a_row, config.cols if is_ else config.rows)),
            "w_in": In(data.ArrayLayout(w_col, config.rows * config.cols if is_
                                        else config.cols)),
        }
        if config.dataflow is not Dataflow.OS:
            members["in_first"] = In(1)
        if pe.ARRAY_WBITS:
            members["in_wbits"] = In(pe.wbits_bits)
        if config.group is not None:  # per output column of a beat (IS: its one column)
            n_grp = config.out_cols
            members["s_in"] = In(data.ArrayLayout(unsigned(config.scale_bits), n_grp))
            if config.zero_points:
                members["z_in"] = In(data.ArrayLayout(unsigned(config.zero_bits), n_grp))
            if config.specials:
                members["x_in"] = In(data.ArrayLayout(signed(pe.special_bits), n_grp))
        rq = config.requantizer
        if rq is not None:
            members |= {
                "rq_scale": In(data.ArrayLayout(unsigned(rq.scale_bits), n_out)),
                "rq_shift": In(data.ArrayLayout(unsigned(rq.shift_bits), n_out)),
                "acc_valid": Out(1),
                "acc_data": Out(data.ArrayLayout(acc_shape(config.acc), n_out)),
            }
        out = wire_shape(config.out_type) if config.requant else acc_shape(config.acc)
        members |= {
            "out_valid": Out(1),
            "out_data": Out(data.ArrayLayout(out, n_out)),
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

    def skew(self, m: Module, values: list, a: int, b: int, name: str) -> list:
        """``values[i]`` delayed by ``a*i + b`` cycles (``qtpe.hdl.array_grid.skew``)."""
        return skew(m, values, a, b, name, self._config.name, self._instances,
                    self.cell_modules)

    def spread(self, m: Module, source, groups: int, copies: int, name: str) -> list:
        """``source`` two cycles later for ``groups * copies`` loads, through a tree of
        registers (``qtpe.hdl.array_grid.spread``)."""
        return spread(m, source, groups, copies, name, self._config.name, self._instances,
                      self.cell_modules)

    def place(self, m: Module, grid: Grid) -> dict:
        """Build a dataflow's ``grid`` of cells (``qtpe.hdl.array_grid.build_grid``: with
        ``instances``, ``cell_modules`` collects the grid module and the distinct cells)."""
        return build_grid(m, grid, self._config.name, self._instances, self.cell_modules)

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
        elif cfg.dataflow is Dataflow.IS:
            cell.elaborate_is(self, m, acc_valid, acc_data)
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
        for c in range(cfg.out_cols):
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
