"""build(model) -> ModelIR: resolved names, expanded stateful functions, validated structure.

>>> from sdmodels import Model
>>> m = Model("decay", stop=10)
>>> s = m.stock("Amount", initial=100)
>>> _ = m.flow("Outflow", s / m.constant("Lifetime", 5), out_of=s)
>>> ir = build(m)
>>> ir.eval_order
('outflow',)
>>> sorted(ir.graph.edges)
[('amount', 'outflow'), ('lifetime', 'outflow'), ('outflow', 'amount')]
"""
from __future__ import annotations

import dataclasses
import functools
import math
import warnings
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

import networkx as nx

from sdmodels.elements import (Aux, Constant, DelayInfo, DelayLine, Dim, Element, Flow, Lookup,
                               NamedLoop, PerElement, Rolling, SampleHold, SampleIfTrue,
                               Scenario, Schedule, Stock, canonical, with_fields)
from sdmodels.errors import (AlgebraicLoopError, DimensionError, ModelError, ModelWarning,
                             UnknownNameError, did_you_mean, not_a_model)
from sdmodels.expr import (Binary, Const, Expr, Index, LookupCall, Reduce, Ref, Unary,
                           map_children, references)
from sdmodels.limits import check_model_size
from sdmodels.model import Model
from sdmodels.ordering import orders

_EXPR_FIELDS = ("initial", "equation", "input", "delay", "period", "first", "window",
                "condition", "steps")
# fields read only when a run starts (not every step): they make no same-step dependency
_INIT_ONLY = {DelayLine: ("delay", "initial"), Schedule: ("delay", "initial"), SampleHold: ("period", "first"),
              SampleIfTrue: ("initial",), Rolling: ("window",), Stock: ("initial",),
              Aux: ("initial",)}


@dataclass(frozen=True)
class ModelIR:
    """The validated, immutable form of a model that every later stage reads."""
    name: str
    start: float
    stop: float
    dt: float
    saveper: float
    time_units: str
    dims: Mapping[str, Dim]
    variables: Mapping[str, Element]
    eval_order: tuple[str, ...]       # computed every step, in this order
    init_order: tuple[str, ...]       # computed once at the start, in this order
    graph: nx.DiGraph = field(compare=False, repr=False)
    delays: tuple[DelayInfo, ...] = ()
    loop_names: tuple[NamedLoop, ...] = ()
    scenarios: Mapping[str, Scenario] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    doc: str = ""

    def id_of(self, name: str, role: str = "name") -> str:
        """The canonical id for a display name or id; UnknownNameError with a suggestion."""
        key = canonical(name)
        if key in self.variables:
            return key
        shown = [v.display for v in self.variables.values() if not v.internal]
        raise UnknownNameError(f"{role} '{name}' is not defined in model '{self.name}'."
                               f"{did_you_mean(name, shown)}")

    def display(self, var_id: str) -> str:
        return self.variables[var_id].display

    def of_kind(self, kind) -> list[Element]:
        """Variables of one element class, in definition order."""
        return [v for v in self.variables.values() if isinstance(v, kind)]


def build(model: Model) -> ModelIR:
    """Validate `model` and return its IR; raises one clear ModelError per problem."""
    if isinstance(model, ModelIR):
        return model
    if not isinstance(model, Model):
        raise not_a_model("build()", "a Model", model)
    if not model.elements:
        raise ModelError(f"model '{model.name}' has no elements; add stocks, flows or auxiliaries")
    check_model_size(model)
    elements = _resolve(model)
    from sdmodels.expand import expand_stateful   # it builds on this module
    elements, delays = expand_stateful(model, elements)
    elements = _attach_flows(model, elements)
    _check_values(model, elements)
    _check_windows(model, elements)
    _check_dims(model, elements)
    graph = _dependency_graph(elements)
    try:
        eval_order, init_order, elements, limit_note = orders(model, elements, graph)
    except AlgebraicLoopError as loop:   # maybe ordered element by element (Vensim)
        from sdmodels.elementwise import by_element
        elements, graph = by_element(model, elements, graph, loop)
        eval_order, init_order, elements, limit_note = orders(model, elements, graph)
    notes = _time_warnings(model, elements, delays) + limit_note
    for note in notes:
        warnings.warn(note, ModelWarning, stacklevel=2)
    return ModelIR(
        name=model.name, start=model.start, stop=model.stop, dt=model.dt, saveper=model.saveper,
        time_units=model.time_units, dims=MappingProxyType(dict(model.dims)),
        variables=MappingProxyType(elements), eval_order=eval_order, init_order=init_order,
        graph=graph, delays=tuple(delays),
        loop_names=tuple(NamedLoop(n.name, tuple(canonical(v) for v in n.variables))
                         for n in model.loop_names),
        scenarios=MappingProxyType(dict(model.scenarios)), warnings=tuple(notes), doc=model.doc)


