"""ShiftAddPE: no multiplier on weights, its ports (the contract test, ``test_hdl_pe.py``,
checks it against the model)."""

import pytest
from amaranth.back import rtlil

from qtpe.hdl.formats import PotType, ScaleKind
from qtpe.hdl.kind_mac import MacConfig
from qtpe.hdl.kind_shiftadd import KIND, ShiftAddConfig
from qtpe.hdl.pe_shiftadd import ShiftAddPE


def cid(c):
    g = f"-g{c.group_size}{c.group_scale.value}" if c.group else ""
    return f"l{c.lanes}-{c.weight}x{c.activation}-{c.acc}{g}{'-pipe' if c.pipeline else ''}"


def test_no_multiplier_on_weights():
    """The weight product is shifts and adds: no ``$mul`` cell unless an int group scale."""
    for cfg in KIND.examples:
        text = rtlil.convert(ShiftAddPE(cfg), name="top")
        muls = text.count("cell $mul ")
        assert muls == (1 if cfg.group and cfg.group_scale is ScaleKind.INT else 0), cid(cfg)


def test_component_exposes_config_latency_and_ports():
    cfg = ShiftAddConfig(weight=PotType.parse("apot5"), lanes=4, group_size=8, pipeline=True)
    pe = ShiftAddPE(cfg)
    pe._MustUse__silence = True  # inspected, not elaborated
    assert pe.config is cfg and pe.latency == 2 and pe.lanes == 4
    members = pe.signature.members
    assert members["weight"].shape.size == 4 * 5 and members["scale"].shape.width == 8
    assert members["acc"].shape.width == cfg.acc.bits
    plain = ShiftAddPE(ShiftAddConfig())
    plain._MustUse__silence = True
    assert "scale" not in plain.signature.members


@pytest.mark.filterwarnings("error::amaranth.hdl.UnusedElaboratable")
def test_rejects_other_configs():
    with pytest.raises(TypeError, match="ShiftAddPE needs a ShiftAddConfig, not MacConfig"):
        ShiftAddPE(MacConfig())
