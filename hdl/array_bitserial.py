"""Bit-serial systolic arrays (``pe = "bitserial"``): one weight bit-plane per cycle.

``BitSerialCell`` is the kind's array cell (``qtpe.hdl.array.Cell``): it overrides all three
dataflows. Ports, beats and result rows are those of the MAC array (``qtpe.hdl.array``); the
differences are in time. Every op runs at the full precision ``k = weight.bits``
(``ArrayConfig.beat_cycles``): an accepted beat occupies ``k`` cycles, its weight bit-planes
walked MSB first (the sign plane of signed weights is subtracted, then Horner:
``h = 2h + plane``), so ``in_ready`` is low for the ``k - 1`` cycles after each accepted beat
(OS also keeps the MAC array's rule for ``last`` beats, ``min_tile_period``). Peak
``rows * cols * lanes / k`` MACs per cycle. All sums are exact until the accumulator, which
wraps or saturates exactly as in the MAC array, so ``qtpe.tb.models.gemm.gemm`` holds
unchanged.

The edge keeps a plane counter: during the ``k`` cycles after a beat is accepted it counts the
bit position ``p = k-1 .. 0``; ``first`` / ``last`` mark the beat's first and last plane.
These controls (and the beat's tile flags) ride delay lines with one tap per anti-diagonal
``r + c``, as ``clear``/``last`` do in the MAC array. Activations are registered when the beat
is accepted and held for its ``k`` cycles while they flow right with the usual skew: cell
``(r, c)`` sees plane ``j`` of a beat accepted at cycle ``t`` at cycle ``t + 1 + r + c + j``.

**Output-stationary**: at the top of every column a shift register takes the beat's ``lanes``
weight codes and puts out one bit-plane (``lanes`` bits) per cycle, MSB first; the planes flow
down the column (one register per row), so a cell never holds a whole weight. Cell ``(r, c)``:
``plane_sum = sum(plane bit ? act : 0)`` over the lanes (negated on the sign plane);
``h = (first ? 0 : 2h) + plane_sum``; on the last plane ``acc = (tile's first beat ? 0 : acc)
+ h`` wrapped or saturated (``fit_to_acc``). A tile's accumulators are complete ``R + C + k``
cycles after its ``last`` beat was accepted (``drain_start``: the MAC array's ``R + C + L``
with ``L = pe_latency = k``, for the drain readout); the readouts and their
``min_tile_period`` rule are the MAC array's.

**Weight-stationary**: every cell holds ``lanes`` weight codes, double buffered as in the MAC
array (the shadow registers take one weight row per beat, not per plane; the active ones swap
at the period's first beat). The plane position ``p`` rides the anti-diagonal delay line, so
it is skewed down every column; cell ``(r, c)`` adds ``sum(bit p of weight ? act : 0)`` over
its lanes to the plane partial sum coming from above (exact). Below each column (after the
de-skew) one Horner unit builds the beat's exact partial sum over its ``k`` planes (sign plane
negated) and adds it to the column's accumulator ring on the last plane, as the MAC array does
per beat. A beat with ``in_last`` puts out its row ``latency`` = ``R + C + k`` cycles after it
was accepted.

**Groups** (``config.group_size``; OS with the bus readout, WS, IS), as in the MAC array
(``qtpe.hdl.array``, "Groups"), the group's operands (``s_in``, ``z_in``, the activations for
the zero points' sums, the group flags) taken with the beat and held (``s_held``, ``z_held``,
``a_held``; the WS flags ``g_*_held``) until its last plane, where a MAC array takes them with
the beat. OS: the cells' accumulators hold a group's exact sum and put it on the bus after the
group's last plane; the feet (``Cell.group_feet``) get the rows ``C + 1`` cycles after that
plane. A beat that ends a group (or a tile) is accepted only if its last plane comes at least
``min_tile_period`` = R cycles after the previous ending beat's (``_end_ready``: a beat of
precision ``p`` has its last plane ``p`` cycles after it is accepted, so a 1-bit group after
a 4-bit one waits, where equal precisions need only R cycles between acceptances). WS: the
Horner units feed the column ends' two rings (``WSColumn``) on each beat's last plane; IS:
the Horner unit below the bottom edge feeds the one ring with groups (``Cell.is_group_ring``).

**The BitMoD types** (``dtype``, with the array's groups). ``offset``: the array's zero points
(``zero_points = true``), ``special_bits`` wide. ``special`` (signed grids): ``x_in`` gives a
special value per group and column (signed ``special_bits``, read as ``s_in``); in a beat of
precision ``p`` the code ``-2^(p-1)`` (the sign bit alone; ``p = 1``: the code 1) stands for
it. Such a lane takes part in no bit-plane, and the sum ``t`` of its activations is kept
beside the plane sums: the group's sum is ``sum(code * a) + special * t``, as in the PE, and
costs no cycle. OS: the column top loads a special lane's code as 0 and sends a mask
(``xmask_c{c}``, ``lanes`` bits) down the column with the beat's first plane; each cell adds
the masked activations (``special_beat``) into ``special_t`` per group, which rides the bus
above the group's sum to the feet (``group_t_c{c}``), where ``sum + special * t`` is scaled.
WS: the cells get the first-plane flag along the row; on it a cell marks its lanes whose
code (at the beat's precision, from the plane position) is the special one, skips them on the
beat's planes (``special_skip_l{l}``) and sends their activations' sum down a second chain
(``tsum``), which the column end reads on the first plane (``special_t``) and adds
``special * t`` to the beat's sum.

**Input-stationary**: every cell holds ``lanes`` activations, double buffered as in the MAC
array's IS (one activation row per beat shifts down the columns into the shadows; the active
ones swap at the period's first beat). A beat's ``R * C`` weight codes are held for its ``k``
planes and skewed by ``r + c``; the plane position rides along the rows with the swap, so
cell ``(r, c)`` sees plane ``j`` of a beat accepted at ``t`` at ``t + 1 + j + r + c`` and adds
``sum(bit p of weight ? act : 0)`` over its lanes to the plane partial sum from above
(exact). The columns' plane sums meet along the bottom edge as in the MAC array's IS; one
Horner unit below it builds the beat's exact sum over its ``k`` planes (sign plane negated)
and adds it to the accumulator ring on the last plane. A beat with ``in_last`` puts out its
one result ``latency`` = ``R + C + 1 + k`` cycles after it was accepted.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Shape, Signal, Value, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from .array import (
    Cell,
    GroupBeat,
    connect_readout,
    control_register,
    group_ends,
    readout_cell,
    readout_grid,
    readout_ports,
    readout_variant,
    ws_cell_load,
    ws_load_ports,
    ws_load_taps,
)
from .array_config import ArrayConfig, Readout
from .array_grid import Chain, Grid, Tap
from .array_parts import (
    bus_control,
    delay_line,
    drain_control,
    gated,
    ws_beats,
    ws_ring,
    ws_weights,
)
from .shapes import acc_shape, fit_to_acc, tree_sum

__all__ = ["BitSerialCell", "BitSerialOSCell", "BitSerialWSCell", "BitSerialISCell"]


def beat_precision(m: Module, wbits, k: int) -> Signal:
    """The precision a beat runs at: ``wbits`` if 1..``k``, else ``k`` (0 means full)."""
    eff = Signal(range(k + 1), name="beat_wbits")
    wide = (1 << len(wbits)) - 1 > k  # else "> k" is constant (Verilator: CMPCONST)
    full = ~wbits.any() | (wbits > k) if wide else ~wbits.any()  # ~any: a lint-clean == 0
    m.d.comb += eff.eq(Mux(full, k, wbits))
    return eff


def _planes(m: Module, accept, k: int, eff=None):
    """The edge's plane counter. Returns ``(ready, plane, first, last)``: ``ready`` is low for
    the ``p - 1`` cycles after an accepted beat of precision ``p`` (``eff``, the beat's
    ``beat_precision``; default ``k``); in the ``p`` cycles after it ``plane`` counts the bit
    position ``p-1 .. 0`` (``None`` for ``k = 1``) and ``first``/``last`` mark the first and
    last of them."""
    busy = Signal(name="plane_busy")
    first, last = Signal(name="plane_first"), Signal(name="plane_last")
    ready = Signal(name="beat_ready")
    if k == 1:
        m.d.sync += busy.eq(accept)
        m.d.comb += [first.eq(busy), last.eq(busy), ready.eq(1)]
        return ready, None, first, last
    plane = Signal(range(k), name="plane")
    fresh = Signal(name="plane_fresh")  # the first cycle of a beat's planes
    at_lsb = Signal(name="plane_at_lsb")
    m.d.comb += at_lsb.eq(~plane.any())
    with m.If(accept):
        m.d.sync += [busy.eq(1), fresh.eq(1), plane.eq((k if eff is None else eff) - 1)]
    with m.Elif(~at_lsb):
        m.d.sync += [plane.eq(plane - 1), fresh.eq(0)]
    with m.Else():
        m.d.sync += [busy.eq(0), fresh.eq(0)]
    m.d.comb += [
        first.eq(busy & fresh),
        last.eq(busy & at_lsb),
        ready.eq(~busy | at_lsb),
    ]
    return ready, plane, first, last


def _end_ready(m: Module, cfg: ArrayConfig, end_commit, ends, ready, eff):
    """Output-stationary ``in_ready``: ``ready`` (the plane counter's), and a beat that ends a
    sum (``ends``: a tile's ``last`` beat, or a group's) only if its last plane comes
    ``cfg.min_tile_period`` cycles or more after the previous ending beat's (``end_commit``;
    ``tile_gap`` counts the cycles since), so that the column buses are free: a beat of
    precision ``eff`` has its last plane ``eff`` cycles after it is accepted."""
    period = cfg.min_tile_period
    if period <= 1:
        return ready
    gap = Signal(range(period + 1), init=period, name="tile_gap")
    with m.If(end_commit):
        m.d.sync += gap.eq(1)
    with m.Elif(gap < period):
        m.d.sync += gap.eq(gap + 1)
    since = Signal(range(period + 1), name="tile_gap_now")
    m.d.comb += since.eq(Mux(end_commit, 0, gap))
    return ready & (~ends | (since + eff >= period))


def _held(m: Module, port, accept, name: str):
    """``port`` registered when a beat is accepted and held until the next one (no reset)."""
    reg = Signal(port.shape(), name=name, reset_less=True)
    with m.If(accept):
        m.d.sync += reg.eq(port)
    return reg


def _held_flags(m: Module, flags, accept) -> list:
    """The weight- and input-stationary group flags (``Cell.ws_group_flags``) of a beat,
    registered when it is accepted (``g_*_held``) for its last plane."""
    kept = []
    for name, flag in zip(("g_first", "g_last", "g_base"), flags, strict=True):
        reg = Signal(name=f"{name}_held")
        with m.If(accept):
            m.d.sync += reg.eq(flag)
        kept.append(reg)
    return kept


def _plane_ctl_bits(cfg: ArrayConfig, first: bool = False) -> int:
    """Width of a weight- or input-stationary bit-serial cell's row control: the swap flag,
    the first-plane flag (``first``: the special type), the plane position (``k > 1``)."""
    k = cfg.beat_cycles
    return 1 + int(first) + (Shape.cast(range(k)).width if k > 1 else 0)


def _at_plane(m: Module, cfg: ArrayConfig, code, pos, name: str):
    """``code`` (a weight code, unsigned) shifted right by the plane position ``pos``, so
    that bit 0 is the plane's bit (``code`` itself for ``k = 1``)."""
    if cfg.beat_cycles == 1:
        return code
    shifted = Signal(cfg.weight.bits, name=name)
    m.d.comb += shifted.eq(code >> pos)
    return shifted


