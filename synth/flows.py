"""The three synthesis flows and :func:`synthesize`, their single entry point.

Each flow copies the Verilog into ``<workdir>/src/`` (tools see only the work directory, see
:mod:`qtpe.synth.tools`), runs the tools there, keeps every script, log and intermediate file
(``<target>.*``, plus ``ports.*`` and ``<top>_regio.v`` from the wrapper, ``lib/`` for the
Liberty copy), and returns a frozen report parsed from machine-readable output. Several targets
may share one work directory.

* ``generic``: Yosys ``synth -top <top> -flatten``; cells, flip-flops, ``ltp -noff`` depth.
* ``ecp5``: Yosys ``synth_ecp5`` of the bare top for resources; ``synth_ecp5`` of the
  registered-I/O wrapper + ``nextpnr-ecp5 --out-of-context`` for Fmax.
* ``asic``: Yosys ``synth``/``dfflibmap``/``abc -liberty`` against OSU 0.18 um, once for the
  bare top (area) and once for the wrapper (netlist timed by OpenSTA: Fmax = 1000 / (period -
  worst slack)).

Resource and area numbers are of the design alone; Fmax is of the registered-I/O wrapper
(:mod:`qtpe.synth.wrapper`). The reports name both scopes explicitly.
"""

from __future__ import annotations

import logging
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from . import install
from .reports import (
    AsicReport,
    CellCounts,
    Ecp5Report,
    GenericReport,
    SynthReport,
    Target,
    is_generic_ff,
    parse_ltp_depth,
    parse_nextpnr_report,
    parse_sta_worst_path,
    parse_yosys_stat,
)
from .tools import (
    STA_DONE,
    SynthError,
    nextpnr_ecp5_version,
    run_nextpnr_ecp5,
    run_sta,
    run_yosys,
    sta_version,
    yosys_version,
)
from .wrapper import IDENTIFIER_RE, stage_verilog, write_regio_wrapper

__all__ = [
    "ECP5_DEVICE",
    "ECP5_PARTS",
    "ecp5_device_for",
    "ECP5_PACKAGE",
    "ECP5_TARGET_MHZ",
    "ECP5_SEED",
    "ASIC_CLOCK_PERIOD_NS",
    "generic_flow",
    "ecp5_flow",
    "asic_flow",
    "synthesize",
]

#: nextpnr-ecp5 device (``"25k"``, ``"45k"``, ``"85k"``), or ``None``: the smallest LFE5U part
#: whose LUT4s and multipliers hold the design (``ecp5_device_for``). Out of context, so the pin
#: count is moot.
ECP5_DEVICE: str | None = None
#: LFE5U parts: nextpnr flag, LUT4s, 18x18 multipliers (MULT18X18D).
ECP5_PARTS = (("25k", 24288, 28), ("45k", 43848, 72), ("85k", 83640, 156))
ECP5_PACKAGE = "CABGA381"
#: Frequency nextpnr places and routes for; above what PE-sized designs reach, so timing-driven
#: placement keeps pushing. The report carries the achieved Fmax, not this number.
ECP5_TARGET_MHZ = 250.0
ECP5_SEED = 1
#: Period handed to OpenSTA. Delays do not depend on it; Fmax is derived from the worst slack.
ASIC_CLOCK_PERIOD_NS = 10.0

_ECP5_DSP_TYPES = ("MULT18X18D", "ALU54B")
_log = logging.getLogger(__name__)


def _prepare(verilog: Path, top: str, workdir: Path, clock: str | None = None) -> tuple[Path, Path]:
    if not IDENTIFIER_RE.fullmatch(top):
        raise ValueError(f"top module name {top!r} is not a plain Verilog identifier")
    if clock is not None and not IDENTIFIER_RE.fullmatch(clock):
        raise ValueError(f"clock port name {clock!r} is not a plain Verilog identifier")
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    return workdir, stage_verilog(verilog, workdir)


def _fresh(workdir: Path, *names: str) -> None:
    """Delete a flow's previous outputs so that a silent tool can never leave stale data."""
    for name in names:
        (workdir / name).unlink(missing_ok=True)


