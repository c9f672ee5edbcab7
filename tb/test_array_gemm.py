"""cocotb test behind ``qtpe gemm``: one GEMM from ``.npy`` files through the harness.

``QTPE_GEMM_DIR`` holds ``A.npy``, ``W.npy`` (and ``scale.npy``, ``shift.npy`` with
requantization, ``group_scales.npy`` and ``zero_points.npy`` with groups); the test writes
``C.npy`` and ``stats.json`` there (cycles, wall seconds of
the simulation phase, mismatches against the golden model).
"""

import json
import os
from pathlib import Path

import cocotb
import numpy as np

from qtpe.tb.array import GemmHarness, load_array_config
from qtpe.tb.models.operands import GroupOperands


@cocotb.test()
async def gemm_from_files(dut):
    cfg = load_array_config()
    folder = Path(os.environ["QTPE_GEMM_DIR"])
    A, W = np.load(folder / "A.npy"), np.load(folder / "W.npy")
    scale = shift = None
    if cfg.requant:
        scale, shift = np.load(folder / "scale.npy"), np.load(folder / "shift.npy")
    groups = None
    if cfg.group_size:
        zeros = np.load(folder / "zero_points.npy") if cfg.zero_points else None
        groups = GroupOperands(np.load(folder / "group_scales.npy"), zeros)
    h = GemmHarness(dut, cfg)
    run = await h.run(A, W, scale, shift, groups)
    h.report(run, f"{A.shape[0]}x{A.shape[1]}x{W.shape[1]}")
    np.save(folder / "C.npy", run.C)
    (folder / "stats.json").write_text(json.dumps({
        "cycles": run.cycles, "expected_cycles": run.expected_cycles,
        "seconds": run.seconds, "macs": run.macs, "mismatches": run.mismatches,
    }) + "\n")
    assert run.mismatches == 0, f"{run.mismatches} results differ from the golden model"