def _plane_sum(m: Module, cfg: ArrayConfig, bits, act, name: str):
    """``sum(bits[l] ? act[l] : 0)`` over the lanes, exact (one adder tree)."""
    pe = cfg.pe_config
    act_num = signed if cfg.activation.signed else unsigned
    terms = []
    for lane in range(cfg.lanes):
        term = Signal(act_num(cfg.activation.bits), name=f"plane_term_{name}_l{lane}")
        m.d.comb += term.eq(Mux(bits[lane], act[lane], 0))
        terms.append(term)
    return tree_sum(m, terms, act_num(pe.plane_bits), f"plane_sum_{name}")


def _horner(m: Module, cfg: ArrayConfig, plane_sum, first, shape, name: str):
    """The Horner step ``first ? +-plane_sum : 2h + plane_sum`` (``-`` on the sign plane of
    signed weights) and its register ``h``; returns the step's value (exact in ``shape``).
    With ``k = 1`` the single plane is the whole sum (no register)."""
    top = -plane_sum if cfg.weight.signed else plane_sum
    step = Signal(shape, name=f"horner_next_{name}")
    if cfg.beat_cycles == 1:
        m.d.comb += step.eq(top)
        return step
    h = Signal(shape, name=f"horner_{name}", reset_less=True)
    m.d.comb += step.eq(Mux(first, top, (h << 1) + plane_sum))
    m.d.sync += h.eq(step)
    return step


