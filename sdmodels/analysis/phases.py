"""Dominance phases: the time spans in which one loop, or a few, explain most behaviour.

The rule, at each reported time: take the loops that move the chosen variable (those
through it, or for an output on no loop those through its nearest upstream variables on
loops; every loop when none is chosen, see `relevant_loops`), rescale
their relative loop scores so their absolute values add up to 1, and call dominant the
fewest loops, strongest first, whose absolute shares reach `threshold` (one half, the
papers' rule: a dominant loop or set explains at least 50 % of the change). A time at which
no loop changes anything (equilibrium) has no dominant loop. Consecutive times with the
same dominant set make a phase; a phase shorter than `min_fraction` of the horizon is
merged into the phase before it (or after it, at the start), so that flickering at
dominance shifts does not break the story into slivers; a short span in which loops are
active between two quiet ones (a trigger) is kept. A quiet span between two spans led by
the same loops through discrete elements (a controller between its decisions) joins them.

Each phase reports its loops with their runtime polarity: the sign of the loop's score
in the phase (R when positive, B when negative), which is how a loop the equations
cannot sign (U) behaves in that phase, and, for such loops, the runtime sign of each
link that makes them U. A dominant loop whose sign turns with the operating point starts
a new phase where it turns (one net flow r P (1 - P/K): R below K/2, B above).

>>> from sdmodels import Model
>>> from sdmodels.analysis.dominance import dominance
>>> m = Model("logistic", stop=60, dt=0.125)
>>> p = m.stock("Population", initial=10)
>>> room = m.aux("Room to grow", 1 - p / m.constant("Capacity", 1000))
>>> _ = m.flow("Net growth", 0.2 * p * room, into=p)
>>> phases(dominance(m))[["start", "end", "loops", "polarity"]]
   start     end loops polarity
0   0.00  23.125    U1        R
1  23.25  59.875    U2        B
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import networkx as nx
import numpy as np
import pandas as pd

from sdmodels.analysis.graph import causal_graph


def state_memory(loop) -> bool:
    """A discrete element's memory, not a feedback loop: a value and its next value
    closed by a one-step pipeline (``X = DELAY FIXED(Next X, TIME STEP)``), as a counter
    or a controller's mode is kept. Like a stock's own integration it moves whenever its
    inputs do, so it would take the lead in every phase without saying anything."""
    from sdmodels.analysis.graph import expr_text
    from sdmodels.expr import TimeStep
    one_step = expr_text(TimeStep())
    return loop.length == 2 and any(x.kind == "delay_fixed" and x.time_text == one_step
                                    for x in loop.delays)


def relevant_loops(d, variable: str | None, ir=None) -> list[int]:
    """Positions (in `d.loops`) of the loops that move `variable`: the loops through it;
    for a variable on no loop (an output), the loops through the nearest variables
    upstream of it that are on loops; every loop when no variable is chosen. The
    memories of discrete elements (`state_memory`) are left out.

    Why not every loop upstream: a loop elsewhere moves the variable only through the
    loops and links between them, and a fast local loop there (a queue draining in
    another module) would take most of the share without saying what drove the variable.
    """
    loops = [k for k, l in enumerate(d.loops) if not state_memory(l)]
    if variable is None:
        return loops
    if ir is None:
        raise ValueError("give the model's IR to choose loops by variable")
    target = ir.id_of(variable, "variable")
    graph = causal_graph(ir)
    frontier, seen = {target}, {target}
    while frontier:
        found = [k for k in loops if frontier & set(d.loops[k].variables)]
        if found:
            return found
        frontier = {p for v in frontier if v in graph for p in graph.predecessors(v)} - seen
        seen |= frontier
    return []


def variable_shares(d, variable: str | None) -> pd.DataFrame:
    """The relative scores of the loops that move `variable` (`relevant_loops`), rescaled
    at each time so that their absolute values add up to 1 (0 where none moves): each
    loop's signed share of the change of that variable (time x loop id)."""
    cols = relevant_loops(d, variable, d.ir)
    rel = d.relative.iloc[:, cols]
    total = rel.abs().sum(axis=1).replace(0.0, np.nan)
    return rel.div(total, axis=0).fillna(0.0)


