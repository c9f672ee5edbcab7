"""ASIC collateral: the OSU 0.18 um standard-cell Liberty and the OpenSTA static timer.

``python -m qtpe.synth.install`` (what ``make setup`` runs) makes both available under
``<repo>/.tools/``, where ``<repo>`` is the folder holding ``synth/``:

* ``apt-get download qflow-tech-osu018 opensta`` into a scratch folder (``apt-get update`` is
  run, and the download retried, only if the first download fails, e.g. for lack of lists);
* ``dpkg -x`` of both packages into ``.tools/`` (no system install: Debian's ``qflow`` would pull
  in an old Yosys), giving ``.tools/usr/share/qflow/tech/osu018/osu018_stdcells.lib`` and
  ``.tools/usr/bin/sta``;
* if ``ldd .tools/usr/bin/sta`` reports missing libraries, ``apt-get install`` of their
  packages (``libtcl8.6``, ``libreadline8``) with ``DEBIAN_FRONTEND=noninteractive``;
* a check that ``sta -version`` runs, then a stamp file ``.tools/.qtpe-install-ok``.

It is idempotent: with the stamp, both files and the libraries present it runs no ``apt-get`` and
returns in well under a second. Concurrent runs are serialised with a lock file.

:func:`liberty_path` and :func:`sta_path` locate the files (``QTPE_LIBERTY`` / ``QTPE_STA``
override them) and raise :class:`CollateralMissing`, which says to run ``make setup``, when absent.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "CollateralMissing",
    "InstallError",
    "InstallResult",
    "DEBIAN_PACKAGES",
    "TOOLS_DIR",
    "LIBERTY_RELPATH",
    "STA_RELPATH",
    "liberty_path",
    "sta_path",
    "missing_libraries",
    "install",
    "main",
]

#: ``<repo>/.tools``: the repository is the parent of the ``synth`` folder.
TOOLS_DIR = Path(__file__).resolve().parents[1] / ".tools"
DEBIAN_PACKAGES = ("qflow-tech-osu018", "opensta")
LIBERTY_RELPATH = Path("usr/share/qflow/tech/osu018/osu018_stdcells.lib")
STA_RELPATH = Path("usr/bin/sta")
STAMP_NAME = ".qtpe-install-ok"
#: Shared objects OpenSTA links against that a slim Debian may lack, and their packages.
RUNTIME_PACKAGES = {"libtcl8.6.so": "libtcl8.6", "libreadline.so.8": "libreadline8"}

_SETUP_HINT = "run `make setup` (python -m qtpe.synth.install)"


class CollateralMissing(FileNotFoundError):
    """The Liberty file or the OpenSTA binary is not where it is looked for."""


class InstallError(RuntimeError):
    """A step of :func:`install` failed; the message quotes the failing command's output."""


@dataclass(frozen=True)
class InstallResult:
    """What :func:`install` found or did.

    Attributes:
        liberty: the OSU 0.18 um Liberty file.
        sta: the OpenSTA binary.
        sta_version: what ``sta -version`` printed.
        actions: the steps taken, in order; empty when everything was already in place.
    """

    liberty: Path
    sta: Path
    sta_version: str
    actions: tuple[str, ...]

    @property
    def already_installed(self) -> bool:
        return not self.actions


def _locate(env_var: str, default: Path, what: str) -> Path:
    override = os.environ.get(env_var)
    if override:
        path = Path(override)
        if not path.is_file():
            raise CollateralMissing(
                f"{env_var}={override!r} does not name an existing file ({what})"
            )
        return path.resolve()
    if not default.is_file():
        raise CollateralMissing(f"{what} not found at {default}: {_SETUP_HINT}, or set {env_var}")
    return default


def liberty_path(tools_dir: Path = TOOLS_DIR) -> Path:
    """The OSU 0.18 um Liberty file: ``$QTPE_LIBERTY`` if set, else the one under ``tools_dir``."""
    return _locate("QTPE_LIBERTY", tools_dir / LIBERTY_RELPATH, "OSU 0.18 um Liberty file")


def sta_path(tools_dir: Path = TOOLS_DIR) -> Path:
    """The OpenSTA binary: ``$QTPE_STA`` if set, else the one under ``tools_dir``."""
    return _locate("QTPE_STA", tools_dir / STA_RELPATH, "OpenSTA binary (sta)")


def missing_libraries(ldd_output: str) -> tuple[str, ...]:
    """Shared objects that ``ldd`` reports as ``not found``, in the order listed."""
    return tuple(re.findall(r"^\s*(\S+)\s+=>\s+not found", ldd_output, re.MULTILINE))


Runner = Callable[[Sequence[str], Path | None], subprocess.CompletedProcess[str]]


