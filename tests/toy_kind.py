"""A whole PE kind in one file, for ``tests/test_hdl_kinds.py`` and ``docs/adding-a-kind.md``.

``addsub``: weights are ``sym1`` codes (bit 1 = +1, bit 0 = -1, binary networks), so a product
is the activation or its negation: one mux and one adder tree, no multiplier. Everything qtpe
needs to know about the kind is here: the config record, the component, the array cell, the
golden model, presets, and its registration. A real kind splits these over
``hdl/kind_<name>.py`` (config, presets, registration), ``hdl/pe_<name>.py`` (component and
cell), ``tb/models/<name>.py`` (model) and ``tb/test_pe_<name>.py`` (cocotb tests), and adds
its module to ``qtpe.hdl.kinds.KIND_MODULES``; nothing else changes.
"""

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from amaranth.hdl import Mux, Signal, signed
from amaranth.lib import data

from qtpe.hdl.array import Cell
from qtpe.hdl.array_config import Dataflow, array_preset, example_array
from qtpe.hdl.config import Lanes, OperandRule, PEConfig, Pipelined
from qtpe.hdl.formats import Overflow, PlaneType, QType
from qtpe.hdl.kinds import Kind, Preset, register
from qtpe.hdl.pe import PEComponent
from qtpe.hdl.shapes import tree_sum, wire_shape
from qtpe.tb.models.formats import Operand, fit, random_operands

SYM1 = PlaneType.parse("sym1")


# -- the config record ------------------------------------------------------------------------
@dataclass(frozen=True)
class AddSubConfig(Lanes, Pipelined, PEConfig):
    """``lanes`` +-1 weights x activations per cycle; ``weight`` is ``sym1``."""

    KIND: ClassVar[str] = "addsub"
    FORMATS: ClassVar[dict] = PEConfig.FORMATS | {"weight": OperandRule((PlaneType,), 1, 1)}

    name: str = "toy_addsub"
    weight: PlaneType = SYM1

    @property
    def product_bits(self) -> int:
        return self.activation.bits + 1  # -(-2^(A-1)) needs one more bit


# -- the hardware ------------------------------------------------------------------------------
def addsub_dot(m, cfg, weight, act, prefix=""):
    terms = []
    for i in range(cfg.lanes):
        term = Signal(signed(cfg.product_bits), name=f"{prefix}term_l{i}")
        m.d.comb += term.eq(Mux(weight[i], act[i], -act[i]))
        terms.append(term)
    return tree_sum(m, terms, signed(cfg.dot_bits), f"{prefix}dot")


class AddSubPE(PEComponent):
    CONFIG = AddSubConfig

    @staticmethod
    def inputs(config):
        return {"weight": data.ArrayLayout(wire_shape(config.weight), config.lanes),
                "act": data.ArrayLayout(wire_shape(config.activation), config.lanes)}

    def dot(self, m):  # the shared PEComponent.elaborate accumulates it
        return addsub_dot(m, self.config, self.weight, self.act)


class AddSubCell(Cell):
    pe = AddSubPE

    def ws_dot(self, m, weight, row_operand, name):
        return addsub_dot(m, self.config, weight, row_operand, prefix=f"{name}_")


# -- the golden model ----------------------------------------------------------------------------
class AddSubModel:
    def __init__(self, cfg):
        self.cfg = cfg
        self.reset()

    def reset(self):
        self.acc = 0

    def step(self, valid, clear, weight, act):
        if not valid:
            if clear:
                self.acc = 0
            return None
        dot = int(np.sum(Operand(self.cfg.weight).decode(weight) * np.asarray(act)))
        self.acc = int(fit((0 if clear else self.acc) + dot, self.cfg.acc))
        return self.acc

    @staticmethod
    def random_inputs(cfg, rng, n):
        return {"weight": Operand(cfg.weight).random(rng, (n, cfg.lanes)),
                "act": random_operands(rng, cfg.activation, (n, cfg.lanes))}


# -- presets and registration ------------------------------------------------------------------
PRESETS = {
    "toy_addsub_l4": Preset(AddSubConfig(name="toy_addsub_l4", lanes=4, acc_bits=16),
                            "4-lane +-1 x INT8 add/subtract PE"),
    "toy_array_ws_addsub_4x4": Preset(
        array_preset(AddSubConfig(acc_bits=20), "toy_array_ws_addsub_4x4", Dataflow.WS, 4, 4),
        "4x4 weight-stationary array of add/subtract PEs"),
}

EXAMPLES = (AddSubConfig(), AddSubConfig(lanes=3, acc_bits=8, overflow=Overflow.SATURATE,
                                      pipeline=True, activation=QType(4, False)))
ARRAY_EXAMPLES = (example_array(AddSubConfig, "os", 2, 3, acc_bits=12),
                  example_array(AddSubConfig, "ws", 3, 2, lanes=2, acc_bits=10,
                                overflow=Overflow.SATURATE))
SUMMARY = "toy: +-1 weights by add and subtract"
COMPONENT, CELL = "toy_kind:AddSubPE", "toy_kind:AddSubCell"
MODEL, TESTBENCH = "toy_kind:AddSubModel", "toy_kind"
KIND = register(Kind.declare(AddSubConfig, globals()))
