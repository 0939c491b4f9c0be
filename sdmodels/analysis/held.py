"""Loops That Matter through discrete elements: sample-and-hold, pipelines, rolling windows.

The method scores a link by the change it passes on over one interval (Schoenberg,
Davidsen & Eberlein 2020, SDR 36(2); flows into stocks as corrected by Schoenberg, Hayward
& Eberlein 2023, SDR 39(2)), and a loop by the product of its link scores over that same
interval. Simlin writes each link score with PREVIOUS(), one dt back, and scores a
black box without an equation the parent can see by its "signed unit transfer" (0 when
either end is unchanged, else the product of the signs; its design document,
docs/design/ltm--loops-that-matter.md): what sdmodels did for held elements before. That is
right while every link passes change on at once. A discrete element does not: a sampler's output jumps at a tick, by its
input's change since the previous tick; a pipeline's output moves one delay after its
input did; a rolling maximum moves by the change of the value it now reports. A loop
through a 15 s scrape, a 15 s sync and a 60 s start-up then has some link at rest in every
interval, and its product is 0 even while the loop drives everything.

Every such element's output at a step is its input's value at an earlier step, its
*source*: the last tick for a sampler (the HPA's sync; for ``SAMPLE IF TRUE``, the last
step whose condition held), the step one delay back for a pipeline (``DELAY FIXED``;
before the first delay has passed, or a condition first held, the initial value stands
for the input at the start), the step that holds the extreme for a rolling window
(`source_rows`). So its change over an interval [a, b] is its input's
change over [source(a), source(b)], and we score it there:

- the link x -> held is the ordinary ceteris-paribus score of the held element's input
  expression over its source interval (x moved from source(a) to source(b), every other
  input held at source(a)), over the held output's change;
- a loop is followed backwards in time: the links upstream of a held element are scored
  over its source interval (composed through several held elements), so the loop's score
  at an interval is the product of the changes that travelled round it and arrived then.
  Cut at a stock (the first stock after its last discrete element, or that element's
  reader when it has no stock), the score describes the change it passes into that stock
  in the interval, which is what the relative scores of the stock's partition compare.

A ``SAMPLE IF TRUE``'s condition passes change on differently: it decides when the
output jumps, not by how much. Moved alone (LTM's ceteris paribus, every other input held
where the interval starts), a cause of the condition changes the output only where it
switches the sampler on: the output then goes from the value held to the input's value at
the start of the interval (`released`); where the sampler was sampling already, or holds,
it passes nothing. So the condition's link is scored over the interval itself, not moved
back in time, and the input's link takes the rest of the output's change (`input_share`:
all of it where no condition cause moved it, as for a sampler ticked by the time). A loop
through the condition then scores at the steps where the condition switches; inside the
sampler, its own name reads the value held so far (`so_far`), as Vensim reads it. Simlin
reads SAMPLE IF TRUE as IF cond THEN input ELSE PREVIOUS(self) and scores the condition
alike (the relative loop scores of tests/test_sample_if_true_ltm.py equal pysimlin's); its
input link, with PREVIOUS(self) held too, is 0 at a switch, so there the links into the
sampler do not add up to its change.

A loop without discrete elements is scored exactly as before (same code, same numbers).

>>> from sdmodels import Model, sample_hold
>>> m = Model("sampled controller", stop=8, dt=0.25)
>>> s = m.stock("Level", initial=0)
>>> _ = m.flow("Fill", 0.5 * (10 - sample_hold(s, 1)), into=s)
>>> from sdmodels.analysis.dominance import dominance
>>> d = dominance(m, every=1)          # per dt: the flow only moves at the 1-s ticks
>>> sorted(set(d.relative["B1"].round(6)))
[-1.0, 0.0]
"""
from __future__ import annotations

import functools
import itertools

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from sdmodels.elements import (DelayLine, Element, Rolling, SampleHold, SampleIfTrue, Schedule,
                               Stock)
from sdmodels.errors import ModelError
from sdmodels.expr import DelayFixed, RollingMax, RollingMin
from sdmodels.expr import SampleHold as SampleHoldFn, SampleIfTrue as SampleIfTrueFn

HELD = (DelayLine, SampleHold, Rolling)
#: the functions that expand into held elements, as `Loop.delays` names them
DISCRETE_KINDS = frozenset(kind.fn for kind in (DelayFixed, SampleHoldFn, SampleIfTrueFn,
                                                RollingMax, RollingMin))


def discrete_loop(loop) -> bool:
    """Whether a loop runs through a sampler, pipeline or rolling window."""
    return any(x.kind in DISCRETE_KINDS for x in loop.delays)


def is_held(trace, column: int) -> bool:
    """Whether a column is a pipeline, sampler or rolling window."""
    return isinstance(trace.ir.variables[trace.slots[column].var], HELD)


def held_inputs(trace, column: int) -> set[int]:
    """The columns the input expression of a held column reads."""
    from sdmodels.analysis.evaluate import _Eval
    expr, binding = trace.held_input(column)
    out: set[int] = set()
    _Eval(trace, None, trace.times[:1], "").refs(expr, binding, out)
    return out


