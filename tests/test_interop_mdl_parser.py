"""sdmodels' own .mdl reader (sdmodels/interop/mdl/): constructs, errors, the sketch.

Expected values come from Vensim's semantics written out here (arithmetic, Euler steps) and
from the SDEverywhere models' Vensim outputs (.dat); the cross-check holds the abstract model
of every SDXorg suite .mdl equal to the one pysd's own translator builds.
"""
import os
import warnings

import numpy as np
import pytest
from sdmodels.interop.mdl import structures as ae

from sdmodels.errors import EquationSyntaxError, ImportModelError
from sdmodels.interop import import_model
from sdmodels.interop.conformance import shared_root
from sdmodels.interop.mdl import VensimSyntaxError, read_abstract, read_sketch
from sdmodels.interop.mdl.reader import same_abstract
from sdmodels.ir import build
from sdmodels.simulate import simulate
from tests.mdl_files import write_mdl

CONTROL = """
INITIAL TIME = 0 ~ ~ |
FINAL TIME = 4 ~ ~ |
TIME STEP = 1 ~ ~ |
SAVEPER = TIME STEP ~ ~ |
"""
SDE = str(shared_root() / "sdeverywhere-models" / "models")


def _write(tmp_path, text, control=CONTROL):
    return write_mdl(tmp_path, text, control)


def _elements(path):
    return {e.name: e for e in read_abstract(path).sections[0].elements}


def _run(path):
    return simulate(build(import_model(path))).to_pandas()


def _ast(tmp_path, equation):
    return _elements(_write(tmp_path, f"x = {equation} ~ ~ |\n"))["x"].components[0].ast


# -- expressions ------------------------------------------------------------------------
def test_power_binds_tighter_than_unary_minus_and_groups_from_the_right(tmp_path):
    # Vensim: -3^2 = -9 and -a^2 = -(a^2) (SDEverywhere issue #569), 2^3^2 = 2^9
    path = _write(tmp_path, """
        a = 3 ~ ~ |
        p = -3^2 ~ ~ |
        q = -a^2 ~ ~ |
        r = 2^3^2 ~ ~ |
        s = 2^-1 ~ ~ |
        t = 10 - -a * 2 ~ ~ |
        """)
    row = _run(path).iloc[0]
    assert (row["p"], row["q"], row["r"], row["s"], row["t"]) == (-9, -9, 512, 0.5, 16)


def test_logical_operators_and_precedence(tmp_path):
    path = _write(tmp_path, """
        a = IF THEN ELSE(1 < 2 :AND: 3 > 4 :OR: 5 = 5, 1, 0) ~ ~ |
        b = IF THEN ELSE(:NOT: 1 = 2, 1, 0) ~ ~ |
        c = IF THEN ELSE(:NOT: 1 = 1 :OR: 2 <> 2, 1, 0) ~ ~ |
        d = 1 + 2 * 3 - 4 / 2 ~ ~ |
        """)
    row = _run(path).iloc[0]
    assert (row["a"], row["b"], row["c"], row["d"]) == (1, 1, 0, 5)


def test_flat_operator_lists_as_pysd_builds_them(tmp_path):
    assert _ast(tmp_path, "a + b - c") == ae.ArithmeticStructure(
        ["+", "-"], (ae.ReferenceStructure("a"), ae.ReferenceStructure("b"),
                     ae.ReferenceStructure("c")))
    assert _ast(tmp_path, "(a + b) * 2 ^ 3 ^ c").operators == ["*"]
    assert _ast(tmp_path, "2 ^ 3 ^ c").operators == ["^", "^"]
    assert _ast(tmp_path, ":NA:") != _ast(tmp_path, ":NA:")       # nan, as pysd reads it


def test_inline_comments_anywhere_in_an_equation(tmp_path):
    path = _write(tmp_path, """
        a = 41 {first part} + 1 {second { nested } part} ~ ~ |
        b = { leading } MAX(2, {between} 3) ~ ~ |
        """)
    row = _run(path).iloc[0]
    assert (row["a"], row["b"]) == (42, 3)


