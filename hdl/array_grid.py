"""The R x C grid of an array's cells, described once and built two ways.

A dataflow describes its grid (``Grid``): which cell component sits at ``(r, c)``, the chains
that link a cell's output port to its neighbour's input port (``Chain``: to the right, down or
up, fed at the array's edge), the outputs every cell hands out of the grid (``collect``), and
the taps that give each cell one element of a bus from the
top level (``Tap``: element ``a*r + b*c + k``, the anti-diagonal delay lines). ``build_grid``
then places it:

* as submodules (for Amaranth's simulator): one component per position, wired directly;
* as one Verilog module ``<top>_grid`` (what the emitter writes): a ``generate`` loop over the
  positions, instantiating one Verilog module per distinct cell. The text does not grow with
  R x C, so generation, lint, Verilator and Yosys stay linear in the array's size, with the
  per-cell work where it belongs, in the tools.

A cell is ``cls(cell, *args)``: ``args`` say everything that makes two cells differ, and
``cls.variant(*args)`` names its module (``<top>_<variant>``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from amaranth.hdl import Cat, ClockSignal, Const, Instance, Module, ResetSignal, Shape, Signal

__all__ = ["Chain", "Tap", "Grid", "build_grid", "skew", "spread"]


@dataclass(frozen=True)
class Chain:
    """A cell output ``out`` that feeds input ``inp`` of the neighbour ``direction``
    (``"right"``: cell ``(r, c+1)``; ``"down"``: ``(r+1, c)``; ``"up"``: ``(r-1, c)``).
    ``edge`` feeds the first cell of each line (one value per row for ``right``, per column
    for ``down``); a cell at the edge without an ``edge`` value must not have ``inp``.
    ``exits``: the outputs of the last cell of each line leave the grid (``right``: column
    C-1, ``down``: row R-1, ``up``: row 0)."""

    inp: str
    out: str
    direction: str
    edge: tuple | None = None
    exits: bool = False


@dataclass(frozen=True)
class Tap:
    """Cell input ``port`` of ``(r, c)`` takes ``bus[a*r + b*c + k]`` (all elements of one
    width), or, with ``bus`` ``None``, the constant ``a*r + b*c + k`` itself (a cell's row or
    column index, which keeps cells that differ only by it one module)."""

    port: str
    bus: tuple | None
    a: int = 0
    b: int = 0
    k: int = 0

    def index(self, r: int, c: int) -> int:
        return self.a * r + self.b * c + self.k


@dataclass
class Grid:
    rows: int
    cols: int
    cell: object
    at: object  # (r, c) -> (cls, args)
    chains: list[Chain] = field(default_factory=list)
    taps: list[Tap] = field(default_factory=list)
    name: str = "grid"  # the module is <top>_<name>, the submodules <name>_r{r}_c{c}
    #: Cell outputs that leave the grid from every cell (element ``r * C + c``; all cells
    #: have the port, of one width).
    collect: tuple[str, ...] = ()


def _width(member) -> int:
    return Shape.cast(member.shape).width


def _signed(member) -> bool:
    return Shape.cast(member.shape).signed


def _value(v):
    return v.as_value() if hasattr(v, "as_value") else v


def _neighbour(chain: Chain, r: int, c: int) -> tuple[int, int]:
    """The cell whose ``out`` feeds ``(r, c)``'s ``inp``."""
    return {"right": (r, c - 1), "down": (r - 1, c), "up": (r + 1, c)}[chain.direction]


def build_grid(m: Module, grid: Grid, top: str, instances: bool, modules: dict) -> dict:
    """Place ``grid`` into ``m``; return each exiting chain's outputs (``out`` -> list, one per
    row or column). With ``instances``, ``modules`` receives ``<top>_grid`` (its Verilog text)
    and each distinct cell component."""
    if instances:
        return _build_instances(m, grid, top, modules)
    return _build_submodules(m, grid)


