"""Progress of long steps, for the command line.

The libraries log each step as it starts (``logging`` under ``qtpe``: elaboration and Verilog
conversion, every synthesis tool run, simulator builds and runs, GEMMs). ``shown`` renders
them on stderr while a command runs: on a terminal one ``rich`` status line with a spinner,
the current step and its time, finished steps printed above it with theirs; elsewhere plain
lines ``qtpe: [  12.3 s] <step>``; nothing with ``quiet``.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from collections.abc import Iterator

__all__ = ["shown", "say", "LOGGER"]

LOGGER = "qtpe"
_active: list = []  # the status line being shown, if any


class _Plain(logging.Handler):
    def __init__(self, stream):
        super().__init__(logging.INFO)
        self.stream = stream
        self.start = time.monotonic()

    def emit(self, record: logging.LogRecord) -> None:
        self.stream.write(f"qtpe: [{time.monotonic() - self.start:7.1f} s] "
                          f"{record.getMessage()}\n")
        self.stream.flush()


class _Status(logging.Handler):
    """One status line on a terminal: the running step and its time; finished steps above."""

    def __init__(self, stream):
        from rich.console import Console

        super().__init__(logging.INFO)
        self.console = Console(file=stream)
        self.status = self.console.status("")
        self.current: tuple[str, float] | None = None

    def emit(self, record: logging.LogRecord) -> None:
        self._finish()
        self.current = (record.getMessage(), time.monotonic())
        self.status.update(self.current[0])
        self.status.start()

    def _finish(self) -> None:
        if self.current is not None:
            text, start = self.current
            self.console.print(f"[dim]{text} ({time.monotonic() - start:.1f} s)[/dim]",
                               highlight=False)
            self.current = None

    def close(self) -> None:
        self._finish()
        self.status.stop()
        super().close()


@contextlib.contextmanager
def shown(quiet: bool = False, stream=None) -> Iterator[None]:
    """Show the ``qtpe`` log's steps on ``stream`` (stderr) while the block runs."""
    stream = sys.stderr if stream is None else stream
    logger = logging.getLogger(LOGGER)
    if quiet:
        yield
        return
    handler = _Status(stream) if stream.isatty() else _Plain(stream)
    _active.append(handler)
    old_level, old_propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        yield
    finally:
        _active.remove(handler)
        logger.removeHandler(handler)
        logger.setLevel(old_level)
        logger.propagate = old_propagate
        handler.close()


def say(text: str) -> None:
    """Print a command's result on stdout, after the step shown so far is marked finished (so
    the status line never lands below the result)."""
    for handler in _active:
        if isinstance(handler, _Status):
            handler._finish()
            handler.status.stop()
    print(text, flush=True)
