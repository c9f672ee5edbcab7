"""Property test of the clean-refusal contract: random bad configs, ``--set`` strings, TOML
files, operand files and output paths thrown at the command line. Every one gets status 2, one
line on stderr starting ``qtpe: error:``, no traceback, and nothing written. Over 1,000 bad
inputs a run (see ``EXAMPLES``)."""

import contextlib
import io
import string
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qtpe.gen.cli import main
from qtpe.hdl.array_config import ArrayConfig
from qtpe.hdl.config import VERILOG_KEYWORDS
from qtpe.hdl.kinds import all_kinds

EXAMPLES = 260  # per test; four tests
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=False,
                    suppress_health_check=[HealthCheck.too_slow,
                                           HealthCheck.function_scoped_fixture])
KEYS = sorted(set().union(*(k.config.keys() for k in all_kinds())) | ArrayConfig.keys())


def refused(argv: list[str], out: Path) -> None:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        status = main(argv)
    lines = err.getvalue().splitlines()
    assert status == 2, (argv, err.getvalue())
    assert len(lines) == 1 and lines[0].startswith("qtpe: error: "), (argv, lines)
    assert "Traceback" not in err.getvalue()
    assert not out.exists() or not any(out.iterdir()), argv


junk = st.text(alphabet=string.printable + "８é\x00\u2028", min_size=0, max_size=40)
# Integers are drawn as text: a 4,400-digit one (past Python's int-to-str limit) must be
# refused too, and hypothesis itself cannot print an int that long.
bad_int = st.one_of(st.integers(max_value=-1).map(str), st.integers(min_value=1 << 25).map(str),
                    st.integers(1, 9).map(lambda d: str(d) * 4400))
bad_value = st.one_of(bad_int, junk.filter(lambda t: not t.strip().lstrip("-").isdigit()),
                      st.sampled_from(["", "int0", "uint17", "pot9", "sym7", "float8", "[]",
                                       "{}", "yes", "1.5"]))  # "true" is a valid bool (pipeline)


@st.composite
def bad_sets(draw) -> list[str]:
    """One ``--set`` that is bad: an unknown key, a value out of range or of the wrong type
    for a known key, a key=value with a control character in it, or no ``=``."""
    kind = draw(st.sampled_from(["unknown", "value", "control", "no_equals", "name"]))
    if kind == "unknown":
        key = draw(st.text(alphabet=string.ascii_lowercase + "_", min_size=1, max_size=12)
                   .filter(lambda k: k not in KEYS))
        return [f"{key}={draw(st.integers(0, 9))}"]
    if kind == "value":
        key = draw(st.sampled_from([k for k in KEYS if k not in ("name",)]))
        value = draw(bad_value)
        return [f"{key}={value}"]
    if kind == "control":
        ch = draw(st.sampled_from(["\n", "\r", "\x00", "\x1b"]))
        return [f"rows=4{ch}cols=9"]
    if kind == "no_equals":
        return [draw(st.text(alphabet=string.ascii_letters, min_size=0, max_size=10))]
    name = draw(st.one_of(st.sampled_from(sorted(VERILOG_KEYWORDS)),
                          st.text(alphabet="0123456789-. $\n", min_size=1, max_size=8)))
    return [f"name={name}"]


@SETTINGS
@given(sets=bad_sets(), preset=st.sampled_from(["mac_w8a8", "array_os_w8a8_4x4",
                                                "lut_w2a8_g4", "bitserial_w4a8_l8"]))
def test_bad_sets_are_refused(tmp_path_factory, sets, preset):
    out = tmp_path_factory.mktemp("out")
    args = [a for s in sets for a in ("--set", s)]
    refused(["generate", "--preset", preset, *args, "-o", str(out / "o")], out)


