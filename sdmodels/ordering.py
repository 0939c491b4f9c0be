"""Evaluation orders of a model's IR: per step (instant links) and at the start.

`orders` topologically sorts the dependency graph (ties broken by definition order, so the
generated code is deterministic), reports an algebraic loop with its cycle, and adds the
ordering a stock that cuts back its outflows needs.
"""
from __future__ import annotations

import heapq
from dataclasses import replace

import networkx as nx

from sdmodels.elements import Aux, Constant, DelayLine, Element, Lookup, SampleIfTrue, Stock
from sdmodels.errors import AlgebraicLoopError
from sdmodels.model import Model


def _start_from_initial_field(element: Element) -> bool:
    """Whether an element's start value comes from its `initial` field alone."""
    if isinstance(element, Stock):
        return True
    return isinstance(element, (DelayLine, Aux)) and element.initial is not None


def orders(model: Model, elements: dict[str, Element], graph: nx.DiGraph):
    """The per-step and start orders. A stock that cuts back its outflows needs each outflow
    after the stock itself and its inflows and earlier outflows; where an inflow depends on
    one of those outflows that cannot be, and the stocks are clamped instead (warned)."""
    after = [(g, f) for s in elements.values() if isinstance(s, Stock) and s.limit_outflows
             for k, f in enumerate(s.outflows) for g in (s.id, *s.inflows, *s.outflows[:k])]
    links = _links(graph)
    try:
        return (_order(model, elements, links, initial=False, after=after),
                _order(model, elements, links, initial=True, after=after), elements, [])
    except AlgebraicLoopError:
        if not after:
            raise
    limited = [e.display for e in elements.values() if getattr(e, "limit_outflows", False)]
    elements = {eid: replace(e, limit_outflows=False) if isinstance(e, Stock) else e
                for eid, e in elements.items()}
    note = (f"model '{model.name}': the outflows of {', '.join(limited)} are not cut back as "
            "Stella does (an inflow or a start value depends on one of them); the stocks are "
            "clamped at 0 instead")
    return (_order(model, elements, links, initial=False),
            _order(model, elements, links, initial=True), elements, [note])


def _links(graph: nx.DiGraph) -> list[tuple[str, str, dict]]:
    """The graph's edges with their data, as graph.edges(data=True) lists them, read from its
    adjacency dicts once (networkx's edge view costs ~0.5 us an edge, and both orders ask)."""
    return [(u, v, data) for u, nbrs in graph._succ.items() for v, data in nbrs.items()]


def _order(model: Model, elements: dict[str, Element], links: list[tuple[str, str, dict]], *,
           initial: bool, after: list[tuple[str, str]] = ()) -> tuple[str, ...]:
    """Evaluation order: every step (instant links) or once at the start (all but flows);
    `after` adds (before, after) pairs."""
    skip = (Constant, Lookup) if initial else (Constant, Lookup, Stock, DelayLine)
    nodes = [eid for eid, e in elements.items() if not isinstance(e, skip)]
    inside = set(nodes)
    edges = []
    for u, v, data in links:
        if u in inside and v in inside and ("flow" not in data or initial and data["initial"]):
            if initial:
                if _start_from_initial_field(elements[v]) and not data["initial"]:
                    continue
                edges.append((u, v))
            elif data["instant"]:
                edges.append((u, v))
    edges.extend((u, v) for u, v in after if u in inside and v in inside)
    order = _first_free_order(nodes, edges, {eid: i for i, eid in enumerate(elements)})
    if order is not None:
        return order
    sub = nx.DiGraph()      # a cycle: networkx finds it (only on this path, for the message)
    sub.add_nodes_from(nodes)
    sub.add_edges_from(edges)
    cycle = [u for u, _ in nx.find_cycle(sub)]
    names = " -> ".join(elements[c].display for c in cycle + cycle[:1])
    if initial:
        raise AlgebraicLoopError(
            f"model '{model.name}': initial values depend on each other in a cycle: {names}. "
            "Give one of the stocks a numeric initial value") from None
    raise AlgebraicLoopError(
        f"model '{model.name}' has an algebraic loop (a cycle with no stock or delay): "
        f"{names}. Break it with a stock, a delay or smooth, or by rewriting one equation"
        + _sampler_hint(elements, cycle)) from None


def _sampler_hint(elements: dict[str, Element], cycle: list[str]) -> str:
    """What to do when the cycle runs through a SAMPLE IF TRUE: only the sampler's own
    name inside it reads the value held so far; Vensim reads every other variable at this
    step's value (vensim.com/documentation/fn_sample_if_true.html), so such a cycle is
    simultaneous there too."""
    sampler = next((elements[c] for c in cycle if isinstance(elements[c], SampleIfTrue)), None)
    if sampler is None:
        return ""
    host = elements[sampler.origin].display if sampler.origin in elements else sampler.display
    return (f". Inside SAMPLE IF TRUE only '{host}' itself reads the value held so far; "
            "other variables are read at this step's value, as in Vensim: write the "
            f"reference to '{host}' into its SAMPLE IF TRUE (e.g. SAMPLE IF TRUE(c, "
            f"{host} + 1, 0) rather than through another variable)")


def _first_free_order(nodes: list[str], edges: list[tuple[str, str]],
                      position: dict[str, int]) -> tuple[str, ...] | None:
    """Topological order taking, at each step, the free node defined first (what
    networkx's lexicographical_topological_sort gives with key=position, on plain dicts:
    it is a tenth of the cost), or None if the edges hold a cycle."""
    children: dict[str, set[str]] = {n: set() for n in nodes}
    for u, v in edges:
        children[u].add(v)
    waiting = dict.fromkeys(nodes, 0)
    for kids in children.values():
        for v in kids:
            waiting[v] += 1
    free = [(position[n], n) for n, count in waiting.items() if count == 0]
    heapq.heapify(free)
    out = []
    while free:
        _pos, node = heapq.heappop(free)
        out.append(node)
        for v in children[node]:
            waiting[v] -= 1
            if not waiting[v]:
                heapq.heappush(free, (position[v], v))
    return tuple(out) if len(out) == len(nodes) else None
