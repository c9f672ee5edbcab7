"""The array testbench (``qtpe.tb.test_array``) on bit-serial arrays, Icarus and Verilator:
both dataflows on 1x1, 2x3, 4x4 and 8x8 arrays (each size and each simulator in each
dataflow, one build per case), weights of 1 to 8 bits, int and uint, lanes, wrap and
saturation, requantization; random GEMMs with odd M, K, N, extreme and corner operands, exact
cycle counts; and a wrong RTL that must fail.

Each (simulator, config) builds once in its own folder; every GEMM then runs whole in one
simulator process through the harness. The seed is printed on failure.
"""

import json
import re

import pytest

from qtpe.gen.config import preset
from qtpe.gen.flow import simulate
from qtpe.gen.gemm import TEST_DEPTH, TEST_RESULTS, write_harness
from qtpe.gen.harness import harness_name
from qtpe.hdl.array_config import ArrayConfig, Dataflow
from qtpe.hdl.config import BitSerialConfig
from qtpe.hdl.formats import Overflow, QType
from qtpe.sim.runner import run_cocotb

COCOTB_TESTS = 2
OS, WS = Dataflow.OS, Dataflow.WS
SAT = Overflow.SATURATE


def bitserial(name, dataflow, rows, cols, requant=False, scale_bits=16, **pe):
    return ArrayConfig(BitSerialConfig(name=name, **pe), rows=rows, cols=cols,
                       dataflow=dataflow, requant=requant, requant_scale_bits=scale_bits)


# (config, simulator): per dataflow every size once, both simulators twice.
CASES = [
    (bitserial("abs_os_1x1_u2a8_sat", OS, 1, 1, weight=QType(2, False), acc_bits=8,
               overflow=SAT), "icarus"),
    (bitserial("abs_os_2x3_w4u8_l2", OS, 2, 3, weight=QType(4), activation=QType(8, False),
               lanes=2, acc_bits=14), "verilator"),
    (bitserial("abs_os_4x4_w8a8_rq", OS, 4, 4, weight=QType(8), acc_bits=32, requant=True),
     "icarus"),
    (preset("array_os_bitserial_w4a8_8x8"), "verilator"),
    (bitserial("abs_ws_1x1_w1a8", WS, 1, 1, weight=QType(1), acc_bits=12), "verilator"),
    (bitserial("abs_ws_2x3_u4a8_l3_sat", WS, 2, 3, weight=QType(4, False), lanes=3,
               acc_bits=16, overflow=SAT), "icarus"),
    (bitserial("abs_ws_4x4_w2u8_rq8", WS, 4, 4, weight=QType(2), activation=QType(8, False),
               acc_bits=20, requant=True, scale_bits=8), "verilator"),
    (preset("array_ws_bitserial_w4a8_8x8"), "icarus"),
]


@pytest.mark.parametrize(("cfg", "simulator"), CASES,
                         ids=[f"{c.name}-{s}" for c, s in CASES])
def test_array(cfg, simulator, tmp_path):
    result = simulate(cfg, simulator, tmp_path)
    assert result.tests == COCOTB_TESTS
    assert result.ok, (
        f"{result.failed}/{result.tests} cocotb tests failed on {simulator} with seed "
        f"{result.seed} (replay: qtpe sim --sim {simulator} --seed {result.seed} ...); "
        f"log {result.log}:\n{result.log.read_text()[-3000:]}"
    )


@pytest.mark.parametrize("dataflow", [OS, WS], ids=lambda d: d.value)
def test_wrong_rtl_fails(dataflow, tmp_path):
    """PE (1, 0) of a 2x2 array takes every weight bit as set (code all ones) instead of the
    bit-plane it is given: the testbench must report mismatches."""
    cfg = bitserial(f"abs_bad_{dataflow.value}", dataflow, 2, 2, weight=QType(4), acc_bits=32)
    vpath, hpath = write_harness(cfg, tmp_path, TEST_DEPTH, TEST_RESULTS)
    good = r"assign plane_term_r1_c0_l0 = \S+ \? a_skew_r1_d1 : 8'h00;"
    text, hits = re.subn(good, "assign plane_term_r1_c0_l0 = a_skew_r1_d1;", vpath.read_text())
    assert hits == 1
    vpath.write_text(text)
    result = run_cocotb("icarus", [vpath, hpath], harness_name(cfg), tmp_path / "icarus",
                        "qtpe.tb.test_array", extra_env={
                            "QTPE_CONFIG": json.dumps(cfg.to_dict()),
                            "QTPE_HARNESS": json.dumps({"depth": TEST_DEPTH,
                                                        "results": TEST_RESULTS}),
                        }, seed=1)
    assert result.tests == COCOTB_TESTS
    assert result.failed == COCOTB_TESTS