def _build_submodules(m: Module, grid: Grid) -> dict:
    R, C = grid.rows, grid.cols
    cells = [[None] * C for _ in range(R)]
    for r in range(R):
        for c in range(C):
            cls, args = grid.at(r, c)
            cells[r][c] = cls(grid.cell, *args)
            m.submodules[f"{grid.name}_r{r}_c{c}"] = cells[r][c]
    for r in range(R):
        for c in range(C):
            cell = cells[r][c]
            members = cell.signature.members
            for chain in grid.chains:
                if chain.inp not in members:
                    continue
                nr, nc = _neighbour(chain, r, c)
                if 0 <= nr < R and 0 <= nc < C:
                    src = getattr(cells[nr][nc], chain.out)
                else:
                    src = chain.edge[r if chain.direction == "right" else c]
                m.d.comb += _value(getattr(cell, chain.inp)).eq(_value(src))
            for tap in grid.taps:
                if tap.port in members:
                    port = _value(getattr(cell, tap.port))
                    value = (Const(tap.index(r, c), len(port)) if tap.bus is None
                             else _value(tap.bus[tap.index(r, c)]))
                    m.d.comb += port.eq(value)
    exits = {port: [getattr(cells[r][c], port) for r in range(R) for c in range(C)]
             for port in grid.collect}
    for chain in grid.chains:
        if chain.exits:
            exits[chain.out] = {
                "right": [getattr(cells[r][C - 1], chain.out) for r in range(R)],
                "down": [getattr(cells[R - 1][c], chain.out) for c in range(C)],
                "up": [getattr(cells[0][c], chain.out) for c in range(C)],
            }[chain.direction]
    return exits


def _build_instances(m: Module, grid: Grid, top: str, modules: dict) -> dict:
    R, C = grid.rows, grid.cols
    # The distinct cells, and the rectangles of positions each covers (rows and columns whose
    # cells are alike are grouped, so the generate loop branches on ranges).
    names = [[None] * C for _ in range(R)]
    for r in range(R):
        for c in range(C):
            cls, args = grid.at(r, c)
            name, key = f"{top}_{cls.variant(*args)}", (cls, args)
            existing = modules.get(name)
            if existing is None:
                modules[name] = existing = cls(grid.cell, *args)
                existing._grid_key = key
            elif existing._grid_key != key:
                raise AssertionError(f"cell module {name!r} names two different cells: "
                                     f"{existing._grid_key} and {key}")
            names[r][c] = name
    used = sorted({n for row in names for n in row})
    regions = _regions(R, C, lambda r, c: names[r][c])

    # Slot widths of the chains: the widest port on them.
    def ports(name):
        return modules[name].signature.members

    widths, signs = {}, {}
    for chain in grid.chains:
        widths[chain.out] = max(_width(ports(n)[p]) for n in used
                                for p in (chain.inp, chain.out) if p in ports(n))
        signs[chain.out] = any(_signed(ports(n)[chain.out]) for n in used)
    tap_width = {tap.port: Shape.cast(_value(tap.bus[0]).shape()).width for tap in grid.taps
                 if tap.bus is not None}

    # The Amaranth side: one instance of the grid module, buses in and out.
    connections = {"i_clk": ClockSignal(), "i_rst": ResetSignal()}
    exits = {}
    for chain in grid.chains:
        w = widths[chain.out]
        if chain.edge is not None:
            connections[f"i_{chain.inp}_edge"] = Cat(*(_extend(m, _value(e), w)
                                                     for e in chain.edge))
        if chain.exits:
            n = R if chain.direction == "right" else C
            bus = Signal(n * w, name=f"{chain.out}_exit")
            connections[f"o_{chain.out}_exit"] = bus
            exits[chain.out] = [bus[i * w:(i + 1) * w] for i in range(n)]
    collect_width = {p: _width(ports(used[0])[p]) for p in grid.collect}
    for port in grid.collect:
        w = collect_width[port]
        bus = Signal(R * C * w, name=f"{port}_all")
        connections[f"o_{port}_all"] = bus
        exits[port] = [bus[i * w:(i + 1) * w] for i in range(R * C)]
    for tap in grid.taps:
        if tap.bus is not None:
            connections[f"i_{tap.port}_taps"] = Cat(*(_value(v) for v in tap.bus))
    m.submodules[grid.name] = Instance(f"{top}_{grid.name}", **connections)
    modules[f"{top}_{grid.name}"] = _grid_text(grid, top, regions, ports, widths, signs,
                                               tap_width, collect_width)
    return exits


