"""``qtpe power`` end to end: a small PE on both simulators' traces, the direction energy moves
on a tiny array, and the refusals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from qtpe.gen import api
from qtpe.gen.cli import main

PE = "mac_w4a8"
ARRAY = ("array_os_w8a8_4x4", {"rows": 2, "cols": 2})


@pytest.fixture(scope="module")
def pe_runs(tmp_path_factory) -> dict:
    """``qtpe power`` of the PE on both simulators, same seed (same operand stream)."""
    out = {}
    for sim in ("icarus", "verilator"):
        folder = tmp_path_factory.mktemp(f"power_{sim}")
        status = main(["power", "--preset", PE, "--sim", sim, "--seed", "7", "-q",
                       "-o", str(folder / "report"), "--build", str(folder / "build")])
        assert status == 0
        out[sim] = json.loads((folder / "report" / "power.json").read_text())
        assert (folder / "report" / "power.md").read_text().startswith(f"# Power of `qtpe_{PE}`")
    return out


def test_pe_power_is_measured_on_every_instance(pe_runs):
    for sim, run in pe_runs.items():
        p = run["power"]
        assert p["instances"] == p["annotated"] == run["asic"]["result"]["cell_count"], sim
        assert p["internal_w"] > 0 and p["switching_w"] > 0 and p["leakage_w"] > 0
        assert p["total_w"] == pytest.approx(p["internal_w"] + p["switching_w"] + p["leakage_w"])
        assert p["macs"] > 0 and 0 < p["activity"] < 1
        # energy per MAC is energy per cycle times cycles over MACs
        assert p["pj_per_mac"] == pytest.approx(p["pj_per_cycle"] * p["cycles"] / p["macs"])
        assert p["source"].startswith({"icarus": "Icarus VCD",
                                       "verilator": "Verilator SAIF"}[sim])


def test_both_simulators_give_the_same_energy(pe_runs):
    """Same seed, same netlist: the traces differ only in how each simulator starts (Icarus
    from x, Verilator from 0) and ends, a few toggles in thousands."""
    ic, vl = pe_runs["icarus"]["power"], pe_runs["verilator"]["power"]
    assert ic["macs"] == vl["macs"] and ic["cycles"] == pytest.approx(vl["cycles"], abs=2)
    assert ic["pj_per_cycle"] == pytest.approx(vl["pj_per_cycle"], rel=0.01)
    assert ic["activity"] == pytest.approx(vl["activity"], rel=0.01)


def _array_power(tmp_path: Path, name: str, **kw):
    preset, keys = ARRAY
    cfg = api.config(preset, **{**keys, **kw.pop("keys", {})})
    return api.power(cfg, simulator="icarus", workdir=tmp_path / name, seed=3, **kw).power


def test_energy_moves_the_right_way(tmp_path: Path):
    """On the same 2x2 array: zero operands cost less than random ones, idle less than busy;
    and INT2 weights less than INT8 ones on the same shape."""
    rng = np.random.default_rng(1)
    A = rng.integers(-128, 128, (8, 32))
    W = rng.integers(-128, 128, (32, 8))
    busy = _array_power(tmp_path, "busy", A=A, W=W)
    zero = _array_power(tmp_path, "zero", A=np.zeros_like(A), W=np.zeros_like(W))
    idle = _array_power(tmp_path, "idle", idle=True)
    assert zero.pj_per_mac < 0.6 * busy.pj_per_mac
    assert idle.pj_per_cycle < 0.5 * busy.pj_per_cycle
    int2 = _array_power(tmp_path, "int2", A=A, W=rng.integers(-2, 2, (32, 8)),
                        keys={"weight": "int2"})
    assert int2.pj_per_mac < 0.8 * busy.pj_per_mac


@pytest.mark.parametrize("args,message", [
    (["--clock-mhz", "0"], "--clock-mhz must be a positive number of MHz, not 0.0"),
    (["--clock-mhz", "nan"], "--clock-mhz must be a positive number of MHz"),
    (["--a", "A.npy"], "give both --a and --w, or neither"),
    (["--a", "A.npy", "--w", "W.npy"], "is a single PE: --a/--w are GEMM operands"),
])
def test_refusals(args, message, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    np.save(tmp_path / "A.npy", np.zeros((2, 2), dtype=np.int64))
    np.save(tmp_path / "W.npy", np.zeros((2, 2), dtype=np.int64))
    assert main(["power", "--preset", PE, *args, "-o", "out"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert not (tmp_path / "out").exists()


def test_idle_with_operands_is_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for n in ("A", "W"):
        np.save(tmp_path / f"{n}.npy", np.zeros((2, 2), dtype=np.int64))
    assert main(["power", "--preset", "array_os_w8a8_4x4", "--idle", "--a", "A.npy",
                 "--w", "W.npy"]) == 2
    assert "--idle runs no operands" in capsys.readouterr().err


def test_default_operands_are_gemm_operands():
    """Random operands are what ``qtpe gemm`` takes: codes of code formats (pot4: 0 .. 15,
    including the negative values' codes; FP8: finite codes only), values of integer
    grids."""
    from qtpe.gen.config import preset
    from qtpe.gen.gemm import check_gemm
    from qtpe.gen.power import default_operands

    drawn = {}
    for name in ("array_os_shiftadd_pot4a8_8x8", "array_os_w8a8_8x8", "array_os_fp8_4x4"):
        cfg = preset(name)
        A, W = drawn[name] = default_operands(cfg, np.random.default_rng(0))
        check_gemm(cfg, A, W, None, None)  # raises on an operand outside the format (or NaN)
        assert A.shape == (2 * cfg.rows, 64 * cfg.lanes)
        assert W.shape == (64 * cfg.lanes, 2 * cfg.cols)
    A, W = drawn["array_os_w8a8_8x8"]
    assert W.min() < 0 and A.min() < 0  # int8: values
    W = default_operands(preset("array_os_shiftadd_pot4a8_8x8"), np.random.default_rng(0))[1]
    assert W.min() == 0 and W.max() == 15
