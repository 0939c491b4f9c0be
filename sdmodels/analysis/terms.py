"""An equation as a sum of signed products, so that terms sharing factors can be grouped.

Link polarity reads a sign from each operand of ``+`` and ``-`` separately, which fails when
the same factor appears in terms of both signs: in ``s - s * d`` (with d in [0, 1]) the two
terms pull the opposite ways although together they are ``s * (1 - d)``, as monotone as s.
Expanding the tree into monomials (integer coefficient times a product of factors, a factor
being any node that is not ``+``, ``-``, ``*`` or a negation), cancelling equal monomials
and taking out the factors every term shares recovers that form, so the rules can judge
``s * (1 - d)`` instead.

>>> from sdmodels.expr import Binary, Ref
>>> s, d = Ref("s"), Ref("d")
>>> terms = monomials(Binary("-", s, Binary("*", s, d)))
>>> terms
[(1, (Ref(name='s'),)), (-1, (Ref(name='d'), Ref(name='s')))]
>>> common, rests = factor_out(terms)
>>> common, total(rests)
((Ref(name='s'),), Binary(op='-', left=Const(value=1.0), right=Ref(name='d')))
"""
from __future__ import annotations

from collections import Counter

from sdmodels.expr import Binary, Call, Const, Expr, Unary, walk

Monomial = tuple[int, tuple[Expr, ...]]     # coefficient, factors in a canonical order

#: expansions with more terms are not attempted (products of sums grow multiplicatively)
MAX_TERMS = 64


def monomials(e: Expr, limit: int = MAX_TERMS) -> list[Monomial] | None:
    """`e` as a list of (coefficient, factors), equal monomials merged and zero ones
    dropped; None when the expansion would have more than `limit` terms."""
    raw = _expand(e, limit)
    if raw is None:
        return None
    merged: dict[tuple[Expr, ...], int] = {}
    for n, factors in raw:
        merged[factors] = merged.get(factors, 0) + n
    return [(n, f) for f, n in merged.items() if n != 0]


def _expand(e: Expr, limit: int) -> list[Monomial] | None:
    if isinstance(e, Const) and e.value in (1.0, -1.0):
        return [(int(e.value), ())]
    if isinstance(e, Unary) and e.op == "-":
        inner = _expand(e.operand, limit)
        return None if inner is None else [(-n, f) for n, f in inner]
    if isinstance(e, Binary) and e.op in ("+", "-", "*"):
        a, b = _expand(e.left, limit), _expand(e.right, limit)
        if a is None or b is None:
            return None
        if e.op == "+":
            out = a + b
        elif e.op == "-":
            out = a + [(-n, f) for n, f in b]
        else:
            out = [(m * n, _order(f + g)) for m, f in a for n, g in b]
        return out if len(out) <= limit else None
    return [(1, (e,))]


def _order(factors: tuple[Expr, ...]) -> tuple[Expr, ...]:
    """A canonical order of factors, so that equal products compare equal."""
    return tuple(sorted(factors, key=repr))


def product(factors: tuple[Expr, ...]) -> Expr:
    """The product of `factors` as a tree (1 for none)."""
    if not factors:
        return Const(1.0)
    out = factors[0]
    for f in factors[1:]:
        out = Binary("*", out, f)
    return out


def total(terms: list[Monomial]) -> Expr:
    """The sum of `terms` as a tree (0 for none)."""
    out: Expr | None = None
    for n, factors in terms:
        body = product(factors if abs(n) == 1 else (Const(float(abs(n))),) + factors)
        if out is None:
            out = body if n > 0 else Unary("-", body)
        else:
            out = Binary("+" if n > 0 else "-", out, body)
    return Const(0.0) if out is None else out


def factored(terms: list[Monomial]) -> Expr:
    """The sum of `terms` with shared factors taken out, greedily: the factor most terms
    have first (ties by text), then within each part, so ``c + h*k - h*k*d`` becomes
    ``k * (h * (1 - d)) + c``. The same value as `total(terms)`; interval arithmetic on
    it is sharper, as each shared factor is counted once.

    >>> from sdmodels.expr import Ref
    >>> from sdmodels.analysis.graph import expr_text
    >>> c, h, k, d = (Ref(x) for x in "chkd")
    >>> expr_text(factored([(1, (c,)), (1, (h, k)), (-1, (d, h, k))]))
    'k * (h * (1 - d)) + c'
    """
    count = Counter(f for _, factors in terms for f in set(factors))
    shared = [f for f, n in count.items() if n >= 2]
    if len(terms) < 2 or not shared:
        return total(terms)
    best = max(shared, key=lambda f: (count[f], repr(f)))
    inside, outside = [], []
    for n, factors in terms:
        if best in factors:
            rest = list(factors)
            rest.remove(best)
            inside.append((n, tuple(rest)))
        else:
            outside.append((n, factors))
    out = Binary("*", best, factored(inside))
    return Binary("+", out, factored(outside)) if outside else out


