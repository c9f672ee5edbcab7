"""The bit-serial kind's config record: derived widths and timing, errors, dict round trip."""

import pytest

from qtpe.hdl.config import PEConfig
from qtpe.hdl.formats import QType, ScaleKind
from qtpe.hdl.kind_bitserial import BitSerialConfig, BitSerialDType


def test_config_derived_values():
    cfg = BitSerialConfig(weight=QType(4), activation=QType(8), lanes=8)
    assert (cfg.acc.bits, cfg.acc.signed) == (4 + 8 + 8, True)  # as the 8-lane MAC, depth 256
    assert cfg.macs_per_cycle == 2.0 and cfg.fixed_latency == 1 and cfg.latency == 5
    assert [cfg.cycles_per_op(k) for k in range(8)] == [4, 1, 2, 3, 4, 4, 4, 4]
    assert [cfg.result_latency(k) for k in (1, 4)] == [2, 5]
    assert cfg.wbits_bits == 3 and cfg.plane_bits == 11 and cfg.code_dot_bits == 15

    grouped = BitSerialConfig(weight=QType(3), lanes=4, group_size=128, scale_bits=6,
                              dtype=BitSerialDType.SPECIAL, special_bits=5)
    assert grouped.group_steps == 32 and grouped.fixed_latency == 2 and grouped.latency == 5
    assert grouped.product_bits == 5 + 8 and grouped.acc.bits == 13 + 8 + 6
    assert grouped.group_sum_bits == 13 + 7

    offset = BitSerialConfig(weight=QType(4, False), activation=QType(8, False), lanes=2,
                             group_size=2, dtype=BitSerialDType.OFFSET, special_bits=4,
                             group_scale=ScaleKind.POT, scale_bits=2)
    assert offset.signed and offset.weight_value_bits == 5 and offset.acc.bits == 13 + 8 + 3
    assert BitSerialConfig(weight=QType(1), lanes=3).macs_per_cycle == 3.0


@pytest.mark.parametrize("kwargs,match", [
    ({"activation": QType(1)}, "activation must be 2 to 16 bits for pe = 'bitserial', not int1"),
    ({"lanes": 65}, "lanes must be an integer from 1 to 64, not 65"),
    ({"special_bits": 0}, "special_bits must be an integer from 1 to 16, not 0"),
    ({"lanes": 3, "group_size": 8}, r"group_size must be a multiple of lanes \(3\), not 8"),
    ({"dtype": BitSerialDType.SPECIAL}, "dtype = 'special' needs groups .* not 0"),
    ({"dtype": BitSerialDType.SPECIAL, "group_size": 4, "weight": QType(4, False)},
     r"dtype = 'special' needs a signed weight grid \(int<N>\), not uint4"),
    ({"dtype": BitSerialDType.OFFSET, "group_size": 4},
     r"dtype = 'offset' needs an unsigned weight grid \(uint<N>\), not int8"),
    ({"dtype": "special"}, "dtype must be a BitSerialDType, not 'special'"),
])
def test_config_rejects(kwargs, match):
    """Bad keys raise when the record is made, or (groups a data type needs, which an array
    supplies) when a PE is checked on its own."""
    with pytest.raises((ValueError, TypeError), match=match):
        BitSerialConfig(**kwargs).check_alone()


def test_config_from_dict_round_trip_and_errors():
    cfg = BitSerialConfig(weight=QType(4, False), lanes=4, group_size=8, acc_bits=30,
                          dtype=BitSerialDType.OFFSET, special_bits=4, group_scale=ScaleKind.POT,
                          scale_bits=3)
    data = cfg.to_dict()
    assert data["pe"] == "bitserial" and data["dtype"] == "offset"
    assert PEConfig.from_dict(data) == cfg
    with pytest.raises(ValueError, match="dtype must be one of 'int', 'special', 'offset', "
                                         "not 'fp4'"):
        PEConfig.from_dict({"pe": "bitserial", "dtype": "fp4"})
    with pytest.raises(ValueError, match="unknown key 'pipeline' for pe = 'bitserial'"):
        PEConfig.from_dict({"pe": "bitserial", "pipeline": True})
