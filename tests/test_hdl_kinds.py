"""The kind registry, and that adding a kind is local: a kind defined in one file of its own
(``tests/toy_kind.py``) goes through configs, presets, Verilog emission, the PE contract and
both array dataflows, with no other file changed."""

import numpy as np
import pytest
from array_sim import random_gemm, run_array
from pe_sim import run_contract

from qtpe.gen import api
from qtpe.gen.emit import emit_verilog
from qtpe.hdl.config import PEConfig
from qtpe.hdl.kinds import KIND_MODULES, Kind, all_kinds, get_kind, kind_of, register, unregister
from qtpe.tb.models.gemm import gemm
from qtpe.tb.models.schedule import schedule


def test_builtin_kinds_register_once_in_order():
    assert [k.name for k in all_kinds()] == ["mac", "bitserial", "shiftadd", "lut", "fpmac",
                                            "mxdot", "lmul"]
    assert len(KIND_MODULES) == 7
    assert get_kind("lut").config.KIND == "lut"
    with pytest.raises(ValueError, match="pe must be one of 'mac', 'bitserial', 'shiftadd', "
                                         "'lut', 'fpmac', 'mxdot', 'lmul', "
                                         "not 'tpu'"):
        get_kind("tpu")
    with pytest.raises(ValueError, match="a PE kind named 'mac' is already registered"):
        mac = get_kind("mac")
        register(Kind(name="mac", config=mac.config, summary="again", component="x:y",
                      cell=None, model="x:y", testbench="x"))


def test_kind_config_mismatch_is_refused():
    with pytest.raises(ValueError, match="its config MacConfig has KIND = 'mac'"):
        Kind(name="other", config=get_kind("mac").config, summary="", component="x:y",
             cell=None, model="x:y", testbench="x")


@pytest.fixture
def toy():
    import toy_kind

    register(toy_kind.KIND)  # a second import of the module does not register it again
    yield toy_kind
    unregister("addsub")


def test_a_kind_in_one_file_goes_through_everything(toy):
    # The registry, configs from keys, presets.
    assert kind_of(toy.AddSubConfig()).name == "addsub"
    assert "addsub" in [k.name for k in api.kinds()]
    cfg = PEConfig.from_dict({"pe": "addsub", "lanes": 2, "activation": "int6"})
    assert isinstance(cfg, toy.AddSubConfig) and cfg.lanes == 2
    assert PEConfig.from_dict(cfg.to_dict()) == cfg
    assert api.config("toy_addsub_l4").lanes == 4
    assert "toy_array_ws_addsub_4x4" in api.presets()
    with pytest.raises(ValueError, match="weight must be sym<N> or ternary with N from 1 to 1"):
        api.config(pe="addsub", weight="int2")

    # Verilog of the PE and of an array.
    assert "module toy_addsub_l4(" in emit_verilog(api.config("toy_addsub_l4"))
    assert "module qtpe_toy_array_ws_addsub_4x4(" in emit_verilog(
        api.config("toy_array_ws_addsub_4x4"))

    # The PE contract against its model.
    rng = np.random.default_rng(3)
    for pe_cfg in toy.KIND.examples:
        ports = toy.AddSubModel.random_inputs(pe_cfg, rng, 60)
        valid, clear = rng.random(60) < 0.8, rng.random(60) < 0.1
        model = toy.AddSubModel(pe_cfg)
        want = [(o,) for o in (model.step(bool(v), bool(c), **{k: x[i] for k, x in ports.items()})
                               for i, (v, c) in enumerate(zip(valid, clear, strict=True)))
                if o is not None]
        got, _, _, _ = run_contract(toy.KIND, pe_cfg, valid, clear, ports)
        assert got == want

    # GEMMs through both dataflows, against the shared golden model.
    for arr in toy.KIND.array_examples:
        A, W, _, _, _ = random_gemm(arr, rng, 5, 7, 4)
        sched = schedule(arr, A, W)
        rows, _, _ = run_array(arr, sched, bubbles=0.2)
        np.testing.assert_array_equal(sched.assemble(rows), gemm(arr, A, W))
