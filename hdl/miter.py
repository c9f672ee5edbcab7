"""Miters for the proofs (``qtpe prove``): a PE of any kind beside a MAC PE on the same
decoded operands, with assertions that the two accumulator sequences agree.

``PEMiter(config)`` holds the kind's top-level component (the ``dut``, exactly what
``qtpe generate`` emits) and, for each of its accumulators (``reference()``, see
``qtpe.hdl.reference``), a ``MacPE`` whose lanes take the decoded weights and activations and
whose accumulator has the dut's width, signedness and overflow policy. Every input of the
dut, reset included, is a free input of the miter, so a proof covers every input sequence.

Two ways to line the MAC PE up with the dut:

* **Fixed latency** (no ``in_ready``): the MAC PE (latency 1) sees the dut's inputs, ``clear``
  and ``in_valid`` delayed by ``latency - 1`` registers, so the two step in the same cycles.
  Asserted in every cycle: equal ``out_valid`` and equal accumulators.
* **Handshake** (``in_ready``): the MAC PE takes each op the dut accepts, in the cycle it
  accepts it (``clear`` only with an accepted op, as the dut samples it); its results queue in
  a FIFO of ``QUEUE`` entries. Asserted: every dut ``out_valid`` finds a queued result equal
  to its accumulator; no more than ``QUEUE`` results wait; none waits longer than the dut's
  ``latency`` allows; with none waiting the accumulators are equal.

Signals the counterexample printer reads: ``expected_p{p}`` (the MAC PE's value compared),
``actual_p{p}`` (the dut's accumulator), ``fail_p{p}`` (the check of stream ``p`` fails in
this cycle) and the dut's inputs (``dut.<port>``).
"""

from __future__ import annotations

from amaranth.hdl import Assert, Elaboratable, Module, Mux, Signal, Value
from amaranth.lib import wiring

from .formats import QType
from .kind_mac import MacConfig
from .pe_mac import MacPE
from .shapes import acc_shape

__all__ = ["PEMiter", "reference_config"]

#: Results that may wait for a handshaking dut (two ops are in flight at most when the next
#: op is accepted in the last cycle of the current one; the assertion catches a third).
QUEUE = 3


def _fmt(values: tuple[Value, ...]) -> QType:
    shapes = [Value.cast(v).shape() for v in values]
    signed = any(s.signed for s in shapes)
    bits = max(s.width + (signed and not s.signed) for s in shapes)
    return QType(bits, signed)


def reference_config(config, weights, acts) -> MacConfig:
    """The MAC PE that computes what ``config``'s PE should, on decoded operands ``weights``
    and ``acts`` (one value per lane): its formats hold the decoded values, its accumulator
    is the dut's (width, signedness, overflow)."""
    ref = MacConfig(name=f"{config.name}_ref", weight=_fmt(weights), activation=_fmt(acts),
                    lanes=len(weights), acc_bits=config.acc.bits, overflow=config.overflow)
    if ref.acc != config.acc:
        raise ValueError(f"the MAC reference of {config.name} has accumulator {ref.acc}, the "
                         f"PE {config.acc}: the decoded operands' signedness does not match")
    return ref


