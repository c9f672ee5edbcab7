"""Synthesis flows and their typed reports.

``synthesize(verilog, top, target, workdir, clock="clk") -> SynthReport`` runs one of three
flows: ``generic`` (Yosys gates), ``ecp5`` (Yosys + nextpnr-ecp5) or ``asic`` (OSU 0.18 um cells +
OpenSTA; needs ``make setup``, i.e. ``python -m qtpe.synth.install``). Resource numbers are of the
design alone, Fmax of a registered-I/O wrapper (``qtpe.synth.wrapper``). Tools run via YoWASP
and work in any directory, ``/tmp`` included (``qtpe.synth.tools``).
"""

from .flows import asic_flow, ecp5_flow, generic_flow, synthesize
from .install import CollateralMissing
from .reports import AsicReport, Ecp5Report, GenericReport, SynthReport, Target
from .tools import SynthError

__all__ = [
    "synthesize",
    "generic_flow",
    "ecp5_flow",
    "asic_flow",
    "SynthReport",
    "GenericReport",
    "Ecp5Report",
    "AsicReport",
    "Target",
    "SynthError",
    "CollateralMissing",
]
