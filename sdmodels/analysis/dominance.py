"""Loop dominance: which loop drove the behaviour, and when (Loops That Matter).

For every causal link x -> z and every step of a recorded run (see `evaluate.record`):

- instantaneous links (into an auxiliary or a flow): the link score is
  ``|Δx z / Δz| * sign(Δx z / Δx)``, where ``Δx z`` re-evaluates z's equation with only x
  moved on by one step (every other input, and the time, held), and is 0 when x or z does
  not change;
- flow -> stock links (the 2023 correction): ``± |Δf / Δnet|``, the change of the flow over
  the change of the stock's net flow, + for an inflow and - for an outflow; it does not
  depend on how the flows of a stock are split.

A loop's score is the product of its link scores; its relative score divides by the sum
of the absolute scores of every loop in its cycle partition (strongly connected component),
so relative scores lie in [-1, 1] and their absolute values add up to 1. Links that run
through the internal stocks of a delay or smooth are scored stage by stage and multiplied
(path scores); arrayed links are matrices, one score per (effect element, cause element),
and a loop over arrayed variables scores the trace of their product (all its element
loops together). The score labelled t describes the step from t to t + dt (Stella's
convention; Simlin labels the same number t + dt); reported at a coarser interval (the
model's saveper), it describes the change over that interval.

Samplers, pipelines and rolling windows show their input's value at an earlier step: a
link into one is scored over that earlier interval and a loop through them is followed
back in time, so a loop of discrete steps scores while it acts; a SAMPLE IF TRUE's
condition scores at once, where it switches the sampler on (`sdmodels.analysis.held`).

When a model has too many loops to enumerate, `discover_loops` finds the strongest loops
in windows of the run by a strongest-first search over link scores (Eberlein & Schoenberg
2020). Loops through a delay count once (Simlin counts each path through the delay's
internal stocks as a loop, so its shares differ on such models).

References: W. Schoenberg, P. Davidsen, R. Eberlein, "Understanding model behavior using
the Loops that Matter method", System Dynamics Review 36(2), 2020. W. Schoenberg,
J. Hayward, R. Eberlein, "Improving Loops that Matter", System Dynamics Review 39(2),
2023. R. Eberlein, W. Schoenberg, "Finding the Loops that Matter", ISDC 2020.

>>> from sdmodels import Model
>>> m = Model("population", stop=5, dt=0.25)
>>> p = m.stock("Population", initial=100)
>>> _ = m.flow("Births", 0.1 * p, into=p)
>>> _ = m.flow("Deaths", p / 20, out_of=p)
>>> d = dominance(m)
>>> d.relative.iloc[0].round(4).to_dict()
{'R1': 0.6667, 'B1': -0.3333}
"""
from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd

from sdmodels.analysis.evaluate import Trace, record
from sdmodels.analysis.graph import causal_graph
from sdmodels.analysis import held
from sdmodels.analysis.dominance_result import Dominance
from sdmodels.elements import Aux, SampleIfTrue, Stock
from sdmodels.errors import ModelError
from sdmodels.expr import Ref

_ZERO = 1e-12          # a change smaller than this fraction of the value counts as none


