"""The array's golden model against plain-Python references: exact products, wrap, the order
of saturation per dataflow, requantization rounding; the tiling schedule against an independent
reading of the protocol; the harness word packing; operand checks."""

import itertools

import numpy as np
import pytest

from qtpe.hdl.array_config import ArrayConfig, Dataflow
from qtpe.hdl.config import MacConfig
from qtpe.hdl.formats import Overflow, QType
from qtpe.tb.models.array import (
    GemmOperandError,
    beat_layout,
    check_gemm,
    expected_cycles,
    gemm,
    pack_beats,
    pack_requant,
    requantize,
    schedule,
    unpack_rows,
)
from qtpe.tb.models.formats import random_operands

OS, WS = Dataflow.OS, Dataflow.WS


def arr(dataflow, rows=2, cols=3, requant=False, scale_bits=16, **pe):
    return ArrayConfig(MacConfig(name="m", **pe), rows=rows, cols=cols, dataflow=dataflow,
                       requant=requant, requant_scale_bits=scale_bits)


def py_fit(v, bits, signed, saturate):
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    if saturate:
        return min(max(v, lo), hi)
    v &= (1 << bits) - 1
    return v - (1 << bits) if signed and v > hi else v


def py_gemm(cfg, A, W):
    """Plain Python: each output accumulates chunks of ``step`` products in ascending k."""
    step = cfg.lanes if cfg.dataflow is OS else cfg.rows * cfg.lanes
    acc = cfg.acc
    M, K, N = len(A), len(W), len(W[0])
    out = [[0] * N for _ in range(M)]
    for m, n in itertools.product(range(M), range(N)):
        s = 0
        for k0 in range(0, K, step):
            part = sum(int(A[m][k]) * int(W[k][n]) for k in range(k0, min(k0 + step, K)))
            s = py_fit(s + part, acc.bits, acc.signed, acc.overflow is Overflow.SATURATE)
        out[m][n] = s
    return np.array(out, dtype=np.int64)


def py_requant(x, scale, shift):
    num = x * scale
    if shift == 0:
        y = num
    else:  # round half up: floor(num / 2^shift + 1/2)
        y = (2 * num + (1 << shift)) // (1 << (shift + 1))
    return min(max(y, -128), 127)


@pytest.mark.parametrize("cfg", [arr(OS), arr(WS), arr(OS, lanes=3), arr(WS, 3, 1, lanes=2)],
                         ids=["os", "ws", "os-l3", "ws-l2"])
@pytest.mark.parametrize("shape", [(5, 7, 3), (9, 13, 11), (1, 1, 1)])
def test_exact_without_overflow_is_a_matmul(cfg, shape):
    rng = np.random.default_rng(1)
    M, K, N = shape
    A = random_operands(rng, cfg.activation, (M, K))
    W = random_operands(rng, cfg.weight, (K, N))
    np.testing.assert_array_equal(gemm(cfg, A, W), A @ W)


@pytest.mark.parametrize("cfg", [
    arr(OS, weight=QType(4), activation=QType(8, False), acc_bits=10),
    arr(WS, weight=QType(4), activation=QType(8, False), acc_bits=10),
    arr(OS, 2, 2, lanes=3, acc_bits=12, overflow=Overflow.SATURATE),
    arr(WS, 3, 2, lanes=2, acc_bits=12, overflow=Overflow.SATURATE),
    arr(OS, weight=QType(4, False), activation=QType(4, False), acc_bits=6,
        overflow=Overflow.SATURATE),
], ids=["os-wrap", "ws-wrap", "os-sat-l3", "ws-sat-l2", "os-uu-sat"])
def test_overflow_matches_python_reference(cfg):
    rng = np.random.default_rng(2)
    A = random_operands(rng, cfg.activation, (4, 23), corner_fraction=0.8)
    W = random_operands(rng, cfg.weight, (23, 5), corner_fraction=0.8)
    np.testing.assert_array_equal(gemm(cfg, A, W), py_gemm(cfg, A.tolist(), W.tolist()))


