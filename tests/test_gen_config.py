import pytest

from qtpe.gen.config import DEFAULT_PRESET, PRESETS, ConfigError, load_config, parse_set
from qtpe.hdl.formats import Overflow, QType


def test_default_preset_is_int8_reference():
    cfg = load_config()
    assert cfg == PRESETS[DEFAULT_PRESET].config
    assert (str(cfg.weight), str(cfg.activation), cfg.acc.bits) == ("int8", "int8", 32)


def test_set_overrides_and_types():
    cfg = load_config("mac_w4a8", None, ["weight=uint2", "overflow=saturate", "pipeline=true",
                                         "depth=16", 'name="pe2"'])
    assert cfg.weight == QType(2, False) and cfg.overflow is Overflow.SATURATE
    assert cfg.pipeline is True and cfg.name == "pe2"
    assert cfg.acc.bits == 2 + 8 + 4  # still derived: the preset does not fix acc_bits


def test_toml_file(tmp_path):
    path = tmp_path / "pe.toml"
    path.write_text('name = "my_pe"\npe = "mac"\nweight = "int4"\nactivation = "uint8"\n'
                    'acc_bits = 20\noverflow = "saturate"\n')
    cfg = load_config(None, path, ["acc_bits=18"])
    assert cfg.name == "my_pe" and cfg.acc.bits == 18 and cfg.acc.signed


@pytest.mark.parametrize("sets,match", [
    (["weight=int0"], r"operand width must be 1 to 16 bits, not 0 \(int0\)"),
    (["activation=int17"], r"not 17 \(int17\)"),
    (["groups=8"], "unknown key 'groups'"),
    (["lanes=65"], "lanes must be an integer from 1 to 64, not 65"),
    (["overflow=clip"], "overflow must be one of 'wrap', 'saturate', not 'clip'"),
    (["acc_bits=1"], "acc_bits must be an integer from 2 to 96, not 1"),
    (["depth=-3"], "depth must be an integer from 1"),
    (["weight"], "--set takes key=value, not 'weight'"),
])
def test_bad_sets(sets, match):
    with pytest.raises(ConfigError, match=match):
        load_config(None, None, sets)


def test_bad_sources(tmp_path):
    with pytest.raises(ConfigError, match="unknown preset 'nope'; available: .*mac_w2a8"):
        load_config("nope")
    bad = tmp_path / "bad.toml"
    bad.write_text('weight = "int4\n')
    with pytest.raises(ConfigError, match="is not valid TOML"):
        load_config(None, bad)
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(None, tmp_path / "missing.toml")


def test_parse_set_values():
    assert parse_set("depth=64") == ("depth", 64)
    assert parse_set("weight=int4") == ("weight", "int4")
    assert parse_set("pipeline = false") == ("pipeline", False)


def test_set_pe_switches_kind_and_drops_keys_it_does_not_take():
    """A MAC preset's lanes/pipeline mean nothing to a LUT PE: switching the kind with --set
    keeps only the shared keys (and the array keys) of the base."""
    cfg = load_config("array_os_w8a8_4x4", None, ["pe=lut", "weight=int2", "g=3"])
    assert cfg.pe == "lut" and cfg.rows == 4 and cfg.lanes == 3
    assert cfg.activation == QType(8) and cfg.acc.bits == 32
    with pytest.raises(ConfigError, match="pe must be one of .*not 'tpu'"):
        load_config("mac_w8a8", None, ["pe=tpu"])
    with pytest.raises(ConfigError, match="unknown key 'lanes' for pe = 'lut'"):
        load_config("mac_w8a8", None, ["pe=lut", "weight=int2", "lanes=2"])