class BitSerialCell(Cell):
    """Bit-serial cells: the dataflows of the module docstring."""

    # -- output-stationary ------------------------------------------------------------------
    def elaborate_os(self, array, m: Module, acc_valid, acc_data) -> None:
        """The output-stationary bit-serial array into ``m`` (see the module docstring)."""
        cfg: ArrayConfig = array.config
        rows, cols, lanes, k = cfg.rows, cfg.cols, cfg.lanes, cfg.beat_cycles
        W = cfg.weight.bits
        groups = cfg.group is not None

        accept = Signal(name="accept")
        m.d.comb += accept.eq(array.in_valid & array.in_ready)
        eff = beat_precision(m, array.in_wbits, k)
        ready, _, first0, commit0 = _planes(m, accept, k, eff)
        # What a PE sums ends on a 'last' beat, or with groups on a group's last beat.
        ends = group_ends(m, cfg, accept, array.in_last) if groups else array.in_last

        # The next accepted beat starts a sum (after reset and after an ending beat).
        tile_first = Signal(init=1, name="group_first" if groups else "tile_first")
        beat_clear, beat_last = Signal(name="beat_clear"), Signal(name="beat_last")
        beat_tile_last = Signal(name="beat_tile_last")
        with m.If(accept):
            m.d.sync += [
                tile_first.eq(ends), beat_clear.eq(tile_first), beat_last.eq(ends),
                beat_tile_last.eq(array.in_last),
            ]
        clear0, last0 = Signal(name="clear"), Signal(name="last")
        m.d.comb += [clear0.eq(commit0 & beat_clear), last0.eq(commit0 & beat_last)]
        m.d.comb += array.in_ready.eq(_end_ready(m, cfg, last0, ends, ready, eff))
        # The controls ride along the rows with the activations (``BitSerialOSCell``):
        # row r's edge gets them r cycles (drain load: r + 1) after the plane.
        first = delay_line(m, first0, rows, "first")
        commit = delay_line(m, commit0, rows, "commit")
        clear = delay_line(m, clear0, rows, "clear")
        bus = cfg.readout is Readout.BUS
        readout = readout_grid(bus)
        row_valid, row_data = acc_valid, acc_data
        if groups:  # the group sums go to the column feet first
            row_valid = Signal(name="group_row_valid")
            row_data = [Signal(acc_shape(self.config.acc), name=f"group_row_c{c}")
                        for c in range(cols)]
        if bus:
            last = delay_line(m, last0, max(rows, cols) + 1, "last")
            bus_control(m, cfg, last, 1, row_valid)
            shifts = None
        else:
            drain_tap = rows + cols - 1 - (2 if rows > 1 else 0)  # drain_control's
            last = delay_line(m, last0, max(rows, drain_tap) + 1, "last")
            shift_early = drain_control(m, cfg, last, 1, acc_valid)
            shifts = (self.spread_shift(array, m, shift_early) if shift_early is not None
                      else None)
        ctl = []
        for r in range(rows):
            edge = Signal(4, name=f"ctl_r{r}")
            m.d.comb += edge.eq(Cat(first[r], commit[r], clear[r], last[r + 1]))
            ctl.append(edge)

        held = _held(m, array.a_in, accept, "a_held")
        sources = array.skew(m, [held[r] for r in range(rows)], 1, 0, "a_skew")
        # One weight schedule per column: a shift register puts out the beat's planes MSB first
        # (a beat at precision p < W: its code shifted up by W - p, so bit p - 1 leads).
        # Special values: a lane whose aligned code is the sign bit alone is loaded as 0 and
        # marked in ``xmask_c{c}``, which goes down the column with the first plane only.
        up = Signal(range(W), name="plane_align")
        m.d.comb += up.eq(W - eff)
        xs = cfg.specials
        tops = []
        for c in range(cols):
            sreg = Signal(data.ArrayLayout(unsigned(W), lanes), name=f"wplanes_c{c}",
                          reset_less=True)
            aligned = []
            for lane in range(lanes):
                code = Signal(W, name=f"walign_c{c}_l{lane}")
                m.d.comb += code.eq((array.w_in[c][lane].as_unsigned() << up)[:W])
                aligned.append(code)
            if xs:
                xmask = Signal(lanes, name=f"xmask_c{c}")
                special = Cat(code[W - 1] & ~code[:W - 1].any() if W > 1 else code[0]
                              for code in aligned)
                m.d.sync += xmask.eq(Mux(accept, special, 0))
            with m.If(accept):
                m.d.sync += [sreg[lane].eq(Mux(special[lane], 0, aligned[lane]) if xs
                                           else aligned[lane]) for lane in range(lanes)]
            with m.Else():
                m.d.sync += [sreg[lane].eq(sreg[lane] << 1) for lane in range(lanes)]
            top = Signal(2 * lanes if xs else lanes, name=f"plane_top_c{c}")
            m.d.comb += top.eq(Cat(*(sreg[lane][W - 1] for lane in range(lanes)),
                                   *([xmask] if xs else [])))
            tops.append(top)
        tops = array.skew(m, tops, 1, 0, "plane_skew")

        exits = array.place(m, Grid(
            rows, cols, self,
            at=lambda r, c: (BitSerialOSCell, (c > 0, r > 0, not bus and r + 1 < rows, bus)),
            chains=[Chain("act_in", "act_out", "right", tuple(sources)),
                    Chain("ctl_in", "ctl_out", "right", tuple(ctl)),
                    Chain("plane_in", "plane_out", "down", tuple(tops)),
                    *readout["chains"]],
            collect=readout["collect"],
            taps=[*([Tap("shift", tuple(shifts), cols, 1, 0)] if shifts is not None else [])]))
        row_t = None
        if xs:  # the buses carry each cell's sum and, above it, its special activations' sum
            wide = [Signal(len(Value.cast(row_data[c])) + cfg.asum_bits, name=f"group_bus_c{c}")
                    for c in range(cols)]
            connect_readout(array, m, exits, bus, wide)
            row_t = []
            for c in range(cols):
                acc_bits = len(Value.cast(row_data[c]))
                m.d.comb += row_data[c].eq(wide[c][:acc_bits])
                t = Signal(signed(cfg.asum_bits), name=f"group_t_c{c}")
                m.d.comb += t.eq(wide[c][acc_bits:])
                row_t.append(t)
        else:
            connect_readout(array, m, exits, bus, row_data)
        if groups:  # the group's operands, held from its last beat to that beat's last plane
            zero = (_held(m, array.z_in, accept, "z_held") if cfg.zero_points else None)
            special = _held(m, array.x_in, accept, "x_held") if xs else None
            beat = GroupBeat(commit0, last0, beat_clear, beat_tile_last,
                             _held(m, array.s_in, accept, "s_held"), zero, held, special)
            # the rows leave the buses C + 1 = drain_start - group_foot_cycles - k cycles
            # after the group's last plane
            self.group_feet(array, m, beat, cfg.drain_start - cfg.group_foot_cycles - k,
                            row_valid, row_data, acc_valid, acc_data, row_t)

    # -- weight-stationary ------------------------------------------------------------------
    def elaborate_ws(self, array, m: Module, acc_valid, acc_data) -> None:
        """The weight-stationary bit-serial array into ``m`` (see the module docstring)."""
        cfg: ArrayConfig = array.config
        rows, cols, k = cfg.rows, cfg.cols, cfg.beat_cycles

        accept = Signal(name="accept")
        m.d.comb += accept.eq(array.in_valid & array.in_ready)
        ready, plane0, first0, commit0 = _planes(m, accept, k,
                                                 beat_precision(m, array.in_wbits, k))
        m.d.comb += array.in_ready.eq(ready)

        # Weight loading, per accepted beat (as the MAC array).
        valid0 = Signal(name="valid")
        m.d.comb += valid0.eq(accept)
        beats, swap0 = ws_beats(m, cfg, accept)
        valid = delay_line(m, valid0, cols, "valid")
        swap = delay_line(m, swap0, rows, "swap")  # along the rows (BitSerialWSCell's ctl)

        # Per-plane controls: the plane position for the cells, first/last/ring flags for the
        # Horner units below the columns (tap R + C - 1, after the de-skew).
        beat_first, beat_last = Signal(name="beat_first"), Signal(name="beat_last")
        with m.If(accept):
            m.d.sync += [beat_first.eq(array.in_first), beat_last.eq(array.in_last)]
        ring_first0, ring_last0 = Signal(name="ring_first"), Signal(name="ring_last")
        m.d.comb += [ring_first0.eq(commit0 & beat_first), ring_last0.eq(commit0 & beat_last)]
        plane = delay_line(m, plane0, rows, "plane") if plane0 is not None else None
        xs = cfg.specials  # the cells need the first plane too (special codes)
        first_row = delay_line(m, first0, rows, "first_row") if xs else None
        ctl = []
        for r in range(rows):
            parts = [swap[r], *([first_row[r]] if xs else []),
                     *([plane[r]] if plane is not None else [])]
            edge = Signal(sum(len(Value.cast(x)) for x in parts), name=f"ctl_r{r}")
            m.d.comb += edge.eq(Cat(*parts))
            ctl.append(edge)
        bottom = rows + cols - 1
        first = delay_line(m, first0, bottom + 1, "first")
        commit = delay_line(m, commit0, bottom + 1, "commit")
        ring_first = delay_line(m, ring_first0, bottom + 1, "ring_first")
        foot = cfg.group_foot_cycles  # with groups the accumulators are 2 cycles later
        ring_last = delay_line(m, ring_last0, bottom + foot + 1, "ring_last")[bottom + foot]

        # a_in[j] (reduction offset j) goes to PE row R-1-j, as in the MAC array.
        held = _held(m, array.a_in, accept, "a_held")
        sources = array.skew(m, [held[rows - 1 - r] for r in range(rows)], 1, 0, "a_skew")
        w_edge = gated(m, array.w_in, accept, "w_edge")
        w_top = array.skew(m, [w_edge[c] for c in range(cols)], 1, 0, "w_skew")

        exits = array.place(m, Grid(
            rows, cols, self,
            at=lambda r, c: (BitSerialWSCell, (c > 0, self.plane_psum_shape(r - 1) if r else None,
                                               self.plane_psum_shape(r))),
            chains=[Chain("act_in", "act_out", "right", tuple(sources)),
                    Chain("ctl_in", "ctl_out", "right", tuple(ctl)),
                    Chain("w_in", "w_out", "down", tuple(w_top)),
                    Chain("psum_in", "psum_out", "down", exits=True),
                    *([Chain("tsum_in", "tsum_out", "down", exits=True)] if xs else [])],
            taps=ws_load_taps(valid, beats, cols)))
        psum_shape = self.plane_psum_shape(rows - 1)

        def deskewed(port, name):
            sums = [exits[port][c].as_signed() if psum_shape.signed else exits[port][c]
                    for c in range(cols)]
            return array.skew(m, sums, -1, cols - 1, name)

        psums_out = deskewed("psum_out", "psum_deskew")

        # One Horner unit per column, then the accumulator ring (as the MAC array, per beat);
        # with groups the group and accumulator rings, their operands taken at accept and
        # given to ``ws_group_taps`` on the beat's last plane.
        group = None
        if cfg.group is not None:
            kept = _held_flags(m, self.ws_group_flags(array, m, swap0), accept)
            zero = _held(m, array.z_in, accept, "z_held") if cfg.zero_points else None
            asum = (sum(held[r][lane] for r in range(rows) for lane in range(cfg.lanes))
                    if cfg.zero_points else None)
            special = _held(m, array.x_in, accept, "x_held") if xs else None
            group = self.ws_group_taps(array, m, commit0, kept,
                                       _held(m, array.s_in, accept, "s_held"), zero, asum,
                                       bottom, special)
            if xs:  # each beat's special activations' sum, read on its first plane
                group.append(Tap("tsum", tuple(deskewed("tsum_out", "tsum_deskew")), 0, 1, 0))
        self.place_columns(array, m, psums_out, bottom, commit, ring_first, first, acc_data,
                           group)
        m.d.sync += acc_valid.eq(ring_last)  # 'last' beats are valid beats

    # -- input-stationary -------------------------------------------------------------------
    def elaborate_is(self, array, m: Module, acc_valid, acc_data) -> None:
        """The input-stationary bit-serial array into ``m`` (see the module docstring)."""
        cfg: ArrayConfig = array.config
        rows, cols = cfg.rows, cfg.cols

        accept = Signal(name="accept")
        m.d.comb += accept.eq(array.in_valid & array.in_ready)
        ready, plane0, first0, commit0 = _planes(
            m, accept, cfg.beat_cycles, beat_precision(m, array.in_wbits, cfg.beat_cycles))
        m.d.comb += array.in_ready.eq(ready)

        # Activation loading, per accepted beat (as the MAC array's IS).
        valid0 = Signal(name="valid")
        m.d.comb += valid0.eq(accept)
        beats, swap0 = ws_beats(m, cfg, accept)
        valid = delay_line(m, valid0, cols, "valid")
        swap = delay_line(m, swap0, rows, "swap")

        # Per-plane controls: the plane position rides along the rows with the swap; the
        # Horner unit and the ring below the bottom edge take their flags at tap R + C, when
        # the array's sum of a plane leaves the bottom edge.
        beat_first, beat_last = Signal(name="beat_first"), Signal(name="beat_last")
        with m.If(accept):
            m.d.sync += [beat_first.eq(array.in_first), beat_last.eq(array.in_last)]
        ring_first0, ring_last0 = Signal(name="ring_first"), Signal(name="ring_last")
        m.d.comb += [ring_first0.eq(commit0 & beat_first), ring_last0.eq(commit0 & beat_last)]
        plane = delay_line(m, plane0, rows, "plane") if plane0 is not None else None
        ctl = []
        for r in range(rows):
            edge = Signal(1 + (len(plane[0]) if plane is not None else 0), name=f"ctl_r{r}")
            m.d.comb += edge.eq(Cat(swap[r], *([plane[r]] if plane is not None else [])))
            ctl.append(edge)
        bottom = rows + cols
        first = delay_line(m, first0, bottom + 1, "first")
        commit = delay_line(m, commit0, bottom - 1, "commit")
        ring_first = delay_line(m, ring_first0, bottom - 1, "ring_first")
        foot = cfg.group_foot_cycles  # with groups the accumulators are 2 cycles later
        ring_last = delay_line(m, ring_last0, bottom + foot + 1, "ring_last")[bottom + foot]

        # Activations shift down the columns into the shadows (a_in[c], beat j kept by row
        # R-1-j); PE (r, c)'s weight codes (w_in[c*R + r]) are held for the beat's k planes
        # and skewed by r + c, so that plane j of a beat accepted at t is at PE (r, c) at
        # t + 1 + j + r + c, with its plane position.
        a_edge = gated(m, array.a_in, accept, "a_edge")
        a_top = array.skew(m, [a_edge[c] for c in range(cols)], 1, 0, "a_skew")
        held = _held(m, array.w_in, accept, "w_held")
        w_rows = [array.skew(m, [held[c * rows + r] for c in range(cols)], 1, r,
                             f"w_skew_r{r}") for r in range(rows)]
        exits = array.place(m, Grid(
            rows, cols, self,
            at=lambda r, c: (BitSerialISCell, (c > 0, self.plane_psum_shape(r - 1) if r else
                                               None, self.plane_psum_shape(r))),
            chains=[Chain("a_in", "a_out", "down", tuple(a_top)),
                    Chain("ctl_in", "ctl_out", "right", tuple(ctl)),
                    Chain("psum_in", "psum_out", "down", exits=True)],
            taps=[Tap("w_in", tuple(w_rows[r][c] for r in range(rows) for c in range(cols)),
                      cols, 1, 0),
                  *ws_load_taps(valid, beats, cols)]))
        act_num = signed if cfg.activation.signed else unsigned
        psum_shape = self.plane_psum_shape(rows - 1)
        psums = [exits["psum_out"][c].as_signed() if psum_shape.signed else
                 exits["psum_out"][c] for c in range(cols)]
        total = None
        for c in range(cols):  # the bottom edge: column c adds its plane sum to the running one
            width = cfg.activation.bits + ((c + 1) * rows * cfg.lanes - 1).bit_length()
            run = Signal(act_num(width), name=f"is_sum_c{c}", reset_less=True)
            m.d.sync += run.eq(psums[c] if total is None else total + psums[c])
            total = run

        # One Horner unit (first plane: tap R + C), then the accumulator ring (step on the
        # beat's last plane), its flags through register trees made two cycles early.
        num = signed if cfg.signed else unsigned
        value = _horner(m, cfg, total, first[bottom], num(cfg.psum_bits), "sum")
        steps = array.spread(m, commit[bottom - 2], 1, rows, "ring_step")
        firsts = array.spread(m, ring_first[bottom - 2], 1, 1, "ring_first")
        if cfg.group is None:
            ws_ring(m, cfg, value, Cat(*steps), firsts[0], acc_data[0])
        else:  # the group rings, their operands taken at accept and read on the last plane
            kept = _held_flags(m, self.ws_group_flags(array, m, swap0), accept)
            zp = cfg.zero_points
            zero = _held(m, array.z_in, accept, "z_held") if zp else None
            asum = (_held(m, self.is_active_sum(m, accept, swap0, a_edge), accept, "asum_held")
                    if zp else None)
            taps = self.ws_group_taps(array, m, commit0, kept,
                                      _held(m, array.s_in, accept, "s_held"), zero, asum,
                                      bottom)
            self.is_group_ring(m, value, Cat(*steps), firsts[0], acc_data[0], taps)
        m.d.sync += acc_valid.eq(ring_last)  # 'last' beats are valid beats

    def column_sum(self, m: Module, psum, plane_first):
        """The Horner step over the beat's bit-planes (``_horner``); without ``plane_first``
        (the output-stationary group feet, whose sums are whole) the sum itself."""
        if plane_first is None:
            return psum
        cfg = self.array
        num = signed if cfg.signed else unsigned
        return _horner(m, cfg, psum, plane_first, num(cfg.psum_bits), "column")

    def plane_psum_shape(self, r: int):
        """The exact plane partial sum leaving row ``r`` of a weight- or input-stationary
        column."""
        cfg = self.array
        act_num = signed if cfg.activation.signed else unsigned
        return act_num(cfg.activation.bits + ((r + 1) * cfg.lanes - 1).bit_length())


