"""The causal graph of a model: variables as nodes, causal links as edges.

Built from the IR only. Stateful functions (DELAY1/3/N, DELAY FIXED, SMOOTH, TREND,
samplers, rolling windows) are expanded by `build` into internal elements; here each one is
collapsed back into a single *delayed* link from the variables its input reads to the
element that used the function, carrying the delay's kind, order and time.

>>> from sdmodels import Model, build, delay3
>>> m = Model("supply", stop=10)
>>> stock = m.stock("Inventory", initial=10)
>>> orders = m.aux("Orders", 20 - stock)
>>> _ = m.flow("Arrivals", delay3(orders, 4), into=stock)
>>> g = causal_graph(build(m))
>>> sorted(g.edges)
[('arrivals', 'inventory'), ('inventory', 'orders'), ('orders', 'arrivals')]
>>> g.edges["orders", "arrivals"]["delays"][0].kind
'delay3'
"""
from __future__ import annotations

from dataclasses import dataclass

import networkx as nx

from sdmodels.elements import Constant, DelayInfo, Element, Lookup, Stock
from sdmodels.expr import (Binary, Call, Const, Expr, Index, LookupCall, Reduce, Ref, Time,
                           TimeStep, Unary, transform)
from sdmodels.ir import ModelIR, expressions, static_value
from sdmodels.operators import StatefulKind

_DYNAMIC_FIELDS = ("equation",)       # the fields of visible elements read at every step


@dataclass(frozen=True)
class Through(Expr):
    """The output of a collapsed stateful function: `out` read by the host, fed by `input`.

    For polarity the function is a positive gain from `input` to `out` (every delay,
    smooth, sampler and rolling window is non-decreasing in its input).
    """
    out: str
    delay: int           # index into ModelIR.delays
    input: Expr


@dataclass(frozen=True)
class DelayLink:
    """A stateful function on a causal link: what kind, what order, how long."""
    kind: StatefulKind            # delay1, delay3, delayn, delay_fixed, smooth, ...
    order: int | None             # exponential order; None for pipelines and samplers
    time: float | None            # the delay time when it is known before the run
    time_text: str                # the delay time as the modeller wrote it

    @property
    def label(self) -> str:
        shown = f"{self.time:g}" if self.time is not None else self.time_text
        if self.kind == "delay_fixed":
            return f"pipeline {shown}"
        return f"{self.kind} {shown}"


def host_expression(ir: ModelIR, element: Element) -> Expr | None:
    """The element's dynamic equation with every stateful function as a `Through` node."""
    exprs = [e for key, e in expressions(element) if key in _DYNAMIC_FIELDS]
    if not exprs:
        return None
    by_output = {d.output: i for i, d in enumerate(ir.delays)}
    expr = exprs[0] if len(exprs) == 1 else _sum(exprs)
    return _collapse(ir, expr, by_output, depth=0)


def collapse(ir: ModelIR, expr: Expr) -> Expr:
    """One equation with every stateful function as a `Through` node."""
    return _collapse(ir, expr, {d.output: i for i, d in enumerate(ir.delays)}, depth=0)


def _sum(exprs: list[Expr]) -> Expr:
    """Per-element equations joined into one tree (only their references matter)."""
    out = exprs[0]
    for e in exprs[1:]:
        out = Call("max", (out, e))      # monotone in every part, like each element alone
    return out


def _collapse(ir: ModelIR, expr: Expr, by_output: dict[str, int], depth: int) -> Expr:
    if depth > 50:
        raise RecursionError("stateful functions nested more than 50 deep")

    def fix(node: Expr):
        if isinstance(node, Ref) and node.name in ir.variables \
                and ir.variables[node.name].internal:
            index = by_output.get(node.name)
            if index is None:
                return None
            info = ir.delays[index]
            return Through(node.name, index, _collapse(ir, info.input, by_output, depth + 1))
        return None
    return transform(expr, fix)


def direct_references(expr: Expr) -> dict[str, tuple[int, ...]]:
    """Variables read by `expr`, each with the stateful functions between it and the result.

    An empty tuple means an instantaneous link; `(i,)` a link through `ModelIR.delays[i]`.
    A variable read both ways keeps the delayed path (the one that shapes dynamics).
    """
    found: dict[str, tuple[int, ...]] = {}

    def visit(node: Expr, path: tuple[int, ...]):
        if isinstance(node, Through):
            visit(node.input, path + (node.delay,))
            return
        if isinstance(node, Ref):
            old = found.get(node.name)
            if old is None or len(path) > len(old):
                found[node.name] = path
            return
        for child in node.children():
            visit(child, path)
    visit(expr, ())
    return found


def visible(element: Element, *, constants: bool) -> bool:
    """Whether an element is a node of the causal graph."""
    if element.internal or isinstance(element, Lookup):
        return False
    return constants or not isinstance(element, Constant)