def _extend(m: Module, v, width: int):
    """``v`` extended (by its own signedness) to ``width`` bits."""
    if len(v) == width:
        return v
    wide = Signal(Shape(width, v.shape().signed))
    m.d.comb += wide.eq(v)
    return wide


def _regions(R: int, C: int, name_at) -> list[tuple[int, int, int, int, str]]:
    """Rectangles ``(r0, r1, c0, c1, module)`` that cover the grid, each of one module: rows
    with the same modules are grouped, then columns within them."""
    out = []
    r = 0
    while r < R:
        row = [name_at(r, c) for c in range(C)]
        r1 = r
        while r1 + 1 < R and [name_at(r1 + 1, c) for c in range(C)] == row:
            r1 += 1
        c = 0
        while c < C:
            c1 = c
            while c1 + 1 < C and row[c1 + 1] == row[c]:
                c1 += 1
            out.append((r, r1, c, c1, row[c]))
            c = c1 + 1
        r = r1 + 1
    return out


def _affine(a: int, b: int, k: int) -> str:
    """``a*r + b*c + k`` as a short Verilog expression of the genvars ``r`` and ``c``."""
    terms = [t for t in (f"{a} * r" if a not in (0, 1) else "r" if a else "",
                         f"{b} * c" if b not in (0, 1) else "c" if b else "",
                         str(k) if k else "") if t]
    return " + ".join(terms) or "0"


def _slot(chain: Chain, R: int, C: int, which: str) -> str:
    """The Verilog index expression of ``(r, c)``'s slot on ``chain`` (``which``: ``"in"``
    or ``"out"``), with genvars ``r`` and ``c``."""
    if chain.direction == "right":  # slot (r, j), j = 0..C: j = c for in, c + 1 for out
        return _affine(C + 1, 1, 1 if which == "out" else 0)
    if chain.direction == "down":  # slot (i, c), i = 0..R: i = r for in, r + 1 for out
        return _affine(C, 1, C if which == "out" else 0)
    return _affine(C, 1, C if which == "in" else 0)  # up: out at (r, c), in from below


def _slots(chain: Chain, R: int, C: int) -> int:
    return {"right": R * (C + 1), "down": (R + 1) * C, "up": R * C}[chain.direction]


