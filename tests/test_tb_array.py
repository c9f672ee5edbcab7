"""The array testbench on Icarus and Verilator: every PE kind (MAC, bit-serial, shift-add, LUT) in
both dataflows on 1x1, 2x3, 4x4 and 8x8 arrays, random GEMMs with odd M, K, N, extreme and
corner operands, wrap and saturation, lanes, requantization; and a wrong RTL that must fail.

Each (simulator, config) builds once in its own folder; every GEMM of ``qtpe.tb.test_array``
then runs whole in one simulator process through the harness. The seed is printed on failure.
"""

import json
import re

import pytest

from qtpe.gen.config import preset
from qtpe.gen.flow import simulate
from qtpe.gen.gemm import TEST_DEPTH, TEST_RESULTS, write_harness
from qtpe.gen.harness import harness_name
from qtpe.hdl.array_config import ArrayConfig, Dataflow
from qtpe.hdl.config import BitSerialConfig, LutConfig, MacConfig, ShiftAddConfig
from qtpe.hdl.formats import Overflow, PlaneType, PotType, QType
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
# Shift-add arrays (weights as pot/potz/apot codes or int<N>/uint<N> integers).
_POT4, _POT8, _APOT5, _POTZ3 = map(PotType.parse, ("pot4", "pot8", "apot5", "potz3"))
CONFIGS += [
    preset("array_os_shiftadd_pot4a8_8x8"),
    preset("array_ws_shiftadd_pot4a8_8x8"),
    ArrayConfig(ShiftAddConfig(name="sa_os_1x1_pot4", weight=_POT4, acc_bits=32), rows=1,
                cols=1, dataflow=OS),
    ArrayConfig(ShiftAddConfig(name="sa_os_2x3_apot5_l2_sat_pipe", weight=_APOT5, lanes=2,
                               acc_bits=16, overflow=Overflow.SATURATE, pipeline=True),
                rows=2, cols=3, dataflow=OS),
    ArrayConfig(ShiftAddConfig(name="sa_os_4x4_potz3a6_rq", weight=_POTZ3,
                               activation=QType(6), acc_bits=20), rows=4, cols=4, dataflow=OS,
                requant=True, requant_scale_bits=10),
    ArrayConfig(ShiftAddConfig(name="sa_ws_1x1_int4_l3_sat", weight=QType(4), lanes=3,
                               acc_bits=12, overflow=Overflow.SATURATE), rows=1, cols=1,
                dataflow=WS),
    ArrayConfig(ShiftAddConfig(name="sa_ws_2x3_pot8a6_sat", weight=_POT8, activation=QType(6),
                               acc_bits=24, overflow=Overflow.SATURATE), rows=2, cols=3,
                dataflow=WS),
    ArrayConfig(ShiftAddConfig(name="sa_ws_4x4_uint4_rq", weight=QType(4, False),
                               acc_bits=24), rows=4, cols=4, dataflow=WS, requant=True),
]
# Bit-serial arrays (one weight bit-plane per cycle, every op at weight.bits).
CONFIGS += [
    preset("array_os_bitserial_w4a8_8x8"),
    preset("array_ws_bitserial_w4a8_8x8"),
    ArrayConfig(BitSerialConfig(name="abs_os_1x1_u2a8_sat", weight=QType(2, False), acc_bits=8,
                                overflow=Overflow.SATURATE), rows=1, cols=1, dataflow=OS),
    ArrayConfig(BitSerialConfig(name="abs_os_2x3_w4u8_l2", weight=QType(4),
                                activation=QType(8, False), lanes=2, acc_bits=14),
                rows=2, cols=3, dataflow=OS),
    ArrayConfig(BitSerialConfig(name="abs_os_4x4_w8a8_rq", weight=QType(8), acc_bits=32),
                rows=4, cols=4, dataflow=OS, requant=True),
    ArrayConfig(BitSerialConfig(name="abs_ws_1x1_w1a8", weight=QType(1), acc_bits=12),
                rows=1, cols=1, dataflow=WS),
    ArrayConfig(BitSerialConfig(name="abs_ws_2x3_u4a8_l3_sat", weight=QType(4, False), lanes=3,
                                acc_bits=16, overflow=Overflow.SATURATE),
                rows=2, cols=3, dataflow=WS),
    ArrayConfig(BitSerialConfig(name="abs_ws_4x4_w2u8_rq8", weight=QType(2),
                                activation=QType(8, False), acc_bits=20),
                rows=4, cols=4, dataflow=WS, requant=True, requant_scale_bits=8),
]
# LUT arrays (one table-precompute unit per row; int<b> integers, sym<b> codes, ternary).
_TERNARY, _SYM1, _SYM2 = map(PlaneType.parse, ("ternary", "sym1", "sym2"))
CONFIGS += [
    preset("array_os_lut_w2a8_8x8"),
    preset("array_ws_lut_w2a8_8x8"),
    ArrayConfig(LutConfig(name="lut_os_1x1_ternary", weight=_TERNARY, acc_bits=16), rows=1,
                cols=1, dataflow=OS),
    ArrayConfig(LutConfig(name="lut_os_2x3_sym2_g3_plain_sat", weight=_SYM2, g=3,
                          symmetric=False, acc_bits=12, overflow=Overflow.SATURATE),
                rows=2, cols=3, dataflow=OS),
    ArrayConfig(LutConfig(name="lut_os_4x4_int4a5_g2_rq", weight=QType(4), g=2,
                          activation=QType(5), acc_bits=20), rows=4, cols=4, dataflow=OS,
                requant=True, requant_scale_bits=8),
    ArrayConfig(LutConfig(name="lut_ws_1x1_sym1_g2_sat", weight=_SYM1, g=2, acc_bits=10,
                          overflow=Overflow.SATURATE), rows=1, cols=1, dataflow=WS),
    ArrayConfig(LutConfig(name="lut_ws_2x3_int4_plain", weight=QType(4), symmetric=False,
                          acc_bits=20), rows=2, cols=3, dataflow=WS),
    ArrayConfig(LutConfig(name="lut_ws_4x4_ternary_g3_rq", weight=_TERNARY, g=3,
                          acc_bits=16), rows=4, cols=4, dataflow=WS, requant=True),
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


def run_broken(cfg, vpath, hpath, tmp_path):
    """The array testbench on a deliberately broken Verilog: every cocotb test must fail."""
    result = run_cocotb("icarus", [vpath, hpath], harness_name(cfg), tmp_path / "icarus",
                        "qtpe.tb.test_array", extra_env={
                            "QTPE_CONFIG": json.dumps(cfg.to_dict()),
                            "QTPE_HARNESS": json.dumps({"depth": TEST_DEPTH,
                                                        "results": TEST_RESULTS}),
                        }, seed=1)
    assert result.tests == COCOTB_TESTS
    assert result.failed == COCOTB_TESTS


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
    run_broken(cfg, vpath, hpath, tmp_path)


@pytest.mark.parametrize("dataflow", [OS, WS], ids=lambda d: d.value)
def test_wrong_bitserial_rtl_fails(dataflow, tmp_path):
    """Bit-serial cell (1, 0) of a 2x2 array takes every weight bit as set instead of the
    bit-plane it is given: the testbench must report mismatches."""
    cfg = ArrayConfig(BitSerialConfig(name=f"abs_bad_{dataflow.value}", weight=QType(4),
                                      acc_bits=32), rows=2, cols=2, dataflow=dataflow)
    vpath, hpath = write_harness(cfg, tmp_path, TEST_DEPTH, TEST_RESULTS)
    good = r"assign plane_term_r1_c0_l0 = \S+ \? a_skew_r1_d1 : 8'h00;"
    text, hits = re.subn(good, "assign plane_term_r1_c0_l0 = a_skew_r1_d1;", vpath.read_text())
    assert hits == 1
    vpath.write_text(text)
    run_broken(cfg, vpath, hpath, tmp_path)
