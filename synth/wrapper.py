"""Registered-I/O timing wrapper.

Fmax is only meaningful between registers: an out-of-context design's input-to-register and
register-to-output paths are unconstrained, and a combinational design has no timed path at all.
:func:`write_regio_wrapper` therefore generates ``<top>_regio``, which instantiates ``<top>`` as
``dut`` and puts one positive-edge register (no reset, no enable) on every input bit except the
clock and on every output bit, all clocked by the design's clock port. Timing the wrapper times
every path of the design, register to register. The wrapper adds
:attr:`RegioWrapper.io_register_bits` flip-flops (input bits less the clock, plus output bits).

Ports are read machine-readably: Yosys ``hierarchy -top <top>; proc; write_json``.
Limits: one clock (other clock-like inputs get registered like data); no ``inout`` ports.
"""

from __future__ import annotations

import enum
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from .tools import SynthError, run_yosys

__all__ = [
    "Direction",
    "Port",
    "RegioWrapper",
    "IDENTIFIER_RE",
    "stage_verilog",
    "read_ports",
    "regio_wrapper_verilog",
    "write_regio_wrapper",
]

#: Module names the flows accept: plain Verilog identifiers (they also name report files).
IDENTIFIER_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")
_VERILOG_KEYWORDS = frozenset(
    "always and assign begin buf case casex casez default defparam disable edge else end "
    "endcase endfunction endmodule endtask for forever function if initial inout input integer "
    "module nand negedge nor not or output parameter posedge real reg repeat signed task time "
    "tri wait while wire xor xnor localparam generate endgenerate genvar".split()
)


class Direction(enum.Enum):
    INPUT = "input"
    OUTPUT = "output"
    INOUT = "inout"


@dataclass(frozen=True)
class Port:
    """One port of the top module, in declaration order."""

    name: str
    direction: Direction
    width: int

    def __post_init__(self) -> None:
        if self.width < 1:
            raise ValueError(f"port {self.name!r} has width {self.width}; widths are >= 1")


@dataclass(frozen=True)
class RegioWrapper:
    """A generated wrapper: its file (in the work directory), module name and what it adds."""

    path: Path
    module: str
    top: str
    clock: str
    ports: tuple[Port, ...]

    @property
    def io_register_bits(self) -> int:
        """Flip-flops the wrapper adds: every input bit except the clock, every output bit."""
        return sum(p.width for p in self.ports if p.name != self.clock)


def stage_verilog(verilog: Path, workdir: Path) -> Path:
    """Copy ``verilog`` into ``<workdir>/src/`` (the tools see only the work directory).

    Characters other than letters, digits, ``_ . -`` in the file name become ``_`` so that the
    name can stand unquoted in tool scripts. Returns the copy's path relative to ``workdir``.
    """
    verilog = Path(verilog)
    if not verilog.is_file():
        raise FileNotFoundError(f"Verilog source {str(verilog)!r} does not exist")
    relative = Path("src") / re.sub(r"[^A-Za-z0-9_.-]", "_", verilog.name)
    target = Path(workdir) / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    if not (target.exists() and target.samefile(verilog)):
        shutil.copyfile(verilog, target)
    return relative


def read_ports(source: Path, top: str, workdir: Path) -> tuple[tuple[Port, ...], frozenset[str]]:
    """Ports of module ``top`` in ``<workdir>/<source>``, and all module names in the design.

    Raises :class:`SynthError` when Yosys fails (syntax errors, missing ``top``) or its JSON lacks
    the module or a port's direction/bits.
    """
    workdir = Path(workdir)
    out = "ports.json"
    (workdir / out).unlink(missing_ok=True)
    run_yosys(
        f"read_verilog {Path(source).as_posix()}\nhierarchy -top {top}\nproc\nwrite_json {out}\n",
        workdir,
        name="ports",
    )
    netlist = json.loads((workdir / out).read_text())
    modules = netlist.get("modules")
    if not isinstance(modules, dict) or top not in modules:
        raise SynthError(f"Yosys JSON {workdir / out} has no module {top!r}")
    raw_ports = modules[top].get("ports")
    if not isinstance(raw_ports, dict):
        raise SynthError(f"Yosys JSON {workdir / out}: module {top!r} has no 'ports'")
    ports = []
    for name, data in raw_ports.items():
        try:
            direction = Direction(data["direction"])
            width = len(data["bits"])
        except (KeyError, TypeError, ValueError) as exc:
            message = f"Yosys JSON: port {name!r} of {top!r} is malformed: {data!r}"
            raise SynthError(message) from exc
        ports.append(Port(name, direction, width))
    return tuple(ports), frozenset(modules)