# --------------------------------------------------------------------------- resolution
def _kind(element: Element) -> str:
    return type(element).__name__.lower().replace("aux", "auxiliary")


@functools.cache
def _expr_fields(cls: type) -> tuple[str, ...]:
    """The fields of `_EXPR_FIELDS` an element class has, in that order, found once per class
    (`expressions` runs about a thousand times a build)."""
    names = {f.name for f in dataclasses.fields(cls)}
    return tuple(key for key in _EXPR_FIELDS if key in names)


def expressions(element: Element) -> list[tuple[str, Expr]]:
    """All (field, expression) pairs an element holds, per-element equations flattened."""
    out = []
    for key in _expr_fields(type(element)):
        value = getattr(element, key)
        if isinstance(value, Expr):
            out.append((key, value))
        elif isinstance(value, PerElement):
            out.extend([(key, e) for _, e in value.items])
    return out


def map_expressions(element: Element, fn) -> Element:
    """A copy of `element` with `fn(field, expr)` applied to each expression it holds."""
    changes = {}
    for key in _expr_fields(type(element)):
        value = getattr(element, key)
        if isinstance(value, Expr):
            changes[key] = fn(key, value)
        elif isinstance(value, PerElement):
            changes[key] = PerElement(tuple((k, fn(key, e)) for k, e in value.items))
    return with_fields(element, **changes) if changes else element


def _resolve(model: Model) -> dict[str, Element]:
    elements = dict(model.elements)
    found: dict[str, Element] = {}     # name as written -> element: canonical() once a name
    by_id = True                       # so far every reference named an element by its id
    seen: set[int] = set()             # nodes `resolved` walked (all fine while by_id holds)

    def lookup(name: str, user: Element) -> Element:
        target = found.get(name)
        if target is not None:
            return target
        key = canonical(name)
        if key not in elements:
            shown = [e.display for e in elements.values()]
            raise UnknownNameError(
                f"{_kind(user)} '{user.display}' uses '{name}', which is not defined in model "
                f"'{model.name}'.{did_you_mean(name, shown)}")
        found[name] = elements[key]
        return found[name]

    def resolve(element: Element):
        def fix(node: Expr) -> Expr:     # bottom-up, as transform(): children first
            if isinstance(node, Ref):
                target = lookup(node.name, element)
                if isinstance(target, Lookup):
                    raise ModelError(f"{_kind(element)} '{element.display}' uses lookup "
                                     f"'{target.display}' without an argument; write "
                                     f"{target.display}(x)")
                return node if node.name == target.id else Ref(target.id)
            if isinstance(node, LookupCall):
                arg = fix(node.arg)
                target = lookup(node.table, element)
                if not isinstance(target, Lookup):
                    raise ModelError(f"{_kind(element)} '{element.display}' calls "
                                     f"'{target.display}' like a function, but it is a "
                                     f"{_kind(target)}, not a lookup")
                if arg is node.arg and node.table == target.id:
                    return node      # already resolved: the subtree stays shared
                return LookupCall(target.id, arg)
            return map_children(node, fix) if node.children() else node
        nonlocal by_id
        try:
            if by_id:
                if all(resolved(expr) for _key, expr in expressions(element)):
                    return element
                by_id = False   # names as written (an imported model): no more walks first
            return map_expressions(element, lambda _key, expr: fix(expr))
        finally:
            del fix     # it refers to itself: a cycle (one an element) left to the collector

    def resolved(expr: Expr) -> bool:
        """Whether every reference already names a fitting element by its id (the DSL's own
        references, ids being canonical): then `fix` would give the same tree back, and the
        cheaper walk spares rebuilding it; anything else takes `fix`, with its messages."""
        stack = [expr]
        while stack:
            node = stack.pop()
            if isinstance(node, Ref):
                target = elements.get(node.name)
                if type(node) is not Ref or target is None or target.id != node.name or \
                        isinstance(target, Lookup):
                    return False
                continue
            if type(node) is Const or id(node) in seen:
                continue
            seen.add(id(node))
            if isinstance(node, LookupCall):
                target = elements.get(node.table)
                if not isinstance(target, Lookup) or target.id != node.table:
                    return False
            stack.extend(node.children())
        return True

    return {eid: resolve(e) for eid, e in elements.items()}


