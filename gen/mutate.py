"""Mutation score of a design's regression (``qtpe mutate``).

``run_mutation(cfg, outdir, count=N, seed=S, jobs=J)``:

1. Emits the design's Verilog (as ``qtpe generate``), runs Yosys ``prep`` and
   ``mutate -list N -seed S`` on it (``qtpe.synth.mutate``).
2. Runs the design's own regression (``qtpe.gen.flow.simulate``: the kind's cocotb test module
   for a PE, ``qtpe.tb.test_array`` for an array) on Icarus with seed S, first on the
   unmutated design as Yosys writes it back (the baseline: it must pass, and its time sets
   the timeout), then on each mutant, ``J`` at a time, each in a worker process of its own.
   A mutant is *killed* when a test fails, when the simulator cannot build it, when the
   simulation ends without results, or when it runs past the timeout; the four are counted
   apart.
3. Every survivor is checked against the original (``qtpe.synth.mutate.check_equivalence``:
   ``equiv_make``/``equiv_simple``/``equiv_induct``, else a miter for ``depth`` cycles):
   proved equivalent, equivalent for ``depth`` cycles (bounded proof), or different (a
   counterexample: the regression misses it).
4. Writes ``mutation.json`` and ``mutation.md`` into ``outdir`` together.

Results are cached in ``outdir/cache`` (one JSON file per mutant or check, written
atomically), keyed by a SHA-256 of the original Verilog, the mutation, the testbench sources
(``tb/``, the array harness), the simulator, the seed and the Yosys version: a re-run redoes
nothing that is still valid. Timeouts are not cached (they depend on the machine's load).

Icarus is the simulator: on the small designs a mutation run is made for, one Icarus run of
a PE's regression takes 2-5 s with no compile step, Verilator 11 s or more (a C++ build per
mutant; measured on the 2-core development machine).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import hashlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from qtpe import __version__
from qtpe.hdl.array_config import ArrayConfig
from qtpe.hdl.formats import show
from qtpe.sim.guard import guarded
from qtpe.sim.runner import SimError
from qtpe.synth.mutate import (
    Equivalence,
    Location,
    Mutation,
    check_equivalence,
    list_mutations,
    locate,
    prepare,
)
from qtpe.synth.tools import SynthError, yosys_version

from .config import ConfigError
from .emit import design_id, write_design
from .outputs import check_dir, scratch, write_file, write_files

__all__ = ["MutantResult", "MutationReport", "run_mutation", "regress", "OUTCOMES", "SIMULATOR",
           "DEFAULT_COUNT", "DEFAULT_SEED", "DEFAULT_DEPTH", "check_options"]

_log = logging.getLogger(__name__)

SIMULATOR = "icarus"
DEFAULT_COUNT = 50
DEFAULT_SEED = 1
DEFAULT_DEPTH = 20
MAX_COUNT = 10000
MAX_JOBS = 256
#: Outcomes of a mutant's regression run: killed by a failing test, by a failed simulator
#: build, by a simulation that ended without results, by the timeout; or survived.
OUTCOMES = ("test", "build", "crash", "timeout", "survived")
SCHEMA = "qtpe.mutation/1"
_CACHE_VERSION = 1


@dataclass(frozen=True)
class MutantResult:
    """One mutant: its mutation and where it sits in the emitted Verilog, how the regression
    ended (``outcome``, one of ``OUTCOMES``; ``failed_tests`` names the failing cocotb tests),
    and for a survivor the equivalence check against the original."""

    index: int
    mutation: Mutation
    location: Location
    outcome: str
    tests: int = 0
    failed_tests: tuple[str, ...] = ()
    seconds: float = 0.0
    message: str = ""
    equivalence: Equivalence | None = None
    cached: bool = False

    @property
    def killed(self) -> bool:
        return self.outcome != "survived"

    def classification(self) -> str:
        if self.killed:
            return f"killed ({self.outcome})"
        if self.equivalence is None:
            return "survived (not checked)"
        return str(self.equivalence)

    def to_dict(self) -> dict:
        return {"index": self.index, "mutation": self.mutation.to_dict(),
                "command": self.mutation.command(),
                "location": {"file": self.location.file, "line": self.location.line,
                             "text": self.location.text, "wire": self.location.wire,
                             "wire_line": self.location.wire_line},
                "outcome": self.outcome, "killed": self.killed, "tests": self.tests,
                "failed_tests": list(self.failed_tests), "seconds": round(self.seconds, 2),
                "message": self.message, "cached": self.cached,
                "equivalence": None if self.equivalence is None else
                self.equivalence.to_dict(),
                "classification": self.classification()}


@dataclass(frozen=True)
class MutationReport:
    """A mutation run of one design."""

    config: dict
    top: str
    design_id: str
    count: int
    seed: int
    depth: int
    jobs: int
    timeout_s: float
    baseline_seconds: float
    testbench: str
    mutants: tuple[MutantResult, ...]
    wall_seconds: float
    tools: dict = field(default_factory=dict)
    simulator: str = SIMULATOR

    @property
    def killed(self) -> int:
        return sum(m.killed for m in self.mutants)

    @property
    def survivors(self) -> tuple[MutantResult, ...]:
        return tuple(m for m in self.mutants if not m.killed)

    def by_outcome(self) -> dict[str, int]:
        return {o: sum(m.outcome == o for m in self.mutants) for o in OUTCOMES}

    @property
    def cached(self) -> int:
        """Mutants whose regression result came from the cache."""
        return sum(m.cached for m in self.mutants)

    @property
    def kill_rate(self) -> float:
        """Killed mutants over all mutants."""
        return self.killed / len(self.mutants) if self.mutants else 0.0

    @property
    def equivalent(self) -> int:
        """Survivors proved equivalent (by induction or bounded)."""
        return sum(m.equivalence is not None and m.equivalence.equivalent
                   for m in self.survivors)

    @property
    def score(self) -> float:
        """Killed mutants over the mutants not shown equivalent."""
        rest = len(self.mutants) - self.equivalent
        return self.killed / rest if rest else 1.0

    def to_dict(self) -> dict:
        return {"schema": SCHEMA, "generator": f"qtpe {__version__}", "top": self.top,
                "design_id": self.design_id, "config": self.config, "count": self.count,
                "seed": self.seed, "depth": self.depth, "jobs": self.jobs,
                "simulator": self.simulator, "testbench": self.testbench,
                "timeout_s": round(self.timeout_s, 1),
                "baseline_seconds": round(self.baseline_seconds, 2),
                "wall_seconds": round(self.wall_seconds, 1), "cached": self.cached,
                "tools": self.tools,
                "mutants_total": len(self.mutants), "killed": self.killed,
                "killed_by": {o: n for o, n in self.by_outcome().items() if o != "survived"},
                "survived": len(self.survivors), "equivalent": self.equivalent,
                "kill_rate": round(self.kill_rate, 4), "score": round(self.score, 4),
                "mutants": [m.to_dict() for m in self.mutants]}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    def headline(self) -> str:
        by = self.by_outcome()
        return (f"{self.top}: {self.killed}/{len(self.mutants)} mutants killed "
                f"({self.kill_rate:.1%}; {by['test']} by a failing test, {by['build']} "
                f"build, {by['crash']} crash, {by['timeout']} timeout), "
                f"{len(self.survivors)} survived ({self.equivalent} shown equivalent); "
                f"score without equivalents {self.score:.1%}")

    def survivor_lines(self) -> list[str]:
        return [f"  #{m.index} {m.location}: {m.mutation.describe()} [{m.mutation.mode}] -- "
                f"{m.classification()}\n      {m.location.text}" for m in self.survivors]

    def summary(self) -> str:
        return "\n".join([self.headline(), *self.survivor_lines()])

    def to_markdown(self) -> str:
        by = self.by_outcome()
        out = [
            f"# Mutation score: {self.top}",
            "",
            f"Config: `{json.dumps(self.config, sort_keys=True)}`  ",
            f"Design id `{self.design_id[:16]}`; Yosys `mutate -list {self.count} -seed "
            f"{self.seed}` on the emitted Verilog after `prep`; regression `{self.testbench}` "
            f"on {self.simulator}, seed {self.seed}; timeout {self.timeout_s:.0f} s "
            f"(baseline run {self.baseline_seconds:.1f} s); {self.jobs} jobs, "
            f"{self.wall_seconds:.0f} s wall ({self.cached} of {len(self.mutants)} results "
            f"from the cache).",
            "",
            "| mutants | killed | by a failing test | build | crash | timeout | survived "
            "| shown equivalent | kill rate | score without equivalents |",
            "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
            f"| {len(self.mutants)} | {self.killed} | {by['test']} | {by['build']} "
            f"| {by['crash']} | {by['timeout']} | {len(self.survivors)} | {self.equivalent} "
            f"| {self.kill_rate:.1%} | {self.score:.1%} |",
            "",
        ]
        if self.survivors:
            out += ["## Survivors", "",
                    "Location: the cell's statement in the emitted Verilog (Yosys `src`), and "
                    "the wire on the mutated bit with its declaration line.", "",
                    "| # | location | statement | mutation | classification |",
                    "| ---: | --- | --- | --- | --- |"]
            for m in self.survivors:
                text = m.location.text.replace("|", "\\|")
                out.append(f"| {m.index} | `{m.location}` | `{text}` "
                           f"| `{m.mutation.describe()}` ({m.mutation.mode}) "
                           f"| {m.classification()} |")
            out.append("")
        out += ["Tools: " + "; ".join(f"{k} {v}" for k, v in sorted(self.tools.items())), ""]
        return "\n".join(out)


def check_options(count: int, seed: int, jobs: int | None, depth: int) -> int:
    """The number of jobs (default: the core count); ``ConfigError`` naming a bad value."""
    if not isinstance(count, int) or not 1 <= count <= MAX_COUNT:
        raise ConfigError(f"--count {show(count)} is out of range; allowed: 1..{MAX_COUNT}")
    if not isinstance(seed, int) or not 0 <= seed < 1 << 31:
        raise ConfigError(f"--seed {show(seed)} is out of range; allowed: 0..{(1 << 31) - 1}")
    if not isinstance(depth, int) or not 1 <= depth <= 1000:
        raise ConfigError(f"--depth {show(depth)} is out of range; allowed: 1..1000")
    if jobs is None:
        return max(os.cpu_count() or 1, 1)
    if not isinstance(jobs, int) or not 1 <= jobs <= MAX_JOBS:
        raise ConfigError(f"--jobs {show(jobs)} is out of range; allowed: 1..{MAX_JOBS}")
    return jobs


def _testbench(cfg) -> str:
    if isinstance(cfg, ArrayConfig):
        return "qtpe.tb.test_array"
    from qtpe.hdl.kinds import kind_of

    return kind_of(cfg).testbench


def _testbench_digest(testbench: str) -> str:
    """SHA-256 over the testbench sources: the test module ``testbench``, every other file of
    ``qtpe/tb`` but the other test modules (drivers, monitors, models), and for arrays the
    harness generator."""
    root = Path(__file__).resolve().parent.parent
    own = root / Path(*testbench.split(".")[1:]).with_suffix(".py")
    files = [f for f in sorted((root / "tb").rglob("*.py"))
             if f == own or not f.name.startswith("test_")]
    if testbench == "qtpe.tb.test_array":
        files += [root / "gen" / "harness.py", root / "gen" / "gemm.py"]
    if own not in files:
        raise SimError(f"test module {testbench} not found at {own}")
    h = hashlib.sha256()
    for f in files:
        h.update(str(f.relative_to(root)).encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()


def _key(**parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


class _Cache:
    """One JSON file per key in ``folder``, each written atomically."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def get(self, key: str) -> dict | None:
        path = self.folder / f"{key}.json"
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        return data if data.get("version") == _CACHE_VERSION else None

    def put(self, key: str, data: dict) -> None:
        write_file(self.folder / f"{key}.json",
                   json.dumps({"version": _CACHE_VERSION, **data}, indent=1) + "\n")


