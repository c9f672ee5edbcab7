"""The three synthesis flows and :func:`synthesize`, their single entry point.

Each flow copies the Verilog into ``<workdir>/src/`` (tools see only the work directory, see
:mod:`qtpe.synth.tools`), runs the tools there, keeps every script, log and intermediate file
(``<target>.*``, plus ``ports.*`` and ``<top>_regio.v`` from the wrapper, ``lib/`` for the
Liberty copy), and returns a frozen report parsed from machine-readable output. Several targets
may share one work directory.

* ``generic``: Yosys ``synth -top <top> -flatten``; cells, flip-flops, ``ltp -noff`` depth.
* ``ecp5``: Yosys ``synth_ecp5`` of the bare top for resources; ``synth_ecp5`` of the
  registered-I/O wrapper + ``nextpnr-ecp5 --out-of-context`` for Fmax.
* ``asic``: Yosys ``synth``/``dfflibmap``/``abc -D -liberty`` against OSU 0.18 um, fanout
  buffer trees (:mod:`qtpe.synth.buffers`), once for the bare top (area, and the netlist the
  power flow simulates) and once for the wrapper (netlist timed by OpenSTA: Fmax = 1000 /
  (period - worst slack)).

Resource and area numbers are of the design alone; Fmax is of the registered-I/O wrapper
(:mod:`qtpe.synth.wrapper`). The reports name both scopes explicitly.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from . import install
from .buffers import BufferCell, buffer_fanout, name_cells
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
    "ASIC_MAX_FANOUT",
    "ASIC_NETLIST",
    "ASIC_DESIGN_NETLIST",
    "sta_constraints",
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
#: ASIC delay target: ABC maps and sizes for it (``abc -D``) and OpenSTA's clock has this period;
#: Fmax is derived from the worst slack. Like the ECP5 target, above what the arrays reach.
ASIC_CLOCK_PERIOD_NS = 5.0
#: Largest number of loads a net may drive after buffering (the clock excepted).
ASIC_MAX_FANOUT = 12
#: The buffer of the fanout trees (the library's strongest non-clock buffer).
ASIC_BUFFER = BufferCell("BUFX4", "A", "Y")
#: Cell assumed to drive every input port, and the load on every output port (about two
#: BUFX4 inputs), in OpenSTA.
ASIC_INPUT_DRIVER = "INVX1"
ASIC_OUTPUT_LOAD_PF = 0.02
#: Netlists the ASIC flow leaves in its work folder: the wrapper's (timed) and the design's.
ASIC_NETLIST = "asic.regio.netlist.v"
ASIC_DESIGN_NETLIST = "asic.design.netlist.v"

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


def _asic_map_commands(top: str, liberty: str, prefix: str, period_ns: float) -> str:
    """Map ``top`` to the Liberty's cells with ABC's delay target; write the generic
    ``stat -json`` and the mapped netlist (``<prefix>.mapped.json``)."""
    return (
        f"synth -top {top} -flatten\n"
        f"tee -q -o {prefix}.generic.stat.json stat -json\n"
        "rename -wire -suffix _reg t:$_*FF*\n"
        f"dfflibmap -liberty {liberty}\n"
        # -D: ABC's delay-oriented script (mapping to the target, then buffer -p, upsize,
        # dnsize inside the combinational logic).
        f"abc -D {round(period_ns * 1000)} -liberty {liberty}\n"
        "opt_clean -purge\n"
        f"write_json {prefix}.mapped.json\n"
    )


def _asic_netlist_commands(prefix: str, liberty: str, netlist: str | None) -> str:
    """Read the buffered netlist back: its ``stat -liberty -json``, and Verilog for OpenSTA."""
    out = (
        "design -reset\n"
        f"read_json {prefix}.buffered.json\n"
        f"tee -q -o {prefix}.stat.json stat -liberty {liberty} -json\n"
    )
    if netlist:
        # -simple-lhs: OpenSTA's parser rejects concatenations on the left of an assign (left
        # where flattening merged wires, e.g. the bit-serial PE's weight codes).
        out += f"write_verilog -noattr -noexpr -nohex -nodec -simple-lhs {netlist}\n"
    return out


def _buffer_netlist(workdir: Path, prefix: str, module: str, clock: str) -> int:
    """:func:`~qtpe.synth.buffers.buffer_fanout` on ``<prefix>.mapped.json`` (clock
    excluded), written to ``<prefix>.buffered.json``; returns the buffers added."""
    data = json.loads((workdir / f"{prefix}.mapped.json").read_text())
    try:
        clock_bits = data["modules"][module]["ports"][clock]["bits"]
    except KeyError:
        raise SynthError(f"mapped netlist of {module!r} has no clock port {clock!r}") from None
    result = buffer_fanout(data, module, ASIC_BUFFER, ASIC_MAX_FANOUT, frozenset(clock_bits))
    name_cells(data, module)
    if result.max_fanout_after > ASIC_MAX_FANOUT:
        raise SynthError(f"fanout buffering of {module!r} left a net with "
                         f"{result.max_fanout_after} loads (limit {ASIC_MAX_FANOUT})")
    (workdir / f"{prefix}.buffered.json").write_text(json.dumps(data))
    return result.buffers


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


def sta_constraints(clock: str, period_ns: float) -> str:
    """The OpenSTA constraints of the ASIC flow (Tcl): an ideal clock on ``clock``, zero
    input and output delays against it, :data:`ASIC_INPUT_DRIVER` on every other input and
    :data:`ASIC_OUTPUT_LOAD_PF` on every output."""
    port = f"[get_ports {{{clock}}}]"
    return (
        f'if {{[llength {port}] != 1}} {{ puts "Error: no clock port {clock}" }}\n'
        f"create_clock -name {clock} -period {period_ns:g} {port}\n"
        "set qtpe_inputs {}\n"
        f'foreach p [all_inputs] {{ if {{[get_full_name $p] != "{clock}"}} '
        "{ lappend qtpe_inputs $p } }\n"
        "if {[llength $qtpe_inputs]} {\n"
        f"  set_input_delay 0 -clock {clock} $qtpe_inputs\n"
        f"  set_driving_cell -lib_cell {ASIC_INPUT_DRIVER} -pin Y $qtpe_inputs\n"
        "}\n"
        f"set_output_delay 0 -clock {clock} [all_outputs]\n"
        f"set_load {ASIC_OUTPUT_LOAD_PF:g} [all_outputs]\n"
    )


def asic_flow(verilog: Path, top: str, workdir: Path, clock: str = "clk") -> AsicReport:
    """OSU 0.18 um area of ``top`` alone and OpenSTA Fmax of its registered-I/O wrapper.

    The Liberty and ``sta`` come from :func:`qtpe.synth.install.liberty_path` and
    :func:`~qtpe.synth.install.sta_path` (``make setup``). Both netlists (the design alone for
    area and power, ``asic.design.netlist.v``; the wrapper for timing) are mapped by ABC with
    the delay target :data:`ASIC_CLOCK_PERIOD_NS` and buffered to :data:`ASIC_MAX_FANOUT`
    loads per net (:mod:`qtpe.synth.buffers`). OpenSTA times the wrapper with the constraints
    of :func:`sta_constraints`; the worst path is ``period - worst slack`` (arrival + setup)
    and ``fmax_mhz = 1000 / worst_path_ns``. Method and limits: :class:`AsicReport`.
    """
    liberty_src, sta = install.liberty_path(), install.sta_path()
    workdir, source = _prepare(verilog, top, workdir, clock)
    wrapper = write_regio_wrapper(source, top, workdir, clock)
    liberty = Path("lib") / liberty_src.name
    (workdir / liberty).parent.mkdir(exist_ok=True)
    shutil.copyfile(liberty_src, workdir / liberty)
    lib, netlist, design_netlist = liberty.as_posix(), ASIC_NETLIST, ASIC_DESIGN_NETLIST
    period = ASIC_CLOCK_PERIOD_NS
    stats = [f"asic.{s}{k}" for s in ("design", "regio")
             for k in (".stat.json", ".generic.stat.json", ".mapped.json", ".buffered.json")]
    _fresh(workdir, netlist, design_netlist, *stats)
    _log.info(f"OSU 0.18 um mapping of {top} and {wrapper.module} (Yosys, abc -D)")
    run_yosys(
        f"read_liberty -lib {lib}\n"
        f"read_verilog {source.as_posix()}\n"
        f"read_verilog {wrapper.path.name}\n"
        "design -save qtpe_input\n"
        + _asic_map_commands(top, lib, "asic.design", period)
        + "design -load qtpe_input\n"
        + _asic_map_commands(wrapper.module, lib, "asic.regio", period),
        workdir,
        name="asic.map.yosys",
    )
    _log.info(f"fanout buffering of {top} and {wrapper.module} (limit {ASIC_MAX_FANOUT})")
    buffers = _buffer_netlist(workdir, "asic.design", top, clock)
    _buffer_netlist(workdir, "asic.regio", wrapper.module, clock)
    run_yosys(
        _asic_netlist_commands("asic.design", lib, design_netlist)
        + _asic_netlist_commands("asic.regio", lib, netlist),
        workdir,
        name="asic.yosys",
    )
    for path in (netlist, design_netlist):
        _strip_signed(workdir / path)
    design = _asic_stats(workdir, "asic.design", top)
    wrapped = _asic_stats(workdir, "asic.regio", wrapper.module)

    _log.info(f"OSU 0.18 um timing of {wrapper.module} (OpenSTA)")
    log = run_sta(
        f"read_liberty {lib}\n"
        f"read_verilog {netlist}\n"
        f"link_design {wrapper.module}\n"
        + sta_constraints(clock, period)
        + "report_checks -path_delay max -format full -fields {capacitance slew} -digits 4\n"
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
        critical_path=path.stages,
        max_fanout=ASIC_MAX_FANOUT,
        fanout_buffers=buffers,
        input_driver=ASIC_INPUT_DRIVER,
        output_load_pf=ASIC_OUTPUT_LOAD_PF,
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
