"""Shared subexpressions of an XMILE export, written once as auxiliaries of their own.

An expression tree of the IR may hold the same subtree many times (the server part's unrolled
Erlang recursion reads the whole server count and the load at each of its 64 levels; the
writer also spells FLOOR's argument five times). Written out as text, such a tree grows with
the product of its repeats: the server part's Erlang C was one 147,000-character equation,
74 parentheses deep, over the length and nesting limits of readers. Here the trees of the
scalar equations are numbered by structure (hash-consing: structurally equal subtrees get
one number), each number counts the places that write it, and a repeated subexpression whose
repeats would take `MIN_SHARED` characters or more (and which is `MIN_PART` long at least)
becomes an auxiliary of its own, read where it was written; so does a part nested more than
`MAX_NESTING` levels deep (a long recursion is cut into a chain of parts). The text of an
export then grows with the number of distinct subexpressions, not with the expanded tree.
Bottom-up, so an inner repeat (the server count) is named before an outer one (a level) is
measured: small outer repeats then stay inline.

Exact: an auxiliary evaluated at the same time from the same inputs has the same value.
Subtrees with state or random draws (stateful functions, random_*) are never shared (two
draws are not one), nor are reductions, arrayed equations, or anything inside them (their
text depends on the element being summed or written).

>>> from sdmodels import Model, maximum
>>> m = Model("s", stop=1)
>>> w = m.constant("Workers with a rather long name for the example", 4)
>>> big = maximum(w * 2 + 1, w / 3 - 1)
>>> _ = m.aux("Twice", big * big)
>>> from sdmodels.interop import to_xmile
>>> text = to_xmile(m)
>>> "<aux name=\\"Twice_part_1\\">" in text and "<eqn>Twice_part_1 * Twice_part_1</eqn>" in text
True
"""
from __future__ import annotations

import dataclasses

from sdmodels.elements import Aux, Flow, Stock
from sdmodels.expr import (Binary, Call, Expr, LookupCall, Reduce, Stateful, Unary,
                           map_children)

MIN_SHARED = 80   # characters: a part is written once when its repeats would take this many
MIN_PART = 24     # characters: and it is at least this long (short repeats read best inline)
MAX_NESTING = 30  # levels: a part nested deeper is written apart (readers stop at 50)
# arguments the writer spells out several times (export.py: _floor and the IF forms)
_COPIES = {"floor": 5, "ceil": 5, "round": 5, "integer": 3, "modulo": 6, "xidz": 2,
           "zidz": 2, "pulse": 2, "ramp": 3}
_SHAREABLE = (Unary, Binary, Call, LookupCall)
_OPAQUE = (Stateful, Reduce)      # neither shared nor looked into


def _kids(e: Expr) -> list[Expr]:
    """The direct sub-expressions in the order `map_children` visits them."""
    out = []
    for f in dataclasses.fields(e):
        value = getattr(e, f.name)
        if isinstance(value, Expr):
            out.append(value)
        elif isinstance(value, tuple):
            out += [a for a in value if isinstance(a, Expr)]
    return out


def _literal(e: Expr) -> tuple:
    """The fields of a node that are not sub-expressions (operator, function, name, elements)."""
    out = []
    for f in dataclasses.fields(e):
        value = getattr(e, f.name)
        if isinstance(value, tuple):
            out.append(tuple(a for a in value if not isinstance(a, Expr)))
        elif not isinstance(value, Expr):
            out.append(value)
    return tuple(out)


class _Numbering:
    """Structure -> number for every subtree; uses, purity and first host of each number."""

    def __init__(self):
        self.by_key: dict[tuple, int] = {}
        self.by_id: dict[int, int] = {}
        self.nodes: list[Expr] = []
        self.kids: list[tuple[int, ...]] = []
        self.uses: list[int] = []
        self.pure: list[bool] = []
        self.host: list[str] = []

    def number(self, e: Expr, host: str) -> int:
        """The number of `e` (new numbers in post-order: children before parents)."""
        known = self.by_id.get(id(e))
        if known is not None:
            return known
        opaque = isinstance(e, _OPAQUE)
        kids = () if opaque else tuple(self.number(k, host) for k in _kids(e))
        key = ("opaque", e) if opaque else (type(e), _literal(e), kids)
        vn = self.by_key.get(key)
        if vn is None:
            vn = self.by_key[key] = len(self.nodes)
            copies = _COPIES.get(e.fn, 1) if isinstance(e, Call) else 1
            for k in kids:
                self.uses[k] += copies
            random = isinstance(e, Call) and e.fn.startswith("random")
            self.nodes.append(e)
            self.kids.append(kids)
            self.uses.append(0)
            self.pure.append(not opaque and not random and all(self.pure[k] for k in kids))
            self.host.append(host)
        self.by_id[id(e)] = vn
        return vn