def _ident(name: str) -> str:
    """``name`` as a Verilog identifier, escaped when it is not a plain one."""
    if IDENTIFIER_RE.fullmatch(name) and name not in _VERILOG_KEYWORDS:
        return name
    if re.search(r"\s", name):
        raise ValueError(f"port name {name!r} contains whitespace and cannot be written")
    return f"\\{name} "


def _reg_names(port: Port) -> tuple[str, str]:
    """``(register, design-side wire)`` names the wrapper uses for ``port``."""
    if port.direction is Direction.INPUT:
        return f"qtpe_in_{port.name}", f"qtpe_in_{port.name}"
    return f"qtpe_out_{port.name}", f"qtpe_out_{port.name}_d"


def regio_wrapper_verilog(top: str, ports: tuple[Port, ...], clock: str = "clk") -> str:
    """Verilog text of module ``<top>_regio`` (see the module docstring for the contract)."""
    by_name = {p.name: p for p in ports}
    clock_port = by_name.get(clock)
    inputs = ", ".join(p.name for p in ports if p.direction is Direction.INPUT)
    if clock_port is None or clock_port.direction is not Direction.INPUT:
        raise ValueError(
            f"clock {clock!r} is not an input port of {top!r}; its inputs are: {inputs or 'none'}"
        )
    if clock_port.width != 1:
        raise ValueError(f"clock {clock!r} of {top!r} is {clock_port.width} bits wide, not 1")
    inouts = [p.name for p in ports if p.direction is Direction.INOUT]
    if inouts:
        raise ValueError(f"the registered-I/O wrapper cannot register inout ports {inouts}")
    internal = {_reg_names(p)[k] for p in ports for k in (0, 1)}
    clash = sorted(internal & set(by_name))
    if clash:
        raise ValueError(f"port names {clash} clash with the wrapper's internal signal names")

    clk = _ident(clock)
    header = [
        f"  input wire {clk}"
        if p.name == clock
        else f"  {p.direction.value} wire [{p.width - 1}:0] {_ident(p.name)}"
        for p in ports
    ]
    body: list[str] = []
    clocked: list[str] = []
    connections: list[str] = []
    for port in ports:
        name = _ident(port.name)
        reg, wire = (_ident(n) for n in _reg_names(port))
        rng = f"[{port.width - 1}:0]"
        if port.name == clock:
            connections.append(f"    .{name}({clk})")
        elif port.direction is Direction.INPUT:
            body.append(f"  reg {rng} {reg};")
            clocked.append(f"    {reg} <= {name};")
            connections.append(f"    .{name}({reg})")
        else:
            body.append(f"  wire {rng} {wire};")
            body.append(f"  reg {rng} {reg};")
            clocked.append(f"    {reg} <= {wire};")
            body.append(f"  assign {name} = {reg};")
            connections.append(f"    .{name}({wire})")
    lines = [
        f"// Registered-I/O timing wrapper for {top}; generated by qtpe.synth.wrapper.",
        f"module {top}_regio (",
        ",\n".join(header),
        ");",
        *body,
        f"  always @(posedge {clk}) begin",
        *clocked,
        "  end",
        f"  {top} dut (",
        ",\n".join(connections),
        "  );",
        "endmodule",
        "",
    ]
    return "\n".join(lines)


def write_regio_wrapper(source: Path, top: str, workdir: Path, clock: str = "clk") -> RegioWrapper:
    """Read ``top``'s ports from ``<workdir>/<source>`` and write ``<workdir>/<top>_regio.v``.

    Raises :class:`ValueError` for a bad clock, inout ports or a design that already has a
    module named ``<top>_regio``; :class:`SynthError` when Yosys cannot read the design.
    """
    if not IDENTIFIER_RE.fullmatch(top):
        raise ValueError(f"top module name {top!r} is not a plain Verilog identifier")
    ports, modules = read_ports(source, top, workdir)
    module = f"{top}_regio"
    if module in modules:
        raise ValueError(f"the design already has a module named {module!r}")
    path = Path(workdir) / f"{module}.v"
    path.write_text(regio_wrapper_verilog(top, ports, clock))
    return RegioWrapper(path=path, module=module, top=top, clock=clock, ports=ports)
