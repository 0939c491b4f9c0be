"""Stateful functions into internal elements: the step of `build` after name resolution.

Each stateful kind (sdmodels.expr: Delay1, SmoothN, DelayFixed, ...) expands by its type:
material delays and smooths into chains of internal stocks and flows, TREND into a smooth
and a ratio, pipelines, samplers and rolling windows into one discrete element each.

>>> from sdmodels import Model
>>> from sdmodels.expr import smooth
>>> from sdmodels.ir import build
>>> m = Model("s", stop=4)
>>> x = m.constant("Load", 10)
>>> _ = m.aux("Average", smooth(x, 2))
>>> sorted(v for v in build(m).variables if "~" in v)
['average~smooth.adj1', 'average~smooth.s1']
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

from sdmodels.elements import (DelayInfo, DelayLine, Element, Flow, PerElement, Rolling,
                               SampleHold, SampleIfTrue, Stock, with_fields)
from sdmodels.errors import ModelError
from sdmodels.expr import (Call, Const, DelayFixed, Expr, Index, MaterialDelay, Ref,
                           RollingExtreme, SampleHold as SampleHoldKind,
                           SampleIfTrue as SampleIfTrueKind, Smooth, Smoothing, Stateful,
                           TimeStep, Trend, map_children, transform)
from sdmodels.ir import _kind, expr_dims, expressions, localize, map_expressions, static_value
from sdmodels.model import Model
from sdmodels.operators import Function


@dataclass(frozen=True)
class _Site:
    """Where one stateful call sits: its host element and the base of its internal ids."""
    expander: "_Expander"
    host: Element
    node: Stateful
    number: int
    base: str
    common: dict
    cell: tuple[str, ...] | None = None     # the element a per-element equation defines

    def label(self, what: str) -> str:
        n = self.number
        return f"{self.host.display} ({self.node.fn}{f' #{n}' if n > 1 else ''} {what})"

    def add(self, element: Element) -> str:
        self.expander.new[element.id] = self.expander.known[element.id] = element
        return element.id

    def order(self) -> int:
        """The node's order: fixed by its kind, else its 'order' argument, known before the run."""
        if self.node.order is not None:
            return self.node.order
        expr = self.node.arg("order")
        value = static_value(expr, self.expander.elements)
        if value is None or value < 1 or value != int(value):
            raise ModelError(f"'{self.host.display}': the order of a delay or smooth must be a "
                             f"positive whole number known before the run, got {expr}")
        return int(value)

    def chain(self) -> tuple[int, Expr, Expr]:
        """A delay's or smooth's order, initial value (default: the input) and stage time."""
        order, time = self.order(), self.node.args[1]
        return order, self.node.arg("initial", self.node.args[0]), (
            time / order if order > 1 else time)

    def note(self, order: int | None, ids: tuple[str, ...], out: str) -> Ref:
        node = self.node
        self.expander.delays.append(DelayInfo(self.host.id, node.fn, order, node.args[1],
                                              node.args[0], ids, out))
        return Ref(out)


class _Expander:
    """Turns each Stateful node into internal stocks, flows or discrete elements."""

    def __init__(self, model: Model, elements: dict[str, Element]):
        self.model, self.elements = model, elements
        self.new: dict[str, Element] = {}
        self.known = dict(elements)     # and the new ones, as they are made (one table)
        self.delays: list[DelayInfo] = []
        self.count: dict[str, int] = {}

    def expand(self, host: Element, expr: Expr, cell: tuple[str, ...] | None = None) -> Expr:
        """`expr` with each stateful call replaced by its expansion, innermost first (as
        transform() rebuilds a tree: children first), leaves passed as they are."""
        def go(node: Expr) -> Expr:
            cls = type(node)
            if cls is Ref or cls is Const:
                return node
            node = map_children(node, go)
            return self.one(host, node, cell) if isinstance(node, Stateful) else node
        try:
            return go(expr)
        finally:
            del go      # it refers to itself: a cycle reference counting alone would not free

    def one(self, host: Element, node: Stateful, cell: tuple[str, ...] | None = None) -> Expr:
        n = self.count[host.id] = self.count.get(host.id, 0) + 1
        dims = expr_dims(node, self.known, self.model.dims, host)
        site = _Site(self, host, node, n, f"{host.id}~{node.fn}{n if n > 1 else ''}",
                     dict(dims=dims, module=host.module, origin=host.id), cell)
        return _expand(node, site)


@functools.singledispatch
def _expand(node: Stateful, site: _Site) -> Expr:
    raise ModelError(f"unknown stateful function {node.fn!r} in '{site.host.display}'")


@_expand.register
def _(node: DelayFixed, site: _Site) -> Expr:
    out = site.add(DelayLine(id=site.base, display=site.label("pipeline"), input=node.args[0],
                             delay=node.args[1], initial=node.arg("initial"), **site.common))
    return site.note(None, (out,), out)


@_expand.register
def _(node: SampleHoldKind, site: _Site) -> Expr:
    out = site.add(SampleHold(id=site.base, display=site.label("held value"), input=node.args[0],
                              period=node.args[1], first=node.arg("first"), **site.common))
    return site.note(None, (out,), out)