def dominant_sets(relative: np.ndarray, threshold: float) -> list[tuple[int, ...]]:
    """At each row, the fewest columns, strongest first, whose |shares| reach threshold."""
    out = []
    for row in np.abs(relative):
        total = row.sum()
        if not total > 0:
            out.append(())
            continue
        share = row / total
        order = np.lexsort((np.arange(len(row)), -share))
        picked, acc = [], 0.0
        for k in order:
            picked.append(int(k))
            acc += share[k]
            if acc >= threshold - 1e-12:
                break
        out.append(tuple(sorted(picked)))
    return out


def _runs(labels: list) -> list[list[int]]:
    """[first, last, label] of each run of equal labels."""
    runs: list[list] = []
    for k, lab in enumerate(labels):
        if runs and runs[-1][2] == lab:
            runs[-1][1] = k
        else:
            runs.append([k, k, lab])
    return runs


def _merge_short(runs: list[list], times: np.ndarray, shortest: float) -> list[list]:
    """Merge runs shorter than `shortest` into a neighbour, the shortest first.

    A quiet span (no loop active) joins its neighbour; an active span joins only an active
    neighbour, so that a brief take-over between two quiet spans (a trigger) is kept.
    """
    def quiet(label) -> bool:
        return not label

    while len(runs) > 1:
        lengths = [times[min(b + 1, len(times) - 1)] - times[a] for a, b, _ in runs]
        candidates = []
        for k in np.argsort(lengths, kind="stable"):
            if lengths[k] >= shortest:
                break
            sides = [j for j in (k - 1, k + 1) if 0 <= j < len(runs)
                     and (quiet(runs[k][2]) or not quiet(runs[j][2]))]
            if sides:
                candidates.append((int(k), sides[0]))
                break
        if not candidates:
            return runs
        k, into = candidates[0]
        lo, hi = min(runs[k][0], runs[into][0]), max(runs[k][1], runs[into][1])
        runs[into] = [lo, hi, runs[into][2]]
        del runs[k]
        merged = [runs[0]]
        for r in runs[1:]:                           # neighbours that now agree join up
            if r[2] == merged[-1][2]:
                merged[-1][1] = r[1]
            else:
                merged.append(r)
        runs = merged
    return runs


def _join_waits(runs: list[list], loops) -> list[list]:
    """A quiet span between two spans led by the same loops through discrete elements
    (samplers, pipelines, rolling windows) joins them: the controller waiting for its next
    decision, not a pause of the story."""
    from sdmodels.analysis.held import discrete_loop
    k = 1
    while k < len(runs) - 1:
        before, quiet, after = runs[k - 1], runs[k], runs[k + 1]
        if not quiet[2] and before[2] and before[2] == after[2] and all(
                discrete_loop(loops[j]) for j, _sign in before[2]):
            runs[k - 1:k + 2] = [[before[0], after[1], before[2]]]
        else:
            k += 1
    return runs


