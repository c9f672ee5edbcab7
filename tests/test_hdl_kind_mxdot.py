"""The MX dot-product config record: derived widths, the scale window, what it refuses (one-line
messages naming the value and what is allowed), keys, presets, no arrays."""

import dataclasses

import pytest

from qtpe.gen import api
from qtpe.gen.emit import emit_verilog
from qtpe.hdl.array_config import ArrayConfig, Dataflow
from qtpe.hdl.config import PEConfig
from qtpe.hdl.formats import ACC_MAX_BITS, FloatType, QType
from qtpe.hdl.kind_mxdot import PRESETS, MxDotConfig
from qtpe.hdl.kinds import get_kind
from qtpe.hdl.pe_mxdot import MxDotPE

E5M2, E2M1 = FloatType.parse("fp8_e5m2"), FloatType.parse("fp4_e2m1")


def test_defaults_and_derived_widths():
    cfg = MxDotConfig()
    assert (cfg.block_size, cfg.scale_min, cfg.scale_max, cfg.lanes) == (32, -16, 15, 1)
    assert cfg.frac_bits == 18 and cfg.acc_frac_bits == 34
    assert cfg.product_bits == 37 and cfg.block_sum_bits == 42 and cfg.window == 31
    assert cfg.blocks == 8 and cfg.acc.bits == 42 + 31 + 3 == 76 and cfg.acc.signed
    assert cfg.block_steps == 32 and cfg.latency == 1
    assert MxDotConfig(pipeline=True).latency == 2
    assert MxDotConfig(depth=33).blocks == 2  # rounded up


def test_presets_are_8_macs_per_cycle_blocks_of_32():
    for name in ("mxdot_fp8_e4m3", "mxdot_fp4_e2m1"):
        cfg = PRESETS[name].config
        assert PRESETS[name].bench and cfg.macs_per_cycle == 8 and cfg.block_size == 32
        assert f"module qtpe_{name}(" in emit_verilog(cfg)
    assert PRESETS["mxdot_fp4_e2m1"].config.acc.bits == 48


@pytest.mark.parametrize("kwargs,error,match", [
    ({"block_size": 0}, ValueError, "block_size must be an integer from 1 to 16777216, not 0"),
    ({"block_size": 6, "lanes": 4}, ValueError,
     r"block_size must be a multiple of lanes \(4\), not 6"),
    ({"depth": "8"}, ValueError, "depth must be an integer from 1 to 16777216, not '8'"),
    ({"scale_min": -255}, ValueError, "scale_min must be an integer from -254 to 254, not -255"),
    ({"scale_max": 1.5}, ValueError, "scale_max must be an integer from -254 to 254, not 1.5"),
    ({"scale_min": 2, "scale_max": 1}, ValueError,
     r"scale_min must be at most scale_max \(1\), not 2"),
    ({"activation": QType(4)}, ValueError,
     "activation must be int8 or a float format for pe = 'mxdot', not int4"),
    ({"weight": QType(8)}, TypeError, "weight must be fp8_e4m3, .* for pe = 'mxdot', not"),
    ({"weight": E5M2, "activation": E5M2}, ValueError,
     r"derived accumulator width 104 \(block sum 70 bits \+ window 31 \+ log2\(blocks=8\)\) "
     r"exceeds 96; narrow scale_min..scale_max, lower depth or give acc_bits"),
])
def test_bad_configs_are_refused(kwargs, error, match):
    with pytest.raises(error, match=match):
        MxDotConfig(**kwargs)


def test_widest_window_needs_acc_bits():
    cfg = MxDotConfig(weight=E2M1, activation=E2M1, scale_min=-254, scale_max=254, acc_bits=96)
    assert cfg.window == 508 and cfg.acc.bits == ACC_MAX_BITS
    one = MxDotConfig(weight=E2M1, activation=E2M1, scale_min=0, scale_max=0)
    assert one.window == 0 and one.acc.bits == one.block_sum_bits + 3


def test_keys_round_trip_and_parse():
    cfg = PEConfig.from_dict({"pe": "mxdot", "weight": "fp4_e2m1", "activation": "int8",
                              "lanes": 8, "block_size": 16, "scale_min": -4, "scale_max": 4})
    assert isinstance(cfg, MxDotConfig) and cfg.activation == QType(8)
    assert PEConfig.from_dict(cfg.to_dict()) == cfg
    assert api.config("mxdot_fp4_e2m1") == PRESETS["mxdot_fp4_e2m1"].config


def test_the_component_has_scale_and_special_ports():
    pe = MxDotPE(MxDotConfig(lanes=4, block_size=8))
    pe._MustUse__silence = True
    assert list(pe.signature.members) == ["in_valid", "clear", "weight", "act", "scale_w",
                                          "scale_a", "acc", "special", "out_valid"]
    assert pe.latency == 1 and pe.lanes == 4


def test_no_arrays():
    assert get_kind("mxdot").cell is None and not get_kind("mxdot").has_arrays
    with pytest.raises(ValueError, match="pe = 'mxdot' has no array cell"):
        dataclasses.replace(MxDotConfig()).check_in_array()
    with pytest.raises(ValueError, match="pe = 'mxdot' has no array cell"):
        ArrayConfig(MxDotConfig(), rows=2, cols=2, dataflow=Dataflow.OS)
