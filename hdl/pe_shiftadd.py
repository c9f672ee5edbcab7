"""Shift-add processing element: weights applied by shifts, inversions and adds, no multiplier."""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value, signed, unsigned
from amaranth.lib import data

from .array import Cell
from .config import span_bits
from .dequant import scale_port_shape
from .formats import PotEncoding, PotType
from .kind_shiftadd import ShiftAddConfig
from .pe import PEComponent
from .shapes import tree_sum, wire_shape

__all__ = ["ShiftAddPE", "ShiftAddCell", "shiftadd_dot"]

# Keep every adder of the lane tree separate (see ``tree_sum``): on ECP5 a carry chain each
# (bench: about half the LUTs of Yosys' merged LUT compressor, similar Fmax).
KEEP_TREE = True


def _lane_terms(cfg: ShiftAddConfig, code: Value,
                act: Value) -> list[tuple[Value, Value | None, int]]:
    """Weight decoding: one lane gives ``(term, invert, largest |term|)`` triples."""
    w, a = cfg.weight, cfg.activation
    a_max = max(-a.min, a.max)
    if not isinstance(w, PotType):
        terms = []
        for j in range(w.bits):
            invert = code[j] if w.signed and j == w.bits - 1 else None
            terms.append((Mux(code[j], act << j, 0), invert, a_max << j))
        return terms
    sign, field = code[w.field_bits], code[: w.field_bits]
    if w.encoding is PotEncoding.POT:
        return [(act << field, sign, a_max * w.max_magnitude)]
    if w.encoding is PotEncoding.POTZ:
        exp = field - 1  # wraps for field == 0, which the mux discards
        return [(Mux(field.any(), act << exp[: w.field_bits], 0), sign,
                 a_max * w.max_magnitude)]
    hi_bits, lo_bits = w.apot_fields
    lo, hi = field[:lo_bits], field[lo_bits:]
    lo_exp = (lo - 1)[:lo_bits]
    terms = [(Mux(lo.any(), act << Cat(Const(0, 1), lo_exp), 0), sign,
              a_max << (2 * ((1 << lo_bits) - 2)))]
    if hi_bits:
        hi_exp = (hi - 1)[:hi_bits]
        terms.append((Mux(hi.any(), act << Cat(Const(1, 1), hi_exp), 0), sign,
                      a_max << (2 * ((1 << hi_bits) - 2) + 1)))
    return terms


def shiftadd_dot(m: Module, cfg: ShiftAddConfig, weight, act, prefix: str = "") -> Signal:
    """The exact dot product (``cfg.dot_bits``) of ``lanes`` weight codes and activations,
    combinationally, by shifts, inversions and one adder tree (see ``ShiftAddPE``); signals
    are named ``{prefix}term_l{i}_t{j}`` and so on."""
    num = signed if cfg.signed else unsigned
    term_shape = num(cfg.product_bits)
    leaves, inverts, bound = [], [], 0
    for i in range(cfg.lanes):
        for j, (value, invert, largest) in enumerate(_lane_terms(cfg, weight[i], act[i])):
            term = Signal(term_shape, name=f"{prefix}term_l{i}_t{j}")
            m.d.comb += term.eq(value)
            if invert is not None:
                leaf = Signal(term_shape, name=f"{prefix}leaf_l{i}_t{j}")
                m.d.comb += leaf.eq(Mux(invert, ~term, term))
                inverts.append(invert)
                largest += 1
            else:
                leaf = term
            leaves.append(leaf)
            bound += largest
    if inverts:  # ~x + 1 = -x: add the number of inverted terms once
        leaves.append(tree_sum(m, inverts, unsigned(len(inverts).bit_length()),
                               f"{prefix}inverted"))
        bound += len(inverts)
    # Every partial sum of the tree lies within +-bound; the root is the exact dot product.
    tree_bits = max(cfg.dot_bits, span_bits(-bound if cfg.signed else 0, bound, cfg.signed))
    root = tree_sum(m, leaves, num(tree_bits), f"{prefix}tree", keep=KEEP_TREE)
    dot = Signal(num(cfg.dot_bits), name=f"{prefix}dot")
    m.d.comb += dot.eq(root)
    return dot