def _equations(e):
    """(field, expression) of an element that sharing may rewrite: scalar equations only."""
    if e.dims:
        return []
    names = {Stock: ("initial",), Flow: ("equation",), Aux: ("equation", "initial")}
    fields = next((f for kind, f in names.items() if isinstance(e, kind)), ())
    return [(f, getattr(e, f)) for f in fields if isinstance(getattr(e, f), Expr)]


def share(writer, elements: list) -> list:
    """`elements` with repeated long or deeply nested subexpressions moved into new
    auxiliaries (see the module doc); `writer` (export._Writer) measures their text and
    names them (`writer.add`)."""
    numbering, roots = _Numbering(), []
    for e in elements:
        for field, expr in _equations(e):
            vn = numbering.number(expr, writer.names[e.id])
            numbering.uses[vn] += 1
            roots.append((e, field, vn))
    parts = _Parts(writer, numbering)
    for vn in range(len(numbering.nodes)):
        parts.visit(vn)
    if not parts.added:
        return list(elements)
    changed: dict[str, dict] = {}
    for e, field, vn in roots:
        changed.setdefault(e.id, {})[field] = parts.rebuilt[vn]
    return [dataclasses.replace(e, **changed[e.id]) if e.id in changed else e
            for e in elements] + parts.added


class _Parts:
    """Bottom-up over the numbers: each one's tree with its named parts read by name."""

    def __init__(self, writer, numbering: _Numbering):
        self.writer, self.numbering = writer, numbering
        self.rebuilt: list[Expr] = []
        self.nest: list[int] = []           # nesting of its text, estimated from above
        self.named: dict[int, Expr] = {}
        self.count: dict[str, int] = {}
        self.added: list[Aux] = []

    def visit(self, vn: int) -> None:
        nb, node = self.numbering, self.numbering.nodes[vn]
        if isinstance(node, _OPAQUE):
            self.rebuilt.append(node)
            self.nest.append(1)
            return
        weight = _nesting(node)
        for k in nb.kids[vn]:        # a part that would nest too deep inside this node
            if k not in self.named and self.nest[k] + weight > MAX_NESTING:
                self.name(k)
        kids = iter(nb.kids[vn])
        here = map_children(node, lambda _child: self.written(next(kids)))
        self.rebuilt.append(here)
        self.nest.append(weight + max((0 if k in self.named else self.nest[k]
                                       for k in nb.kids[vn]), default=0))
        if nb.uses[vn] >= 2 and self.shareable(vn):   # (measuring writes no sampler)
            size = len(self.writer.expr(here, nb.host[vn]))
            if size >= MIN_PART and size * (nb.uses[vn] - 1) >= MIN_SHARED:
                self.name(vn)

    def shareable(self, vn: int) -> bool:
        """Pure (no state, no random draw, nothing opaque inside) and not a leaf."""
        return self.numbering.pure[vn] and isinstance(self.numbering.nodes[vn], _SHAREABLE)

    def written(self, k: int) -> Expr:
        return self.named.get(k, self.rebuilt[k])

    def name(self, vn: int) -> None:
        """Write number `vn` as an auxiliary of its own (when it can be: pure, not a leaf)."""
        nb = self.numbering
        if not self.shareable(vn):
            return
        host = nb.host[vn]
        k = self.count[host] = self.count.get(host, 0) + 1
        aux = self.writer.add(Aux(
            id=f"{host}~part{k}", display=f"{host}_part_{k}", equation=self.rebuilt[vn],
            doc=f"a part of {host}, written apart (read there several times, or nested deep)"))
        self.added.append(aux)
        self.named[vn] = self.writer.ref(aux)


def _nesting(node: Expr) -> int:
    """Levels of parentheses, calls and signs that a node adds around its arguments, at
    most (FLOOR and the IF forms wrap theirs in INT(-(...)))."""
    if isinstance(node, Call):
        return 3 if node.fn in _COPIES else 1
    return 2 if isinstance(node, (Unary, LookupCall)) else 1
