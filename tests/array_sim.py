"""Shared by the array tests: drive a ``SystolicArray`` in Amaranth's simulator through a
GEMM schedule, and random GEMM operands of an array config's formats."""

import json

import numpy as np
from amaranth.sim import Simulator

from qtpe.gen.gemm import TEST_DEPTH, TEST_RESULTS
from qtpe.gen.harness import harness_name
from qtpe.hdl.array import SystolicArray
from qtpe.hdl.array_config import ArrayConfig, Dataflow
from qtpe.hdl.kind_mac import MacConfig
from qtpe.sim.runner import run_cocotb
from qtpe.tb.models.operands import random_gemm as model_random_gemm


def run_array(cfg: ArrayConfig, sched, bubbles: float = 0.0, seed: int = 0):
    """Drive the schedule; return (result rows, per-row output cycles, beat accept cycles)."""
    dut = SystolicArray(cfg)
    rng = np.random.default_rng(seed)
    rows, accepted, out_cycles = [], [], []

    async def bench(ctx):
        i = cycle = 0
        idle = 0
        while len(rows) < sched.results:
            if i < sched.beats and rng.random() >= bubbles:
                ctx.set(dut.in_valid, 1)
                for r in range(sched.a.shape[1]):
                    for lane in range(cfg.lanes):
                        ctx.set(dut.a_in[r][lane], int(sched.a[i, r, lane]))
                for c in range(sched.w.shape[1]):
                    for lane in range(cfg.lanes):
                        ctx.set(dut.w_in[c][lane], int(sched.w[i, c, lane]))
                ctx.set(dut.in_last, int(sched.last[i]))
                if sched.wbits is not None:
                    ctx.set(dut.in_wbits, int(sched.wbits[i]))
                if cfg.group_size:
                    for c in range(cfg.out_cols):
                        ctx.set(dut.s_in[c], int(sched.g_scale[i, c]))
                        if cfg.zero_points:
                            ctx.set(dut.z_in[c], int(sched.g_zero[i, c]))
                        if cfg.specials:
                            ctx.set(dut.x_in[c], int(sched.g_special[i, c]))
                if cfg.dataflow is not Dataflow.OS:
                    ctx.set(dut.in_first, int(sched.first[i]))
            else:
                ctx.set(dut.in_valid, 0)
            if cfg.requant and ctx.get(dut.acc_valid):
                n = len(rows) + ctx.get(dut.out_valid)
                for c in range(cfg.out_cols):
                    ctx.set(dut.rq_scale[c], int(sched.rq_scale[n, c]))
                    ctx.set(dut.rq_shift[c], int(sched.rq_shift[n, c]))
            took = i < sched.beats and ctx.get(dut.in_valid) and ctx.get(dut.in_ready)
            if took:
                accepted.append(cycle)
            if ctx.get(dut.out_valid):
                rows.append([ctx.get(dut.out_data[c]) for c in range(cfg.out_cols)])
                out_cycles.append(cycle)
            await ctx.tick()
            i += bool(took)
            cycle += 1
            idle = 0 if took else idle + 1
            assert idle < 10 * (cfg.rows + cfg.cols + cfg.min_tile_period +
                                cfg.beat_cycles) + 100, "stuck"

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return np.array(rows, dtype=np.int64), out_cycles, accepted


def random_gemm(cfg, rng, M, K, N, corner_fraction=0.25):
    """``qtpe.tb.models.operands.random_gemm`` with shifts of at most 24 (visible results)."""
    return model_random_gemm(cfg, rng, M, K, N, corner_fraction, max_shift=24)


OS, WS, IS = Dataflow.OS, Dataflow.WS, Dataflow.IS


def mac_array(dataflow, rows=2, cols=3, requant=False, scale_bits=16, **pe):
    """A small MAC array config (top level ``m``) for model tests."""
    return ArrayConfig(MacConfig(name="m", **pe), rows=rows, cols=cols, dataflow=dataflow,
                       requant=requant, requant_scale_bits=scale_bits)


def run_broken(cfg, vpath, hpath, tmp_path, tests: int):
    """The array testbench on a deliberately broken Verilog: every cocotb test must fail."""
    result = run_cocotb("icarus", [vpath, hpath], harness_name(cfg), tmp_path / "icarus",
                        "qtpe.tb.test_array", extra_env={
                            "QTPE_CONFIG": json.dumps(cfg.to_dict()),
                            "QTPE_HARNESS": json.dumps({"depth": TEST_DEPTH,
                                                        "results": TEST_RESULTS}),
                        }, seed=1)
    assert result.tests == tests
    assert result.failed == tests
