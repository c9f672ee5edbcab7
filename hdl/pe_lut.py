"""LUT processing elements: a shareable table-precompute unit, the LUT PE, and their tile.

Multiplications are replaced by table lookups (T-MAC, LUT-GEMM, LUT Tensor Core). For ``g``
activations the precompute unit registers the sum of every subset (the table); a LUT PE reads
its ``g`` weight codes bit-plane by bit-plane, each plane an index into the table, and adds the
``b`` lookups with shifts. The decomposition, the weight encodings and the entry widths are in
``qtpe.hdl.kind_lut.LutConfig``; ``qtpe.tb.models.lut`` is the bit-exact golden model.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value, signed, unsigned
from amaranth.lib import data
from amaranth.lib.wiring import In, Out

from .array import Cell
from .config import span_bits
from .formats import PlaneType
from .kind_lut import LutConfig
from .pe import ConfigComponent, PEComponent
from .reference import Reference, decode
from .shapes import acc_shape, tree_sum, wire_shape

__all__ = ["table_layout", "LutPrecompute", "LutPE", "LutTile", "LutCell", "lut_dot"]

# Keep every adder of the PE's lookup tree separate (see ``tree_sum``), as the shift-add PE
# does: a carry chain each on ECP5 instead of Yosys' LUT compressor.
KEEP_TREE = True


def table_layout(config: LutConfig) -> data.StructLayout:
    """The stored table: field ``e{i}`` is entry ``i`` (``config.table_indices``), signed and
    exactly as wide as its value range (``config.entry_bits``); in Verilog one flat port,
    fields packed in index order from bit 0."""
    return data.StructLayout({f"e{i}": signed(config.entry_bits(i))
                              for i in config.table_indices})


def _check(config: object, who: str) -> LutConfig:
    if not isinstance(config, LutConfig):
        raise TypeError(f"{who} needs a LutConfig, not {type(config).__name__}")
    return config


class LutPrecompute(ConfigComponent):
    """Table-precompute unit: ``g`` activations in, their subset-sum table out, registered.

    Ports (besides ``clk``/``rst``, synchronous active-high reset):

    * ``in_valid``, ``act``: ``g`` signed activations (in Verilog one flat port, activation
      ``j`` at ``[j*A +: A]``), accepted when ``in_valid`` is high.
    * ``table`` (``table_layout``): plain tables (``symmetric`` off) hold ``T(i)``, the sum of
      the activations at the set bits of ``i``, for ``i = 1 .. 2^g - 1`` (``T(0) = 0`` is not
      stored); symmetric tables hold ``T_sym(i) = sum_j (2 bit_j(i) - 1) a_j`` for
      ``i = 0 .. 2^(g-1) - 1`` (bit ``g-1`` clear; the other half is ``T_sym(~i) = -T_sym(i)``).
      The activation sum ``S`` is in the table either way (``T(2^g - 1)``, ``-T_sym(0)``), so
      it has no register of its own.
    * ``out_valid``: ``table`` holds the activations accepted ``latency`` (1) cycle earlier.
      The table keeps the last accepted group until the next one (the registers load only on
      ``in_valid``; they are not reset).

    Every entry is one adder or subtractor over two smaller partial sums (balanced: depth
    ceil(log2(g))), partial sums shared between entries; one negation for ``T_sym(0)``.
    One unit feeds any number of LUT PEs (``LutTile`` connects ``config.sharing``).
    """

    def __init__(self, config: LutConfig):
        super().__init__(_check(config, "LutPrecompute"), {
            "in_valid": In(1),
            "act": In(data.ArrayLayout(wire_shape(config.activation), config.g)),
            "table": Out(table_layout(config)),
            "out_valid": Out(1),
        })

    @property
    def latency(self) -> int:
        return 1

    @property
    def stored_entries(self) -> int:
        return len(self._config.table_indices)

    def _partials(self, m: Module, pos: tuple[int, ...], masks: set[int]) -> dict:
        """``mask -> (value, negated, lo, hi)`` over the activations at ``pos``.

        The subset sum (plain: the activations at the set bits of ``mask``; symmetric: those
        at set bits minus those at clear bits) is ``-value`` if ``negated`` else ``value``,
        with ``value`` in ``lo .. hi``; ``None`` for an empty plain sum. Only ``masks`` are
        built (no dead logic).
        """
        cfg = self._config
        a = cfg.activation
        if len(pos) == 1:
            j = pos[0]
            return {mask: (self.act[j], False, a.min, a.max) if mask >> j & 1 else
                    (self.act[j], True, a.min, a.max) if cfg.symmetric else None
                    for mask in masks}
        lo_pos, hi_pos = pos[: len(pos) // 2], pos[len(pos) // 2:]
        lo_mask, hi_mask = (sum(1 << j for j in p) for p in (lo_pos, hi_pos))
        lo = self._partials(m, lo_pos, {mask & lo_mask for mask in masks})
        hi = self._partials(m, hi_pos, {mask & hi_mask for mask in masks})
        out = {}
        for mask in sorted(masks):
            x, y = lo[mask & lo_mask], hi[mask & hi_mask]
            if x is None or y is None:
                out[mask] = x if y is None else y
                continue
            (vx, nx, lx, hx), (vy, ny, ly, hy) = x, y
            if nx == ny:  # both plain or both negated: add
                value, neg, rng = vx + vy, nx, (lx + ly, hx + hy)
            elif nx:  # -x + y
                value, neg, rng = vy - vx, False, (ly - hx, hy - lx)
            else:  # x - y
                value, neg, rng = vx - vy, False, (lx - hy, hx - ly)
            digits = "".join(str(mask >> j & 1) for j in reversed(pos))
            node = Signal(signed(span_bits(*rng, True)),
                          name=f"part_j{''.join(map(str, pos))}_{digits}")
            m.d.comb += node.eq(value)
            out[mask] = (node, neg, *rng)
        return out

    def elaborate(self, platform):
        m = Module()
        cfg = self._config
        sums = self._partials(m, tuple(range(cfg.g)), set(cfg.table_indices))
        for i in cfg.table_indices:
            value, neg, _, _ = sums[i]
            entry = Signal(signed(cfg.entry_bits(i)), name=f"table_e{i}", reset_less=True)
            with m.If(self.in_valid):
                m.d.sync += entry.eq(-value if neg else value)
            m.d.comb += self.table[f"e{i}"].eq(entry)
        m.d.sync += self.out_valid.eq(self.in_valid)
        return m


def _lut_terms(m: Module, cfg: LutConfig, table, weight, zero,
               prefix: str) -> tuple[list, bool]:
    """``[(value, shift, negate, bound)]`` with ``negate`` a bool or a 1-bit Value and
    ``|value| <= bound``, and whether the sum must be halved."""
    g, b = cfg.g, cfg.weight.bits
    entries = {i: table[f"e{i}"] for i in cfg.table_indices}
    bound = max(max(-lo, hi) for lo, hi in map(cfg.entry_range, cfg.table_indices))
    look_bits = max(map(cfg.entry_bits, cfg.table_indices))
    coeffs = cfg.plane_coeffs
    halve = cfg.symmetric
    if halve and all(abs(c) >= 2 for c in coeffs):  # sym<b>: c_k = 2^(k+1), no offset
        coeffs, halve = tuple(c // 2 for c in coeffs), False
    terms = []
    for k, c in enumerate(coeffs):
        plane = Signal(g, name=f"{prefix}plane_{k}")
        m.d.comb += plane.eq(Cat(weight[j][k] for j in range(g)))
        look = Signal(signed(look_bits), name=f"{prefix}look_{k}")
        if cfg.symmetric:
            index = Signal(g - 1, name=f"{prefix}index_{k}")
            m.d.comb += index.eq(Mux(plane[g - 1], ~plane[: g - 1], plane[: g - 1]))
            negate = Signal(name=f"{prefix}negate_{k}")
            m.d.comb += negate.eq(plane[g - 1] ^ (c < 0))
        else:
            index, negate = plane, c < 0
        # A binary tree of 2:1 multiplexers over the index bits (plain tables: T(0) = 0).
        # Not a Switch: Yosys writes that as an ``always @*`` case block, which Icarus never
        # evaluates while its inputs keep their initial values (an idle array row's table).
        level = [entries.get(i, Const(0, signed(look_bits))) for i in range(1 << len(index))]
        for bit in range(len(index)):
            level = [Mux(index[bit], level[i + 1], level[i]) for i in range(0, len(level), 2)]
        m.d.comb += look.eq(level[0])
        terms.append((look, abs(c).bit_length() - 1, negate, bound))

    # The offset term, from the S in the table.
    w = cfg.weight
    if cfg.symmetric:
        t0, t0_bound = entries[0], max(-cfg.entry_range(0)[0], cfg.entry_range(0)[1])
        if cfg.has_zero:  # (2^b - 1 - 2 zero) S = sum_j (zero_j ? +1 : -1) (T_sym(0) << j)
            terms += [(t0, j, ~zero[j], t0_bound) for j in range(b)]
        elif not isinstance(w, PlaneType):  # int<b>: -S = T_sym(0)
            terms.append((t0, 0, False, t0_bound))
    else:
        s = entries[(1 << g) - 1]
        s_bound = max(-cfg.entry_range((1 << g) - 1)[0], cfg.entry_range((1 << g) - 1)[1])
        if cfg.has_zero:  # -zero S = sum_j (zero_j ? -(S << j) : 0)
            terms += [(Mux(zero[j], s, 0), j, zero[j], s_bound) for j in range(b)]
        elif isinstance(w, PlaneType):  # -(2^b - 1) S = S - (S << b); ternary: -S
            if cfg.const_coeff() == -1:
                terms.append((s, 0, True, s_bound))
            else:
                terms += [(s, 0, False, s_bound), (s, b, True, s_bound)]
    return terms, halve


def lut_dot(m: Module, cfg: LutConfig, table, weight, zero=None, prefix: str = "") -> Signal:
    """The exact dot product (``cfg.dot_bits``) of ``g`` weight codes with the activations of
    ``table`` (``table_layout``), combinationally: bit-plane lookups, shifts, inversions and
    one adder tree (see ``LutPE``). ``zero``: the zero point (``uint<b>`` only). Signals are
    named ``{prefix}plane_{k}`` and so on."""
    terms, halve = _lut_terms(m, cfg, table, weight, zero, prefix)

    leaves, inverts, const_inverts, bound = [], [], 0, 0
    for t, (value, shift, negate, largest) in enumerate(terms):
        big = largest << shift
        leaf = Signal(signed(span_bits(-big - 1, big, True)), name=f"{prefix}term_{t}")
        shifted = value << shift
        if isinstance(negate, Value):
            m.d.comb += leaf.eq(Mux(negate, ~shifted, shifted))
            inverts.append(negate)
        elif negate:
            m.d.comb += leaf.eq(~shifted)
            const_inverts += 1
        else:
            m.d.comb += leaf.eq(shifted)
        leaves.append(leaf)
        bound += big + (1 if negate is not False else 0)
    if inverts:  # ~x + 1 = -x: add the number of inverted terms once
        leaves.append(tree_sum(m, inverts, unsigned(len(inverts).bit_length()),
                               f"{prefix}inverted"))
    if const_inverts:
        leaves.append(Const(const_inverts, unsigned(const_inverts.bit_length())))
    # Every partial sum lies within +-bound; the root is the exact (doubled) dot product.
    root = tree_sum(m, leaves, signed(span_bits(-bound, bound, True)), f"{prefix}tree",
                    keep=KEEP_TREE)
    dot = Signal(signed(cfg.dot_bits), name=f"{prefix}dot")
    m.d.comb += dot.eq(root >> 1 if halve else root)
    return dot


class LutPE(PEComponent):
    """One LUT PE: ``g`` weights x the shared table, all bit-planes in one cycle, accumulated.

    Ports (besides ``clk``/``rst``, synchronous active-high reset to zero):

    * ``in_valid``: ``table`` and ``weight`` (and ``zero``) belong together this cycle.
    * ``clear``: start a new sum, as for ``MacPE``: with ``in_valid`` the accumulator becomes
      this cycle's dot product alone; without it the accumulator is set to zero.
    * ``table``: the precompute unit's output (``table_layout``).
    * ``weight``: ``g`` weight codes (``wire_shape``), weight ``j`` at ``[j*b +: b]``; weight
      ``j`` multiplies activation ``j`` of the table.
    * ``zero`` (only ``uint<b>`` weights): the unsigned zero point, ``w = code - zero``.
    * ``acc``, ``out_valid``: the accumulator register (``config.acc``); ``out_valid`` says it
      now includes the input accepted ``latency`` (1) cycle earlier.

    Datapath: plane ``k`` is the index ``plane_k = {bit k of weight g-1, ..., of weight 0}``.
    Plain tables: ``look_k = T(plane_k)`` (``T(0) = 0``); symmetric: an index with bit ``g-1``
    set reads the entry at its complement, negated. Each lookup is shifted by ``log2|c_k|``;
    a negative term (``c_k < 0``, a negated symmetric lookup, a negative offset term) is
    inverted (ones' complement) and the number of inverted terms is added once. The offset
    ``c_const * S`` (plain) or ``(sum_k c_k + 2 c_const) * S`` (symmetric) is built from the
    table's own ``S`` entry: nothing for symmetric ``sym<b>``/``ternary``; ``-S`` for
    symmetric ``int<b>``; ``(2^b - 1 - 2 zero) * S`` and ``-zero * S`` are shift-adds over the
    bits of ``zero``. A symmetric sum is halved at the end (exact: it is even); ``sym<b>``
    weights halve their shifts instead.

    Contract: one input (``g`` MACs) per cycle; the dot product is exact
    (``config.dot_bits``); each step computes ``(clear ? 0 : acc) + dot`` exactly, then wraps
    or saturates to ``config.acc`` as ``MacPE`` does.
    """

    CONFIG = LutConfig

    @staticmethod
    def inputs(config: LutConfig) -> dict:
        inputs = {
            "table": table_layout(config),
            "weight": data.ArrayLayout(wire_shape(config.weight), config.g),
        }
        if config.has_zero:
            inputs["zero"] = unsigned(config.weight.bits)
        return inputs

    @property
    def latency(self) -> int:
        return 1

    def dot(self, m: Module):
        cfg = self.config
        return lut_dot(m, cfg, self.table, self.weight, self.zero if cfg.has_zero else None)


class LutTile(ConfigComponent):
    """One ``LutPrecompute`` feeding ``config.sharing`` ``LutPE``s (the generated top level).

    Ports (besides ``clk``/``rst``, synchronous active-high reset to zero):

    * ``in_valid``, ``clear``, ``act`` (``g`` activations, shared by every PE): as ``MacPE``.
    * ``weight_p{p}``: PE ``p``'s ``g`` weight codes, presented in the same cycle as ``act``
      (weight ``j`` at ``[j*b +: b]`` multiplies activation ``j``).
    * ``zero_p{p}`` (only ``uint<b>`` weights): PE ``p``'s zero point, with its weights.
    * ``acc_p{p}``: PE ``p``'s accumulator; ``out_valid`` (shared): every ``acc_p{p}`` now
      includes the input accepted ``latency`` cycles earlier.

    Timing: the table register takes one cycle, so the weights, zero points and ``clear`` are
    delayed by one register to meet it; ``latency`` = 1 + 1 (the accumulator) = 2. One input
    per cycle: ``g * sharing`` MACs per cycle. Arithmetic and overflow as ``LutPE``.
    """

    def __init__(self, config: LutConfig):
        cfg = _check(config, "LutTile")
        members = {
            "in_valid": In(1),
            "clear": In(1),
            "act": In(data.ArrayLayout(wire_shape(cfg.activation), cfg.g)),
        }
        for p in range(cfg.sharing):
            members[f"weight_p{p}"] = In(data.ArrayLayout(wire_shape(cfg.weight), cfg.g))
        if cfg.has_zero:
            for p in range(cfg.sharing):
                members[f"zero_p{p}"] = In(unsigned(cfg.weight.bits))
        for p in range(cfg.sharing):
            members[f"acc_p{p}"] = Out(acc_shape(cfg.acc))
        members["out_valid"] = Out(1)
        super().__init__(cfg, members)

    @property
    def sharing(self) -> int:
        return self._config.sharing

    def reference(self) -> list[Reference]:
        """Per PE ``p``: its ``g`` weight codes decoded with the weight format (``uint<b>``:
        ``q - zero_p{p}``) against the shared activations."""
        cfg = self._config
        acts = tuple(decode(cfg.activation, self.act[j]) for j in range(cfg.g))
        refs = []
        for p in range(cfg.sharing):
            codes = getattr(self, f"weight_p{p}")
            weights = tuple(decode(cfg.weight, codes[j]) for j in range(cfg.g))
            if cfg.has_zero:
                zero = getattr(self, f"zero_p{p}")
                zero = Cat(zero, Const(0, 1)).as_signed()
                weights = tuple(Cat(w, Const(0, 1)).as_signed() - zero for w in weights)
            refs.append(Reference(weights, acts, getattr(self, f"acc_p{p}")))
        return refs

    def elaborate(self, platform):
        m = Module()
        cfg = self._config
        m.submodules.precompute = pre = LutPrecompute(cfg)
        m.d.comb += [pre.in_valid.eq(self.in_valid), pre.act.eq(self.act)]
        clear_r = Signal(name="clear_r")
        m.d.sync += clear_r.eq(self.clear)
        for p in range(cfg.sharing):
            m.submodules[f"pe{p}"] = pe = LutPE(cfg)
            weight_r = Signal(data.ArrayLayout(wire_shape(cfg.weight), cfg.g),
                              name=f"weight_r_p{p}", reset_less=True)
            m.d.sync += weight_r.eq(getattr(self, f"weight_p{p}"))
            m.d.comb += [
                pe.in_valid.eq(pre.out_valid),
                pe.clear.eq(clear_r),
                pe.table.eq(pre.table),
                pe.weight.eq(weight_r),
                getattr(self, f"acc_p{p}").eq(pe.acc),
            ]
            if cfg.has_zero:
                zero_r = Signal(unsigned(cfg.weight.bits), name=f"zero_r_p{p}", reset_less=True)
                m.d.sync += zero_r.eq(getattr(self, f"zero_p{p}"))
                m.d.comb += pe.zero.eq(zero_r)
            if p == 0:
                m.d.comb += self.out_valid.eq(pe.out_valid)
        return m


class LutCell(Cell):
    """LUT cells: one ``LutPrecompute`` per array row replaces the row's first operand
    register; its table (not the activations) flows along the row to every ``LutPE`` of the
    row (output-stationary) or ``lut_dot`` (weight-stationary). Input-stationary: one
    ``LutPrecompute`` per column; the tables shift down into the PEs' shadow registers, and
    each beat's weights index the PE's active table (``lut_dot``)."""

    pe = LutPE
    row_port = "table"

    def row_layout(self):
        return table_layout(self.config)

    def row_source(self, m, entry, r: int):
        pre = LutPrecompute(self.config)
        m.submodules[f"precompute_r{r}"] = pre
        m.d.comb += [pre.in_valid.eq(1), pre.act.eq(entry)]
        return pre.table

    def registers_row(self, c: int) -> bool:
        """Column 0 reads the precompute unit's table register directly."""
        return c > 0

    def ws_dot(self, m, weight, row_operand, name: str):
        return lut_dot(m, self.config, row_operand, weight, prefix=f"{name}_")

    def is_layout(self):
        """Input-stationary: a PE holds the table of its ``g`` activations."""
        return table_layout(self.config)

    def is_source(self, m, entry, c: int):
        """Input-stationary: one ``LutPrecompute`` per column (``is_precompute_c{c}``) turns
        the column's ``g`` activations into their table, which shifts down into the shadows
        (``config.is_source_latency`` = 1: its register)."""
        pre = LutPrecompute(self.config)
        m.submodules[f"is_precompute_c{c}"] = pre
        m.d.comb += [pre.in_valid.eq(1), pre.act.eq(entry)]
        return pre.table
