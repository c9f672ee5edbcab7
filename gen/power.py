"""``qtpe power``: energy per MAC of a design from a simulated workload on its ASIC netlist.

``run_power`` synthesizes the design with the ASIC flow (OSU 0.18 um, buffered; the design
alone, no I/O registers), simulates the mapped netlist itself (gate level, zero delay, cell
models from the Liberty functions) under the workload, and combines the toggles of every net
with OpenSTA's per-instance power (:mod:`qtpe.synth.power` states the method and its limits).
The workload is checked as usual: the gate-level run must match the golden model.

Workloads: an array runs ``C = A @ W`` through the GEMM harness (operands given, or uniform
random over the formats' values); a PE runs its testbench's ``random_stream``; ``idle`` clocks
the design with every input at 0 after a reset (no MACs: energy per cycle only).

Activity comes from Verilator's SAIF (``--trace-saif``: counted while it runs) or from an
Icarus VCD of the netlist's own scope (``$dumpvars`` depth 1), read by
:mod:`qtpe.sim.activity`.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qtpe.hdl.array_config import ArrayConfig
from qtpe.hdl.config import PEConfig
from qtpe.hdl.kinds import kind_of
from qtpe.sim.activity import Activity, read_saif, read_vcd
from qtpe.sim.runner import SimError, run_cocotb
from qtpe.synth import flows
from qtpe.synth.install import liberty_path, sta_path
from qtpe.synth.power import (
    PowerReport,
    cell_models,
    combine,
    instance_power,
    simulation_netlist,
)
from qtpe.synth.reports import SynthReport, Target
from qtpe.synth.tools import sta_version, yosys_version
from qtpe.tb.common import CLOCK_NS
from qtpe.tb.models.formats import Operand

from .config import ConfigError
from .emit import write_design
from .gemm import GemmOperandError, check_gemm, harness_name, load_operand, run_gemm
from .outputs import check_dir, work_folder, write_files

__all__ = ["PowerResult", "PowerSetup", "run_power", "power_command", "DEFAULT_CLOCK_MHZ",
           "IDLE_CYCLES", "default_operands", "trace_setup", "read_activity"]

_log = logging.getLogger(__name__)

#: Clock of the power numbers unless ``--clock-mhz`` says otherwise (energy per cycle hardly
#: depends on it: only the leakage share does).
DEFAULT_CLOCK_MHZ = 100.0
#: Cycles of an ``idle`` run after its reset.
IDLE_CYCLES = 500
_DUMP_MODULE = "qtpe_power_dump"
_VCD = "power.vcd"
_SAIF = "dump.saif"
_STATS = "power.stats.json"
#: Verilator's C++ of a gate-level netlist is large: split into files (``--output-split``)
#: compiled at -O1, it builds several times faster than one file at -O2 and runs fast enough
#: for the workloads here.
_MAKE_VARS = ("OPT_FAST=-O1", "OPT_SLOW=-O0")


def default_operands(cfg: ArrayConfig, rng: np.random.Generator, m: int | None = None,
                     k: int | None = None, n: int | None = None):
    """Uniform random ``A`` (M x K) and ``W`` (K x N) over every operand of the formats (the
    values of integer grids, the codes of the others: ``Operand``; of a floating-point format
    its finite codes, which are all a GEMM takes); by default M = 2R, K = 64 lanes' worth,
    N = 2C."""
    m = 2 * cfg.rows if m is None else m
    n = 2 * cfg.cols if n is None else n
    k = 64 * cfg.lanes if k is None else k

    def uniform(fmt, lo, hi, shape):
        if fmt.frac_bits:
            return Operand(fmt).random(rng, shape, corner_fraction=0.0)
        return rng.integers(lo, hi, shape, endpoint=True)

    A = uniform(cfg.activation, cfg.activation.min, cfg.activation.max, (m, k))
    w = Operand(cfg.weight)
    W = uniform(cfg.weight, w.min, w.max, (k, n))
    return A.astype(np.int64), W.astype(np.int64)


@dataclass(frozen=True)
class PowerResult:
    """``qtpe power`` of one design: the power report, the ASIC synthesis it used, the
    workload's description and the tool versions."""

    name: str
    workload: str
    simulator: str
    power: PowerReport
    synth: SynthReport

    def to_dict(self) -> dict:
        return {"design": self.name, "workload": self.workload, "simulator": self.simulator,
                "power": self.power.to_dict(), "asic": self.synth.to_dict()}

    def summary(self) -> str:
        a = self.synth.result
        return (f"{self.name}: power of the OSU 0.18 um netlist ({a.area_um2:,.0f} um^2, "
                f"{a.cell_count:,} cells) under {self.workload} on {self.simulator}\n"
                + self.power.summary() + "\n"
                "  method       gate-level zero-delay simulation of the mapped netlist (toggles "
                "of every net) x OpenSTA's per-pin Liberty energies at the timing run's slews "
                "and loads; no wires, no glitches, ideal clock (qtpe.synth.power)")


