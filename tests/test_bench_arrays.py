"""The array benchmark's pieces: the hand-written baselines pass their GEMM tests (so the
synthesis comparisons are of equivalent designs) and fail them when broken, the verdicts and
the tables."""

import numpy as np

from qtpe.bench.arrays import (
    PLAIN_VERILOG,
    check_hand,
    check_plain,
    compare,
    energy_lines,
    fast_array,
    markdown,
    versus_plain,
)
from qtpe.bench.energy import realistic_operands
from qtpe.gen.config import preset
from qtpe.sim import runner
from qtpe.tb.models.formats import Operand


def test_hand_written_baseline_passes_the_gemm_tests(tmp_path):
    result = check_hand("icarus", tmp_path)
    tests = len(runner.testcases("qtpe.tb.test_array"))  # every array test
    assert result.tests == tests and result.ok, result.log.read_text()[-3000:]


def test_plain_baseline_passes_its_gemm_test_and_fails_when_broken(tmp_path):
    result = check_plain("icarus", tmp_path / "good")
    assert result.tests == 1 and result.ok, result.log.read_text()[-3000:]
    # One PE (row 3, column 5) adds 1 too many per product: the test must see it.
    text = PLAIN_VERILOG.read_text()
    good = "acc_q   <= (clear_q ? 32'sd0 : acc_q) + product;"
    assert good in text
    bad = tmp_path / "plain_bad.v"
    bad.write_text(text.replace(good, good[:-1] + " + (r == 3 && c == 5);"))
    broken = check_plain("icarus", tmp_path / "bad", bad)
    assert broken.tests == 1 and broken.failed == 1


def synth(lut, ff, dsp, fmax, area, afmax):
    return {"ecp5": {"lut4_count": lut, "ff_count": ff, "carry_count": 1, "dsp_count": dsp,
                     "fmax_mhz": fmax},
            "asic": {"area_um2": area, "fmax_mhz": afmax, "worst_path_ns": 1000.0 / afmax,
                     "fanout_buffers": 7},
            "generic": {"cell_count": 9}, "ecp5_fmax_by_seed": {"1": fmax}}


def test_verdict_and_tables():
    gen, hand = synth(10, 20, 4, 80.0, 1000.0, 20.0), synth(11, 20, 4, 79.0, 1001.0, 20.0)
    c = compare(gen, hand)
    assert c["no_larger"] and c["no_slower"] and abs(c["ratios"]["ecp5_lut4"] - 10 / 11) < 1e-9
    assert not compare(hand, gen)["no_larger"] and not compare(hand, gen)["no_slower"]
    row = {"preset": "array_os_w8a8_8x8", "pe": "mac", "dataflow": "os", "readout": "bus",
           "rows": 8, "cols": 8,
           "peak_macs_per_cycle": 64.0,
           "weight": "int8", "activation": "int8", "acc": "int32/wrap", "cycles": 100,
           "macs_per_cycle": 50.0, "utilization": 0.78, "synth": gen,
           "sim": {"verilator": {"cycles_per_second": 1.5e6}}}
    text = markdown({"date": "today", "machine": "m", "tools": {"yosys": "1"}, "rows": [row],
                     "hand": {"preset": "hand_os_array", "synth": hand}, "comparison": c})
    assert ("| array_os_w8a8_8x8 | mac | OS | 8x8 | int8 x int8 | int32/wrap | 100 | 50.00 | 64 "
            "| 78.0% | - | 1,500,000 |") in text
    assert "| hand_os_array | 11 | 20 |" in text and "no larger and no slower" in text
    assert "| 50.00 | 20.0 | 0.25 | 7 |" in text  # worst path, Fmax, OSU / ECP5, buffers


def test_versus_plain_bound():
    plain = {"asic": {"worst_path_ns": 6.0}}
    assert versus_plain({"asic": {"worst_path_ns": 6.5}}, plain)["within"]
    assert not versus_plain({"asic": {"worst_path_ns": 6.7}}, plain)["within"]


