"""Building blocks every systolic array shares (``qtpe.hdl.array``, ``qtpe.hdl.array_bitserial``).

Delay lines and operand skew, the output-stationary readouts (a result bus per column, or
shadow accumulators shifted out a row per cycle), the weight-stationary period counter,
double-buffered weights and accumulator rings, and the tile-period throttle of
output-stationary arrays. Each takes the ``Module`` to
build into and returns the signals it made; datapath registers have no reset, control ones do.
"""

from __future__ import annotations

from amaranth.hdl import (
    ClockSignal,
    Const,
    Instance,
    Module,
    Mux,
    ResetSignal,
    Signal,
    Value,
    signed,
)
from amaranth.lib.wiring import In

from .array_config import ArrayConfig
from .shapes import acc_shape, fit_to_acc

__all__ = ["gated", "delay", "delay_line", "register_chain", "tile_ready", "drain_control",
           "drain_register", "bus_control", "bus_drive", "or_tree", "CellGrid", "ws_beats",
           "ws_load", "ws_weights", "ws_ring"]


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


def drain_control(m: Module, cfg: ArrayConfig, last: list, offset: int, acc_valid):
    """Output-stationary drain control: from tap ``T = R + C - 2 + offset`` of the ``last``
    delay line (the last PE's drain load) the drain registers shift up one row per cycle for
    R - 1 cycles, and the top row is the output for R cycles (``acc_valid``).

    The shift flag goes to every drain register at once, so it is made two cycles early
    (``drain_count`` runs from tap ``T - 2``) for a tree of registers (``spread``); returns
    that early flag (``None`` for one row: nothing shifts)."""
    rows, cols = cfg.rows, cfg.cols
    tap = rows + cols - 2 + offset
    lead = 2 if rows > 1 else 0  # rows > 1 and offset >= 1 give tap >= 2
    count = Signal(range(rows + 1), name="drain_count")
    with m.If(last[tap - lead]):
        m.d.sync += count.eq(rows)
    with m.Elif(count != 0):
        m.d.sync += count.eq(count - 1)
    busy = Signal(name="drain_busy")
    m.d.comb += busy.eq(count != 0)
    m.d.comb += acc_valid.eq(delay_line(m, busy, lead + 1, "drain_valid")[lead])
    if rows == 1:
        return None
    shift = Signal(name="drain_shift")
    m.d.comb += shift.eq(count > 1)
    return shift


def drain_register(m: Module, acc, load, shift, below) -> Signal:
    """One output-stationary drain register (a PE's shadow accumulator): takes ``acc`` on
    ``load``, else the register below on ``shift`` (``below`` is ``None`` in the bottom row)."""
    drain = Signal(acc.shape(), name="drain", reset_less=True)
    with m.If(load):
        m.d.sync += drain.eq(acc)
    if below is not None:
        with m.Elif(shift):
            m.d.sync += drain.eq(below)
    return drain


def bus_control(m: Module, cfg: ArrayConfig, last: list, offset: int, acc_valid) -> None:
    """Output-stationary bus readout: cell ``(r, c)`` puts its finished sum on its column's
    bus ``offset + r + c`` cycles after tap 0 of the ``last`` delay line; the bus register
    and the de-skew (``C - c`` registers in column ``c``) line row ``r`` up ``offset + C + r``
    cycles after it, so ``acc_valid`` is high for the R cycles from tap ``offset + C``
    (``bus_count`` starts one cycle before)."""
    rows = cfg.rows
    count = Signal(range(rows + 1), name="bus_count")
    with m.If(last[offset + cfg.cols - 1]):
        m.d.sync += count.eq(rows)
    with m.Elif(count != 0):
        m.d.sync += count.eq(count - 1)
    m.d.comb += acc_valid.eq(count != 0)


def bus_drive(m: Module, acc, load) -> Signal:
    """What a cell drives onto its column's result bus (``bus``): its ``acc`` in the cycle of
    ``load``, else zero (at most one cell of a column loads in a cycle, so the OR of a
    column's drives, ``or_tree``, is a one-hot multiplexer)."""
    bus = Signal(acc.shape(), name="bus")
    m.d.comb += bus.eq(Mux(load, acc, 0))
    return bus


def or_tree(m: Module, values: list, name: str) -> Signal:
    """The OR of ``values`` as a balanced tree (``{name}_l{level}_{i}``): a column's result
    bus, ``ceil(log2 R)`` gates deep, so the synthesis tools need not rebalance a chain."""
    level = 0
    while len(values) > 1:
        nxt = []
        for i in range(0, len(values), 2):
            pair = values[i:i + 2]
            if len(pair) == 1:
                nxt.append(pair[0])
                continue
            node = Signal(len(Value.cast(pair[0])), name=f"{name}_l{level}_{i // 2}")
            m.d.comb += node.eq(Value.cast(pair[0]) | Value.cast(pair[1]))
            nxt.append(node)
        values, level = nxt, level + 1
    return values[0]


