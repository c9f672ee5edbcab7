"""ArrayConfig: validation with one-line messages, flat keys, derived timing values."""

import dataclasses
import typing

import pytest

from qtpe.hdl.array_config import ArrayConfig, Dataflow, Readout, config_from_dict
from qtpe.hdl.formats import QType
from qtpe.hdl.kind_lut import LutConfig
from qtpe.hdl.kind_mac import MacConfig


@pytest.mark.parametrize("data,match", [
    ({"rows": 0}, r"rows must be an integer from 1 to 256, not 0"),
    ({"rows": 257}, r"rows must be an integer from 1 to 256, not 257"),
    ({"cols": 2.5}, r"cols must be an integer from 1 to 256, not 2.5"),
    ({"dataflow": "rs"}, r"dataflow must be one of 'os', 'ws', 'is', not 'rs'"),
    ({"rows": 2, "colour": 1}, r"unknown key 'colour' for an array of pe = 'mac'; allowed: .*rows"),
    ({"requant": True}, r"key 'requant' is for arrays only"),
    ({"rows": 2, "pe": "lut", "weight": "uint2"}, r"LUT arrays take int<b>, sym<b> or "
     r"ternary weights \(no zero-point port\), not uint2"),
    ({"rows": 2, "pe": "lut", "sharing": 2}, r"sharing must stay 1, not 2"),
    ({"rows": 2, "pe": "shiftadd", "dataflow": "ws", "group_size": 3},
     r"group_size must be a multiple of the reduction tile of a weight-stationary array "
     r"\(rows x lanes = 2\), not 3"),
    ({"rows": 2, "pe": "fpmac", "group_size": 4},
     r"group_size = 4: arrays of pe = 'fpmac' do not take groups \(arrays of mac, "
     r"bitserial, shiftadd, lut do\); leave it out"),
    ({"rows": 2, "cols": 3, "dataflow": "is", "group_size": 8},
     r"group_size must be a multiple of the activation tile of an input-stationary array "
     r"\(rows x cols x lanes = 6\), not 8"),
    ({"rows": 2, "dataflow": "is", "pe": "bitserial", "dtype": "special", "group_size": 16},
     r"dtype = 'special' needs an output- or weight-stationary array"),
    ({"rows": 2, "pe": "bitserial", "dtype": "special"},
     r"dtype = 'special' needs groups \(the value is per group and column\): give "
     r"group_size > 0, not 0"),
    ({"rows": 2, "pe": "bitserial", "dtype": "offset", "weight": "uint4", "group_size": 16},
     r"dtype = 'offset' takes the array's zero points \(special_bits wide\): give "
     r"zero_points = true"),
    ({"rows": 2, "group_size": 4, "readout": "drain"},
     r"group_size = 4 needs readout = 'bus' .*, not 'drain'"),
    ({"rows": 2, "group_size": 4, "accumulate": "carry_save"},
     r"group_size = 4 needs accumulate = 'plain'"),
    ({"rows": 2, "group_size": 5, "lanes": 2},
     r"group_size must be a multiple of .* \(lanes = 2\), not 5"),
    ({"rows": 2, "pe": "lut", "weight": "int2", "group_size": 6},
     r"group_size must be a multiple of .* \(lanes = 4\), not 6"),
    ({"rows": 2, "group_size": 4, "zero_points": True},
     r"zero_points = true needs uint<N> weights, not int8"),
    ({"rows": 2, "group_size": 4, "group_scale": "pot", "scale_bits": 5},
     r"scale_bits must be an integer from 1 to 4 for group_scale = 'pot', not 5"),
    ({"rows": 2, "scale_bits": 4}, r"scale_bits = 4 has no effect: there are no groups"),
    ({"rows": 2, "zero_points": True}, r"zero_points = True has no effect"),
    ({"rows": 2, "group_size": -1}, r"group_size must be an integer from 0 to 16777216, not -1"),
    ({"rows": 2, "group_size": 4, "zero_points": 1},
     r"zero_points must be true or false, not 1"),
    ({"rows": 2, "requant": True, "requant_scale_bits": 17},
     r"requant_scale_bits must be an integer from 1 to 16"),
    ({"rows": 2, "requant_scale_bits": 8},
     r"requant_scale_bits = 8 has no effect: requant is false; leave it out"),
    ({"rows": 2, "dataflow": "ws", "pipeline": True},
     r"pipeline = true has no effect in a weight-stationary array"),
    ({"rows": 2, "weight": "int17"}, r"int17"),
    ({"rows": 2, "dataflow": "ws", "accumulate": "carry_save"},
     r"accumulate = 'carry_save' has no effect in a weight-stationary array"),
    ({"rows": 2, "accumulate": "carry_save", "overflow": "saturate"},
     r"accumulate = 'carry_save' needs overflow = 'wrap' .* not 'saturate'"),
    ({"rows": 2, "accumulate": "carrysave"}, r"carrysave"),
    ({"rows": 2, "readout": "shadow"}, r"shadow"),
    ({"rows": 2, "dataflow": "ws", "readout": "drain"}, r"readout = 'drain' has no effect"),
    ({"dataflow": "is", "pipeline": True},
     r"pipeline = true has no effect in an input-stationary array"),
    ({"dataflow": "is", "accumulate": "carry_save"},
     r"accumulate = 'carry_save' has no effect in an input-stationary array"),
    ({"dataflow": "is", "readout": "drain"}, r"readout = 'drain' has no effect: an "
     r"input-stationary array reads out of its accumulator ring"),
])
def test_bad_values_one_line(data, match):
    with pytest.raises((ValueError, TypeError), match=match) as info:
        config_from_dict(data)
    assert "\n" not in str(info.value)


