"""The GEMM operand checks: one-line errors naming the first bad value and what is allowed."""

import numpy as np
import pytest
from array_sim import OS
from array_sim import mac_array as arr

from qtpe.hdl.array_config import ArrayConfig
from qtpe.hdl.formats import PlaneType
from qtpe.hdl.kind_lut import LutConfig
from qtpe.tb.models.operands import GemmOperandError, check_gemm


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


def test_code_and_value_operands_name_their_range():
    cfg = ArrayConfig(LutConfig(weight=PlaneType.parse("ternary"), g=2), rows=1, cols=1)
    sym = ArrayConfig(LutConfig(weight=PlaneType.parse("sym2"), g=2), rows=1, cols=1)
    with pytest.raises(GemmOperandError, match=r"W \(weights\) value 4 at \[1, 0\] is outside "
                                               r"sym2 codes \(allowed 0\.\.3\)"):
        check_gemm(sym, np.array([[1, 1]]), np.array([[0], [4]]))
    with pytest.raises(GemmOperandError, match=r"value 2 .* is outside ternary "
                                               r"\(allowed -1\.\.1\)"):
        check_gemm(cfg, np.array([[1, 1]]), np.array([[0], [2]]))