def _registered(m: Module, value, registers: bool, name: str):
    if not registers:
        return value
    reg = Signal(value.shape(), name=name, reset_less=True)
    m.d.sync += reg.eq(value)
    return reg


class BitSerialOSCell(wiring.Component):
    """One output-stationary bit-serial cell: the activation register (``act_reg``: not in
    column 0, which takes the edge's held, skewed value), the bit-plane register
    (``plane_reg``: not in row 0), the plane sum, the Horner register, the accumulator
    (``commit`` on the beat's last plane, ``clear`` on a tile's first beat) and its part of
    the readout (``qtpe.hdl.array.readout_cell``: the column's result bus, or the drain
    register; ``linked`` as in ``OSCell``). The controls
    (``ctl_in``: first, commit, clear, load) ride along the row with the activations,
    registered where the activation is."""

    @staticmethod
    def variant(act_reg: bool, plane_reg: bool, linked: bool, bus: bool) -> str:
        flags = (("act_reg", act_reg), ("plane_reg", plane_reg), ("below", linked and not bus))
        return ("os_cell" + "".join(f"_{t}" for t, on in flags if on)
                + (readout_variant(bus, linked) if bus else ""))

    def __init__(self, cell: BitSerialCell, act_reg: bool, plane_reg: bool, linked: bool,
                 bus: bool):
        self._cell, self._act_reg, self._plane_reg = cell, act_reg, plane_reg
        self._linked, self._bus = linked, bus
        cfg = cell.array
        acc = acc_shape(cell.config.acc)  # with groups: a group's exact sum
        xs = cfg.specials  # the planes carry the special mask; the bus the t sum too
        ins, outs = readout_ports(acc, bus, linked,
                                  unsigned(acc.width + cfg.asum_bits) if xs else None)
        planes = 2 * cfg.lanes if xs else cfg.lanes
        members = {"act_in": In(cell.row_layout()), "ctl_in": In(4), "plane_in": In(planes),
                   **ins, "act_out": Out(cell.row_layout()), "ctl_out": Out(4),
                   "plane_out": Out(planes), **outs}
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        cfg = self._cell.array
        pe = cfg.pe_config
        acc_type = self._cell.config.acc
        acc = acc_shape(acc_type)
        act = _registered(m, self.act_in, self._act_reg, "act")
        ctl = control_register(m, self.ctl_in, self._act_reg)
        first, commit, clear, load = (ctl[i] for i in range(4))
        plane = _registered(m, self.plane_in, self._plane_reg, "plane")
        code_num = signed if (cfg.weight.signed or cfg.activation.signed) else unsigned
        psum = _plane_sum(m, cfg, plane, act, "cell")
        dot = _horner(m, cfg, psum, first, code_num(pe.code_dot_bits), "cell")
        a = Signal(acc, name="acc", reset_less=True)
        total = Signal(signed(max(acc_type.bits, pe.code_dot_bits) + 2), name="acc_sum")
        m.d.comb += total.eq(Mux(clear, Const(0, acc), a) + dot)
        with m.If(commit):
            m.d.sync += a.eq(fit_to_acc(total, acc_type))
        if cfg.specials:  # t: the group's sum of the activations of special lanes
            lanes = cfg.lanes
            t_beat = _plane_sum(m, cfg, plane[lanes:], act, "special")
            t_shape = signed(cfg.asum_bits)
            t_held = Signal(t_shape, name="special_beat", reset_less=True)
            t_now = Signal(t_shape, name="special_beat_now")
            m.d.comb += t_now.eq(Mux(first, t_beat, t_held))
            m.d.sync += t_held.eq(t_now)
            t = Signal(t_shape, name="special_t", reset_less=True)
            with m.If(commit):
                m.d.sync += t.eq(Mux(clear, 0, t) + t_now)
            readout_cell(m, self, Cat(a, t), load, self._bus, self._linked)
        else:
            readout_cell(m, self, a, load, self._bus, self._linked)
        m.d.comb += [self.act_out.eq(act), self.ctl_out.eq(ctl), self.plane_out.eq(plane)]
        return m