def test_fast_array_verdicts():
    """Area within 1.05x and Fmax at least the plain array's; carry-save at least 1.8x the
    plain accumulator's ASIC Fmax within 1.05x its area."""
    plain = {"synth": synth(100, 100, 64, 80.0, 1000.0, 100.0)}
    rows = {"array_os_w8a8_8x8": {"synth": synth(105, 104, 64, 81.0, 1049.0, 100.0),
                                  "utilization": 0.999},
            "array_os_w8a8_8x8_cs": {"synth": synth(300, 120, 0, 70.0, 1100.0, 190.0),
                                     "utilization": 0.999}}
    fast = fast_array(rows, plain)
    ref = fast["versus_plain"]["array_os_w8a8_8x8"]
    assert all(ref["area_met"].values()) and all(ref["fmax_met"].values())
    cs = fast["versus_plain"]["array_os_w8a8_8x8_cs"]
    assert not cs["area_met"]["asic_area"] and not cs["fmax_met"]["ecp5_fmax"]
    assert fast["carry_save"]["asic_met"] and fast["carry_save"]["ecp5_dsp"] == (64, 0)
    rows["array_os_w8a8_8x8_cs"]["synth"]["asic"]["fmax_mhz"] = 179.0
    assert not fast_array(rows, plain)["carry_save"]["asic_met"]
    text = markdown({"date": "d", "machine": "m", "rows": [], "fast_array": fast})
    assert "| array_os_w8a8_8x8 | 1.045 | 1.049 | 1.012 | 1.000 | 99.9% | all met |" in text
    assert "missed: ecp5_lut_ff, asic_area, ecp5_fmax" in text
    assert "1.90x at 1.05x the area" in text


def test_energy_table():
    u = {"pj_per_mac": 52.5, "pj_per_cycle": 3000.0, "internal_w": 0.2, "switching_w": 0.1,
         "leakage_w": 1e-6, "activity": 0.25}
    row = {"preset": "array_os_w8a8_8x8", "readout": "bus", "cells": 70000, "clock_mhz": 100.0,
           "date": "d",
           "workloads": {"uniform": u, "zero": u | {"pj_per_mac": 9.0}}}
    text = "\n".join(energy_lines({"machine": "m", "rows": [row], "tools": {"yosys": "1"}}))
    assert "| array_os_w8a8_8x8 | 70,000 | 52.50 | - | 9.00 | - | 3,000 | 200.0 / 100.0 / 0.0010 " \
        "| 0.250 | d |" in text and "Clock 100 MHz" in text
    assert energy_lines({}) == []
    # A row measured before the readout was recorded had the drain readout: the table says so.
    old = {k: v for k, v in row.items() if k != "readout"}
    text = "\n".join(energy_lines({"machine": "m", "rows": [old], "tools": {}}))
    assert "| array_os_w8a8_8x8 (drain readout, before the bus) | 70,000 |" in text


def test_realistic_operands():
    """Weights are values of the format, roughly Gaussian (most near 0); activations are
    ReLU-like: about half of them 0, none negative."""
    for name in ("array_os_w8a8_8x8", "array_os_shiftadd_pot4a8_8x8", "array_os_lut_w2a8_8x8"):
        cfg = preset(name)
        A, W = realistic_operands(cfg)
        assert A.shape == (64, 512) and W.shape == (512, 64)
        op = Operand(cfg.weight)
        assert op.min <= W.min() and W.max() <= op.max  # GEMM operands: values or codes
        assert A.min() == 0 and A.max() <= cfg.activation.max
        assert 0.4 < (A == 0).mean() < 0.6
    W = realistic_operands(preset("array_os_w8a8_8x8"))[1]
    assert (np.abs(W) <= 51).mean() > 0.6 and np.abs(W).max() > 90
