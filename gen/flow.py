"""The flow as library functions: generate, simulate, synthesize. The CLI is a thin layer on top."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from qtpe.hdl.array_config import ArrayConfig
from qtpe.hdl.config import PEConfig
from qtpe.hdl.formats import show
from qtpe.hdl.kinds import kind_of
from qtpe.sim.runner import SIMULATORS, SimResult, lint, run_cocotb, testcases

from .config import ConfigError
from .emit import write_design
from .outputs import check_dir, write_files

__all__ = ["FlowResult", "simulate", "synthesize", "write_report", "run_flow", "SYNTH_TARGETS"]


def simulate(
    cfg: PEConfig,
    simulator: str,
    workdir: Path,
    *,
    seed: int | None = None,
    waves: bool = False,
    testcase: str | None = None,
    verilog: Path | None = None,
) -> SimResult:
    """Emit the design into ``workdir/<simulator>`` and run its cocotb tests there (only
    ``testcase``, when given: ``ConfigError`` if the tests have none of that name), with their
    functional coverage (``SimResult.coverage``; ``ok`` needs every bin hit). ``verilog``: run
    the tests on this Verilog of the design instead (a mutant)."""
    if testcase is not None:
        module = "qtpe.tb.test_array" if isinstance(cfg, ArrayConfig) else \
            kind_of(cfg).testbench
        known = testcases(module)
        if testcase not in known:
            raise ConfigError(f"unknown testcase {show(testcase)} for {cfg.name}; available: "
                              f"{', '.join(known)}")
    if isinstance(cfg, ArrayConfig):  # arrays run whole GEMMs through a simulation harness
        from .gemm import simulate_array

        return simulate_array(cfg, simulator, workdir, seed=seed, waves=waves,
                              testcase=testcase, dut=None if verilog is None else [verilog])
    build_dir = Path(workdir) / simulator
    vpath = Path(verilog) if verilog is not None else write_design(cfg, build_dir)[0]
    return run_cocotb(
        simulator,
        [vpath],
        cfg.name,
        build_dir,
        kind_of(cfg).testbench,
        extra_env={"QTPE_CONFIG": json.dumps(cfg.to_dict())},
        seed=seed,
        waves=waves,
        testcase=testcase,
        coverage=True,
    )


def synthesize(cfg: PEConfig, target: str, workdir: Path):
    """Emit the design and synthesize it for ``target``; return the typed report."""
    from qtpe.synth import synthesize as run_synth

    vpath, _ = write_design(cfg, Path(workdir) / "rtl")
    return run_synth(vpath, cfg.name, target, Path(workdir) / target)


SYNTH_TARGETS = ("generic", "ecp5", "asic")


@dataclass(frozen=True)
class FlowResult:
    config: PEConfig
    verilog: Path
    sims: tuple[SimResult, ...]
    reports: tuple  # of qtpe.synth.SynthReport, one per target

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.sims)

    def summary(self) -> str:
        cfg = self.config
        what = f"{cfg.pe} PE"
        if isinstance(cfg, ArrayConfig):
            what = f"{cfg.rows}x{cfg.cols} {cfg.dataflow.value.upper()} array of {what}s"
        lines = [
            f"{cfg.name}: {what}, {cfg.weight} x {cfg.activation} -> {cfg.acc}, "
            f"latency {cfg.latency}",
            f"  rtl        {self.verilog} (verilator -Wall lint clean)",
        ]
        for r in self.sims:
            status = "PASS" if r.ok else "FAIL"
            lines.append(f"  {r.simulator:<10} {status} {r.passed}/{r.tests} cocotb tests "
                         f"vs golden model (seed {r.seed})"
                         + (f"; {r.coverage.verdict()}" if r.coverage else ""))
        for rep in self.reports:
            lines.append(f"  {rep.target.value:<10} {_headline(rep.result)}")
        return "\n".join(lines)


def _headline(result) -> str:
    """One line of the numbers a hardware engineer looks at first."""
    from qtpe.synth import AsicReport, Ecp5Report

    if isinstance(result, Ecp5Report):
        return (f"LUT4 {result.lut4_count}, FF {result.ff_count}, CCU2C {result.carry_count}, "
                f"DSP {result.dsp_count}, Fmax {result.fmax_mhz:.1f} MHz (registered I/O)")
    if isinstance(result, AsicReport):
        return (f"OSU 0.18 um area {result.area_um2:.0f} um^2, {result.cell_count} cells, "
                f"Fmax {result.fmax_mhz:.1f} MHz (OpenSTA, registered I/O)")
    return (f"{result.cell_count} generic cells, {result.ff_count} FF, "
            f"logic depth {result.logic_depth}")


def write_report(report, outdir: Path) -> list[Path]:
    """``<top>.<target>.json`` and ``.md`` of a synthesis report, written together."""
    stem = f"{report.top}.{report.target.value}"
    return write_files(outdir, {f"{stem}.json": report.to_json(),
                                f"{stem}.md": report.to_markdown()})


def run_flow(cfg: PEConfig, outdir: Path, *, seed: int | None = None) -> FlowResult:
    """Generate, lint, simulate on every simulator, synthesize for every target.

    Writes ``outdir/rtl/<top>.{v,json}``, simulator builds under ``outdir/sim`` and reports
    ``outdir/synth/<top>.<target>.{json,md}``.
    """
    outdir = check_dir(outdir)
    vpath, _ = write_design(cfg, outdir / "rtl")
    lint(vpath, cfg.name)
    sims = tuple(simulate(cfg, s, outdir / "sim", seed=seed) for s in SIMULATORS)
    reports = []
    for target in SYNTH_TARGETS:
        report = synthesize(cfg, target, outdir / "synth" / "work")
        write_report(report, outdir / "synth")
        reports.append(report)
    return FlowResult(cfg, vpath, sims, tuple(reports))
