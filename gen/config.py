"""Config front end: presets, TOML files and ``--set key=value`` overrides -> ``PEConfig``.

Every error is a ``ConfigError`` whose message is one line naming the bad value and what is
allowed.
"""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

from qtpe.hdl.array_config import ArrayConfig, Dataflow, config_from_dict
from qtpe.hdl.config import (
    CONFIG_TYPES,
    BitSerialConfig,
    BitSerialDType,
    LutConfig,
    MacConfig,
    PEConfig,
    PEKind,
    ShiftAddConfig,
)
from qtpe.hdl.formats import Overflow, PlaneType, PotType, QType, ScaleKind

__all__ = ["ConfigError", "PRESETS", "DEFAULT_PRESET", "preset", "load_config", "parse_set"]


class ConfigError(ValueError):
    """A config could not be built; ``str()`` is a one-line message."""


_BASE = MacConfig()
_BASE_BITSERIAL = BitSerialConfig(lanes=8)
_BASE_SHIFTADD = ShiftAddConfig(lanes=8)  # 8 MACs/cycle, as mac_w4a8_l8
_BASE_LUT = LutConfig(g=4, symmetric=True, sharing=2)  # 4 x 2 = 8 MACs/cycle, as the *_l8 MACs

# name -> (config, one-line description). Built with dataclasses.replace from one default.
PRESETS: dict[str, tuple[PEConfig, str]] = {
    "mac_w8a8": (
        dataclasses.replace(_BASE, name="qtpe_mac_w8a8", acc_bits=32),
        "INT8 x INT8 MAC, 32-bit wrapping accumulator (the reference PE)",
    ),
    "mac_w4a8": (
        dataclasses.replace(_BASE, name="qtpe_mac_w4a8", weight=QType(4, True)),
        "INT4 weights x INT8 activations, accumulator derived for depth 256",
    ),
    "mac_w2a8": (
        dataclasses.replace(_BASE, name="qtpe_mac_w2a8", weight=QType(2, True)),
        "INT2 weights x INT8 activations, accumulator derived for depth 256",
    ),
    "mac_w4a8_l8": (
        dataclasses.replace(_BASE, name="qtpe_mac_w4a8_l8", weight=QType(4, True), lanes=8),
        "8-lane INT4 x INT8 dot-product MAC (8 MACs/cycle), accumulator for depth 256",
    ),
    "mac_w2a8_l8": (
        dataclasses.replace(_BASE, name="qtpe_mac_w2a8_l8", weight=QType(2, True), lanes=8),
        "8-lane INT2 x INT8 dot-product MAC (8 MACs/cycle), accumulator for depth 256",
    ),
    "bitserial_w4a8_l8": (
        dataclasses.replace(_BASE_BITSERIAL, name="qtpe_bitserial_w4a8_l8", weight=QType(4)),
        "8-lane bit-serial PE, weights int1..int4 at run time x INT8 (8/k MACs/cycle)",
    ),
    "bitserial_w2a8_l8": (
        dataclasses.replace(_BASE_BITSERIAL, name="qtpe_bitserial_w2a8_l8", weight=QType(2)),
        "8-lane bit-serial PE, weights int1..int2 at run time x INT8 (8/k MACs/cycle)",
    ),
    "bitserial_w4a8_l8_bitmod": (
        dataclasses.replace(
            _BASE_BITSERIAL, name="qtpe_bitserial_w4a8_l8_bitmod", weight=QType(4),
            dtype=BitSerialDType.SPECIAL, special_bits=5, group_size=128, scale_bits=8,
        ),
        "8-lane bit-serial PE, BitMoD-style int4 grid + per-group special value, "
        "groups of 128 with 8-bit scales",
    ),
    "mac_w4a8_sat_pipe": (
        dataclasses.replace(
            _BASE, name="qtpe_mac_w4a8_sat_pipe", weight=QType(4, True), acc_bits=16,
            overflow=Overflow.SATURATE, pipeline=True,
        ),
        "INT4 x INT8 MAC, product register (latency 2), 16-bit saturating accumulator",
    ),
    "shiftadd_pot_w4a8": (
        dataclasses.replace(_BASE_SHIFTADD, name="qtpe_shiftadd_pot_w4a8",
                            weight=PotType.parse("pot4")),
        "8-lane shift-add PE, pot4 (DenseShift +-2^0..2^7) x INT8, no multiplier; "
        "counterpart mac_w4a8_l8",
    ),
    "shiftadd_int_w4a8": (
        dataclasses.replace(_BASE_SHIFTADD, name="qtpe_shiftadd_int_w4a8", weight=QType(4)),
        "8-lane shift-add PE, INT4 by shift-and-add of set bits x INT8; counterpart mac_w4a8_l8",
    ),
    "shiftadd_int_w4a8_g128": (
        dataclasses.replace(_BASE_SHIFTADD, name="qtpe_shiftadd_int_w4a8_g128", weight=QType(4),
                            group_size=128, group_scale=ScaleKind.POT, scale_bits=4),
        "shiftadd_int_w4a8 + per-group dequantization: groups of 128, 4-bit power-of-two "
        "scale (MixPE-style)",
    ),
    "lut_w2a8_g4": (
        dataclasses.replace(_BASE_LUT, name="qtpe_lut_w2a8_g4", weight=QType(2)),
        "LUT tile, INT2 weights x INT8, g=4 symmetric table shared by 2 PEs (8 MACs/cycle); "
        "counterpart mac_w2a8_l8",
    ),
    "lut_ternary_a8_g4": (
        dataclasses.replace(_BASE_LUT, name="qtpe_lut_ternary_a8_g4",
                            weight=PlaneType.parse("ternary")),
        "LUT tile, ternary (1.58-bit) weights x INT8, g=4 symmetric table shared by 2 PEs "
        "(8 MACs/cycle); counterpart mac_w2a8_l8",
    ),
    "lut_w4a8_g4": (
        dataclasses.replace(_BASE_LUT, name="qtpe_lut_w4a8_g4", weight=QType(4)),
        "LUT tile, INT4 weights x INT8, g=4 symmetric table shared by 2 PEs (8 MACs/cycle); "
        "counterpart mac_w4a8_l8",
    ),
}
# Systolic arrays (qtpe.hdl.array). The reference design everything is compared against: the
# 8x8 INT8 x INT8 output-stationary MAC array with 32-bit accumulators. Every array preset is
# a base array renamed (the top level is qtpe_<preset>) with its dataflow (and size).
_BASE_ARRAY = ArrayConfig(dataclasses.replace(_BASE, acc_bits=32), rows=8, cols=8)


