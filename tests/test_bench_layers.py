"""The layer benchmark (``qtpe.bench.layers``) on a tiny layer: every group-capable kind's 2x2
array on Icarus, no synthesis. Its results equal numpy's dequantize-then-matmul, its cycles the
cycle model; a wrong result is refused."""

import dataclasses
import json

import numpy as np
import pytest

from qtpe.bench import layers
from qtpe.hdl.array_config import config_from_dict
from qtpe.hdl.formats import QType
from qtpe.hdl.kinds import all_kinds
from qtpe.tb.models.cycles import expected_cycles
from qtpe.tb.models.schedule import schedule

M, K, N, G = 3, 64, 3, 32
TINY = ["--no-synth", "--sim", "icarus", "--array", "2x2", "--shape", f"{M},{K},{N}",
        "--group", str(G)]


def test_tiny_layer_through_every_group_kind(tmp_path):
    assert layers.main([*TINY, "--out", str(tmp_path), "--doc-out",
                        str(tmp_path / "real-layer.md")]) == 0
    data = json.loads((tmp_path / "layers.json").read_text())
    group_kinds = {k.name for k in all_kinds() if k.has_arrays and k.config.ARRAY_GROUPS}
    assert {(r["pe"], r["dataflow"]) for r in data["rows"]} == {
        (k, d) for k in group_kinds for d in ("os", "ws")}
    floats = layers.float_layer(M, K, N)
    for r in data["rows"]:
        cfg = config_from_dict(r["config"])
        layer = layers.quant_layer(cfg, floats)
        # main refused any result but numpy's; its errors are those of the exact result
        assert r["error"] == pytest.approx(layer.errors(layer.exact()), rel=1e-12)
        assert 0.0 < r["error"]["rel_fro"] < 0.3
        sched = schedule(cfg, layer.a, layer.q.weights, quant=layer.quant_operands)
        assert r["cycles"] == r["expected_cycles"] == expected_cycles(cfg, sched)
        assert r["utilization"] == pytest.approx(M * K * N / (r["cycles"] * cfg.macs_per_cycle))
        assert 0.2 < r["utilization"] < 1.0
    bench = (tmp_path / "LAYERS.md").read_text()
    doc = (tmp_path / "real-layer.md").read_text()
    for r in data["rows"]:
        assert f"| {r['pe']} | {r['dataflow'].upper()} | 2x2 | {r['weight']}" in bench
        assert f"| {r['cycles']:,} | {r['utilization']:.1%}" in doc
    assert "in every row" in bench and "Synthesis" not in bench
    assert "python -m qtpe.bench.layers --no-synth --sim icarus" in doc
    # --render writes the same pages again from layers.json, measuring nothing
    (tmp_path / "LAYERS.md").unlink()
    assert layers.main(["--render", "--out", str(tmp_path), "--doc-out",
                        str(tmp_path / "again.md")]) == 0
    assert (tmp_path / "LAYERS.md").read_text() == bench
    assert (tmp_path / "again.md").read_text() == doc


def test_a_wrong_result_is_refused(tmp_path, monkeypatch):
    """``run_layer`` checks the array's result against the golden model and, separately,
    against numpy's dequantize-then-matmul."""
    kind = layers.group_kinds()[0]
    cfg = layers.layer_config(kind, "os", K, G, shape=(2, 2))
    floats = layers.float_layer(M, K, N)
    real = layers.run_gemm
    for both, needle in ((False, "differ from the golden model"),
                         (True, "differs from numpy's dequantize-then-matmul")):
        def off_by_one(*args, both=both, **kwargs):
            r = real(*args, **kwargs)
            return dataclasses.replace(r, C=r.C + 1, expected=r.expected + int(both))

        monkeypatch.setattr(layers, "run_gemm", off_by_one)
        with pytest.raises(RuntimeError, match=needle):
            layers.run_layer(cfg, floats, "icarus", tmp_path)


def test_each_kind_takes_the_4_bit_member_of_its_default_family():
    for kind in layers.group_kinds():
        default = kind.config().weight
        cfg = layers.layer_config(kind, "os", 1024)
        assert type(cfg.weight) is type(default) and cfg.weight.bits == 4
        assert cfg.zero_points == (isinstance(cfg.weight, QType) and not cfg.weight.signed)
        assert cfg.group_size == 128 and cfg.rows == cfg.cols == 8
    names = [str(f) for f in layers.formats_of_width(4)]
    assert {"int4", "uint4"} <= set(names) and all(f.bits == 4 for f in
                                                    layers.formats_of_width(4))


def test_activations_per_row_to_int8():
    A = np.random.default_rng(3).normal(0, 1, (5, 40))
    A[2] = 0.0
    a, s = layers.quantize_rows(A)
    assert a.dtype == np.int64 and np.abs(a).max() == 127 and s[2] == 1.0
    assert (np.abs(a[[0, 1, 3, 4]]).max(axis=1) == 127).all()
    assert (np.abs(A - s[:, None] * a) <= s[:, None] / 2 + 1e-15).all()
