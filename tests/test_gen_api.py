"""The Python API: the README's example runs as written; configs from presets, files, keys and
dicts; one-line errors."""

import re
from pathlib import Path

import pytest

from qtpe.gen import api

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_example() -> str:
    text = README.read_text()
    section = text[text.index("### Python API"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_readme_example_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    exec(compile(readme_example(), "README.md", "exec"), {})
    assert sorted(p.name for p in (tmp_path / "build" / "api").iterdir()) == [
        "qtpe_array_os_w8a8_4x4.json", "qtpe_array_os_w8a8_4x4.v"]
    cycles, util, cells, depth = capsys.readouterr().out.split()
    assert int(cycles) > 0 and util.endswith("%") and int(cells) > 0 and int(depth) > 0


def test_configs_from_every_source(tmp_path):
    assert api.config() == api.presets()["mac_w8a8"].config
    cfg = api.config("mac_w4a8", sets=["lanes=2"], overflow="saturate")
    assert cfg.lanes == 2 and cfg.overflow.value == "saturate"
    assert api.from_dict(cfg.to_dict()) == cfg
    toml = tmp_path / "pe.toml"
    toml.write_text('pe = "lut"\nweight = "ternary"\n')
    assert api.config(file=toml, g=3).g == 3
    arr = api.config("mac_w8a8", rows=2, cols=3, dataflow="ws")
    assert (arr.rows, arr.cols, arr.dataflow.value) == (2, 3, "ws")
    assert [k.name for k in api.kinds()][:4] == ["mac", "bitserial", "shiftadd", "lut"]


def test_errors_are_one_line_value_errors():
    with pytest.raises(api.ConfigError, match="lanes must be an integer from 1 to 64, not 0"):
        api.config("mac_w8a8", lanes=0)
    with pytest.raises(api.ConfigError, match="unknown preset 'nope'"):
        api.config("nope")
    with pytest.raises(api.GemmOperandError, match="is a single PE"):
        api.gemm(api.config(), [[1]], [[1]])
