"""qtpe: RTL generator and open verification flow for quantized tensor-engine PEs.

Subpackages: ``hdl`` (Amaranth components and the records that configure them), ``gen``
(configs, presets, Verilog emission, CLI), ``tb`` (cocotb testbenches, numpy golden models),
``sim`` (Icarus/Verilator runners), ``synth`` (Yosys/nextpnr/OpenSTA flows and reports).
"""

__version__ = "0.1.0"
