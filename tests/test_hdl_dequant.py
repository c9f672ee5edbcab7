"""The shared dequantization function in Amaranth's simulator against its golden model."""

import itertools

import pytest
from amaranth.hdl import Module, Signal, signed
from amaranth.sim import Simulator

from qtpe.hdl.dequant import scale_partial_sum, scale_port_shape, scaled_shape
from qtpe.hdl.formats import GroupScale, ScaleKind
from qtpe.tb.models import dequant as model


@pytest.mark.parametrize("group", [GroupScale(4, ScaleKind.INT, 3), GroupScale(4, ScaleKind.POT, 2),
                                   GroupScale(1, ScaleKind.INT, 1)],
                         ids=lambda g: f"{g.kind.value}{g.bits}")
def test_exhaustive_small(group):
    width = 5
    m = Module()
    psum = Signal(signed(width))
    scale = Signal(scale_port_shape(group))
    out = Signal(scaled_shape(width, group))
    m.d.comb += out.eq(scale_partial_sum(psum, scale, group))
    cases = list(itertools.product(range(-16, 16), range(group.max_scale + 1)))
    got = []

    async def bench(ctx):
        for p, s in cases:
            ctx.set(psum, p)
            ctx.set(scale, s)
            got.append(ctx.get(out))

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()
    want = model.scale_partial_sum([p for p, _ in cases], [s for _, s in cases], group)
    assert got == want.tolist()


def test_records_and_checks():
    assert GroupScale(128, ScaleKind.POT, 3).growth_bits == 7
    assert GroupScale(128, ScaleKind.INT, 6).growth_bits == 6
    with pytest.raises(ValueError, match="scale_bits must be an integer from 1 to 4 for "
                                         "group_scale = 'pot', not 5"):
        GroupScale(8, ScaleKind.POT, 5)
    with pytest.raises(ValueError, match="group_size must be a positive integer, not 0"):
        GroupScale(0)
    with pytest.raises(ValueError, match=r"scale exponent 4 is outside 0..3 \(2-bit pot\)"):
        model.check_scales([1, 4], GroupScale(2, ScaleKind.POT, 2))
