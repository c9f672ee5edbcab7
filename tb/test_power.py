"""cocotb test behind ``qtpe power --idle``: the design clocked and reset, every input at 0.

Works for any PE or array netlist: ``QTPE_POWER_INPUTS`` (JSON list) names the input ports
besides ``clk``; ``QTPE_POWER_CYCLES`` says how many cycles to run after the reset.
"""

import json
import os

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import RisingEdge

from qtpe.tb.common import CLOCK_NS


@cocotb.test()
async def idle_cycles(dut):
    inputs = json.loads(os.environ["QTPE_POWER_INPUTS"])
    cycles = int(os.environ["QTPE_POWER_CYCLES"])
    for name in inputs:
        getattr(dut, name).value = 0
    cocotb.start_soon(Clock(dut.clk, CLOCK_NS, unit="ns").start())
    dut.rst.value = 1
    for _ in range(2):
        await RisingEdge(dut.clk)
    dut.rst.value = 0
    for _ in range(cycles):
        await RisingEdge(dut.clk)
    stats = os.environ.get("QTPE_STATS_FILE")
    if stats:
        with open(stats, "w") as f:
            json.dump({"ops": 0, "macs": 0}, f)
