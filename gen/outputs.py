"""Where qtpe writes: output locations checked before any work, all-or-nothing outputs, scratch
folders that a killed run leaves behind cleaned at the next run.

* ``check_dir`` / ``check_file``: an output folder (or file) must be a place one can write:
  not empty, not a file where a folder is wanted (or the reverse), not under a file, not a
  system folder (``/proc``, ``/sys``, ``/dev``), names no longer than the file system takes,
  the nearest existing folder writable. A bad one is an ``OutputError`` (one line, exit 2).
* ``write_files``: a run's files appear together: written into a temporary folder beside the
  target, then renamed into place (the whole folder when it is new), with ordinary modes.
* ``scratch``: a temporary work folder named after the process; ``sweep`` removes the ones
  whose process is gone (a ``kill -9`` leaves them).
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .config import ConfigError

__all__ = ["OutputError", "check_dir", "check_file", "write_files", "write_file", "scratch",
           "sweep", "work_folder", "TMP_PREFIX"]

#: Names of qtpe's temporary entries: ``.qtpe-<pid>-<random>`` (beside outputs) and
#: ``qtpe-<what>-<pid>-<random>`` (scratch folders in the system's temporary folder).
TMP_PREFIX = ".qtpe-"
NAME_MAX = 255
PATH_MAX = 4095
_SYSTEM = ("/proc", "/sys", "/dev")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class OutputError(ConfigError):
    """An output location qtpe cannot write; one-line message."""


def _show(path) -> str:
    text = str(path)
    return repr(text if len(text) <= 80 else text[:77] + "...")


def _check_name(path, what: str) -> Path:
    text = os.fspath(path) if not isinstance(path, str) else path
    if text == "":
        raise OutputError(f"the {what} must not be empty")
    if _CONTROL.search(text):
        raise OutputError(f"the {what} {_show(text)} holds a control character (a newline?)")
    if len(os.fsencode(text)) > PATH_MAX:
        raise OutputError(f"the {what} {_show(text)} is longer than {PATH_MAX} bytes")
    for part in Path(text).parts:
        if len(os.fsencode(part)) > NAME_MAX:
            raise OutputError(f"the {what} {_show(text)} has a name of "
                              f"{len(os.fsencode(part))} bytes (at most {NAME_MAX})")
    return Path(os.path.abspath(text))


def _check_parents(path: Path, original, what: str) -> None:
    """Every existing ancestor is a folder; the nearest one is writable; no system folder."""
    real = os.path.realpath(path)
    for system in _SYSTEM:
        if real == system or real.startswith(system + "/"):
            raise OutputError(f"the {what} {_show(original)} is in {system}, a system "
                              f"folder, not a place to write")
    parent = path.parent
    while True:
        try:
            if parent.exists():
                break
        except OSError as exc:
            raise OutputError(f"the {what} {_show(original)} cannot be used: "
                              f"{exc.strerror}") from None
        parent = parent.parent
    if not parent.is_dir():
        raise OutputError(f"the {what} {_show(original)} is under {_show(parent)}, which is a "
                          f"file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"the {what} {_show(original)} cannot be created: {_show(parent)} "
                          f"is not writable")


def check_dir(path, what: str = "output folder") -> Path:
    """``path`` as an absolute ``Path`` if it is, or can become, a writable folder; else
    ``OutputError`` naming it and what is wrong."""
    p = _check_name(path, what)
    _check_parents(p, path, what)
    try:
        exists = p.exists()
    except OSError as exc:
        raise OutputError(f"the {what} {_show(path)} cannot be used: {exc.strerror}") from None
    if exists:
        if not p.is_dir():
            raise OutputError(f"the {what} {_show(path)} is a file, not a folder")
        if not os.access(p, os.W_OK | os.X_OK):
            raise OutputError(f"the {what} {_show(path)} is not writable")
    return p


def check_file(path, suffix: str | None = None, what: str = "output file") -> Path:
    """``path`` as an absolute ``Path`` if a file can be written there (ending in ``suffix``
    when given); else ``OutputError``."""
    p = _check_name(path, what)
    if suffix is not None and p.suffix != suffix:
        raise OutputError(f"the {what} must end in {suffix}, not {_show(path)}")
    if p.exists() or p.is_symlink():
        if p.is_dir():
            raise OutputError(f"the {what} {_show(path)} is a folder, not a file")
        if not p.is_file():
            raise OutputError(f"the {what} {_show(path)} is not a regular file")
    check_dir(p.parent, f"folder of the {what}")
    _check_parents(p, path, what)
    return p


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


#: A hidden entry beside outputs (``.qtpe-<pid>-<8 hex>[.tmp]``) and a scratch folder in the
#: temporary folder (``qtpe-<what>-<pid>-<8 hex>``); nothing else is ever swept.
_HIDDEN_RE = re.compile(r"^\.qtpe-(\d+)-[0-9a-f]{8}(?:\.tmp)?$")
_SCRATCH_RE = re.compile(r"^qtpe-[a-z]+-(\d+)-[0-9a-f]{8}$")


def sweep(folder, scratch: bool = False) -> list[Path]:
    """Remove qtpe's temporary entries in ``folder`` whose process is gone (the hidden ones
    beside outputs, or with ``scratch`` the scratch folders of the temporary folder); return
    them."""
    pattern = _SCRATCH_RE if scratch else _HIDDEN_RE
    removed = []
    try:
        entries = list(Path(folder).iterdir())
    except OSError:
        return removed
    for entry in entries:
        match = pattern.match(entry.name)
        if match is None or _alive(int(match.group(1))):
            continue
        with contextlib.suppress(OSError):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
            removed.append(entry)
    return removed


def _tmp_name(prefix: str = TMP_PREFIX) -> str:
    return f"{prefix}{os.getpid()}-{secrets.token_hex(4)}"


def write_files(folder, files: dict[str, str | bytes]) -> list[Path]:
    """Write ``files`` (name -> text or bytes) into ``folder``, all or none: into a temporary
    folder beside it first (``.qtpe-<pid>-<random>``), then renamed into place (the whole
    folder when ``folder`` is new). Files get the modes the umask gives (not 0600). Returns
    the paths."""
    folder = check_dir(folder)
    for name in files:
        target = folder / name
        if target.is_dir():
            raise OutputError(f"cannot write {_show(target)}: a folder of that name is there")
    parent = folder if folder.exists() else folder.parent
    parent.mkdir(parents=True, exist_ok=True)
    sweep(parent)
    tmp = parent / _tmp_name()
    tmp.mkdir()
    try:
        for name, content in files.items():
            mode = "wb" if isinstance(content, bytes) else "w"
            with open(tmp / name, mode) as f:
                f.write(content)
        if not folder.exists():
            os.rename(tmp, folder)
        else:
            for name in files:
                os.replace(tmp / name, folder / name)
            tmp.rmdir()
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return [folder / name for name in files]


def write_file(path, content: str | bytes) -> Path:
    """Write one file through a temporary file beside it, then rename (ordinary mode)."""
    path = check_file(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sweep(path.parent)
    tmp = path.parent / f"{_tmp_name()}.tmp"
    try:
        with open(tmp, "wb" if isinstance(content, bytes) else "w") as f:
            f.write(content)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


@contextlib.contextmanager
def scratch(what: str) -> Iterator[Path]:
    """A temporary work folder ``qtpe-<what>-<pid>-<random>`` in the system's temporary
    folder, removed afterwards; stale ones of dead processes are removed first."""
    base = Path(tempfile.gettempdir())
    sweep(base, scratch=True)
    path = base / _tmp_name(f"qtpe-{what}-")
    path.mkdir()
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def work_folder(path, what: str) -> Iterator[Path]:
    """The folder ``path`` when one is given (kept afterwards), else a ``scratch(what)``
    folder for the block."""
    if path is not None:
        yield Path(path)
        return
    with scratch(what) as tmp:
        yield tmp
