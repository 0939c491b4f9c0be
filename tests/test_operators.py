"""Operator, function, reduction and stateful names are closed sets (sdmodels/operators.py):
a node with a name outside them cannot be built, and one forced past its constructor cannot
bring its text into a kernel or a tape."""
import ast
import json
import re
from pathlib import Path

import pytest

from sdmodels import Model, build, delay3, prepare
from sdmodels.compile import _Generator
from sdmodels.errors import ModelError
from sdmodels.expr import (FUNCTIONS, STATEFUL, VECTOR_FUNCTIONS, Binary, Call, Const, Reduce,
                           Ref, Unary)
from sdmodels.operators import (PYTHON_BINARY, BinaryOp, Function, ReduceOp, StatefulKind,
                                UnaryOp)

ROOT = Path(__file__).resolve().parents[1]
EVIL = "+ __import__('os').system('true') +"


@pytest.mark.parametrize("make, allowed", [
    (lambda: Binary("**", Const(1.0), Const(2.0)), "use one of +, -, *, /, ^"),
    (lambda: Unary("~", Const(1.0)), "use one of -, not"),
    (lambda: Call("minimum", (Const(1.0), Const(2.0))), "use one of abs, exp"),
    (lambda: Reduce("median", Ref("x"), "d"), "use one of sum, prod, min, max, mean"),
])
def test_an_unknown_name_is_refused_when_the_node_is_built(make, allowed):
    with pytest.raises(ModelError, match=re.escape(allowed)):
        make()


def test_names_are_stored_as_members_and_read_as_their_text():
    node = Binary("+", Ref("a"), Call("max", (Const(1.0), Const(2.0))))
    assert type(node.op) is BinaryOp and type(node.right.fn) is Function
    assert node.op == "+" and repr(node) == ("Binary(op='+', left=Ref(name='a'), right=Call("
                                             "fn='max', args=(Const(value=1.0), Const(value=2.0))))")
    assert json.dumps({"op": node.op}) == '{"op": "+"}'


def _forced(op: str):
    """A model whose one equation holds a Binary node with `op` forced past its check."""
    m = Model("forced", stop=1)
    m.aux("Y", Binary("+", Const(1.0), Const(2.0)))
    ir = build(m)
    node = ir.variables["y"].equation
    object.__setattr__(node, "op", op)
    return ir


def test_a_node_forced_past_its_check_cannot_reach_generated_code():
    ir = _forced(EVIL)
    with pytest.raises(ModelError, match="not a BinaryOp"):
        _Generator(ir, "euler").source()
    with pytest.raises(ModelError, match="not a BinaryOp"):
        prepare(_forced(EVIL))
    with pytest.raises(ModelError):
        PYTHON_BINARY[EVIL]


def test_the_closed_sets_match_the_catalog():
    assert set(Function) == set(FUNCTIONS) | set(VECTOR_FUNCTIONS)
    assert set(StatefulKind) == set(STATEFUL)
    assert all(type(kind.fn) is StatefulKind for kind in STATEFUL.values())


def test_every_scalar_function_has_kernel_code_and_a_tape():
    """Each consumer has code for every function of the catalog (vectors: test_engine_vectors)."""
    m = Model("all_functions", stop=1)
    x = m.constant("X", 0.5)
    for i, (fn, (lo, _hi)) in enumerate(sorted(FUNCTIONS.items())):
        m.aux(f"F{i}", Call(fn, (x,) * lo))
    ir = build(m)
    source = _Generator(ir, "euler").source()
    assert len(prepare(ir).code) > len(FUNCTIONS)
    assert "np.arctan(" in source and "pulse_train(" in source


def test_delay_kinds_are_members_and_report_as_text():
    m = Model("supply", stop=2)
    orders = m.constant("Orders", 1)
    m.aux("Arrivals", delay3(orders, 4))
    (info,) = build(m).delays
    assert type(info.kind) is StatefulKind and info.kind == "delay3"
    with pytest.raises(ModelError, match="not a stateful function"):
        type(info)(**{**info.__dict__, "kind": "delay7"})


def _literal_names():
    """(file:line, constructor, name) of every node built with a literal name in the code."""
    sets = {"Binary": BinaryOp, "Unary": UnaryOp, "Call": Function, "Reduce": ReduceOp}
    for path in [*ROOT.glob("sdmodels/**/*.py"), *ROOT.glob("library/**/*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                    and node.func.id in sets and node.args \
                    and isinstance(node.args[0], ast.Constant) \
                    and isinstance(node.args[0].value, str):
                yield (f"{path.relative_to(ROOT)}:{node.lineno}", sets[node.func.id],
                       node.args[0].value)


def test_every_literal_name_in_the_code_is_a_member():
    """A name written in a rarely run branch (an importer's fallback) is checked here, not
    first by a user's model."""
    found = list(_literal_names())
    assert len(found) > 100
    assert [(where, name) for where, names, name in found if name not in set(names)] == []
