"""The LUT kind's config record: keys, derived widths and coefficients, errors."""

import pytest

from qtpe.hdl.config import PEConfig
from qtpe.hdl.formats import PlaneType, QType
from qtpe.hdl.kind_lut import LutConfig


def sym(text):
    return PlaneType.parse(text)


def test_config_keys_and_derived_values():
    cfg = PEConfig.from_dict({"pe": "lut", "weight": "ternary", "g": 3, "symmetric": False,
                              "sharing": 4, "activation": "int6"})
    assert isinstance(cfg, LutConfig) and cfg.weight == PlaneType.parse("ternary")
    assert PEConfig.from_dict(cfg.to_dict()) == cfg
    assert cfg.to_dict()["weight"] == "ternary"
    assert cfg.macs_per_cycle == 12.0 and cfg.latency == 2
    # products: ternary x int6 spans -32..32 (7 bits); 3 of them -96..96 (8 bits)
    assert (cfg.product_bits, cfg.dot_bits) == (7, 8)
    assert cfg.acc.bits == 7 + 8 and cfg.acc.signed
    assert LutConfig(weight=QType(4, False)).weight_range == (-15, 15)
    assert LutConfig(weight=sym("sym4")).weight_range == (-15, 15)
    assert LutConfig(weight=QType(4)).plane_coeffs == (1, 2, 4, -8)
    assert LutConfig(weight=sym("sym3")).plane_coeffs == (2, 4, 8)
    assert LutConfig(weight=sym("sym3")).const_coeff() == -7
    assert LutConfig(weight=QType(2, False)).const_coeff(3) == -3


def test_entry_widths_cover_most_negative():
    cfg = LutConfig(g=4, symmetric=True)  # int8 activations
    assert cfg.entry_range(0) == (-508, 512)  # T_sym(0) = -S reaches 4 * 128
    assert cfg.entry_bits(0) == 11 and cfg.entry_bits(7) == 10
    plain = LutConfig(g=4, symmetric=False)
    assert plain.entry_range(15) == (-512, 508) and plain.entry_bits(15) == 10
    assert plain.entry_bits(1) == 8


@pytest.mark.parametrize("data, match", [
    ({"weight": "int5"}, r"weight must be 1 to 4 bits for pe = 'lut', not int5"),
    ({"weight": "sym5"}, r"sym weight width must be 1 to 4 bits, not 5"),
    ({"weight": "pot4"}, r"weight must be int<N>, uint<N>, sym<N> or ternary .* not 'pot4'"),
    ({"activation": "uint8"}, r"activation must be int<N> \(signed\) with N from 4 to 8"),
    ({"activation": "int9"}, r"activation must be .* not int9"),
    ({"activation": "int3"}, r"activation must be .* not int3"),
    ({"g": 5}, r"g must be an integer from 2 to 4, not 5"),
    ({"g": 1}, r"g must be an integer from 2 to 4, not 1"),
    ({"sharing": 0}, r"sharing must be an integer from 1 to 16, not 0"),
    ({"sharing": 17}, r"sharing must be an integer from 1 to 16, not 17"),
    ({"symmetric": "yes"}, r"symmetric must be true or false, not 'yes'"),
    ({"lanes": 2}, r"unknown key 'lanes' for pe = 'lut'"),
])
def test_config_errors(data, match):
    with pytest.raises((ValueError, TypeError), match=match):
        PEConfig.from_dict({"pe": "lut", **data})