def test_names_quoted_with_escapes_unicode_and_continued_lines(tmp_path):
    path = _write(tmp_path, """
        "rate, \\"net\\" (per day)" = 2 ~ ~ |
        Größe der Bevölkerung = 3 ~ ~ |
        total = "rate, \\"net\\" (per day)" * Größe der \\
            Bevölkerung ~ ~ |
        """)
    assert _run(path).iloc[0]["total"] == 6


def test_file_without_encoding_header_in_windows_1252(tmp_path):
    path = tmp_path / "old.mdl"
    path.write_bytes("Größe = 2 ~~|\ny = Größe * 3 ~~|\n".encode("cp1252"))
    assert [e.name for e in read_abstract(path).sections[0].elements] == ["Größe", "y"]


def test_number_lists_and_two_dimensional_tables(tmp_path):
    els = _elements(_write(tmp_path, """
        DimA: A1, A2, A3 ~ ~ |
        DimB: B1, B2 ~ ~ |
        v[DimA] = 1, -2, 3e2 ~ ~ |
        t[DimA, DimB] = 1, 2; 3, 4; 5, 6; ~ ~ |
        """))
    np.testing.assert_array_equal(els["v"].components[0].ast, [1, -2, 300])
    np.testing.assert_array_equal(els["t"].components[0].ast, [[1, 2], [3, 4], [5, 6]])


# -- lookups ----------------------------------------------------------------------------
def test_lookups_in_every_written_form(tmp_path):
    path = _write(tmp_path, """
        pairs(
          [(0,0)-(2,40),(1,10)],(0,0),(1,10),(2,40)) ~ ~ |
        flat(0, 1, 2, 0, 10, 40) ~ ~ |
        bare((2,40),(0,0),(1,10)) ~ ~ |
        a = pairs(Time / 2) ~ ~ |
        b = flat(Time / 2) ~ ~ |
        c = bare(Time / 2) ~ ~ |
        d = WITH LOOKUP(Time / 2, ([(0,0)-(2,40)],(0,0),(1,10),(2,40))) ~ ~ |
        """)
    els = _elements(path)
    assert els["flat"].components[0].ast.x == (0, 1, 2)
    assert els["flat"].components[0].ast.y == (0, 10, 40)
    assert els["pairs"].components[0].ast.y_limits == (0, 40)
    frame = _run(path)
    expected = [0, 5, 10, 25, 40]          # piecewise linear through (0,0),(1,10),(2,40)
    for col in "abcd":
        np.testing.assert_allclose(frame[col], expected)


# -- subscripts ---------------------------------------------------------------------------
def test_subscript_ranges_mappings_equivalences_and_except(tmp_path):
    model = read_abstract(_write(tmp_path, """
        DimA: A1, A2, A3 ~ ~ |
        SubA: A2, A3 ~ ~ |
        DimD: D1, D2 -> (DimA: SubA, A1) ~ ~ |
        DimN: (N1-N4) -> DimM ~ ~ |
        DimM: M1, M2, M3, M4 ~ ~ |
        DimE <-> DimA ~ ~ |
        h[DimA] :EXCEPT: [A1] = 8 ~ ~ |
        h[A1] = 1 ~ ~ |
        """))
    ranges = {r.name: r for r in model.sections[0].subscripts}
    assert ranges["DimD"].subscripts == ["D1", "D2"] and ranges["DimD"].mapping == ["DimA"]
    # pysd keeps only the range's name; the element-by-element map rides along
    assert ranges["DimD"].mapping_detail == [("DimA", ["SubA", "A1"])]
    assert ranges["DimN"].mapping_detail == [("DimM", None)]
    assert ranges["DimN"].subscripts == ["N1", "N2", "N3", "N4"]
    assert ranges["DimE"].subscripts == "DimA"
    h = {e.name: e for e in model.sections[0].elements}["h"]
    assert [c.subscripts for c in h.components] == [(["DimA"], [["A1"]]), (["A1"], [])]