def _dump_module(scope: str) -> str:
    return (f"module {_DUMP_MODULE};\n  initial begin\n    $dumpfile(\"{_VCD}\");\n"
            f"    $dumpvars(1, {scope});\n  end\nendmodule\n")


def trace_setup(simulator: str, build: Path, scope: str) -> tuple[list[Path], list[str]]:
    """Extra sources and build flags that make a run in ``build`` write the activity trace
    of instance path ``scope`` (Verilator: SAIF of everything, with ``waves``; Icarus: a VCD
    of that scope's own nets, with ``own_dumps``)."""
    if simulator == "verilator":
        return [], ["--trace-saif", "--output-split", "20000", "-Wno-fatal", "-Wno-lint",
                    "-Wno-style"]
    dump = build / f"{_DUMP_MODULE}.v"
    dump.parent.mkdir(parents=True, exist_ok=True)
    text = _dump_module(scope)
    if not dump.exists() or dump.read_text() != text:
        dump.write_text(text)
    return [dump], ["-s", _DUMP_MODULE]


def read_activity(simulator: str, build: Path, scope: tuple[str, ...]) -> Activity:
    """The trace ``trace_setup`` asked for, of the instance whose path ends with ``scope``."""
    if simulator == "verilator":
        return read_saif(build / _SAIF, scope)
    return read_vcd(build / _VCD, scope)


def run_power(cfg: PEConfig | ArrayConfig, workdir: Path, *, simulator: str = "verilator",
              A=None, W=None, idle: bool = False, clock_mhz: float = DEFAULT_CLOCK_MHZ,
              seed: int | None = None) -> PowerResult:
    """The power of ``cfg``'s ASIC netlist under its workload, built in ``workdir``."""
    setup = PowerSetup.build(cfg, workdir, clock_mhz)
    return setup.run(simulator=simulator, A=A, W=W, idle=idle, seed=seed)


