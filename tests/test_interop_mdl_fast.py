"""The .mdl reader's shortcuts give what its token path gives (sdmodels/interop/mdl/).

A plain lookup definition `name ( [(x0,y0)-(x1,y1)], (x,y), ... )` is read with one regular
expression instead of tokens; anything written otherwise falls back to the tokens. The layout
scan finds with str.find and character runs what regular expressions found before.
"""
import re

import numpy as np
import pytest

from sdmodels.interop import mdl_text
from sdmodels.interop.mdl.lexer import Source, tokenize
from sdmodels.interop.mdl.parser import ExpressionParser, plain_lookup_table
from sdmodels.interop.mdl.reader import same_abstract
from sdmodels.interop.mdl.sections import collapse, sketch_start, split_file

TABLES = [
    "( (0,0),(200,0.85),(400,2.6) )",
    "([(0,-1)-(10,1e3)],(0,-0.5),(5,+2),(2,1e-2))",            # unsorted x, signs, exponents
    "( [(0,0)-(2,2),(1,1),(1.5,0.5)], (0,1), (1, 2), (2, 0) )",  # reference points in range
    "(\n  (0, 0),\n  (1, .5)\n)",
]


@pytest.mark.parametrize("table", TABLES)
def test_a_plain_lookup_table_reads_as_its_tokens(table):
    fast = plain_lookup_table(table, 0, len(table))
    parser = ExpressionParser(tokenize(table), Source(table), "x")
    slow = parser.lookup_table()
    assert fast is not None
    assert same_abstract(fast, slow) is None
    assert list(fast.x) == sorted(fast.x)


@pytest.mark.parametrize("table", [
    "( (0,0) {a comment}, (1,1) )", "(0, 1, 2, 0, 1, 4)", "( (0,0),\\\n (1,1) )",
    "( (0,0), (1,1) ) + 1", "(GET XLS LOOKUPS('f.xlsx', 'tab', 'A', 'B'))"])
def test_other_forms_are_left_to_the_tokens(table):
    assert plain_lookup_table(table, 0, len(table)) is None


def test_the_limits_are_the_first_two_corners():
    table = "([(1,2)-(3,4),(2,3)],(1,2),(3,4))"
    fast = plain_lookup_table(table, 0, len(table))
    assert fast.x_limits == (1.0, 3.0) and fast.y_limits == (2.0, 4.0)
    assert np.array_equal(fast.x, (1.0, 3.0))


# --------------------------------------------------------------- the layout scan's shortcuts
# str.find and character runs stand in for regular expressions the reader used to search
# with (a search for alternatives starts a match at every character): the same answers.

SKETCHES = ["a = 1 ~ ~ |\n\\\\\\---/// Sketch\nV 300", "a = 1 ~ ~ |\n\\\\\\\\\\---///\n",
            "x = 1 ~~|\n\\\\---///", "no sketch ~ ~ |", "\\---/// one backslash only",
            "a\\\\b = 1 ~~| \\\\\\---/// then \\\\\\---/// again"]


@pytest.mark.parametrize("text", SKETCHES)
def test_the_sketch_starts_at_the_first_run_of_backslashes_before_its_mark(text):
    m = re.search(r"\\{2,}---///", text)
    assert sketch_start(text) == (m.start() if m else len(text))


@pytest.mark.parametrize("eq", [
    "Dim: a, b, c", " \n Dim : (a1-a10)", "x = a:AND:b", "x := 1", "x :INTERPOLATE:",
    "=:x", ":x", " :x", "a:=:b", "d: e = f", "tbl(\n (0,0),(1,1))", "x[Dim]: EXCEPT", "::"])
def test_a_subscript_definition_is_recognised_as_the_expression_does(eq):
    assert mdl_text._subscript_def(eq) == bool(mdl_text._SUBSCRIPT_DEF.match(eq))


@pytest.mark.parametrize("text", ["a  b\n\tc ", "\\\nx\\\n y", " ", "", "one\u00a0two\u2003three"])
def test_collapse_is_the_whitespace_expression(text):
    assert collapse(text) == re.sub(r"\s+", " ", text.replace("\\\n", " ")).strip()


def test_entries_end_at_a_bar_outside_quotes_and_comments():
    text = 'a = "x|y" + 1 {c | d ~ e} ~ m ~ doc | b = 2 ~~ |\n\\\\\\---///\n'
    layout = split_file(text)
    assert [e.equation_text(text).strip() for e in layout.main] == \
        ['a = "x|y" + 1 {c | d ~ e}', "b = 2"]
    assert (layout.main[0].units, layout.main[0].doc) == ("m", "doc")
    assert layout.sketch.startswith("\\\\\\---///")


@pytest.mark.parametrize("raw, expected", [
    ("{UTF-8}\r\ncaf\u00e9 = 1 ~ ~ |\r\nb = 2\r~~|".encode("utf-8"),
     "{UTF-8}\ncaf\u00e9 = 1 ~ ~ |\nb = 2\n~~|"),
    ("caf\u00e9 = 1\r\n~~|".encode("cp1252"), "caf\u00e9 = 1\n~~|"),      # not UTF-8: cp1252
    ("{UTF-16}\r\nx = 1 ~~|".encode("ascii"), "{UTF-16}\nx = 1 ~~|")])    # header not its bytes
def test_line_ends_are_unified_whatever_the_encoding(tmp_path, raw, expected):
    from sdmodels.interop.mdl.sections import read_text
    path = tmp_path / "m.mdl"
    path.write_bytes(raw)
    assert read_text(path) == expected