def phases(d, variable: str | None = None, *, threshold: float = 0.5,
           min_fraction: float = 0.02, ir=None) -> pd.DataFrame:
    """The dominance phases of a `Dominance`: one row per phase (see the module doc).

    Columns: start, end, loops (ids, ' + '-joined), names, polarity (runtime, per loop),
    in_phase (per loop, '; '-joined: the runtime polarity first, then for a loop the
    equations cannot sign its structural polarity and the links that make it so, see
    `polarity_in_phase`), share (the dominant loops' part of the change among the loops
    that move the variable, averaged over the times in the phase at which any of them
    moved), why_unknown.
    """
    if ir is not None and d.ir is None:
        d = replace(d, ir=ir)
    cols = relevant_loops(d, variable, d.ir)
    shares = variable_shares(d, variable).to_numpy()
    scaled = np.abs(shares)
    where = {c: k for k, c in enumerate(cols)}
    times = d.relative.index.to_numpy()
    # a dominant loop with its sign then: a loop whose sign depends on the operating point
    # starts a new phase when it turns
    sets = [tuple((cols[k], "R" if shares[t, k] > 0 else "B") for k in s)
            for t, s in enumerate(dominant_sets(scaled, threshold))]
    runs = _merge_short(_runs(sets), times, min_fraction * (times[-1] - times[0]))
    runs = _join_waits(runs, d.loops)
    rows = []
    for a, b, label in runs:
        span = slice(a, b + 1)
        members = [k for k, _sign in label]
        loops = [d.loops[k] for k in members]
        # averaged over the times something moved: between a sampler's ticks nothing does
        active = scaled[span].sum(axis=1) > 0
        share = float(scaled[span][active][:, [where[k] for k in members]].sum(axis=1).mean()) \
            if members and active.any() else 0.0
        rows.append({"start": float(times[a]), "end": float(times[b]),
                     "loops": " + ".join(l.id for l in loops) or "-",
                     "names": " + ".join(l.name or l.id for l in loops) or "no loop active",
                     "polarity": " ".join(sign for _k, sign in label) or "-",
                     "in_phase": "; ".join(polarity_in_phase(d, l, sign, span)
                                           for l, (_k, sign) in zip(loops, label)) or "-",
                     "share": round(share, 4),
                     "why_unknown": "; ".join(_runtime_links(d, l, span) for l in loops
                                              if l.polarity == "U")})
    return pd.DataFrame(rows, columns=["start", "end", "loops", "names", "polarity", "in_phase",
                                       "share", "why_unknown"])


def polarity_in_phase(d, loop, sign: str, span: slice) -> str:
    """A loop's polarity in a phase, runtime first: 'R in this phase', and for a loop the
    equations cannot sign, what it is by structure and the links that make it so, each
    with the sign it ran with then.

    >>> from sdmodels import Model
    >>> from sdmodels.analysis.dominance import dominance
    >>> m = Model("one net flow", stop=40, dt=0.25)
    >>> p = m.stock("P", initial=10)
    >>> _ = m.flow("Net", 0.2 * p * (1 - p / 1000), into=p)
    >>> d = dominance(m)
    >>> polarity_in_phase(d, d.loops[0], "B", slice(100, 150))
    'B in this phase (structurally U: links P -> Net ran -)'
    """
    text = f"{sign} in this phase"
    if loop.polarity == sign:
        return text
    links = ", ".join(f"{a} -> {b} ran {s}" for a, b, _p, s in _unsigned_links(d, loop, span))
    return text + f" (structurally {loop.polarity}" + (f": links {links})" if links else ")")


def _unsigned_links(d, loop, span: slice) -> list[tuple[str, str, str, str]]:
    """For a loop's links the equations cannot sign: (cause, effect, polarity by
    structure, the sign its score took on average in the span: +, - or 0)."""
    name = d.ir.display if d.ir is not None else str
    out = []
    for (a, b), link in zip(loop.edges, loop.links):
        if link.polarity in ("+", "-"):
            continue
        series = d.links.get((a, b))
        m = float(np.nanmean(series[span])) if series is not None else 0.0
        out.append((name(a), name(b), link.polarity, "+" if m > 0 else "-" if m < 0 else "0"))
    return out


def _runtime_links(d, loop, span: slice) -> str:
    """For a U loop: each unsigned link with the sign its score took in the phase."""
    return f"{loop.id}: " + ", ".join(f"{a} -> {b} ({p}, ran {s})"
                                      for a, b, p, s in _unsigned_links(d, loop, span))


def still_links(d, loop) -> list[tuple[str, str]]:
    """The links of `loop` (variable ids) whose score was 0 at every reported time: where a
    loop that never scored is cut (a limit, a threshold or a clamp holding the effect)."""
    out = []
    for a, b in loop.edges:
        series = d.links.get((a, b))
        if series is None or not np.any(np.nan_to_num(np.asarray(series)) != 0):
            out.append((a, b))
    return out