def _change(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """b - a, with changes at the level of rounding error set to exactly 0."""
    d = b - a
    return np.where(np.abs(d) <= _ZERO * np.maximum(np.abs(a), np.abs(b)), 0.0, d)


def _partial(moved: np.ndarray, base: np.ndarray) -> np.ndarray:
    """moved - base, with changes at the level of rounding error set to exactly 0."""
    part = moved - base
    return np.where(np.abs(part) <= _ZERO * np.abs(base), 0.0, part)


def _ratio(part: np.ndarray, whole: np.ndarray) -> np.ndarray:
    """|part / whole|, 0 where part is 0, inf where only the whole is 0."""
    with np.errstate(all="ignore"):
        out = np.abs(part / whole)
    return np.where(part == 0.0, 0.0, out)


class LinkScorer:
    """Link scores between the columns of one `Trace`, computed once each.

    `rows` are the steps k scored, each over k -> k + `span` (default: every step, over
    one dt). A score reads the two recorded rows k and k + span and nothing else (or,
    through held elements, the two rows their change came from), so scoring only the
    reported steps costs no more than they need.
    """

    def __init__(self, trace: Trace, rows: np.ndarray | None = None, span: int = 1):
        self.trace = trace
        last = len(trace.times) - span
        self.rows = np.arange(last) if rows is None else np.asarray(rows, dtype=np.int64)
        # shift -> the (from, to) rows scored: () is the reported intervals; a shift names
        # the held columns a change went through, downstream first (sdmodels.analysis.held)
        # (the first such tuple found for those rows: `extend`)
        self._pairs: dict[tuple[int, ...], tuple[np.ndarray, np.ndarray]] = {
            (): (self.rows, self.rows + span)}
        self._sources: dict[int, np.ndarray] = {}
        self._same_pair: dict[bytes, tuple[int, ...]] = {
            self.rows.tobytes() + (self.rows + span).tobytes(): ()}
        self._delta: dict[tuple[int, tuple], np.ndarray] = {}
        self._cache: dict[tuple[int, int, tuple], np.ndarray] = {}
        self._matrices: dict[tuple[str, str, tuple], dict] = {}
        self._inputs: dict[int, set[int]] = {}
        self._paths: dict[tuple[str, str], list[tuple[int, ...]]] = {}
        self.held = frozenset(c for c in range(len(trace.slots)) if held.is_held(trace, c))
        self._carries: dict[tuple[str, str], bool] = {}
        self.unscored: list[str] = []          # why some links score 0 (not replayable)

    @property
    def steps(self) -> int:
        return len(self.rows)

    def source(self, column: int) -> np.ndarray:
        """A held column's source rows (`held.source_rows`), computed once."""
        found = self._sources.get(column)
        if found is None:
            found = self._sources[column] = held.source_rows(self.trace, column)
        return found

    def extend(self, shift: tuple[int, ...], column: int) -> tuple[int, ...]:
        """The shift one step further back, through held column `column`; shifts that
        give the same intervals are one (the first found), so their scores are shared."""
        a, b = self.pair(shift)
        src = self.source(column)
        a, b = src[a], src[b]
        key = a.tobytes() + b.tobytes()
        found = self._same_pair.get(key)
        if found is None:
            found = self._same_pair[key] = shift + (column,)
            self._pairs[found] = (a, b)
        return found

    def pair(self, shift: tuple[int, ...] = ()) -> tuple[np.ndarray, np.ndarray]:
        """The rows each scored interval runs from and to, after a shift (from `extend`)."""
        return self._pairs[shift]

    def delta(self, column: int, shift: tuple[int, ...] = ()) -> np.ndarray:
        """The change of a column over each scored step (rounding-level changes are 0)."""
        found = self._delta.get((column, shift))
        if found is None:
            a, b = self.pair(shift)
            found = self._delta[(column, shift)] = _change(self.trace.values[a, column],
                                                          self.trace.values[b, column])
        return found

    def inputs(self, column: int) -> set[int]:
        """The columns a column is computed from at each step."""
        found = self._inputs.get(column)
        if found is None:
            t = self.trace
            slot = t.slots[column]
            var = t.ir.variables[slot.var]
            if isinstance(var, Stock):
                found = {t.index[(f, slot.key)] for f in var.inflows + var.outflows}
            elif isinstance(var, held.HELD):
                found = held.held_inputs(t, column) | held.condition_inputs(t, column)
            else:
                found = t.references(column)
            self._inputs[column] = found
        return found

    def score(self, cause: int, effect: int, shift: tuple[int, ...] = ()) -> np.ndarray:
        """The link score cause -> effect at each step (length: times - 1)."""
        key = (cause, effect, shift)
        if key not in self._cache:
            self._cache[key] = self._score(cause, effect, shift)
        return self._cache[key]

    def _score(self, cause: int, effect: int, shift: tuple[int, ...]) -> np.ndarray:
        t = self.trace
        slot = t.slots[effect]
        var = t.ir.variables[slot.var]
        if isinstance(var, Stock):
            sign = 1.0 if t.slots[cause].var in var.inflows else -1.0
            net = sum(self.delta(t.index[(f, slot.key)], shift) for f in var.inflows) - sum(
                self.delta(t.index[(f, slot.key)], shift) for f in var.outflows)
            return sign * _ratio(self.delta(cause, shift), net)
        dz = self.delta(effect, shift)
        # a SAMPLE IF TRUE's input passes on what its condition's links do not release
        sampled_if = isinstance(var, SampleIfTrue)
        share = held.input_share(self, effect, shift) if sampled_if else 1.0
        if isinstance(var, held.HELD):
            # its change is its input's over the source interval: move the cause there
            try:
                shift = self.extend(shift, effect)
            except ModelError as exc:       # a schedule (elements.Schedule): no one source
                self.unscored.append(str(exc))
                return np.zeros(self.steps)
        rows, after = self.pair(shift)
        dx = self.delta(cause, shift)
        override = {cause: t.values[after, cause]}
        try:
            if isinstance(var, held.HELD):
                expr, binding = t.held_input(effect)
                own = {effect: held.so_far(t, effect)[rows]} if sampled_if else {}
                base = t.evaluate_expr(expr, binding, var.display, rows=rows, override=own)
                moved = t.evaluate_expr(expr, binding, var.display, rows=rows,
                                        override={**own, **override})
            else:
                base = t.values[rows, effect]
                moved = t.evaluate(effect, rows=rows, override=override)
        except ModelError as exc:           # random draws, array built-ins: not replayed
            self.unscored.append(str(exc))
            return np.zeros(self.steps)
        part = _partial(moved, base)
        with np.errstate(all="ignore"):
            sign = np.sign(part) * np.sign(dx)
            return np.where((dx == 0.0) | (dz == 0.0), 0.0, _ratio(part, dz) * sign * share)

    def paths(self, cause: str, effect: str) -> list[tuple[int, ...]]:
        """Column paths from variable `cause` to variable `effect` whose inner columns
        are internal (delay stages, smooth stocks, net flows): each a tuple of columns."""
        found = self._paths.get((cause, effect))
        if found is not None:
            return found
        t = self.trace
        sources = set(t.columns_of[cause])
        out: list[tuple[int, ...]] = []

        def back(path: tuple[int, ...]):
            for c in sorted(self.inputs(path[0])):
                if c in path:
                    continue
                if c in sources:
                    out.append((c,) + path)
                elif t.ir.variables[t.slots[c].var].internal:
                    back((c,) + path)
        for e in t.columns_of[effect]:
            back((e,))
        self._paths[(cause, effect)] = out
        return out

    def carries_held(self, cause: str, effect: str) -> bool:
        """Whether a change from `cause` reaches `effect` through a held column."""
        found = self._carries.get((cause, effect))
        if found is None:
            found = self._carries[(cause, effect)] = any(
                c in self.held for p in self.paths(cause, effect) for c in p[1:])
        return found

    @np.errstate(invalid="ignore")     # inf x 0 on a path (a link that did not move): NaN, 0 below
    def link_parts(self, cause: str, effect: str, shift: tuple[int, ...] = ()) -> dict:
        """Scores of a variable-level link over the intervals `shift` names, split by the
        shift its paths leave upstream (the held columns they run through, downstream
        first): {upstream shift: (steps, effect elements, cause elements)}. Each matrix
        entry is the sum over internal paths of the product of their column link scores;
        the links before a held column on a path are scored over its source interval."""
        found = self._matrices.get((cause, effect, shift))
        if found is not None:
            return found
        t = self.trace
        rows = {c: i for i, c in enumerate(t.columns_of[effect])}
        cols = {c: j for j, c in enumerate(t.columns_of[cause])}
        out: dict[tuple[int, ...], np.ndarray] = {}
        paths = self.paths(cause, effect)
        copies = self._copies(paths, shift)
        for path, via in ((p, v) for p in paths for v in held.ways(self, p)):
            # shifts[j]: the intervals link path[j] -> path[j + 1] is scored over (a link
            # into a SAMPLE IF TRUE's condition, `via`, acts at once: no move back in time)
            shifts, here = [shift] * (len(path) - 1), shift
            try:
                for j in range(len(path) - 2, -1, -1):
                    shifts[j] = here
                    if path[j + 1] in self.held and not via[j]:
                        here = self.extend(here, path[j + 1])
            except ModelError as exc:       # through a schedule: no one source step
                self.unscored.append(str(exc))
                continue
            product = 1.0
            for k, (a, b) in enumerate(zip(path, path[1:])):
                found = None if via[k] else copies.get((a, b))
                if found is None:
                    found = held.condition_score(self, a, b, shifts[k]) if via[k] else \
                        self.score(a, b, shifts[k])
                product = product * found
            matrix = out.setdefault(here, np.zeros((self.steps, len(rows), len(cols))))
            matrix[:, rows[path[-1]], cols[path[0]]] += np.where(np.isnan(product), 0.0, product)
        self._matrices[(cause, effect, shift)] = out
        return out

    def memo(self, key: tuple, compute):
        """compute(), once per key."""
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]

    def held_behind(self, column: int) -> int | None:
        """The held column a column is, or copies (an auxiliary whose equation is only the
        name of a held value, as `m.aux("W", rolling_max(x, 60))` builds); else None."""
        def compute():
            if column in self.held:
                return column
            t = self.trace
            found = t.equation(column)
            refs = t.references(column) if isinstance(
                t.ir.variables[t.slots[column].var], Aux) and isinstance(found[0], Ref) else ()
            return self.held_behind(next(iter(refs))) if len(refs) == 1 else None
        return self.memo(("behind", column), compute)

    def copies_of(self, effect: int) -> dict[int, tuple[int, ...]]:
        """The columns `effect` reads that are or copy a held column, by the cause column
        that one holds an earlier value of: {cause column: columns read}, only causes with
        two or more. A stateful call written inline (an internal held column) and the same
        call as an auxiliary of its own (a copy of it) count alike, so both score alike."""
        def compute():
            found: dict[int, list[int]] = {}
            for x in sorted(self.inputs(effect)) if self.trace.equation(effect) else ():
                h = self.held_behind(x)
                for c in () if h is None else sorted(self.inputs(h)):
                    found.setdefault(c, []).append(x)
            return {c: tuple(xs) for c, xs in found.items() if len(xs) > 1}
        return self.memo(("copies", effect), compute)

    def _copies(self, paths, shift: tuple[int, ...]) -> dict[tuple[int, int], np.ndarray]:
        """Link scores held copy -> effect where one cause column reaches an effect column
        through several held copies of itself (a rolling min and a rolling max of one
        recommendation): the cause moves in all of them at once, as LTM moves a cause
        wherever an equation reads it (min(max(x, ...), max(x over 5 min)) stays put when
        one copy moves alone), and the change is shared among the copies by their
        changes. The copies are what the effect reads of that cause through held columns,
        written inline or as auxiliaries (`copies_of`): a path cause -> held -> effect, or
        copy -> effect where the link's cause is (or copies) a held column of one input."""
        out: dict[tuple[int, int], np.ndarray] = {}
        for p in paths:
            h = self.held_behind(p[0]) if len(p) == 2 else None
            if len(p) == 3 and p[1] in self.held:
                cause, copy = p[0], p[1]
            elif h is not None and len(self.inputs(h)) == 1:
                cause, copy = next(iter(self.inputs(h))), p[0]
            else:
                continue
            group = self.copies_of(p[-1]).get(cause, ())
            if copy in group:
                out[(copy, p[-1])] = self._copy_scores(group, p[-1], shift)[copy]
        return out

    def _copy_scores(self, copies: tuple[int, ...], effect: int,
                     shift: tuple[int, ...]) -> dict[int, np.ndarray]:
        """copy -> effect scores of held copies (`_copies`), computed once: where the
        changes each passes on alone add up to the change they pass on together, each its
        ceteris-paribus score (the method's own); where they do not (a tie inside a min or
        max, where each alone passes nothing), the joint change shared among them by the
        mean of what each adds first and last (the Shapley value for two copies; a copy
        the effect does not read then gets nothing), else by their changes."""
        def compute():
            t = self.trace
            rows, after = self.pair(shift)
            base = t.values[rows, effect]

            def moved(columns):
                try:
                    return _partial(t.evaluate(effect, rows=rows, override={
                        h: t.values[after, h] for h in columns}), base)
                except ModelError as exc:
                    self.unscored.append(str(exc))
                    return np.zeros_like(base)
            joint, alone = moved(copies), [moved((h,)) for h in copies]
            last = [joint - moved(tuple(c for c in copies if c != h)) for h in copies]
            changes = [self.delta(h, shift) for h in copies]
            mean = [(a + b) / 2 for a, b in zip(alone, last)]
            total, weight = sum(mean), sum(np.abs(c) for c in changes)
            with np.errstate(all="ignore"):
                share = [np.where(total != 0.0, joint * m / total, joint * np.abs(dh) / weight)
                         for m, dh in zip(mean, changes)]
                own = np.isclose(sum(alone), joint, rtol=1e-9, atol=0.0)
                dz = self.delta(effect, shift)
                return {h: np.where((dh == 0.0) | (dz == 0.0), 0.0, _ratio(part, dz) * np.sign(
                    part) * np.sign(dh)) for h, dh, part in
                    zip(copies, changes, (np.where(own, a, s) for a, s in zip(alone, share)))}
        return self.memo(("copy scores", copies, effect, shift), compute)

    def link_matrix(self, cause: str, effect: str) -> np.ndarray:
        """Scores of a variable-level link over the reported intervals: (steps, effect
        elements, cause elements), summed over its paths."""
        parts = self.link_parts(cause, effect)
        if len(parts) == 1:
            return next(iter(parts.values()))
        t = self.trace
        return sum(parts.values(), np.zeros((self.steps, len(t.columns_of[effect]),
                                             len(t.columns_of[cause]))))


