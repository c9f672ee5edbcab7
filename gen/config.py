"""Config front end: presets, TOML files and ``--set key=value`` overrides -> ``PEConfig``.

Every error is a ``ConfigError`` whose message is one line naming the bad value and what is
allowed.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path

from qtpe.hdl.array_config import ArrayConfig, config_from_dict
from qtpe.hdl.config import PEConfig
from qtpe.hdl.kinds import Preset, all_kinds, get_kind

__all__ = ["ConfigError", "PRESETS", "DEFAULT_PRESET", "preset", "load_config", "parse_set",
           "from_dict"]


class ConfigError(ValueError):
    """A config could not be built; ``str()`` is a one-line message."""


class _Presets(Mapping):
    """Every registered kind's presets (``Kind.presets``), in registration order, read from
    the registry on each use (a kind registered later has its presets too)."""

    def _all(self) -> dict[str, Preset]:
        out: dict[str, Preset] = {}
        for kind in all_kinds():
            for name, entry in kind.presets.items():
                if name in out:
                    raise ValueError(f"preset {name!r} is defined by two kinds")
                out[name] = entry
        return out

    def __getitem__(self, name: str) -> Preset:
        return self._all()[name]

    def __iter__(self):
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())


#: name -> ``Preset`` (config, one-line description, bench flag), from the kinds' modules.
PRESETS: Mapping[str, Preset] = _Presets()
#: The default design: the INT8 x INT8 MAC PE with a 32-bit accumulator.
DEFAULT_PRESET = "mac_w8a8"


def preset(name: str) -> PEConfig:
    try:
        return PRESETS[name].config
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
    overrides: dict | None = None,
) -> PEConfig | ArrayConfig:
    """Start from a preset (default ``DEFAULT_PRESET``) or a TOML file, then apply ``sets``
    (``key=value`` strings) and ``overrides`` (key -> value, as a TOML file would hold it)."""
    if preset_name is not None and config_file is not None:
        raise ConfigError("give either a preset or a config file, not both")
    if config_file is not None:
        data = _read_toml(Path(config_file))
    else:
        data = preset(preset_name or DEFAULT_PRESET).to_dict()
    given = dict(parse_set(item) for item in sets) | dict(overrides or {})
    try:
        if "pe" in given and given["pe"] != data.get("pe"):
            # Another PE kind than the base's: keep only the base keys that kind takes (a MAC
            # preset's lanes and pipeline mean nothing to a LUT PE).
            allowed = get_kind(given["pe"]).config.keys() | ArrayConfig.keys()
            data = {k: v for k, v in data.items() if k in allowed}
        data.update(given)
        return config_from_dict(data)
    except (ValueError, TypeError) as exc:
        raise ConfigError(str(exc)) from None


def from_dict(data: dict) -> PEConfig | ArrayConfig:
    """A config from TOML/JSON-style keys (``ConfigError`` with a one-line message)."""
    try:
        return config_from_dict(dict(data))
    except (ValueError, TypeError) as exc:
        raise ConfigError(str(exc)) from None
