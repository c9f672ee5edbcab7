"""Carry-save accumulation (``accumulate = "carry_save"``): the accumulator kept in redundant
form, so that no carry crosses more than one digit in a cycle.

The state is a sum vector ``acc_sum`` (the accumulator's W bits) and one saved carry per digit
boundary (``acc_carry``, bit ``i`` weighing ``2^((i + 1) * D)``, ``D`` =
``config.carry_digit_bits``); the value it stands for is ``acc_sum + sum_i acc_carry[i] *
2^((i + 1) * D)`` modulo ``2^W``. A step puts, as a *bit heap* (the bits of each weight
``2^k``), the addend (``dot_heap``: a MAC's partial products themselves, so the multiplier
needs no carry-propagate adder of its own; another kind's exact dot product), the sum vector
and the saved carries (none on ``clear``) into a carry-save (Wallace) tree of full and half
adders, which reduces every weight to two bits; then each digit adds its two rows (``D``-bit
adders, side by side): the digit's sum bits are the new sum vector, its carry-out the saved
carry of the next digit (the top digit's is dropped: the accumulator wraps). The loop is thus
a partial-product tree plus one ``D``-bit adder, against the plain accumulator's tree plus a
W-bit carry chain.

Only when a result leaves the PE is the redundant form resolved, by one W-bit adder
(``resolve``): the PE's ``acc`` port; an array cell puts the redundant form on its column's
result bus and one adder per column resolves it (``qtpe.hdl.array``). Wrapping is exact in
this form (everything is modulo ``2^W``); saturation needs the resolved sum every cycle, so
carry-save accumulators wrap (``CarrySave`` checks it).

Signed bits are added as Baugh-Wooley does: a bit ``x`` of negative weight ``-2^k`` is
``(1 - x) 2^k - 2^k``, i.e. the inverted bit and a constant, and all constants are summed into
one constant whose set bits join the heap.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Signal, Value

__all__ = ["BitHeap", "product_heap", "value_heap", "carry_save_step", "resolve"]


class BitHeap:
    """The bits to add, by weight, modulo ``2^width``: ``columns[k]`` holds the one-bit values
    of weight ``2^k``; ``constant`` is added too (``add_constant``)."""

    def __init__(self, width: int):
        self.width = width
        self.columns: list[list[Value]] = [[] for _ in range(width)]
        self.constant = 0

    def add_bit(self, bit: Value, k: int, negative: bool = False) -> None:
        """``bit * 2^k`` (``negative``: ``-bit * 2^k``, as ``~bit * 2^k - 2^k``)."""
        if k >= self.width:
            return
        if negative:
            self.columns[k].append(~bit)
            self.constant -= 1 << k
        else:
            self.columns[k].append(bit)

    def add_constant(self, value: int) -> None:
        self.constant += value

    def add_vector(self, value: Value, shift: int = 0, signed: bool = False) -> None:
        """The bits of ``value`` at weights ``2^(shift + i)``; ``signed``: the top bit weighs
        ``-2^(shift + n - 1)``."""
        n = len(value)
        for i in range(n):
            self.add_bit(value[i], shift + i, negative=signed and i == n - 1)

    def settled(self) -> list[list[Value]]:
        """The columns with the constant's set bits (modulo ``2^width``) added."""
        cols = [list(c) for c in self.columns]
        const = self.constant % (1 << self.width)
        for k in range(self.width):
            if const >> k & 1:
                cols[k].append(Const(1, 1))
        return cols


def product_heap(heap: BitHeap, weight: Value, act: Value, w_signed: bool,
                 a_signed: bool) -> None:
    """The partial products of ``weight * act`` into ``heap``: ``w_j & a_i`` at ``2^(i + j)``,
    negative where exactly one of the two bits is a signed operand's top bit."""
    wn, an = len(weight), len(act)
    for j in range(wn):
        w_neg = w_signed and j == wn - 1
        for i in range(an):
            a_neg = a_signed and i == an - 1
            heap.add_bit(weight[j] & act[i], i + j, negative=w_neg != a_neg)


def value_heap(heap: BitHeap, value: Value) -> None:
    """An exact value (a kind's dot product) into ``heap``, by its bits."""
    value = Value.cast(value)
    heap.add_vector(value, signed=value.shape().signed)


def _compress(m: Module, columns: list[list[Value]], name: str) -> tuple[Value, Value]:
    """Wallace reduction of ``columns`` to two rows (bits beyond the width dropped): each
    stage puts every three bits of a column through a full adder and a pair left over in a
    column taller than two through a half adder. Each stage's bits are one named signal per
    column (``{name}_s{stage}_k{k}``)."""
    width = len(columns)
    stage = 0
    while max((len(c) for c in columns), default=0) > 2:
        nxt: list[list[Value]] = [[] for _ in range(width)]
        for k, col in enumerate(columns):
            i = 0
            while len(col) - i >= 3:
                a, b, c = col[i:i + 3]
                nxt[k].append(a ^ b ^ c)
                if k + 1 < width:
                    nxt[k + 1].append((a & b) | (a & c) | (b & c))
                i += 3
            if len(col) - i == 2 and len(col) > 2:
                a, b = col[i:i + 2]
                nxt[k].append(a ^ b)
                if k + 1 < width:
                    nxt[k + 1].append(a & b)
                i += 2
            nxt[k].extend(col[i:])
        stage += 1
        columns = []
        for k, col in enumerate(nxt):
            if not col:
                columns.append([])
                continue
            sig = Signal(len(col), name=f"{name}_s{stage}_k{k}")
            m.d.comb += sig.eq(Cat(*col))
            columns.append([sig[i] for i in range(len(col))])
    rows = []
    for r in range(2):
        rows.append(Cat(*(col[r] if len(col) > r else Const(0, 1) for col in columns)))
    return rows[0], rows[1]


def carry_save_step(m: Module, heap: BitHeap, digit: int, name: str = "cs"):
    """One accumulation step: ``heap`` (addend, sum vector and saved carries already in it)
    through the tree, then the digit adders. Returns ``(sum, carries)``: the next sum vector
    (``heap.width`` bits) and the next saved carries (one per digit boundary)."""
    row0, row1 = _compress(m, heap.settled(), f"{name}_tree")
    width = heap.width
    sums, carries = [], []
    for lo in range(0, width, digit):
        hi = min(lo + digit, width)
        total = Signal(hi - lo + 1, name=f"{name}_digit{lo // digit}")
        m.d.comb += total.eq(row0[lo:hi] + row1[lo:hi])
        sums.append(total[:hi - lo])
        if hi < width:
            carries.append(total[hi - lo])
    return Cat(*sums), Cat(*carries)


def carry_vector(carries: Value, width: int, digit: int) -> Value:
    """The saved carries as a ``width``-bit vector: carry ``i`` at bit ``(i + 1) * digit``."""
    bits = [Const(0, 1)] * width
    for i in range(len(carries)):
        bits[(i + 1) * digit] = carries[i]
    return Cat(*bits)


def resolve(acc_sum: Value, carries: Value, digit: int) -> Value:
    """The value the redundant form stands for: ``acc_sum + carries`` (one ``W``-bit adder),
    modulo ``2^W``."""
    width = len(acc_sum)
    return (acc_sum + carry_vector(carries, width, digit))[:width]