def pass_through(ir: ModelIR) -> set[str]:
    """Internal elements that are not part of a stateful function (an importer's net flow
    of a stock, for example): the graph links straight across them."""
    in_delays = {i for d in ir.delays for i in d.internals}
    return {v.id for v in ir.variables.values() if v.internal and v.id not in in_delays}


def causal_graph(model, *, constants: bool = False, contract: bool = True) -> nx.DiGraph:
    """The causal graph of a model (Model or ModelIR); never mutates the IR.

    Nodes carry `kind` (element class name), `display`, `module`; edges carry
    `delays` (a tuple of `DelayLink`, empty for instantaneous links), `paths` (the
    internal elements a link was contracted across, one tuple per path; `((),)` for a
    plain link) and, for links from a flow to its stock, `flow` = +1 (inflow) or -1
    (outflow). Link polarity is added by `sdmodels.analysis.link_polarities`.
    `contract=False` keeps internal pass-through elements (net flows) as nodes.
    """
    from sdmodels.ir import build
    ir = build(model)
    hidden = pass_through(ir)
    g = nx.DiGraph(model=ir.name)
    for v in ir.variables.values():
        if visible(v, constants=constants) or v.id in hidden:
            g.add_node(v.id, kind=type(v).__name__, display=v.display, module=v.module,
                       internal=v.id in hidden)
    for v in ir.variables.values():
        if v.id not in g:
            continue
        if isinstance(v, Stock):
            for sign, flows in ((+1, v.inflows), (-1, v.outflows)):
                for f in flows:
                    if f in g:
                        g.add_edge(f, v.id, flow=sign, delays=(), paths=((),))
            continue
        expr = host_expression(ir, v)
        if expr is None:
            continue
        for ref, path in sorted(direct_references(expr).items()):
            if ref in g and ref != v.id:
                g.add_edge(ref, v.id, paths=((),),
                           delays=tuple(delay_link(ir, ir.delays[i]) for i in path))
    if contract:
        for n in [v for v in ir.variables if v in hidden and v in g]:
            for p in list(g.predecessors(n)):
                for s in list(g.successors(n)):
                    if p == s:
                        continue
                    a, b = g.edges[p, n], g.edges[n, s]
                    paths = tuple(x + (n,) + y for x in a["paths"] for y in b["paths"])
                    delays = a["delays"] + b["delays"]
                    if g.has_edge(p, s):
                        old = g.edges[p, s]
                        old["paths"] = old["paths"] + paths
                        old["delays"] = old["delays"] + tuple(
                            d for d in delays if d not in old["delays"])
                    else:
                        extra = {"flow": b["flow"]} if "flow" in b else {}
                        g.add_edge(p, s, paths=paths, delays=delays, **extra)
            g.remove_node(n)
    return g


def delay_link(ir: ModelIR, info: DelayInfo) -> DelayLink:
    order = info.order           # None for pipelines, samplers and rolling windows
    return DelayLink(info.kind, order, static_value(info.time, ir.variables),
                     expr_text(info.time, ir))


_PRECEDENCE = {"or": 1, "and": 2, "=": 3, "<>": 3, "<": 3, "<=": 3, ">": 3, ">=": 3,
               "+": 4, "-": 4, "*": 5, "/": 5, "^": 6}


def expr_text(expr: Expr, ir: ModelIR | None = None, parent: int = 0) -> str:
    """Equation text for display (never evaluated): display names, usual precedence.

    >>> expr_text(Ref("a") * (Ref("b") + 1))
    'a * (b + 1)'
    """
    def name(var: str) -> str:
        if ir is not None and var in ir.variables:
            return ir.variables[var].display
        return var
    if isinstance(expr, Const):
        return f"{expr.value:g}"
    if isinstance(expr, Ref):
        return name(expr.name)
    if isinstance(expr, Through):
        return expr_text(expr.input, ir, parent)
    if isinstance(expr, Time):
        return "Time"
    if isinstance(expr, TimeStep):
        return "TIME STEP"
    if isinstance(expr, Index):
        return f"{expr_text(expr.target, ir, 9)}[{', '.join(expr.elements)}]"
    if isinstance(expr, Unary):
        inner = expr_text(expr.operand, ir, 7)
        return f"-{inner}" if expr.op == "-" else f"not {inner}"
    if isinstance(expr, Binary):
        p = _PRECEDENCE.get(expr.op, 3)
        text = f"{expr_text(expr.left, ir, p)} {expr.op} {expr_text(expr.right, ir, p + 1)}"
        return f"({text})" if p < parent else text
    if isinstance(expr, Call):
        return f"{expr.fn}({', '.join(expr_text(a, ir) for a in expr.args)})"
    if isinstance(expr, LookupCall):
        return f"{name(expr.table)}({expr_text(expr.arg, ir)})"
    if isinstance(expr, Reduce):
        return f"{expr.op}({expr_text(expr.operand, ir)}, {expr.dim})"
    return type(expr).__name__


