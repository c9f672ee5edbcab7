"""The golden model against an independent plain-Python reference and hand-computed values."""

import numpy as np
import pytest

from qtpe.hdl.formats import Overflow, QType
from qtpe.hdl.kind_mac import MacConfig
from qtpe.tb.models.formats import check_operands, fit, random_operands
from qtpe.tb.models.mac import dot, mac_stream


def reference(cfg, w, a, valid, clear):
    """Python ints, written independently of the model: wrap by modulo, saturate by min/max."""
    acc, out = 0, []
    n = 1 << cfg.acc.bits
    for wi, ai, v, c in zip(w, a, valid, clear, strict=True):
        if v:
            s = (0 if c else acc) + int(wi) * int(ai)
            if cfg.overflow is Overflow.SATURATE:
                s = max(cfg.acc.min, min(cfg.acc.max, s))
            else:
                s %= n
                if cfg.acc.signed and s >= n // 2:
                    s -= n
            acc = s
            out.append(acc)
        elif c:
            acc = 0
    return out


CONFIGS = [
    MacConfig(weight=QType.parse(w), activation=QType.parse(a), acc_bits=acc, overflow=ov)
    for w, a in [("int8", "int8"), ("uint4", "int8"), ("int1", "uint4"), ("uint8", "uint8")]
    for acc in (None, 9)
    for ov in Overflow
]


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: f"{c.weight}x{c.activation}-{c.acc}")
def test_model_matches_reference(cfg):
    rng = np.random.default_rng(1)
    n = 3000
    w = random_operands(rng, cfg.weight, n)
    a = random_operands(rng, cfg.activation, n)
    valid, clear = rng.random(n) < 0.8, rng.random(n) < 0.05
    got = mac_stream(cfg, w, a, valid, clear)
    assert got.dtype == np.int64
    assert got.tolist() == reference(cfg, w, a, valid, clear)


def test_hand_values_wrap_and_saturate():
    w = [127, -128, -128, 5]
    v = [True] * 4
    c = [True, False, False, True]
    wrap = MacConfig(acc_bits=10)
    sat = MacConfig(acc_bits=10, overflow=Overflow.SATURATE)
    # 127*127 = 16129 = 15*1024 + 769 -> 769 - 1024 = -255; (-128)^2 = 16384 = 16*1024 adds 0.
    assert mac_stream(wrap, w, w, v, c).tolist() == [-255, -255, -255, 25]
    assert mac_stream(sat, w, w, v, c).tolist() == [511, 511, 511, 25]
    neg = [-128, -128]
    assert mac_stream(sat, neg, [127, 127], [True, True], [True, False]).tolist() == [-512, -512]


def test_most_negative_product_and_unsigned_saturation():
    cfg = MacConfig(weight=QType(8), activation=QType(8), acc_bits=16)
    assert dot(cfg, [-128], [-128]) == 16384
    u = MacConfig(weight=QType(8, False), activation=QType(8, False), acc_bits=16,
                 overflow=Overflow.SATURATE)
    assert dot(u, [255, 255], [255, 255]) == 65535


def test_fit_vectorised():
    from qtpe.hdl.formats import AccType
    acc = AccType(4, True)
    assert fit(np.arange(-10, 10), acc).tolist() == [
        6, 7, -8, -7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7, -8, -7]


def test_operands_outside_format_rejected():
    with pytest.raises(ValueError, match=r"weight value 8 is outside int4 \(allowed -8..7\)"):
        check_operands([1, 8], QType(4), "weight")
    with pytest.raises(ValueError, match="activation value -1 is outside uint8"):
        mac_stream(MacConfig(activation=QType(8, False)), [1], [-1], [True], [False])


def test_lanes_sum_per_cycle():
    cfg = MacConfig(lanes=3, acc_bits=10)
    w = [[1, 2, 3], [-128, -128, -128]]
    a = [[4, 5, 6], [-128, -128, -128]]
    # 4 + 10 + 18 = 32; then 32 + 3 * 16384 = 49184 = 48 * 1024 + 32 -> 32 (wraps to itself)
    assert mac_stream(cfg, w, a, [True, True], [True, False]).tolist() == [32, 32]
    with pytest.raises(ValueError, match=r"must be \(n, 3\)"):
        mac_stream(cfg, [1, 2], [1, 2], [True, True], [False, False])
