"""The proof harness of a systolic array: one GEMM with free operands, fed as the golden
model's schedule lays it out, with assertions on every result row.

``ArrayProof(config, plan)`` holds the array (``qtpe.hdl.array.SystolicArray``) and a plan
(``qtpe.gen.array_proof.ProofPlan``: which operand each field of each beat carries, which
result row comes when). Its free inputs are the operands ``a_op`` (M x K codes, flat) and
``w_op`` (K x N), taken in the first cycle after reset and held, ``gap`` (no beat is offered
in a cycle where it is high: any pattern of input gaps), and reset. Beats go in order, one
per cycle the array is ready and ``gap`` is low. Asserted:

* every ``out_valid`` row is the next result row of the plan (no extra rows) and equals,
  in every column inside the GEMM, ``sum_k A[m, k] * W[k, n]`` of the decoded operands,
  wrapped to the accumulator (padding columns are not checked);
* without gaps, the last row comes exactly in the cycle the cycle model says.

Signals the counterexample printer reads: ``result_index``, ``expected_row``,
``actual_row``, ``fail``, ``gap`` and the operand ports.
"""

from __future__ import annotations

from amaranth.hdl import Assert, Const, Elaboratable, Module, Mux, Signal, Value
from amaranth.lib import data

from .array import SystolicArray
from .array_config import Dataflow
from .formats import Overflow
from .reference import decode
from .shapes import acc_shape, fit_to_acc, wire_shape

__all__ = ["ArrayProof"]


def _select(index: Value, choices: list[Value], default: Value) -> Value:
    """``choices[index]`` as a chain of multiplexers (no ROM; see ``reference.decode``)."""
    value = default
    for i, v in enumerate(choices):
        value = Mux(index == i, v, value)
    return value


class ArrayProof(Elaboratable):
    """See the module docstring. ``depth``: the bound that covers the whole GEMM."""

    def __init__(self, config, plan):
        if config.pe_config.overflow is not Overflow.WRAP:
            raise ValueError("array proofs check wrapped sums: give overflow = 'wrap'")
        if config.requant:
            raise ValueError("array proofs check accumulator rows: give requant = false")
        self.config = config
        self.plan = plan
        pe = config.pe_config
        self.a_op = Signal(data.ArrayLayout(wire_shape(pe.activation), plan.M * plan.K),
                           name="a_op")
        self.w_op = Signal(data.ArrayLayout(wire_shape(pe.weight), plan.K * plan.N),
                           name="w_op")
        self.gap = Signal(name="gap")
        self.result_index = Signal(range(plan.results + 1), name="result_index")
        out = acc_shape(pe.acc)
        self.expected_row = Signal(data.ArrayLayout(out, config.cols), name="expected_row")
        self.actual_row = Signal(data.ArrayLayout(out, config.cols), name="actual_row")
        self.fail = Signal(name="fail")
        self.depth = plan.cycles + 3

    def operand_ports(self) -> dict[str, Signal]:
        return {"a_op": self.a_op, "w_op": self.w_op}

    def ports(self) -> list[Signal]:
        return [Value.cast(s) for s in (self.a_op, self.w_op, self.gap, self.result_index,
                                        self.expected_row, self.actual_row, self.fail)]

    def elaborate(self, platform):
        m = Module()
        cfg, plan, pe = self.config, self.plan, self.config.pe_config
        m.submodules.dut = dut = SystolicArray(cfg)

        # The operands: taken in the first cycle after reset, then held.
        started = Signal(name="started")
        a_held = Signal.like(self.a_op, name="a_held")
        w_held = Signal.like(self.w_op, name="w_held")
        m.d.sync += started.eq(1)
        with m.If(~started):
            m.d.sync += [a_held.eq(self.a_op), w_held.eq(self.w_op)]
        a_now = Signal.like(self.a_op, name="a_now")
        w_now = Signal.like(self.w_op, name="w_now")
        m.d.comb += [a_now.eq(Mux(started, a_held, self.a_op)),
                     w_now.eq(Mux(started, w_held, self.w_op))]

        # The beats, in order, as the schedule lays them out.
        beat = Signal(range(plan.beats + 1), name="beat")
        offer = Signal(name="offer")
        accept = Signal(name="accept")
        m.d.comb += [offer.eq((beat < plan.beats) & ~self.gap),
                     accept.eq(offer & dut.in_ready),
                     dut.in_valid.eq(offer)]
        with m.If(accept):
            m.d.sync += beat.eq(beat + 1)

        def field(port, table, ops, r_count):
            zero = Const(0, Value.cast(ops[0]).shape())
            for r in range(r_count):
                for lane in range(cfg.lanes):
                    choices = [ops[b[r][lane]] if b[r][lane] >= 0 else zero for b in table]
                    m.d.comb += port[r][lane].eq(_select(beat, choices, zero))

        a_in = dut.a_in
        w_in = dut.w_in
        field(a_in, plan.a, a_now, cfg.rows)
        field(w_in, plan.w, w_now, cfg.cols)
        m.d.comb += dut.in_last.eq(_select(beat, [Const(x) for x in plan.last], Const(0)))
        if cfg.dataflow is Dataflow.WS:
            m.d.comb += dut.in_first.eq(_select(beat, [Const(x) for x in plan.first],
                                                Const(0)))

        # The expected rows: exact dot products of the decoded operands, wrapped.
        a_val = [decode(pe.activation, a_now[i]) for i in range(plan.M * plan.K)]
        w_val = [decode(pe.weight, w_now[i]) for i in range(plan.K * plan.N)]
        rows, masks = [], []
        for i, (mrow, n0) in enumerate(plan.rows):
            row = Signal.like(self.expected_row, name=f"expected_r{i}")
            mask = 0
            for c in range(cfg.cols):
                n = n0 + c
                if mrow < plan.M and n < plan.N:
                    mask |= 1 << c
                    terms = [a_val[mrow * plan.K + k] * w_val[k * plan.N + n]
                             for k in range(plan.K)]
                    total = terms[0]
                    for t in terms[1:]:
                        total = total + t
                    m.d.comb += row[c].eq(fit_to_acc(total, pe.acc))
            rows.append(row)
            masks.append(mask)

        m.d.comb += [
            self.expected_row.eq(_select(self.result_index, [Value.cast(r) for r in rows],
                                         Const(0, len(Value.cast(self.expected_row))))),
            self.actual_row.eq(dut.out_data),
        ]
        with m.If(dut.out_valid & (self.result_index < plan.results)):
            m.d.sync += self.result_index.eq(self.result_index + 1)
        differs = Signal(cfg.cols, name="differs")
        for c in range(cfg.cols):
            checked = _select(self.result_index, [Const((mk >> c) & 1) for mk in masks],
                              Const(0))
            m.d.comb += differs[c].eq(checked & (self.expected_row[c] != self.actual_row[c]))

        # Without gaps the last row comes in the cycle the cycle model says.
        cycle = Signal(range(plan.cycles + 2), name="cycle")
        gapped = Signal(name="gapped")
        with m.If(cycle <= plan.cycles):
            m.d.sync += cycle.eq(cycle + 1)
        with m.If(self.gap & (beat < plan.beats)):
            m.d.sync += gapped.eq(1)
        late = Signal(name="late")
        m.d.comb += late.eq(~gapped & ~(self.gap & (beat < plan.beats)) &
                            (cycle == plan.cycles) & (self.result_index != plan.results))
        m.d.comb += [
            self.fail.eq((dut.out_valid & ((self.result_index >= plan.results) | differs.any()))
                         | late),
            Assert(~self.fail, "the array's result rows follow the schedule"),
        ]
        return m
