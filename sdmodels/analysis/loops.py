"""Feedback loops: enumeration, R/B classification, stable ids, names, delays, modules.

Every elementary cycle of the causal graph is found with Johnson's algorithm (networkx
``simple_cycles``), up to a bound. For models too large to enumerate, the shortest
independent loop set (Oliva 2004) gives a loop set in which every loop adds a link the
shorter ones do not cover.

Ids are deterministic: loops are ordered by length, then by their variable ids (rotated
to start from the smallest stock id), and numbered R1, R2, ... / B1, B2, ... / U1, ...
in that order, so the same model always gets the same ids. Names (``Model.name_loop``)
attach by the variables a loop must contain, so they survive renumbering.

References: D. B. Johnson, "Finding all the elementary circuits of a directed graph",
SIAM J. Comput. 4(1), 1975. R. Oliva, "Model structure analysis through graph theory:
partition heuristics and feedback structure decomposition", System Dynamics Review
20(4), 2004.

>>> from sdmodels import Model
>>> m = Model("SIR", stop=10)
>>> s = m.stock("Susceptible", initial=990, non_negative=True)
>>> i = m.stock("Infectious", initial=10, non_negative=True)
>>> inf = m.flow("Infection", 0.3 * s * i / 1000, out_of=s, into=i)
>>> _ = m.flow("Recovery", i / 5, out_of=i)
>>> [(l.id, l.length) for l in find_loops(m, behaviour=False)]
[('R1', 2), ('B1', 2), ('B2', 2)]
"""
from __future__ import annotations

import itertools
import json
import warnings
from dataclasses import dataclass, field

import networkx as nx
import pandas as pd

from sdmodels.elements import Stock
from sdmodels.errors import ModelWarning, UnknownNameError, did_you_mean
from sdmodels.ir import ModelIR, build
from sdmodels.operators import StatefulKind

from sdmodels.analysis.graph import causal_graph
from sdmodels.analysis.polarity import LinkPolarity, link_polarities

DEFAULT_MAX_LOOPS = 5000


@dataclass(frozen=True)
class LoopDelay:
    """A stateful function on a loop's link."""
    cause: str                 # display names
    effect: str
    kind: StatefulKind         # JSON and tables show its text: 'delay3', 'smooth', ...
    order: int | None
    time: float | None
    time_text: str

    def to_dict(self) -> dict:
        return {"from": self.cause, "to": self.effect, "kind": self.kind, "order": self.order,
                "time": self.time if self.time is not None else self.time_text}


@dataclass(frozen=True)
class Loop:
    """One feedback loop. `variables` are ids in loop order; `names` their display names."""
    id: str
    name: str | None
    polarity: str                               # 'R', 'B' or 'U' (unknown or mixed links)
    variables: tuple[str, ...]
    names: tuple[str, ...]
    links: tuple[LinkPolarity, ...]
    delays: tuple[LoopDelay, ...] = ()
    total_delay: float | None = 0.0
    modules: tuple[str, ...] = ()
    from_composition: bool = False

    @property
    def length(self) -> int:
        return len(self.variables)

    @property
    def edges(self) -> list[tuple[str, str]]:
        """The loop's links as (cause id, effect id), in order."""
        v = self.variables
        return list(zip(v, v[1:] + v[:1]))

    @property
    def why_unknown(self) -> str:
        """For a 'U' loop: the links whose sign is mixed or unknown."""
        return ", ".join(f"{l.cause} -> {l.effect} ({l.polarity})" for l in self.links
                         if l.polarity not in ("+", "-"))

    def unsigned_links(self) -> list[dict]:
        """The links that make this loop U, by display name: from, to (the variable whose
        equation reads `from` without a fixed sign), polarity ('mixed' or 'unknown')."""
        n = self.length
        return [{"from": self.names[k], "to": self.names[(k + 1) % n], "polarity": l.polarity}
                for k, l in enumerate(self.links) if l.polarity not in ("+", "-")]

    def to_dict(self) -> dict:
        """The JSON form: id, name, polarity, variables, length, delays, total_delay, ..."""
        return {"id": self.id, "name": self.name, "polarity": self.polarity,
                "variables": list(self.names), "length": self.length,
                "delays": [d.to_dict() for d in self.delays], "total_delay": self.total_delay,
                "modules": list(self.modules), "from_composition": self.from_composition,
                "links": [{"from": self.names[k], "to": self.names[(k + 1) % self.length],
                           "polarity": l.polarity} for k, l in enumerate(self.links)],
                "why_unknown": self.unsigned_links()}

    def _repr_html_(self) -> str:
        from sdmodels.workbench.display import loop_html
        return loop_html(self)


