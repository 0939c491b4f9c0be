"""Element-level ordering: arrays whose elements depend on each other in a chain.

Vensim orders equations by element: `ce[t2] = ecc[t1] + 1` with `ecc[t2] = ce[t2] + 1` is no
loop, although the variables `ce` and `ecc` read each other. When the variable-level order
finds a cycle, `split_elements` writes every arrayed variable of the cycle as one scalar
variable per element (display `ecc[t2]`, the column name it would have had) and every
reference to them as a reference to one element; if that graph is still cyclic, the cycle is
real and the caller reports the variable-level one.

>>> from sdmodels import Model, Dim, build
>>> m = Model("chain", stop=1)
>>> t = m.dim("t", ["t1", "t2"])
>>> _ = m.aux("a", {"t1": 1, "t2": "b[t1] + 1"}, dims=[t])
>>> _ = m.aux("b", {"t1": "a[t1] * 10", "t2": "a[t2] * 10"}, dims=[t])
>>> build(m).eval_order
('a[t1]', 'b[t1]', 'a[t2]', 'b[t2]')
"""
from __future__ import annotations

import itertools
from dataclasses import replace

import networkx as nx

from sdmodels.elements import Aux, Element, Flow, PerElement, Stock
from sdmodels.expr import Binary, Call, Const, Expr, Index, Reduce, Ref, map_children
from sdmodels.operators import BinaryOp, Function, ReduceOp

_SPLITTABLE = (Aux, Stock, Flow)
_FIELDS = ("initial", "equation")
_REDUCE = {ReduceOp.SUM: BinaryOp.ADD, ReduceOp.PROD: BinaryOp.MUL}


def _cyclic(graph: nx.DiGraph) -> set[str]:
    """Variables on a cycle of the instant or the start-value links."""
    out: set[str] = set()
    for keys in (("instant",), ("instant", "initial")):   # per step; at the start
        sub = nx.DiGraph((u, v) for u, v, d in graph.edges(data=True)
                         if any(d.get(k) for k in keys) and "flow" not in d)
        for comp in nx.strongly_connected_components(sub):
            if len(comp) > 1 or any(sub.has_edge(c, c) for c in comp):
                out |= comp
    return out


def split_elements(model, elements: dict[str, Element], graph: nx.DiGraph
                   ) -> dict[str, Element] | None:
    """The elements with the arrays on a cycle written element by element, or None when
    that cannot remove the cycle (no arrayed variable on it, or a kind we do not split)."""
    from sdmodels.ir import localize
    split = {v for v in _cyclic(graph) if elements[v].dims}
    if not split:
        return None
    grow = True
    while grow:     # a split stock takes its flows along, and a split flow its stocks
        grow = False
        for e in list(elements.values()):
            linked = {e.id} | ({*e.inflows, *e.outflows} if isinstance(e, Stock) else set())
            if isinstance(e, Flow):
                linked |= {x for x in (e.into, e.out_of) if x}
            if linked & split and not linked <= split:
                split |= linked
                grow = True
    if any(not isinstance(elements[v], _SPLITTABLE) for v in split):
        return None
    cells = {v: list(itertools.product(*(model.dims[d].elements for d in elements[v].dims)))
             for v in split}
    names = {(v, c): _cell_id(v, c) for v in split for c in cells[v]}

    def rewrite(expr: Expr, binding) -> Expr | None:
        expr = localize(expr, binding, elements, model.dims)
        return _pin(expr, names, elements, model.dims)

    out: dict[str, Element] = {}
    for vid, e in elements.items():
        if vid not in split:
            new = _rewritten(e, model, rewrite, names)
            if new is None:
                return None
            out[vid] = new
            continue
        for combo in cells[vid]:
            binding = dict(zip(e.dims, combo))
            changes = {}
            for key in _FIELDS:
                value = getattr(e, key, None)
                if isinstance(value, PerElement):
                    value = value.as_dict()[combo]
                if isinstance(value, Expr):
                    changes[key] = rewrite(value, binding)
                    if changes[key] is None:
                        return None
            for key in ("into", "out_of"):
                if getattr(e, key, None):
                    changes[key] = names[(getattr(e, key), combo)]
            if isinstance(e, Stock):
                changes.update(inflows=(), outflows=())
            cid = names[(vid, combo)]
            out[cid] = replace(e, id=cid, display=f"{e.display}[{','.join(combo)}]", dims=(),
                               **changes)
    return {k: (replace(v, origin=names.get((v.origin, cells[v.origin][0]), v.origin))
                if v.origin in split else v) for k, v in out.items()}


