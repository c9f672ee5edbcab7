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
    ("array_os_w8a8_4x4", {"rows": 3, "cols": 2, "weight": "uint4", "group_size": 4,
                           "zero_points": True, "requant": True}),
    ("array_os_w8a8_4x4", {"rows": 2, "cols": 2, "group_size": 2, "group_scale": "pot",
                           "scale_bits": 4, "lanes": 2}),
], ids=["os8x8", "ws8x8", "ws1x1-rq", "os1x1-uu-rq", "ws3x2-l3", "os3x2-g4-zp-rq",
        "os2x2-g2-pot"])
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


def _layer(cfg, rng, M, K, N):
    """A group-quantized layer for ``cfg``: Gaussian weights quantized by the ready quantizer
    (``qtpe.tb.models.quant``), random activations of the format."""
    from qtpe.tb.models.formats import Operand
    from qtpe.tb.models.quant import quantize

    q = quantize(rng.normal(0, 0.02, (K, N)), cfg.weight, cfg.group, cfg.zero_points)
    A = Operand(cfg.activation).random(rng, (M, K), 0.1)
    return A, q


def _reference(A, q, acc):
    """numpy: dequantize (``scale * (w - zero)``), one exact matmul, then the accumulator's
    wrap (the accumulators here never saturate)."""
    from qtpe.tb.models.formats import fit

    return fit(A.astype(object) @ q.integer_weights(), acc)


@pytest.mark.parametrize("sets", [
    {"weight": "uint4", "group_size": 128, "zero_points": True},
    {"weight": "int3", "group_size": 32, "group_scale": "pot", "scale_bits": 4},
    {"pe": "shiftadd", "weight": "uint2", "group_size": 32, "zero_points": True,
     "scale_bits": 6},
    {"pe": "lut", "weight": "int2", "group_size": 32, "group_scale": "pot", "scale_bits": 3},
    {"weight": "uint3", "group_size": 32, "zero_points": True, "dataflow": "ws"},
    {"pe": "shiftadd", "weight": "int4", "group_size": 128, "group_scale": "pot",
     "scale_bits": 4, "dataflow": "ws"},
    {"pe": "lut", "weight": "int2", "group_size": 32, "dataflow": "ws"},
], ids=["mac-u4-g128-zp", "mac-i3-g32-pot", "shiftadd-u2-g32-zp", "lut-i2-g32-pot",
        "ws-mac-u3-g32-zp", "ws-shiftadd-i4-g128-pot", "ws-lut-i2-g32"])