def generic_flow(verilog: Path, top: str, workdir: Path) -> GenericReport:
    """Yosys generic-gate synthesis of ``top`` (flattened); no wrapper, no timing."""
    workdir, source = _prepare(verilog, top, workdir)
    stat_json, ltp_txt = "generic.stat.json", "generic.ltp.txt"
    _fresh(workdir, stat_json, ltp_txt)
    _log.info(f"generic synthesis of {top} (Yosys)")
    run_yosys(
        f"read_verilog {source.as_posix()}\n"
        f"synth -top {top} -flatten\n"
        f"tee -q -o {stat_json} stat -json\n"
        f"tee -o {ltp_txt} ltp -noff\n",
        workdir,
        name="generic",
    )
    stat = parse_yosys_stat(workdir / stat_json, top)
    return GenericReport(
        cell_count=stat.cell_count,
        cells_by_type=stat.cells_by_type,
        ff_count=sum(n for t, n in stat.cells_by_type if is_generic_ff(t)),
        logic_depth=parse_ltp_depth((workdir / ltp_txt).read_text()),
    )


# ABC9's post-mapping check '&verify' (on by default in recent Yosys) can hit an ABC assertion
# (Gia_ManDupMarked) on designs with many carry boxes, e.g. the bit-serial PE's adder trees.
# Natively that only loses the check; in YoWASP the abort kills Yosys. The mapping itself is
# written before the check and does not change.
_NO_ABC9_VERIFY = "scratchpad -set abc9.verify 0\n"


def _synth_ecp5(top: str, options: str = "") -> str:
    """``synth_ecp5 -top top`` with two work-arounds for Yosys 0.70 in YoWASP.

    ABC9's post-mapping check is off (``_NO_ABC9_VERIFY``), and the unused named wires are
    purged before LUT mapping: ABC9's reintegration of the mapped netlist otherwise trips the
    RTLIL assertion ``GetSize(conn.first) == GetSize(conn.second)`` in its name recovery on
    some designs (the bit-serial PE with 6 or more lanes, alone or in its wrapper). The
    purged wires drive nothing, so the logic and the mapping are unchanged.
    """
    return (
        f"{_NO_ABC9_VERIFY}"
        f"synth_ecp5 -top {top} -run :map_luts\n"
        "opt_clean -purge\n"
        f"synth_ecp5 -top {top} -run map_luts:{options}\n"
    )


def ecp5_device_for(cells: dict[str, int]) -> str:
    """The smallest LFE5U part (``ECP5_PARTS``) whose LUT4s hold ``LUT4 + 2 CCU2C`` of the
    synthesized cell counts and whose multipliers hold the ``MULT18X18D`` cells; the largest
    part if none does (nextpnr then says what does not fit)."""
    luts = cells.get("LUT4", 0) + 2 * cells.get("CCU2C", 0)
    mults = cells.get("MULT18X18D", 0)
    for flag, lut_capacity, mult_capacity in ECP5_PARTS:
        if luts <= lut_capacity and mults <= mult_capacity:
            return flag
    return ECP5_PARTS[-1][0]


def ecp5_flow(verilog: Path, top: str, workdir: Path, clock: str = "clk") -> Ecp5Report:
    """ECP5 resources of ``top`` alone and Fmax of its registered-I/O wrapper after P&R.

    nextpnr runs out of context on :data:`ECP5_DEVICE` (default: the smallest part that holds
    the design, ``ecp5_device_for``) with ``--freq`` :data:`ECP5_TARGET_MHZ`
    and ``--seed`` :data:`ECP5_SEED` (``--timing-allow-fail``: missing the target is a result,
    not an error); Fmax is the ``achieved`` entry of its JSON report.
    """
    workdir, source = _prepare(verilog, top, workdir, clock)
    wrapper = write_regio_wrapper(source, top, workdir, clock)
    design_stat, netlist, report = "ecp5.design.stat.json", "ecp5.regio.json", "ecp5.report.json"
    _fresh(workdir, design_stat, netlist, report)
    # Two Yosys processes: a second synth_ecp5 in the same process trips an RTLIL assertion in
    # ABC9's reintegration (Yosys 0.70, "GetSize(conn.first) == GetSize(conn.second)") on
    # designs with wide LUT adder trees, e.g. the shift-add PE; each run alone is fine.
    _log.info(f"ECP5 synthesis of {top} (Yosys synth_ecp5)")
    run_yosys(
        f"read_verilog {source.as_posix()}\n"
        + _synth_ecp5(top)
        + f"tee -q -o {design_stat} stat -json\n",
        workdir,
        name="ecp5.design.yosys",
    )
    _log.info(f"ECP5 synthesis of {wrapper.module}, {top} with registered I/O")
    run_yosys(
        f"read_verilog {source.as_posix()}\n"
        f"read_verilog {wrapper.path.name}\n"
        + _synth_ecp5(wrapper.module, f" -json {netlist}"),
        workdir,
        name="ecp5.yosys",
    )
    stat = parse_yosys_stat(workdir / design_stat, top)
    cells = dict(stat.cells_by_type)
    device = ECP5_DEVICE or ecp5_device_for(cells)
    _log.info(f"ECP5 place and route of {wrapper.module} on LFE5U-{device} (nextpnr)")
    run_nextpnr_ecp5(
        [
            f"--{device}",
            "--package",
            ECP5_PACKAGE,
            "--out-of-context",
            "--json",
            netlist,
            "--report",
            report,
            "--freq",
            f"{ECP5_TARGET_MHZ:g}",
            "--seed",
            str(ECP5_SEED),
            "--timing-allow-fail",
        ],
        workdir,
        name="ecp5.nextpnr",
    )
    fmax, constraint, used = parse_nextpnr_report(workdir / report, clock)
    try:
        comb_used, ff_used = used["TRELLIS_COMB"], used["TRELLIS_FF"]
    except KeyError as exc:
        raise SynthError(f"nextpnr report {workdir / report} lacks utilisation of {exc}") from exc
    return Ecp5Report(
        device=f"{device} {ECP5_PACKAGE}",
        lut4_count=cells.get("LUT4", 0),
        ff_count=cells.get("TRELLIS_FF", 0),
        carry_count=cells.get("CCU2C", 0),
        dsp_count=sum(cells.get(t, 0) for t in _ECP5_DSP_TYPES),
        cells_by_type=stat.cells_by_type,
        clock=clock,
        fmax_mhz=round(fmax, 3),
        target_mhz=constraint,
        seed=ECP5_SEED,
        io_register_bits=wrapper.io_register_bits,
        wrapped_comb_used=comb_used,
        wrapped_ff_used=ff_used,
    )