def loop_score(scorer: LinkScorer, variables: tuple[str, ...]) -> np.ndarray:
    """The score of one loop (variable ids in loop order) at each step; a loop through
    held elements is followed back in time through them (`held.held_loop_score`)."""
    shifted = held.held_loop_score(scorer, variables)
    if shifted is not None:
        return shifted
    matrices = [scorer.link_matrix(a, b) for a, b in zip(variables, variables[1:] + variables[:1])]
    with np.errstate(all="ignore"):
        if all(m.shape[1:] == (1, 1) for m in matrices):        # scalar links: a product
            out = matrices[0][:, 0, 0].copy()
            for m in matrices[1:]:
                out *= m[:, 0, 0]
        else:
            product = matrices[0]
            for m in matrices[1:]:
                product = np.matmul(m, product)
            out = np.trace(product, axis1=1, axis2=2)
    return np.where(np.isnan(out), 0.0, out)


def relative_scores(scores: np.ndarray, groups: list[int]) -> np.ndarray:
    """Each loop's score over the sum of |scores| of its group, per step (rows)."""
    out = np.zeros_like(scores)
    groups = np.asarray(groups)
    for g in np.unique(groups):
        cols = np.flatnonzero(groups == g)
        s = scores[:, cols]
        infinite = np.isinf(s)
        with np.errstate(all="ignore"):
            total = np.abs(np.where(infinite, 0.0, s)).sum(axis=1, keepdims=True)
            rel = np.where(total > 0, np.where(infinite, 0.0, s) / total, 0.0)
            n_inf = infinite.sum(axis=1, keepdims=True)
            rel = np.where(n_inf > 0, np.sign(s) * infinite / np.maximum(n_inf, 1), rel)
        out[:, cols] = rel
    return out