def test_group_quantized_layers_equal_numpy(tmp_path, sets):
    """Gaussian weights quantized per group (W2/W3/W4, int and pot scales, with and without
    zero points), odd M, K, N: the 4x4 array's result equals numpy's dequantize-then-matmul
    (Icarus; the regression runs the group arrays on Verilator too)."""
    from qtpe.hdl.array_config import config_from_dict
    from qtpe.tb.models.operands import QuantOperands

    cfg = config_from_dict({"rows": 4, "cols": 4, "dataflow": "os", "name": "arr_layer"}
                           | sets)
    rng = np.random.default_rng(17)
    A, q = _layer(cfg, rng, 5, 301, 9)
    result = run_gemm(cfg, A, q.weights, "icarus", tmp_path,
                      quant=QuantOperands(q.scales, q.zeros))
    assert result.ok and result.cycles == result.expected_cycles
    np.testing.assert_array_equal(result.C, _reference(A, q, cfg.acc))
    # Groups never hold the array up: utilization is what the padding of M = 5, N = 9
    # (2 x 3 tiles of 4 x 4) and K (whole beats or reduction tiles) leaves, within the fill
    # (and, WS, the weight-only first period).
    step = cfg.tile_k
    padded = (5 * 9) / (8 * 12) * 301 / (-(-301 // step) * step)
    assert (0.9 if step == cfg.lanes else 0.8) * padded < result.utilization <= padded


def test_cli_gemm_group_scales_and_zeros(tmp_path):
    from qtpe.hdl.array_config import config_from_dict

    sets = ["--set", "weight=uint4", "--set", "group_size=32", "--set", "zero_points=true"]
    cfg = config_from_dict(preset("array_os_w8a8_4x4").to_dict() | {
        "rows": 2, "cols": 3, "name": "arr_cli", "weight": "uint4", "group_size": 32,
        "zero_points": True})
    A, q = _layer(cfg, np.random.default_rng(5), 3, 70, 4)
    for name, value in {"A": A, "W": q.weights, "S": q.scales, "Z": q.zeros,
                        "Sbad": q.scales[:2], "Zbig": q.zeros + 16}.items():
        np.save(tmp_path / f"{name}.npy", value)
    proc = run_cli("gemm", *SMALL, *sets, "--a", "A.npy", "--w", "W.npy", "--scales", "S.npy",
                   "--zeros", "Z.npy", "-o", "C.npy", "--sim", "icarus", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    np.testing.assert_array_equal(np.load(tmp_path / "C.npy"), _reference(A, q, cfg.acc))
    for args, needle in [
        (["--scales", "Sbad.npy", "--zeros", "Z.npy"],
         "group scales must be an integer 3 x 4 array (groups of 32 along K = 70 x N), "
         "not int64 of shape (2, 4)"),
        (["--scales", "S.npy", "--zeros", "Zbig.npy"], "zero points value"),
        (["--zeros", "Z.npy"], "--zeros needs --scales (the group scales)"),
        (["--scales", "S.npy"], "zero_points = true needs zero points (3 x 4)"),
        ([], "group_size = 32 needs group scales (3 x 4: groups x N)"),
    ]:
        proc = run_cli("gemm", *SMALL, *sets, "--a", "A.npy", "--w", "W.npy", *args,
                       "-o", "C2.npy", "--sim", "icarus", cwd=tmp_path)
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 2 and len(lines) == 1 and needle in lines[0], proc.stderr
        assert not (tmp_path / "C2.npy").exists()


@pytest.mark.parametrize("dataflow", ["os", "ws"])
def test_cli_gemm_bitserial_mixed_precision(tmp_path, dataflow):
    """A layer whose K groups of 32 are W2, W3 and W4 (per-row precisions, ``--wbits``)
    through a 4x4 bit-serial array: the result equals A @ W, and the cycles follow the
    documented formula (each beat takes its precision in cycles), fewer than at full
    precision."""
    from qtpe.hdl.array_config import config_from_dict
    from qtpe.tb.models.cycles import expected_cycles
    from qtpe.tb.models.schedule import schedule

    cfg = config_from_dict({"pe": "bitserial", "weight": "int4", "rows": 4, "cols": 4,
                            "dataflow": dataflow, "name": "bs_mixed"})
    rng = np.random.default_rng(23)
    K = 96
    wbits = np.repeat([2, 3, 4], 32)
    hi = (1 << (wbits - 1)) - 1
    W = rng.integers(-hi - 1, hi + 1, (3, K)).T  # (K, 3) within each row's precision
    A = rng.integers(-128, 128, (5, K))
    for name, value in {"A": A, "W": W, "B": wbits, "Bbad": np.repeat([2, 4], 48),
                        "Bshort": wbits[:10]}.items():
        np.save(tmp_path / f"{name}.npy", value)
    proc = run_cli("gemm", "--preset", "array_os_bitserial_w4a8_8x8", "--set", "rows=4",
                   "--set", "cols=4", "--set", f"dataflow={dataflow}", "--set", "name=bs_mixed",
                   "--a", "A.npy", "--w", "W.npy", "--wbits", "B.npy", "-o", "C.npy",
                   "--sim", "icarus", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    np.testing.assert_array_equal(np.load(tmp_path / "C.npy"), A @ W)
    from qtpe.tb.models.operands import QuantOperands

    mixed = expected_cycles(cfg, schedule(cfg, A, W, quant=QuantOperands(wbits=wbits)))
    full = expected_cycles(cfg, schedule(cfg, A, W))
    assert f"cycles      {mixed}" in proc.stdout and mixed < full
    # Each beat saves 4 - wbits cycles. OS: 2 x 1 output tiles of 96 beats, one per row,
    # saving 32 * 2 + 32 * 1 each. WS: 2 M blocks x 24 K tiles of 4 rows, 4 beats a period,
    # saving 4 * (8 * 2 + 8 * 1) per block, and the weight-only period's 4 beats run at the
    # first tile's precision (2).
    assert full - mixed == (2 * 96 if dataflow == "os" else 2 * 96 + 4 * 2)
    for args, needle in [
        (["--w", "W.npy", "--wbits", "Bbad.npy"], "does not fit its row's precision wbits = 2"),
        (["--w", "W.npy", "--wbits", "Bshort.npy"], "wbits must be an integer vector of K = 96"),
    ]:
        proc = run_cli("gemm", "--preset", "array_os_bitserial_w4a8_8x8", "--set", "rows=4",
                       "--set", "cols=4", "--a", "A.npy", *args, "-o", "C2.npy", cwd=tmp_path)
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 2 and len(lines) == 1 and needle in lines[0], proc.stderr


@pytest.mark.parametrize("dataflow", ["os", "ws"])
def test_bitserial_layer_groups_at_mixed_precisions(tmp_path, dataflow):
    """Issue 17: a group-quantized layer (uint4 grid, zero points, groups of 32) whose groups
    are read at 4, 2, 3 and 4 bits (``wbits``) through a 4x4 bit-serial array: the result
    equals numpy's dequantize-then-matmul of the same integers, the cycles are the
    documented formula's (``expected_cycles``, which the harness's count must equal) and
    fewer than at full precision."""
    from qtpe.hdl.array_config import config_from_dict
    from qtpe.tb.models.cycles import expected_cycles
    from qtpe.tb.models.formats import fit
    from qtpe.tb.models.operands import QuantOperands
    from qtpe.tb.models.schedule import schedule

    cfg = config_from_dict({"pe": "bitserial", "weight": "uint4", "rows": 4, "cols": 4,
                            "dataflow": dataflow, "name": "bs_layer", "group_size": 32,
                            "zero_points": True})
    rng = np.random.default_rng(29)
    A, q = _layer(cfg, rng, 5, 101, 7)
    per_group = np.array([4, 2, 3, 4])
    wbits = np.repeat(per_group, 32)[:101]
    top = (1 << per_group) - 1  # each group's weights and zero points on its own grid
    W = np.minimum(q.weights, top[np.arange(101) // 32][:, None])
    zeros = np.minimum(q.zeros, top[:, None])
    quant = QuantOperands(q.scales, zeros, wbits)
    result = run_gemm(cfg, A, W, "icarus", tmp_path, quant=quant)
    assert result.ok and result.cycles == result.expected_cycles
    g = np.arange(101) // 32
    dequant = q.scales[g] * (W - zeros[g])  # numpy: one scale and zero per group and column
    np.testing.assert_array_equal(result.C, fit(A.astype(object) @ dequant.astype(object),
                                                cfg.acc))
    full = expected_cycles(cfg, schedule(cfg, A, W, quant=QuantOperands(q.scales, zeros)))
    assert result.cycles == expected_cycles(cfg, schedule(cfg, A, W, quant=quant)) < full


def test_cli_gemm_bitmod_special_values(tmp_path):
    """Issue 17: the BitMoD ``special`` type in a 4x4 bit-serial array, groups of 32 read at
    3, 2 and 3 bits: ``qtpe gemm --specials`` gives each group's special value per column
    (the code -2^(p-1) stands for it); the result equals numpy's matmul of the dequantized
    weights. Bad special values are one-line errors before anything is built."""
    from qtpe.tb.models.formats import fit

    sets = ["--set", "pe=bitserial", "--set", "weight=int3", "--set", "dtype=special",
            "--set", "special_bits=5", "--set", "group_size=32", "--set", "rows=4",
            "--set", "cols=4", "--set", "name=bs_bitmod"]
    rng = np.random.default_rng(31)
    K, N = 90, 5
    wbits = np.repeat([3, 2, 3], 32)[:K]
    lo = -(1 << (wbits - 1))
    W = rng.integers(lo[:, None], -lo[:, None], (K, N))  # incl. the special code -2^(p-1)
    A = rng.integers(-128, 128, (7, K))
    S = rng.integers(0, 256, (3, N))
    X = rng.integers(-16, 16, (3, N))
    X[0, 0] = -16
    Xbig = X.copy()
    Xbig[0, 1] = 16
    for name, value in {"A": A, "W": W, "B": wbits, "S": S, "X": X, "Xbig": Xbig,
                        "Xshort": X[:2]}.items():
        np.save(tmp_path / f"{name}.npy", value)
    proc = run_cli("gemm", "--preset", "array_os_bitserial_w4a8_8x8", *sets, "--a", "A.npy",
                   "--w", "W.npy", "--wbits", "B.npy", "--scales", "S.npy", "--specials",
                   "X.npy", "-o", "C.npy", "--sim", "icarus", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    g = np.arange(K) // 32
    values = np.where(W == lo[:, None], X[g], W)
    assert (W == lo[:, None]).sum() > 10  # special codes in every group
    ref = fit(A.astype(object) @ (S[g] * values).astype(object),
              preset("array_os_bitserial_w4a8_8x8").acc)
    np.testing.assert_array_equal(np.load(tmp_path / "C.npy"), ref)
    base = ["gemm", "--preset", "array_os_bitserial_w4a8_8x8", *sets, "--a", "A.npy", "--w",
            "W.npy", "--wbits", "B.npy", "-o", "C2.npy"]
    for args, needle in [
        (["--scales", "S.npy"], "dtype = 'special' needs special values (3 x 5)"),
        (["--scales", "S.npy", "--specials", "Xbig.npy"],
         "special values value 16 at [0, 1] is outside 5-bit signed special values "
         "(allowed -16..15)"),
        (["--scales", "S.npy", "--specials", "Xshort.npy"],
         "special values must be an integer 3 x 5 array"),
        (["--specials", "X.npy"], "--specials needs --scales (the group scales)"),
    ]:
        proc = run_cli(*base, *args, cwd=tmp_path)
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 2 and len(lines) == 1 and needle in lines[0], proc.stderr
        assert not (tmp_path / "C2.npy").exists()
