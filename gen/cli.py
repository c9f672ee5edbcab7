"""The ``qtpe`` command line: a thin layer over the Python API (``qtpe.gen.api``).

Errors print one line (``qtpe: error: ...``) on stderr and exit with status 2 (bad input) or
1 (a tool or a test failed); no output files are left half-written.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile

from . import api
from .config import DEFAULT_PRESET, ConfigError
from .flow import write_report
from .outputs import check_dir, sweep, work_folder, write_files
from .progress import say, shown

__all__ = ["main"]

TARGETS = ("generic", "ecp5", "asic")


class _Parser(argparse.ArgumentParser):
    """Bad arguments: one line naming the bad value and what is allowed, exit status 2."""

    def error(self, message: str):
        self.exit(2, f"qtpe: error: {message} (see '{self.prog} --help')\n")


def _add_config_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-q", "--quiet", action="store_true",
                   help="no progress lines on stderr (errors still)")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--preset",
                     help=f"named preset (default {DEFAULT_PRESET}; see 'qtpe presets')")
    src.add_argument("--config", type=str, help="TOML config file")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override one config key (repeatable)")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="qtpe", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("generate", help="write <top>.v and <top>.json")
    _add_config_args(p)
    p.add_argument("-o", "--out", type=str, required=True, help="output folder")

    p = sub.add_parser("sim", help="run the cocotb testbench against the golden model")
    _add_config_args(p)
    p.add_argument("--sim", choices=("icarus", "verilator"), default="icarus")
    p.add_argument("--seed", type=int, help="random seed (printed when not given)")
    p.add_argument("--waves", action="store_true", help="dump a waveform trace")
    p.add_argument("--testcase", help="run only this cocotb test")
    p.add_argument("-o", "--out", type=str, help="build folder (default: a temporary one)")

    p = sub.add_parser("synth", help="synthesize and write the report (.json and .md)")
    _add_config_args(p)
    p.add_argument("--target", choices=TARGETS, default="generic")
    p.add_argument("-o", "--out", type=str, required=True, help="report folder")

    p = sub.add_parser("lint", help="Verilator -Wall lint of the emitted Verilog")
    _add_config_args(p)

    p = sub.add_parser("flow", help="generate, lint, simulate on both simulators and "
                       "synthesize for every target; print a summary")
    _add_config_args(p)
    p.add_argument("--seed", type=int, help="random seed (printed when not given)")
    p.add_argument("-o", "--out", type=str, default="build/flow", help="output folder")

    p = sub.add_parser("gemm", help="run C = A @ W through the simulated array, check it "
                       "against the golden model, print cycles and utilization")
    _add_config_args(p)
    p.add_argument("--a", type=str, required=True, metavar="A.npy",
                   help="activations, M x K integers of the activation format")
    p.add_argument("--w", type=str, required=True, metavar="W.npy",
                   help="weights, K x N integers of the weight format")
    p.add_argument("-o", "--out", type=str, required=True, metavar="C.npy",
                   help="result, M x N int64")
    p.add_argument("--sim", choices=("icarus", "verilator"), default="verilator")
    p.add_argument("--scale", type=str, metavar="S.npy",
                   help="(requant) unsigned scale per output column, N values")
    p.add_argument("--shift", type=str, metavar="H.npy",
                   help="(requant) right shift per output column, N values")
    p.add_argument("--scales", type=str, metavar="S.npy",
                   help="(group_size) group scales (or pot exponents), groups x N integers")
    p.add_argument("--zeros", type=str, metavar="Z.npy",
                   help="(zero_points) zero points, groups x N integers")
    p.add_argument("--wbits", type=str, metavar="B.npy",
                   help="(bit-serial arrays) the precision of each row of W, K integers "
                        "1..weight bits (the rows of one beat, WS one K tile, share it)")
    p.add_argument("--specials", type=str, metavar="X.npy",
                   help="(bit-serial dtype = 'special') the value the code -2^(p-1) stands "
                        "for, groups x N signed integers of special_bits")
    p.add_argument("--build", type=str, help="build folder to keep and reuse "
                   "(default: a temporary one)")
    p.add_argument("--seed", type=int, help="cocotb random seed")

    p = sub.add_parser("power", help="energy per MAC: simulate a workload on the ASIC netlist "
                       "and combine its toggles with OpenSTA's power tables")
    _add_config_args(p)
    p.add_argument("--a", type=str, metavar="A.npy",
                   help="(arrays) activations, M x K (default: uniform random, M=2R K=64 N=2C)")
    p.add_argument("--w", type=str, metavar="W.npy", help="(arrays) weights, K x N")
    p.add_argument("--idle", action="store_true",
                   help="no workload: clocked, every input 0 (energy per cycle)")
    p.add_argument("--clock-mhz", type=float, default=None, metavar="F",
                   help="clock of the power numbers (default 100)")
    p.add_argument("--sim", choices=("icarus", "verilator"), default="verilator")
    p.add_argument("-o", "--out", type=str, help="report folder (power.json, power.md)")
    p.add_argument("--build", type=str, help="build folder to keep (default: a temporary one)")
    p.add_argument("--seed", type=int, help="random seed (operands and cocotb)")

    p = sub.add_parser("prove", help="formal proof: a PE equals the MAC PE on its decoded "
                       "operands, a small array equals the golden-model schedule")
    _add_config_args(p)
    p.add_argument("--depth", type=int, metavar="N",
                   help="cycles of the bounded proof and the induction (default: the "
                   "design's latency, a clear and a few ops, or the whole GEMM)")
    p.add_argument("--timeout", type=float, metavar="S",
                   help="give up after S seconds (exit status 1; default: no limit)")
    p.add_argument("-o", "--out", type=str, help="report folder (proof.json, proof.md, "
                   "counterexample.vcd on failure)")
    p.add_argument("--build", type=str, help="folder for the solver's files (default: a "
                   "temporary one)")

    p = sub.add_parser("mutate", help="mutation score: Yosys mutants of the design against its "
                       "regression; survivors checked for equivalence")
    _add_config_args(p)
    p.add_argument("--count", type=int, default=50, metavar="N", help="mutants (default 50)")
    p.add_argument("--seed", type=int, default=1, metavar="S",
                   help="seed of the mutation list and of the regression (default 1)")
    p.add_argument("--jobs", type=int, metavar="J",
                   help="mutants run at once (default: the core count)")
    p.add_argument("--depth", type=int, default=20, metavar="K",
                   help="cycles of the equivalence check of survivors (default 20)")
    p.add_argument("-o", "--out", type=str, default="build/mutate",
                   help="report folder, with the result cache in OUT/cache "
                   "(default build/mutate)")

    p = sub.add_parser("sweep", help="design-space sweep: every point of SPACE.toml generated, "
                       "verified, synthesized and measured; results, report and plots in OUT")
    p.add_argument("space", metavar="SPACE.toml", help="the space file (see sweeps/)")
    p.add_argument("-o", "--out", type=str, required=True,
                   help="results folder, with the point cache in OUT/cache")
    p.add_argument("--jobs", type=int, metavar="N",
                   help="points run at once on local processes (default: the core count)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="run the points on this dask.distributed scheduler instead "
                   "(tcp://host:8786)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")

    for name, text in (("presets", "list the presets"), ("kinds", "list the registered PE kinds")):
        sub.add_parser(name, help=text).add_argument("-q", "--quiet", action="store_true",
                                                     help=argparse.SUPPRESS)
    return parser


def _config(args):
    """The config (checked first: nothing is built for bad input)."""
    return api.config(args.preset, file=args.config, sets=args.set)


def _cmd_generate(args) -> int:
    cfg = _config(args)
    check_dir(args.out)
    design = api.generate(cfg, args.out)
    say(f"wrote {design.verilog} and {design.metadata} (latency {design.latency}, "
        f"accumulator {design.config.acc})")
    return 0


def _cmd_sim(args) -> int:
    cfg = _config(args)
    out = check_dir(args.out, "build folder") if args.out is not None else None
    with work_folder(out, "sim") as workdir:
        result = api.simulate(cfg, args.sim, workdir, seed=args.seed, waves=args.waves,
                              testcase=args.testcase)
        status = "PASS" if result.ok else "FAIL"
        say(f"{status} {cfg.name} on {args.sim}: {result.passed}/{result.tests} cocotb tests "
            f"passed (seed {result.seed})")
        if result.coverage is not None:
            say(f"functional coverage (bin, hits):\n{result.coverage.table()}")
        if not result.tests_ok:
            say(f"log: {result.log}" if out else result.log.read_text()[-3000:])
        if args.waves:
            traces = sorted(p.name for p in result.log.parent.glob("*.[fv][sc][td]"))
            where = result.log.parent if out else "the temporary build folder (give -o)"
            say(f"waves: {', '.join(traces) or 'none written'} in {where}")
    return 0 if result.ok else 1


def _cmd_synth(args) -> int:
    cfg = _config(args)
    out = check_dir(args.out, "report folder")
    report = api.synthesize(cfg, args.target)
    write_report(report, out)
    say(report.to_markdown())
    return 0


def _cmd_lint(args) -> int:
    cfg = _config(args)
    api.lint(cfg)
    say(f"lint clean: {cfg.name} (verilator -Wall, waivers in sim/waivers.vlt)")
    return 0


def _cmd_flow(args) -> int:
    cfg = _config(args)
    out = check_dir(args.out)
    result = api.flow(cfg, out, seed=args.seed)
    say(result.summary())
    say(f"reports in {out / 'synth'}")
    return 0 if result.ok else 1


def _cmd_gemm(args) -> int:
    from .gemm import gemm_command

    result = gemm_command(_config(args), args.a, args.w, args.out, args.sim,
                          scale_path=args.scale, shift_path=args.shift,
                          scales_path=args.scales, zeros_path=args.zeros,
                          wbits_path=args.wbits, specials_path=args.specials,
                          build=args.build,
                          seed=args.seed)
    say(result.summary())
    say(f"wrote {args.out}")
    return 0 if result.ok else 1


def _cmd_power(args) -> int:
    from .power import DEFAULT_CLOCK_MHZ, power_command

    clock = DEFAULT_CLOCK_MHZ if args.clock_mhz is None else args.clock_mhz
    result = power_command(_config(args), a_path=args.a, w_path=args.w, idle=args.idle,
                           clock_mhz=clock, simulator=args.sim, out=args.out,
                           build=args.build, seed=args.seed)
    say(result.summary())
    if args.out:
        say(f"wrote {args.out}/power.json and power.md")
    return 0


def _cmd_prove(args) -> int:
    from .prove import check_provable, prove, report_files

    cfg = _config(args)
    check_provable(cfg)
    out = check_dir(args.out, "report folder") if args.out is not None else None
    build = check_dir(args.build, "build folder") if args.build is not None else None
    with work_folder(build, "prove") as workdir:
        result = prove(cfg, workdir, depth=args.depth, timeout=args.timeout)
        print(result.summary())
        if out is not None:
            write_files(out, report_files(result))
            say(f"wrote {out}/proof.json and proof.md")
    return 0 if result.ok else 1
def _cmd_mutate(args) -> int:
    from .mutate import check_options, run_mutation

    cfg = _config(args)
    check_options(args.count, args.seed, args.jobs, args.depth)
    check_dir(args.out, "report folder")
    report = run_mutation(cfg, args.out, count=args.count, seed=args.seed, jobs=args.jobs,
                          depth=args.depth)
    say(report.summary())
    say(f"wrote {os.path.join(args.out, 'mutation.json')} and mutation.md")
    return 0


def _cmd_sweep(args) -> int:
    from .sweep import check_jobs, connect, load_space, run_sweep

    space = load_space(args.space)  # everything checked before anything is written
    jobs = check_jobs(args.jobs)
    if args.jobs is not None and args.scheduler is not None:
        raise ConfigError("--jobs sets local processes; with --scheduler the cluster's "
                          "workers run the points: give one of them")
    check_dir(args.out, "results folder")
    client = connect(args.scheduler) if args.scheduler is not None else None
    try:
        result = run_sweep(space, args.out, jobs=jobs, client=client, quiet=args.quiet)
    finally:
        if client is not None:
            client.close()
    say(result.summary())
    for r in result.failed:
        say(f"  {r['pe']} {r['weight']} {r['shape']} {r['dataflow']}: {r['status']}: "
            f"{r['reason']}")
    say(f"wrote {os.path.join(args.out, 'report.md')}, results.csv, results.json and plots")
    return 0 if result.ok else 1


def _cmd_presets(args) -> int:
    presets = api.presets()
    width = max(len(n) for n in presets)
    for name, entry in sorted(presets.items()):
        mark = " (default)" if name == DEFAULT_PRESET else ""
        print(f"{name:<{width}}  {entry.description}{mark}")
    return 0


def _cmd_kinds(args) -> int:
    kinds = api.kinds()
    width = max(len(k.name) for k in kinds)
    for kind in kinds:
        arrays = "arrays" if kind.has_arrays else "no arrays"
        print(f"{kind.name:<{width}}  {kind.summary} ({len(kind.presets)} presets, {arrays})")
    return 0


_COMMANDS = {
    "generate": _cmd_generate,
    "sim": _cmd_sim,
    "synth": _cmd_synth,
    "lint": _cmd_lint,
    "flow": _cmd_flow,
    "gemm": _cmd_gemm,
    "power": _cmd_power,
    "prove": _cmd_prove,
    "mutate": _cmd_mutate,
    "sweep": _cmd_sweep,
    "presets": _cmd_presets,
    "kinds": _cmd_kinds,
}


def _fail(message: str, status: int) -> int:
    print(f"qtpe: error: {' '.join(str(message).split())}", file=sys.stderr)
    return status


def main(argv: list[str] | None = None) -> int:
    """Run one command; bad input (status 2) and failing tools (status 1) give one line on
    stderr, never a traceback."""
    from qtpe.sim.runner import SimError
    from qtpe.synth import CollateralMissing, SynthError
    from qtpe.tb.models.operands import GemmOperandError

    args = _parser().parse_args(argv)
    sweep(tempfile.gettempdir(), scratch=True)  # scratch folders a killed run left behind
    try:
        with shown(args.quiet):
            return _COMMANDS[args.command](args)
    except (ConfigError, GemmOperandError) as exc:
        return _fail(str(exc), 2)
    except (SimError, SynthError, CollateralMissing) as exc:  # the tool's own message
        print(f"qtpe: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return _fail("interrupted", 130)
    except BrokenPipeError:  # the reader went away (qtpe presets | head)
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")  # no flush error at exit
        return 0
    except OSError as exc:  # the environment: a full disk, a permission, a vanished file
        where = f" ({exc.filename})" if exc.filename else ""
        return _fail(f"{exc.strerror or exc}{where}", 1)


if __name__ == "__main__":
    sys.exit(main())