def dominance(model, *, loops=None, scenario: str | None = None, params: dict | None = None,
              trace: Trace | None = None, every: int | None = None,
              max_loops: int = 2000) -> Dominance:
    """Loop scores and relative loop scores over time for one run of `model`.

    `loops` is a `LoopSet` (default: every loop, or the strongest loops found by
    `discover_loops` when the model has more than `max_loops`); `trace` reuses a
    recorded run (recorded at every dt). Scores are reported every `every` steps (default:
    the model's saveper), each over the `every` steps that follow: `every=1` is the
    papers' per-dt score; loops through discrete controllers score in the intervals in
    which their change arrives (a sampler's loop scores 0 between its ticks, see
    `sdmodels.analysis.held`).
    """
    from sdmodels.analysis.loops import find_loops
    import warnings
    if trace is None:
        trace = record(model, scenario=scenario, params=params)
    ir = trace.ir
    scenario = scenario if scenario is not None else trace.scenario
    if len(trace.times) < 2:
        raise ModelError(f"model '{ir.name}': a run of one step has no change to explain")
    step = min(every or max(1, int(round(ir.saveper / trace.dt))), len(trace.times) - 1)
    keep = np.arange(0, len(trace.times) - step, step)
    scorer = LinkScorer(trace, keep, step)
    notices: list[str] = []
    if loops is None:
        from sdmodels.analysis.polarity import link_polarities
        polarities = link_polarities(ir, behaviour=False)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            loops = find_loops(ir, max_loops=max_loops, polarities=polarities)
        if not loops.complete:
            from sdmodels.analysis.discovery import discover_loops
            loops = discover_loops(trace, loops, polarities=polarities)
            notices.append(f"model '{ir.name}' has more than {max_loops} loops: scored the "
                           f"{len(loops)} strongest found by discovery (strongest path)")
    graph = causal_graph(ir)
    component = {}
    for k, comp in enumerate(sorted((sorted(c) for c in nx.strongly_connected_components(graph)
                                     if len(c) > 1))):
        component.update({v: k for v in comp})
    columns = [l.id for l in loops]
    raw = np.column_stack([loop_score(scorer, l.variables) for l in loops]) if len(loops) \
        else np.zeros((scorer.steps, 0))
    notices += [f"link scores set to 0: {why}" for why in sorted(set(scorer.unscored))]
    groups = [component.get(l.variables[0], -1) for l in loops]
    rel = relative_scores(raw, groups)
    times = pd.Index(trace.times[keep], name="time")
    shown = [v.id for v in ir.variables.values() if not v.internal and v.id in trace.columns_of]
    # arrayed variables: the total over their elements
    rows = trace.values[keep]
    behaviour = pd.DataFrame({ir.display(v): rows[:, trace.columns_of[v]].sum(axis=1)
                              for v in shown}, index=times)
    links = {(a, b): scorer.link_matrix(a, b).sum(axis=(1, 2))
             for loop in loops for a, b in loop.edges}
    return Dominance(ir.name, scenario, tuple(loops),
                     pd.DataFrame(raw, index=times, columns=columns),
                     pd.DataFrame(rel, index=times, columns=columns),
                     tuple(groups), links, behaviour, tuple(notices), ir)
