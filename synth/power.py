"""Power of a mapped netlist from simulated switching activity, with OpenSTA's Liberty tables.

Method (what ``qtpe power`` does, :mod:`qtpe.gen.power`):

1. The ASIC flow (:func:`qtpe.synth.flows.asic_flow`) maps and buffers the design; its
   netlist (``asic.design.buffered.json``) is what is simulated and what is analysed.
2. :func:`simulation_netlist` writes that netlist as Verilog with one wire ``w<n>`` per net
   bit, and :func:`cell_models` the library cells as Verilog from the Liberty functions
   (Yosys ``read_liberty``). A cocotb run of the real workload on this gate-level netlist
   (zero delay: no glitches) traces every wire (:mod:`qtpe.sim.activity`).
3. OpenSTA 2.0.17 cannot read SAIF or VCD, and it overwrites activities set on internal pins
   with its own propagation, so its totals cannot use measured activity. Its ``report_power``
   does look up, for every pin of every instance, the Liberty energy tables at the pin's real
   slew and load and the net's ``C V^2 / 2``; :func:`instance_power` reads those per-arc
   numbers from its ``power`` debug trace (:class:`PinEnergy`), and :func:`combine` multiplies
   each pin's energy per transition by the toggles measured on its net: an output's internal
   energy per transition is the mean of its input arcs' energies weighted by the toggles of
   those inputs; passive input energies (flip-flop D and clock pins) count the pin's own
   toggles (the clock: two per cycle); leakage is the Liberty's cell leakage.

What this models: every net's switching from the simulation, internal energy from the tables at
the timing run's slews and loads, leakage, the flip-flops' clock pins. What it does not:
glitches (zero-delay simulation), wires (no wire load: pin capacitances only), the clock tree
(ideal clock: only the flip-flops' clock pins), and which input of a multi-input gate caused a
given output transition (the arcs are weighted by their inputs' toggle counts instead).
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from .tools import STA_DONE, SynthError, run_sta, run_yosys

__all__ = ["PowerReport", "PinEnergy", "simulation_netlist", "cell_models",
           "instance_power", "combine", "wire_name", "SIM_NETLIST", "CELL_MODELS"]

SIM_NETLIST = "power.sim.v"
CELL_MODELS = "power.cells.v"


def wire_name(bit: int) -> str:
    """The simulation netlist's wire of net bit ``bit``."""
    return f"w{bit}"


def _escape(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_$]*", name) else f"\\{name} "


def _const(bit) -> str:
    return "1'b1" if bit == "1" else "1'b0"  # x and z drive 0 in the simulation


def simulation_netlist(netlist: dict, top: str) -> str:
    """Verilog of module ``top`` of a Yosys JSON netlist of library cells: the same ports,
    one wire ``w<n>`` per net bit (port bits assigned to and from them), the same cell
    instances and names."""
    module = netlist["modules"][top]
    ports = module["ports"]
    bits: set[int] = set()
    for info in ports.values():
        bits.update(b for b in info["bits"] if isinstance(b, int))
    for cell in module["cells"].values():
        for conn in cell["connections"].values():
            bits.update(b for b in conn if isinstance(b, int))
    lines = [f"module {top} ({', '.join(_escape(p) for p in ports)});"]
    for name, info in ports.items():
        width = len(info["bits"])
        rng = f" [{width - 1}:0]" if width > 1 else ""
        lines.append(f"  {info['direction']}{rng} {_escape(name)};")
    lines += [f"  wire {wire_name(b)};" for b in sorted(bits)]
    driven_by_port: set[int] = set()
    for name, info in ports.items():
        width = len(info["bits"])
        for i, b in enumerate(info["bits"]):
            ref = f"{_escape(name)}[{i}]" if width > 1 else _escape(name)
            if info["direction"] == "input":
                if isinstance(b, int) and b not in driven_by_port:
                    driven_by_port.add(b)
                    lines.append(f"  assign {wire_name(b)} = {ref};")
            else:
                src = wire_name(b) if isinstance(b, int) else _const(b)
                lines.append(f"  assign {ref} = {src};")
    for name in sorted(module["cells"]):
        cell = module["cells"][name]
        conns = ", ".join(
            f".{p}({wire_name(c[0]) if isinstance(c[0], int) else _const(c[0])})"
            for p, c in sorted(cell["connections"].items()))
        lines.append(f"  {cell['type']} {_escape(name)} ({conns});")
    lines.append("endmodule")
    return "\n".join(lines) + "\n"