class PEMiter(Elaboratable):
    """The dut (the kind's top level for ``config``, or ``dut`` if given: tests pass a broken
    one) beside a MAC PE per accumulator; see the module docstring for the assertions.

    ``ports()`` are the dut's inputs (free in a proof) and the observed values; ``depth`` is
    a bound that covers the latency, a clear and a few ops (the proof's default).
    """

    def __init__(self, config, dut: wiring.Component | None = None):
        if dut is None:
            from .kinds import kind_of
            dut = kind_of(config).component_class(config)
        self.config = config
        self.dut = dut
        self.handshake = "in_ready" in dut.signature.members
        self.refs = dut.reference()
        self.ref_configs = [reference_config(config, r.weights, r.acts) for r in self.refs]
        shape = acc_shape(config.acc)
        self.expected = [Signal(shape, name=f"expected_p{p}") for p in range(len(self.refs))]
        self.actual = [Signal(shape, name=f"actual_p{p}") for p in range(len(self.refs))]
        self.fail = [Signal(name=f"fail_p{p}") for p in range(len(self.refs))]
        self.inputs = {name: getattr(dut, name) for name, member
                       in dut.signature.members.items() if member.flow is wiring.In}
        lat = dut.latency
        self.depth = 3 * lat + 2 if self.handshake else lat + 6

    def ports(self) -> list[Signal]:
        inputs = [Value.cast(port) for port in self.inputs.values()]
        return [*inputs, *self.expected, *self.actual, *self.fail]

    def elaborate(self, platform):
        m = Module()
        dut = self.dut
        m.submodules.dut = dut
        for p, (ref, rcfg) in enumerate(zip(self.refs, self.ref_configs, strict=True)):
            mac = MacPE(rcfg)
            m.submodules[f"ref_p{p}"] = mac
            m.d.comb += self.actual[p].eq(ref.acc)
            if self.handshake:
                self._handshake(m, p, ref, mac)
            else:
                self._aligned(m, p, ref, mac)
            m.d.comb += Assert(~self.fail[p], f"stream {p}: the PE and the MAC reference "
                                              f"disagree")
        return m

    def _drive(self, m, mac, valid, clear, ref, delay: int) -> None:
        """The MAC PE's inputs: ``valid``, ``clear`` and the decoded lanes of ``ref``, each
        through ``delay`` registers."""
        values = {"valid": valid, "clear": clear}
        values |= {f"w_l{i}": w for i, w in enumerate(ref.weights)}
        values |= {f"a_l{i}": a for i, a in enumerate(ref.acts)}
        for stage in range(delay):
            nxt = {}
            for name, v in values.items():
                reg = Signal(Value.cast(v).shape(), name=f"ref_{name}_d{stage + 1}")
                m.d.sync += reg.eq(v)
                nxt[name] = reg
            values = nxt
        m.d.comb += [mac.in_valid.eq(values["valid"]), mac.clear.eq(values["clear"])]
        for i in range(len(ref.weights)):
            m.d.comb += [mac.weight[i].eq(values[f"w_l{i}"]), mac.act[i].eq(values[f"a_l{i}"])]

    def _aligned(self, m, p, ref, mac) -> None:
        dut = self.dut
        delay = dut.latency - mac.latency
        if delay < 0:
            raise ValueError(f"{self.config.name}: latency {dut.latency} is below the MAC "
                             f"reference's {mac.latency}")
        self._drive(m, mac, dut.in_valid, dut.clear, ref, delay)
        m.d.comb += [
            self.expected[p].eq(mac.acc),
            self.fail[p].eq((dut.out_valid != mac.out_valid) | (ref.acc != mac.acc)),
        ]

    def _handshake(self, m, p, ref, mac) -> None:
        dut = self.dut
        accept = Signal(name=f"accept_p{p}")
        m.d.comb += accept.eq(dut.in_valid & dut.in_ready)
        self._drive(m, mac, accept, dut.clear & accept, ref, 0)
        shape = acc_shape(self.config.acc)
        # The queue of results the dut still owes, oldest first: queue[0 .. pending-1].
        queue = [Signal(shape, name=f"queue_p{p}_{i}") for i in range(QUEUE)]
        pending = Signal(range(QUEUE + 1), name=f"pending_p{p}")
        # Each queued result's age: cycles since it was queued. Queued one cycle after the
        # op (the MAC PE's latency), the dut's result comes at most ``latency - 1`` later.
        bound = dut.latency - mac.latency - 1
        age = [Signal(range(bound + 2), name=f"age_p{p}_{i}") for i in range(QUEUE)]
        push, pop = mac.out_valid, dut.out_valid
        older = [Mux(a > bound, a, a + 1) for a in age]
        m.d.sync += [a.eq(o) for a, o in zip(age, older, strict=True)]
        with m.If(pop):
            m.d.sync += [queue[i].eq(queue[i + 1]) for i in range(QUEUE - 1)]
            m.d.sync += [age[i].eq(older[i + 1]) for i in range(QUEUE - 1)]
        for i in range(QUEUE):
            with m.If(push & (pending - pop == i)):
                m.d.sync += [queue[i].eq(mac.acc), age[i].eq(0)]
        with m.If(push & ~pop & (pending < QUEUE)):
            m.d.sync += pending.eq(pending + 1)
        with m.Elif(pop & ~push & (pending > 0)):
            m.d.sync += pending.eq(pending - 1)
        newest = Signal(shape, name=f"queue_back_p{p}")
        for i in range(1, QUEUE + 1):
            with m.If(pending == i):
                m.d.comb += newest.eq(queue[i - 1])
        full = Signal(name=f"queue_full_p{p}")
        m.d.comb += full.eq((pending == QUEUE) & push & ~pop)
        m.d.comb += [
            self.expected[p].eq(queue[0]),
            self.fail[p].eq((pop & ((pending == 0) | (ref.acc != queue[0])))
                            | full | ((pending != 0) & (age[0] > bound))
                            | (~push & (pending == 0) & (ref.acc != mac.acc))
                            | (~push & (pending != 0) & (newest != mac.acc))),
        ]
