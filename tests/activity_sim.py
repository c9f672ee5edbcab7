"""cocotb test for tests/test_sim_activity.py: a 4-bit counter with enable, driven with a
fixed pattern so that every bit's toggles can be counted by hand."""

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import RisingEdge

#: Enable per cycle after the reset: 17 increments.
PATTERN = [1] * 11 + [0] * 3 + [1] * 6
COUNTER_V = """
module tiny_counter (input wire clk, input wire rst, input wire en);
    reg b0, b1, b2, b3;
    always @(posedge clk)
        if (rst) {b3, b2, b1, b0} <= 4'd0;
        else if (en) {b3, b2, b1, b0} <= {b3, b2, b1, b0} + 4'd1;
endmodule
"""


@cocotb.test()
async def count(dut):
    dut.en.value = 0
    dut.rst.value = 1
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    for _ in range(2):
        await RisingEdge(dut.clk)
    dut.rst.value = 0
    for en in PATTERN:
        dut.en.value = en
        await RisingEdge(dut.clk)
    dut.en.value = 0
    for _ in range(3):
        await RisingEdge(dut.clk)