def cell_models(liberty: Path, workdir: Path) -> Path:
    """Verilog models of the Liberty's cells from their functions (Yosys ``read_liberty``;
    cells without a function, the tri-state buffers, are left out) as ``CELL_MODELS``."""
    out = Path(workdir) / CELL_MODELS
    out.unlink(missing_ok=True)
    local = Path(workdir) / "lib" / Path(liberty).name  # tools see only their work folder
    local.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(liberty, local)
    run_yosys(f"read_liberty -ignore_miss_func lib/{local.name}\n"
              f"write_verilog -noattr {CELL_MODELS}\n", workdir, name="power.cells.yosys")
    if not out.exists():
        raise SynthError(f"Yosys wrote no cell models to {out}")
    return out


@dataclass(frozen=True)
class PinEnergy:
    """What OpenSTA's Liberty tables give one pin of one instance, in its netlist context
    (slew and load of the timing run), per transition of the pin (J): ``arcs`` maps each
    related input pin to the internal energy of an output transition it causes (the
    pin itself for an input pin's own, passive energy); ``switching`` is ``C V^2 / 2`` of the
    net an output drives (0 for inputs)."""

    arcs: dict[str, float]
    switching: float = 0.0


_INTERNAL_RE = re.compile(r"^power: internal (.+)/([^/\s]+) \((\S+)\)\s*$")
_SWITCHING_RE = re.compile(r"^power: switching (\S+)/(\S+) activity = (\S+) volt = (\S+) (\S+)\s*$")
_NUM = r"-?\d+(?:\.\d+)?(?:e[-+]\d+)?"
_ARC_RE = re.compile(rf"^power:\s+(\S+) -> (\S+)\s+(?:.*?\s+)?({_NUM})\s+({_NUM})\s+({_NUM})\s+"
                     rf"({_NUM})\s+(?:no pg_pin|\S+)\s*$")
_LEAK_RE = re.compile(r"^power: leakage (?:cell|default) (\S+) (\S+)\s*$")


def instance_power(workdir: Path, liberty: str, netlist: str, top: str, constraints: str,
                   sta: Path) -> tuple[dict[tuple[str, str], PinEnergy], dict[str, float]]:
    """Every pin's energy per transition and every instance's leakage (W), read from the
    per-arc trace of one ``report_power`` (OpenSTA's ``power`` debug output) at a global
    activity of 1 transition per cycle, duty 0.5.

    OpenSTA 2.0.17 multiplies each arc's ``rise + fall`` table energy by a duty factor; the
    trace gives both, so ``(rise + fall) / 2`` per transition is recovered exactly. (Its own
    totals count rise and fall energy on every transition, twice the energy: later OpenSTA
    versions average them. qtpe uses the per-arc energies, not those totals.)"""
    script = (f"read_liberty {liberty}\nread_verilog {netlist}\nlink_design {top}\n"
              + constraints
              + "set_power_activity -global -activity 1 -duty 0.5\n"
              "sta::set_debug power 2\n"
              "report_power -instances [get_cells *] -digits 6\n"
              "sta::set_debug power 0\n"
              f"puts {STA_DONE}\n")
    log = run_sta(script, workdir, name="power.sta", sta=sta)
    pins: dict[tuple[str, str], PinEnergy] = {}
    leakage: dict[str, float] = {}
    pending: dict[str, float] = {}
    current: tuple[str, str] | None = None
    for line in log.splitlines():
        if not line.startswith("power:"):
            continue
        if m := _INTERNAL_RE.match(line):
            inst, port = m.group(1).replace("\\", ""), m.group(2)
            current = (inst, port)
            pins[current] = PinEnergy({}, pending.pop(port, 0.0))
        elif m := _SWITCHING_RE.match(line):
            activity, power = float(m.group(3)), float(m.group(5))
            pending[m.group(2)] = power / activity if activity > 0 else 0.0
        elif m := _ARC_RE.match(line):
            if current is None:
                raise SynthError(f"OpenSTA power trace: arc before any pin: {line!r}")
            duty, energy = float(m.group(4)), float(m.group(5))
            if duty <= 0:
                raise SynthError(f"OpenSTA power trace: arc with duty {duty}: {line!r}")
            pins[current].arcs[m.group(1)] = energy / duty / 2
        elif m := _LEAK_RE.match(line):
            if current is not None:
                leakage[current[0]] = leakage.get(current[0], 0.0) + float(m.group(2))
    if not pins:
        raise SynthError(f"OpenSTA printed no power trace (see {workdir}/power.sta.log)")
    return pins, leakage