# -- data ---------------------------------------------------------------------------------
def test_data_variables_with_and_without_equations(tmp_path):
    els = _elements(_write(tmp_path, """
        exogenous ~ ~ |
        raw data :RAW: ~ ~ |
        empty := ~ ~ |
        held :HOLD BACKWARD: := 2 * Time ~ ~ |
        """))
    kinds = {n: (type(e.components[0]).__name__, type(e.components[0].ast).__name__,
                 e.components[0].keyword) for n, e in els.items() if n[0].islower()}
    assert kinds == {"exogenous": ("AbstractData", "DataStructure", None),
                     "raw data": ("AbstractData", "DataStructure", "raw"),
                     "empty": ("AbstractData", "DataStructure", None),
                     "held": ("AbstractData", "ArithmeticStructure", "hold_backward")}


def test_data_variable_without_equation_asks_for_its_data_file(tmp_path):
    path = _write(tmp_path, "exogenous ~ ~ |\ny = exogenous * 2 ~ ~ |\n")
    with pytest.raises(ImportModelError, match="data_files"):
        import_model(path)


# -- macros -------------------------------------------------------------------------------
def test_macro_after_a_group_header_with_time_step_dollar(tmp_path):
    path = _write(tmp_path, """
        ********************************************************
            .Macros
        ********************************************************~
            Group of macros
            |
        :MACRO: STEPPED(x)
        STEPPED = x * TIME STEP$ + Time$ ~ ~ |
        :END OF MACRO:
        y = STEPPED(3) ~ ~ |
        """)
    frame = _run(path)
    np.testing.assert_allclose(frame["y"], 3 + frame.index.to_numpy())


def test_dollar_names_in_a_macro_are_the_models_variables(tmp_path):
    path = _write(tmp_path, """
        :MACRO: SCALED(x)
        SCALED = x * scale$ + FINAL TIME$ ~ ~ |
        :END OF MACRO:
        scale = 10 ~ ~ |
        y = SCALED(Time) ~ ~ |
        """)
    frame = _run(path)
    np.testing.assert_allclose(frame["y"], 10 * frame.index.to_numpy() + 4)


def test_macro_with_several_outputs(tmp_path):
    # THEIL(a, b : c, d): c and d are the macro's extra outputs at this call site
    path = _write(tmp_path, """
        :MACRO: SPLIT(total, share : part a, part b)
        SPLIT = total ~ ~ |
        part a = total * share ~ ~ |
        part b = total - part a ~ ~ |
        :END OF MACRO:
        y = SPLIT(10 * Time, 0.3 : first, second) ~ ~ |
        z = first + 2 * second ~ ~ |
        """)
    frame = _run(path)
    t = frame.index.to_numpy()
    np.testing.assert_allclose(frame["y"], 10 * t)
    np.testing.assert_allclose(frame["first"], 3 * t)
    np.testing.assert_allclose(frame["second"], 7 * t)
    np.testing.assert_allclose(frame["z"], 17 * t)


def test_macro_output_count_must_match(tmp_path):
    path = _write(tmp_path, """
        :MACRO: SPLIT(total : part a, part b)
        SPLIT = total ~ ~ |
        part a = total ~ ~ |
        part b = total ~ ~ |
        :END OF MACRO:
        y = SPLIT(1 : first) ~ ~ |
        """)
    with pytest.raises(VensimSyntaxError, match=r"m\.mdl:8:5: macro 'split' has 2 extra"):
        read_abstract(path)


# -- errors -------------------------------------------------------------------------------
@pytest.mark.parametrize("body, where, why", [
    ("a = 1 ~ ~ |\nb = MAX(a, 2 ~ ~ |\n", "4:14", "expected ')' to close the arguments"),
    ("a = 1 {never closed ~ ~ |\n", "3:7", "comment '{' that is never closed"),
    ("a = 1 # 2 ~ ~ |\n", "3:7", "unexpected character '#'"),
    ("a = 1 < 2 < 3 ~ ~ |\n", "3:11", "comparisons cannot be chained"),
    ("D: (A5-A1) ~ ~ |\n", "3:4", "numbered range"),
    ("a = DELAY1(1, 2, 3, 4) ~ ~ |\n", "3:5", "DELAY1 cannot take 4 arguments"),
    (":MACRO: M(x)\nM = x ~ ~ |\n", "3:8", "has no ':END OF MACRO:'"),
    ("a = 1 ~ ~\nb = 2 ~ ~ |\n", "4:9", "the '|' that ends the equation"),
])
def test_parse_errors_give_file_line_column_variable_and_caret(tmp_path, body, where, why):
    path = _write(tmp_path, "\n" + body)
    with pytest.raises(VensimSyntaxError) as info:
        read_abstract(path)
    text = str(info.value)
    assert f"m.mdl:{where}: " in text and why in text
    line, col = map(int, where.split(":"))
    shown, caret = text.splitlines()[1:3]
    assert caret.index("^") - 2 == col - 1 or caret.strip() == "^"
    assert isinstance(info.value, (ImportModelError, EquationSyntaxError))


