"""Run a tool so that it dies with the qtpe process that started it.

``python -m qtpe.sim.guard <parent pid> -- <command ...>`` makes itself the leader of a new
process group, asks the kernel for a SIGTERM when its parent dies (``PR_SET_PDEATHSIG``),
then runs the command in that group and exits with its status. When qtpe dies, even by
``kill -9``, the guard kills its whole group (SIGTERM, then SIGKILL ``GRACE`` seconds later):
the tool and everything the tool started (make, the C++ compiler, a simulator).
``guarded(argv)`` is the prefix qtpe puts before a command.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time

__all__ = ["guarded"]

_PR_SET_PDEATHSIG = 1


def guarded(argv: list[str]) -> list[str]:
    """``argv`` run under the guard, tied to this process."""
    return [sys.executable, "-m", "qtpe.sim.guard", str(os.getpid()), "--", *argv]


#: Seconds the group has to clean up after SIGTERM before SIGKILL (SymbiYosys, for one, runs
#: its solvers in process groups of their own and stops them on SIGTERM).
GRACE = 0.5


def _kill_group(signum, frame) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    os.killpg(0, signal.SIGTERM)
    time.sleep(GRACE)
    os.killpg(0, signal.SIGKILL)


def main(argv: list[str]) -> int:
    parent, sep, *command = argv
    if sep != "--" or not command:
        print("usage: python -m qtpe.sim.guard PARENT_PID -- COMMAND ...", file=sys.stderr)
        return 2
    os.setpgid(0, 0)
    signal.signal(signal.SIGTERM, _kill_group)
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # not Linux: the group is still killed on SIGTERM
        pass
    if os.getppid() != int(parent):  # the parent died before the request took effect
        return 1
    try:
        proc = subprocess.Popen(command)
    except OSError as exc:
        print(f"qtpe.sim.guard: cannot start {command[0]}: {exc.strerror}", file=sys.stderr)
        return 127
    while True:
        try:
            code = proc.wait()
            break
        except KeyboardInterrupt:  # the terminal's Ctrl-C reaches qtpe; it decides
            continue
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