def source_rows(trace, column: int) -> np.ndarray:
    """For each recorded step k, the step whose input value a held column shows at k."""
    var = trace.ir.variables[trace.slots[column].var]
    return _source(var, trace, column)


def _at_start(trace, column: int, expr) -> float:
    binding = dict(zip(trace.ir.variables[trace.slots[column].var].dims,
                       trace.slots[column].key))
    return float(trace.evaluate_expr(expr, binding, rows=np.arange(1))[0])


@functools.singledispatch
def _source(var: Element, trace, column: int) -> np.ndarray:
    raise ModelError(f"'{var.display}' is not a sampler, pipeline or rolling window: it "
                     "holds no earlier value of its input")


@_source.register
def _(var: DelayLine, trace, column: int) -> np.ndarray:
    # the kernel's buffer: max(1, round(delay / dt)) steps, the delay read at the start
    n = max(1, int(np.floor(_at_start(trace, column, var.delay) / trace.dt + 0.5)))
    return np.maximum(np.arange(len(trace.times)) - n, 0)


@_source.register
def _(var: Schedule, trace, column: int) -> np.ndarray:
    raise ModelError(f"'{var.display}' adds up (or keeps the last of) the inputs due at a "
                     "step, each after its own delay: no single earlier step shows at a step")


@_source.register
def _(var: SampleHold, trace, column: int) -> np.ndarray:
    # the kernel's clock: a tick at the first step whose time reaches the next sample time,
    # which then moves on by the period (read at that step) until it is past the time
    times, teps = trace.times, trace.dt * 1e-6
    binding = dict(zip(var.dims, trace.slots[column].key))
    period = np.maximum(trace.evaluate_expr(var.period, binding), trace.dt)
    next_tick = times[0] if var.first is None else _at_start(trace, column, var.first)
    reached = times + teps
    if next_tick <= reached[0] and np.all(period <= trace.dt):
        return np.arange(len(times))                 # a sample at every step
    out = np.zeros(len(times), dtype=np.int64)
    last = 0
    while True:
        k = int(np.searchsorted(reached, next_tick, side="left"))
        if k >= len(times):
            out[last:] = last
            return out
        out[last:k] = last
        last = k
        while next_tick <= reached[k]:
            next_tick += period[k]


@_source.register
def _(var: SampleIfTrue, trace, column: int) -> np.ndarray:
    # a tick at every step whose condition holds (the start included); before the first,
    # the initial value stands for the input at the start
    expr, binding = _field(trace, column, "condition")
    ticks = np.broadcast_to(trace.evaluate_expr(expr, binding, override={
        column: so_far(trace, column)}) != 0, trace.times.shape)
    return np.maximum.accumulate(np.where(ticks, np.arange(len(trace.times)), 0))


def _field(trace, column: int, name: str):
    """One expression field of a held column's element (its element's, if arrayed per
    element), and the column's dimension binding."""
    from sdmodels.elements import PerElement
    slot = trace.slots[column]
    var = trace.ir.variables[slot.var]
    expr = getattr(var, name)
    return (expr.as_dict()[slot.key] if isinstance(expr, PerElement) else expr,
            dict(zip(var.dims, slot.key)))


def so_far(trace, column: int) -> np.ndarray:
    """For each recorded step, the value a SAMPLE IF TRUE column held before that step's
    sample (the step before's; its initial value at the start): what its own name reads
    inside its condition and input, as Vensim reads it."""
    return np.concatenate([[_at_start(trace, column, _field(trace, column, "initial")[0])],
                           trace.values[:-1, column]])


def condition_inputs(trace, column: int) -> set[int]:
    """The columns the condition of a SAMPLE IF TRUE column reads (its own left out: that is
    the value held so far); empty for any other column."""
    from sdmodels.analysis.evaluate import _Eval
    if not isinstance(trace.ir.variables[trace.slots[column].var], SampleIfTrue):
        return set()
    expr, binding = _field(trace, column, "condition")
    out: set[int] = set()
    _Eval(trace, None, trace.times[:1], "").refs(expr, binding, out)
    return out - {column}


def ways(scorer, path: tuple[int, ...]) -> list[tuple[bool, ...]]:
    """The ways a column path passes change on, one flag per link: True where the link
    runs into a SAMPLE IF TRUE through its condition (a cause read by both its condition
    and its input passes change both ways)."""
    options = []
    for a, b in zip(path, path[1:]):
        conditions = scorer.memo(("if", b), lambda: condition_inputs(scorer.trace, b)) \
            if b in scorer.held else ()
        options.append([False] if a not in conditions else
                       [False, True] if a in held_inputs(scorer.trace, b) else [True])
    return list(itertools.product(*options))