def test_error_names_the_variable(tmp_path):
    path = _write(tmp_path, "Heat Loss = (Teacup - Room ~ ~ |\n")
    with pytest.raises(VensimSyntaxError, match=r"\(variable 'Heat Loss'\)"):
        import_model(path)


def test_deep_nesting_and_huge_lines_do_not_exhaust_the_stack(tmp_path):
    deep = "(" * 5000 + "1" + ")" * 5000
    with pytest.raises(VensimSyntaxError, match="nested more than"):
        read_abstract(_write(tmp_path, f"a = {deep} ~ ~ |\n"))
    minus = "-" * 5000 + "a"
    with pytest.raises(VensimSyntaxError, match="nested more than"):
        read_abstract(_write(tmp_path, f"a = 1 ~ ~ |\nb = {minus} ~ ~ |\n"))
    long_sum = " + ".join(["a"] * 50_000)      # one 200 kB line, one flat sum
    els = _elements(_write(tmp_path, f"a = 1 ~ ~ |\nb = {long_sum} ~ ~ |\n"))
    assert len(els["b"].components[0].ast.arguments) == 50_000
    table = ", ".join(f"{i}.5" for i in range(100_000))   # a 1 MB data table, one line
    els = _elements(_write(tmp_path, f"D: (d1-d100000) ~ ~ |\nt[D] = {table} ~ ~ |\n"))
    assert els["t"].components[0].ast[-1] == 99_999.5


# -- the files the issue names, the sketch, the parser switch --------------------------------
@pytest.mark.skipif(not os.path.isdir(SDE), reason="../shared/sdeverywhere-models is absent")
@pytest.mark.parametrize("name", ["comments", "extdata", "getdata", "prune", "sumif"])
def test_sdeverywhere_files_beyond_pysds_grammar_parse(name):
    model = read_abstract(f"{SDE}/{name}/{name}.mdl")
    assert len(model.sections[0].elements) > 3


@pytest.mark.skipif(not os.path.isdir(SDE), reason="../shared/sdeverywhere-models is absent")
def test_comments_model_matches_vensims_output():
    frame = _run(f"{SDE}/comments/comments.mdl")
    dat = _read_dat(f"{SDE}/comments/comments.dat")
    row = frame.iloc[0]
    for column, value in dat.items():
        assert row[column] == pytest.approx(value, rel=1e-6), column
    assert dat["d"] == 8760 and dat["a[A3]"] == 2


def _read_dat(path) -> dict[str, float]:
    """SDEverywhere's .dat: a variable line, then 'time<TAB>value' lines; values at t=0."""
    out, name = {}, None
    for line in open(path, encoding="utf-8"):
        parts = line.rstrip("\n").split("\t")
        if len(parts) == 1:
            name = parts[0].strip()
        elif name and name not in out and float(parts[0]) == 0:
            out[name] = float(parts[1])
    return {k: v for k, v in out.items() if k.split("[")[0] not in
            ("FINAL TIME", "INITIAL TIME", "SAVEPER", "TIME STEP")}


def test_sketch_positions_of_a_suite_file():
    from sdmodels.interop.conformance import suite_root
    root = suite_root()
    if root is None:
        pytest.skip("../shared/test-models is absent")
    positions = read_sketch(root / "samples" / "teacup" / "teacup.mdl")
    assert positions == {"Teacup Temperature": (307, 235), "Heat Loss to Room": (408, 251),
                         "Room Temperature": (469, 304), "Characteristic Time": (408, 174)}