@dataclass(frozen=True)
class PowerReport:
    """Power and energy of one simulated run (W, pJ), OpenSTA's tables with measured toggles.

    Attributes:
        clock_mhz: the clock the power is computed at (energy per cycle does not depend on
            it, leakage per cycle does).
        cycles: clock cycles of the simulated window; macs: multiply-accumulates done in it.
        internal_w, switching_w, leakage_w: average power over the window.
        instances, annotated: cell instances, and those whose output net was in the trace
            (all of them, or :func:`combine` raises).
        activity: mean toggles per cycle over the instances' output nets.
        source: where the activity comes from (simulator and trace format).
    """

    clock_mhz: float
    cycles: float
    macs: int
    internal_w: float
    switching_w: float
    leakage_w: float
    instances: int
    annotated: int
    activity: float
    source: str
    notes: tuple[str, ...] = field(default=())

    @property
    def total_w(self) -> float:
        return self.internal_w + self.switching_w + self.leakage_w

    @property
    def energy_pj(self) -> float:
        """Energy of the whole window."""
        return self.total_w * self.cycles / (self.clock_mhz * 1e6) * 1e12

    @property
    def pj_per_cycle(self) -> float:
        return self.energy_pj / self.cycles

    @property
    def pj_per_mac(self) -> float:
        if self.macs <= 0:
            raise ValueError("no MACs in the window: energy per MAC is undefined")
        return self.energy_pj / self.macs

    def to_dict(self) -> dict:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__}
        out["notes"] = list(self.notes)
        out.update(total_w=self.total_w, energy_pj=self.energy_pj,
                   pj_per_cycle=self.pj_per_cycle)
        if self.macs > 0:
            out["pj_per_mac"] = self.pj_per_mac
        return out

    def summary(self) -> str:
        mw = 1e3
        lines = [
            f"  clock        {self.clock_mhz:g} MHz, {self.cycles:,.0f} cycles, "
            f"{self.macs:,} MACs",
            f"  internal     {self.internal_w * mw:.4f} mW",
            f"  switching    {self.switching_w * mw:.4f} mW",
            f"  leakage      {self.leakage_w * mw:.6f} mW",
            f"  total        {self.total_w * mw:.4f} mW",
            f"  energy       {self.pj_per_cycle:.3f} pJ/cycle"
            + (f", {self.pj_per_mac:.4f} pJ/MAC" if self.macs > 0 else ""),
            f"  activity     {self.activity:.4f} toggles/cycle per net, "
            f"{self.annotated}/{self.instances} instances from {self.source}",
        ]
        return "\n".join(lines)


def combine(pins: dict[tuple[str, str], PinEnergy], leakage: dict[str, float],
            cells: dict[str, dict], toggles: dict[int, int], clock_bits: set[int],
            cycles: float, clock_mhz: float, macs: int, source: str) -> PowerReport:
    """The energy of the simulated window from each pin's energy per transition and the
    toggles measured on its net. ``cells`` is the JSON netlist's cells (connections and port
    directions); ``toggles`` counts each net bit's toggles over ``cycles`` cycles (the clock:
    two per cycle). An output transition's internal energy is the mean of its arcs' energies
    weighted by the toggles of their input pins. A pin whose net is not in the trace raises:
    no default activity ever enters the result."""
    if cycles <= 0:
        raise ValueError(f"the simulated window has {cycles} cycles")
    window_s = cycles / (clock_mhz * 1e6)
    internal = switching = 0.0
    untraced: list[str] = []
    act_sum, outs = 0.0, 0

    def count(bit) -> float:
        if not isinstance(bit, int):
            return 0.0
        if bit in clock_bits:
            return 2.0 * cycles
        if bit not in toggles:
            raise KeyError(bit)
        return float(toggles[bit])

    for (inst, port), pin in pins.items():
        cell = cells.get(inst)
        if cell is None:
            raise SynthError(f"power trace names instance {inst!r}, not in the netlist")
        conns, dirs = cell["connections"], cell["port_directions"]
        if port not in conns:
            continue  # a cell's internal state pin (DS0000, P0002)
        try:
            t = count(conns[port][0])
            if dirs[port] == "output":
                outs += 1
                act_sum += t / cycles
                switching += t * pin.switching
                if pin.arcs:
                    weights = {a: count(conns[a][0]) for a in pin.arcs if a in conns}
                    total = sum(weights.values())
                    if total > 0:
                        e = sum(pin.arcs[a] * w for a, w in weights.items()) / total
                    else:
                        e = sum(pin.arcs.values()) / len(pin.arcs)
                    internal += t * e
            else:
                internal += t * sum(pin.arcs.values())  # passive: energy per own transition
        except KeyError:
            untraced.append(f"{inst}/{port}")
    if untraced:
        raise SynthError(f"{len(untraced)} pins' nets are not in the trace, e.g. {untraced[:3]}")
    missing = [name for name in cells if name not in leakage]
    if missing:
        raise SynthError(f"{len(missing)} instances have no power entry, e.g. {missing[:3]}")
    leak = sum(leakage.values())
    return PowerReport(clock_mhz, cycles, macs, internal / window_s, switching / window_s,
                       leak, len(cells), len(cells), act_sum / max(outs, 1), source)