def held_still(variables: pd.DataFrame, names, *, share: float = 0.25):
    """[(name, since, value, "largest"|"smallest"|""), ...]: of `names` (columns of a run),
    those that changed and then held one value to the end for at least `share` of the run,
    the longest held first; the last item says whether that value is the run's extreme.

    >>> run = pd.DataFrame({"a": [0, 1, 1, 1], "b": [0, 1, 2, 3], "c": [5, 5, 5, 5]},
    ...                    index=[0.0, 1.0, 2.0, 3.0])
    >>> held_still(run, ["a", "b", "c"])
    [('a', 1.0, 1.0, 'largest')]
    """
    times = variables.index.to_numpy(dtype=float)
    span = times[-1] - times[0]
    out = []
    for name in names:
        if name not in variables:
            continue
        x = variables[name].to_numpy(dtype=float)
        moved = np.flatnonzero(x[1:] != x[:-1])
        if not moved.size or span <= 0:
            continue                          # never changed: not held, idle
        since = times[moved[-1] + 1]
        if times[-1] - since < share * span:
            continue
        end = x[-1]
        extreme = ("largest" if end >= np.nanmax(x) else
                   "smallest" if end <= np.nanmin(x) else "")
        out.append((name, float(since), float(end), extreme))
    return sorted(out, key=lambda row: row[1])


def named_shares(d, variable: str | None = None) -> pd.DataFrame:
    """The named loops' relative scores rescaled among themselves (time x loop name); with
    `variable`, only the named loops that move it (`relevant_loops`).

    In a big model the strongest loop is often an unnamed variant of the named ones; among
    the loops the modeller named, this says which mechanism carried the change.
    """
    keep = set(relevant_loops(d, variable, d.ir))
    named = [l for k, l in enumerate(d.loops) if l.name and k in keep]
    rel = d.relative[[l.id for l in named]].abs()
    total = rel.sum(axis=1).replace(0.0, np.nan)
    out = rel.div(total, axis=0).fillna(0.0)
    out.columns = [l.name for l in named]
    return out


def takeover_order(d, variable: str | None = None, *, min_steps: int = 2) -> pd.DataFrame:
    """The named loops (that move `variable`, when given) in the order they first took the
    lead among them (the largest share of the change, held for at least `min_steps`
    reported times at which one of them moved it).

    Columns: name, first (time it first led), led (total time it led), peak (its largest
    share among the named loops). Named loops that never led are left out.
    """
    shares = named_shares(d, variable)
    times = shares.index.to_numpy()
    if shares.empty or len(times) < 2:
        return pd.DataFrame(columns=["name", "first", "led", "peak"])
    values = shares.to_numpy()
    step = float(times[1] - times[0])
    # the times at which some named loop moved it: a quiet time (between a discrete
    # controller's ticks, at an equilibrium) neither breaks nor extends a lead
    moved = np.flatnonzero(values.max(axis=1) > 0)
    leader = [shares.columns[int(np.argmax(values[k]))] for k in moved]
    first: dict[str, float] = {}
    led: dict[str, float] = {}
    for a, b, lab in _runs(leader):
        if b - a + 1 < min_steps:
            continue
        first.setdefault(lab, float(times[moved[a]]))
        led[lab] = led.get(lab, 0.0) + (b - a + 1) * step
    rows = [{"name": n, "first": first[n], "led": led[n], "peak": round(float(shares[n].max()), 4)}
            for n in sorted(first, key=lambda n: (first[n], n))]
    return pd.DataFrame(rows, columns=["name", "first", "led", "peak"])


@dataclass(frozen=True)
class Capped:
    """A link of a loop held at a bound: `effect` moved, `cause` moved, yet the link passed
    none of the cause's change on, because another input, `bound`, carried the effect's
    change then (a MIN/MAX, a clamp, a rate policy at its limit). Times are reported
    times (`first`, `last`); `times` of the effect's `moves` were held; `beyond` is
    cause / bound at the held time where they were farthest apart (above 1: held under
    a cap; below 1: held over a floor)."""
    cause: str
    effect: str
    bound: str
    first: float
    last: float
    times: int
    moves: int
    beyond: float