@dataclass(frozen=True)
class LoopSet:
    """The loops of a model, with how they were found; a sequence of `Loop`."""
    model: str
    loops: tuple[Loop, ...]
    method: str = "all"       # 'all' (Johnson), 'independent' (Oliva 2004), 'discovered'
    complete: bool = True
    notices: tuple[str, ...] = field(default=())
    cap: int | None = None              # the most loops enumeration was allowed to find
    total: int | None = None            # how many loops the model has (None: more than cap)

    def __len__(self) -> int:
        return len(self.loops)

    def __iter__(self):
        return iter(self.loops)

    def __getitem__(self, key) -> Loop:
        if isinstance(key, int):
            return self.loops[key]
        for loop in self.loops:
            if loop.id.lower() == str(key).lower() or (loop.name or "").lower() == str(key).lower():
                return loop
        ids = [l.id for l in self.loops]
        named = [f"'{l.name}'" for l in self.loops if l.name]
        shown = ", ".join(ids[:10]) + (f", ... ({len(ids)} in all)" if len(ids) > 10 else "")
        hint = did_you_mean(str(key), [l.name for l in self.loops if l.name] + ids)
        raise UnknownNameError(f"model '{self.model}' has no loop '{key}'; it has "
                               f"{shown or 'none'}" + (f"; named: {', '.join(named)}" if named
                                                       else "") + f".{hint}")

    def dominance(self, model, *, scenario: str | None = None, params: dict | None = None,
                  trace=None):
        """Loops That Matter scores of these loops over a run of `model` (a `Dominance`)."""
        from sdmodels.analysis.dominance import dominance
        return dominance(model, loops=self, scenario=scenario, params=params, trace=trace)

    def counts(self) -> dict[str, int]:
        """How many loops of each polarity: {'R': .., 'B': .., 'U': ..}."""
        return {p: sum(1 for l in self.loops if l.polarity == p) for p in "RBU"}

    def to_records(self) -> list[dict]:
        return [loop.to_dict() for loop in self.loops]

    def unsigned_links(self) -> list[dict]:
        """The links that make loops U, most loops first: from, to (the variable whose
        equation holds the link), polarity, loops (how many U loops it is on). Their sign
        depends on the operating point (or the equations cannot tell); the sign each took
        in a run, per dominance phase, is in `LoopSet.dominance(...).phases()` (`sdm
        dominance`)."""
        count: dict[tuple, int] = {}
        for loop in self.loops:
            for link in loop.unsigned_links():
                key = (link["from"], link["to"], link["polarity"])
                count[key] = count.get(key, 0) + 1
        ranked = sorted(count.items(), key=lambda kv: (-kv[1], kv[0]))
        return [{"from": a, "to": b, "polarity": p, "loops": n} for (a, b, p), n in ranked]

    def to_json(self, indent: int | None = 2) -> str:
        """A JSON object: model, method, complete, cap, total, counts, `unsigned_links`
        (what makes loops U, see `unsigned_links`), notices, and `loops`, one object per
        loop (see `Loop.to_dict`)."""
        return json.dumps({"model": self.model, "method": self.method,
                           "complete": self.complete, "cap": self.cap, "total": self.total,
                           "shown": len(self), "counts": self.counts(),
                           "unsigned_links": self.unsigned_links(),
                           "notices": list(self.notices), "loops": self.to_records()},
                          indent=indent)

    def to_pandas(self) -> pd.DataFrame:
        """One row per loop; lists joined as text."""
        rows = [{"id": l.id, "name": l.name, "polarity": l.polarity, "length": l.length,
                 "variables": " -> ".join(l.names),
                 "delays": "; ".join(f"{d.cause} -> {d.effect}: {d.kind} {d.to_dict()['time']}"
                                     for d in l.delays),
                 "total_delay": l.total_delay, "modules": ", ".join(l.modules),
                 "from_composition": l.from_composition} for l in self.loops]
        columns = ["id", "name", "polarity", "length", "variables", "delays", "total_delay",
                   "modules", "from_composition"]
        frame = pd.DataFrame(rows, columns=columns)
        frame["cap"] = self.cap
        frame["total"] = self.total if self.total is not None else pd.NA
        return frame

    def _rows(self) -> list[list[str]]:
        out = []
        for l in self.loops:
            delay = "" if not l.delays else (
                f"{l.total_delay:g}" if l.total_delay is not None else "variable")
            out.append([l.id, l.name or "", {"R": "reinforcing", "B": "balancing",
                                             "U": "unknown"}[l.polarity],
                        " -> ".join(l.names + l.names[:1]), delay,
                        ", ".join(l.modules) + (" (composed)" if l.from_composition else "")])
        return out

    _HEADER = ["id", "name", "type", "loop", "delay", "modules"]

    def to_table(self) -> str:
        """A plain-text table for terminals; the loop's variables come last, so that one long
        loop does not pad every line of the table to its length."""
        rows = [self._HEADER] + self._rows()
        loop = self._HEADER.index("loop")
        keep = [k for k in range(len(self._HEADER))
                if k != loop and (k < loop or any(r[k] for r in rows[1:]))] + [loop]
        rows = [[r[k] for k in keep] for r in rows]
        widths = [max(len(r[k]) for r in rows) for k in range(len(keep) - 1)] + [len("loop")]
        lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(lines + [self.summary()] + list(self.notices))

    def to_markdown(self) -> str:
        """A Markdown table (for postmortem documents)."""
        def cell(text: str) -> str:
            return text.replace("|", "\\|")
        lines = ["| " + " | ".join(self._HEADER) + " |", "|" + "---|" * len(self._HEADER)]
        lines += ["| " + " | ".join(cell(c) for c in r) + " |" for r in self._rows()]
        return "\n".join(lines + ["", self.summary()] + [f"> {n}" for n in self.notices])

    def summary(self) -> str:
        c = self.counts()
        how = {"independent": " (shortest independent loop set)",
               "discovered": " (the strongest loops found in a run)"}.get(self.method, "")
        if self.method == "all" and self.cap is not None:
            beyond = len(self) - self.cap        # named loops listed past the cap
            how = (f" (all found, cap {self.cap})" if self.complete else
                   f" (enumeration stopped at the cap of {self.cap}"
                   + (f", and {beyond} named loop{'s' if beyond != 1 else ''} found beyond it"
                      if beyond > 0 else "") + "; the model has more)")
        return (f"{len(self)} loop{'s' if len(self) != 1 else ''} in '{self.model}'{how}: "
                f"{c['R']} reinforcing, "
                f"{c['B']} balancing" + (f", {c['U']} of unknown polarity" if c["U"] else ""))

    def _repr_html_(self) -> str:
        from sdmodels.workbench.display import loopset_html
        return loopset_html(self)

    def __str__(self) -> str:
        return self.to_table()