def _run(argv: Sequence[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    try:
        return subprocess.run(
            list(argv),
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            check=False,
        )
    except OSError as exc:
        raise InstallError(
            f"cannot run {argv[0]!r} ({exc}); fetching the ASIC collateral needs Debian's "
            "apt-get, dpkg and ldd"
        ) from exc


def _require(proc: subprocess.CompletedProcess[str], what: str) -> None:
    if proc.returncode != 0:
        tail = "\n".join(proc.stdout.strip().splitlines()[-15:])
        raise InstallError(f"{what} failed (exit code {proc.returncode}):\n{tail}")


@contextlib.contextmanager
def _locked(tools_dir: Path) -> Iterator[None]:
    tools_dir.mkdir(parents=True, exist_ok=True)
    with open(tools_dir / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _sta_missing_libraries(sta: Path, run: Runner) -> tuple[str, ...]:
    proc = run(["ldd", str(sta)], None)
    _require(proc, f"ldd {sta}")
    return missing_libraries(proc.stdout)


def _download_and_extract(tools_dir: Path, run: Runner, actions: list[str]) -> None:
    with tempfile.TemporaryDirectory(prefix="qtpe-debs-") as scratch:
        scratch_dir = Path(scratch)
        download = ["apt-get", "download", *DEBIAN_PACKAGES]
        proc = run(download, scratch_dir)
        if proc.returncode != 0:
            actions.append("apt-get update (download failed: " + proc.stdout.strip()[-200:] + ")")
            _require(run(["apt-get", "update"], None), "apt-get update")
            proc = run(download, scratch_dir)
        _require(proc, " ".join(download))
        actions.append(" ".join(download))
        debs = sorted(scratch_dir.glob("*.deb"))
        for package in DEBIAN_PACKAGES:
            if not any(deb.name.startswith(package + "_") for deb in debs):
                raise InstallError(f"apt-get download produced no .deb for {package!r}")
        for deb in debs:
            _require(run(["dpkg", "-x", str(deb), str(tools_dir)], None), f"dpkg -x {deb.name}")
            actions.append(f"dpkg -x {deb.name} {tools_dir}")


def install(
    tools_dir: Path = TOOLS_DIR, *, run: Runner = _run, log: Callable[[str], None] | None = None
) -> InstallResult:
    """Make the Liberty file and OpenSTA available under ``tools_dir`` (see the module docs).

    Returns what is now in place and which steps were taken. Raises :class:`InstallError` when a
    step fails. ``run`` executes one command (argv, cwd); tests may replace it.
    """
    tools_dir = Path(tools_dir).resolve()
    actions: list[str] = []

    def note(step: str) -> None:
        if log is not None:
            log(step)

    with _locked(tools_dir):
        liberty = tools_dir / LIBERTY_RELPATH
        sta = tools_dir / STA_RELPATH
        stamp = tools_dir / STAMP_NAME
        if not (stamp.is_file() and liberty.is_file() and sta.is_file()):
            stamp.unlink(missing_ok=True)
            note(f"fetching {', '.join(DEBIAN_PACKAGES)} into {tools_dir}")
            _download_and_extract(tools_dir, run, actions)
            for path in (liberty, sta):
                if not path.is_file():
                    raise InstallError(f"{path} is missing after extracting the packages")

        missing = _sta_missing_libraries(sta, run)
        if missing:
            unknown = [lib for lib in missing if lib not in RUNTIME_PACKAGES]
            if unknown:
                raise InstallError(f"{sta} needs libraries with no known package: {unknown}")
            packages = sorted({RUNTIME_PACKAGES[lib] for lib in missing})
            note(f"installing {', '.join(packages)} (missing: {', '.join(missing)})")
            command = ["apt-get", "install", "-y", "--no-install-recommends", *packages]
            proc = run(command, None)
            if proc.returncode != 0:
                _require(run(["apt-get", "update"], None), "apt-get update")
                proc = run(command, None)
            _require(proc, " ".join(command))
            actions.append(" ".join(command))
            still = _sta_missing_libraries(sta, run)
            if still:
                raise InstallError(f"{sta} still misses {', '.join(still)} after apt-get install")

        proc = run([str(sta), "-version"], None)
        _require(proc, f"{sta} -version")
        version = proc.stdout.strip()
        if not stamp.is_file():
            stamp.write_text(f"{' '.join(DEBIAN_PACKAGES)}\nOpenSTA {version}\n")
    return InstallResult(liberty=liberty, sta=sta, sta_version=version, actions=tuple(actions))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m qtpe.synth.install",
        description="Fetch the OSU 0.18 um Liberty and OpenSTA into the repository's .tools/.",
    )
    parser.add_argument(
        "--tools-dir", type=Path, default=TOOLS_DIR, help=f"where to unpack (default {TOOLS_DIR})"
    )
    args = parser.parse_args(argv)
    try:
        result = install(args.tools_dir, log=lambda step: print(f"qtpe.synth.install: {step}"))
    except InstallError as exc:
        print(f"qtpe.synth.install: error: {exc}", file=sys.stderr)
        return 1
    state = "already installed" if result.already_installed else "installed"
    print(f"qtpe.synth.install: {state}: Liberty {result.liberty}")
    print(f"qtpe.synth.install: {state}: OpenSTA {result.sta_version} at {result.sta}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
