"""The parts every PE kind shares: its signature, its component base, one accumulator.

A kind's PE component subclasses ``PEComponent`` and supplies its inputs (``weight`` and what
flows with it) and its exact dot product; ``accumulate`` (clear, add, wrap or saturate),
``group_accumulate`` (the per-group scale stage in front of it) and ``pipeline_stage`` (an
optional register on the dot product) are the same hardware for every kind.

The PE signature, in port order: ``in_valid``, [``in_ready``: kinds whose inputs can take
more than a cycle], ``clear``, the kind's inputs, ``acc``, [``acc_cs``: a carry-save
accumulator's redundant form, sum vector then saved carries], ``out_valid``.
"""

from __future__ import annotations

from typing import ClassVar

from amaranth.hdl import Cat, Module, Mux, Signal, Value, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .carry_save import BitHeap, carry_save_step, resolve, value_heap
from .config import carry_save
from .dequant import scale_partial_sum, scaled_shape
from .formats import AccType
from .reference import Reference, decode
from .shapes import acc_shape, fit_to_acc

__all__ = ["pe_members", "ConfigComponent", "PEComponent", "acc_base", "acc_fit", "acc_next",
           "accumulate", "carry_save_accumulate", "group_accumulate", "pipeline_stage"]


def pe_members(config, inputs: dict, *, ready: bool = False) -> dict:
    """The PE signature's members: ``in_valid``, [``in_ready``], ``clear``, ``inputs`` (name
    -> shape, in order), ``acc`` (``config.acc``), ``out_valid``."""
    members = {"in_valid": In(1)}
    if ready:
        members["in_ready"] = Out(1)
    members["clear"] = In(1)
    members |= {name: In(shape) for name, shape in inputs.items()}
    members["acc"] = Out(acc_shape(config.acc))
    if carry_save(config):
        members["acc_cs"] = Out(config.acc.bits + config.saved_carries)
    members["out_valid"] = Out(1)
    return members


class ConfigComponent(wiring.Component):
    """A component built from one config record: ``config``, and ``latency`` (the record's,
    unless the component says otherwise)."""

    def __init__(self, config, members: dict):
        self._config = config
        super().__init__(members)

    @property
    def config(self):
        return self._config

    @property
    def latency(self) -> int:
        return self._config.latency


class PEComponent(ConfigComponent):
    """A PE of one kind: the shared signature around the kind's inputs.

    Subclasses set ``CONFIG`` (the config record they take), ``READY`` (whether they have
    ``in_ready``) and define ``inputs(config)`` (their input ports, name -> shape, in order).
    Every documented parameter is a property: ``config``, ``lanes`` (pairs per input),
    ``latency`` (``config.latency``).
    """

    CONFIG: ClassVar[type]
    READY: ClassVar[bool] = False
    #: The name of the accumulator's ``clear ? 0 : acc`` wire in the Verilog (the MAC and
    #: bit-serial PEs keep the name ``base`` their Verilog has always had).
    ACC_BASE: ClassVar[str] = "acc_base"

    def __init__(self, config):
        if not isinstance(config, self.CONFIG):
            self._MustUse__silence = True  # never built: no "created but never used" warning
            raise TypeError(f"{type(self).__name__} needs a {self.CONFIG.__name__}, not "
                            f"{type(config).__name__}")
        config.check_alone()
        super().__init__(config, pe_members(config, self.inputs(config), ready=self.READY))

    @staticmethod
    def inputs(config) -> dict:
        """The kind's input ports besides ``in_valid`` and ``clear``: name -> shape."""
        raise NotImplementedError

    def dot(self, m: Module) -> Value:
        """The kind's exact dot product of one input (the default ``elaborate`` uses it)."""
        raise NotImplementedError

    def dot_heap(self, m: Module, heap: BitHeap) -> None:
        """The kind's exact dot product of one input into a carry-save accumulator's bit heap
        (``qtpe.hdl.carry_save``): by default the bits of ``dot``; a kind whose dot product
        is a sum of partial products (MAC) puts those in, unresolved."""
        value_heap(heap, self.dot(m))

    @property
    def lanes(self) -> int:
        """Weight x activation pairs per accepted input."""
        return self._config.beat_lanes

    def reference(self) -> list[Reference]:
        """The decoded operands of the current input and the accumulator they feed
        (``qtpe.hdl.reference``, what the proofs compare against a MAC PE): by default the
        ``weight`` and ``act`` lanes, each decoded with its format."""
        cfg = self.config
        lanes = range(self.lanes)
        return [Reference(tuple(decode(cfg.weight, self.weight[i]) for i in lanes),
                          tuple(decode(cfg.activation, self.act[i]) for i in lanes), self.acc)]

    def elaborate(self, platform):
        """One input per cycle: the kind's ``dot``, an optional register (``pipeline``), then
        the accumulator, behind the group scale stage where the config has groups (the
        ``scale`` port)."""
        m = Module()
        cfg = self.config
        pipeline = getattr(cfg, "pipeline", False)
        if carry_save(cfg) and not pipeline:
            m.d.sync += self.out_valid.eq(self.in_valid)
            carry_save_accumulate(m, self, cfg, lambda heap: self.dot_heap(m, heap),
                                  self.in_valid, self.clear)
            return m
        group = getattr(cfg, "group", None)
        stage = {"dot": self.dot(m), "valid": self.in_valid, "clear": self.clear}
        if group is not None:
            stage["scale"] = self.scale
        s = pipeline_stage(m, pipeline, stage)
        if carry_save(cfg):
            m.d.sync += self.out_valid.eq(s["valid"])
            carry_save_accumulate(m, self, cfg, lambda heap: value_heap(heap, s["dot"]),
                                  s["valid"], s["clear"])
        elif group is None:
            m.d.sync += self.out_valid.eq(s["valid"])
            accumulate(m, self.acc, cfg.acc, s["dot"], s["valid"], s["clear"],
                       base_name=self.ACC_BASE)
        else:
            group_accumulate(m, self.acc, cfg, s["dot"], s["valid"], s["clear"], s["scale"],
                             self.out_valid)
        return m