def test_saturation_order_differs_between_dataflows():
    """+127*127 then -128*127: OS saturates after the first product, WS adds both first."""
    A = np.array([[127, -128]])
    W = np.array([[127], [127]])
    os_, ws = (arr(d, 2, 1, acc_bits=14, overflow=Overflow.SATURATE) for d in (OS, WS))
    assert gemm(os_, A, W)[0, 0] == (1 << 13) - 1 - 128 * 127
    assert gemm(ws, A, W)[0, 0] == 127 * 127 - 128 * 127


def test_requantize_rounds_half_up_and_saturates():
    assert requantize([5, -5, 7, -7, 6], 1, 1).tolist() == [3, -2, 4, -3, 3]
    assert requantize([1000, -1000, 0], 1, 0).tolist() == [127, -128, 0]
    rng = np.random.default_rng(3)
    x = rng.integers(-(1 << 31), 1 << 31, 500)
    s = rng.integers(0, 1 << 16, 500)
    h = rng.integers(0, 49, 500)
    want = [py_requant(int(a), int(b), int(c)) for a, b, c in zip(x, s, h, strict=True)]
    assert requantize(x, s, h).tolist() == want


def test_requantized_gemm_per_column():
    cfg = arr(OS, requant=True, scale_bits=8, acc_bits=20)
    rng = np.random.default_rng(4)
    A, W = rng.integers(-128, 128, (3, 9)), rng.integers(-128, 128, (9, 4))
    scale, shift = np.array([1, 3, 255, 0]), np.array([0, 7, 20, 2])
    want = [[py_requant(int(v), int(scale[n]), int(shift[n])) for n, v in enumerate(row)]
            for row in (A @ W).tolist()]
    assert gemm(cfg, A, W, scale, shift).tolist() == want


def protocol_reference(cfg, sched):
    """The result rows the documented protocol gives for ``sched`` (wrapping, no requant)."""
    rows = []
    if cfg.dataflow is OS:
        acc = np.zeros((cfg.rows, cfg.cols), dtype=np.int64)
        for i in range(sched.beats):
            acc += np.einsum("rl,cl->rc", sched.a[i], sched.w[i])
            if sched.last[i]:
                rows.extend(acc.tolist())
                acc[:] = 0
    else:
        active = np.zeros((cfg.rows, cfg.cols, cfg.lanes), dtype=np.int64)  # by weight row j
        loading = np.zeros_like(active)
        ring = np.zeros((cfg.rows, cfg.cols), dtype=np.int64)
        for i in range(sched.beats):
            j = i % cfg.rows
            if j == 0:
                active = loading.copy()
            psum = np.einsum("jl,jcl->c", sched.a[i], active)
            ring[j] = psum if sched.first[i] else ring[j] + psum
            if sched.last[i]:
                rows.append(ring[j].tolist())
            loading[j] = sched.w[i]
    return np.array(rows, dtype=np.int64)


@pytest.mark.parametrize("cfg", [arr(OS), arr(WS), arr(OS, 3, 2, lanes=2), arr(WS, 3, 2, lanes=2),
                                 arr(OS, 1, 1), arr(WS, 1, 1)],
                         ids=["os", "ws", "os-l2", "ws-l2", "os-1x1", "ws-1x1"])
@pytest.mark.parametrize("shape", [(5, 7, 3), (1, 1, 1), (6, 12, 6)])
def test_schedule_follows_the_protocol(cfg, shape):
    rng = np.random.default_rng(5)
    A = random_operands(rng, cfg.activation, shape[:2])
    W = random_operands(rng, cfg.weight, shape[1:])
    sched = schedule(cfg, A, W)
    rows = protocol_reference(cfg, sched)
    assert rows.shape == (sched.results, cfg.cols)
    np.testing.assert_array_equal(sched.assemble(rows), A @ W)
    assert sched.macs == A.shape[0] * A.shape[1] * W.shape[1]