def test_parser_switch_keeps_pysds_translator_reachable(tmp_path, monkeypatch):
    path = _write(tmp_path, "a = 1 {inline} + 1 ~ ~ |\n")
    monkeypatch.setenv("SDMODELS_MDL_PARSER", "pysd")
    with pytest.raises(ImportModelError):      # pysd's grammar has no inline comments
        import_model(path)
    monkeypatch.setenv("SDMODELS_MDL_PARSER", "own")
    assert sorted(import_model(path).elements) == ["a"]


def test_reading_an_mdl_never_imports_pysd(tmp_path):
    # importing pysd costs 0.4-2 s (xarray, openpyxl): a plain .mdl needs none of it
    import subprocess
    import sys
    path = _write(tmp_path, "a = 1 ~ ~ |\nb = INTEG(a, 2) ~ ~ |\nt(( 0, 1), (1, 2)) ~ ~ |\n")
    code = ("import sys; from sdmodels.interop import import_model; "
            f"m = import_model({str(path)!r}); "
            "print(sorted({k.split('.')[0] for k in sys.modules} & {'pysd', 'xarray'}))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, env={**os.environ, "SDMODELS_MDL_PARSER": "own"})
    assert done.stdout.strip() == "[]"


def test_own_structures_have_pysds_fields():
    import dataclasses

    from pysd.translators.structures import abstract_expressions, abstract_model

    from sdmodels.interop.mdl import structures
    for module in (abstract_expressions, abstract_model):
        for name, theirs in vars(module).items():
            if dataclasses.is_dataclass(theirs) and theirs.__module__ == module.__name__:
                ours = getattr(structures, name)
                assert [(f.name, f.default) for f in dataclasses.fields(ours)] == \
                    [(f.name, f.default) for f in dataclasses.fields(theirs)], name
    from pysd.translators.vensim.vensim_structures import structures as table
    assert set(structures.SPECIAL) >= set(table) - {
        "reference", "subscripts_ref", "arithmetic", "logic", "with_lookup", "call", "lookup",
        "data"}                           # Vensim functions beyond pysd's may be added
    args = (1, 2, 3, 4, 5)
    for key, make in structures.SPECIAL.items():
        if key not in table:
            continue
        count = make.__code__.co_argcount if callable(make) and hasattr(make, "__code__") \
            else len([f for f in dataclasses.fields(make) if f.default is dataclasses.MISSING])
        assert same_abstract(make(*args[:count]), table[key](*args[:count])) is None, key


# -- the cross-check with pysd's translator ----------------------------------------------------
# Where the two readers differ on purpose: Vensim computes -x^y as -(x^y), pysd's grammar
# folds a minus into a numeral first (30^ - 30^-c is 30^((-30)^-c) for pysd).
DIFFERENT_ON_PURPOSE = {"tests/arithmetics_exp/test_arithmetics_exp.mdl"}


def _suite_mdl():
    from sdmodels.interop.conformance import suite_root
    root = suite_root()
    return [] if root is None else sorted(root.rglob("*.mdl"))


def test_own_reader_builds_pysds_abstract_model_for_every_suite_file():
    from sdmodels.interop.conformance import suite_root
    from pysd.translators.vensim.vensim_file import VensimFile
    files = _suite_mdl()
    if not files:
        pytest.skip("../shared/test-models is absent")
    root = suite_root()
    differ, ours_only = [], []
    for path in files:
        name = str(path.relative_to(root))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                vf = VensimFile(path)
                vf.parse()
                theirs = vf.get_abstract_model()
        except Exception:   # noqa: BLE001 - pysd's grammar refuses the file
            theirs = None
        ours = read_abstract(path)      # must never fail on a suite file
        if theirs is None:
            ours_only.append(name)
            continue
        where = same_abstract(_docless(ours), _docless(theirs))
        if where and name not in DIFFERENT_ON_PURPOSE:
            differ.append(f"{name}: {where}")
    assert differ == []
    assert len(files) > 120


def _docless(model):
    """Documentation aside: pysd keeps Vensim's '\\' line continuations in comments."""
    for section in model.sections:
        for element in section.elements:
            element.documentation = ""
    return model
