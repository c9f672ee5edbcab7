"""The bit-serial golden model against the MAC golden model and a plain-Python reference."""

import itertools

import numpy as np
import pytest

from qtpe.hdl.formats import Overflow, QType, ScaleKind
from qtpe.hdl.kind_bitserial import BitSerialConfig, BitSerialDType
from qtpe.hdl.kind_mac import MacConfig
from qtpe.tb.models.bitserial import (
    BitSerialModel,
    bitserial_stream,
    decode,
    plane_dot,
    switching_precisions,
)
from qtpe.tb.models.formats import random_operands
from qtpe.tb.models.mac import mac_stream


def mac_for(cfg: BitSerialConfig, k: int) -> MacConfig:
    """The MAC PE with ``int<k>``/``uint<k>`` weights and the bit-serial PE's accumulator."""
    return MacConfig(weight=QType(k, cfg.weight.signed), activation=cfg.activation,
                     lanes=cfg.lanes, acc_bits=cfg.acc.bits, overflow=cfg.overflow)


def corners(q: QType) -> list[int]:
    return sorted({q.min, q.max, 0, max(q.min, -1), min(q.max, 1), q.min + 1, q.max - 1})


PLAIN = [
    BitSerialConfig(weight=QType(w, s), activation=QType(a, sa), lanes=lanes, acc_bits=acc,
                    overflow=ov)
    for (w, s, a, sa, lanes, acc, ov) in [
        (1, True, 2, True, 1, None, Overflow.WRAP),
        (1, False, 4, False, 3, 5, Overflow.SATURATE),
        (4, True, 8, True, 8, None, Overflow.WRAP),
        (4, False, 8, True, 5, 10, Overflow.SATURATE),
        (8, True, 8, False, 4, 12, Overflow.WRAP),
        (8, False, 3, False, 2, None, Overflow.WRAP),
        (16, True, 16, True, 2, 48, Overflow.WRAP),
    ]
]


@pytest.mark.parametrize("cfg", PLAIN, ids=lambda c: f"l{c.lanes}-{c.weight}x{c.activation}-"
                         f"{c.acc}")
def test_equals_mac_model_at_every_precision(cfg):
    """Each k = 1..max: random and corner operands (most-negative on every lane) agree."""
    rng = np.random.default_rng(3)
    for k in range(1, cfg.weight.bits + 1):
        mac = mac_for(cfg, k)
        cw, ca = corners(mac.weight), corners(cfg.activation)
        pairs = np.array(list(itertools.product(cw, ca)))
        n_rand = 150
        w = np.concatenate([np.repeat(pairs[:, :1], cfg.lanes, axis=1),
                            random_operands(rng, mac.weight, (n_rand, cfg.lanes))])
        a = np.concatenate([np.repeat(pairs[:, 1:], cfg.lanes, axis=1),
                            random_operands(rng, cfg.activation, (n_rand, cfg.lanes))])
        n = len(w)
        clear = rng.random(n) < 0.1
        want = mac_stream(mac, w, a, np.ones(n, dtype=bool), clear)
        # The PE reads the low k bits: garbage above them must not matter.
        garbage = rng.integers(0, 1 << cfg.weight.bits, (n, cfg.lanes)) & ~((1 << k) - 1)
        fields = (w & ((1 << k) - 1)) | garbage
        got = bitserial_stream(cfg, fields, a, np.full(n, k), clear)
        assert got.tolist() == want.tolist(), f"k={k}"


@pytest.mark.parametrize("cfg", PLAIN[2:5], ids=lambda c: f"{c.weight}x{c.activation}")
def test_precision_switch_on_every_op_equals_mac(cfg):
    """A different precision on every op: the MAC at the maximum width sees the same values."""
    rng = np.random.default_rng(5)
    n = 400
    ks = switching_precisions(rng, n, cfg.weight.bits)
    assert (ks[1:] != ks[:-1]).all() and set(ks.tolist()) == set(range(1, cfg.weight.bits + 1))
    w = np.stack([random_operands(rng, QType(int(k), cfg.weight.signed), cfg.lanes)
                  for k in ks])
    a = random_operands(rng, cfg.activation, (n, cfg.lanes))
    clear = rng.random(n) < 0.05
    want = mac_stream(mac_for(cfg, cfg.weight.bits), w, a, np.ones(n, dtype=bool), clear)
    got = bitserial_stream(cfg, w, a, ks, clear)
    assert got.tolist() == want.tolist()