def cases(terms: list[Monomial]) -> list[Expr] | None:
    """A sum over the states of a coded variable, one case at a time: when terms carry
    indicators ``x = c`` of one x with different constants c (a state machine's mode),
    at most one indicator is 1, so the sum is one of: the terms without an indicator
    alone, or those plus the terms of one c (their indicator dropped). None when no x has
    two such constants or a term has two indicators of it.

    >>> from sdmodels.expr import Ref
    >>> from sdmodels.analysis.graph import expr_text
    >>> m, k, d = Ref("mode"), Ref("k"), Ref("d")
    >>> is_ = lambda c: Binary("=", m, Const(c))
    >>> [expr_text(e) for e in cases([(1, (is_(0.0),)), (1, (is_(2.0), k)),
    ...                               (-1, (d, is_(2.0), k))])]
    ['0', '1', 'k * (1 - d)']
    """
    indicators: dict[Expr, set[float]] = {}
    for _, factors in terms:
        for f in factors:
            if isinstance(f, Binary) and f.op == "=" and isinstance(f.right, Const):
                indicators.setdefault(f.left, set()).add(f.right.value)
    for x, values in sorted(indicators.items(), key=lambda kv: repr(kv[0])):
        if len(values) < 2:
            continue
        none, by_value = [], {v: [] for v in sorted(values)}
        for n, factors in terms:
            marks = [f for f in factors if isinstance(f, Binary) and f.op == "="
                     and f.left == x and isinstance(f.right, Const)]
            if len(marks) > 1:
                break
            if not marks:
                none.append((n, factors))
                continue
            rest = list(factors)
            rest.remove(marks[0])
            by_value[marks[0].right.value].append((n, tuple(rest)))
        else:
            return [factored(none)] + [factored(none + part) for part in by_value.values()]
    return None


def factor_out(terms: list[Monomial]) -> tuple[tuple[Expr, ...], list[Monomial]]:
    """The factors every term has (with multiplicity) and what is left of each term."""
    if not terms:
        return (), []
    shared = Counter(terms[0][1])
    for _, factors in terms[1:]:
        shared &= Counter(factors)
    common = _order(tuple(shared.elements()))
    rests = []
    for n, factors in terms:
        left = Counter(factors)
        left.subtract(shared)
        rests.append((n, _order(tuple(left.elements()))))
    return common, rests


# --------------------------------------------------------------------------- sign rules
def grouped_value(structure, e: Expr) -> frozenset:
    """The signs of a sum with the factors all its terms share taken out: ``s - s * d`` as
    ``s * (1 - d)``; `structure` (a `sdmodels.analysis.sign_rules.Structure`) signs the parts.
    Every sign when nothing is shared."""
    any_sign = frozenset((-1, 0, 1))
    terms = monomials(e)
    if terms is None or e in structure._regrouping:
        return any_sign
    common, rests = factor_out(terms)
    if not common:
        return any_sign
    structure._regrouping.add(e)
    try:
        return _times(structure, common, rests)
    finally:
        structure._regrouping.discard(e)


def grouped_slope(structure, e: Expr, wrt: str) -> int | None:
    """The slope of a sum of products with the terms that share the factors moved by `wrt`
    added first: in ``c * s - c * s * d`` (s rising with wrt, c >= 0, d in [0, 1], neither
    moved by wrt) the terms pull apart, ``c * (1 - d) * s`` rises with wrt. None when no
    two terms share what wrt moves, or a group cannot be signed."""
    from sdmodels.analysis.sign_rules import combine, scaled
    terms = monomials(e)
    if terms is None or len(terms) < 2 or e in structure._regrouping:
        return None
    groups: dict[tuple, list] = {}
    for n, factors in terms:
        moved = tuple(f for f in factors if structure.slope(f, wrt) != 0)
        fixed = tuple(f for f in factors if structure.slope(f, wrt) == 0)
        groups.setdefault(moved, []).append((n, fixed))
    if len(groups) == len(terms):
        return None
    structure._regrouping.add(e)
    try:
        out: int | None = 0
        for moved, rest in groups.items():
            if moved:
                common, rests = factor_out(rest)
                out = combine(out, scaled(structure.slope(product(moved), wrt),
                                          _times(structure, common, rests)))
                if out is None:
                    break
        return out
    finally:
        structure._regrouping.discard(e)


def _times(structure, common: tuple[Expr, ...], rests: list[Monomial]) -> frozenset:
    """The signs of product(common) * total(rests)."""
    out = structure.value(total(rests))
    for f in common:
        out = frozenset(x * y for x in out for y in structure.value(f))
    return out


def division_guard(e: Call, ranges) -> bool:
    """Whether an if_then_else is a guard against dividing by zero, ``if x > c then
    a / f(x) else 0`` where x never goes below c (`ranges`, a
    `sdmodels.analysis.intervals.Ranges`, says so), as ``if x > 0 then a / max(x, eps)
    else 0`` for x >= 0: zidz(a, x) written out. It is signed as zidz is, by the quotient:
    the 0 is the value at the one edge point of x's range where the quotient is not
    defined, not a response to x."""
    cond, then, other = e.args
    if not (isinstance(other, Const) and other.value == 0.0 and isinstance(cond, Binary)
            and isinstance(then, Binary) and then.op == "/"):
        return False
    if cond.op == ">" and isinstance(cond.right, Const):
        x, c = cond.left, cond.right.value
    elif cond.op == "<" and isinstance(cond.left, Const):
        x, c = cond.right, cond.left.value
    else:
        return False
    return ranges.of(x)[0] >= c and any(node == x for node in walk(then.right))
