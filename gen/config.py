"""Config front end: presets, TOML files and ``--set key=value`` overrides -> ``PEConfig``.

Every error is a ``ConfigError`` whose message is one line naming the bad value and what is
allowed.
"""

from __future__ import annotations

import re
import sys
import tomllib
from collections.abc import Mapping
from pathlib import Path

from qtpe.hdl.array_config import ArrayConfig, config_from_dict
from qtpe.hdl.config import PEConfig
from qtpe.hdl.formats import show
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
                    raise ValueError(f"preset {show(name)} is defined by two kinds")
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
            f"unknown preset {show(name)}; available: {', '.join(sorted(PRESETS))}"
        ) from None


_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def parse_set(item: str) -> tuple[str, object]:
    """``key=value`` on one line; the value is read as a TOML value, else taken as a bare
    string."""
    key, sep, text = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"--set takes key=value, not {show(item)}")
    if _CONTROL.search(item):
        raise ConfigError(f"--set takes one key=value on one line, not {show(item)} (it holds "
                          f"a newline or another control character)")
    text = text.strip()
    try:
        value = tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        value = text
    except ValueError:  # an integer longer than Python reads (4300 digits)
        raise ConfigError(f"--set {show(key)}: the value is an integer of more than "
                          f"{sys.get_int_max_str_digits()} digits") from None
    if isinstance(value, dict | list):
        raise ConfigError(f"--set {show(key)}: values are numbers, strings or true/false, not "
                          f"{show(text)}")
    return key, value


def _read_toml(path: Path) -> dict:
    where = f"config file {show(str(path))}"
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{where} does not exist") from None
    except IsADirectoryError:
        raise ConfigError(f"{where} is a folder, not a TOML file") from None
    except OSError as exc:
        raise ConfigError(f"{where} cannot be read: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{where} is not UTF-8 text (TOML files are UTF-8): byte "
                          f"0x{raw[exc.start]:02x} at offset {exc.start}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where} is not valid TOML: {str(exc).splitlines()[0]}") from None
    except ValueError:  # an integer longer than Python reads (4300 digits)
        raise ConfigError(f"{where} holds an integer of more than "
                          f"{sys.get_int_max_str_digits()} digits") from None
    for key, value in data.items():
        if isinstance(value, dict | list):
            raise ConfigError(f"{where}: key {show(key)} holds a table or an array; config "
                              f"values are numbers, strings or true/false")
    return data


def load_config(
    preset_name: str | None = None,
    config_file: str | Path | None = None,
    sets: list[str] | tuple[str, ...] = (),
    overrides: dict | None = None,
) -> PEConfig | ArrayConfig:
    """Start from a preset (default ``DEFAULT_PRESET``) or a TOML file, then apply ``sets``
    (``key=value`` strings) and ``overrides`` (key -> value, as a TOML file would hold it)."""
    if preset_name is not None and config_file is not None:
        raise ConfigError("give either a preset or a config file, not both")
    if config_file is not None:
        if str(config_file) == "":
            raise ConfigError("the config file must not be empty")
        data = _read_toml(Path(config_file))
    else:
        data = preset(DEFAULT_PRESET if preset_name is None else preset_name).to_dict()
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