class BitSerialWSCell(wiring.Component):
    """One weight-stationary bit-serial cell: the activation register
    (``act_reg``), the double-buffered weight codes, the bit ``plane`` of them selected by the
    plane position, the plane sum and the plane partial-sum register (``psum_in + plane sum``;
    row 0: the plane sum). ``swap`` and the plane position ride along the row (``ctl_in``),
    registered where the activation is."""

    @staticmethod
    def variant(act_reg: bool, psum_in, psum) -> str:
        widths = f"{psum_in.width}_{psum.width}" if psum_in is not None else f"{psum.width}_top"
        return f"ws_cell{'_act_reg' if act_reg else ''}_p{widths}"

    def __init__(self, cell: BitSerialCell, act_reg: bool, psum_in, psum):
        self._cell, self._act_reg, self._r = cell, act_reg, psum_in is not None
        cfg = cell.array
        ctl = _plane_ctl_bits(cfg, cfg.specials)
        members = {"act_in": In(cell.row_layout()), "w_in": In(cell.weight_layout()),
                   **ws_load_ports(cfg), "ctl_in": In(ctl)}
        if psum_in is not None:
            members["psum_in"] = In(psum_in)
            if cfg.specials:
                members["tsum_in"] = In(psum_in)
        members |= {"act_out": Out(cell.row_layout()), "w_out": Out(cell.weight_layout()),
                    "ctl_out": Out(ctl), "psum_out": Out(psum)}
        if cfg.specials:
            members["tsum_out"] = Out(psum)
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        cfg = self._cell.array
        act = _registered(m, self.act_in, self._act_reg, "act")
        ctl = control_register(m, self.ctl_in, self._act_reg)
        shadow, active = ws_weights(m, self.w_in, ws_cell_load(m, self, self._act_reg), ctl[0])
        xs = cfg.specials
        W = cfg.weight.bits
        pos = ctl[2:] if xs else ctl[1:]  # the plane position (bit p - 1 .. 0)
        bits = Signal(cfg.lanes, name="wbits")
        marks = Signal(cfg.lanes, name="special_now")
        for lane in range(cfg.lanes):
            full = active[lane].as_unsigned()
            code = _at_plane(m, cfg, full, pos, f"wshift_l{lane}")
            if not xs:
                m.d.comb += bits[lane].eq(code[0])
                continue
            # On the first plane (bit p - 1) a code of the sign bit alone is the special one:
            # its lane is skipped on every plane of the beat and counted in ``tsum``.
            below = Signal(W, name=f"wbelow_l{lane}")
            m.d.comb += below.eq(full & ((Const(1, W + 1) << pos) - 1) if W > 1 else 0)
            m.d.comb += marks[lane].eq(code[0] & ~below.any())
            skip = Signal(name=f"special_skip_l{lane}", reset_less=True)
            skipping = Mux(ctl[1], marks[lane], skip)
            m.d.sync += skip.eq(skipping)
            m.d.comb += bits[lane].eq(code[0] & ~skipping)
        dot = _plane_sum(m, cfg, bits, act, "cell")
        psum = Signal(self.psum_out.shape(), name="psum", reset_less=True)
        m.d.sync += psum.eq(dot if not self._r else self.psum_in + dot)
        m.d.comb += [self.act_out.eq(act), self.ctl_out.eq(ctl), self.w_out.eq(shadow),
                     self.psum_out.eq(psum)]
        if xs:
            flagged = Signal(cfg.lanes, name="special_first")
            m.d.comb += flagged.eq(Mux(ctl[1], marks, 0))
            tdot = _plane_sum(m, cfg, flagged, act, "special")
            tsum = Signal(self.tsum_out.shape(), name="tsum", reset_less=True)
            m.d.sync += tsum.eq(tdot if not self._r else self.tsum_in + tdot)
            m.d.comb += self.tsum_out.eq(tsum)
        return m