def _asic_synth_commands(top: str, liberty: str, prefix: str) -> str:
    """Map ``top`` to the Liberty's cells; write the generic and mapped ``stat -json``."""
    return (
        f"synth -top {top} -flatten\n"
        f"tee -q -o {prefix}.generic.stat.json stat -json\n"
        "rename -wire -suffix _reg t:$_*FF*\n"
        f"dfflibmap -liberty {liberty}\n"
        f"abc -liberty {liberty}\n"
        "opt_clean -purge\n"
        f"tee -q -o {prefix}.stat.json stat -liberty {liberty} -json\n"
    )


@dataclass(frozen=True)
class _MappedStats:
    area: float
    sequential_area: float
    cell_count: int
    cells_by_type: CellCounts
    ff_count: int


def _asic_stats(workdir: Path, prefix: str, module: str) -> _MappedStats:
    generic = parse_yosys_stat(workdir / f"{prefix}.generic.stat.json", module)
    mapped = parse_yosys_stat(workdir / f"{prefix}.stat.json", module, liberty=True)
    unmapped = [t for t, _ in mapped.cells_by_type if t.startswith("$")]
    if unmapped:
        raise SynthError(f"cells left unmapped to the Liberty library in {module!r}: {unmapped}")
    if mapped.area is None or mapped.sequential_area is None:
        raise SynthError(f"Yosys stat of {module!r} has no Liberty area")
    return _MappedStats(
        area=mapped.area,
        sequential_area=mapped.sequential_area,
        cell_count=mapped.cell_count,
        cells_by_type=mapped.cells_by_type,
        ff_count=sum(n for t, n in generic.cells_by_type if is_generic_ff(t)),
    )


_SIGNED_DECL_RE = re.compile(r"^(\s*(?:wire|reg|input|output|inout))\s+signed\b", re.MULTILINE)


def _strip_signed(netlist: Path) -> None:
    """Drop ``signed`` from declarations: OpenSTA's 2019 parser rejects ``wire signed``.

    The netlist is cells and plain connections (``-noexpr``), so signedness means nothing there.
    """
    netlist.write_text(_SIGNED_DECL_RE.sub(r"\1", netlist.read_text()))


