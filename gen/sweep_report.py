"""The report of a sweep (``qtpe.gen.sweep``): ``report.md`` with the winners per precision and
the full table, and two matplotlib plots (Agg backend, PNG bytes):

* ``area_energy.png``: ASIC area and energy per MAC against weight bits, a line per PE kind
  and dataflow;
* ``pareto.png``: throughput per area (MACs/s per mm^2) against energy per MAC, every measured
  point labelled, the Pareto front (no other point has both more MACs/s per mm^2 and fewer
  pJ per MAC) drawn and its points named.

Winners are taken over the rows with ``status = "ok"`` only.
"""

from __future__ import annotations

import io

__all__ = ["render", "winners", "pareto_front"]

_METRICS = (
    # key, heading, better, format
    ("macs_per_s_per_mm2", "throughput per area (GMAC/s per mm^2)", max,
     lambda v: f"{v / 1e9:.2f}"),
    ("pj_per_mac", "energy (pJ/MAC)", min, lambda v: f"{v:.2f}"),
)


def _label(r: dict) -> str:
    return f"{r['pe']} {r['weight']} {r['dataflow'].upper()}"


def _num(v, fmt="{:.1f}") -> str:
    return "-" if v is None or v == "" else fmt.format(v)


def _precisions(rows: list) -> list:
    seen = []
    for r in rows:
        if r["precision"] not in seen:
            seen.append(r["precision"])
    return seen


def winners(rows: list) -> list[dict]:
    """Per precision and figure of merit: the best ``ok`` row, the runner-up of another PE
    kind and the ratio between them (``None`` where no row has the number)."""
    out = []
    for prec in _precisions(rows):
        ok = [r for r in rows if r["precision"] == prec and r["status"] == "ok"]
        for key, heading, better, fmt in _METRICS:
            have = [r for r in ok if r.get(key) is not None]
            if not have:
                continue
            best = better(have, key=lambda r: r[key])
            others = [r for r in have if r["pe"] != best["pe"]]
            second = better(others, key=lambda r: r[key]) if others else None
            ratio = None
            if second is not None and second[key] and best[key]:
                ratio = best[key] / second[key] if better is max else second[key] / best[key]
            out.append({"precision": prec, "metric": key, "heading": heading, "best": best,
                        "second": second, "ratio": ratio, "fmt": fmt})
    return out


def pareto_front(rows: list) -> list[dict]:
    """The ``ok`` rows with both numbers that no other such row dominates (at least as much
    throughput per area and at most as much energy per MAC, better in one), by energy."""
    pts = [r for r in rows if r["status"] == "ok" and r.get("macs_per_s_per_mm2") is not None
           and r.get("pj_per_mac") is not None]
    front = []
    for r in pts:
        dominated = any(
            o is not r and o["macs_per_s_per_mm2"] >= r["macs_per_s_per_mm2"]
            and o["pj_per_mac"] <= r["pj_per_mac"]
            and (o["macs_per_s_per_mm2"] > r["macs_per_s_per_mm2"]
                 or o["pj_per_mac"] < r["pj_per_mac"])
            for o in pts)
        if not dominated and not any(f["key"] == r["key"] for f in front):
            front.append(r)
    return sorted(front, key=lambda r: r["pj_per_mac"])