class ShiftAddPE(PEComponent):
    """Dot product of ``lanes`` weight x activation pairs by shift-and-add, accumulated, with
    valid/clear and optional per-group dequantization.

    Ports (besides ``clk``/``rst``, synchronous active-high reset to zero):

    * ``in_valid``: accept ``weight`` and ``act`` this cycle.
    * ``clear``: start a new sum (accumulator, group partial sum and group count). With
      ``in_valid`` the input is the first of the new sum; without it everything is zeroed.
    * ``weight``: ``lanes`` weight codes; in Verilog one flat port, lane ``i`` at
      ``[i*W +: W]``. A ``PotType`` code is an unsigned bit pattern (layouts in ``PotType``);
      an ``int<N>``/``uint<N>`` weight is the integer itself.
    * ``act``: ``lanes`` activations, lane ``i`` at ``[i*A +: A]``.
    * ``scale`` (only with groups): the group's scale (``group_scale = "int"``: unsigned
      integer; ``"pot"``: unsigned exponent), read on the cycle that accepts the group's last
      input.
    * ``acc``: the accumulator register (format ``config.acc``).
    * ``out_valid``: ``acc`` now includes the input (without groups) or the group (with
      groups) accepted ``latency`` cycles earlier.

    Datapath (no ``*`` on weights: Yosys sees shifters, muxes and adders only):

    * ``pot``: ``a << m``; ``potz``: ``a << (m - 1)``, or 0 when ``m == 0``; ``apot``:
      ``(a << (2h - 1)) + (a << (2l - 2))`` with an empty field giving 0; a negative code
      inverts its terms (ones' complement) and the number of inverted terms is added once to
      the lane sum, so ``-x = ~x + 1`` costs no per-lane negator.
    * ``int<N>``/``uint<N>``: ``sum_j w[j] ? (a << j) : 0``, the sign bit of ``int<N>``
      weighted ``-2^(N-1)`` (an inverted term, as above).
    * All lanes' terms meet in one balanced adder tree of separate adders (``KEEP_TREE``); the
      lane sum is exact (``config.dot_bits``).

    Contract:

    * Throughput one input (``lanes`` MACs) per cycle; ``latency`` 1, or 2 with
      ``config.pipeline`` (a register on the lane sum, valid, clear and scale).
    * Without groups each accepted input computes ``(clear ? 0 : acc) + dot`` exactly, then
      wraps to ``acc.bits`` bits or clamps to the accumulator's range, as ``MacPE`` does.
    * With groups (``group_size = G * lanes``): a group is ``G`` accepted inputs counted from
      reset or ``clear``. Its exact partial sum ``P`` (``config.group_sum_bits``) is kept in a
      register; the input that completes it computes ``(clear ? 0 : acc) + scale(P)`` exactly
      (``P * scale`` or ``P << scale``, ``qtpe.hdl.dequant``), then wraps or saturates, and
      ``out_valid`` pulses once per group. Inputs that do not complete a group leave ``acc``
      unchanged (zero if they carry ``clear``).
    """

    CONFIG = ShiftAddConfig

    @staticmethod
    def inputs(config: ShiftAddConfig) -> dict:
        inputs = {
            "weight": data.ArrayLayout(wire_shape(config.weight), config.lanes),
            "act": data.ArrayLayout(wire_shape(config.activation), config.lanes),
        }
        if config.group is not None:
            inputs["scale"] = scale_port_shape(config.group)
        return inputs

    def dot(self, m: Module):
        return shiftadd_dot(m, self.config, self.weight, self.act)


class ShiftAddCell(Cell):
    """Shift-add cells: ``ShiftAddPE`` in output-stationary arrays, ``shiftadd_dot`` in
    weight-stationary ones."""

    pe = ShiftAddPE

    def ws_dot(self, m, weight, row_operand, name: str):
        return shiftadd_dot(m, self.config, weight, row_operand, prefix=f"{name}_")