class _Workers:
    """The running worker processes (each leads a process group), killed together on an
    error or Ctrl-C."""

    def __init__(self):
        self.lock = threading.Lock()
        self.procs: set[subprocess.Popen] = set()
        self.stopping = False

    def run(self, argv: list[str], log: Path, timeout: float) -> int | None:
        """Exit status, or ``None`` if the worker ran past ``timeout`` (then killed)."""
        with self.lock:
            if self.stopping:
                raise KeyboardInterrupt
            with open(log, "w") as out:
                proc = subprocess.Popen(guarded(argv), stdin=subprocess.DEVNULL, stdout=out,
                                        stderr=subprocess.STDOUT)
            self.procs.add(proc)
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill(proc)
            return None
        finally:
            with self.lock:
                self.procs.discard(proc)

    def stop(self) -> None:
        with self.lock:
            self.stopping = True
            procs = list(self.procs)
        for proc in procs:
            _kill(proc)


def _kill(proc: subprocess.Popen) -> None:
    """SIGTERM to the guard: it kills its whole group (the worker and all it started)."""
    with contextlib.suppress(OSError):
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def run_mutation(cfg, outdir, *, count: int = DEFAULT_COUNT, seed: int = DEFAULT_SEED,
                 jobs: int | None = None, depth: int = DEFAULT_DEPTH,
                 timeout_s: float | None = None) -> MutationReport:
    """Mutate ``cfg``'s Verilog ``count`` times, run the regression on every mutant, check
    the survivors for equivalence, write ``outdir/mutation.{json,md}`` (cache in
    ``outdir/cache``) and return the report. ``timeout_s``: per mutant run (default 10 times
    the baseline run, at least 60 s). ``ConfigError`` for bad options (before any work),
    ``SimError`` when the regression fails on the unmutated design, ``SynthError`` when Yosys
    fails."""
    jobs = check_options(count, seed, jobs, depth)
    outdir = check_dir(outdir)
    check_dir(outdir / "cache", "cache folder")
    start = time.monotonic()
    cache = _Cache(outdir / "cache")
    testbench = _testbench(cfg)
    with scratch("mutate") as work:
        vpath, _ = write_design(cfg, work / "rtl")
        original = vpath.read_text()
        ydir = prepare(vpath, cfg.name, work / "yosys")
        _log.info(f"yosys: mutate -list {count} -seed {seed} on {cfg.name}")
        mutations = list_mutations(ydir, count, seed)
        lines = original.splitlines()
        base = dict(verilog=original, tb=_testbench_digest(testbench), simulator=SIMULATOR,
                    seed=seed, yosys=yosys_version(), config=cfg.to_dict())
        workers = _Workers()
        runner = _MutantRunner(cfg, ydir, cache, base, workers, seed)
        try:
            _log.info(f"{SIMULATOR}: regression {testbench} on the unmutated design "
                      f"(Yosys round trip)")
            baseline = runner.run(0, Mutation.NONE, timeout=3600.0)
            if baseline["outcome"] != "survived":
                raise SimError(f"the regression {testbench} fails on the unmutated "
                               f"{cfg.name} as Yosys writes it back ({baseline['outcome']}: "
                               f"{baseline.get('message') or baseline['failed_tests']}); "
                               f"log in {ydir}")
            limit = timeout_s if timeout_s is not None else max(60.0,
                                                                10 * baseline["seconds"])
            done = [0]

            def one(i: int, m: Mutation) -> MutantResult:
                r = runner.run(i, m, timeout=limit)
                done[0] += 1
                _log.info(f"mutant {done[0]}/{len(mutations)} (#{i}, {m.describe()}): "
                          f"{'killed' if r['outcome'] != 'survived' else 'survived'}"
                          f"{' (cached)' if r.get('cached') else ''}")
                return MutantResult(i, m, locate(ydir, m, lines), r["outcome"], r["tests"],
                                    tuple(r["failed_tests"]), r["seconds"], r["message"],
                                    cached=bool(r.get("cached")))

            results = _parallel(jobs, one, list(enumerate(mutations, 1)), workers.stop)
            survivors = [r for r in results if not r.killed]
            if survivors:
                _log.info(f"yosys: equivalence of {len(survivors)} survivors with the "
                          f"original (depth {depth})")
            checked = dict(_parallel(jobs, lambda i, r: (r.index, runner.equivalence(
                r.mutation, depth)), list(enumerate(survivors)), workers.stop))
        finally:
            workers.stop()
        results = [r if r.killed else _with_equivalence(r, checked[r.index])
                   for r in results]
    report = MutationReport(
        config=cfg.to_dict(), top=cfg.name, design_id=design_id(cfg), count=count, seed=seed,
        depth=depth, jobs=jobs, timeout_s=limit, baseline_seconds=baseline["seconds"],
        testbench=testbench, mutants=tuple(results),
        wall_seconds=time.monotonic() - start, tools=_tools())
    write_files(outdir, {"mutation.json": report.to_json(), "mutation.md": report.to_markdown()})
    return report