def _attach_flows(model: Model, elements: dict[str, Element]) -> dict[str, Element]:
    inflows: dict[str, list[str]] = {}
    outflows: dict[str, list[str]] = {}
    for flow in (e for e in elements.values() if isinstance(e, Flow)):
        for attr, table, verb in (("into", inflows, "fills"), ("out_of", outflows, "drains")):
            name = getattr(flow, attr)
            if name is None:
                continue
            target = elements.get(canonical(name))
            if target is None:
                raise UnknownNameError(
                    f"flow '{flow.display}' {verb} '{name}', which is not defined in model "
                    f"'{model.name}'.{did_you_mean(name, [e.display for e in elements.values()])}")
            if not isinstance(target, Stock):
                raise ModelError(f"flow '{flow.display}' {verb} '{target.display}', which is "
                                 f"a {_kind(target)}, not a stock; attach flows to stocks only")
            if target.dims != flow.dims and flow.dims:
                raise DimensionError(f"flow '{flow.display}' has dimensions {flow.dims} but "
                                     f"stock '{target.display}' has {target.dims}")
            table.setdefault(target.id, []).append(flow.id)
    return {eid: with_fields(e, inflows=tuple(inflows.get(eid, ())),
                             outflows=tuple(outflows.get(eid, ())))
            if isinstance(e, Stock) else e for eid, e in elements.items()}


# --------------------------------------------------------------------------- statefuls
def static_value(expr: Expr, elements: Mapping[str, Element]) -> float | None:
    """The value of an expression of numbers and scalar constants, or None if it varies."""
    if isinstance(expr, Const):
        return expr.value
    if isinstance(expr, Ref):
        e = elements.get(expr.name)
        return e.values[0] if isinstance(e, Constant) and len(e.values) == 1 else None
    if isinstance(expr, Unary) and expr.op == "-":
        v = static_value(expr.operand, elements)
        return None if v is None else -v
    if isinstance(expr, Binary) and expr.op in ("+", "-", "*", "/"):
        a, b = static_value(expr.left, elements), static_value(expr.right, elements)
        if a is None or b is None or (expr.op == "/" and b == 0):
            return None
        return {"+": a + b, "-": a - b, "*": a * b, "/": a / b if b else 0}[expr.op]
    return None


def localize(expr: Expr, binding: Mapping[str, str], elements, dims) -> Expr:
    """Pin the dimensions in `binding` on every arrayed reference: x -> x[pod3].

    Explicit subscripts win over the binding, and a dimension being reduced
    (sum_over(x, pod)) stays free inside its reduction.
    """
    def go(node: Expr, bound: Mapping[str, str]) -> Expr:
        if isinstance(node, Reduce):
            inner = {d: e for d, e in bound.items() if d != node.dim}
            return Reduce(node.op, go(node.operand, inner), node.dim)
        if isinstance(node, Index) and isinstance(node.target, Ref) and node.target.name in elements:
            own = elements[node.target.name].dims
            explicit = index_binding(own, node.elements, dims, f"'{node.target.name}'")
            return Index(node.target, tuple(explicit.get(d) or bound.get(d, d) for d in own))
        if isinstance(node, Ref) and node.name in elements:
            own = elements[node.name].dims
            if any(d in bound for d in own):
                return Index(node, tuple(bound.get(d, d) for d in own))
            return node
        return map_children(node, lambda child: go(child, bound))
    try:
        return go(expr, binding)
    finally:
        del go      # it refers to itself: a cycle reference counting alone would not free


# --------------------------------------------------------------------------- dimensions
def index_binding(target_dims: tuple[str, ...], subscripts: tuple[str, ...], dims,
                  where: str | Element) -> dict[str, str | None]:
    """Map each dimension of an indexed reference to a fixed element, or None to keep it.
    `where` names the place in an error: text, or the element whose equation it is."""
    binding: dict[str, str | None] = {}
    if len(subscripts) == len(target_dims):
        pairs = zip(target_dims, subscripts)
    else:
        pairs = []
        for s in subscripts:
            owner = [d for d in target_dims if s == d or s in dims[d].elements]
            if len(owner) != 1:
                raise DimensionError(f"{_place(where)}: subscript '{s}' matches no single "
                                     "dimension of "
                                     f"{target_dims}")
            pairs.append((owner[0], s))
    for d, s in pairs:
        if s == d:
            binding[d] = None
        elif s in dims[d].elements:
            binding[d] = s
        else:
            raise DimensionError(f"{_place(where)}: '{s}' is not an element of dimension '{d}' "
                                 f"{dims[d].elements}{did_you_mean(s, dims[d].elements)}")
    return binding