def _array_preset(base: ArrayConfig, name: str, dataflow: Dataflow = Dataflow.OS,
                  **size) -> ArrayConfig:
    return dataclasses.replace(base, dataflow=dataflow, pe_config=dataclasses.replace(
        base.pe_config, name=f"qtpe_{name}"), **size)


PRESETS.update({
    "array_os_w8a8_8x8": (
        _array_preset(_BASE_ARRAY, "array_os_w8a8_8x8"),
        "8x8 output-stationary array of INT8 x INT8 MACs, 32-bit accumulators "
        "(the reference array)",
    ),
    "array_ws_w8a8_8x8": (
        _array_preset(_BASE_ARRAY, "array_ws_w8a8_8x8", Dataflow.WS),
        "8x8 weight-stationary array of INT8 x INT8 MACs, 32-bit accumulators",
    ),
    "array_os_w8a8_4x4": (
        _array_preset(_BASE_ARRAY, "array_os_w8a8_4x4", rows=4, cols=4),
        "4x4 output-stationary INT8 x INT8 MAC array, 32-bit accumulators (the demo GEMM)",
    ),
})
# The low-bit PE kinds as 8x8 arrays (the bench compares them with the reference array on the
# same GEMM), 32-bit accumulators: bit-serial INT4 weights walked one bit-plane per cycle (a
# beat every 4 cycles, 16 MACs/cycle), shift-add pot4 weights, LUT INT2 weights with g = 4.
_LOW_BIT_ARRAYS = {
    "bitserial_w4a8": (
        BitSerialConfig(weight=QType(4), activation=QType(8), acc_bits=32),
        "bit-serial PEs, INT4 weights (4 cycles per beat) x INT8, 32-bit accumulators "
        "(16 MACs/cycle)"),
    "shiftadd_pot4a8": (
        ShiftAddConfig(weight=PotType.parse("pot4"), acc_bits=32),
        "shift-add PEs, pot4 (DenseShift) weights x INT8, 32-bit accumulators"),
    "lut_w2a8": (
        LutConfig(weight=QType(2), g=4, symmetric=True, acc_bits=32),
        "LUT PEs, INT2 weights x INT8, g=4 symmetric tables (one precompute unit per row), "
        "32-bit accumulators"),
}
for _key, (_pe, _what) in _LOW_BIT_ARRAYS.items():
    for _df in Dataflow:
        _name = f"array_{_df.value}_{_key}_8x8"
        _kind = "output" if _df is Dataflow.OS else "weight"
        PRESETS[_name] = (
            _array_preset(dataclasses.replace(_BASE_ARRAY, pe_config=_pe), _name, _df),
            f"8x8 {_kind}-stationary array of {_what}",
        )
DEFAULT_PRESET = "mac_w8a8"


def preset(name: str) -> PEConfig:
    try:
        return PRESETS[name][0]
    except KeyError:
        raise ConfigError(
            f"unknown preset {name!r}; available: {', '.join(sorted(PRESETS))}"
        ) from None


def parse_set(item: str) -> tuple[str, object]:
    """``key=value``; the value is read as a TOML value, else taken as a bare string."""
    key, sep, text = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"--set takes key=value, not {item!r}")
    text = text.strip()
    try:
        value = tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        value = text
    return key, value


def _read_toml(path: Path) -> dict:
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"config file {str(path)!r} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {str(path)!r} is not valid TOML: {exc}") from None


def load_config(
    preset_name: str | None = None,
    config_file: Path | None = None,
    sets: list[str] | tuple[str, ...] = (),
) -> PEConfig:
    """Start from a preset (default ``DEFAULT_PRESET``) or a TOML file, then apply ``sets``."""
    if preset_name is not None and config_file is not None:
        raise ConfigError("give either a preset or a config file, not both")
    if config_file is not None:
        data = _read_toml(Path(config_file))
    else:
        data = preset(preset_name or DEFAULT_PRESET).to_dict()
    given = dict(parse_set(item) for item in sets)
    try:
        if "pe" in given and given["pe"] != data.get("pe", PEKind.MAC.value):
            # Another PE kind than the base's: keep only the base keys that kind takes (a MAC
            # preset's lanes and pipeline mean nothing to a LUT PE).
            allowed = CONFIG_TYPES[PEKind.parse(given["pe"])].KEYS | ArrayConfig.KEYS
            data = {k: v for k, v in data.items() if k in allowed}
        data.update(given)
        return config_from_dict(data)
    except (ValueError, TypeError) as exc:
        raise ConfigError(str(exc)) from None
