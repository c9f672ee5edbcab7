"""The group quantizer (``qtpe.tb.models.quant``) and the group-dequantized GEMM golden model
(``qtpe.tb.models.dequant.grouped_gemm``): the model against a plain numpy
dequantize-then-matmul reference and a scalar loop, wrap and saturation; the quantizer's
codes, scales and zero points in range, its error on Gaussian weights, the clipping search
never worse than no search, and the integer result against the float matmul."""

import numpy as np
import pytest

from qtpe.hdl.formats import AccType, GroupScale, Overflow, PotType, QType, ScaleKind
from qtpe.tb.models.dequant import grouped_gemm
from qtpe.tb.models.formats import Operand, fit, value_table
from qtpe.tb.models.quant import quantize, scale_values

CASES = [  # (weight format, zero points, scale kind, scale bits, group size)
    (QType(4), False, ScaleKind.INT, 8, 32),
    (QType(4, False), True, ScaleKind.INT, 8, 128),
    (QType(3), False, ScaleKind.POT, 4, 32),
    (QType(3, False), True, ScaleKind.POT, 3, 128),
    (QType(2), False, ScaleKind.INT, 6, 32),
    (QType(2, False), True, ScaleKind.INT, 8, 32),
]


def reference(A, q, acc_bits=64):
    """Dequantize, then one exact matmul (Python integers), then wrap once."""
    W = q.integer_weights()  # scale * (w - z), object
    exact = A.astype(object) @ W
    return fit(exact, AccType(acc_bits, True, Overflow.WRAP))


@pytest.mark.parametrize("fmt,zp,kind,bits,size", CASES, ids=lambda v: str(v))
def test_random_grouped_gemms_equal_dequantize_then_matmul(fmt, zp, kind, bits, size):
    """Odd M, K, N (a last partial group), W2/W3/W4, int and pot scales, with and without
    zero points; the accumulator wide enough (no wrap) and narrow (wrapping)."""
    rng = np.random.default_rng(size + bits)
    M, K, N = 5, 3 * size + 7, 9
    A = rng.integers(-128, 128, (M, K))
    q = quantize(rng.normal(0, 1, (K, N)), fmt, GroupScale(size, kind, bits), zp)
    assert q.scales.shape == (4, N) and (q.zeros is not None) == zp
    for acc_bits in (64, 18):
        got = grouped_gemm(A, q.values(), q.group, q.scales, q.zeros,
                           AccType(acc_bits, True, Overflow.WRAP))
        assert (got == reference(A, q, acc_bits)).all(), acc_bits


def test_saturation_is_per_group_in_order():
    """A scalar loop written out: the accumulator saturates after each group and can come
    back from the limit (it differs from clipping the final sum)."""
    group = GroupScale(2, ScaleKind.INT, 4)
    A = np.array([[10, 10, 10, 10, 1, 1]])
    W = np.array([[7], [7], [-7], [-7], [1], [1]])
    scales = np.array([[15], [15], [1]])
    acc = AccType(10, True, Overflow.SATURATE)  # -512 .. 511
    got = grouped_gemm(A, W, group, scales, None, acc)
    total = 0
    for g in range(3):
        part = sum(int(A[0, k]) * int(W[k, 0]) for k in range(2 * g, 2 * g + 2))
        total = min(max(total + part * int(scales[g, 0]), -512), 511)
    assert got[0, 0] == total == -512 + 2  # 2100 -> 511, -2100 -> -512, then +2
    assert got[0, 0] != int(np.clip((A @ (W * np.repeat(scales, 2, axis=0)))[0, 0], -512, 511))


def test_pot_scales_shift_and_zero_points_subtract():
    group = GroupScale(2, ScaleKind.POT, 3)
    A = np.array([[1, 2, 3]])
    W = np.array([[5], [6], [7]])
    got = grouped_gemm(A, W, group, np.array([[3], [1]]), np.array([[4], [2]]),
                       AccType(32, True, Overflow.WRAP))
    assert got[0, 0] == ((5 - 4) * 1 + (6 - 4) * 2) * 8 + (7 - 2) * 3 * 2


def test_model_refuses_bad_scales_and_shapes():
    group = GroupScale(4, ScaleKind.INT, 4)
    A, W = np.ones((2, 8), dtype=np.int64), np.ones((8, 3), dtype=np.int64)
    acc = AccType(32, True, Overflow.WRAP)
    with pytest.raises(ValueError, match=r"scale 16 is outside 0..15 \(4-bit int\)"):
        grouped_gemm(A, W, group, np.full((2, 3), 16), None, acc)
    with pytest.raises(ValueError, match=r"scales and zeros must be 2 x 3 \(groups x N\), "
                                         r"not 3 x 3 and 2 x 3"):
        grouped_gemm(A, W, group, np.ones((3, 3)), None, acc)