def _grid_text(grid: Grid, top: str, regions, ports, widths, signs, tap_width,
               collect_width) -> str:
    R, C = grid.rows, grid.cols
    head = ["clk", "rst"]
    decl = ["    input wire clk;", "    input wire rst;"]
    body = []
    for chain in grid.chains:
        w, n = widths[chain.out], _slots(chain, R, C)
        body.append(f"    wire [{n * w - 1}:0] {chain.out}_slots;")
        if chain.edge is not None:
            k = R if chain.direction == "right" else C
            head.append(f"{chain.inp}_edge")
            decl.append(f"    input wire [{k * w - 1}:0] {chain.inp}_edge;")
            for i in range(k):
                slot = i * (C + 1) if chain.direction == "right" else i
                body.append(f"    assign {chain.out}_slots[{slot * w} +: {w}] = "
                            f"{chain.inp}_edge[{i * w} +: {w}];")
        if chain.exits:
            k = R if chain.direction == "right" else C
            head.append(f"{chain.out}_exit")
            decl.append(f"    output wire [{k * w - 1}:0] {chain.out}_exit;")
            for i in range(k):
                slot = {"right": i * (C + 1) + C, "down": R * C + i, "up": i}[chain.direction]
                body.append(f"    assign {chain.out}_exit[{i * w} +: {w}] = "
                            f"{chain.out}_slots[{slot * w} +: {w}];")
    for port in grid.collect:
        head.append(f"{port}_all")
        decl.append(f"    output wire [{R * C * collect_width[port] - 1}:0] {port}_all;")
    for tap in grid.taps:
        if tap.bus is None:
            continue
        head.append(f"{tap.port}_taps")
        decl.append(f"    input wire [{len(tap.bus) * tap_width[tap.port] - 1}:0] "
                    f"{tap.port}_taps;")
    body += ["    genvar r, c;", "    generate", f"    for (r = 0; r < {R}; r = r + 1) begin : row",
             f"        for (c = 0; c < {C}; c = c + 1) begin : col"]
    for i, (r0, r1, c0, c1, module) in enumerate(regions):
        conds = [f"{v} == {lo}" if lo == hi else f"{v} >= {lo} && {v} <= {hi}"
                 for v, lo, hi, n in (("r", r0, r1, R), ("c", c0, c1, C))
                 if (lo, hi) != (0, n - 1)]
        cond = " && ".join(conds) or "1"
        body.append(f"            {'if' if i == 0 else 'else if'} ({cond}) begin : site")
        members = ports(module)
        conns = []
        for chain in grid.chains:
            w = widths[chain.out]
            out_w = _width(members[chain.out])
            body.append(f"                wire [{out_w - 1}:0] {chain.out};")
            ext = "" if out_w == w else (
                f"{{{w - out_w}{{{chain.out}[{out_w - 1}]}}}}, " if signs[chain.out]
                else f"{w - out_w}'d0, ")
            value = f"{{{ext}{chain.out}}}" if ext else chain.out
            body.append(f"                assign {chain.out}_slots[({_slot(chain, R, C, 'out')}) "
                        f"* {w} +: {w}] = {value};")
            conns.append(f".{chain.out}({chain.out})")
            if chain.inp in members:
                in_w = _width(members[chain.inp])
                conns.append(f".{chain.inp}({chain.out}_slots[({_slot(chain, R, C, 'in')}) * {w}"
                             f" +: {in_w}])")
        for port in grid.collect:
            w = collect_width[port]
            body.append(f"                wire [{w - 1}:0] {port};")
            body.append(f"                assign {port}_all[(r * {C} + c) * {w} +: {w}] = "
                        f"{port};")
            conns.append(f".{port}({port})")
        for tap in grid.taps:
            if tap.port in members and tap.bus is None:
                width, name = _width(members[tap.port]), tap.port.upper()
                body.append(f"                localparam [{width - 1}:0] {name} = "
                            f"{_affine(tap.a, tap.b, tap.k)};")
                conns.append(f".{tap.port}({name})")
            elif tap.port in members:
                tw, index = tap_width[tap.port], _affine(tap.a, tap.b, tap.k)
                select = f"[{index}]" if tw == 1 else f"[({index}) * {tw} +: {tw}]"
                conns.append(f".{tap.port}({tap.port}_taps{select})")
        body.append(f"                {module} u (")
        body.append("                    .clk(clk), .rst(rst),")
        body.append(",\n".join(f"                    {x}" for x in conns))
        body.append("                );")
        body.append("            end")
    body += ["        end", "    end", "    endgenerate"]
    lines = [f"// The {R} x {C} cells of {top} ({grid.name}): one instance per position "
             f"(qtpe.hdl.array_grid).",
             f"module {top}_{grid.name}({', '.join(head)});", *decl, *body, "endmodule", ""]
    return "\n".join(lines)