@_expand.register
def _(node: SampleIfTrueKind, site: _Site) -> Expr:
    # the host's own name (this element of it) in the condition or the input reads the
    # value held so far (vensim.com/documentation/fn_sample_if_true.html: "When the same
    # variable appears on the right it is the previous value"), so it is no same-step
    # loop; every other variable is read at this step's value, so a cycle through another
    # variable stays an algebraic loop (sdmodels.ordering says so)
    host, cell = site.host, site.cell

    def held(ref: Expr):
        if isinstance(ref, Ref) and ref.name == host.id and (cell is None or not host.dims):
            return Ref(site.base)
        if isinstance(ref, Index) and ref.target == Ref(host.id) and cell is not None and \
                tuple(ref.elements) == cell:
            return Ref(site.base)
        return None
    value = node.arg("input")
    out = site.add(SampleIfTrue(id=site.base, display=site.label("held value"),
                                input=transform(value, held),
                                condition=transform(node.arg("condition"), held),
                                initial=node.arg("initial"), **site.common))
    # the loop graph sees what the sampler does: the input where the condition holds, else
    # the value held (its own host); it samples at most once a step
    seen = Call("if_then_else", (node.arg("condition"), value, Ref(host.id)))
    site.expander.delays.append(DelayInfo(host.id, node.fn, None, TimeStep(), seen, (out,), out))
    return Ref(out)


@_expand.register
def _(node: RollingExtreme, site: _Site) -> Expr:
    out = site.add(Rolling(id=site.base, display=site.label("window"), op=node.op,
                           input=node.args[0], window=node.args[1], **site.common))
    return site.note(None, (out,), out)


@_expand.register
def _(node: Trend, site: _Site) -> Expr:
    x, avg_time = node.args[0], node.args[1]
    init_trend = node.arg("initial_trend", Const(0.0))
    average = site.expander.one(site.host, Smooth((x, avg_time, x / (1 + init_trend * avg_time))))
    return Call(Function.ZIDZ, (x - average, average * avg_time))


@_expand.register
def _(node: MaterialDelay, site: _Site) -> Expr:
    x, base = node.args[0], site.base
    order, init, stage_time = site.chain()
    ids = [site.add(Flow(id=f"{base}.in", display=site.label("inflow"), equation=x,
                         into=f"{base}.s1", **site.common))]
    for k in range(1, order + 1):
        stock = site.add(Stock(id=f"{base}.s{k}", display=site.label(f"stage {k} of {order}"),
                               initial=init * stage_time, **site.common))
        out = site.add(Flow(id=f"{base}.out{k}", display=site.label(f"outflow {k} of {order}"),
                            equation=Ref(stock) / stage_time, out_of=stock,
                            into=f"{base}.s{k + 1}" if k < order else None, **site.common))
        ids += [stock, out]
    return site.note(order, tuple(ids), ids[-1])


@_expand.register
def _(node: Smoothing, site: _Site) -> Expr:
    x, base = node.args[0], site.base
    order, init, stage_time = site.chain()
    ids, upstream = [], x
    for k in range(1, order + 1):
        stock = site.add(Stock(id=f"{base}.s{k}", display=site.label(f"stage {k} of {order}"),
                               initial=init, **site.common))
        flow = site.add(Flow(id=f"{base}.adj{k}", display=site.label(f"adjustment {k} of {order}"),
                             equation=(upstream - Ref(stock)) / stage_time, into=stock,
                             **site.common))
        ids += [stock, flow]
        upstream = Ref(stock)
    return site.note(order, tuple(ids), ids[-2])


def expand_stateful(model: Model, elements: dict[str, Element]):
    """The elements with every stateful call expanded, and the DelayInfo of each call.

    An element with no stateful call is kept as it is (most of a model: one walk of its
    trees, no copy)."""
    expander = _Expander(model, elements)
    out = {}
    for eid, element in elements.items():
        found = set()       # ids of the element's expressions that hold a call
        for key, e in expressions(element):
            if _has_stateful(e):
                if key == "initial":
                    raise ModelError(f"{_kind(element)} '{element.display}': its initial "
                                     "value uses a delay or smooth; compute that in an "
                                     "auxiliary instead")
                found.add(id(e))
        if found and isinstance(element.__dict__.get("equation"), PerElement):
            items = []      # an element's own references pinned where a call is expanded
            for key, expr in element.equation.items:
                if id(expr) in found:
                    local = localize(expr, dict(zip(element.dims, key)), elements, model.dims)
                    expr = expander.expand(element, local, key)
                items.append((key, expr))
            out[eid] = with_fields(element, equation=PerElement(tuple(items)))
        elif found:
            out[eid] = map_expressions(element, lambda _k, e, el=element: expander.expand(el, e))
        else:
            out[eid] = element
    out.update(expander.new)
    return out, expander.delays


def _has_stateful(expr: Expr) -> bool:
    """Whether a tree holds a stateful call (a loop over its nodes, leaves skipped)."""
    stack = [expr]
    seen = set()            # an object the tree holds twice is looked at once
    while stack:
        node = stack.pop()
        cls = type(node)
        if cls is Ref or cls is Const or id(node) in seen:
            continue
        if isinstance(node, Stateful):
            return True
        seen.add(id(node))
        stack.extend(node.children())
    return False
