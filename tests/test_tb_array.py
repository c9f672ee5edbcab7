"""The array testbench on Icarus and Verilator: both dataflows on 1x1, 2x3, 4x4 and 8x8
arrays, random GEMMs with odd M, K, N, extreme and corner operands, wrap and saturation,
lanes, requantization; and a wrong RTL that must fail.

Each (simulator, config) builds once in its own folder; every GEMM of ``qtpe.tb.test_array``
then runs whole in one simulator process through the harness. The seed is printed on failure.
"""

import json

import pytest

from qtpe.gen.config import preset
from qtpe.gen.flow import simulate
from qtpe.gen.gemm import TEST_DEPTH, TEST_RESULTS, write_harness
from qtpe.gen.harness import harness_name
from qtpe.hdl.array_config import ArrayConfig, Dataflow
from qtpe.hdl.config import MacConfig
from qtpe.hdl.formats import Overflow, QType
from qtpe.sim.runner import SIMULATORS, run_cocotb

COCOTB_TESTS = 2
OS, WS = Dataflow.OS, Dataflow.WS

CONFIGS = [
    preset("array_os_w8a8_8x8"),
    preset("array_ws_w8a8_8x8"),
    ArrayConfig(MacConfig(name="arr_os_1x1", acc_bits=32), rows=1, cols=1, dataflow=OS),
    ArrayConfig(MacConfig(name="arr_ws_1x1_w2a8_sat", weight=QType(2), acc_bits=8,
                          overflow=Overflow.SATURATE), rows=1, cols=1, dataflow=WS),
    ArrayConfig(MacConfig(name="arr_os_2x3_w4u8_sat_pipe", weight=QType(4),
                          activation=QType(8, False), acc_bits=12, overflow=Overflow.SATURATE,
                          pipeline=True), rows=2, cols=3, dataflow=OS),
    ArrayConfig(MacConfig(name="arr_ws_2x3_u4a8_l2_sat", weight=QType(4, False), lanes=2,
                          acc_bits=14, overflow=Overflow.SATURATE), rows=2, cols=3, dataflow=WS),
    ArrayConfig(MacConfig(name="arr_os_4x4_rq", acc_bits=32), rows=4, cols=4, dataflow=OS,
                requant=True),
    ArrayConfig(MacConfig(name="arr_ws_4x4_u8u8_rq8", weight=QType(8, False),
                          activation=QType(8, False), acc_bits=20), rows=4, cols=4, dataflow=WS,
                requant=True, requant_scale_bits=8),
]


@pytest.mark.parametrize("simulator", SIMULATORS)
@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: c.name)
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
    """PE (1, 0) of a 2x2 array squares its activation instead of multiplying by the weight:
    the testbench must report mismatches."""
    cfg = ArrayConfig(MacConfig(name=f"arr_bad_{dataflow.value}", acc_bits=32), rows=2, cols=2,
                      dataflow=dataflow)
    vpath, hpath = write_harness(cfg, tmp_path, TEST_DEPTH, TEST_RESULTS)
    text = vpath.read_text()
    if dataflow is OS:
        head, sep, pe = text.partition(f"module \\{cfg.name}.pe_r1_c0 ")
        good, bad = "$signed(weight) * $signed(act)", "$signed(act) * $signed(act)"
    else:
        head, sep, pe = "", "", text
        good = "$signed(wgt_r1_c0) * $signed(act_r1_c0)"
        bad = "$signed(act_r1_c0) * $signed(act_r1_c0)"
    assert good in pe
    vpath.write_text(head + sep + pe.replace(good, bad, 1))
    result = run_cocotb("icarus", [vpath, hpath], harness_name(cfg), tmp_path / "icarus",
                        "qtpe.tb.test_array", extra_env={
                            "QTPE_CONFIG": json.dumps(cfg.to_dict()),
                            "QTPE_HARNESS": json.dumps({"depth": TEST_DEPTH,
                                                        "results": TEST_RESULTS}),
                        }, seed=1)
    assert result.tests == COCOTB_TESTS
    assert result.failed == COCOTB_TESTS