def _markdown(rows: list, meta: dict, plots: list) -> str:
    st = meta["stages"]
    lines = [
        f"# Sweep `{meta['space']}`",
        "",
        *([meta["description"], ""] if meta["description"] else []),
        f"Run {meta['date']} by `qtpe sweep {meta['space_file']}` on {meta['machine']}: "
        f"{len(rows)} points, {meta['computed']} computed in this run, {meta['from_cache']} "
        f"from the cache, {meta['seconds']:.0f} s wall time for this run ({meta['load']}); the "
        f"points' own times add up to {meta['point_seconds']:.0f} s (the run that computed "
        "each). Targets "
        f"{', '.join(st['targets'])}; energy {'on' if st['energy'] else 'off'}; verification "
        f"GEMM {'x'.join(map(str, st['verify_gemm']))} (RTL on "
        f"{st.get('verify_simulator', 'verilator').capitalize()} against the golden "
        f"model); energy GEMM {'x'.join(map(str, st['energy_gemm']))} (gate-level OSU 0.18 um "
        f"netlist on {st['energy_simulator'].capitalize()}, uniform random operands, 100 MHz); "
        f"seed {st['seed']}.",
        "",
        "Figures of merit: MACs/s per mm^2 = peak MACs/cycle x ASIC Fmax / ASIC area (OSU "
        "0.18 um, typical corner, pre-layout; area of the array alone, Fmax of the "
        "registered-I/O wrapper); MACs per pJ = 1 / (pJ/MAC). Each kind is at its default "
        "keys (one lane per PE; LUT: g = 4 activations per table), so peak MACs/cycle differ "
        "between kinds: the figures of merit compare them per unit of throughput.",
        "",
        "## Winners per precision",
        "",
        "| precision | figure of merit | winner | value | runner-up (another kind) | value "
        "| margin |",
        "| --- | --- | --- | ---: | --- | ---: | ---: |",
    ]
    for w in winners(rows):
        fmt, key = w["fmt"], w["metric"]
        second = w["second"]
        margin = f"{w['ratio']:.2f}x" if w["ratio"] else "-"
        lines.append(
            f"| {w['precision']} | {w['heading']} | **{_label(w['best'])}** "
            f"| {fmt(w['best'][key])} | {_label(second) if second else '-'} "
            f"| {fmt(second[key]) if second else '-'} "
            f"| {margin} |")
    if not winners(rows):
        lines.append("| - | no point has ASIC numbers (targets without \"asic\") | - | - | - | - "
                     "| - |")
    front = pareto_front(rows)
    if front:
        lines += ["", "Pareto front (throughput per area against energy per MAC): "
                  + ", ".join(f"{_label(r)} ({r['macs_per_s_per_mm2'] / 1e9:.2f} GMAC/s/mm^2, "
                              f"{r['pj_per_mac']:.2f} pJ/MAC)" for r in front) + "."]
    lines += _by_kind(rows)
    if plots:
        lines += [""] + [f"![{alt}]({name})" for name, alt in plots]
    lines += [
        "",
        "## Every point",
        "",
        "| precision | PE | weight | dataflow | status | LUT4 | FF | DSP | ECP5 MHz "
        "| ASIC um^2 | ASIC MHz | pJ/MAC | MACs/cycle | GMAC/s/mm^2 | MACs/pJ |",
        "| --- | --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
        "| ---: | ---: |",
    ]
    for r in rows:
        tput = r.get("macs_per_s_per_mm2")
        lines.append(
            f"| {r['precision']} | {r['pe']} | {r['weight']} | {r['dataflow'].upper()} "
            f"| {r['status']} | {_num(r['lut4'], '{}')} | {_num(r['ff'], '{}')} "
            f"| {_num(r['dsp'], '{}')} | {_num(r['ecp5_fmax_mhz'])} "
            f"| {_num(r['asic_area_um2'], '{:,.0f}')} | {_num(r['asic_fmax_mhz'])} "
            f"| {_num(r['pj_per_mac'], '{:.2f}')} | {_num(r['macs_per_cycle'], '{:g}')} "
            f"| {_num(None if tput is None else tput / 1e9, '{:.2f}')} "
            f"| {_num(r['macs_per_pj'], '{:.3f}')} |")
    failed = [r for r in rows if r["status"] != "ok"]
    if failed:
        lines += ["", "## Points without numbers", ""]
        lines += [f"- {_label(r)} ({r['precision']}): {r['status']}: {r['reason']}"
                  for r in failed]
    lines += ["", "Tools: " + "; ".join(f"{k} {v}" for k, v in sorted(meta["tools"].items())),
              ""]
    return "\n".join(lines)