def released(scorer, cause: int, effect: int, shift: tuple[int, ...]) -> np.ndarray:
    """The change of SAMPLE IF TRUE column `effect` over the intervals `shift` names that the
    condition passes on when only `cause` moves in it (every other input held where the
    interval starts): the input's value there less the value held, where that move makes
    the condition hold at a step where it did not; else 0. A sampler that was sampling
    already (the condition held) releases nothing: its input's own change is the rest."""
    from sdmodels.analysis.dominance import _partial
    t = scorer.trace
    rows, after = scorer.pair(shift)
    held_before = {effect: so_far(t, effect)[rows]}
    condition, binding = _field(t, effect, "condition")
    holds = t.evaluate_expr(condition, binding, rows=rows,
                            override={**held_before, cause: t.values[after, cause]}) != 0
    value, _ = _field(t, effect, "input")
    now = t.values[rows, effect]
    return _partial(np.where(holds, t.evaluate_expr(value, binding, rows=rows,
                                                    override=held_before), now), now)


def condition_score(scorer, cause: int, effect: int, shift: tuple[int, ...]) -> np.ndarray:
    """The link score cause -> SAMPLE IF TRUE column through its condition, over the
    intervals `shift` names, by LTM's rule (|part / whole| with the sign of part / the
    cause's change): non-zero only where the cause's move switches the sampler on."""
    from sdmodels.analysis.dominance import _ratio

    def compute():
        part, dx, dz = (released(scorer, cause, effect, shift), scorer.delta(cause, shift),
                        scorer.delta(effect, shift))
        with np.errstate(all="ignore"):
            return np.where((dx == 0.0) | (dz == 0.0), 0.0,
                            _ratio(part, dz) * np.sign(part) * np.sign(dx))
    return scorer.memo((cause, effect, shift, "if"), compute)


def input_share(scorer, effect: int, shift: tuple[int, ...]) -> np.ndarray:
    """The share of a SAMPLE IF TRUE column's change over the intervals `shift` names that
    its input passes on: what the condition's links do not release (1 where they release
    nothing: a sampler ticked by the time alone, or one that was sampling already)."""
    from sdmodels.analysis.dominance import _ratio

    def compute():
        dz = scorer.delta(effect, shift)
        freed = sum((released(scorer, c, effect, shift) for c in sorted(
            condition_inputs(scorer.trace, effect))), np.zeros_like(dz))
        return np.where((dz == 0.0) | (freed == 0.0), 1.0, _ratio(dz - freed, dz))
    return scorer.memo(("share", effect, shift), compute)


@_source.register
def _(var: Rolling, trace, column: int) -> np.ndarray:
    # the step in the window (the last `length` inputs) whose input is the extreme; the
    # latest such step on ties
    length = int(np.floor(_at_start(trace, column, var.window) / trace.dt + 0.5)) + 1
    expr, binding = trace.held_input(column)
    u = trace.evaluate_expr(expr, binding)
    padded = np.concatenate([np.full(length - 1, u[0]), u])
    windows = sliding_window_view(padded, length)[:, ::-1]      # latest first
    pick = np.argmax(windows, axis=1) if var.op == "max" else np.argmin(windows, axis=1)
    return np.maximum(np.arange(len(u)) - pick, 0)


def held_loop_score(scorer, variables: tuple[str, ...]) -> np.ndarray | None:
    """The score of a loop through held elements, followed backwards in time from its
    anchor (see the module docstring); None when no link of the loop runs through one."""
    edges = list(zip(variables, variables[1:] + variables[:1]))
    carrying = [k for k, (a, b) in enumerate(edges) if scorer.carries_held(a, b)]
    if not carrying:
        return None
    m = len(variables)
    start = (carrying[-1] + 1) % m
    ir = scorer.trace.ir
    anchor = next((k % m for k in range(start, start + m)
                   if isinstance(ir.variables[variables[k % m]], Stock)), start)
    order = variables[anchor:] + variables[:anchor]        # order[0] is the anchor
    links = list(zip(order, order[1:] + order[:1]))        # links[-1] ends at the anchor
    sizes = [len(scorer.trace.columns_of[v]) for v in order]
    scalar = all(n == 1 for n in sizes)         # then products of series, not of matrices

    @functools.lru_cache(maxsize=None)
    def back(i: int, shift: tuple[int, ...]):
        """Product of links[i], links[i-1], ..., links[0] with links[i] at `shift`."""
        if i < 0:
            return 1.0 if scalar else np.broadcast_to(np.eye(sizes[0]),
                                                      (scorer.steps, sizes[0], sizes[0]))
        total = 0.0
        for exit_shift, matrix in scorer.link_parts(*links[i], shift).items():
            if not matrix.any():                 # passes nothing: no need to go further back
                continue
            total = total + (matrix[:, 0, 0] * back(i - 1, exit_shift) if scalar else
                             np.matmul(matrix, back(i - 1, exit_shift)))
        if not scalar and isinstance(total, float):         # no path: nothing passes
            return np.zeros((scorer.steps, sizes[(i + 1) % m], sizes[0]))
        return total
    with np.errstate(all="ignore"):
        found = back(len(links) - 1, ())
        out = np.broadcast_to(np.asarray(found if scalar else np.trace(found, axis1=1, axis2=2),
                                         dtype=float), (scorer.steps,))
    return np.where(np.isnan(out), 0.0, out)
