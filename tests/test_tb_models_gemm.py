"""The GEMM golden model against plain-Python references: exact products, wrap, the order of
saturation per dataflow, requantization rounding, weights decoded from codes (exact past int64)."""

import itertools

import numpy as np
import pytest
from array_sim import IS, OS, WS
from array_sim import mac_array as arr

from qtpe.hdl.array_config import ArrayConfig
from qtpe.hdl.formats import Overflow, PlaneType, PotType, QType
from qtpe.hdl.kind_lut import LutConfig
from qtpe.hdl.kind_shiftadd import ShiftAddConfig
from qtpe.tb.models.formats import Operand, random_operands
from qtpe.tb.models.gemm import gemm, requantize


def py_fit(v, bits, signed, saturate):
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    if saturate:
        return min(max(v, lo), hi)
    v &= (1 << bits) - 1
    return v - (1 << bits) if signed and v > hi else v


def py_step(cfg) -> int:
    """Products summed exactly before the accumulator: a beat (OS), a weight tile of R rows
    (WS), an activation tile over all R x C PEs (IS)."""
    return {OS: cfg.lanes, WS: cfg.rows * cfg.lanes, IS: cfg.rows * cfg.cols * cfg.lanes}[
        cfg.dataflow]


def py_gemm(cfg, A, W):
    """Plain Python: each output accumulates chunks of ``step`` products in ascending k."""
    step = py_step(cfg)
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


@pytest.mark.parametrize("cfg", [arr(OS), arr(WS), arr(OS, lanes=3), arr(WS, 3, 1, lanes=2),
                                 arr(IS), arr(IS, 1, 2, lanes=3)],
                         ids=["os", "ws", "os-l3", "ws-l2", "is", "is-l3"])
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
    arr(IS, weight=QType(4), activation=QType(8, False), acc_bits=10),
    arr(IS, 2, 2, lanes=2, acc_bits=12, overflow=Overflow.SATURATE),
], ids=["os-wrap", "ws-wrap", "os-sat-l3", "ws-sat-l2", "os-uu-sat", "is-wrap", "is-sat-l2"])
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


def test_is_saturates_per_activation_tile():
    """IS sums R * C * lanes products exactly: +127*127 twice, then -128*127 twice saturate
    after the first tile of a 1x2 array (tile 2), never on a 2x2 one (tile 4)."""
    A = np.array([[127, 127, -128, -128]])
    W = np.array([[127], [127], [127], [127]])
    top = (1 << 14) - 1
    is_ = arr(IS, 1, 2, acc_bits=15, overflow=Overflow.SATURATE)
    assert is_.tile_k == 2
    assert gemm(is_, A, W)[0, 0] == top - 2 * 128 * 127
    one_tile = arr(IS, 2, 2, acc_bits=15, overflow=Overflow.SATURATE)
    assert one_tile.tile_k == 4
    assert gemm(one_tile, A, W)[0, 0] == 2 * 127 * 127 - 2 * 128 * 127


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


# -- weights given as codes (formats that are not an integer grid) ---------------------------
def _decoded_py_gemm(cfg, A, W):
    fmt = cfg.weight
    vals = [[fmt.decode(int(c)) for c in row] for row in W] if fmt.operand_codes else W.tolist()
    step = py_step(cfg)
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
@pytest.mark.parametrize("dataflow", [OS, WS, IS])
def test_shiftadd_codes_decode_exactly(weight, overflow, acc_bits, dataflow):
    """Codes are decoded before the arithmetic, exact even where values pass int64 (pot8)."""
    fmt = PotType.parse(weight) if weight.startswith(("pot", "apot")) else QType.parse(weight)
    cfg = ArrayConfig(ShiftAddConfig(weight=fmt, lanes=2, acc_bits=acc_bits, overflow=overflow),
                      rows=2, cols=2, dataflow=dataflow)
    rng = np.random.default_rng(4)
    A = random_operands(rng, cfg.activation, (3, 9), 0.5)
    W = Operand(fmt).random(rng, (9, 4), 0.5)
    np.testing.assert_array_equal(gemm(cfg, A, W), _decoded_py_gemm(cfg, A, W))


def test_ternary_and_sym_weights_decode():
    cfg = ArrayConfig(LutConfig(weight=PlaneType.parse("ternary"), g=2), rows=1, cols=1)
    assert gemm(cfg, np.array([[1, 2, 3, 4]]), np.array([[-1], [0], [1], [1]])).tolist() == \
        [[-1 + 3 + 4]]
    sym = ArrayConfig(LutConfig(weight=PlaneType.parse("sym2"), g=2), rows=1, cols=1)
    assert gemm(sym, np.array([[1, 1]]), np.array([[0], [3]])).tolist() == [[-3 + 3]]
