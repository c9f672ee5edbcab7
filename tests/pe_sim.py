"""Shared by the PE tests: drive any kind's PE component in Amaranth's simulator through a
per-cycle stream of its ports (the PE contract, ``tests/test_hdl_pe.py``)."""

import numpy as np
from amaranth.lib import wiring
from amaranth.sim import Simulator


def _outputs(dut) -> list[str]:
    """The result ports (a carry-save accumulator's redundant form ``acc_cs`` is checked
    through ``acc``, which resolves it)."""
    return [name for name, member in dut.signature.members.items()
            if member.flow is wiring.Out and name not in ("out_valid", "in_ready", "acc_cs")]


def _set(ctx, port, value) -> None:
    value = np.asarray(value)
    if value.ndim == 0:
        ctx.set(port, int(value))
    else:
        for i, v in enumerate(value.ravel()):
            ctx.set(port[i], int(v))


def run_contract(kind, cfg, valid, clear, ports):
    """Drive the stream (an input with ``in_ready`` waits until accepted); return the outputs,
    the cycles at which every valid input was first offered and accepted, and the cycle of
    every output."""
    dut = kind.component_class(cfg)
    outs = _outputs(dut)
    has_ready = "in_ready" in dut.signature.members
    got, offers, accepts, out_cycles = [], [], [], []

    async def bench(ctx):
        cycle = 0

        async def tick():
            nonlocal cycle
            await ctx.tick()
            cycle += 1
            if ctx.get(dut.out_valid):
                got.append(tuple(ctx.get(getattr(dut, o)) for o in outs))
                out_cycles.append(cycle)

        for i in range(len(valid)):
            ctx.set(dut.in_valid, int(valid[i]))
            ctx.set(dut.clear, int(clear[i]))
            for name, values in ports.items():
                _set(ctx, getattr(dut, name), values[i])
            if valid[i]:
                offers.append(cycle)
            while True:
                ready = not has_ready or ctx.get(dut.in_ready)
                await tick()
                if ready or not valid[i]:
                    break
            if valid[i]:
                accepts.append(cycle - 1)
        ctx.set(dut.in_valid, 0)
        ctx.set(dut.clear, 0)
        for _ in range(cfg.latency + 2):
            await tick()

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return got, offers, accepts, out_cycles
