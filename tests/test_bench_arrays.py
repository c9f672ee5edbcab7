"""The array benchmark's pieces: the hand-written baseline passes the array GEMM tests (so the
synthesis comparison is of equivalent designs), the verdict and the tables."""

from qtpe.bench.arrays import check_hand, compare, markdown


def test_hand_written_baseline_passes_the_gemm_tests(tmp_path):
    result = check_hand("icarus", tmp_path)
    assert result.tests == 2 and result.ok, result.log.read_text()[-3000:]


def synth(lut, ff, dsp, fmax, area, afmax):
    return {"ecp5": {"lut4_count": lut, "ff_count": ff, "carry_count": 1, "dsp_count": dsp,
                     "fmax_mhz": fmax},
            "asic": {"area_um2": area, "fmax_mhz": afmax},
            "generic": {"cell_count": 9}, "ecp5_fmax_by_seed": {"1": fmax}}


def test_verdict_and_tables():
    gen, hand = synth(10, 20, 4, 80.0, 1000.0, 20.0), synth(11, 20, 4, 79.0, 1001.0, 20.0)
    c = compare(gen, hand)
    assert c["no_larger"] and c["no_slower"] and abs(c["ratios"]["ecp5_lut4"] - 10 / 11) < 1e-9
    assert not compare(hand, gen)["no_larger"] and not compare(hand, gen)["no_slower"]
    row = {"preset": "array_os_w8a8_8x8", "pe": "mac", "dataflow": "os", "rows": 8, "cols": 8,
           "peak_macs_per_cycle": 64.0,
           "weight": "int8", "activation": "int8", "acc": "int32/wrap", "cycles": 100,
           "macs_per_cycle": 50.0, "utilization": 0.78, "synth": gen,
           "sim": {"verilator": {"cycles_per_second": 1.5e6}}}
    text = markdown({"date": "today", "machine": "m", "tools": {"yosys": "1"}, "rows": [row],
                     "hand": {"preset": "hand_os_array", "synth": hand}, "comparison": c})
    assert ("| array_os_w8a8_8x8 | mac | OS | 8x8 | int8 x int8 | int32/wrap | 100 | 50.00 | 64 "
            "| 78.0% | - | 1,500,000 |") in text
    assert "| hand_os_array | 11 | 20 |" in text and "no larger and no slower" in text
