"""The Python API: everything the ``qtpe`` command line does, as calls for notebooks and scripts.

Each call returns the typed record the CLI prints; the CLI (``qtpe.gen.cli``) is a thin layer
over these functions. Bad input raises ``ConfigError`` (configs), ``GemmOperandError``
(operands), both ``ValueError`` with a one-line message; a failing tool raises ``SimError`` or
``SynthError`` with the tool's own message.

    import numpy as np
    from qtpe.gen import api

    cfg = api.config("array_os_w8a8_4x4", rows=2, cols=2)       # a preset, keys overridden
    design = api.generate(cfg, "build/arr")                      # .v and .json
    rng = np.random.default_rng(0)
    A = rng.integers(-128, 128, (5, 9))
    W = rng.integers(-128, 128, (9, 3))
    result = api.gemm(cfg, A, W, simulator="verilator")          # C = A @ W in simulation
    assert result.ok and (result.C == A @ W).all()
    report = api.synthesize(cfg, "generic")                      # typed synthesis report
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from qtpe.hdl.array_config import ArrayConfig
from qtpe.hdl.config import PEConfig
from qtpe.hdl.kinds import Kind, Preset, all_kinds
from qtpe.sim.runner import SimResult
from qtpe.sim.runner import lint as _lint

from . import config as _config
from . import emit as _emit
from . import flow as _flow
from . import gemm as _gemm
from .config import ConfigError
from .gemm import GemmOperandError, GemmResult
from .outputs import scratch, work_folder

__all__ = [
    "ConfigError", "GemmOperandError", "Design", "config", "from_dict", "presets", "kinds",
    "generate", "lint", "simulate", "gemm", "synthesize", "flow", "power", "sweep",
]

Config = PEConfig | ArrayConfig


def config(preset: str | None = None, *, file: str | Path | None = None,
           sets: tuple[str, ...] | list[str] = (), **keys) -> Config:
    """A config: a preset (default ``mac_w8a8``) or a TOML ``file``, then ``sets``
    (``"key=value"`` strings, as ``--set``) and ``keys`` (values as a TOML file holds them:
    ``weight="int4"``, ``rows=4``). ``rows``, ``cols`` or ``dataflow`` make it an array."""
    return _config.load_config(preset, file, tuple(sets), keys)


def from_dict(data: dict) -> Config:
    """A config from TOML/JSON-style keys (what ``Config.to_dict()`` gives)."""
    return _config.from_dict(data)


def presets() -> dict[str, Preset]:
    """Every preset: name -> ``Preset`` (``config``, ``description``, ``bench``)."""
    return dict(_config.PRESETS)


def kinds() -> tuple[Kind, ...]:
    """The registered PE kinds (``qtpe.hdl.kinds``)."""
    return all_kinds()


@dataclass(frozen=True)
class Design:
    """Generated Verilog: the top level, its file and the metadata file beside it."""

    config: Config
    verilog: Path
    metadata: Path

    @property
    def top(self) -> str:
        return self.config.name

    @property
    def latency(self) -> int:
        return self.config.latency


def generate(cfg: Config, outdir: str | Path) -> Design:
    """Write ``<outdir>/<top>.v`` and ``<top>.json`` (config, derived widths, ports, latency)."""
    vpath, jpath = _emit.write_design(cfg, Path(outdir))
    return Design(cfg, vpath, jpath)


def lint(cfg: Config) -> None:
    """Verilator ``-Wall`` lint of the emitted Verilog (``SimError`` on any warning)."""
    with scratch("lint") as tmp:
        vpath, _ = _emit.write_design(cfg, tmp)
        _lint(vpath, cfg.name)


def simulate(cfg: Config, simulator: str = "icarus", workdir: str | Path = "build/sim", *,
             seed: int | None = None, waves: bool = False,
             testcase: str | None = None) -> SimResult:
    """The design's cocotb tests against its golden model, built in ``workdir/<simulator>``
    (``result.ok``; ``result.seed`` replays the run)."""
    return _flow.simulate(cfg, simulator, Path(workdir), seed=seed, waves=waves,
                          testcase=testcase)


def gemm(cfg: ArrayConfig, A, W, *, simulator: str = "verilator", scale=None, shift=None,
         quant=None, workdir: str | Path | None = None,
         seed: int | None = None) -> GemmResult:
    """``C = A @ W`` through the simulated array (``result.C``), checked against the golden
    model (``result.ok``), with the cycles and the utilization. ``quant``
    (``qtpe.tb.models.operands.QuantOperands``): the group scales and zero points of an
    array with ``group_size``, the per-row precisions of a bit-serial array. ``workdir``
    keeps the build for reuse; without it a temporary folder is used."""
    with work_folder(workdir, "gemm") as tmp:
        return _gemm.run_gemm(cfg, A, W, simulator, tmp, scale=scale, shift=shift,
                              quant=quant, seed=seed)


def synthesize(cfg: Config, target: str = "generic", workdir: str | Path | None = None):
    """The design synthesized for ``target`` (``"generic"``, ``"ecp5"``, ``"asic"``): a
    ``qtpe.synth.SynthReport``. ``workdir`` keeps the tools' files; without it a temporary
    folder is used."""
    with work_folder(workdir, "synth") as tmp:
        return _flow.synthesize(cfg, target, tmp)


def flow(cfg: Config, outdir: str | Path = "build/flow", *,
         seed: int | None = None) -> _flow.FlowResult:
    """Generate, lint, simulate on both simulators, synthesize for every target
    (``FlowResult.summary()`` is what ``qtpe flow`` prints)."""
    return _flow.run_flow(cfg, Path(outdir), seed=seed)


def power(cfg: Config, *, A=None, W=None, idle: bool = False, clock_mhz: float = 100.0,
          simulator: str = "verilator", workdir: str | Path | None = None,
          seed: int | None = None):
    """Energy of a workload on the design's OSU 0.18 um netlist (``qtpe.gen.power``): a GEMM
    ``A @ W`` on an array (random operands if not given), a PE's random stream, or ``idle``.
    Returns a ``PowerResult`` (``.power.pj_per_mac``, ``.summary()``)."""
    from . import power as _power

    with work_folder(workdir, "power") as tmp:
        return _power.run_power(cfg, tmp, simulator=simulator, A=A, W=W, idle=idle,
                                clock_mhz=clock_mhz, seed=seed)


def sweep(space, outdir: str | Path, *, jobs: int | None = None, scheduler: str | None = None,
          client=None, quiet: bool = True):
    """A design-space sweep (``qtpe.gen.sweep``): every point of ``space`` (a space file's
    path, or a ``Space`` from ``qtpe.gen.sweep.load_space``) not yet cached under
    ``outdir/cache`` run on ``jobs`` local processes (default: the core count), on the Dask
    scheduler at ``scheduler``, or on a ``dask.distributed.Client`` given as ``client``;
    ``results.csv``, ``results.json``, ``report.md`` and the plots written into ``outdir``.
    Returns a ``SweepResult`` (``.rows``, ``.summary()``); a bad space file raises
    ``ConfigError``, an unreachable scheduler too."""
    from . import sweep as _sweep

    if not isinstance(space, _sweep.Space):
        space = _sweep.load_space(space)
    return _sweep.run_sweep(space, outdir, jobs=jobs, scheduler=scheduler, client=client,
                            quiet=quiet)