def test_out_of_range_wbits_runs_at_maximum():
    cfg = BitSerialConfig(weight=QType(4), lanes=2)  # wbits port 3 bits: 0 and 5..7 -> 4
    w, a = [[-8, 7]], [[5, -3]]
    for wbits in (0, 4, 5, 7):
        assert bitserial_stream(cfg, w, a, [wbits]).tolist() == [-8 * 5 + 7 * -3]
    assert bitserial_stream(cfg, w, a, [3]).tolist() == [0 * 5 + -1 * -3]  # low 3 bits
    assert [cfg.effective_wbits(x) for x in range(8)] == [4, 1, 2, 3, 4, 4, 4, 4]


@pytest.mark.parametrize("signed", [True, False])
def test_plane_walk_exhaustive_small(signed):
    """Horner over bit-planes equals the decoded dot product for every 1..4-bit code pair."""
    cfg = BitSerialConfig(weight=QType(4, signed), activation=QType(3), lanes=2)
    for k in range(1, 5):
        for c0, c1 in itertools.product(range(1 << k), repeat=2):
            for a in ([-4, 3], [3, -1]):
                vals = decode(cfg, [c0, c1], k)
                assert plane_dot(cfg, [c0, c1], a, k) == int(vals @ np.array(a))


def reference(cfg, w, a, ks, clear, scale, special, zero):
    """Plain-Python per-group dequantized accumulation (independent of the model's code)."""
    lanes, acc = cfg.lanes, cfg.acc
    outs, total, group, count = [], 0, [], 0

    def value(field, k, g):
        code = field & ((1 << k) - 1)
        if cfg.dtype is BitSerialDType.OFFSET:
            return code - g["zero"]
        v = code - (1 << k) if cfg.weight.signed and code >> (k - 1) else code
        if cfg.dtype is BitSerialDType.SPECIAL and code == 1 << (k - 1):
            return g["special"]
        return v

    def fitted(x):
        if acc.overflow is Overflow.SATURATE:
            return min(max(x, acc.min), acc.max)
        x &= (1 << acc.bits) - 1
        return x - (1 << acc.bits) if acc.signed and x >> (acc.bits - 1) else x

    for i in range(len(ks)):
        if clear[i] or count == 0:
            count = 0
            group = {"sum": 0, "scale": int(scale[i]), "special": int(special[i]),
                     "zero": int(zero[i]), "clear": bool(clear[i])}
        k = int(ks[i]) if 1 <= ks[i] <= cfg.weight.bits else cfg.weight.bits
        group["sum"] += sum(value(int(w[i][j]), k, group) * int(a[i][j]) for j in range(lanes))
        count += 1
        if count == cfg.group_steps:
            s = group["scale"] if cfg.group_scale is ScaleKind.INT else 1 << group["scale"]
            total = fitted((0 if group["clear"] else total) + group["sum"] * s)
            outs.append(total)
            count = 0
    return outs


GROUPED = [
    BitSerialConfig(weight=QType(4), activation=QType(8), lanes=4, group_size=16),
    BitSerialConfig(weight=QType(4), activation=QType(8, False), lanes=3, group_size=3,
                    group_scale=ScaleKind.POT, scale_bits=3, acc_bits=16,
                    overflow=Overflow.SATURATE),
    BitSerialConfig(weight=QType(2, False), activation=QType(4), lanes=2, group_size=4,
                    acc_bits=8),
    BitSerialConfig(weight=QType(3), activation=QType(8), lanes=4, group_size=8,
                    dtype=BitSerialDType.SPECIAL, special_bits=5, scale_bits=4),
    BitSerialConfig(weight=QType(1), activation=QType(4, False), lanes=1, group_size=2,
                    dtype=BitSerialDType.SPECIAL, special_bits=3, acc_bits=9,
                    overflow=Overflow.SATURATE),
    BitSerialConfig(weight=QType(4, False), activation=QType(8), lanes=8, group_size=16,
                    dtype=BitSerialDType.OFFSET, special_bits=4),
    BitSerialConfig(weight=QType(8, False), activation=QType(4, False), lanes=1, group_size=3,
                    dtype=BitSerialDType.OFFSET, special_bits=8, acc_bits=12),
]


