"""cocotb test behind ``qtpe gemm``: one GEMM from ``.npy`` files through the harness.

``QTPE_GEMM_DIR`` holds ``A.npy``, ``W.npy`` (and ``scale.npy``, ``shift.npy`` with
requantization, ``group_scales.npy``, ``zero_points.npy``, ``wbits.npy``,
``special_values.npy`` where given); the
test writes ``C.npy`` and ``stats.json`` there (cycles, wall seconds of the simulation
phase, mismatches against the golden model).
"""

import json
import os
from pathlib import Path

import cocotb
import numpy as np

from qtpe.tb.array import GemmHarness, load_array_config
from qtpe.tb.models.operands import QuantOperands


@cocotb.test()
async def gemm_from_files(dut):
    cfg = load_array_config()
    folder = Path(os.environ["QTPE_GEMM_DIR"])
    A, W = np.load(folder / "A.npy"), np.load(folder / "W.npy")
    scale = shift = None
    if cfg.requant:
        scale, shift = np.load(folder / "scale.npy"), np.load(folder / "shift.npy")
    def optional(name):
        path = folder / f"{name}.npy"
        return np.load(path) if path.exists() else None

    quant = QuantOperands(optional("group_scales"), optional("zero_points"), optional("wbits"),
                          optional("special_values"))
    h = GemmHarness(dut, cfg)
    run = await h.run(A, W, scale, shift, quant)
    h.report(run, f"{A.shape[0]}x{A.shape[1]}x{W.shape[1]}")
    np.save(folder / "C.npy", run.C)
    (folder / "stats.json").write_text(json.dumps({
        "cycles": run.cycles, "expected_cycles": run.expected_cycles,
        "seconds": run.seconds, "macs": run.macs, "mismatches": run.mismatches,
    }) + "\n")
    assert run.mismatches == 0, f"{run.mismatches} results differ from the golden model"
