"""The functional coverage a cocotb run recorded, read back in the calling process.

The testbenches (``qtpe.tb.coverage``) export cocotb-coverage's database as YAML
(``coverage_db.export_to_yaml``) to the file named in ``QTPE_COVERAGE_FILE``; ``read_coverage``
turns it into a ``CoverageReport``: every declared bin with its hits, and the verdict (every
bin hit at least once). ``merge`` adds the hits of several runs of one design (two simulators,
or several seeds).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml  # PyYAML: cocotb-coverage's own dependency, the format it exports

__all__ = ["COVERAGE_FILE", "CoverBin", "CoverageReport", "read_coverage"]

COVERAGE_FILE = "coverage.yml"
_ROOT = "qtpe."


@dataclass(frozen=True)
class CoverBin:
    """One bin: its cover point (``overflow``, ``min_x_min`` ...), its label and its hits."""

    point: str
    label: str
    hits: int

    @property
    def name(self) -> str:
        return f"{self.point}: {self.label}"


@dataclass(frozen=True)
class CoverageReport:
    """Every declared bin of a run, by point, labels in natural order (``lane 2`` before
    ``lane 10``)."""

    bins: tuple[CoverBin, ...]

    @property
    def missed(self) -> tuple[CoverBin, ...]:
        return tuple(b for b in self.bins if b.hits == 0)

    @property
    def ok(self) -> bool:
        """Every declared bin was hit (and at least one was declared)."""
        return bool(self.bins) and not self.missed

    @property
    def hit(self) -> int:
        return len(self.bins) - len(self.missed)

    def verdict(self) -> str:
        """One line: all bins hit, or which were not."""
        if not self.bins:
            return "coverage: no bins declared"
        if self.ok:
            return f"coverage: all {len(self.bins)} bins hit"
        names = ", ".join(b.name for b in self.missed)
        return f"coverage: {len(self.missed)} of {len(self.bins)} bins never hit: {names}"

    def table(self) -> str:
        """One line per bin (point, label, hits), then the verdict."""
        width = max((len(b.name) for b in self.bins), default=0)
        lines = [f"  {b.name:<{width}}  {b.hits:>8}{'  MISSED' if not b.hits else ''}"
                 for b in self.bins]
        return "\n".join([*lines, self.verdict()])

    def merge(self, *others: CoverageReport) -> CoverageReport:
        """The hits of this run and ``others`` added bin by bin (bins of any of them)."""
        hits: dict[tuple[str, str], int] = {}
        for report in (self, *others):
            for b in report.bins:
                hits[b.point, b.label] = hits.get((b.point, b.label), 0) + b.hits
        return CoverageReport(tuple(CoverBin(p, label, n) for (p, label), n in hits.items()))


def read_coverage(path: Path) -> CoverageReport:
    """The report of a coverage file; ``ValueError`` if it is not one."""
    try:
        data = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"cannot read the coverage file {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError(f"{path} is not a cocotb-coverage YAML export")
    bins = []
    for name, item in data.items():  # cocotb-coverage writes the points sorted by name
        hits = item.get("bins:_hits") if isinstance(item, dict) else None
        if hits is None or not str(name).startswith(_ROOT):
            continue  # a cover group (no bins of its own) or not ours
        point = str(name)[len(_ROOT):]
        labels = sorted(hits, key=_natural)
        bins += [CoverBin(point, str(label), int(hits[label])) for label in labels]
    return CoverageReport(tuple(bins))


def _natural(label) -> tuple:
    return tuple(int(part) if part.isdigit() else part
                 for part in re.split(r"(\d+)", str(label)))