@pytest.mark.parametrize("cfg", GROUPED, ids=lambda c: f"l{c.lanes}-{c.weight}x{c.activation}-"
                         f"{c.dtype.value}-g{c.group_size}{c.group_scale.value}-{c.acc}")
def test_groups_and_data_types_equal_reference(cfg):
    rng = np.random.default_rng(9)
    n = 300
    W = cfg.weight.bits
    ks = rng.integers(0, 1 << cfg.wbits_bits, n)
    w = rng.integers(0, 1 << W, (n, cfg.lanes))
    k_eff = np.array([cfg.effective_wbits(int(k)) for k in ks])
    sign_code = 1 << (k_eff[:, None] - 1)
    w = np.where(rng.random((n, cfg.lanes)) < 0.25, sign_code, w)  # special / most negative
    a = random_operands(rng, cfg.activation, (n, cfg.lanes))
    clear = rng.random(n) < 0.04
    scale = rng.integers(0, 1 << cfg.scale_bits, n)
    special = rng.integers(-(1 << (cfg.special_bits - 1)), 1 << (cfg.special_bits - 1), n)
    zero = rng.integers(0, 1 << cfg.special_bits, n)
    got = bitserial_stream(cfg, w, a, ks, clear, scale, special, zero)
    want = reference(cfg, w, a, ks, clear, scale, special, zero)
    assert len(want) > n // cfg.group_steps // 2
    assert got.tolist() == want


def test_group_of_plain_ints_is_the_scaled_mac_dot():
    """With scale 1 and no overflow, a group's result is the MAC PE's dot product."""
    cfg = BitSerialConfig(weight=QType(4), activation=QType(8), lanes=4, group_size=8)
    rng = np.random.default_rng(1)
    for k in range(1, 5):
        w = random_operands(rng, QType(k), (2, 4))
        a = random_operands(rng, cfg.activation, (2, 4))
        mac = mac_for(cfg, k)
        want = mac_stream(mac, w, a, [True, True], [True, False])[-1]
        assert bitserial_stream(cfg, w, a, [k, k], [True, False], [1, 9])[-1] == want


def test_group_values_are_sampled_on_the_first_op_only():
    cfg = BitSerialConfig(weight=QType(3), activation=QType(4), lanes=1, group_size=2,
                          dtype=BitSerialDType.SPECIAL, special_bits=4, scale_bits=2)
    m = BitSerialModel(cfg)
    assert m.op([4], [2], 3, scale=3, special=-7) is None  # code 100: the special value -7
    assert m.op([4], [1], 3, scale=0, special=5) == 3 * (-7 * 2 + -7 * 1)


@pytest.mark.parametrize("call,match", [
    (lambda m: m.op([0, 0], [8, 0], 4), r"activation value 8 is outside int4 \(allowed -8..7\)"),
    (lambda m: m.op([16, 0], [0, 0], 4), "weight field 16 does not fit 4 bits"),
    (lambda m: m.op([0, 0], [0, 0], 8), r"wbits 8 is outside 0..7"),
    (lambda m: m.op([0, 0], [0, 0], 4, scale=4), r"scale 4 is outside 0..3"),
    (lambda m: m.op([0, 0], [0, 0], 4, special=8), r"special value 8 is outside -8..7"),
])
def test_model_rejects_bad_inputs(call, match):
    cfg = BitSerialConfig(weight=QType(4), activation=QType(4), lanes=2, group_size=2,
                          dtype=BitSerialDType.SPECIAL, special_bits=4, scale_bits=2)
    with pytest.raises(ValueError, match=match):
        call(BitSerialModel(cfg))


def test_model_rejects_bad_zero_point():
    cfg = BitSerialConfig(weight=QType(4, False), lanes=1, group_size=1,
                          dtype=BitSerialDType.OFFSET, special_bits=3)
    with pytest.raises(ValueError, match=r"zero point 8 is outside 0..7"):
        BitSerialModel(cfg).op([0], [0], 4, zero=8)