class CellGrid:
    """Places the R x C cells of an array in the top module: as submodules (``instances``
    false: one component per position, for Amaranth's simulator) or as instances of one
    Verilog module per distinct cell (``instances`` true: what the emitter writes, so that the
    Verilog grows with the number of distinct cells, not with R x C). ``modules`` maps each
    module name to its component, in the order of first use.

    A cell is ``cls(cell, *args)``: the arguments after the kind's ``Cell`` say everything
    that makes two cells differ, and ``cls.variant(*args)`` names the module."""

    def __init__(self, m: Module, top: str, instances: bool, modules: dict):
        self.m = m
        self.top = top
        self.instances = instances
        self.modules = modules
        self._keys: dict[str, tuple] = {}

    def place(self, name: str, cls, cell, args: tuple, connect: dict) -> None:
        """Cell ``name`` (``cell_r{r}_c{c}``), ``cls(cell, *args)``, with its ports connected
        as ``connect`` says (port -> value; inputs driven, outputs driving the signals)."""
        if not self.instances:
            component = cls(cell, *args)
            self.m.submodules[name] = component
            for p, v in connect.items():
                port = _value(getattr(component, p))
                if component.signature.members[p].flow is In:
                    self.m.d.comb += port.eq(_value(v))
                else:
                    self.m.d.comb += _value(v).eq(port)
            return
        module = f"{self.top}_{cls.variant(*args)}"
        key = (cls, args)
        if self._keys.setdefault(module, key) != key:
            raise AssertionError(f"two different cells named {module!r}: {key} and "
                                 f"{self._keys[module]}")
        if module not in self.modules:
            self.modules[module] = cls(cell, *args)
        members = self.modules[module].signature.members
        ports = {("i_" if members[p].flow is In else "o_") + p: _value(v)
                 for p, v in connect.items()}
        self.m.submodules[name] = Instance(module, i_clk=ClockSignal(), i_rst=ResetSignal(),
                                           **ports)


def _value(v):
    return v.as_value() if hasattr(v, "as_value") else v


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


def ws_load(m: Module, valid, beat, row) -> Value:
    """Weight-stationary: the shadow-load enable of a PE in row ``row``: beat ``j`` of a
    period (``beat``: ``None`` for one row) is kept by PE row ``R-1-j``, so row ``row`` loads
    from beat ``row`` on (``valid``: an accepted beat reaches the PE's column)."""
    load = Signal(name="wload")
    m.d.comb += load.eq(valid if beat is None else valid & (beat >= row))
    return load


def ws_weights(m: Module, incoming, load: Value, swap: Value,
               names: tuple[str, str] = ("wshadow", "wgt")):
    """A weight-stationary PE's double-buffered weight (an input-stationary PE's activation,
    ``names`` ``("ashadow", "act")``): the shadow register (``wshadow``)
    takes ``incoming`` (the shadow above, or the skewed ``w_in`` in row 0) on ``load``; the
    active one (``wgt``) takes the shadow on ``swap`` (the next period's first beat reaching
    the PE). Returns ``(shadow, active)``."""
    shadow = Signal(incoming.shape(), name=names[0], reset_less=True)
    active = Signal(incoming.shape(), name=names[1], reset_less=True)
    with m.If(load):
        m.d.sync += shadow.eq(incoming)
    with m.If(swap):
        m.d.sync += active.eq(shadow)
    return shadow, active


def ws_ring(m: Module, cfg: ArrayConfig, psum: Value, step: Value, first: Value, out) -> None:
    """A column's accumulator ring of R entries, one per beat of a period (entry 0 the oldest,
    entry R-1 the newest): on a step (``step``: R copies of the flag, entry ``k`` enabled by
    bit ``k``) the ring shifts and the newest entry becomes ``(first ? 0 : oldest) + psum``,
    exact, then wrapped or saturated; ``out`` shows the newest entry."""
    rows = cfg.rows
    acc = acc_shape(cfg.acc)
    ring = [Signal(acc, name=f"acc_r{k}", reset_less=True) for k in range(rows)]
    base = Signal(acc, name="ring_base")
    total = Signal(signed(max(cfg.acc.bits, cfg.psum_bits, len(Value.cast(psum))) + 2),
                   name="ring_sum")
    m.d.comb += [base.eq(Mux(first, Const(0, acc), ring[0])), total.eq(base + psum)]
    for k in range(rows - 1):
        with m.If(step[k]):
            m.d.sync += ring[k].eq(ring[k + 1])
    with m.If(step[rows - 1]):
        m.d.sync += ring[rows - 1].eq(fit_to_acc(total, cfg.acc))
    m.d.comb += out.eq(ring[rows - 1])
