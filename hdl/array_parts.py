"""Building blocks every systolic array shares (``qtpe.hdl.array``, ``qtpe.hdl.array_bitserial``).

Delay lines and operand skew, the output-stationary drain (shadow accumulators shifted out a
row per cycle), the weight-stationary period counter, double-buffered weights and accumulator
rings, and the tile-period throttle of output-stationary arrays. Each takes the ``Module`` to
build into and returns the signals it made; datapath registers have no reset, control ones do.
"""

from __future__ import annotations

from amaranth.hdl import Const, Module, Mux, Signal, Value, signed

from .array_config import ArrayConfig
from .shapes import acc_shape, fit_to_acc

__all__ = ["gated", "delay", "delay_line", "register_chain", "tile_ready", "os_drain",
           "ws_beats", "ws_weight", "ws_ring"]


def gated(m: Module, port, accept: Value, name: str) -> Signal:
    """``port``'s value on accepted beats, zero otherwise."""
    sig = Signal(port.shape(), name=name)
    m.d.comb += sig.as_value().eq(Mux(accept, port.as_value(), 0))
    return sig


def delay(m: Module, value, cycles: int, name: str):
    """``value`` delayed by ``cycles`` registers named ``{name}_d{i}``; 0 cycles: itself.
    Datapath: no reset."""
    for i in range(cycles):
        reg = Signal.like(value, name=f"{name}_d{i + 1}", reset_less=True)
        m.d.sync += reg.eq(value)
        value = reg
    return value


def delay_line(m: Module, first: Signal, taps: int, name: str) -> list:
    """Control: ``line[i]`` = ``first`` delayed by ``i`` cycles, ``i`` = 0 .. ``taps - 1``,
    registers ``{name}_d{i}`` (reset)."""
    line = [first]
    for i in range(1, taps):
        reg = Signal.like(first, name=f"{name}_d{i}")
        m.d.sync += reg.eq(line[-1])
        line.append(reg)
    return line


def register_chain(m: Module, first, count: int, name) -> list:
    """``count`` values: ``first``, then each registered once more (``name(i)`` names the
    ``i``-th register, ``i`` >= 1; datapath, no reset)."""
    out = [first]
    for i in range(1, count):
        reg = Signal(first.shape(), name=name(i), reset_less=True)
        m.d.sync += reg.eq(out[-1])
        out.append(reg)
    return out


def tile_ready(m: Module, cfg: ArrayConfig, accept: Value, last: Value,
               ready: Value | None = None) -> Value:
    """Output-stationary ``in_ready``: ``ready`` (the cells', default always), and a beat with
    ``last`` only once ``cfg.min_tile_period`` cycles have passed since the previous one
    (``tile_gap`` counts them), so that a tile's drain registers are free when it ends."""
    period = cfg.min_tile_period
    if period <= 1:
        return Const(1) if ready is None else ready
    gap = Signal(range(period + 1), init=period, name="tile_gap")
    with m.If(accept & last):
        m.d.sync += gap.eq(1)
    with m.Elif(gap < period):
        m.d.sync += gap.eq(gap + 1)
    ok = ~last | (gap == period)
    return ok if ready is None else ready & ok


def os_drain(m: Module, cfg: ArrayConfig, accs, last: list, offset: int, acc_valid,
             acc_data) -> None:
    """Output-stationary drain: PE ``(r, c)``'s finished sum (``accs[r][c]``) moves to its drain
    register (its shadow accumulator) on tap ``r + c + offset`` of the ``last`` delay line;
    from the tap of the last PE on, the drain registers shift up one row per cycle and the top
    row is the output (``acc_valid`` for R cycles, ``acc_data`` the row)."""
    rows, cols = cfg.rows, cfg.cols
    acc = acc_shape(cfg.acc)
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


def ws_beats(m: Module, cfg: ArrayConfig, accept: Value):
    """Weight-stationary periods: R accepted beats, counted from reset. Returns
    ``(beats, swap0)``: the beat index's delay line (``None`` for one row) and the flag of a
    period's first beat."""
    rows = cfg.rows
    swap0 = Signal(name="swap")
    if rows == 1:
        m.d.comb += swap0.eq(accept)
        return None, swap0
    beat = Signal(range(rows), name="beat")  # a period starts with beat 0
    with m.If(accept):
        m.d.sync += beat.eq(Mux(beat == rows - 1, 0, beat + 1))
    m.d.comb += swap0.eq(accept & ~beat.any())
    return delay_line(m, beat, cfg.cols, "beat"), swap0


def ws_weight(m: Module, r: int, c: int, incoming, valid: list, beats, swap: list):
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


def ws_ring(m: Module, cfg: ArrayConfig, c: int, psum: Value, step: Value, first: Value,
            out, *, named_base: bool = True) -> None:
    """Column ``c``'s accumulator ring of R entries, one per beat of a period (entry 0 the
    oldest, entry R-1 the newest): on ``step`` the ring shifts and the newest entry becomes
    ``(first ? 0 : oldest) + psum``, exact, then wrapped or saturated; ``out`` shows the
    newest entry. ``named_base``: the ``first ? 0 : oldest`` operand is a wire of its own,
    ``ring_base_c{c}`` (the bit-serial ring has always written it inline)."""
    rows = cfg.rows
    acc = acc_shape(cfg.acc)
    ring = [Signal(acc, name=f"acc_r{k}_c{c}", reset_less=True) for k in range(rows)]
    base = Mux(first, Const(0, acc), ring[0])
    if named_base:
        wire = Signal(acc, name=f"ring_base_c{c}")
        m.d.comb += wire.eq(base)
        base = wire
    total = Signal(signed(max(cfg.acc.bits, cfg.psum_bits) + 2), name=f"ring_sum_c{c}")
    m.d.comb += total.eq(base + psum)
    with m.If(step):
        m.d.sync += [ring[k].eq(ring[k + 1]) for k in range(rows - 1)]
        m.d.sync += ring[rows - 1].eq(fit_to_acc(total, cfg.acc))
    m.d.comb += out.eq(ring[rows - 1])