def test_flat_keys_round_trip():
    data = {"name": "a", "pe": "mac", "weight": "int4", "activation": "uint8", "acc_bits": 20,
            "overflow": "saturate", "depth": 256, "lanes": 2, "pipeline": True, "rows": 3,
            "cols": 5, "dataflow": "os", "requant": True, "requant_scale_bits": 8,
            "accumulate": "plain"}
    cfg = config_from_dict(data)
    assert isinstance(cfg, ArrayConfig) and isinstance(cfg.pe_config, MacConfig)
    assert cfg.dataflow is Dataflow.OS and cfg.pe_config.lanes == 2
    assert cfg.to_dict() == data and config_from_dict(cfg.to_dict()) == cfg
    assert not isinstance(config_from_dict({"weight": "int4"}), ArrayConfig)


def test_derived_values():
    os8 = ArrayConfig(MacConfig(acc_bits=32), rows=8, cols=8)
    assert os8.name == "qtpe_mac" and os8.macs_per_cycle == 64
    assert os8.min_tile_period == 8 and os8.drain_start == 8 + 1 + 1
    assert os8.latency == 10 and os8.out_type == os8.acc
    drain = dataclasses.replace(os8, readout=Readout.DRAIN)
    assert drain.min_tile_period == 2 * 8 + 8 - 2 and drain.latency == 8 + 8 + 1
    assert drain.to_dict()["readout"] == "drain" and "readout" not in os8.to_dict()
    assert ArrayConfig.from_dict(drain.to_dict()) == drain
    with pytest.raises(ValueError, match="readout = 'drain' has no effect"):
        ArrayConfig(MacConfig(), dataflow=Dataflow.WS, readout=Readout.DRAIN)
    ws = ArrayConfig(MacConfig(lanes=3), rows=4, cols=2, dataflow=Dataflow.WS, requant=True)
    assert ws.min_tile_period == 1 and ws.latency == 4 + 2 + 1 + 1
    assert ws.ws_tile_k == 12 and ws.psum_bits == 16 + 4 and ws.macs_per_cycle == 24
    assert str(ws.out_type) == "int8" and ws.requantizer.max_shift == ws.acc.bits + 16
    is_ = config_from_dict({"dataflow": "is", "rows": 4, "cols": 3, "lanes": 2,
                            "requant": True})
    assert is_.dataflow is Dataflow.IS and is_.min_tile_period == 1
    assert is_.latency == 4 + 3 + 2 + 1 and is_.out_cols == 1 and ws.out_cols == 2
    assert is_.tile_k == is_.is_tile_k == 24 and is_.psum_bits == 16 + 5
    assert is_.macs_per_cycle == 24 and ArrayConfig.from_dict(is_.to_dict()) == is_
    one = ArrayConfig(MacConfig(pipeline=True), rows=1, cols=1)
    assert one.min_tile_period == 1 and one.latency == 1 + 2 + 1


def test_a_kind_can_refuse_a_dataflow():
    """A kind whose cell does not build a dataflow says so (``NO_DATAFLOW``): one line with
    its reason and the dataflows it takes."""

    @dataclasses.dataclass(frozen=True)
    class NoInputStationary(MacConfig):
        NO_DATAFLOW: typing.ClassVar[dict] = {"is": "its cells have their own timing"}

    ArrayConfig(NoInputStationary(), dataflow=Dataflow.WS)
    with pytest.raises(ValueError, match=r"^pe = 'mac' arrays take no dataflow = 'is' \(its "
                       r"cells have their own timing\); use 'os' or 'ws'$"):
        ArrayConfig(NoInputStationary(), dataflow=Dataflow.IS)


def test_pe_config_type_checked():
    with pytest.raises(ValueError, match="LUT arrays take int<b>, sym<b> or ternary weights"):
        ArrayConfig(LutConfig(weight=QType(2, False)))
    with pytest.raises(TypeError, match="pe_config must be a PE config record"):
        ArrayConfig("mac")


def test_group_keys_of_a_pe_stay_with_the_pe():
    """``group_size`` and its keys are the PE's for a single shift-add or bit-serial PE (its
    own dequantization unit) and the array's when rows/cols/dataflow make it an array."""
    from qtpe.hdl.array_config import config_from_dict

    pe = config_from_dict({"pe": "shiftadd", "weight": "pot4", "lanes": 8, "group_size": 32,
                           "group_scale": "pot", "scale_bits": 4})
    assert not isinstance(pe, ArrayConfig) and pe.group_size == 32
    arr = config_from_dict({"pe": "shiftadd", "weight": "pot4", "rows": 2, "group_size": 4})
    assert arr.group_size == 4 and arr.pe_config.group_size == 0
    with pytest.raises(ValueError, match="key 'zero_points' is for arrays only"):
        config_from_dict({"pe": "mac", "zero_points": True})
