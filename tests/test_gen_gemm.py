"""``qtpe gemm`` and the GEMM runner: results, cycles and utilization printed, one-line errors
with exit status 2 and no output file for bad operands; the emitted array and its harness are
lint-clean."""

import json
import subprocess
import sys

import numpy as np
import pytest

from qtpe.gen.config import preset
from qtpe.gen.gemm import run_gemm, write_harness
from qtpe.gen.harness import harness_name
from qtpe.sim.runner import lint
from qtpe.tb.models.gemm import gemm

SMALL = ["--preset", "array_os_w8a8_4x4", "--set", "rows=2", "--set", "cols=3",
         "--set", "name=arr_cli"]


def run_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "qtpe.gen.cli", *args], capture_output=True,
                          text=True, cwd=cwd)


@pytest.fixture
def operands(tmp_path):
    rng = np.random.default_rng(11)
    files = {
        "A": rng.integers(-128, 128, (5, 7)), "W": rng.integers(-128, 128, (7, 3)),
        "Abig": np.full((5, 7), 200), "Af": rng.random((5, 7)), "W2": np.ones((6, 3), int),
        "scale": np.array([1, 200, 65535]), "shift": np.array([0, 9, 30]),
    }
    for name, value in files.items():
        np.save(tmp_path / f"{name}.npy", value)
    (tmp_path / "junk.npy").write_text("not numpy")
    return tmp_path, files


@pytest.mark.parametrize("dataflow", ["os", "ws", "is"])
def test_cli_gemm_writes_checked_result(operands, dataflow):
    tmp, files = operands
    out = tmp / f"C_{dataflow}.npy"
    proc = run_cli("gemm", *SMALL, "--set", f"dataflow={dataflow}", "--a", str(tmp / "A.npy"),
                   "--w", str(tmp / "W.npy"), "-o", str(out), "--sim", "icarus")
    assert proc.returncode == 0, proc.stderr
    np.testing.assert_array_equal(np.load(out), files["A"] @ files["W"])
    assert np.load(out).dtype == np.int64
    text = proc.stdout
    assert "matches the golden model" in text and "M=5 K=7 N=3" in text
    for key in ("cycles", "MACs/cycle", "utilization", "cycles/s"):
        assert key in text


def test_cli_gemm_requantized(operands):
    tmp, files = operands
    out = tmp / "Cq.npy"
    proc = run_cli("gemm", *SMALL, "--set", "requant=true", "--a", str(tmp / "A.npy"),
                   "--w", str(tmp / "W.npy"), "--scale", str(tmp / "scale.npy"),
                   "--shift", str(tmp / "shift.npy"), "-o", str(out), "--sim", "icarus")
    assert proc.returncode == 0, proc.stderr
    cfg = preset("array_os_w8a8_4x4")
    want = gemm(cfg.__class__(cfg.pe_config, rows=2, cols=3, requant=True), files["A"],
                files["W"], files["scale"], files["shift"])
    np.testing.assert_array_equal(np.load(out), want)


@pytest.mark.parametrize("args,needle", [
    (["--a", "Abig.npy", "--w", "W.npy"], r"A (activations) value 200 at [0, 0] is outside "
                                          r"int8 (allowed -128..127)"),
    (["--a", "Af.npy", "--w", "W.npy"], "must be a 2-D integer array (M x K), not float64"),
    (["--a", "A.npy", "--w", "W2.npy"], "A is 5 x 7 but W is 6 x 3"),
    (["--a", "nope.npy", "--w", "W.npy"], "A file 'nope.npy' does not exist"),
    (["--a", "junk.npy", "--w", "W.npy"], "A file 'junk.npy' is not a .npy array"),
    (["--a", "A.npy", "--w", "W.npy", "--scale", "scale.npy"],
     "scale and shift need an array with requant = true"),
    (["--a", "A.npy", "--w", "W.npy", "--set", "rows=400"], "rows must be an integer from 1 to "
                                                            "256, not 400"),
])
def test_cli_gemm_bad_operands(operands, args, needle):
    tmp, _ = operands
    proc = run_cli("gemm", *SMALL, *args, "-o", "C.npy", "--sim", "icarus", cwd=tmp)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("qtpe: error: ") and needle in lines[0]
    assert not (tmp / "C.npy").exists()


def test_cli_gemm_needs_an_array(operands):
    tmp, _ = operands
    proc = run_cli("gemm", "--preset", "mac_w8a8", "--a", "A.npy", "--w", "W.npy", "-o",
                   "C.npy", cwd=tmp)
    assert proc.returncode == 2 and "is a single PE" in proc.stderr
    assert not (tmp / "C.npy").exists()