def _by_kind(rows: list) -> list[str]:
    """Each kind's best throughput per area and best energy per precision (over its
    dataflows and shapes): ``GMAC/s/mm^2 / pJ/MAC``, the precision's best of each in bold."""
    ok = [r for r in rows if r["status"] == "ok" and r.get("macs_per_s_per_mm2") is not None]
    if not ok:
        return []
    kinds = list(dict.fromkeys(r["pe"] for r in rows))
    out = ["", "Best of each kind (over dataflows and shapes): GMAC/s per mm^2 / pJ per MAC "
           "(the precision's best in bold; - where the kind has no point):", "",
           "| precision | " + " | ".join(kinds) + " |", "| --- |" + " ---: |" * len(kinds)]
    for prec in _precisions(rows):
        here = [r for r in ok if r["precision"] == prec]
        if not here:
            continue
        top_t = max(r["macs_per_s_per_mm2"] for r in here)
        energies = [r["pj_per_mac"] for r in here if r.get("pj_per_mac") is not None]
        top_e = min(energies) if energies else None
        cells = []
        for k in kinds:
            mine = [r for r in here if r["pe"] == k]
            if not mine:
                cells.append("-")
                continue
            t = max(r["macs_per_s_per_mm2"] for r in mine)
            es = [r["pj_per_mac"] for r in mine if r.get("pj_per_mac") is not None]
            e = min(es) if es else None
            ts = f"**{t / 1e9:.2f}**" if t == top_t else f"{t / 1e9:.2f}"
            es_ = "-" if e is None else (f"**{e:.1f}**" if e == top_e else f"{e:.1f}")
            cells.append(f"{ts} / {es_}")
        out.append(f"| {prec} | " + " | ".join(cells) + " |")
    return out


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, metadata={"Software": None})
    return buf.getvalue()


def _series(rows: list):
    """(pe, dataflow) -> rows sorted by weight bits (ok rows, one per weight format)."""
    out: dict = {}
    for r in rows:
        if r["status"] != "ok":
            continue
        s = out.setdefault((r["pe"], r["dataflow"]), {})
        s.setdefault(r["weight"], r)
    return {k: sorted(v.values(), key=lambda r: r["weight_bits"]) for k, v in out.items()}


def _area_energy_plot(rows: list) -> bytes | None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    series = _series(rows)
    if not any(r.get("asic_area_um2") for s in series.values() for r in s):
        return None
    kinds = sorted({k for k, _ in series})
    colors = {k: f"C{i}" for i, k in enumerate(kinds)}
    fig = Figure(figsize=(11, 4.6), layout="constrained")
    axes = fig.subplots(1, 2)
    for ax, key, ylabel in ((axes[0], "asic_area_um2", "ASIC area of the array (mm^2)"),
                            (axes[1], "pj_per_mac", "energy per MAC (pJ)")):
        for (pe, df), s in sorted(series.items()):
            pts = [(r["weight_bits"], r[key]) for r in s if r.get(key) is not None]
            if not pts:
                continue
            xs, ys = zip(*pts, strict=True)
            if key == "asic_area_um2":
                ys = [y / 1e6 for y in ys]
            ax.plot(xs, ys, color=colors[pe], marker="o" if df == "os" else "s",
                    linestyle="-" if df == "os" else "--", label=f"{pe} {df.upper()}")
        ax.set_xlabel("weight bits (ternary = 1.58)")
        ax.set_ylabel(ylabel)
        ax.set_xscale("log", base=2)
        ticks = sorted({r["weight_bits"] for s in series.values() for r in s})
        ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
        ax.minorticks_off()
        ax.grid(True, alpha=0.3)
    axes[0].set_title("array area (OSU 0.18 um, pre-layout)")
    axes[1].set_title("energy per MAC (gate-level GEMM)")
    axes[1].legend(fontsize=8, ncol=2)
    return _png(fig)