# --------------------------------------------------------------------------- finding
def _rotate(cycle: list[str], ir: ModelIR) -> tuple[str, ...]:
    stocks = [v for v in cycle if isinstance(ir.variables[v], Stock)]
    start = cycle.index(min(stocks or cycle))
    return tuple(cycle[start:] + cycle[:start])


def independent_cycles(graph: nx.DiGraph) -> list[list[str]]:
    """The shortest independent loop set (Oliva 2004), greedy by length.

    For every link, the shortest loop through it (the link plus a shortest path back);
    taken from shortest to longest, a loop joins the set when it contains a link that no
    loop already in the set contains. Every link on a cycle ends up covered.
    """
    candidates: dict[tuple, list[str]] = {}
    for component in nx.strongly_connected_components(graph):
        if len(component) < 2:
            continue
        sub = graph.subgraph(component)
        for u, v in sorted(sub.edges):
            path = nx.shortest_path(sub, v, u)
            cycle = path                      # v ... u, closed by the link u -> v
            start = cycle.index(min(cycle))
            key = tuple(cycle[start:] + cycle[:start])
            candidates.setdefault(key, list(key))
    chosen, covered = [], set()
    for key in sorted(candidates, key=lambda k: (len(k), k)):
        cycle = candidates[key]
        links = set(zip(cycle, cycle[1:] + cycle[:1]))
        if links - covered:
            chosen.append(cycle)
            covered |= links
    return chosen


