"""The harness memory words: beats, requantization parameters, result rows."""

import numpy as np
import pytest
from array_sim import OS, WS
from array_sim import mac_array as arr

from qtpe.hdl.formats import QType
from qtpe.tb.models.beats import beat_layout, pack_beats, pack_requant, unpack_rows
from qtpe.tb.models.formats import random_operands
from qtpe.tb.models.schedule import schedule


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