def _pareto_plot(rows: list) -> bytes | None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    pts = [r for r in rows if r["status"] == "ok" and r.get("macs_per_s_per_mm2") is not None
           and r.get("pj_per_mac") is not None]
    if not pts:
        return None
    seen, uniq = set(), []
    for r in pts:
        if r["key"] not in seen:
            seen.add(r["key"])
            uniq.append(r)
    kinds = sorted({r["pe"] for r in uniq})
    colors = {k: f"C{i}" for i, k in enumerate(kinds)}
    fig = Figure(figsize=(11, 7.5), layout="constrained")
    ax = fig.subplots()
    for k in kinds:
        for df, marker in (("os", "o"), ("ws", "s")):
            sel = [r for r in uniq if r["pe"] == k and r["dataflow"] == df]
            if sel:
                ax.scatter([r["pj_per_mac"] for r in sel],
                           [r["macs_per_s_per_mm2"] / 1e9 for r in sel], color=colors[k],
                           marker=marker, s=36, label=f"{k} {df.upper()}", zorder=3)
    front = pareto_front(uniq)
    on_front = {r["key"] for r in front}
    ax.plot([r["pj_per_mac"] for r in front], [r["macs_per_s_per_mm2"] / 1e9 for r in front],
            color="black", linewidth=1.2, zorder=2, label="Pareto front")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.autoscale_view()
    labels = [(r, _label(r) if r["key"] in on_front else f"{r['weight']} {r['dataflow'].upper()}")
              for r in sorted(uniq, key=lambda r: r["key"] not in on_front)]
    _place_labels(fig, ax, [(r["pj_per_mac"], r["macs_per_s_per_mm2"] / 1e9, text,
                             r["key"] in on_front) for r, text in labels])
    for axis in (ax.xaxis, ax.yaxis):  # plain numbers on the log axes, not 3 x 10^1
        axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        axis.set_minor_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.tick_params(which="minor", labelsize=7)
    lo, hi = ax.get_xlim()
    ax.set_xticks([t for t in (5, 7, 10, 12, 15, 20, 25, 30, 40, 50, 70, 100, 150, 200, 300)
                   if lo <= t <= hi])
    ax.set_xticks([], minor=True)
    ax.set_xlabel("energy per MAC (pJ, lower is better)")
    ax.set_ylabel("throughput per area (GMAC/s per mm^2, higher is better)")
    ax.set_title("throughput per area against energy per MAC (OSU 0.18 um)")
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(fontsize=8, loc="best")
    return _png(fig)


def _place_labels(fig, ax, items) -> None:
    """Annotate each ``(x, y, text, bold)`` beside its point, at the first of eight offsets
    whose box overlaps no marker and no label placed before (bold ones first); where none is
    free, the first offset. Boxes are estimated from the font size (no renderer needed)."""
    scale = fig.dpi / 72.0
    placed: list[tuple[float, float, float, float]] = []
    for x, y, _, _ in items:  # the markers themselves
        px, py = ax.transData.transform((x, y))
        placed.append((px - 4 * scale, py - 4 * scale, px + 4 * scale, py + 4 * scale))
    offsets = [(5, 4), (5, -11), (-5, 4), (-5, -11), (5, 14), (5, -21), (-5, 14), (-5, -21)]
    for x, y, text, bold in items:
        size = 7.5 if bold else 6.5
        w, h = 0.62 * size * len(text) * scale, 1.25 * size * scale
        px, py = ax.transData.transform((x, y))
        choice = offsets[0]
        for dx, dy in offsets:
            left = px + dx * scale - (w if dx < 0 else 0)
            bottom = py + dy * scale
            box = (left, bottom, left + w, bottom + h)
            if not any(box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3]
                       for b in placed):
                choice = (dx, dy)
                break
        dx, dy = choice
        left = px + dx * scale - (w if dx < 0 else 0)
        placed.append((left, py + dy * scale, left + w, py + dy * scale + h))
        ax.annotate(text, (x, y), textcoords="offset points", xytext=(dx, dy), fontsize=size,
                    ha="right" if dx < 0 else "left", color="black" if bold else "0.35",
                    fontweight="bold" if bold else "normal")


def render(rows: list, meta: dict) -> dict:
    """The report files: ``report.md`` and the plots that have data (name -> content)."""
    files: dict = {}
    plots = []
    for name, alt, make in (("area_energy.png", "area and energy against weight bits",
                             _area_energy_plot),
                            ("pareto.png", "throughput per area against energy per MAC",
                             _pareto_plot)):
        png = make(rows)
        if png is not None:
            files[name] = png
            plots.append((name, alt))
    files["report.md"] = _markdown(rows, meta, plots)
    return files
