"""The testbenches' coverage helpers (``qtpe.tb.coverage``): the shared bins, and points that
cocotb-coverage counts and exports for ``qtpe.sim.coverage`` to read back. (cocotb-coverage
itself needs no simulator; its database is one per process, so each test here declares
points of its own names.)"""

import atexit

import numpy as np
import pytest
from cocotb_coverage.coverage import coverage_db

from qtpe.hdl.formats import AccType, Overflow
from qtpe.sim.coverage import read_coverage
from qtpe.tb import coverage as tb_coverage
from qtpe.tb.coverage import COVERAGE_ENV, Coverage, min_x_min_lanes, overflow_bins, overflow_hits

WRAP8 = AccType(8, True)


@pytest.fixture(autouse=True)
def no_export_at_exit():
    """A Coverage with a file exports it when the process ends; not this test process."""
    yield
    atexit.unregister(coverage_db.export_to_yaml)
    tb_coverage._EXPORTS.clear()
SAT8U = AccType(8, False, Overflow.SATURATE)


@pytest.mark.parametrize("acc,bins", [
    (WRAP8, ["wrap above max", "wrap below min"]),
    (AccType(8, False), ["wrap above max"]),
    (AccType(8, True, Overflow.SATURATE), ["saturate at max", "saturate at min"]),
    (SAT8U, ["saturate at max"]),
])
def test_overflow_bins_follow_the_accumulator(acc, bins):
    assert overflow_bins(acc) == bins


def test_overflow_hits_are_exact_sums_beyond_the_range():
    assert overflow_hits(WRAP8, 127) == set() and overflow_hits(WRAP8, -128) == set()
    assert overflow_hits(WRAP8, 128) == {"wrap above max"}
    assert overflow_hits(WRAP8, -129) == {"wrap below min"}
    assert overflow_hits(WRAP8, np.array([200, -300])) == {"wrap above max", "wrap below min"}
    assert overflow_hits(SAT8U, 256) == {"saturate at max"} and overflow_hits(SAT8U, 255) == set()
    assert overflow_hits(WRAP8, None) == set()
    assert overflow_hits(AccType(24, True), 1 << 126) == {"wrap above max"}  # beyond int64


def test_min_x_min_names_the_lanes():
    assert min_x_min_lanes([-8, -8, 7, -8], [-128, 5, -128, -128], -8, -128) == {"lane 0",
                                                                                  "lane 3"}
    assert min_x_min_lanes(-8, -128, -8, -128) == {"lane 0"}
    assert min_x_min_lanes([-7], [-128], -8, -128) == set()


def test_disabled_without_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv(COVERAGE_ENV, raising=False)
    cov = Coverage()
    cov.point("test_tb_coverage_off", ["a"])
    cov.sample("test_tb_coverage_off", "a")
    cov.write()
    assert not cov.enabled and not list(tmp_path.iterdir())


def test_points_count_and_export(tmp_path, monkeypatch):
    path = tmp_path / "coverage.yml"
    monkeypatch.setenv(COVERAGE_ENV, str(path))
    cov = Coverage()
    cov.point("test_tb_coverage_a", ["x", "y", "never"])
    cov.point("test_tb_coverage_b", ["lane 0", "lane 1"])
    for hits in ("x", {"x", "y"}, set(), {"z"}):
        cov.sample("test_tb_coverage_a", hits)
    cov.sample("test_tb_coverage_b", {"lane 1"})
    cov.sample("test_tb_coverage_undeclared", "x")  # a point that does not apply: ignored
    again = Coverage()  # the next test of the run declares the same points: hits add up
    again.point("test_tb_coverage_b", ["lane 0", "lane 1"])
    again.sample("test_tb_coverage_b", "lane 1")
    again.write()
    got = {(b.point, b.label): b.hits for b in read_coverage(path).bins
           if b.point.startswith("test_tb_coverage")}
    assert got == {("test_tb_coverage_a", "x"): 2, ("test_tb_coverage_a", "y"): 1,
                   ("test_tb_coverage_a", "never"): 0, ("test_tb_coverage_b", "lane 0"): 0,
                   ("test_tb_coverage_b", "lane 1"): 2}


def test_repeated_labels_are_refused(tmp_path):
    with pytest.raises(ValueError, match="repeat"):
        Coverage(str(tmp_path / "c.yml")).point("test_tb_coverage_dup", ["a", "a"])