def skew(m: Module, values: list, a: int, b: int, name: str, top: str, instances: bool,
         modules: dict) -> list:
    """``values[i]`` delayed by ``a*i + b`` cycles (registers without reset, initially 0):
    the operand skew and result de-skew of an array. As registers named ``{name}{i}_d{j}``,
    or, with ``instances``, as one module ``<top>_<name>`` (a ``generate`` loop) so that
    the triangle of registers does not grow the top module's text."""
    from .array_parts import delay

    if not instances:
        return [delay(m, _value(v), a * i + b, f"{name}{i}") for i, v in enumerate(values)]
    n, w = len(values), len(_value(values[0]))
    if all(a * i + b == 0 for i in range(n)):
        return list(values)
    q = Signal(n * w, name=f"{name}_q")
    m.submodules[name] = Instance(f"{top}_{name}", i_clk=ClockSignal(),
                                  i_d=Cat(*(_value(v) for v in values)), o_q=q)
    d = _affine(a, 0, b).replace("r", "i")
    modules[f"{top}_{name}"] = f"""// {n} lanes of {w} bits, lane i delayed by {d} cycles ({top};
// qtpe.hdl.array_grid.skew).
module {top}_{name}(clk, d, q);
    input wire clk;
    input wire [{n * w - 1}:0] d;
    output wire [{n * w - 1}:0] q;
    genvar i;
    generate
    for (i = 0; i < {n}; i = i + 1) begin : lane
        localparam integer D = {d};
        if (D == 0) begin : wire_
            assign q[i * {w} +: {w}] = d[i * {w} +: {w}];
        end else begin : delay
            reg [D * {w} - 1:0] stages = 0;
            if (D == 1) begin : one
                always @(posedge clk) stages <= d[i * {w} +: {w}];
            end else begin : many
                always @(posedge clk) stages <= {{stages[(D - 1) * {w} - 1:0], d[i * {w} +: {w}]}};
            end
            assign q[i * {w} +: {w}] = stages[D * {w} - 1 -: {w}];
        end
    end
    endgenerate
endmodule
"""
    out = [q[i * w:(i + 1) * w] for i in range(n)]
    return [o.as_signed() if _value(v).shape().signed else o for o, v in zip(out, values,
                                                                              strict=True)]


def spread(m: Module, source, groups: int, copies: int, name: str, top: str, instances: bool,
           modules: dict) -> list:
    """A one-bit control flag for ``groups * copies`` loads, two cycles after ``source``,
    without a register that drives more than ``max(groups, copies)`` loads: ``groups``
    registers ``{name}_g{i}`` fed by ``source``, each feeding ``copies`` registers; element
    ``i * copies + j`` of the result is copy ``j`` of group ``i`` (all reset to 0).

    The copies have the same input, so a synthesis tool would merge them back into one
    register: with ``instances`` the tree is one Verilog module ``<top>_<name>`` whose
    registers carry ``keep`` (Yosys keeps them; ``opt_merge`` skips kept cells)."""
    n = groups * copies
    if not instances:
        out = []
        for i in range(groups):
            g = Signal(name=f"{name}_g{i}")
            m.d.sync += g.eq(source)
            for j in range(copies):
                q = Signal(name=f"{name}_g{i}_{j}")
                m.d.sync += q.eq(g)
                out.append(q)
        return out
    q = Signal(n, name=f"{name}_q")
    m.submodules[name] = Instance(f"{top}_{name}", i_clk=ClockSignal(), i_rst=ResetSignal(),
                                  i_d=_value(source), o_q=q)
    modules[f"{top}_{name}"] = f"""// One control flag for {groups} x {copies} loads, two cycles
// later ({top}; qtpe.hdl.array_grid.spread): {groups} registers each feeding {copies},
// kept apart.
module {top}_{name}(clk, rst, d, q);
    input wire clk;
    input wire rst;
    input wire d;
    output wire [{n - 1}:0] q;
    genvar i, j;
    generate
    for (i = 0; i < {groups}; i = i + 1) begin : group
        (* keep *) reg g = 1'b0;
        (* keep *) always @(posedge clk) g <= rst ? 1'b0 : d;
        for (j = 0; j < {copies}; j = j + 1) begin : copy
            (* keep *) reg r = 1'b0;
            (* keep *) always @(posedge clk) r <= rst ? 1'b0 : g;
            assign q[i * {copies} + j] = r;
        end
    end
    endgenerate
endmodule
"""
    return [q[i] for i in range(n)]
