"""Vensim array and forecasting built-ins, expanded at import into plain expressions.

FORECAST becomes a first-order smooth (Vensim's "AV") and an expression around it; INVERT
MATRIX becomes the adjugate over the determinant, element by element; VECTOR SELECT becomes
the selected reduction over the elements named with `!`. The engine sees only ordinary
expressions, so these work on constant and time-varying arguments alike.
"""
from __future__ import annotations

import itertools

from sdmodels.expr import Binary, Call, Const, Expr, Stateful, Unary

BIG = 1e300


def forecast(x: Expr, average_time: Expr, horizon: Expr, initial_trend: Expr) -> Expr:
    """FORECAST(input, average time, horizon): input * (1 + zidz(input - AV, T * AV) * horizon).

    AV is the input smoothed over T, starting at input / (1 + initial trend) (pysd's
    statefuls.Forecast and Vensim's documentation).

    >>> from sdmodels.expr import Ref
    >>> forecast(Ref("r"), Const(5.0), Const(10.0), Const(0.0)).op
    '*'
    """
    av = Stateful("smooth", (x, average_time, Binary("/", x, Binary("+", Const(1.0),
                                                                      initial_trend))))
    growth = Call("zidz", (Binary("-", x, av), Binary("*", average_time, av)))
    return Binary("*", x, Binary("+", Const(1.0), Binary("*", growth, horizon)))


def determinant(m: list[list[Expr]]) -> Expr:
    """The determinant by cofactor expansion along the first row (small matrices).

    >>> determinant([[Const(4.0), Const(7.0)], [Const(2.0), Const(6.0)]]).op
    '-'
    """
    n = len(m)
    if n == 1:
        return m[0][0]
    if n == 2:
        return Binary("-", Binary("*", m[0][0], m[1][1]), Binary("*", m[0][1], m[1][0]))
    out = None
    for j in range(n):
        term = Binary("*", m[0][j], determinant(_minor(m, 0, j)))
        out = term if out is None else Binary("+" if j % 2 == 0 else "-", out, term)
    return out


def inverse_cell(m: list[list[Expr]], i: int, j: int) -> Expr:
    """Element (i, j) of the inverse: the (j, i) cofactor over the determinant."""
    n = len(m)
    cof = Const(1.0) if n == 1 else determinant(_minor(m, j, i))
    if (i + j) % 2:
        cof = Unary("-", cof)
    return Binary("/", cof, determinant(m))


def _minor(m, row, col):
    return [[v for c, v in enumerate(r) if c != col] for k, r in enumerate(m) if k != row]


def vector_select(pairs: list[tuple[Expr, Expr]], missing: Expr, action: Expr) -> Expr:
    """VECTOR SELECT over (selection, expression) pairs, one per selected-range element.

    Actions 0-4 act on selection * expression (sum, product, min, max, mean), 5 on
    expression ^ selection (product), 6-10 on the expression (sum, product, min, max,
    mean); elements whose selection is 0 are left out, and with none left the result is
    `missing`. A numerical action that varies in time selects among the eleven at run time.

    >>> vector_select([(Const(1.0), Const(2.0)), (Const(0.0), Const(5.0))],
    ...               Const(-1.0), Const(6.0)).fn
    'if_then_else'
    """
    chosen = [Binary("<>", s, Const(0.0)) for s, _x in pairs]
    count = _fold("+", [Call("if_then_else", (c, Const(1.0), Const(0.0))) for c in chosen])

    def branch(a: int) -> Expr:
        values = [Binary("*", s, x) if a < 5 else Binary("^", x, s) if a == 5 else x
                  for s, x in pairs]
        kind = a if a < 5 else {5: 1, 6: 0, 7: 1, 8: 2, 9: 3, 10: 4}[a]
        neutral = [Const(0.0), Const(1.0), Const(BIG), Const(-BIG), Const(0.0)][kind]
        kept = [Call("if_then_else", (c, v, neutral)) for c, v in zip(chosen, values)]
        if kind == 0:
            out = _fold("+", kept)
        elif kind == 1:
            out = _fold("*", kept)
        elif kind in (2, 3):
            out = _fold("min" if kind == 2 else "max", kept)
        else:
            out = Call("zidz", (_fold("+", kept), count))
        return Call("if_then_else", (Binary(">", count, Const(0.0)), out, missing))

    if isinstance(action, Const):
        a = int(round(action.value))
        if a not in range(11):
            raise ValueError(f"VECTOR SELECT numerical action {a} is not 0-10")
        return branch(a)
    out = missing
    for a in reversed(range(11)):
        out = Call("if_then_else", (Binary("=", action, Const(float(a))), branch(a), out))
    return out


def _fold(op: str, terms: list[Expr]) -> Expr:
    out = terms[0]
    for t in terms[1:]:
        out = Call(op, (out, t)) if op in ("min", "max") else Binary(op, out, t)
    return out


def combos(ranges: list[str], values) -> list[dict[str, str]]:
    """Every assignment of elements to the named ranges (`values(range)` lists them)."""
    return [dict(zip(ranges, c)) for c in itertools.product(*(values(r) for r in ranges))]
