"""Stateful kinds are classes: the names users type map to them, each knows its arguments."""
import pytest

from sdmodels.errors import ModelError, SDModelsError
from sdmodels.expr import (STATEFUL, Const, Delay3, DelayFixed, DelayN, MaterialDelay, Ref,
                           RollingMin, SampleHold, Smooth, SmoothN, Stateful, Trend, delay3,
                           rolling_min, smoothn)
from sdmodels.limits import check_expression
from sdmodels.parse import parse_equation


@pytest.mark.parametrize("text, kind", [
    ("SMOOTH(x, 2)", Smooth), ("SMOOTHI(x, 2, 1)", Smooth), ("Smooth N(x, 2, 3, 1)", SmoothN),
    ("DELAY FIXED(x, 2, 0)", DelayFixed), ("DELAY N(x, 4, 2)", DelayN), ("TREND(x, 3)", Trend),
    ("SAMPLE_HOLD(x, 5)", SampleHold), ("sample and hold (x, 5)", SampleHold),
    ("rolling_min(x, 10)", RollingMin)])
def test_parsed_names_become_their_kind(text, kind):
    node = parse_equation(text)
    assert type(node) is kind and node.args[0] == Ref("x")


def test_builders_keep_their_signatures_and_name_their_arguments():
    node = smoothn("x", 6, 3)
    assert isinstance(node, SmoothN) and node.order is None
    assert node.arg("smooth_time") == Const(6.0) and node.arg("order") == Const(3.0)
    assert node.arg("initial") is None and node.arg("initial", Ref("x")) == Ref("x")
    assert isinstance(delay3("x", 2), MaterialDelay) and Delay3.order == 3
    assert rolling_min("x", 4).op == "min"
    assert delay3("x", 2) != Smooth((Ref("x"), Const(2.0)))   # same args, other kind


def test_catalog_arity_comes_from_the_classes():
    assert {name: kind.arity() for name, kind in STATEFUL.items()} == {
        "delay1": (2, 3), "delay3": (2, 3), "delayn": (3, 4), "delay_fixed": (2, 3),
        "smooth": (2, 3), "smooth3": (2, 3), "smoothn": (3, 4), "trend": (2, 3),
        "sample_hold": (2, 3), "sample_if_true": (3, 3), "rolling_max": (2, 2),
        "rolling_min": (2, 2)}
    assert all(issubclass(kind, Stateful) and kind.fn == name for name, kind in STATEFUL.items())
    with pytest.raises(SDModelsError, match="takes 2 arguments"):
        parse_equation("rolling_min(x, 1, 2)")
    with pytest.raises(ModelError, match="DELAYN takes 3 to 4 arguments, got 2"):
        check_expression(DelayN((Ref("x"), Const(1.0))), where="test")


def test_and_is_still_an_operator_beside_the_function_named_with_it():
    # 'SAMPLE AND HOLD(' is the function; 'sample and holder' and 'x and hold(1)' are 'and'
    assert parse_equation("sample and holder").op == "and"
    node = parse_equation("x and hold(1)")
    assert node.op == "and" and node.left == Ref("x")
