"""Feedback loops of World3 (../shared/large-models/wrld3-03.mdl): sdmodels vs pysimlin.

Times `find_loops(ir, method="independent")` (Oliva 2004, shortest independent loop set) and
the bounded full enumeration (Johnson 1975, stopped at --max-loops), with behaviour-based
link polarities computed once and shared, and prints the loop counts by polarity next to
pysimlin's structural loop list (`Model.loops`) and its loop discovery (`Model.analyze()`).

    .venv/bin/python benchmarks/world3_loops.py [--max-loops 100000] [--count-all]
"""
from __future__ import annotations

import argparse
import collections
import os
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from sdmodels.interop.conformance import shared_root  # noqa: E402
os.environ.setdefault("SDMODELS_CACHE_DIR", str(ROOT / ".venv" / "sdmodels-cache"))
MODEL = shared_root() / "large-models" / "wrld3-03.mdl"


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def counts(loops) -> str:
    c = collections.Counter(l.polarity for l in loops)
    return ", ".join(f"{k} {c[k]}" for k in ("R", "B", "U") if c[k])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-loops", type=int, default=100_000)
    parser.add_argument("--count-all", action="store_true",
                        help="also count every elementary loop (about 1.9 million; ~20 s)")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    import networkx as nx
    from sdmodels import build, find_loops
    from sdmodels.analysis.polarity import link_polarities
    from sdmodels.analysis.graph import causal_graph
    from sdmodels.interop import import_model
    ir = build(import_model(MODEL))
    graph = causal_graph(ir)
    print(f"World3 causal graph: {graph.number_of_nodes()} variables, "
          f"{graph.number_of_edges()} links, "
          f"{sum(1 for c in nx.strongly_connected_components(graph) if len(c) > 1)} "
          "feedback components")
    pol, t_pol = timed(lambda: link_polarities(ir))
    print(f"link polarities (equations + behaviour over every scenario): {t_pol:.1f} s")
    ind, t_ind = timed(lambda: find_loops(ir, method="independent", polarities=pol))
    print(f"independent loop set (Oliva 2004): {len(ind)} loops ({counts(ind)}) "
          f"in {t_ind:.2f} s; longest {max(len(l.variables) for l in ind)} variables")
    full, t_full = timed(lambda: find_loops(ir, method="all", max_loops=args.max_loops,
                                            polarities=pol))
    stopped = " (stopped at the bound: more exist)" if not full.complete else " (complete)"
    print(f"full enumeration (Johnson, max {args.max_loops}): {len(full)} loops "
          f"({counts(full)}) in {t_full:.1f} s{stopped}")

    import simlin
    smodel = simlin.load(str(MODEL))
    sloops, t_s = timed(lambda: smodel.loops)
    print(f"pysimlin Model.loops: {len(sloops)} loops in {t_s:.2f} s"
          + (" (pysimlin switches large models to discovery: no exhaustive list)"
             if not sloops else ""))
    try:
        analysis, t_a = timed(lambda: smodel.analyze(timeout=120))
        found = getattr(analysis, "loops", None)
        print(f"pysimlin analyze() (Loops That Matter discovery): "
              f"{len(found) if found is not None else '?'} loops in {t_a:.1f} s")
        print(f"  pysimlin: enumeration_complete={analysis.enumeration_complete}, "
              f"universe_loops={analysis.universe_loops}, "
              f"retained_loops={analysis.retained_loops}")
        if found:
            # their loops pass through internal SMOOTH/DELAY nodes ('$...'): drop those
            paths = [[v for v in l.variables if not v.startswith("$")] for l in found]
            closed = sum(all(graph.has_edge(a, b) for a, b in zip(p, p[1:] + p[:1]))
                         for p in paths)
            print(f"  {closed} of their {len(found)} discovered loops are closed paths of "
                  "links in our causal graph")
    except Exception as exc:     # report, do not hide, what pysimlin could not do
        print(f"pysimlin analyze(): {type(exc).__name__}: {exc}")
    theirs = nx.DiGraph([(l.from_var, l.to_var) for l in smodel.get_links()])
    for n in [n for n in theirs if n.startswith("$")]:      # contract internal nodes
        theirs.add_edges_from((p, s) for p in theirs.predecessors(n)
                              for s in theirs.successors(n))
        theirs.remove_node(n)

    def core(g):
        return g.subgraph(max(nx.strongly_connected_components(g), key=len))
    a, b = core(graph), core(theirs)
    print(f"feedback core: ours {a.number_of_nodes()} variables / {a.number_of_edges()} links, "
          f"pysimlin's {b.number_of_nodes()} / {b.number_of_edges()}; links only in ours "
          f"{len(set(a.edges) - set(b.edges))}, only in theirs {len(set(b.edges) - set(a.edges))}"
          f"; cycle rank {a.number_of_edges() - a.number_of_nodes() + 1}")
    if args.count_all:
        n, t0 = 0, time.perf_counter()
        for _ in nx.simple_cycles(graph):
            n += 1
        print(f"every elementary loop, counted (not classified): {n} in "
              f"{time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