def acc_base(m: Module, acc: Signal, fmt: AccType, clear: Value,
             name: str = "acc_base") -> Signal:
    """``clear ? 0 : acc`` (a wire named ``name``): what the next sum adds to."""
    base = Signal(acc_shape(fmt), name=name)
    m.d.comb += base.eq(acc & ~clear.replicate(fmt.bits))
    return base


def acc_fit(m: Module, base: Value, fmt: AccType, value: Value) -> Value:
    """``base + value`` computed exactly (``acc_sum``), then wrapped to ``fmt.bits`` or
    saturated to its range (``fit_to_acc``).

    ``value`` holds the exact addend; the sum is one bit wider than the wider of the two plus
    a sign bit, so unsigned values compare correctly against the saturation bounds.
    """
    acc_sum = Signal(signed(max(fmt.bits, value.shape().width) + 2), name="acc_sum")
    m.d.comb += acc_sum.eq(base + value)
    return fit_to_acc(acc_sum, fmt)


def acc_next(m: Module, acc: Signal, fmt: AccType, value: Value, clear: Value,
             base_name: str = "acc_base") -> Value:
    """The accumulator's next value: ``(clear ? 0 : acc) + value`` computed exactly, then
    wrapped or saturated (``acc_base``, ``acc_fit``)."""
    return acc_fit(m, acc_base(m, acc, fmt, clear, base_name), fmt, value)


def accumulate(m: Module, acc: Signal, fmt: AccType, value: Value, valid: Value,
               clear: Value, *, idle_clear: bool = True, base_name: str = "acc_base") -> None:
    """The accumulator step: on ``valid``, ``acc`` becomes ``acc_next`` (``(clear ? 0 : acc)
    + value``, wrapped or saturated); with ``idle_clear``, ``clear`` without ``valid`` zeroes
    ``acc``. ``base_name`` names the ``clear ? 0 : acc`` wire."""
    nxt = acc_next(m, acc, fmt, value, clear, base_name)
    with m.If(valid):
        m.d.sync += acc.eq(nxt)
    if idle_clear:
        with m.Elif(clear):
            m.d.sync += acc.eq(0)


