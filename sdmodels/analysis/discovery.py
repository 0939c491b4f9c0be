"""Finding the loops that matter when a model has too many to list: strongest paths.

The run is cut into windows; in each, every causal link gets the largest absolute value
its link score took there (so that a loop active for a few steps is not missed between
samples); from every stock a depth-first search follows the strongest links first, keeps the
best path score with which it has reached each variable, and abandons a path as soon as
its score falls below that best (a weaker path cannot make a stronger loop from there).
Each path that returns to its stock is a loop. The union over the samples is the loop
set; it is what Stella and Simlin score on models with millions of loops. It is a
heuristic: a loop that is never the strongest way round any stock is not found. The loops
the modeller named (`Model.name_loop`) are always added, found or not: the story of a run
is told in their words, and a named loop that scores 0 says so.

Reference: R. Eberlein, W. Schoenberg, "Finding the Loops that Matter", International
System Dynamics Conference, 2020.

>>> from sdmodels import Model
>>> from sdmodels.analysis.evaluate import record
>>> m = Model("population", stop=5, dt=0.25)
>>> p = m.stock("Population", initial=100)
>>> _ = m.flow("Births", 0.1 * p, into=p)
>>> _ = m.flow("Deaths", p / 20, out_of=p)
>>> sorted(len(c) for c in strongest_cycles(record(m)))
[2, 2]
"""
from __future__ import annotations

import numpy as np

from sdmodels.analysis.graph import causal_graph
from sdmodels.elements import Stock

DEFAULT_SAMPLES = 40


def link_strengths(scorer, graph) -> dict[tuple[str, str], np.ndarray]:
    """|link score| of every variable-level link at every step."""
    out = {}
    for a, b in sorted(graph.edges):
        m = scorer.link_matrix(a, b)
        out[(a, b)] = np.abs(np.nan_to_num(m, nan=0.0, posinf=1e300)).max(axis=(1, 2)) \
            if m.size else np.zeros(m.shape[0])
    return out


def _search(succ: dict, weight: dict, start: str, found: set) -> None:
    """Strongest-first depth-first search from `start`; `succ` lists each node's
    successors, strongest link first."""
    best: dict[str, float] = {}

    def visit(node: str, score: float, path: list[str], on_path: set[str]):
        for nxt in succ[node]:
            w = weight[(node, nxt)]
            if w <= 0:
                break                                  # sorted: the rest are 0 too
            s = score * w
            if nxt == start:
                found.add(_canonical(path))
                continue
            if nxt in on_path or s < best.get(nxt, 0.0):
                continue
            best[nxt] = s
            on_path.add(nxt)
            path.append(nxt)
            visit(nxt, s, path, on_path)
            path.pop()
            on_path.discard(nxt)
    visit(start, 1.0, [start], {start})


def _canonical(path: list[str]) -> tuple[str, ...]:
    k = path.index(min(path))
    return tuple(path[k:] + path[:k])


def strongest_cycles(trace, *, samples: int = DEFAULT_SAMPLES,
                     max_rows: int = 2000) -> list[tuple[str, ...]]:
    """The loops found by strongest-path search in `samples` windows of a recorded run
    (`evaluate.record`), scored at the model's saveper (at most `max_rows` steps)."""
    import sys
    from sdmodels.analysis.dominance import LinkScorer
    ir = trace.ir
    graph = causal_graph(ir)
    steps = len(trace.times) - 1
    every = max(1, int(round(ir.saveper / trace.dt)), -(-steps // max_rows))
    rows = np.arange(0, steps - every + 1, every)
    scorer = LinkScorer(trace, rows, every)
    windows = [w for w in np.array_split(np.arange(len(rows)), min(samples, len(rows))) if len(w)]
    strengths = {e: np.array([v[w].max() for w in windows])
                 for e, v in link_strengths(scorer, graph).items()}
    picks = range(len(windows))
    # every loop passes a stock, or a delay whose stages are folded into one link
    stocks = sorted(n for n in graph.nodes if isinstance(ir.variables[n], Stock)
                    or any(graph.edges[p, n]["delays"] for p in graph.predecessors(n)))
    found: set[tuple[str, ...]] = set()
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10 * graph.number_of_nodes() + 100))
    try:
        for k in picks:
            weight = {e: float(v[k]) for e, v in strengths.items()}
            succ = {n: sorted(graph.successors(n), key=lambda s, n=n: (-weight[(n, s)], s))
                    for n in graph.nodes}
            for s in stocks:
                _search(succ, weight, s, found)
    finally:
        sys.setrecursionlimit(limit)
    return sorted(found, key=lambda c: (len(c), c))


def discover_loops(trace, partial=None, *, samples: int = DEFAULT_SAMPLES,
                   polarities: dict | None = None):
    """A `LoopSet` of the loops strongest-path search finds in a recorded run.

    `partial` is the capped enumeration it replaces (for its cap); `polarities` reuses
    `link_polarities(ir, behaviour=False)`.
    """
    from sdmodels.analysis.loops import LoopSet, _attach_names, classify, named_cycles
    from sdmodels.analysis.polarity import link_polarities
    ir = trace.ir
    cycles = strongest_cycles(trace, samples=samples)
    graph = causal_graph(ir)
    cycles += named_cycles(ir, graph)
    if polarities is None:
        polarities = link_polarities(ir, behaviour=False)
    loops = classify(ir, graph, polarities, cycles)
    loops, notes = _attach_names(ir, loops)
    cap = partial.cap if partial is not None else None
    return LoopSet(ir.name, tuple(loops), "discovered", False,
                   tuple(notes) + ("loops found by strongest-path search over the run's link "
                                   "scores (Eberlein & Schoenberg 2020)",), cap, None)
