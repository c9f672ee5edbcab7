"""Reading back the functional coverage a cocotb run recorded (``qtpe.sim.coverage``): the
report, its verdict and table, merging runs, and bad files."""

import pytest

from qtpe.sim.coverage import CoverageReport, CoverBin, read_coverage

# What cocotb-coverage's ``export_to_yaml`` writes (keys sorted, as yaml.dump sorts them).
EXPORT = """\
qtpe:
  cover_percentage: 75.0
  coverage: 3
  size: 4
  type: <class 'cocotb_coverage.coverage.CoverItem'>
qtpe.clear:
  at_least: 1
  bins:_hits:
    with valid: 40
    without valid: 2
  coverage: 2
  size: 2
qtpe.min_x_min:
  at_least: 1
  bins:_hits:
    lane 10: 3
    lane 2: 0
    lane 1: 5
  coverage: 2
  size: 3
other.point:
  bins:_hits:
    x: 0
"""


def report(*bins) -> CoverageReport:
    return CoverageReport(tuple(CoverBin(*b) for b in bins))


def test_read_keeps_our_points_in_natural_order(tmp_path):
    path = tmp_path / "coverage.yml"
    path.write_text(EXPORT)
    got = read_coverage(path)
    assert [(b.point, b.label, b.hits) for b in got.bins] == [
        ("clear", "with valid", 40), ("clear", "without valid", 2),
        ("min_x_min", "lane 1", 5), ("min_x_min", "lane 2", 0), ("min_x_min", "lane 10", 3)]
    assert not got.ok and [b.name for b in got.missed] == ["min_x_min: lane 2"]


def test_verdict_names_every_missed_bin():
    r = report(("overflow", "wrap above max", 0), ("overflow", "wrap below min", 0),
               ("clear", "with valid", 7))
    assert not r.ok and r.hit == 1
    assert r.verdict() == ("coverage: 2 of 3 bins never hit: overflow: wrap above max, "
                           "overflow: wrap below min")
    assert report(("clear", "with valid", 1)).verdict() == "coverage: all 1 bins hit"


def test_no_bins_is_not_covered():
    empty = CoverageReport(())
    assert not empty.ok and empty.verdict() == "coverage: no bins declared"


def test_table_lists_every_bin_with_its_hits():
    lines = report(("clear", "with valid", 12), ("overflow", "wrap above max", 0)).table()
    lines = lines.splitlines()
    assert lines[0].split() == ["clear:", "with", "valid", "12"]
    assert lines[1].split() == ["overflow:", "wrap", "above", "max", "0", "MISSED"]
    assert lines[2].startswith("coverage: 1 of 2 bins never hit")


def test_merge_adds_hits_bin_by_bin():
    a = report(("overflow", "wrap above max", 0), ("clear", "with valid", 3))
    b = report(("overflow", "wrap above max", 2), ("clear", "with valid", 1),
               ("clear", "without valid", 1))
    merged = a.merge(b)
    assert {(x.name, x.hits) for x in merged.bins} == {
        ("overflow: wrap above max", 2), ("clear: with valid", 4), ("clear: without valid", 1)}
    assert merged.ok and not a.ok


@pytest.mark.parametrize("text", ["just text", "[1, 2]", "a: [b"])
def test_bad_file_raises(tmp_path, text):
    path = tmp_path / "coverage.yml"
    path.write_text(text)
    with pytest.raises(ValueError, match="coverage"):
        read_coverage(path)