@pytest.mark.parametrize("fmt,zp,kind,bits,size", CASES, ids=lambda v: str(v))
def test_quantizer_ranges_and_error(fmt, zp, kind, bits, size):
    """Codes on the format's grid, scales and zero points in range, the dequantized
    matrix close to the Gaussian weights (relative RMS error bounded by the format's
    precision), and the clipping search no worse than rounding at the full range."""
    rng = np.random.default_rng(7)
    W = rng.normal(0, 0.02, (256, 24))
    group = GroupScale(size, kind, bits)
    q = quantize(W, fmt, group, zp)
    assert Operand(fmt).check(q.weights).shape == W.shape
    assert q.scales.min() >= (1 if kind is ScaleKind.INT else 0)
    assert q.scales.max() <= group.max_scale
    if zp:
        assert 0 <= q.zeros.min() and q.zeros.max() <= fmt.max
    err = np.sqrt(((q.dequantized() - W) ** 2).mean()) / W.std()
    plain = quantize(W, fmt, group, zp, ratios=(1.0,))
    plain_err = np.sqrt(((plain.dequantized() - W) ** 2).mean()) / W.std()
    assert err <= plain_err + 1e-12
    # 2^-bits of the range, roughly: 4-bit ~9%, 3-bit ~20% (pot scales coarser), 2-bit ~40%
    assert err < {4: 0.12, 3: 0.3, 2: 0.45}[fmt.bits], err


def test_pot_weight_formats_quantize_to_their_codes():
    """A format whose operands are codes (pot4: +-2^0..2^6 and 0): the quantizer searches its
    value grid and returns codes; their values are powers of two."""
    fmt = PotType.parse("potz4")
    rng = np.random.default_rng(3)
    q = quantize(rng.normal(0, 1, (64, 4)), fmt, GroupScale(32, ScaleKind.INT, 8))
    values = value_table(fmt)[q.weights]
    assert (q.values() == values).all()
    nz = np.abs(values[values != 0])
    assert ((nz & (nz - 1)) == 0).all() and len(np.unique(values)) > 4


def test_integer_result_against_the_float_matmul():
    """A layer: Gaussian weights quantized to W4 g128, random int8 activations: ``unit``
    times the integer GEMM is the float matmul within the weights' quantization error."""
    rng = np.random.default_rng(11)
    Wf = rng.normal(0, 0.02, (512, 32))
    A = rng.integers(-128, 128, (7, 512))
    q = quantize(Wf, QType(4), GroupScale(128, ScaleKind.INT, 8))
    C = grouped_gemm(A, q.values(), q.group, q.scales, q.zeros,
                     AccType(40, True, Overflow.WRAP))
    ref = A @ Wf
    out_err = np.linalg.norm(q.unit * C.astype(np.float64) - ref) / np.linalg.norm(ref)
    w_err = np.linalg.norm(q.dequantized() - Wf) / np.linalg.norm(Wf)
    # random activations carry the weights' relative error to the outputs
    assert 0.5 * w_err < out_err < 1.5 * w_err and w_err < 0.12
    assert (C == reference(A, q, 40)).all()
    assert scale_values(q.scales, q.group).dtype == np.int64


@pytest.mark.parametrize("bits,special_bits", [(3, 5), (4, 6), (2, 4)])
def test_special_values_lower_the_error(bits, special_bits):
    """The BitMoD special type: Gaussian weights with outliers quantized to int<b> whose
    code -2^(b-1) stands for a special value per group and column. Codes, scales and special
    values are in range; the error is below the plain int<b> grid's (the same search,
    -2^(b-1) a fixed value); ``values()`` puts the special values in;
    the golden model of the special type (``special_weights``, through ``gemm``) on an
    array config equals A @ the dequantized integers."""
    from qtpe.hdl.array_config import config_from_dict
    from qtpe.tb.models.gemm import gemm
    from qtpe.tb.models.operands import QuantOperands

    rng = np.random.default_rng(bits)
    Wf = rng.normal(0, 0.02, (256, 24))
    Wf[rng.random(Wf.shape) < 0.01] *= 6  # outliers, as in LLM weights
    group = GroupScale(64, ScaleKind.INT, 8)
    fmt = QType(bits)
    q = quantize(Wf, fmt, group, special_bits=special_bits)
    plain = quantize(Wf, fmt, group)
    lo = -(1 << (bits - 1))
    assert q.specials.shape == (4, 24) and q.specials.dtype == np.int64
    assert -(1 << (special_bits - 1)) <= q.specials.min() <= q.specials.max() < \
        1 << (special_bits - 1)
    assert q.weights.min() >= lo and q.weights.max() <= -lo - 1
    err = np.linalg.norm(q.dequantized() - Wf)
    assert err < 0.95 * np.linalg.norm(plain.dequantized() - Wf)
    v = q.values()
    per_k = np.arange(256) // 64
    np.testing.assert_array_equal(v, np.where(q.weights == lo, q.specials[per_k], q.weights))
    assert (q.weights == lo).any()
    cfg = config_from_dict({"pe": "bitserial", "weight": f"int{bits}", "dtype": "special",
                            "special_bits": special_bits, "group_size": 64, "rows": 4,
                            "cols": 4, "acc_bits": 48})
    A = rng.integers(-128, 128, (5, 256))
    C = gemm(cfg, A, q.weights, quant=QuantOperands(q.scales, None, None, q.specials))
    np.testing.assert_array_equal(C, reference(A, q, 48))


def test_special_values_refused_where_they_do_not_fit():
    with pytest.raises(ValueError, match=r"special values need int<N> weights .*, not uint4"):
        quantize(np.zeros((8, 2)), QType(4, False), GroupScale(8, ScaleKind.INT, 4),
                 special_bits=4)