def _place(where: str | Element) -> str:
    return where if isinstance(where, str) else _where(where)


def _where(host: Element) -> str:
    return f"{_kind(host)} '{host.display}'"


def expr_dims(expr: Expr, elements: Mapping[str, Element], dims, host: Element, *,
              memo: dict[int, tuple[str, ...]] | None = None) -> tuple[str, ...]:
    """The dimensions an expression varies over (union of its references', in order).
    `memo` (id of a node -> its dimensions) spares a subtree held several times; its nodes
    must stay alive while it is used."""
    cls = type(expr)
    if cls is Ref or isinstance(expr, Ref):
        target = elements.get(expr.name)
        return () if target is None else target.dims
    if cls is Const:
        return ()
    if memo is not None:
        found = memo.get(id(expr))
        if found is not None:
            return found
    if isinstance(expr, Index):
        inner = expr_dims(expr.target, elements, dims, host, memo=memo)
        binding = index_binding(inner, expr.elements, dims, host)   # named only on an error
        out = tuple(d for d in inner if binding.get(d) is None)
    elif isinstance(expr, Reduce):
        inner = expr_dims(expr.operand, elements, dims, host, memo=memo)
        if expr.dim not in inner:
            raise DimensionError(f"{_where(host)}: {expr.op} over '{expr.dim}', but the "
                                 f"expression varies only over {inner or 'no dimension'}")
        out = tuple(d for d in inner if d != expr.dim)
    else:
        out = ()        # the union, in order of first appearance
        for child in expr.children():
            inner = expr_dims(child, elements, dims, host, memo=memo)
            if inner and inner != out:
                out = inner if not out else out + tuple([d for d in inner if d not in out])
    if memo is not None:
        memo[id(expr)] = out
    return out


def _check_dims(model: Model, elements: dict[str, Element]) -> None:
    memo: dict[int, tuple[str, ...]] = {}       # the elements keep every node alive
    for element in elements.values():
        for key in _expr_fields(type(element)):
            value = getattr(element, key)
            if isinstance(value, PerElement):
                _check_per_element(model, element, value)
                pairs = [(k, e) for k, e in value.items]
            elif isinstance(value, Expr):
                pairs = [(None, value)]
            else:
                continue
            for k, expr in pairs:
                used = expr_dims(expr, elements, model.dims, element, memo=memo)
                if not used:        # a scalar expression (most): fits anywhere
                    continue
                allowed = element.dims if k is None else ()
                extra = [d for d in used if d not in allowed and not (
                    k is not None and d in element.dims)]
                if extra:
                    raise DimensionError(
                        f"{_kind(element)} '{element.display}' has dimensions "
                        f"{element.dims or '()'} but its {key} varies over {tuple(extra)}; add "
                        f"{', '.join(extra)} to its dims or reduce with sum_over/max_over(...)")


def _check_per_element(model: Model, element: Element, value: PerElement) -> None:
    import itertools
    wanted = set(itertools.product(*(model.dims[d].elements for d in element.dims)))
    given = [k for k, _ in value.items]
    for k in given:
        if k not in wanted:
            raise DimensionError(f"'{element.display}': equation for element {k} does not match "
                                 f"its dimensions {element.dims}")
    missing = sorted(wanted - set(given))
    if missing:
        raise DimensionError(f"'{element.display}' has no equation for elements {missing[:5]}"
                             f"{' ...' if len(missing) > 5 else ''}")


# --------------------------------------------------------------------------- values
def _check_values(model: Model, elements: dict[str, Element]) -> None:
    for e in elements.values():
        if isinstance(e, Constant):
            bad = [v for v in e.values if not math.isfinite(v)]
            if bad:
                raise ModelError(f"constant '{e.display}' in model '{model.name}' is {bad[0]}; "
                                 "constants must be finite numbers")
        elif isinstance(e, Lookup):
            if len(e.xs) != len(e.ys) or not e.xs:
                raise ModelError(f"lookup '{e.display}' needs as many y values as x values "
                                 f"(got {len(e.xs)} x and {len(e.ys)} y), at least one each")
            for a, b in zip(e.xs, e.xs[1:]):
                if not b > a:
                    raise ModelError(f"lookup '{e.display}' has x values out of order ({a} then "
                                     f"{b}); sort the points by x, each x once")
            if not all(math.isfinite(v) for v in e.xs + e.ys):
                raise ModelError(f"lookup '{e.display}' has a non-finite point")