def capped_links(d, loop) -> list[Capped]:
    """The links of `loop` held at a bound from outside the loop (`Capped`), the most
    often held first.

    Why: Loops That Matter scores a link by the change its cause passes on, all else
    held (Schoenberg, Davidsen & Eberlein 2020, eq. 1); through MIN(x, cap) with the
    cap binding that change is 0, and a loop with a link at 0 scores 0 (an inactive
    link zeroes the loop). So a loop that keeps pushing a controller past its rate limit
    never scores while it does, and the reader must learn where it is held instead.
    Left out, as not held at a bound: a link that never passed a change on (a switch
    turned off for the whole run, see `still_links`), a link whose effect follows another
    variable of the same loop (a branch of the loop's own equations), and one whose cause
    and bound have different units (the effect chose between branches, it was not held
    back from the cause's value).

    >>> from sdmodels import Model, minimum
    >>> from sdmodels.analysis.dominance import dominance
    >>> m = Model("capped", stop=8, dt=1)
    >>> p = m.stock("P", initial=1)
    >>> want = m.aux("Wanted", p * (1 + p / 4))          # under the cap while P <= 4
    >>> _ = m.flow("Growth", minimum(want, m.aux("Cap", 2 * p)) - p, into=p)
    >>> m.name_loop("Demand", ["P", "Wanted", "Growth"])
    >>> d = dominance(m)
    >>> demand = next(l for l in d.loops if l.name == "Demand")
    >>> [(c.cause, c.effect, c.bound, c.first, c.times) for c in capped_links(d, demand)]
    [('Wanted', 'Growth', 'Cap', 5.0, 2)]
    """
    graph = causal_graph(d.ir)
    name = d.ir.display
    on_loop = set(loop.variables)
    out = []
    for a, b in loop.edges:
        na, nb = name(a), name(b)
        series = d.links.get((a, b))
        if series is None or na not in d.variables or nb not in d.variables:
            continue
        xa, xb = (d.variables[n].to_numpy(dtype=float) for n in (na, nb))
        moved_b = _moved(xb)
        score = np.nan_to_num(np.asarray(series, float))[:-1]
        cut = _moved(xa) & moved_b & (score == 0)
        if not cut.any() or not (score != 0).any():
            continue                    # never passed a change on: cut, not held at a bound
        carried = [(float(np.abs(np.nan_to_num(np.asarray(d.links[(c, b)], float))[:-1][cut])
                          .sum()), c) for c in graph.predecessors(b)
                   if c not in on_loop and (c, b) in d.links]
        carried = [(s, c) for s, c in carried if s > 0]
        if not carried:
            continue
        c = max(carried)[1]
        nc = name(c)
        units = [getattr(d.ir.variables[v], "units", "") for v in (a, c)]
        if nc not in d.variables or units[0] != units[1]:
            continue                    # not comparable: a branch, not a bound on the cause
        xc = d.variables[nc].to_numpy(dtype=float)[:-1][cut]
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.abs(xa[:-1][cut] / xc)
        ratio = ratio[np.isfinite(ratio) & (ratio > 0)]
        if not ratio.size or np.allclose(ratio, 1.0):
            continue                    # the cause stood at the bound: nothing held back
        far = np.maximum(ratio, 1 / ratio)
        beyond = round(float(ratio[int(np.argmax(far))]), 4)
        when = d.variables.index.to_numpy()[:-1][cut]
        out.append(Capped(na, nb, nc, float(when[0]), float(when[-1]), int(cut.sum()),
                          int(moved_b.sum()), beyond))
    return sorted(out, key=lambda x: (-x.times, x.first))


def _moved(x: np.ndarray) -> np.ndarray:
    """Whether a series changed over each reported interval (one fewer than its length)."""
    scale = max(1.0, float(np.nanmax(np.abs(x)))) if x.size else 1.0
    return np.abs(np.diff(x)) > 1e-12 * scale