def by_element(model, elements: dict[str, Element], graph: nx.DiGraph, loop: Exception):
    """The arrays on a cycle split element by element with their new graph, when that orders
    them; else the variable-level cycle `loop` is real and raised as it is."""
    from sdmodels.errors import AlgebraicLoopError
    from sdmodels.ir import _attach_flows, _dependency_graph
    from sdmodels.ordering import orders
    split = split_elements(model, elements, graph)
    if split is None:
        raise loop
    split = _attach_flows(model, split)
    new_graph = _dependency_graph(split)
    try:
        orders(model, split, new_graph)
    except AlgebraicLoopError:
        raise loop from None
    return split, new_graph


def _cell_id(vid: str, combo: tuple[str, ...]) -> str:
    from sdmodels.elements import canonical
    return canonical(f"{vid}[{','.join(combo)}]")


def _rewritten(e: Element, model, rewrite, names) -> Element | None:
    """A variable kept whole, its references to split arrays pinned to elements."""
    split_ids = {v for v, _c in names}
    changes = {}
    for key in _FIELDS + ("input", "delay", "period", "first", "window"):
        value = getattr(e, key, None)
        exprs = value.items if isinstance(value, PerElement) else \
            ((None, value),) if isinstance(value, Expr) else ()
        if not any(_reads(x, split_ids) for _c, x in exprs):
            continue
        combos = list(itertools.product(*(model.dims[d].elements for d in e.dims)))
        per = value.as_dict() if isinstance(value, PerElement) else {c: value for c in combos}
        fixed = {c: rewrite(per[c], dict(zip(e.dims, c))) for c in combos}
        if any(x is None for x in fixed.values()):
            return None
        changes[key] = fixed[()] if not e.dims else PerElement(tuple(fixed.items()))
    return replace(e, **changes) if changes else e


def _reads(expr: Expr, ids: set[str]) -> bool:
    from sdmodels.expr import walk
    return any(isinstance(n, Ref) and n.name in ids for n in walk(expr))


def _pin(expr: Expr, names, elements, dims) -> Expr | None:
    """Index(x, elements) of a split x -> Ref(x[elements]); reductions over a split x written
    out; None if a split x is still read whole."""
    from sdmodels.ir import localize
    split = {v for v, _c in names}
    failed = []

    def go(node: Expr) -> Expr:
        if isinstance(node, Reduce) and _reads(node.operand, split):
            terms = [go(localize(node.operand, {node.dim: el}, elements, dims))
                     for el in dims[node.dim].elements]
            if node.op in _REDUCE:
                out = terms[0]
                for t in terms[1:]:
                    out = Binary(_REDUCE[node.op], out, t)
                return out
            if node.op == "mean":
                total = terms[0]
                for t in terms[1:]:
                    total = Binary(BinaryOp.ADD, total, t)
                return Binary(BinaryOp.DIV, total, Const(float(len(terms))))
            out = terms[0]
            for t in terms[1:]:
                out = Call(Function(node.op), (out, t))     # min or max
            return out
        if isinstance(node, Index) and isinstance(node.target, Ref) and node.target.name in split:
            key = (node.target.name, tuple(node.elements))
            if key in names:
                return Ref(names[key])
            failed.append(node)
            return node
        if isinstance(node, Ref) and node.name in split:
            failed.append(node)
            return node
        return map_children(node, go)
    out = go(expr)
    return None if failed else out
