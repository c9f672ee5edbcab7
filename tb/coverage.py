"""Functional coverage of the testbenches, kept in cocotb-coverage's database.

Imported only inside a simulator process. ``qtpe.gen.flow.simulate`` (``qtpe sim``, ``qtpe
flow``, the regression) names a file in ``QTPE_COVERAGE_FILE``; without it coverage is off and
sampling costs nothing. A testbench declares its cover points (``Coverage.point``: a name and
the labels of its bins, each bin a corner case of the design's config), samples them from its
driver (what the stimulus and the golden model did, never the design's outputs, so a wrong
design cannot change what is covered). Every point is a
``cocotb_coverage.coverage.CoverPoint`` named ``qtpe.<point>``; the one database of the
simulator process gathers the hits of all the tests of a run, and is exported whole
(``coverage_db.export_to_yaml``) when the process ends (``atexit``: once, as a YAML dump
costs milliseconds), for ``qtpe.sim.coverage`` to read. No file (a simulator that crashed)
reads as no bins, which fails the run.

The points every PE shares (its accumulator contract) are declared here: ``clear`` (with and
without ``in_valid``) and ``overflow`` (wrap above the maximum and below the minimum, or
saturation at either end, where the accumulator and the kind's inputs can get there). A kind's
own points are declared in its testbench module.
"""

from __future__ import annotations

import atexit
import os
from collections.abc import Callable, Iterable

import numpy as np
from cocotb_coverage.coverage import CoverPoint, coverage_db

from qtpe.hdl.formats import AccType, Overflow

__all__ = ["COVERAGE_ENV", "ROOT", "Coverage", "product_signs", "overflow_bins",
           "overflow_hits", "min_x_min_lanes"]

COVERAGE_ENV = "QTPE_COVERAGE_FILE"
ROOT = "qtpe"


_EXPORTS: set[str] = set()  # files exported when the process ends


def _member(hits, label) -> bool:
    return label in hits


class Coverage:
    """The cover points of one testbench; inert when ``QTPE_COVERAGE_FILE`` is not set.

    ``point(name, labels)`` declares ``qtpe.<name>`` with one bin per label (declaring it again,
    as every test of a run does, returns the same point). ``sample(name, hits)`` counts one hit
    in every bin whose label is in ``hits`` (a set, or one label).
    """

    def __init__(self, path: str | None = None):
        self.path = os.environ.get(COVERAGE_ENV) if path is None else path
        self._points: dict[str, Callable] = {}
        if self.path and self.path not in _EXPORTS:
            _EXPORTS.add(self.path)
            atexit.register(coverage_db.export_to_yaml, self.path)

    @property
    def enabled(self) -> bool:
        return bool(self.path)

    def point(self, name: str, labels: Iterable[str]) -> None:
        labels = list(labels)
        if not self.enabled or not labels:
            return
        if len(set(labels)) != len(labels):
            raise ValueError(f"cover point {name}: bin labels repeat: {labels}")

        def _qtpe_sampled(hits):  # cocotb-coverage matches bins to the first argument
            return None

        self._points[name] = CoverPoint(f"{ROOT}.{name}", bins=labels, rel=_member,
                                        inj=False)(_qtpe_sampled)

    def sample(self, name: str, hits) -> None:
        if not hits:
            return
        sampler = self._points.get(name)
        if sampler is not None:
            sampler((hits,) if isinstance(hits, str) else hits)

    def write(self) -> None:
        """Export the whole database of this process (every test so far) to the file now
        (it is also exported when the process ends)."""
        if self.enabled:
            coverage_db.export_to_yaml(self.path)


# -- bins every PE shares ------------------------------------------------------------------
def _names(acc: AccType) -> tuple[str, str]:
    if acc.overflow is Overflow.SATURATE:
        return "saturate at max", "saturate at min"
    return "wrap above max", "wrap below min"


def product_signs(weights: tuple[int, int], acts: tuple[int, int]) -> tuple[bool, bool]:
    """Whether products of weights in ``weights`` (min, max) and activations in ``acts`` can be
    positive, and negative."""
    corners = [w * a for w in weights for a in acts]
    return max(corners) > 0, min(corners) < 0


def overflow_bins(acc: AccType, signs: tuple[bool, bool] = (True, True)) -> list[str]:
    """The overflow corners of an accumulator, wrapped or clamped as its policy says: the exact
    sum above its maximum, where some input adds a positive amount (``signs[0]``), and below
    its minimum, where it is signed and some input adds a negative amount (``signs[1]``)."""
    high, low = _names(acc)
    return [name for name, applies in ((high, signs[0]), (low, signs[1] and acc.signed))
            if applies]


def overflow_hits(acc: AccType, exact) -> set[str]:
    """Which overflow bins the exact sums ``exact`` (an integer, an array of them, or
    ``None``) hit."""
    if exact is None:
        return set()
    if isinstance(exact, int):
        hi = lo = exact
    else:
        values = np.asarray(exact)
        hi, lo = values.max(), values.min()
    if acc.min <= lo and hi <= acc.max:
        return set()
    high, low = _names(acc)
    return {name for name, out in ((high, hi > acc.max), (low, lo < acc.min)) if out}


def min_x_min_lanes(weights, acts, w_min: int, a_min: int) -> set[str]:
    """Labels ``lane i`` of the lanes where the weight ``w_min`` meets the activation ``a_min``
    (values, or the codes that mean them)."""
    a = _as_list(acts)
    if a_min not in a:
        return set()
    w = _as_list(weights)
    return {_LANES[i] if i < len(_LANES) else f"lane {i}"
            for i, (x, y) in enumerate(zip(w, a, strict=True)) if x == w_min and y == a_min}


_LANES = [f"lane {i}" for i in range(64)]


def _as_list(values) -> list:
    if isinstance(values, list):
        return values
    if isinstance(values, np.ndarray) and values.ndim == 1:
        return values.tolist()
    return np.ravel(values).tolist()
