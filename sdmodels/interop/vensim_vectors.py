"""Vensim array and forecasting built-ins, mapped at import.

FORECAST becomes a first-order smooth (Vensim's "AV") and an expression around it; INVERT
MATRIX becomes the adjugate over the determinant, element by element. Those are ordinary
expressions. ALLOCATE BY PRIORITY, ALLOCATE AVAILABLE, VECTOR SORT ORDER, VECTOR RANK,
VECTOR REORDER and VECTOR SELECT become calls of the compiled array built-ins
(sdmodels/_vectors.py), one per element: the vector arguments are written out along their
last subscript (VECTOR SELECT: along the subscripts marked `!`), as Vensim reads them.
Written out as nested conditionals, VECTOR SELECT's eleven actions made kernels that
numba could not compile in 24 GB.
"""
from __future__ import annotations

import dataclasses
import itertools

from sdmodels.expr import Binary, Call, Const, Expr, Smooth, Unary


def forecast(x: Expr, average_time: Expr, horizon: Expr, initial_trend: Expr) -> Expr:
    """FORECAST(input, average time, horizon): input * (1 + zidz(input - AV, T * AV) * horizon).

    AV is the input smoothed over T, starting at input / (1 + initial trend) (pysd's
    statefuls.Forecast and Vensim's documentation).

    >>> from sdmodels.expr import Ref
    >>> forecast(Ref("r"), Const(5.0), Const(10.0), Const(0.0)).op
    '*'
    """
    av = Smooth((x, average_time, Binary("/", x, Binary("+", Const(1.0), initial_trend))))
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


def invert_matrix(importer, ref, binding, initial) -> Expr:
    """INVERT MATRIX(m[..., rows, cols], n): one element of the inverse, written out."""
    from sdmodels.interop.abstract import Unsupported, key_of
    if type(ref).__name__ != "ReferenceStructure" or key_of(ref.reference) not in \
            importer.elements:
        raise Unsupported("INVERT MATRIX", "its argument must name a subscripted variable")
    subs = list(ref.subscripts.subscripts) if ref.subscripts is not None else \
        list(importer.dims_of[key_of(ref.reference)])
    r, c = subs[-2], subs[-1]
    if r not in importer.subs.ranges or c not in importer.subs.ranges or r not in binding \
            or c not in binding:
        raise Unsupported("INVERT MATRIX", "the last two subscripts must be ranges of "
                          "the variable being defined")
    rows, cols = importer.subs.values(r), importer.subs.values(c)
    if len(rows) != len(cols) or len(rows) > 4:
        raise Unsupported("INVERT MATRIX", f"a {len(rows)}x{len(cols)} matrix (square, "
                          "at most 4x4, is supported)")
    m = [[importer.expr(ref, {**binding, r: a, c: b}, initial=initial) for b in cols]
         for a in rows]
    return inverse_cell(m, rows.index(binding[r]), cols.index(binding[c]))


def _minor(m, row, col):
    return [[v for c, v in enumerate(r) if c != col] for k, r in enumerate(m) if k != row]


def combos(ranges: list[str], values) -> list[dict[str, str]]:
    """Every assignment of elements to the named ranges (`values(range)` lists them)."""
    return [dict(zip(ranges, c)) for c in itertools.product(*(values(r) for r in ranges))]


# ---------------------------------------------------------------------------
# Array built-ins evaluated by compiled helpers, one element of the result at a time.
def array_function(importer, fn: str, args: list, binding: dict[str, str],
                   initial: bool) -> Expr:
    """VECTOR SORT ORDER / RANK / REORDER as a call of the compiled helper."""
    e = lambda a: importer.expr(a, binding, initial=initial)  # noqa: E731
    values = over_last(importer, args[0], binding, initial)
    if fn == "vector_reorder":
        return Call(fn, (e(args[1]), *values))
    return Call(fn, (position(importer, binding, fn), e(args[1]), *values))