@st.composite
def bad_toml(draw) -> bytes:
    """A TOML file that is not valid UTF-8, not valid TOML, or holds a bad key or value."""
    kind = draw(st.sampled_from(["bytes", "syntax", "key", "value", "table"]))
    if kind == "bytes":
        return b"\xff" + draw(st.binary(max_size=60))
    if kind == "syntax":
        return ("= " + draw(junk)).encode()
    if kind == "key":
        key = draw(st.text(alphabet=string.ascii_lowercase, min_size=1, max_size=10)
                   .filter(lambda k: k not in KEYS))
        return f"{key} = 1\n".encode()
    if kind == "table":
        return f"[{draw(st.sampled_from(KEYS))}]\nx = 1\n".encode()
    key = draw(st.sampled_from(KEYS))
    value = draw(bad_int)
    return f"{key} = {value}\n".encode()


@SETTINGS
@given(content=bad_toml())
def test_bad_toml_files_are_refused(tmp_path_factory, content):
    tmp = tmp_path_factory.mktemp("toml")
    path = tmp / "c.toml"
    path.write_bytes(content)
    out = tmp / "out"
    refused(["generate", "--config", str(path), "-o", str(out)], out)


@st.composite
def bad_operands(draw):
    """A and W that do not make a GEMM for the INT8 4x4 array: values out of int8, floats,
    booleans, wrong dimensions, K that differ, empty."""
    kind = draw(st.sampled_from(["range", "float", "bool", "ndim", "k", "empty"]))
    m, k, n = (draw(st.integers(1, 6)) for _ in range(3))
    A = np.zeros((m, k), dtype=np.int64)
    W = np.zeros((k, n), dtype=np.int64)
    if kind == "range":
        big = draw(st.one_of(st.integers(128, 1 << 40), st.integers(-(1 << 40), -129)))
        target = draw(st.sampled_from(["A", "W"]))
        (A if target == "A" else W)[0, 0] = big
    elif kind == "float":
        A = A.astype(np.float64)
    elif kind == "bool":
        W = W.astype(bool)
    elif kind == "ndim":
        A = np.zeros((m, k, 2), dtype=np.int64)
    elif kind == "k":
        W = np.zeros((k + draw(st.integers(1, 3)), n), dtype=np.int64)
    else:
        A = np.zeros((0, k), dtype=np.int64)
    return A, W


@SETTINGS
@given(operands=bad_operands())
def test_bad_operands_are_refused(tmp_path_factory, operands):
    tmp = tmp_path_factory.mktemp("npy")
    np.save(tmp / "A.npy", operands[0])
    np.save(tmp / "W.npy", operands[1])
    out = tmp / "out"
    refused(["gemm", "--preset", "array_os_w8a8_4x4", "--a", str(tmp / "A.npy"), "--w",
             str(tmp / "W.npy"), "-o", str(out / "C.npy"), "--sim", "icarus"], out)


@st.composite
def bad_outputs(draw, tmp: Path):
    kind = draw(st.sampled_from(["file", "under_file", "long", "control", "system", "empty"]))
    if kind == "file":
        return str(tmp / "afile")
    if kind == "under_file":
        return str(tmp / "afile" / draw(st.text(string.ascii_letters, min_size=1, max_size=8)))
    if kind == "long":
        return str(tmp / ("x" * draw(st.integers(256, 400))))
    if kind == "control":
        ch = draw(st.sampled_from(["\n", "\t", "\x01"]))
        return str(tmp / f"o{ch}x")
    if kind == "system":
        return draw(st.sampled_from(["/proc/qtpe", "/sys/qtpe", "/dev/null", "/dev/qtpe"]))
    return ""


@SETTINGS
@given(data=st.data(), command=st.sampled_from(["generate", "synth", "flow", "sim"]))
def test_bad_output_paths_are_refused(tmp_path_factory, data, command):
    tmp = tmp_path_factory.mktemp("o")
    (tmp / "afile").write_text("x")
    out = data.draw(bad_outputs(tmp))
    before = sorted(p.name for p in tmp.iterdir())
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        status = main([command, "--preset", "mac_w2a8", "-o", out])
    lines = err.getvalue().splitlines()
    assert status == 2 and len(lines) == 1 and lines[0].startswith("qtpe: error: "), (out, lines)
    assert sorted(p.name for p in tmp.iterdir()) == before
    assert (tmp / "afile").read_text() == "x"