class BitSerialISCell(wiring.Component):
    """One input-stationary bit-serial cell: the double-buffered activations (``load`` into
    the shadow ``ashadow`` from above, ``swap`` into the active ``act``), the bit of the
    beat's weight codes (``w_in``, held and skewed at the top level) that the plane position
    selects, the plane sum and the plane partial-sum register (``psum_in + plane sum``; row
    0: the plane sum). ``swap`` and the plane position ride along the row (``ctl_in``),
    registered in every cell but column 0's (``ctl_reg``)."""

    @staticmethod
    def variant(ctl_reg: bool, psum_in, psum) -> str:
        widths = f"{psum_in.width}_{psum.width}" if psum_in is not None else f"{psum.width}_top"
        return f"is_cell{'' if ctl_reg else '_c0'}_p{widths}"

    def __init__(self, cell: BitSerialCell, ctl_reg: bool, psum_in, psum):
        self._cell, self._ctl_reg, self._r = cell, ctl_reg, psum_in is not None
        cfg = cell.array
        ctl = _plane_ctl_bits(cfg)
        members = {"a_in": In(cell.is_layout()), "w_in": In(cell.weight_layout()),
                   **ws_load_ports(cfg), "ctl_in": In(ctl)}
        if psum_in is not None:
            members["psum_in"] = In(psum_in)
        members |= {"a_out": Out(cell.is_layout()), "ctl_out": Out(ctl), "psum_out": Out(psum)}
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        cfg = self._cell.array
        ctl = control_register(m, self.ctl_in, self._ctl_reg)
        shadow, active = ws_weights(m, self.a_in, ws_cell_load(m, self, self._ctl_reg), ctl[0],
                                    ("ashadow", "act"))
        bits = Signal(cfg.lanes, name="wbits")
        for lane in range(cfg.lanes):
            code = _at_plane(m, cfg, self.w_in[lane].as_unsigned(), ctl[1:], f"wshift_l{lane}")
            m.d.comb += bits[lane].eq(code[0])
        dot = _plane_sum(m, cfg, bits, active, "cell")
        psum = Signal(self.psum_out.shape(), name="psum", reset_less=True)
        m.d.sync += psum.eq(dot if not self._r else self.psum_in + dot)
        m.d.comb += [self.a_out.eq(shadow), self.ctl_out.eq(ctl), self.psum_out.eq(psum)]
        return m
