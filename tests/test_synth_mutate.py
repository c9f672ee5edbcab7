"""``qtpe.synth.mutate``: the mutation list parser, mutants, locations, equivalence checks."""

import pytest

from qtpe.gen import api
from qtpe.gen.emit import write_design
from qtpe.synth.mutate import (
    Equivalence,
    Mutation,
    check_equivalence,
    list_mutations,
    locate,
    parse_equiv_status,
    parse_mutations,
    parse_sat_log,
    prepare,
    write_mutant,
)
from qtpe.synth.tools import SynthError

# Lines as Yosys 0.70's ``mutate -list`` writes them (a MAC PE, W4 x A4).
LISTED = r"""
mutate -mode inv -module qtpe_mac -cell $procmux$20 -port Y -portbit 8 -wire \$5 -wirebit 8 -src qtpe_mac.v:14.14-14.17 -src qtpe_mac.v:60.5-62.8
mutate -mode cnot0 -module qtpe_mac -cell $procmux$29 -port A -portbit 6 -ctrlbit 11 -src qtpe_mac.v:55.5-59.8
mutate -mode const1 -module qtpe_mac -cell $add$qtpe_mac.v:44$6 -port A -portbit 3 -wire base -wirebit 3 -src qtpe_mac.v:21.15-21.19
"""  # noqa: E501


def test_parse_listed_lines():
    inv, cnot, const = parse_mutations(LISTED)
    assert inv == Mutation("inv", "qtpe_mac", "$procmux$20", "Y", 8, -1, "\\$5", 8,
                           ("qtpe_mac.v:14.14-14.17", "qtpe_mac.v:60.5-62.8"))
    assert (cnot.mode, cnot.ctrlbit, cnot.wire, cnot.wirebit) == ("cnot0", 11, "", -1)
    assert const.cell == "$add$qtpe_mac.v:44$6" and const.wire == "base"
    assert "XNOR bit 11" in cnot.describe() and "tied to 1" in const.describe()


def test_command_round_trips():
    for m in parse_mutations(LISTED):
        assert parse_mutations(m.command()) == (m,)
        assert Mutation.from_dict(m.to_dict()) == m


@pytest.mark.parametrize("line,needle", [
    ("mutant -mode inv", "does not start with 'mutate'"),
    ("mutate -mode flip -module m -cell c -port A -portbit 0", "'flip'"),
    ("mutate -mode inv -module m -cell c -port A -portbit x", "not a bit index"),
    ("mutate -mode inv -module m -cell c -port A", "port bit"),
    ("mutate -mode cnot1 -module m -cell c -port A -portbit 1", "-ctrlbit"),
    ("mutate -mode inv -module m -cell c -port A -portbit 0 -colour red", "'-colour'"),
    ("mutate -mode inv -module m -cell c -port A -portbit 0 -wire", "-wire has no value"),
])
def test_bad_lines_raise_naming_the_line(line, needle):
    with pytest.raises(SynthError, match="line 2") as err:
        parse_mutations("mutate -mode none\n" + line)
    assert needle in str(err.value)


def test_sat_log_verdicts():
    assert parse_sat_log("[base case 3] Solving problem\nSAT temporal induction proof "
                         "finished - model found for base case: FAIL!", 9) \
        == Equivalence("differs", 3)
    assert parse_sat_log("[base case 9] Solving problem\nReached maximum number of time "
                         "steps -> proved base case for 9 steps: SUCCESS!", 9) \
        == Equivalence("bounded", 9)
    assert parse_sat_log("[base case 2] Solving\nInduction step proven: SUCCESS!", 9) \
        == Equivalence("induction", 2)
    assert parse_sat_log("[base case 4] Solving\nInterrupted SAT solver: TIMEOUT!", 9) \
        == Equivalence("bounded", 3)
    with pytest.raises(SynthError, match="no verdict"):
        parse_sat_log("nothing here", 9)
    assert parse_equiv_status("Found 7 $equiv cells in equiv:\n  Of those cells 5 are "
                              "proven and 2 are unproven.") == (5, 2)
    with pytest.raises(SynthError, match="no count"):
        parse_equiv_status("nothing")


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    cfg = api.config("mac_w4a8", weight="int2", activation="int2", name="qtpe_mut_tiny")
    root = tmp_path_factory.mktemp("mut")
    vpath, _ = write_design(cfg, root / "rtl")
    return cfg, prepare(vpath, cfg.name, root / "yosys")


def test_list_is_deterministic_and_filters(prepared):
    cfg, ydir = prepared
    first = list_mutations(ydir, 12, 3)
    assert len(first) == 12 and first == list_mutations(ydir, 12, 3)
    assert first != list_mutations(ydir, 12, 4)
    only = list_mutations(ydir, 5, 1, mode="inv", wire="acc")
    assert only and all(m.mode == "inv" and m.wire == "acc" for m in only)
    with pytest.raises(ValueError, match="'colour'"):
        list_mutations(ydir, 5, 1, colour="red")


def test_location_is_the_emitted_line(prepared):
    cfg, ydir = prepared
    lines = (ydir / f"{cfg.name}.v").read_text().splitlines()
    (m,) = list_mutations(ydir, 1, 1, mode="const0", wire="product_l0")
    loc = locate(ydir, m)
    assert loc.file == f"{cfg.name}.v" and loc.text == lines[loc.line - 1].strip()[:100]
    assert loc.wire == "product_l0" and "product_l0" in lines[loc.wire_line - 1]


def test_mutant_differs_and_equivalence(prepared):
    cfg, ydir = prepared
    (m,) = list_mutations(ydir, 1, 1, mode="inv", wire="acc")
    plain = write_mutant(ydir, Mutation.NONE, ydir / "plain.v").read_text()
    mutant = write_mutant(ydir, m, ydir / "mutant.v").read_text()
    assert f"module {cfg.name}(" in mutant and mutant != plain
    same = check_equivalence(ydir, Mutation.NONE, cfg.name, 4)
    assert same.verdict == "proved" and same.equivalent and same.depth > 0
    eq = check_equivalence(ydir, m, cfg.name, 4)
    assert eq.verdict == "differs" and not eq.equivalent and eq.depth >= 1

