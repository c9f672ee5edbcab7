"""The L-Mul config record: the paper's offset exponent, derived widths (the offset term makes
the accumulator's LSB ``M`` bits finer than the FP MAC's), what it refuses, keys, presets, no
arrays."""

import pytest

from qtpe.gen import api
from qtpe.gen.emit import emit_verilog
from qtpe.hdl.array_config import ArrayConfig, Dataflow
from qtpe.hdl.config import PEConfig
from qtpe.hdl.formats import FloatType, QType
from qtpe.hdl.kind_fpmac import FpMacConfig
from qtpe.hdl.kind_lmul import PRESETS, LMulConfig, offset_exponent
from qtpe.hdl.kinds import get_kind
from qtpe.hdl.pe_lmul import LMulPE

fp = FloatType.parse


def test_offset_exponent_is_the_papers_l_of_m():
    # l(m) = m for m <= 3, 3 for m = 4, 4 for m > 4 (Luo and Sun, eq. for L-Mul)
    assert [offset_exponent(m) for m in range(1, 9)] == [1, 2, 3, 3, 4, 4, 4, 4]


def test_derived_widths():
    cfg = LMulConfig()  # E4M3 x E4M3
    exact = FpMacConfig()
    assert cfg.man_bits == 3 and cfg.offset_bits == 3
    assert cfg.frac_bits == exact.frac_bits + 3 == 21
    # (8 + 7 + 7 + 1) << (2 * (14 + 3)): the largest L-Mul product, with a sign bit
    assert cfg.significand_max == 23
    assert cfg.product_bits == (23 << 34).bit_length() + 1 == 40
    assert cfg.acc.bits == 40 + 8 and cfg.latency == 1 and cfg.macs_per_cycle == 1
    mixed = LMulConfig(weight=fp("fp4_e2m1"), activation=fp("fp8_e5m2"))
    # M = 2: the E2M1 fraction is aligned to two bits; l(2) = 2
    assert mixed.man_bits == 2 and mixed.offset_bits == 2 and mixed.significand_max == 4 + 2 + 3 + 1
    assert mixed.frac_bits == fp("fp4_e2m1").frac_bits + fp("fp8_e5m2").frac_bits + 2


@pytest.mark.parametrize("kwargs,error,match", [
    ({"activation": QType(8)}, TypeError,
     "activation must be fp8_e4m3, .* for pe = 'lmul', not int8"),
    ({"weight": QType(4)}, TypeError, "weight must be fp8_e4m3, .* for pe = 'lmul', not int4"),
    ({"lanes": 0}, ValueError, "lanes must be an integer from 1 to 64, not 0"),
])
def test_bad_configs_are_refused(kwargs, error, match):
    with pytest.raises(error, match=match):
        LMulConfig(**kwargs)


def test_keys_round_trip_and_presets():
    cfg = PEConfig.from_dict({"pe": "lmul", "weight": "fp6_e3m2", "activation": "fp6_e2m3",
                              "lanes": 2, "output": "bf16"})
    assert isinstance(cfg, LMulConfig) and PEConfig.from_dict(cfg.to_dict()) == cfg
    assert api.config("lmul_e4m3") == PRESETS["lmul_e4m3"].config
    assert PRESETS["lmul_e4m3"].bench
    for name, p in PRESETS.items():
        assert f"module qtpe_{name}(" in emit_verilog(p.config)


def test_the_component_has_the_fp_mac_ports_and_no_multiplier():
    pe = LMulPE(LMulConfig(lanes=2))
    pe._MustUse__silence = True
    assert list(pe.signature.members) == ["in_valid", "clear", "weight", "act", "acc",
                                          "special", "out_valid"]
    text = emit_verilog(LMulConfig(lanes=2))
    assert "product_l1_sig" in text and " * " not in text  # mantissas added, not multiplied
    assert " * " in emit_verilog(FpMacConfig(lanes=2))


def test_no_arrays():
    assert not get_kind("lmul").has_arrays
    with pytest.raises(ValueError, match="pe = 'lmul' has no array cell"):
        ArrayConfig(LMulConfig(), rows=2, cols=2, dataflow=Dataflow.OS)