def asic_flow(verilog: Path, top: str, workdir: Path, clock: str = "clk") -> AsicReport:
    """OSU 0.18 um area of ``top`` alone and OpenSTA Fmax of its registered-I/O wrapper.

    The Liberty and ``sta`` come from :func:`qtpe.synth.install.liberty_path` and
    :func:`~qtpe.synth.install.sta_path` (``make setup``). OpenSTA times the wrapper's mapped
    netlist with one ideal clock of period :data:`ASIC_CLOCK_PERIOD_NS` on ``clock`` and no
    input/output delays, so exactly the register-to-register paths are constrained. The worst
    path is ``period - worst slack`` (arrival + setup) and ``fmax_mhz = 1000 / worst_path_ns``.
    """
    liberty_src, sta = install.liberty_path(), install.sta_path()
    workdir, source = _prepare(verilog, top, workdir, clock)
    wrapper = write_regio_wrapper(source, top, workdir, clock)
    liberty = Path("lib") / liberty_src.name
    (workdir / liberty).parent.mkdir(exist_ok=True)
    shutil.copyfile(liberty_src, workdir / liberty)
    lib, netlist = liberty.as_posix(), "asic.regio.netlist.v"
    stats = [f"asic.{s}{k}stat.json" for s in ("design", "regio") for k in (".", ".generic.")]
    _fresh(workdir, netlist, *stats)
    _log.info(f"OSU 0.18 um mapping of {top} and {wrapper.module} (Yosys, abc)")
    run_yosys(
        f"read_verilog {source.as_posix()}\n"
        f"read_verilog {wrapper.path.name}\n"
        "design -save qtpe_input\n"
        + _asic_synth_commands(top, lib, "asic.design")
        + "design -load qtpe_input\n"
        + _asic_synth_commands(wrapper.module, lib, "asic.regio")
        # -simple-lhs: OpenSTA's parser rejects concatenations on the left of an assign (left
        # where flattening merged wires, e.g. the bit-serial PE's weight codes).
        + f"write_verilog -noattr -noexpr -nohex -nodec -simple-lhs {netlist}\n",
        workdir,
        name="asic.yosys",
    )
    _strip_signed(workdir / netlist)
    design = _asic_stats(workdir, "asic.design", top)
    wrapped = _asic_stats(workdir, "asic.regio", wrapper.module)

    period = ASIC_CLOCK_PERIOD_NS
    port = f"[get_ports {{{clock}}}]"
    _log.info(f"OSU 0.18 um timing of {wrapper.module} (OpenSTA)")
    log = run_sta(
        f"read_liberty {lib}\n"
        f"read_verilog {netlist}\n"
        f"link_design {wrapper.module}\n"
        f'if {{[llength {port}] != 1}} {{ puts "Error: no clock port {clock}" }}\n'
        f"create_clock -name {clock} -period {period:g} {port}\n"
        "report_checks -path_delay max -format full -digits 4\n"
        f"puts {STA_DONE}\n",
        workdir,
        name="asic.sta",
        sta=sta,
    )
    path = parse_sta_worst_path(log)
    worst = period - path.slack_ns
    return AsicReport(
        liberty=liberty_src.stem,
        area_um2=design.area,
        sequential_area_um2=design.sequential_area,
        cell_count=design.cell_count,
        cells_by_type=design.cells_by_type,
        ff_count=design.ff_count,
        clock=clock,
        wrapped_area_um2=wrapped.area,
        wrapped_ff_count=wrapped.ff_count,
        io_register_bits=wrapper.io_register_bits,
        clock_period_ns=period,
        worst_slack_ns=path.slack_ns,
        worst_arrival_ns=path.arrival_ns,
        worst_path_ns=round(worst, 4),
        fmax_mhz=round(1000.0 / worst, 3),
        worst_group=path.group,
        worst_startpoint=path.startpoint,
        worst_endpoint=path.endpoint,
    )


def synthesize(
    verilog: Path, top: str, target: str | Target, workdir: Path, clock: str = "clk"
) -> SynthReport:
    """Synthesise module ``top`` of ``verilog`` for ``target`` in ``workdir``.

    ``target`` is ``"generic"``, ``"ecp5"`` or ``"asic"`` (anything else raises
    :class:`ValueError` naming it and the allowed values, before any tool runs). ``clock`` names
    the clock port the registered-I/O wrapper uses (``ecp5``, ``asic``; ``generic`` ignores it).
    Tool failures and missing data in tool output raise :class:`~qtpe.synth.tools.SynthError`;
    missing ASIC collateral raises :class:`~qtpe.synth.install.CollateralMissing`.
    """
    kind = Target.parse(target)
    if kind is Target.GENERIC:
        result: GenericReport | Ecp5Report | AsicReport = generic_flow(verilog, top, workdir)
        versions = {"yosys": yosys_version()}
    elif kind is Target.ECP5:
        result = ecp5_flow(verilog, top, workdir, clock)
        versions = {"yosys": yosys_version(), "nextpnr-ecp5": nextpnr_ecp5_version()}
    else:
        result = asic_flow(verilog, top, workdir, clock)
        versions = {"yosys": yosys_version(), "opensta": sta_version(install.sta_path())}
    return SynthReport(top=top, target=kind, tool_versions=tuple(versions.items()), result=result)