def find_loops(model, *, method: str = "all", max_loops: int = DEFAULT_MAX_LOOPS,
               behaviour: bool = True, stated=None, params=None,
               scenario: str | None = None, polarities: dict | None = None) -> LoopSet:
    """The feedback loops of a model (Model or ModelIR), classified and numbered.

    `method='all'` enumerates every elementary loop (Johnson 1975) up to `max_loops`,
    with a ModelWarning and a notice when the bound stops it; `method='independent'`
    returns the shortest independent loop set (Oliva 2004), fast on large models.
    `behaviour` runs the model (baseline and every scenario) to sign links the equations
    alone cannot sign (see
    `link_polarities`); `stated` maps (cause, effect) to a polarity the modeller states;
    `polarities` reuses the result of `link_polarities` instead of computing it again.
    """
    if method not in ("all", "independent"):
        raise ValueError(f"method must be 'all' or 'independent', got {method!r}")
    ir = build(model)
    graph = causal_graph(ir)
    if polarities is None:
        polarities = link_polarities(ir, behaviour=behaviour, stated=stated, params=params,
                                     scenario=scenario)
    notices, complete, total = [], True, None
    if method == "all":
        cycles = list(itertools.islice(_cycles_in_order(graph), max_loops + 1))
        if len(cycles) > max_loops:
            cycles, complete = cycles[:max_loops], False
            note = (f"loop enumeration stopped after {max_loops} loops: model '{ir.name}' has "
                    "more (the named loops are listed all the same). Raise max_loops (sdm "
                    "loops --max-loops N), or ask for the shortest independent loop set "
                    "(method='independent', sdm loops --independent)")
            notices.append(note)
            warnings.warn(note, ModelWarning, stacklevel=2)
        else:
            total = len(cycles)
    else:
        cycles = independent_cycles(graph)
    if not complete or method == "independent":
        # the named loops are listed whatever the cap or method: they are what people look
        # for (Johnson's order does not give the short loops first, and the shortest
        # independent set need not hold them), so each gets its own cycle (classify drops
        # the cycles listed twice)
        cycles += named_cycles(ir, graph)
    loops = classify(ir, graph, polarities, cycles)
    loops, naming_notes = _attach_names(ir, loops)
    notices += naming_notes
    for link in polarities.values():
        if link.conflict:
            notices.append(f"stated polarity of '{ir.display(link.cause)}' -> "
                           f"'{ir.display(link.effect)}' is flagged: {link.note}")
    if any(l.polarity == "U" for l in loops):
        notices.append("loops marked U have a link whose sign depends on the operating "
                       "point (mixed) or that the equations cannot sign (unknown): see "
                       "Loop.why_unknown or 'why_unknown' and 'unsigned_links' in the JSON; "
                       + unknown_links_note(ir, loops) + ". The sign such a loop runs with, "
                       "phase by phase (runtime polarity, Loops That Matter): `sdm "
                       f"dominance {ir.name}`, or LoopSet.dominance(model).phases()")
    return LoopSet(ir.name, tuple(loops), method, complete, tuple(notices), max_loops, total)


def named_cycles(ir, graph) -> list[tuple[str, ...]]:
    """One cycle through all the variables of each named loop: consecutive named variables
    joined by shortest paths that visit no variable twice (names no cycle fits are left
    out; `find_loops` reports them)."""
    out = []
    for named in ir.loop_names:
        wanted = list(dict.fromkeys(named.variables))
        if not wanted or any(v not in graph for v in wanted):
            continue
        cycle: list[str] = []
        used = set(wanted)
        for a, b in zip(wanted, wanted[1:] + wanted[:1]):
            free = graph.subgraph((set(graph) - used) | {a, b})
            try:
                path = nx.shortest_path(free, a, b) if a != b else [a]
            except nx.NetworkXNoPath:
                break
            cycle += path[:-1]
            used |= set(path)
        else:
            if len(cycle) > 1 and len(set(cycle)) == len(cycle):
                out.append(tuple(cycle))
    return out