def carry_save_accumulate(m: Module, pe, cfg, addend, valid: Value, clear: Value) -> None:
    """The carry-save accumulator step (``qtpe.hdl.carry_save``): on ``valid`` the sum vector
    ``acc_sum`` and the saved carries ``acc_carry`` become the tree's and digit adders' result
    for ``addend`` (a function that puts the exact addend into the bit heap) plus the state
    (none on ``clear``); ``clear`` without ``valid`` zeroes them. ``pe.acc`` is the resolved
    value (one adder), ``pe.acc_cs`` the redundant form."""
    width, digit = cfg.acc.bits, cfg.carry_digit_bits
    acc_sum = Signal(width, name="acc_sum")
    acc_carry = Signal(cfg.saved_carries, name="acc_carry")
    keep = ~clear
    heap = BitHeap(width)
    addend(heap)
    heap.add_vector(acc_sum & keep.replicate(width))
    for i in range(cfg.saved_carries):
        heap.add_bit(acc_carry[i] & keep, (i + 1) * digit)
    nxt_sum, nxt_carry = carry_save_step(m, heap, digit)
    with m.If(valid):
        m.d.sync += [acc_sum.eq(nxt_sum), acc_carry.eq(nxt_carry)]
    with m.Elif(clear):
        m.d.sync += [acc_sum.eq(0), acc_carry.eq(0)]
    m.d.comb += [pe.acc.eq(resolve(acc_sum, acc_carry, digit)),
                 pe.acc_cs.eq(Cat(acc_sum, acc_carry))]


def group_accumulate(m: Module, acc: Signal, cfg, dot: Value, valid: Value, clear: Value,
                     scale: Value, out_valid: Signal) -> None:
    """Per-group dequantization in front of the accumulator (``cfg.group``, ``GroupScaled``).

    A group is ``cfg.group_steps`` accepted inputs counted from reset or ``clear``. Its exact
    partial sum ``P`` (``cfg.group_sum_bits``) is kept in a register; the input that completes
    it computes ``(clear ? 0 : acc) + scale(P)`` exactly (``P * scale`` or ``P << scale``,
    ``qtpe.hdl.dequant``, with the ``scale`` of that input), then wraps or saturates, and
    ``out_valid`` pulses once per group. Inputs that do not complete a group leave ``acc``
    unchanged (zero if they carry ``clear``); ``clear`` alone zeroes everything.
    """
    group = cfg.group
    num = signed if cfg.signed else unsigned
    base = acc_base(m, acc, cfg.acc, clear)
    psum = Signal(num(cfg.group_sum_bits), name="group_psum")
    count = Signal(range(max(cfg.group_steps, 2)), name="group_count")
    count_base = Signal.like(count, name="group_count_base")
    group_sum = Signal(num(cfg.group_sum_bits), name="group_sum")
    scaled = Signal(scaled_shape(cfg.group_sum_bits, group), name="group_scaled")
    last = Signal(name="group_last")
    m.d.comb += [
        count_base.eq(Mux(clear, 0, count)),
        group_sum.eq(Mux(clear, 0, psum) + dot),
        last.eq(count_base == cfg.group_steps - 1),
        scaled.eq(scale_partial_sum(group_sum, scale, group)),
    ]
    nxt = acc_fit(m, base, cfg.acc, scaled)
    m.d.sync += out_valid.eq(valid & last)
    with m.If(valid):
        with m.If(last):
            m.d.sync += [acc.eq(nxt), psum.eq(0), count.eq(0)]
        with m.Else():
            m.d.sync += [psum.eq(group_sum), count.eq(count_base + 1)]
            with m.If(clear):
                m.d.sync += acc.eq(0)
    with m.Elif(clear):
        m.d.sync += [acc.eq(0), psum.eq(0), count.eq(0)]


def pipeline_stage(m: Module, enabled: bool, values: dict[str, Value]) -> dict[str, Value]:
    """With ``enabled``, each of ``values`` through one register named ``<name>_r`` (the dot
    product, valid, clear and what goes with them: latency + 1); else ``values`` themselves."""
    if not enabled:
        return dict(values)
    out = {}
    for name, value in values.items():
        reg = Signal.like(value, name=f"{name}_r") if isinstance(value, Signal) else \
            Signal(value.shape(), name=f"{name}_r")
        m.d.sync += reg.eq(value)
        out[name] = reg
    return out