@dataclass(frozen=True)
class PowerSetup:
    """What every workload of one design shares: its ASIC synthesis, the gate-level
    simulation sources and OpenSTA's per-pin energies (``build``); ``run`` simulates one
    workload on them (a second run reuses the simulator build)."""

    cfg: PEConfig | ArrayConfig
    workdir: Path
    clock_mhz: float
    synth: SynthReport
    module: dict
    dut: tuple
    pins: dict
    leakage: dict

    @classmethod
    def build(cls, cfg, workdir: Path, clock_mhz: float = DEFAULT_CLOCK_MHZ) -> PowerSetup:
        if not clock_mhz > 0:
            raise ValueError(f"clock must be a positive frequency in MHz, not {clock_mhz!r}")
        workdir = Path(workdir)
        top = cfg.name
        vpath, _ = write_design(cfg, workdir / "rtl")
        asic_dir = workdir / "asic"
        report = flows.asic_flow(vpath, top, asic_dir)
        synth = SynthReport(top=top, target=Target.ASIC, result=report, tool_versions=(
            ("opensta", sta_version(sta_path())), ("yosys", yosys_version())))
        netlist = json.loads((asic_dir / "asic.design.buffered.json").read_text())
        power_dir = workdir / "power"
        power_dir.mkdir(parents=True, exist_ok=True)
        sim_v = power_dir / "power.sim.v"
        text = simulation_netlist(netlist, top)
        if not sim_v.exists() or sim_v.read_text() != text:
            sim_v.write_text(text)
        cells_v = cell_models(asic_dir / "lib" / liberty_path().name, power_dir)
        constraints = flows.sta_constraints("clk", 1000.0 / clock_mhz)
        pins, leakage = instance_power(asic_dir, f"lib/{liberty_path().name}",
                                       flows.ASIC_DESIGN_NETLIST, top, constraints, sta_path())
        return cls(cfg, workdir, clock_mhz, synth, netlist["modules"][top], (cells_v, sim_v),
                   pins, leakage)

    def run(self, *, simulator: str = "verilator", A=None, W=None, idle: bool = False,
            seed: int | None = None) -> PowerResult:
        """One workload (see the module docstring) on the netlist."""
        cfg, module, dut = self.cfg, self.module, self.dut
        top = cfg.name
        build = self.workdir / "power" / ("idle" if idle else "run") / simulator
        build.mkdir(parents=True, exist_ok=True)
        stats = build / _STATS
        stats.unlink(missing_ok=True)
        is_array = isinstance(cfg, ArrayConfig)
        if idle or not is_array:
            scope_path, scope = top, (top,)
        else:
            scope_path, scope = f"{harness_name(cfg)}.dut", ("dut",)
        extra, args = trace_setup(simulator, build, scope_path)
        env = {"QTPE_CONFIG": json.dumps(cfg.to_dict()), "QTPE_STATS_FILE": str(stats.resolve())}
        if idle:
            inputs = [p for p, i in module["ports"].items()
                      if i["direction"] == "input" and p != "clk"]
            env.update(QTPE_POWER_INPUTS=json.dumps(inputs), QTPE_POWER_CYCLES=str(IDLE_CYCLES))
            result = run_cocotb(simulator, [*dut, *extra], top, build, "qtpe.tb.test_power",
                                extra_env=env, seed=seed, waves=simulator == "verilator",
                                build_args=args, testcase="idle_cycles", own_dumps=True,
                                make_vars=_MAKE_VARS)
            workload = f"idle ({IDLE_CYCLES} cycles, inputs 0)"
            macs = 0
        elif is_array:
            if A is None or W is None:
                A, W = default_operands(cfg, np.random.default_rng(0 if seed is None else seed))
            gemm = run_gemm(cfg, A, W, simulator, build, seed=seed, dut=[*dut, *extra],
                            build_args=args, waves=simulator == "verilator", own_dumps=True,
                            optimize=False, make_vars=_MAKE_VARS)
            if not gemm.ok:
                raise SimError(f"the gate-level netlist of {top} computed a wrong GEMM "
                               f"({gemm.mismatches} results differ from the golden model)")
            M, K = np.shape(A)
            workload = f"GEMM M={M} K={K} N={np.shape(W)[1]}"
            macs = gemm.macs
            result = None
        else:
            result = run_cocotb(simulator, [*dut, *extra], top, build, kind_of(cfg).testbench,
                                extra_env=env, seed=seed, waves=simulator == "verilator",
                                build_args=args, testcase="random_stream", own_dumps=True,
                                make_vars=_MAKE_VARS)
            workload = "its random_stream test"
            macs = None
        if result is not None and not result.ok:
            raise SimError(f"the gate-level netlist of {top} failed {result.failed} of "
                           f"{result.tests} tests; log {result.log}")
        if macs is None:
            macs = json.loads(stats.read_text())["macs"]
        sim_dir = build / simulator if is_array and not idle else build
        activity = read_activity(simulator, sim_dir, scope)
        cycles = activity.cycles(CLOCK_NS * 1e-9)
        toggles = {int(name[1:]): net.toggles for name, net in activity.nets.items()
                   if name.startswith("w") and name[1:].isdigit()}
        source = ("Verilator SAIF" if simulator == "verilator" else "Icarus VCD") + \
            " of the gate-level netlist"
        clock_bits = {b for b in module["ports"]["clk"]["bits"] if isinstance(b, int)}
        power = combine(self.pins, self.leakage, module["cells"], toggles, clock_bits, cycles,
                        self.clock_mhz, macs, source)
        return PowerResult(top, workload, simulator, power, self.synth)


def power_command(cfg, *, a_path=None, w_path=None, idle: bool = False,
                  clock_mhz: float = DEFAULT_CLOCK_MHZ, simulator: str = "verilator",
                  out=None, build=None, seed: int | None = None) -> PowerResult:
    """``qtpe power``: check everything first (operands only for arrays, both or neither, a
    positive clock, the folders), run, and write ``power.json`` and ``power.md`` to ``out``."""
    if not clock_mhz > 0 or clock_mhz != clock_mhz or clock_mhz == float("inf"):
        raise ConfigError(f"--clock-mhz must be a positive number of MHz, not {clock_mhz!r}")
    if (a_path is None) != (w_path is None):
        raise GemmOperandError("give both --a and --w, or neither (random operands)")
    A = W = None
    if a_path is not None:
        if idle:
            raise GemmOperandError("--idle runs no operands: leave out --a and --w")
        if not isinstance(cfg, ArrayConfig):
            raise GemmOperandError(f"{cfg.name} is a single PE: --a/--w are GEMM operands "
                                   "of an array config (a PE runs its random stream)")
        A, W = load_operand(a_path, "A"), load_operand(w_path, "W")
        A, W, _, _ = check_gemm(cfg, A, W, None, None)
        if cfg.requant:
            raise GemmOperandError("qtpe power does not take requantization scales yet: use "
                                   "an array without requant")
    if out is not None:
        out = check_dir(out, "report folder")
    if build is not None:
        build = check_dir(build, "build folder")
    with work_folder(build, "power") as workdir:
        result = run_power(cfg, workdir, simulator=simulator, A=A, W=W, idle=idle,
                           clock_mhz=clock_mhz, seed=seed)
    if out is not None:
        md = "\n".join([f"# Power of `{result.name}`", "", "```", result.summary(), "```", ""])
        write_files(out, {"power.json": json.dumps(result.to_dict(), indent=2) + "\n",
                          "power.md": md})
    return result
