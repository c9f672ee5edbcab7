"""The shift-add kind's config record: product widths from the decoded range, errors."""

import pytest

from qtpe.hdl.config import PEConfig


@pytest.mark.parametrize("data,match", [
    ({"weight": "int9"}, "weight must be 2 to 8 bits for pe = 'shiftadd', not int9"),
    ({"weight": "uint1"}, "weight must be 2 to 8 bits for pe = 'shiftadd', not uint1"),
    ({"weight": "float4"}, "weight must be int<N>, uint<N>, pot<N>, potz<N> or apot<N>"),
    ({"activation": "int3"}, "activation must be 4 to 16 bits for pe = 'shiftadd', not int3"),
    ({"activation": "pot4"}, "activation must be int<N> or uint<N> with N from 4 to 16"),
    ({"lanes": 3, "group_size": 8}, r"group_size must be a multiple of lanes \(3\), not 8"),
    ({"weight": "pot8"}, "derived accumulator width 144 .* give acc_bits"),
    ({"pipeline": 1}, "pipeline must be true or false, not 1"),
])
def test_config_errors(data, match):
    with pytest.raises((ValueError, TypeError), match=match):
        PEConfig.from_dict({"pe": "shiftadd", **data})


@pytest.mark.parametrize("w,a,bits", [
    ("pot4", "int8", 16),  # -128 * -128 = 2^14 needs 16 signed bits
    ("pot4", "uint8", 16),  # 128 * 255 = 32640
    ("potz2", "int4", 5),  # ternary x int4: 8 needs 5 signed bits
    ("apot5", "int8", 14),  # 48 * -128
    ("int4", "int8", 12), ("uint4", "uint8", 12), ("uint2", "int4", 6),
])
def test_product_bits_from_decoded_range(w, a, bits):
    cfg = PEConfig.from_dict({"pe": "shiftadd", "weight": w, "activation": a, "lanes": 8,
                              "depth": 256})
    assert cfg.product_bits == bits and cfg.dot_bits == bits + 3
    assert cfg.acc.bits == bits + 8 and cfg.macs_per_cycle == 8.0 and cfg.latency == 1
    grouped = PEConfig.from_dict({"pe": "shiftadd", "weight": w, "activation": a,
                                  "group_size": 128, "group_scale": "pot", "scale_bits": 3})
    assert grouped.acc.bits == bits + 8 + 7 and grouped.group_sum_bits == bits + 7
