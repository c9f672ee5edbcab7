import pytest

from qtpe.hdl.config import PEConfig
from qtpe.hdl.formats import Overflow, QType
from qtpe.hdl.kind_mac import MacConfig


def test_defaults_and_derived_accumulator():
    cfg = MacConfig()
    assert cfg.product_bits == 16
    assert cfg.acc.bits == 16 + 8  # depth 256
    assert cfg.acc.signed and cfg.latency == 1


@pytest.mark.parametrize("w,a,depth,bits,signed", [
    ("int8", "int8", 1, 16, True),
    ("uint8", "uint8", 2, 17, False),
    ("uint4", "int8", 1000, 12 + 10, True),
    ("int1", "uint4", 256, 5 + 8, True),
    ("int16", "int16", 65536, 48, True),
])
def test_accumulator_width(w, a, depth, bits, signed):
    cfg = MacConfig(weight=QType.parse(w), activation=QType.parse(a), depth=depth)
    assert (cfg.acc.bits, cfg.acc.signed) == (bits, signed)


def test_given_acc_bits_wins_and_latency_follows_pipeline():
    cfg = MacConfig(acc_bits=10, overflow=Overflow.SATURATE, pipeline=True)
    assert cfg.acc.bits == 10 and cfg.acc.overflow is Overflow.SATURATE
    assert cfg.latency == 2


def test_derived_width_too_wide(monkeypatch):
    # No integer MAC reaches the 96-bit limit (16x16 bits over 2^24 products need 56), so the
    # check is shown against a lowered limit.
    import qtpe.hdl.config as config
    monkeypatch.setattr(config, "ACC_MAX_BITS", 48)
    with pytest.raises(ValueError, match="derived accumulator width 56 .* exceeds 48"):
        MacConfig(weight=QType(16), activation=QType(16), depth=1 << 24)


@pytest.mark.parametrize("kwargs,match", [
    ({"name": "9bad"}, "Verilog identifier"),
    ({"depth": 0}, "depth must be an integer from 1"),
    ({"acc_bits": 97}, "acc_bits must be an integer from 2 to 96, not 97"),
    ({"pipeline": "yes"}, "pipeline must be true or false, not 'yes'"),
])
def test_bad_values(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        MacConfig(**kwargs)


def test_dict_round_trip():
    cfg = MacConfig(weight=QType(3, False), acc_bits=20, overflow=Overflow.SATURATE)
    assert PEConfig.from_dict(cfg.to_dict()) == cfg
    assert "acc_bits" not in MacConfig().to_dict()


def test_unknown_key():
    with pytest.raises(ValueError, match="unknown key 'groups' for pe = 'mac'"):
        PEConfig.from_dict({"groups": 8})
    with pytest.raises(ValueError, match="pe must be one of 'mac', .*not 'analog'"):
        PEConfig.from_dict({"pe": "analog"})


def test_base_record_is_abstract():
    with pytest.raises(TypeError, match="PEConfig is abstract"):
        PEConfig()


def test_lanes():
    cfg = MacConfig(lanes=8)
    assert cfg.dot_bits == 16 + 3 and cfg.macs_per_cycle == 8.0
    assert cfg.acc.bits == 24  # depth counts products, not cycles
    with pytest.raises(ValueError, match="lanes must be an integer from 1 to 64, not 0"):
        MacConfig(lanes=0)


def test_keys_and_parsers_come_from_the_fields():
    """Every dataclass field is a key (and ``pe``); enum and format fields parse their
    values, others pass through to the checks."""
    import dataclasses

    assert MacConfig.keys() == {"pe"} | {f.name for f in dataclasses.fields(MacConfig)}
    assert {"lanes", "pipeline", "acc_bits", "depth"} <= MacConfig.keys()
    assert MacConfig.parse_key("overflow", "saturate") is Overflow.SATURATE
    assert MacConfig.parse_key("weight", "uint3") == QType(3, False)
    assert MacConfig.parse_key("depth", 7) == 7
    with pytest.raises(ValueError, match="weight must be int<N> or uint<N> with N from 1 to 16 "
                                         "for pe = 'mac', not 'pot4'"):
        MacConfig.parse_key("weight", "pot4")
    with pytest.raises(ValueError, match="weight must be int<N> or uint<N> .* not 'int８'"):
        MacConfig.parse_key("weight", "int８")  # a full-width digit is not a digit here
