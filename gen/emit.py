"""Elaboration and Verilog emission.

The Verilog is deterministic: the same config gives byte-identical text on any machine
(``emit_src=False`` keeps source paths out of it).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from amaranth.back import verilog
from amaranth.hdl import Shape
from amaranth.lib import wiring

from qtpe import __version__
from qtpe.hdl.array import SystolicArray
from qtpe.hdl.array_config import ArrayConfig
from qtpe.hdl.config import PEConfig
from qtpe.hdl.kinds import kind_of

__all__ = ["build_component", "emit_verilog", "metadata", "write_design", "write_atomic"]


def build_component(cfg: PEConfig | ArrayConfig) -> wiring.Component:
    """The top level of ``cfg``: a ``SystolicArray``, or the kind's PE component."""
    if isinstance(cfg, ArrayConfig):
        return SystolicArray(cfg)
    return kind_of(cfg).component_class(cfg)


def emit_verilog(cfg: PEConfig, component: wiring.Component | None = None) -> str:
    component = component if component is not None else build_component(cfg)
    return verilog.convert(component, name=cfg.name, emit_src=False)


def metadata(cfg: PEConfig, component: wiring.Component) -> dict:
    """The full config, its derived values and the top level's ports."""
    ports = [
        {"name": "clk", "direction": "in", "width": 1, "signed": False},
        {"name": "rst", "direction": "in", "width": 1, "signed": False},
    ]
    for name, member in component.signature.members.items():
        shape = Shape.cast(member.shape)
        ports.append({
            "name": name,
            "direction": "in" if member.flow is wiring.In else "out",
            "width": shape.width,
            "signed": shape.signed,
        })
    return {
        "top": cfg.name,
        "generator": f"qtpe {__version__}",
        "config": cfg.to_dict(),
        "derived": {
            "product_bits": cfg.product_bits,
            "acc_bits": cfg.acc.bits,
            "acc_signed": cfg.acc.signed,
        },
        "latency": component.latency,
        "macs_per_cycle": cfg.macs_per_cycle,
        "ports": ports,
    }


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder, then rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_design(cfg: PEConfig, outdir: Path) -> tuple[Path, Path]:
    """Write ``<top>.v`` and ``<top>.json``, both produced in memory before either is written."""
    component = build_component(cfg)
    text = emit_verilog(cfg, component)
    meta = json.dumps(metadata(cfg, component), indent=2, sort_keys=True) + "\n"
    outdir = Path(outdir)
    vpath, jpath = outdir / f"{cfg.name}.v", outdir / f"{cfg.name}.json"
    write_atomic(vpath, text)
    write_atomic(jpath, meta)
    return vpath, jpath
