import json
import subprocess
import sys

import pytest

from qtpe.gen.config import PRESETS
from qtpe.gen.emit import emit_verilog, write_design
from qtpe.gen.outputs import write_file
from qtpe.hdl.config import PEConfig
from qtpe.hdl.kind_mac import MacConfig

_EMIT = "from qtpe.gen.config import preset; from qtpe.gen.emit import emit_verilog; " \
        "import sys; sys.stdout.write(emit_verilog(preset(sys.argv[1])))"


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_verilog_is_deterministic_across_processes(name, tmp_path):
    texts = {
        subprocess.run([sys.executable, "-c", _EMIT, name], capture_output=True, text=True,
                       check=True, cwd=cwd, env={"PYTHONHASHSEED": seed}).stdout
        for cwd, seed in ((tmp_path, "1"), ("/", "2"))
    }
    assert len(texts) == 1
    assert texts.pop() == emit_verilog(PRESETS[name].config)


def test_verilog_holds_no_machine_paths():
    text = emit_verilog(MacConfig(pipeline=True))
    for needle in ("/work", "/home", "/tmp", "/usr", ".py:", "src ="):
        assert needle not in text
    assert "module qtpe_mac(" in text and "dot_r" in text


def test_write_design_outputs(tmp_path):
    cfg = MacConfig(name="pe_top", pipeline=True)
    vpath, jpath = write_design(cfg, tmp_path / "out")
    assert vpath.name == "pe_top.v" and jpath.name == "pe_top.json"
    meta = json.loads(jpath.read_text())
    assert meta["latency"] == 2 and meta["derived"]["acc_bits"] == 24
    ports = {p["name"]: p for p in meta["ports"]}
    assert set(ports) == {"clk", "rst", "in_valid", "clear", "weight", "act", "acc", "out_valid"}
    assert ports["acc"] == {"name": "acc", "direction": "out", "width": 24, "signed": True}
    assert PEConfig.from_dict(meta["config"]) == cfg
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["pe_top.json", "pe_top.v"]


def test_write_file_leaves_nothing_on_failure(tmp_path):
    with pytest.raises(TypeError):
        write_file(tmp_path / "x.v", 123)
    assert list(tmp_path.iterdir()) == []