def _with_equivalence(r: MutantResult, eq: Equivalence) -> MutantResult:
    from dataclasses import replace

    return replace(r, equivalence=eq)


def _parallel(jobs: int, fn, items: list, stop) -> list:
    """``fn(*item)`` for every item, ``jobs`` at a time, results in order; the first error
    (or Ctrl-C) cancels the rest and ``stop()``s the running workers."""
    if jobs == 1 or len(items) <= 1:
        return [fn(*item) for item in items]
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(fn, *item) for item in items]
        try:
            return [f.result() for f in futures]
        except BaseException:
            for f in futures:
                f.cancel()
            stop()
            raise


def _tools() -> dict:
    import importlib.metadata

    out = {"yosys": yosys_version()}
    try:
        proc = subprocess.run(["iverilog", "-V"], capture_output=True, text=True, check=False)
        first = (proc.stdout.splitlines() or ["unknown"])[0]
        out["icarus"] = first.replace(" ()", "").strip()
    except OSError:
        out["icarus"] = "unknown"
    for dist in ("cocotb", "amaranth"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            out[dist] = importlib.metadata.version(dist)
    return out


class _MutantRunner:
    """Runs one mutant's regression in a worker process (cached), and equivalence checks."""

    def __init__(self, cfg, ydir: Path, cache: _Cache, base: dict, workers: _Workers,
                 seed: int):
        self.cfg, self.ydir, self.cache, self.base = cfg, ydir, cache, base
        self.workers, self.seed = workers, seed

    def run(self, index: int, mutation: Mutation, timeout: float) -> dict:
        key = _key(what="sim", mutation=mutation.command(), **self.base)
        hit = self.cache.get(key)
        if hit is not None:
            return {**hit, "cached": True}
        jobdir = self.ydir / f"m{index:04d}"
        jobdir.mkdir(parents=True, exist_ok=True)
        job = {"config": self.cfg.to_dict(), "mutation": mutation.to_dict(),
               "ydir": str(self.ydir), "jobdir": str(jobdir), "index": index,
               "seed": self.seed}
        (jobdir / "job.json").write_text(json.dumps(job))
        (jobdir / "result.json").unlink(missing_ok=True)
        started = time.monotonic()
        status = self.workers.run([sys.executable, "-m", "qtpe.gen.mutate",
                                   str(jobdir / "job.json")], jobdir / "worker.log", timeout)
        seconds = time.monotonic() - started
        if status is None:
            return {"outcome": "timeout", "tests": 0, "failed_tests": [], "seconds": seconds,
                    "message": f"no result after {timeout:.0f} s"}
        try:
            result = json.loads((jobdir / "result.json").read_text())
        except (OSError, ValueError):
            log = (jobdir / "worker.log").read_text(errors="replace")[-3000:]
            raise SimError(f"mutant worker #{index} exited with status {status} and no "
                           f"result:\n{log}") from None
        if result["outcome"] == "error":
            raise SynthError(f"mutant #{index} ({mutation.command()}): {result['message']}")
        self.cache.put(key, result)
        return result

    def equivalence(self, mutation: Mutation, depth: int) -> Equivalence:
        key = _key(what="equiv", method=5, mutation=mutation.command(), depth=depth,
                   verilog=self.base["verilog"], yosys=self.base["yosys"])
        hit = self.cache.get(key)
        if hit is not None:
            return Equivalence(hit["verdict"], hit["depth"])
        name = "equiv_" + hashlib.sha256(mutation.command().encode()).hexdigest()[:12]
        eq = check_equivalence(self.ydir, mutation, self.cfg.name, depth, name=name)
        if eq.verdict != "timeout":
            self.cache.put(key, eq.to_dict())
        return eq


def _failed_tests(results_xml: Path) -> tuple[int, list[str]]:
    root = ET.parse(results_xml).getroot()
    cases = list(root.iter("testcase"))
    failed = [c.get("name", "?") for c in cases
              if c.find("failure") is not None or c.find("error") is not None]
    return len(cases), failed


def regress(cfg, ydir: Path, mutation: Mutation, jobdir: Path, seed: int) -> dict:
    """In this process: write the mutant of the prepared design in ``ydir`` into ``jobdir``
    and run the regression on it. Returns ``outcome`` (one of ``OUTCOMES`` but
    ``timeout``; ``error`` when Yosys cannot apply the mutation), ``tests``,
    ``failed_tests``, ``seconds`` and ``message``."""
    from qtpe.synth.mutate import write_mutant

    from .flow import simulate

    jobdir = Path(jobdir)
    jobdir.mkdir(parents=True, exist_ok=True)
    result = {"outcome": "error", "tests": 0, "failed_tests": [], "seconds": 0.0,
              "message": ""}
    started = time.monotonic()
    try:
        mutant = write_mutant(Path(ydir), mutation, jobdir / "mutant.v",
                              name=f"{jobdir.name}_write")
    except SynthError as exc:
        result["message"] = str(exc)[:2000]
        return result
    try:
        sim = simulate(cfg, SIMULATOR, jobdir, seed=seed, verilog=mutant)
        tests, failed = _failed_tests(sim.results_xml)
        outcome = "crash" if not tests else "test" if failed else "survived"
        result.update(outcome=outcome, tests=tests, failed_tests=failed)
    except SimError as exc:
        first = str(exc).split("\n", 1)[0]
        result.update(outcome="build" if " build of " in first else "crash",
                      message=first[:300])
    result["seconds"] = round(time.monotonic() - started, 2)
    return result


def _worker(job_path: Path) -> int:
    """A worker process: one mutant (``job.json``), its result in ``result.json`` beside."""
    from .config import from_dict

    job = json.loads(Path(job_path).read_text())
    jobdir = Path(job["jobdir"])
    result = regress(from_dict(job["config"]), Path(job["ydir"]),
                     Mutation.from_dict(job["mutation"]), jobdir, job["seed"])
    (jobdir / "result.json").write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(_worker(Path(sys.argv[1])))
