"""``qtpe prove``: the fast subset of the proofs (``make prove`` runs the table), a broken PE's
counterexample replayed through the golden model, and bad input."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from amaranth.hdl import Module, Value
from amaranth.lib import wiring

from qtpe.gen import api
from qtpe.gen.array_proof import proof_plan
from qtpe.gen.cli import main
from qtpe.gen.config import ConfigError
from qtpe.gen.prove import check_provable, prove, read_trace
from qtpe.hdl.formats import QType
from qtpe.hdl.kinds import kind_of, unregister
from qtpe.hdl.pe_bitserial import BitSerialPE
from qtpe.hdl.pe_shiftadd import ShiftAddPE

# Small configs of each kind: seconds each (the W4A4 table is bench/PROOFS.md).
FAST = [
    ("mac_w4a8", {"weight": "int2", "activation": "int2", "lanes": 2,
                  "overflow": "saturate", "acc_bits": 5, "depth": None}, "proved"),
    ("shiftadd_pot_w4a8", {"weight": "pot2", "activation": "int4", "lanes": 1}, "proved"),
    ("lut_w2a8_g4", {"activation": "int4", "g": 2, "symmetric": True}, "proved"),
    ("bitserial_w2a8_l8", {"activation": "int4", "lanes": 1}, "bounded"),
]


def _config(preset, keys):
    keys = {k: v for k, v in keys.items() if v is not None}
    cfg = api.config(preset, **keys)
    return cfg


@pytest.mark.parametrize(("preset", "keys", "status"), FAST, ids=[f[0] for f in FAST])
def test_fast_proofs(tmp_path, preset, keys, status):
    cfg = _config(preset, keys)
    result = prove(cfg, tmp_path)
    assert result.proof.status == status, result.summary()
    assert result.counterexample is None
    assert ("in every cycle" in result.summary()) == (status == "proved")


def test_a_new_kind_is_proved_through_its_default_reference(tmp_path):
    """The toy kind (tests/toy_kind.py) says nothing about proofs: the default
    ``reference()`` decodes its sym1 weights, and the proof closes."""
    import toy_kind

    unregister("addsub")  # importing registers it; the proof needs no registry entry
    cfg = toy_kind.AddSubConfig(lanes=2, activation=QType(4), acc_bits=7, pipeline=True)
    result = prove(cfg, tmp_path, dut=toy_kind.AddSubPE(cfg))
    assert result.proof.status == "proved", result.summary()


class _BrokenShiftAdd(ShiftAddPE):
    """Adds 1 to the dot product when lane 0 holds the most negative activation and the
    weight code 3: a corner random tests with small values would miss."""

    def dot(self, m):
        cfg = self.config
        bug = (Value.cast(self.weight[0]) == 3) & (self.act[0] == cfg.activation.min)
        return super().dot(m) + bug


def test_broken_pe_gives_a_readable_counterexample(tmp_path):
    cfg = api.config("shiftadd_pot_w4a8", weight="pot3", activation="int4", lanes=2)
    result = prove(cfg, tmp_path, dut=_BrokenShiftAdd(cfg))
    assert result.proof.status == "failed"
    cex = result.counterexample
    text = result.summary()
    assert text.startswith("FAILED") and "<- differs" in text
    assert cex.columns == ("rst", "in_valid", "clear", "weight", "act", "out_valid",
                           "expected_p0", "actual_p0")
    assert cex.rows[-1][-2] != cex.rows[-1][-1]  # expected != actual where it stops
    assert read_trace(result.proof.trace)  # the VCD is kept for a waveform viewer

    # Replay the printed inputs through the golden model: it agrees with "expected".
    model = kind_of(cfg).model_class(cfg)
    for row in cex.rows[:-1]:
        rst, valid, clear, weight, act = row[:5]
        if rst:
            model.reset()
            continue
        model.step(bool(valid), bool(clear), weight=np.array(weight), act=np.array(act))
    assert cex.rows[-1][-2] == model.acc
    # and the broken input is in the trace
    assert any(r[3][0] == 3 and r[4][0] == cfg.activation.min and r[1] for r in cex.rows)


class _BrokenBitSerial(BitSerialPE):
    """The real PE inside, its accumulator read one off when it is 5: the handshake miter
    must see it."""

    def elaborate(self, platform):
        m = Module()
        m.submodules.inner = inner = BitSerialPE(self.config)
        for name, member in self.signature.members.items():
            if name == "acc":
                continue
            if member.flow is wiring.In:
                m.d.comb += getattr(inner, name).eq(getattr(self, name))
            else:
                m.d.comb += getattr(self, name).eq(getattr(inner, name))
        m.d.comb += self.acc.eq(inner.acc + (inner.acc == 5))
        return m


def test_broken_bitserial_pe_fails_the_handshake_proof(tmp_path):
    cfg = api.config("bitserial_w2a8_l8", activation="int4", lanes=1)
    result = prove(cfg, tmp_path, dut=_BrokenBitSerial(cfg))
    assert result.proof.status == "failed"
    assert "in_ready" in result.counterexample.columns
    last = result.counterexample.rows[-1]
    assert last[-1] == 6 or last[-2] != last[-1]


def _os_2x2():
    return api.config("array_os_w8a8_4x4", rows=2, cols=2, weight="int2", activation="int2",
                      acc_bits=6)


def test_array_proof_os_2x2(tmp_path):
    cfg = _os_2x2()
    plan = proof_plan(cfg)
    result = prove(cfg, tmp_path, plan=plan)
    assert result.ok, result.summary()
    assert result.proof.depth > plan.cycles  # the whole GEMM


def test_array_proof_ws_2x2(tmp_path):
    cfg = api.config("array_ws_w8a8_8x8", rows=2, cols=2, weight="uint1", activation="int2")
    result = prove(cfg, tmp_path)
    assert result.ok, result.summary()
    assert result.proof.depth > proof_plan(cfg).cycles


def test_array_proof_catches_a_wrong_schedule(tmp_path):
    """Result rows 0 and 1 swapped in the plan: the proof fails at the first row."""
    cfg = _os_2x2()
    plan = proof_plan(cfg)
    rows = (plan.rows[1], plan.rows[0], *plan.rows[2:])
    result = prove(cfg, tmp_path, plan=dataclasses.replace(plan, rows=rows))
    assert result.proof.status == "failed"
    last = result.counterexample.rows[-1]
    assert last[-3] == 0 and last[-2] != last[-1]  # row 0: expected != actual


def test_unprovable_configs_are_refused():
    base = api.config("mac_w8a8")
    with pytest.raises(ConfigError, match="weight int12 is too wide"):
        check_provable(dataclasses.replace(base, weight=QType(12)))
    with pytest.raises(ConfigError, match="8 lanes is too many"):
        check_provable(api.config("mac_w4a8_l8"))
    with pytest.raises(ConfigError, match="group_size = 128"):
        check_provable(api.config("shiftadd_int_w4a8_g128", lanes=1))
    with pytest.raises(ConfigError, match="4x4 array is too large"):
        check_provable(api.config("array_os_w8a8_4x4"))
    with pytest.raises(ConfigError, match="array proofs check wrapped sums"):
        check_provable(api.config("array_os_w8a8_4x4", rows=2, cols=2, overflow="saturate"))
    with pytest.raises(ConfigError, match="^dataflow = 'is': array proofs cover 'os' and 'ws'"):
        check_provable(api.config("array_is_w8a8_8x8", rows=2, cols=2))


@pytest.mark.parametrize(("argv", "message"), [
    (["--preset", "mac_w4a8_l8"], "8 lanes is too many to prove"),
    (["--preset", "mac_w8a8", "--depth", "0"], "depth must be an integer from 1 to 200"),
])
def test_cli_bad_input(capsys, tmp_path, argv, message):
    status = main(["prove", "-q", *argv, "-o", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert status == 2
    assert message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_cli_writes_the_report(capsys, tmp_path):
    out = tmp_path / "report"
    status = main(["prove", "-q", "--preset", "mac_w4a8", "--set", "weight=int2",
                   "--set", "activation=int2", "--set", "lanes=1", "-o", str(out)])
    assert status == 0
    assert "PROVED" in capsys.readouterr().out
    assert {p.name for p in out.iterdir()} == {"proof.json", "proof.md"}


def _processes_in(folder) -> list[int]:
    import os

    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.readlink(f"/proc/{pid}/cwd").startswith(str(folder)):
                found.append(int(pid))
        except OSError:
            pass
    return found


def test_timeout_stops_the_solvers(tmp_path):
    """A LUT PE with g = 4 and the symmetric table takes minutes: with a 3 s limit the
    proof comes back as a timeout and leaves no sby or solver process behind."""
    import time

    cfg = api.config("lut_w2a8_g4", activation="int4", sharing=1)
    result = prove(cfg, tmp_path, timeout=3)
    assert result.proof.status == "timeout" and not result.ok
    assert result.summary().startswith("TIMEOUT")
    for _ in range(20):
        if not _processes_in(tmp_path):
            break
        time.sleep(0.25)
    assert _processes_in(tmp_path) == []
