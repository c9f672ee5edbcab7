"""Bit-serial systolic arrays (``pe = "bitserial"``): one weight bit-plane per cycle.

``BitSerialCell`` is the kind's array cell (``qtpe.hdl.array.Cell``): it overrides both
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
with ``L = pe_latency = k``); the drain/shadow registers and the ``min_tile_period`` =
``2R + C - 2`` rule are the MAC array's.

**Weight-stationary**: every cell holds ``lanes`` weight codes, double buffered as in the MAC
array (the shadow registers take one weight row per beat, not per plane; the active ones swap
at the period's first beat). The plane position ``p`` rides the anti-diagonal delay line, so
it is skewed down every column; cell ``(r, c)`` adds ``sum(bit p of weight ? act : 0)`` over
its lanes to the plane partial sum coming from above (exact). Below each column (after the
de-skew) one Horner unit builds the beat's exact partial sum over its ``k`` planes (sign plane
negated) and adds it to the column's accumulator ring on the last plane, as the MAC array does
per beat. A beat with ``in_last`` puts out its row ``latency`` = ``R + C + k`` cycles after it
was accepted.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data

from .array import Cell
from .array_config import ArrayConfig
from .array_parts import (
    delay,
    delay_line,
    gated,
    os_drain,
    tile_ready,
    ws_beats,
    ws_ring,
    ws_weight,
)
from .shapes import acc_shape, fit_to_acc, tree_sum

__all__ = ["BitSerialCell"]


def _planes(m: Module, accept, k: int):
    """The edge's plane counter. Returns ``(ready, plane, first, last)``: ``ready`` is low for
    the ``k - 1`` cycles after an accepted beat; in the ``k`` cycles after it ``plane`` counts
    the bit position ``k-1 .. 0`` (``None`` for ``k = 1``) and ``first``/``last`` mark the
    first and last of them."""
    busy = Signal(name="plane_busy")
    first, last = Signal(name="plane_first"), Signal(name="plane_last")
    ready = Signal(name="beat_ready")
    if k == 1:
        m.d.sync += busy.eq(accept)
        m.d.comb += [first.eq(busy), last.eq(busy), ready.eq(1)]
        return ready, None, first, last
    plane = Signal(range(k), name="plane")
    at_lsb = Signal(name="plane_at_lsb")
    m.d.comb += at_lsb.eq(~plane.any())
    with m.If(accept):
        m.d.sync += [busy.eq(1), plane.eq(k - 1)]
    with m.Elif(~at_lsb):
        m.d.sync += plane.eq(plane - 1)
    with m.Else():
        m.d.sync += busy.eq(0)
    m.d.comb += [
        first.eq(busy & (plane == k - 1)),
        last.eq(busy & at_lsb),
        ready.eq(~busy | at_lsb),
    ]
    return ready, plane, first, last


def _held(m: Module, port, accept, name: str):
    """``port`` registered when a beat is accepted and held until the next one (no reset)."""
    reg = Signal(port.shape(), name=name, reset_less=True)
    with m.If(accept):
        m.d.sync += reg.eq(port)
    return reg


def _skewed_acts(m: Module, held, rows: int, cols: int, order) -> list:
    """``acts[r][c]``: row ``order(r)`` of the held activations delayed by ``r + c`` cycles."""
    acts = [[None] * cols for _ in range(rows)]
    for r in range(rows):
        prev = delay(m, held[order(r)], r, f"a_skew_r{r}")
        for c in range(cols):
            if c:
                reg = Signal(held[0].shape(), name=f"act_r{r}_c{c}", reset_less=True)
                m.d.sync += reg.eq(prev)
                prev = reg
            acts[r][c] = prev
    return acts


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
        pe = cfg.pe_config
        rows, cols, lanes, k = cfg.rows, cfg.cols, cfg.lanes, cfg.beat_cycles
        W = cfg.weight.bits
        acc = acc_shape(cfg.acc)

        accept = Signal(name="accept")
        m.d.comb += accept.eq(array.in_valid & array.in_ready)
        ready, _, first0, commit0 = _planes(m, accept, k)
        m.d.comb += array.in_ready.eq(tile_ready(m, cfg, accept, array.in_last, ready))

        # The next accepted beat starts a tile (after reset and after a 'last' beat).
        tile_first = Signal(init=1, name="tile_first")
        beat_clear, beat_last = Signal(name="beat_clear"), Signal(name="beat_last")
        with m.If(accept):
            m.d.sync += [
                tile_first.eq(array.in_last), beat_clear.eq(tile_first),
                beat_last.eq(array.in_last),
            ]
        clear0, last0 = Signal(name="clear"), Signal(name="last")
        m.d.comb += [clear0.eq(commit0 & beat_clear), last0.eq(commit0 & beat_last)]
        diag = rows + cols - 1
        first = delay_line(m, first0, diag, "first")
        commit = delay_line(m, commit0, diag, "commit")
        clear = delay_line(m, clear0, diag, "clear")
        last = delay_line(m, last0, diag + 1, "last")

        acts = _skewed_acts(m, _held(m, array.a_in, accept, "a_held"), rows, cols,
                            lambda r: r)
        # One weight schedule per column: a shift register puts out the beat's planes MSB first.
        planes = [[None] * cols for _ in range(rows)]
        for c in range(cols):
            sreg = Signal(data.ArrayLayout(unsigned(W), lanes), name=f"wplanes_c{c}",
                          reset_less=True)
            with m.If(accept):
                m.d.sync += [sreg[lane].eq(array.w_in[c][lane].as_unsigned())
                             for lane in range(lanes)]
            with m.Else():
                m.d.sync += [sreg[lane].eq(sreg[lane] << 1) for lane in range(lanes)]
            top = Signal(lanes, name=f"plane_top_c{c}")
            m.d.comb += top.eq(Cat(sreg[lane][W - 1] for lane in range(lanes)))
            prev = delay(m, top, c, f"plane_skew_c{c}")
            for r in range(rows):
                if r:
                    reg = Signal(lanes, name=f"plane_r{r}_c{c}", reset_less=True)
                    m.d.sync += reg.eq(prev)
                    prev = reg
                planes[r][c] = prev

        code_num = signed if (cfg.weight.signed or cfg.activation.signed) else unsigned
        sum_bits = max(cfg.acc.bits, pe.code_dot_bits) + 2
        accs = [[None] * cols for _ in range(rows)]
        for r in range(rows):
            for c in range(cols):
                d, name = r + c, f"r{r}_c{c}"
                psum = _plane_sum(m, cfg, planes[r][c], acts[r][c], name)
                dot = _horner(m, cfg, psum, first[d], code_num(pe.code_dot_bits), name)
                a = Signal(acc, name=f"acc_{name}", reset_less=True)
                total = Signal(signed(sum_bits), name=f"acc_sum_{name}")
                m.d.comb += total.eq(Mux(clear[d], Const(0, acc), a) + dot)
                with m.If(commit[d]):
                    m.d.sync += a.eq(fit_to_acc(total, cfg.acc))
                accs[r][c] = a

        # Drain (as the MAC array): each PE's finished sum moves to its drain register one cycle
        # after its last commit; from drain_start the registers shift up one row per cycle.
        os_drain(m, cfg, accs, last, 1, acc_valid, acc_data)


    # -- weight-stationary ------------------------------------------------------------------
    def elaborate_ws(self, array, m: Module, acc_valid, acc_data) -> None:
        """The weight-stationary bit-serial array into ``m`` (see the module docstring)."""
        cfg: ArrayConfig = array.config
        rows, cols, lanes, k = cfg.rows, cfg.cols, cfg.lanes, cfg.beat_cycles
        num = signed if cfg.signed else unsigned
        act_num = signed if cfg.activation.signed else unsigned

        accept = Signal(name="accept")
        m.d.comb += accept.eq(array.in_valid & array.in_ready)
        ready, plane0, first0, commit0 = _planes(m, accept, k)
        m.d.comb += array.in_ready.eq(ready)

        # Weight loading, per accepted beat (as the MAC array).
        valid0 = Signal(name="valid")
        m.d.comb += valid0.eq(accept)
        beats, swap0 = ws_beats(m, cfg, accept)
        valid = delay_line(m, valid0, cols, "valid")
        swap = delay_line(m, swap0, rows + cols - 1, "swap")

        # Per-plane controls: the plane position for the cells, first/last/ring flags for the
        # Horner units below the columns (tap R + C - 1, after the de-skew).
        beat_first, beat_last = Signal(name="beat_first"), Signal(name="beat_last")
        with m.If(accept):
            m.d.sync += [beat_first.eq(array.in_first), beat_last.eq(array.in_last)]
        ring_first0, ring_last0 = Signal(name="ring_first"), Signal(name="ring_last")
        m.d.comb += [ring_first0.eq(commit0 & beat_first), ring_last0.eq(commit0 & beat_last)]
        diag = rows + cols - 1
        plane = delay_line(m, plane0, diag, "plane") if plane0 is not None else None
        bottom = diag
        first = delay_line(m, first0, bottom + 1, "first")[bottom]
        commit = delay_line(m, commit0, bottom + 1, "commit")[bottom]
        ring_first = delay_line(m, ring_first0, bottom + 1, "ring_first")[bottom]
        ring_last = delay_line(m, ring_last0, bottom + 1, "ring_last")[bottom]

        # a_in[j] (reduction offset j) goes to PE row R-1-j, as in the MAC array.
        acts = _skewed_acts(m, _held(m, array.a_in, accept, "a_held"), rows, cols,
                            lambda r: rows - 1 - r)
        w_edge = gated(m, array.w_in, accept, "w_edge")
        psums_out = []
        for c in range(cols):
            shadow = delay(m, w_edge[c], c, f"w_skew_c{c}")
            psum = None
            for r in range(rows):
                name = f"r{r}_c{c}"
                shadow, active = ws_weight(m, r, c, shadow, valid, beats, swap)
                bits = Signal(lanes, name=f"wbits_{name}")
                for lane in range(lanes):
                    code = active[lane].as_unsigned()
                    if plane is not None:  # the selected bit moves to bit 0
                        shifted = Signal(cfg.weight.bits, name=f"wshift_{name}_l{lane}")
                        m.d.comb += shifted.eq(code >> plane[r + c])
                        code = shifted
                    m.d.comb += bits[lane].eq(code[0])
                dot = _plane_sum(m, cfg, bits, acts[r][c], name)
                width = cfg.activation.bits + ((r + 1) * lanes - 1).bit_length()
                nxt = Signal(act_num(width), name=f"psum_{name}", reset_less=True)
                m.d.sync += nxt.eq(dot if psum is None else psum + dot)
                psum = nxt
            psums_out.append(delay(m, psum, cols - 1 - c, f"psum_deskew_c{c}"))

        # One Horner unit per column, then the accumulator ring (as the MAC array, per beat).
        for c in range(cols):
            dot = _horner(m, cfg, psums_out[c], first, num(cfg.psum_bits), f"c{c}")
            ws_ring(m, cfg, c, dot, commit, ring_first, acc_data[c], named_base=False)
        m.d.sync += acc_valid.eq(ring_last)  # 'last' beats are valid beats