def allocate_by_priority(importer, ast, binding, initial) -> Expr:
    """ALLOCATE BY PRIORITY(request, priority, size, width, supply), element by element."""
    e = lambda a: importer.expr(a, binding, initial=initial)  # noqa: E731
    requests = over_last(importer, ast.request, binding, initial)
    priorities = over_last(importer, ast.priority, binding, initial)
    return Call("allocate_by_priority", (position(importer, binding, "ALLOCATE BY PRIORITY"),
                                         e(ast.width), e(ast.supply), *requests, *priorities))


def allocate_available(importer, ast, binding, initial) -> Expr:
    """ALLOCATE AVAILABLE(request, pp[target, first profile element], available).

    pp holds each target's priority profile: type, priority, width, extra, on its last
    subscript starting at the element named (Vensim's `pp[branch, ptype]`).
    """
    from sdmodels.interop.abstract import Unsupported
    requests = over_last(importer, ast.request, binding, initial)
    subs = _subscripts(importer, ast.pp, "ALLOCATE AVAILABLE")
    if len(subs) < 2:
        raise Unsupported("ALLOCATE AVAILABLE", "the priority profile needs two subscripts "
                          "(target, profile)")
    profile = importer.subs.ranges[importer.subs.dim_of(subs[-1])]
    first = profile.index(subs[-1]) if subs[-1] in profile else 0
    names = profile[first:first + 3]
    targets = importer.subs.values(subs[-2])
    if len(names) < 3 or len(targets) != len(requests):
        raise Unsupported("ALLOCATE AVAILABLE", "the priority profile must give type, "
                          "priority and width for every target of the request")
    kind, priority, width = ([_at(importer, ast.pp, subs[:-2] + [t, n], binding, initial)
                              for t in targets] for n in names)
    for k in kind:
        if isinstance(k, Const) and k.value not in (1.0, 2.0, 3.0, 4.0):
            raise Unsupported("ALLOCATE AVAILABLE", f"priority profile type {k.value:g} (only "
                              "1 rectangular, 2 triangular, 3 normal and 4 exponential)")
    return Call("allocate_available", (position(importer, binding, "ALLOCATE AVAILABLE"),
                                       importer.expr(ast.avail, binding, initial=initial),
                                       *requests, *kind, *priority, *width))


def over_last(importer, ref, binding, initial) -> list[Expr]:
    """A reference's values along its last subscript, the others resolved by `binding`."""
    subs = _subscripts(importer, ref, "a vector function")
    return [_at(importer, ref, subs[:-1] + [el], binding, initial)
            for el in importer.subs.values(subs[-1])]


def position(importer, binding: dict[str, str], construct: str) -> Const:
    """Which element of the result is being defined: the place of the defined variable's
    last subscript in its range."""
    from sdmodels.interop.abstract import Unsupported, key_of
    from sdmodels.interop.vensim_subscripts import _TWIN
    dims = importer.dims_of.get(key_of(importer.current), ())
    if not dims or dims[-1] not in binding:
        raise Unsupported(construct.upper().replace("_", " "),
                          "the variable it defines must be subscripted like its result")
    elements = importer.subs.ranges[dims[-1].split(_TWIN)[0]]
    return Const(float(elements.index(binding[dims[-1]])))


def _subscripts(importer, ref, construct: str) -> list[str]:
    from sdmodels.interop.abstract import Unsupported, key_of
    if type(ref).__name__ != "ReferenceStructure" or key_of(ref.reference) not in \
            importer.elements:
        raise Unsupported(construct, "its vector arguments must name subscripted variables")
    if ref.subscripts is not None:
        return [s.rstrip("!") for s in ref.subscripts.subscripts]
    subs = list(importer.dims_of.get(key_of(ref.reference), ()))
    if not subs:
        raise Unsupported(construct, f"'{ref.reference}' is not subscripted")
    return subs


def _at(importer, ref, subs: list[str], binding, initial) -> Expr:
    """The reference with its subscripts replaced by `subs` (element or range names)."""
    from sdmodels.interop.mdl.structures import SubscriptsReferenceStructure
    new = dataclasses.replace(ref, subscripts=SubscriptsReferenceStructure(list(subs)))
    return importer.expr(new, binding, initial=initial)