# --------------------------------------------------------------------------- graph
def _dependency_graph(elements: dict[str, Element]) -> nx.DiGraph:
    """Links `ref -> user` (instant: read every step; initial: read at the start; flow:
    a flow into (+1) or out of (-1) a stock), gathered in plain dicts, then given to
    networkx at once in the order they were first found."""
    links: dict[tuple[str, str], dict] = {}
    found: dict[int, list[str]] = {}   # id of an expression -> its sorted references (an
    for e in elements.values():        # object several elements hold is walked once)
        init_only = _INIT_ONLY.get(type(e), ())
        eid, sampler = e.id, isinstance(e, SampleHold)
        for key, expr in expressions(e):
            instant = key not in init_only
            refs = found.get(id(expr))
            if refs is None:
                refs = found[id(expr)] = sorted(references(expr))
            for ref in refs:
                if sampler and ref == eid:
                    continue        # a sampler reading its own held value: no same-step link
                data = links.get((ref, eid))
                if data is None:
                    links[ref, eid] = {"instant": instant, "initial": not instant}
                else:
                    data["instant"] |= instant
                    data["initial"] |= not instant
        if isinstance(e, Stock):   # a start value that reads its own flow keeps that link
            for sign, flows in ((+1, e.inflows), (-1, e.outflows)):
                for f in flows:
                    data = links.setdefault((f, e.id), {})
                    data.update(instant=False, initial=data.get("initial", False), flow=sign)
    return _digraph({e.id: {"kind": type(e).__name__, "display": e.display, "module": e.module,
                            "internal": e.origin is not None} for e in elements.values()},
                    links)


def _digraph(nodes: dict[str, dict], links: dict[tuple[str, str], dict]) -> nx.DiGraph:
    """The networkx DiGraph that add_nodes_from(nodes) and then add_edges_from(links) make
    (the same dicts in the same order), written into its adjacency dicts directly: the
    generic calls cost ~1.5 us an edge (a tenth of eviction_cascade's build)."""
    graph = nx.DiGraph()
    node, succ, pred = graph._node, graph._succ, graph._pred
    for n, data in nodes.items():
        node[n] = data
        succ[n] = {}
        pred[n] = {}
    for (u, v), data in links.items():
        for end in (u, v) if u not in node or v not in node else ():
            if end not in node:     # a name no element has (add_edges_from adds it)
                node[end], succ[end], pred[end] = {}, {}, {}
        succ[u][v] = data
        pred[v][u] = data
    return graph


def _check_windows(model: Model, elements) -> None:
    """A rolling window known before the run to be negative is a ModelError naming it (the
    engines would fail allocating its buffer: 'negative dimensions not allowed')."""
    for e in elements.values():
        if isinstance(e, Rolling):
            window = static_value(e.window, elements)
            if window is not None and window < 0:
                raise ModelError(f"'{e.display}' in model '{model.name}': rolling_{e.op} over a "
                                 f"window of {window:g}; give a window of 0 or more (time "
                                 f"units of the model, {model.time_units})")


def horizon_note(name: str, start: float, stop: float, dt: float) -> str | None:
    """The warning for a dt that does not divide start..stop, or None.

    >>> horizon_note("cup", 0.0, 30.0, 0.7)
    "model 'cup': dt=0.7 does not divide the horizon 0.0..30.0; the last step ends past stop"
    """
    steps = (stop - start) / dt
    if abs(steps - round(steps)) > 1e-9 * max(1.0, steps):
        return (f"model '{name}': dt={dt} does not divide the horizon {start}..{stop}; the "
                "last step ends past stop")
    return None


def _time_warnings(model: Model, elements, delays) -> list[str]:
    notes = []
    note = horizon_note(model.name, model.start, model.stop, model.dt)
    if note:
        notes.append(note)
    ratio = model.saveper / model.dt
    if abs(ratio - round(ratio)) > 1e-9 or round(ratio) < 1:
        notes.append(f"model '{model.name}': saveper={model.saveper} is not a multiple of "
                     f"dt={model.dt}; outputs are saved at the nearest step")
    for d in delays:
        if d.order is None:
            continue
        time = static_value(d.time, elements)
        if time is not None and time < 0:
            notes.append(f"'{elements[d.host].display}': the {d.kind} time {time:g} is "
                         "negative: it moves away from its input instead of following it; "
                         "give it a positive time")
        if time is not None and time > 0 and model.dt > time / d.order + 1e-12:
            notes.append(f"'{elements[d.host].display}': dt={model.dt} is coarser than the "
                         f"{d.kind} stage time {time / d.order:g} (delay time {time:g} / order "
                         f"{d.order}); results will be inaccurate: use dt <= {time / d.order:g}")
    return notes