def test_expected_cycles():
    cfg = arr(OS, 2, 3)  # min_tile_period 5
    rng = np.random.default_rng(6)
    long = schedule(cfg, rng.integers(-9, 9, (4, 7)), rng.integers(-9, 9, (7, 6)))
    assert expected_cycles(cfg, long) == long.beats - 1 + cfg.latency + cfg.rows
    short = schedule(cfg, rng.integers(-9, 9, (4, 2)), rng.integers(-9, 9, (2, 6)))
    tiles = short.results // cfg.rows
    assert expected_cycles(cfg, short) == 1 + (tiles - 1) * 5 + cfg.latency + cfg.rows
    ws = arr(WS, 2, 3)
    s = schedule(ws, rng.integers(-9, 9, (4, 7)), rng.integers(-9, 9, (7, 6)))
    assert expected_cycles(ws, s) == s.beats + ws.latency


def test_beat_words_round_trip():
    cfg = arr(WS, 3, 2, lanes=2, weight=QType(4, False), activation=QType(5))
    rng = np.random.default_rng(7)
    sched = schedule(cfg, random_operands(rng, cfg.activation, (4, 9)),
                     random_operands(rng, cfg.weight, (9, 3)))
    lay = beat_layout(cfg)
    for i, line in enumerate(pack_beats(cfg, sched)):
        word = int(line, 16)
        assert len(line) == -(-lay.beat_bits // 4)
        for r in range(3):
            for lane in range(2):
                v = (word >> ((r * 2 + lane) * 5)) & 31
                assert v - 32 * (v >= 16) == sched.a[i, r, lane]
        for c in range(2):
            for lane in range(2):
                assert (word >> (lay.a_bits + (c * 2 + lane) * 4)) & 15 == sched.w[i, c, lane]
        assert (word >> lay.first_bit) & 1 == sched.first[i]
        assert word >> lay.last_bit == sched.last[i]


def test_requant_words_and_result_rows():
    cfg = arr(OS, 2, 2, requant=True, scale_bits=4, acc_bits=10)
    sched = schedule(cfg, np.ones((2, 1), dtype=np.int64), np.ones((1, 2), dtype=np.int64),
                     np.array([3, 15]), np.array([1, 14]))
    lay = beat_layout(cfg)
    word = int(pack_requant(cfg, sched)[0], 16)
    assert word == 3 | 15 << 4 | 1 << 8 | 14 << (8 + lay.rq_shift_bits)
    text = "// 0x00000000\n7f80\n@1\n01ff\n"
    assert unpack_rows(cfg, text).tolist() == [[-128, 127], [-1, 1]]
    with pytest.raises(ValueError, match="not a defined hex word: 'xxxx'"):
        unpack_rows(cfg, "xxxx\n")


@pytest.mark.parametrize("a,w,extra,match", [
    (np.zeros((2, 3)), np.zeros((3, 2), dtype=int), {}, r"A \(activations\) must be a 2-D "
                                                        r"integer array .* not float64"),
    (np.zeros(3, dtype=int), np.zeros((3, 2), dtype=int), {}, "2-D integer array"),
    (np.zeros((2, 3), dtype=int), np.zeros((4, 2), dtype=int), {}, "A is 2 x 3 but W is 4 x 2"),
    (np.full((2, 3), 128), np.zeros((3, 2), dtype=int), {}, r"A \(activations\) value 128 at "
                                                            r"\[0, 0\] is outside int8"),
    (np.zeros((2, 3), dtype=int), np.full((3, 2), -129), {}, r"W \(weights\) value -129"),
    (np.zeros((0, 3), dtype=int), np.zeros((3, 2), dtype=int), {}, "must not be empty"),
    (np.zeros((2, 3), dtype=np.uint64), np.zeros((3, 2), dtype=bool), {}, "W .* not bool"),
    (np.zeros((2, 3), dtype=int), np.zeros((3, 2), dtype=int), {"scale": 1},
     "need an array with requant = true"),
])
def test_operand_errors(a, w, extra, match):
    with pytest.raises(GemmOperandError, match=match):
        check_gemm(arr(OS), a, w, **extra)


@pytest.mark.parametrize("scale,shift,match", [
    (None, 0, "needs a scale per output column"),
    (np.array([1, 2]), 0, r"scale must be an integer vector of N = 3 values"),
    (np.array([1, 2, 256]), 0, r"scale value 256 at \[2\] is outside the scale range "
                                r"\(allowed 0\.\.255\)"),
    (1, -1, r"shift value -1 .* \(allowed 0\.\.40\)"),
])
def test_requant_operand_errors(scale, shift, match):
    cfg = arr(OS, requant=True, scale_bits=8, acc_bits=32)
    with pytest.raises(GemmOperandError, match=match):
        check_gemm(cfg, np.zeros((2, 3), dtype=int), np.zeros((3, 3), dtype=int), scale, shift)


# -- weights given as codes (formats that are not an integer grid) ---------------------------
def _decoded_py_gemm(cfg, A, W):
    fmt = cfg.weight
    vals = [[fmt.decode(int(c)) for c in row] for row in W] if hasattr(fmt, "decode") and \
        not str(fmt) == "ternary" else W.tolist()
    step = cfg.lanes if cfg.dataflow is OS else cfg.rows * cfg.lanes
    acc = cfg.acc
    out = np.zeros((len(A), len(W[0])), dtype=np.int64)
    for m, n in itertools.product(range(len(A)), range(len(W[0]))):
        s = 0
        for k0 in range(0, len(W), step):
            part = sum(int(A[m][k]) * vals[k][n] for k in range(k0, min(k0 + step, len(W))))
            s = py_fit(s + part, acc.bits, acc.signed, acc.overflow is Overflow.SATURATE)
        out[m, n] = s
    return out


@pytest.mark.parametrize("weight,overflow,acc_bits", [
    ("pot4", Overflow.WRAP, 20), ("apot5", Overflow.SATURATE, 14),
    ("pot8", Overflow.WRAP, 48), ("pot8", Overflow.SATURATE, 40), ("int4", Overflow.WRAP, 12),
])
@pytest.mark.parametrize("dataflow", [OS, WS])
def test_shiftadd_codes_decode_exactly(weight, overflow, acc_bits, dataflow):
    """Codes are decoded before the arithmetic, exact even where values pass int64 (pot8)."""
    from qtpe.hdl.config import ShiftAddConfig
    from qtpe.hdl.formats import PotType
    from qtpe.tb.models.formats import WeightOperand

    fmt = PotType.parse(weight) if weight.startswith(("pot", "apot")) else QType.parse(weight)
    cfg = ArrayConfig(ShiftAddConfig(weight=fmt, lanes=2, acc_bits=acc_bits, overflow=overflow),
                      rows=2, cols=2, dataflow=dataflow)
    rng = np.random.default_rng(4)
    A = random_operands(rng, cfg.activation, (3, 9), 0.5)
    W = WeightOperand(fmt).random(rng, (9, 4), 0.5)
    np.testing.assert_array_equal(gemm(cfg, A, W), _decoded_py_gemm(cfg, A, W))


def test_ternary_values_go_on_the_wires_as_codes_and_sym_as_given():
    from qtpe.hdl.config import LutConfig
    from qtpe.hdl.formats import PlaneType

    cfg = ArrayConfig(LutConfig(weight=PlaneType.parse("ternary"), g=2), rows=1, cols=1)
    W = np.array([[-1], [0], [1], [1]])
    s = schedule(cfg, np.ones((1, 4), dtype=np.int64), W)
    assert s.w.reshape(-1).tolist() == [0, 1, 3, 3]
    assert gemm(cfg, np.array([[1, 2, 3, 4]]), W).tolist() == [[-1 + 3 + 4]]
    sym = ArrayConfig(LutConfig(weight=PlaneType.parse("sym2"), g=2), rows=1, cols=1)
    assert gemm(sym, np.array([[1, 1]]), np.array([[0], [3]])).tolist() == [[-3 + 3]]
    with pytest.raises(GemmOperandError, match=r"W \(weights\) value 4 at \[1, 0\] is outside "
                                               r"sym2 codes \(allowed 0\.\.3\)"):
        check_gemm(sym, np.array([[1, 1]]), np.array([[0], [4]]))
    with pytest.raises(GemmOperandError, match=r"value 2 .* is outside ternary "
                                               r"\(allowed -1\.\.1\)"):
        check_gemm(cfg, np.array([[1, 1]]), np.array([[0], [2]]))
