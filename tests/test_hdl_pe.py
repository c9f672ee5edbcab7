"""The PE contract, run for every registered kind on the configs it declares (``Kind.examples``):
the component in Amaranth's simulator against the kind's golden model (``Kind.model``) on a
random stream with random valid and clear, every output in order, each exactly ``latency``
cycles after the input that completes it, inputs accepted as fast as the kind says; and the
shared PE parts (signature, accumulator, config checks).
"""

import numpy as np
import pytest
from amaranth.hdl import Module, signed
from amaranth.lib import wiring
from amaranth.sim import Simulator
from pe_sim import run_contract

from qtpe.hdl.formats import AccType, Overflow
from qtpe.hdl.kinds import all_kinds
from qtpe.hdl.pe import PEComponent, accumulate

EXAMPLES = [(kind, cfg) for kind in all_kinds() for cfg in kind.examples]


@pytest.mark.parametrize("kind,cfg", EXAMPLES,
                         ids=[f"{k.name}-{i}" for k in all_kinds() for i in range(len(k.examples))])
def test_pe_contract(kind, cfg):
    rng = np.random.default_rng(11)
    n = 200
    ports = kind.model_class.random_inputs(cfg, rng, n)
    valid, clear = rng.random(n) < 0.85, rng.random(n) < 0.08
    model = kind.model_class(cfg)
    want, producing, rows = [], [], []
    for i in range(n):
        row = {name: values[i] for name, values in ports.items()}
        out = model.step(bool(valid[i]), bool(clear[i]), **row)
        if valid[i]:
            rows.append(row)
        if out is not None:
            want.append(tuple(out) if isinstance(out, tuple) else (out,))
            producing.append(len(rows) - 1)
    got, offers, accepts, out_cycles = run_contract(kind, cfg, valid, clear, ports)
    assert len(want) > 10 and got == want

    # Timing: an input is accepted as soon as the previous one has taken its cycles (1 per
    # input; a multi-cycle kind's model says how many), and its result shows ``latency``
    # cycles after it (the kind's model may say per input).
    latency = getattr(model, "latency_of", lambda **_: cfg.latency)
    cycles = getattr(model, "cycles_of", lambda **_: 1)
    for i in range(1, len(accepts)):
        assert accepts[i] == max(accepts[i - 1] + cycles(**rows[i - 1]), offers[i]), i
    for out, i in zip(out_cycles, producing, strict=True):
        assert out - accepts[i] == latency(**rows[i]), f"output of input {i}"


@pytest.mark.parametrize("kind", all_kinds(), ids=lambda k: k.name)
def test_kind_declares_a_usable_record(kind):
    """Every registered kind: a config whose ``KIND`` is its name, a component that takes it
    and has the shared signature's ports, presets that build, a golden model."""
    assert kind.config.KIND == kind.name and kind.examples
    for name, preset in kind.presets.items():
        assert preset.config.pe == kind.name, name
        assert preset.description
    pe = kind.component_class(kind.examples[0])
    pe._MustUse__silence = True  # inspected, not elaborated
    members = pe.signature.members
    assert {"in_valid", "clear", "out_valid"} <= set(members)
    assert pe.config is kind.examples[0] and pe.latency == kind.examples[0].latency
    assert callable(kind.model_class.random_inputs)


def test_component_rejects_another_kinds_config():
    mac, other = all_kinds()[0], all_kinds()[1]
    with pytest.raises(TypeError, match=f"{mac.component_class.__name__} needs a "
                                        f"{mac.config.__name__}, not {other.config.__name__}"):
        mac.component_class(other.examples[0])


class _Acc(wiring.Component):
    """``accumulate`` alone: a signed 6-bit accumulator adding a 5-bit value."""

    def __init__(self, overflow):
        self.fmt = AccType(6, True, overflow)
        super().__init__({"valid": wiring.In(1), "clear": wiring.In(1),
                          "value": wiring.In(signed(5)), "acc": wiring.Out(signed(6))})

    def elaborate(self, platform):
        m = Module()
        accumulate(m, self.acc, self.fmt, self.value, self.valid, self.clear)
        return m


@pytest.mark.parametrize("overflow", list(Overflow), ids=lambda o: o.value)
def test_accumulate_clears_wraps_and_saturates(overflow):
    dut = _Acc(overflow)
    steps = [(1, 1, 15), (1, 0, 15), (1, 0, 15), (0, 0, 9), (1, 0, -16), (0, 1, 0), (1, 0, -16),
             (1, 0, -16), (1, 0, -16), (1, 1, 3)]
    got = []

    async def bench(ctx):
        for v, c, x in steps:
            ctx.set(dut.valid, v)
            ctx.set(dut.clear, c)
            ctx.set(dut.value, x)
            await ctx.tick()
            got.append(ctx.get(dut.acc))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    if overflow is Overflow.WRAP:
        want = [15, 30, 45 - 64, 45 - 64, -35 + 64, 0, -16, -32, -48 + 64, 3]
    else:
        want = [15, 30, 31, 31, 15, 0, -16, -32, -32, 3]
    assert got == want


def test_pe_component_has_the_shared_signature():
    class Toy(PEComponent):
        CONFIG = type(all_kinds()[0].examples[0])

        @staticmethod
        def inputs(config):
            return {"x": signed(3)}

        def elaborate(self, platform):
            return Module()

    toy = Toy(all_kinds()[0].examples[0])
    toy._MustUse__silence = True
    assert list(toy.signature.members) == ["in_valid", "clear", "x", "acc", "out_valid"]
