"""Link polarity: structural inference from the equation trees, checked against behaviour.

A link u -> v is positive (+) when an increase in u, all else equal, raises v; negative (-)
when it lowers v. The sign is read from the tree of v's equation by monotonicity rules
(+ - * /, min/max, ceil/floor/round/integer, exp/ln/sqrt, xidz/zidz, erlang_b (falls with
the servers, rises with the load), powers, lookups by the monotonicity of their points over
the arguments they get, delays/smooths/samplers as
positive gains; ``a - min(a, b)`` as ``max(0, a - b)``; a sum whose terms pull apart
regrouped by the factors the cause moves, ``c*s - c*s*d`` as ``c*(1 - d)*s``, see
`sdmodels.analysis.terms`). An if_then_else is signed by its
branches, each judged on the times it was taken, and, when u is in the condition, by the
jump at the switch: the sign of then - else on a side of the switch where it keeps one
(continuity carries it to the switch), e.g. ``if x >= limit then 1 else f(x)`` with f <= 1
rises with x. The sign of a factor
comes from interval arithmetic over every variable (`sdmodels.analysis.intervals`), so
``k * x`` is signed when k's and x's ranges are. Where the structure cannot tell (u in a
condition, a product of unsigned factors), the runs decide (`sdmodels.analysis.behaviour`):
v's equation is re-evaluated with u nudged by several sizes, over the baseline and every
scenario; a sign that truly changes where the link acts is "mixed". A link with no effect
under the model's constants (a switch at 0) gets the sign it has once the switch is on. A
modeller may state a link's polarity; one that contradicts the equations or the run is
flagged.

>>> from sdmodels import Model
>>> m = Model("rate limiting", stop=5)
>>> load = m.stock("Load", initial=100, non_negative=True)
>>> rejections = m.aux("Rejections", 0.2 * load)
>>> accepted = m.aux("Accepted", load - rejections)
>>> _ = m.flow("Change", (accepted - load) / 2, into=load)
>>> pol = link_polarities(m, behaviour=False)
>>> pol["rejections", "accepted"].polarity
'-'
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from sdmodels.elements import Stock
from sdmodels.ir import ModelIR, build

from sdmodels.analysis.behaviour import link_signs, sample_signs, simulate_runs
from sdmodels.analysis.graph import causal_graph, host_expression
from sdmodels.analysis.intervals import Ranges
from sdmodels.analysis.sign_rules import Structure

SYMBOL = {1: "+", -1: "-"}


@dataclass(frozen=True)
class LinkPolarity:
    """The polarity of one causal link and how it was established."""
    cause: str
    effect: str
    polarity: str                   # '+', '-', 'mixed' or 'unknown'
    structural: str                 # what the equations say: '+', '-' or 'unknown'
    observed: str | None = None     # what the run showed: '+', '-', 'mixed' or None
    stated: str | None = None       # what the modeller said, if anything
    conflict: bool = False          # a stated polarity contradicts the equations or run
    note: str = ""


def structural_sign(ir: ModelIR, cause: str, effect: str, structure: Structure | None = None
                    ) -> int | None:
    """+1, -1, 0 or None (cannot tell) for the link cause -> effect, from the equations."""
    element = ir.variables[effect]
    if isinstance(element, Stock):
        if cause in element.inflows:
            return 1
        if cause in element.outflows:
            return -1
        return 0
    expr = host_expression(ir, element)
    return 0 if expr is None else (structure or Structure(ir)).slope(expr, cause)


# --------------------------------------------------------------------------- behaviour
def observed_signs(ir: ModelIR, edges, *, params=None, scenario=None
                   ) -> tuple[dict, dict[str, frozenset]]:
    """From the runs (every scenario unless `scenario` names one): for each (cause, effect)
    '+', '-', 'mixed' or None, and for each variable the signs its values took.

    See `sdmodels.analysis.behaviour` for how the partial effects are measured.
    """
    runs = simulate_runs(ir, params=params, scenario=scenario)
    ranges = Ranges(ir, _overrides(params))
    return link_signs(ir, edges, runs, ranges.iv), runs.signs


def _overrides(params) -> dict:
    if params is None:
        return {}
    if hasattr(params, "columns"):
        return {c: list(params[c]) for c in params.columns}
    return dict(params)


# --------------------------------------------------------------------------- together
def _canonical_sign(text: str) -> str:
    t = str(text).strip().lower()
    table = {"+": "+", "positive": "+", "s": "+", "-": "-", "negative": "-", "o": "-"}
    if t not in table:
        raise ValueError(f"a stated polarity must be '+' or '-', got {text!r}")
    return table[t]


def link_polarities(model, *, behaviour: bool = True, stated: Mapping | None = None,
                    params=None, scenario: str | None = None) -> dict[tuple[str, str], LinkPolarity]:
    """The polarity of every link of the causal graph, keyed by (cause id, effect id).

    `behaviour=True` runs the model (the baseline and every scenario, or only `scenario`)
    to settle links the structure cannot sign and to detect mixed ones. `stated` maps
    (cause, effect) names to '+' or '-'.

    >>> from sdmodels import Model
    >>> m = Model("logistic", stop=40, dt=0.25)
    >>> p = m.stock("Population", initial=1, non_negative=True)
    >>> _ = m.flow("Growth", 0.5 * p * (1 - p / 100), into=p)
    >>> pol = link_polarities(m)
    >>> pol["population", "growth"].structural, pol["population", "growth"].polarity
    ('unknown', 'mixed')
    """
    ir = build(model)
    graph = causal_graph(ir, constants=True, contract=False)
    edges = list(graph.edges)
    ranges = Ranges(ir, _overrides(params))
    seen, values, sample = {}, {}, None
    if behaviour:
        runs = simulate_runs(ir, params=params, scenario=scenario)
        seen, values = link_signs(ir, edges, runs, ranges.iv), runs.signs
        sample = lambda e, where=(): sample_signs(ir, e, runs, where)  # noqa: E731
    structure = Structure(ir, values, ranges=ranges, sample=sample)
    said = {}
    for (a, b), sign in (stated or {}).items():
        key = (ir.id_of(a, "stated link cause"), ir.id_of(b, "stated link effect"))
        if key not in graph.edges:
            raise ValueError(f"stated polarity for '{a}' -> '{b}': model '{ir.name}' has no "
                             f"such link ('{b}' does not read '{a}')")
        said[key] = _canonical_sign(sign)
    out, switched = {}, None
    for u, v in edges:
        s = structural_sign(ir, u, v, structure)
        note, conflict = "", False
        if s == 0:        # no effect with these constants: the sign once a switch is on
            switched = switched or Structure(ir, values, sample=sample, ranges=Ranges(
                ir, _overrides(params), open_zeros=True))
            s = structural_sign(ir, u, v, switched)
            note = "no effect with the model's constants; the sign once it acts" if s else ""
        struct = SYMBOL.get(s, "unknown")
        obs, claim = seen.get((u, v)), said.get((u, v))
        if struct != "unknown":
            final = struct
            if obs in ("mixed", SYMBOL[-s]):
                note = f"the run showed {obs} where the equations say {struct}"
        elif obs is not None:
            final = obs
            note = "sign from the simulated run"
        else:
            final = "unknown"
        if claim is not None:
            against = struct if struct != "unknown" else obs
            if against is not None and against != claim:
                conflict = True
                note = (f"stated {claim} but the {'equations' if struct != 'unknown' else 'run'} "
                        f"say {against}")
            elif struct == "unknown":
                final, note = claim, "stated by the modeller"
        out[u, v] = LinkPolarity(u, v, final, struct, obs, claim, conflict, note)
    for u, v, data in causal_graph(ir, constants=True).edges(data=True):
        if data["paths"] != ((),):
            out[u, v] = _across(u, v, data["paths"], out)
    return out


def _product(signs: list[str]) -> str:
    if any(s not in ("+", "-") for s in signs):
        return "mixed" if "mixed" in signs else "unknown"
    return "-" if sum(s == "-" for s in signs) % 2 else "+"


def _across(u: str, v: str, paths, hops: dict) -> LinkPolarity:
    """A link contracted across internal elements: the product of its hops' signs."""
    finals, structs = [], []
    for via in paths:
        chain = [u, *via, v]
        links = [hops[a, b] for a, b in zip(chain, chain[1:])]
        finals.append(_product([l.polarity for l in links]))
        structs.append(_product([l.structural for l in links]))
    final = finals[0] if len(set(finals)) == 1 else "unknown"
    struct = structs[0] if len(set(structs)) == 1 else "unknown"
    return LinkPolarity(u, v, final, struct, note="through " + ", ".join(
        "/".join(p) for p in paths if p))
