"""The .mdl reader's shortcuts give what its token path gives (sdmodels/interop/mdl/).

A plain lookup definition `name ( [(x0,y0)-(x1,y1)], (x,y), ... )` is read with one regular
expression instead of tokens; anything written otherwise falls back to the tokens.
"""
import numpy as np
import pytest

from sdmodels.interop.mdl.lexer import Source, tokenize
from sdmodels.interop.mdl.parser import ExpressionParser, plain_lookup_table
from sdmodels.interop.mdl.reader import same_abstract

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