def unknown_links_note(ir: ModelIR, loops) -> str:
    """Which links make loops U, most loops first: "'a' -> 'b' (mixed, in b's equation)
    in 900 loops, ..."."""
    ranked = LoopSet(ir.name, tuple(loops)).unsigned_links()
    shown = ", ".join(f"'{l['from']}' -> '{l['to']}' ({l['polarity']}) in {l['loops']} loop"
                      f"{'s' if l['loops'] != 1 else ''}" for l in ranked[:5])
    more = f" and {len(ranked) - 5} more links" if len(ranked) > 5 else ""
    return (f"{len(ranked)} link{'s' if len(ranked) != 1 else ''} make them U (each read "
            f"without a fixed sign by the equation of the variable it points to): "
            f"{shown}{more}")


def _cycles_in_order(graph: nx.DiGraph):
    """Johnson's cycles in an order fixed by the node ids alone.

    networkx walks sets of nodes, whose order for strings changes with Python's hash seed
    from one process to the next; on integer labels given in sorted id order it does not,
    so a capped enumeration finds the same loops on every run.
    """
    names = sorted(graph.nodes)
    number = {n: k for k, n in enumerate(names)}
    g = nx.DiGraph()
    g.add_nodes_from(range(len(names)))
    g.add_edges_from(sorted((number[a], number[b]) for a, b in graph.edges))
    for cycle in nx.simple_cycles(g):
        yield [names[k] for k in cycle]


def classify(ir: ModelIR, graph: nx.DiGraph, polarities: dict, cycles) -> list[Loop]:
    """Loops from cycles of variable ids: rotated, ordered, signed and numbered."""
    rotated = sorted({_rotate(list(c), ir) for c in cycles}, key=lambda c: (len(c), c))
    counters = {"R": 0, "B": 0, "U": 0}
    loops = []
    for cycle in rotated:
        links = tuple(polarities[e] for e in zip(cycle, cycle[1:] + cycle[:1]))
        if any(l.polarity not in ("+", "-") for l in links):
            pol = "U"
        else:
            pol = "B" if sum(l.polarity == "-" for l in links) % 2 else "R"
        counters[pol] += 1
        loops.append(_make_loop(ir, graph, cycle, links, f"{pol}{counters[pol]}", pol))
    return loops


def _make_loop(ir: ModelIR, graph: nx.DiGraph, cycle, links, loop_id: str, pol: str) -> Loop:
    delays, total = [], 0.0
    for a, b in zip(cycle, cycle[1:] + cycle[:1]):
        for d in graph.edges[a, b]["delays"]:
            delays.append(LoopDelay(ir.display(a), ir.display(b), d.kind, d.order, d.time,
                                    d.time_text))
            total = None if total is None or d.time is None else total + d.time
    modules = {ir.variables[v].module for v in cycle}
    return Loop(loop_id, None, pol, tuple(cycle), tuple(ir.display(v) for v in cycle), links,
                tuple(delays), total, tuple(sorted(m for m in modules if m)), len(modules) > 1)


def _attach_names(ir: ModelIR, loops: list[Loop]) -> tuple[list[Loop], list[str]]:
    names: dict[int, str] = {}
    notes = []
    for named in ir.loop_names:
        wanted = set(named.variables)
        unknown = [v for v in wanted if v not in ir.variables]
        if unknown:
            notes.append(f"loop name '{named.name}': no variable {unknown[0]!r} in the model")
            continue
        matches = [k for k, l in enumerate(loops) if wanted <= set(l.variables) and k not in names]
        if not matches:
            notes.append(f"loop name '{named.name}' matches no loop through "
                         f"{', '.join(ir.display(v) for v in named.variables)}")
            continue
        # the loop that passes the variables in the order named (a ring has one each way
        # round through the same variables), then the shortest
        order = list(dict.fromkeys(named.variables))
        names[min(matches, key=lambda k: (not _in_order(order, loops[k].variables),
                                          loops[k].length, k))] = named.name
    out = [Loop(**{**l.__dict__, "name": names.get(k)}) for k, l in enumerate(loops)]
    return out, notes


def _in_order(wanted: list[str], cycle) -> bool:
    """Whether the cycle visits `wanted` in that cyclic order.

    >>> _in_order(["a", "c"], ("a", "b", "c")), _in_order(["a", "c", "b"], ("a", "b", "c"))
    (True, False)
    """
    at = {v: i for i, v in enumerate(cycle)}
    p = [at[v] for v in wanted]
    return sum(x > y for x, y in zip(p, p[1:] + p[:1])) <= 1