def test_run_gemm_reports_utilization(tmp_path):
    """A long reduction keeps every PE busy: utilization close to 1, cycles as expected."""
    cfg = preset("array_os_w8a8_4x4")
    rng = np.random.default_rng(12)
    A, W = rng.integers(-128, 128, (4, 200)), rng.integers(-128, 128, (200, 4))
    result = run_gemm(cfg, A, W, "icarus", tmp_path)
    assert result.ok and result.cycles == result.expected_cycles
    assert result.macs == 4 * 200 * 4
    assert 0.9 < result.utilization < 1 and result.macs_per_cycle == result.macs / result.cycles


@pytest.mark.parametrize("name,sets", [
    ("array_os_w8a8_8x8", {}), ("array_ws_w8a8_8x8", {}),
    ("array_os_w8a8_4x4", {"rows": 1, "cols": 1, "dataflow": "ws", "requant": True}),
    ("array_os_w8a8_4x4", {"rows": 1, "cols": 1, "pipeline": True, "requant": True,
                           "weight": "uint4", "activation": "uint8"}),
    ("array_os_w8a8_4x4", {"rows": 3, "cols": 2, "dataflow": "ws", "lanes": 3}),
], ids=["os8x8", "ws8x8", "ws1x1-rq", "os1x1-uu-rq", "ws3x2-l3"])
def test_array_and_harness_lint_clean(tmp_path, name, sets):
    from qtpe.hdl.array_config import config_from_dict

    cfg = config_from_dict(preset(name).to_dict() | sets)
    vpath, hpath = write_harness(cfg, tmp_path, 64, 16)
    lint(vpath, cfg.name)
    meta = json.loads(vpath.with_suffix(".json").read_text())
    assert meta["latency"] == cfg.latency and meta["config"]["rows"] == cfg.rows
    assert harness_name(cfg) in hpath.read_text()


FP8 = ["--preset", "array_os_fp8_4x4", "--set", "name=arr_fp8"]


def test_cli_gemm_takes_fp8_values_and_codes(tmp_path):
    """FP8 operands as exact float values and as uint8 codes give the same checked result, in
    units of 2^-frac_bits (printed)."""
    import ml_dtypes

    rng = np.random.default_rng(13)
    fp8 = np.arange(256, dtype=np.uint8).view(ml_dtypes.float8_e4m3fn).astype(np.float64)
    finite = np.flatnonzero(np.isfinite(fp8)).astype(np.uint8)
    A_codes, W_codes = rng.choice(finite, (5, 9)), rng.choice(finite, (9, 6))
    np.save(tmp_path / "Ac.npy", A_codes)
    np.save(tmp_path / "Wv.npy", fp8[W_codes])  # values
    out = tmp_path / "C.npy"
    proc = run_cli("gemm", *FP8, "--a", str(tmp_path / "Ac.npy"), "--w",
                   str(tmp_path / "Wv.npy"), "-o", str(out), "--sim", "icarus")
    assert proc.returncode == 0, proc.stderr
    assert "matches the golden model" in proc.stdout and "C * 2^-18" in proc.stdout
    exact = fp8[A_codes] @ fp8[W_codes]  # every product and partial sum fits a double here
    np.testing.assert_array_equal(np.load(out) * 2.0 ** -18, exact)


@pytest.mark.parametrize("a,needle", [
    (np.full((2, 3), 0.3), "A (activations) value 0.3 at (0, 0) is not a value of fp8_e4m3"),
    (np.array([[1.0, np.nan, 2.0]] * 2), "value nan at (0, 1) is not a value of fp8_e4m3"),
    (np.array([[1.0, 2.0, 500.0]] * 2), "value 500.0 at (0, 2)"),
    (np.array([[0, 0x7F, 0]] * 2, dtype=np.uint8), "code 127 at [0, 1] is NAN in fp8_e4m3"),
    (np.array([[0, 256, 0]] * 2), "value 256 at [0, 1] is outside fp8_e4m3 codes "
                                  "(allowed 0..255)"),
])
def test_cli_gemm_bad_fp8_operands(tmp_path, a, needle):
    np.save(tmp_path / "A.npy", a)
    np.save(tmp_path / "W.npy", np.zeros((3, 2)))
    proc = run_cli("gemm", *FP8, "--a", "A.npy", "--w", "W.npy", "-o", "C.npy", cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("qtpe: error: ") and needle in lines[0]
    assert not (tmp_path / "C.npy").exists()


def test_cli_gemm_refuses_results_wider_than_int64(tmp_path):
    np.save(tmp_path / "A.npy", np.zeros((2, 3), dtype=np.uint8))
    np.save(tmp_path / "W.npy", np.zeros((3, 2), dtype=np.uint8))
    proc = run_cli("gemm", *FP8, "--set", "weight=fp8_e5m2", "--set", "activation=fp8_e5m2",
                   "--a", "A.npy", "--w", "W.npy", "-o", "C.npy", cwd=tmp_path)
    assert proc.returncode == 2 and "accumulator of arr_fp8 is 73 bits" in proc.stderr
    assert not (tmp_path / "C.npy").exists()
