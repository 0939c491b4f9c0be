"""Link polarity from behaviour: the sign of each link's partial effect along simulated runs.

The model is run once per scenario (the baseline and every `Model.add_scenario`). For a link
u -> v, v's equation is re-evaluated at every saved time with u nudged up and down while
everything else keeps its simulated value; stateful functions on the way pass the nudge
through as a unit gain. Nudges come in several sizes, relative to u's value and absolute
(relative to u's largest magnitude in the run), so that a link through a discrete step
(``ceil``, a threshold, a sampled value) shows its effect where a small nudge shows none. At
each time and direction the smallest nudge with a visible effect gives the local sign; zero
effects (an inactive branch, a saturated ``min``) say nothing. A link whose local sign is +
somewhere and - elsewhere, in any run, is "mixed". Nudges stay inside the values the cause
can take (its interval, and non-negative when every run kept it so). An arrayed cause is
nudged in all its elements together and an arrayed effect is evaluated element by element.

>>> from sdmodels import Model, build
>>> m = Model("pods", stop=10)
>>> load = m.stock("Load", initial=100, non_negative=True)
>>> _ = m.flow("Growth", 5, into=load)
>>> _ = m.aux("Pods", "ceil(Load / 30)")
>>> ir = build(m)
>>> link_signs(ir, [("load", "pods")], simulate_runs(ir))[("load", "pods")]
'+'
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import numpy as np

from sdmodels.elements import Lookup, Stock
from sdmodels.errors import SDModelsError
from sdmodels.expr import Expr, Index, Ref
from sdmodels.ir import ModelIR

from sdmodels.analysis.graph import Through, host_expression
from sdmodels.analysis.numeric import Numeric, Unsupported

SYMBOL = {1: "+", -1: "-"}
RELATIVE = (1e-6, 1e-3, 0.02, 0.1, 0.5)          # of the cause's value at that time
ABSOLUTE = (1e-6, 1e-3, 0.02, 0.1, 0.5, 1.0)     # of the cause's largest magnitude in the run


@dataclass
class Runs:
    """Simulated runs of one model: scalar series per run, and value signs per variable."""
    times: list = field(default_factory=list)        # one array per run
    envs: list = field(default_factory=list)         # one {var id: series} per run
    signs: dict = field(default_factory=dict)        # var id -> frozenset of signs seen
    scenarios: tuple = ()                            # the scenarios that ran ('' = baseline)


def simulate_runs(ir: ModelIR, *, params=None, scenario: str | None = None) -> Runs:
    """Run the model for `scenario`, or for the baseline and every scenario when None.

    Scenarios whose parameters are the same as one already run are skipped; a scenario
    the engine cannot run is left out (its links are checked on the others).
    """
    from sdmodels.simulate import check_parameters, check_scenario, simulate
    check_scenario(ir, scenario)        # a typo is the caller's error, not a run that failed
    check_parameters(ir, params)
    wanted = [v.id for v in ir.variables.values() if not isinstance(v, Lookup)]
    by_display = {ir.variables[v].display: v for v in wanted}
    names = [scenario] if scenario is not None else [None, *ir.scenarios]
    out, seen = Runs(), set()
    signs: dict[str, set] = {}
    for name in names:
        key = tuple(sorted(ir.scenarios[name].params)) if name is not None else ()
        if key in seen:
            continue
        seen.add(key)
        try:
            results = simulate(ir, outputs=wanted, params=params, scenario=name)
        except SDModelsError:
            continue
        out.scenarios += (name or "",)
        columns: dict[str, list[int]] = {}
        for i, label in enumerate(results.columns):
            vid = by_display.get(label) or by_display.get(label.rsplit("[", 1)[0])
            if vid is not None:
                columns.setdefault(vid, []).append(i)
        for vid, cols in columns.items():
            block = results.data[:, :, cols]
            block = block[np.isfinite(block)]
            signs.setdefault(vid, set()).update(np.unique(np.sign(block)).astype(int).tolist())
        for run in range(results.data.shape[0]):
            out.times.append(results.times)   # arrayed: (elements, times) in slot order
            out.envs.append({vid: results.data[run, :, cols[0]] if not ir.variables[vid].dims
                             else results.data[run][:, cols].T for vid, cols in columns.items()})
    out.signs = {k: frozenset(v) for k, v in signs.items() if v}
    return out


def sample_signs(ir: ModelIR, expr: Expr, runs: Runs, where=()) -> frozenset | None:
    """The signs `expr` takes along the runs, or None when it cannot be evaluated there.

    `where` is a sequence of (condition, truth): only the saved times at which every
    condition was true (truth True) or false (truth False) count, as inside a branch of an
    if_then_else."""
    found: set = set()
    with np.errstate(all="ignore"):
        for env, times in zip(runs.envs, runs.times):
            try:
                value = np.asarray(evaluate(expr, env, env, ir, times, ir.dt), dtype=float)
                keep = np.ones(np.shape(value), dtype=bool)
                for cond, truth in where:
                    held = np.asarray(evaluate(cond, env, env, ir, times, ir.dt)) != 0
                    keep = keep & (held if truth else ~held)
            except Unsupported:
                return None
            value = np.broadcast_to(value, keep.shape)[keep]
            value = value[np.isfinite(value)]
            found.update(np.unique(np.sign(value)).astype(int).tolist())
    return frozenset(found) or None


def link_signs(ir: ModelIR, edges, runs: Runs, domain: Mapping | None = None) -> dict:
    """For each (cause, effect): '+', '-', 'mixed', or None (no effect seen).

    An arrayed cause is nudged in every element at once; an arrayed effect is checked
    element by element, and the link's sign is what all of them show.

    `domain` maps a variable to the (lo, hi) interval its values can take; nudges stay in it.
    """
    out: dict = {}
    domain = domain or {}
    cells_of: dict = {}     # effect -> its cells, shared by every link into it
    with np.errstate(all="ignore"):
        for cause, effect in edges:
            element = ir.variables[effect]
            if isinstance(element, Stock):
                continue
            if effect not in cells_of:
                cells_of[effect] = host_cells(ir, element)
            cells = cells_of[effect]
            if not cells:
                continue
            lo, hi = domain.get(cause, (-np.inf, np.inf))
            if runs.signs.get(cause, frozenset((-1,))) <= {0, 1}:
                lo = max(lo, 0.0)
            found: set = set()
            for env, times in zip(runs.envs, runs.times):
                if cause not in env or effect not in env:
                    break
                try:
                    for binding, expr in cells:
                        found |= _local_signs(expr, binding, cause, env, ir, times, lo, hi)
                except Unsupported:
                    break
                if found == {1, -1}:
                    break
            out[cause, effect] = ("mixed" if found == {1, -1} else SYMBOL[found.pop()]
                                  if found else None)
    return out


def _local_signs(expr: Expr, binding, cause: str, env, ir: ModelIR, times, lo: float,
                 hi: float) -> set:
    """Signs of expr's change when the cause moves up or down (every element of an arrayed
    cause together), at each saved time; `binding` fixes the effect's element."""
    x = np.asarray(env[cause], dtype=float)
    scale = float(np.nanmax(np.abs(x))) if x.size else 0.0
    scale = scale if scale > 0 and np.isfinite(scale) else 1.0
    sizes = np.array([r * np.abs(x) for r in RELATIVE] + [np.full_like(x, a * scale)
                                                           for a in ABSOLUTE])
    up = np.minimum(x + sizes, hi)
    down = np.maximum(x - sizes, lo)
    shape = (sizes.shape[0], times.size)
    base = np.broadcast_to(np.asarray(evaluate(expr, env, env, ir, times, ir.dt, binding),
                                      float), times.shape)
    signs: set = set()
    for moved, direction in ((up, 1), (down, -1)):
        value = evaluate(expr, {**env, cause: moved}, env, ir, times, ir.dt, binding)
        value = np.broadcast_to(np.asarray(value, float), shape)
        diff = value - base
        step = moved - x
        if step.ndim == 3:      # arrayed cause: the largest element move stands for the step
            step = np.max(np.abs(step), axis=1) * direction
        visible = (np.isfinite(diff) & (step != 0)
                   & (np.abs(diff) > 1e-9 * (np.abs(value) + np.abs(base)) + 1e-300))
        key = np.where(visible, np.abs(step), np.inf)
        first = np.argmin(key, axis=0)
        cols = np.arange(times.size)
        seen = visible[first, cols]
        local = np.sign(diff[first, cols][seen]) * direction
        signs.update(np.unique(local).astype(int).tolist())
    return signs - {0}


class _Replay(Numeric):
    """The shared evaluator reading series by variable id, with stateful functions
    (`Through`) passing a change of their input on as a unit gain."""

    def __init__(self, ir: ModelIR, env, base, times, dt):
        super().__init__(ir, times, dt)
        self.env, self.base = env, base

    def read(self, expr, binding):
        return _element(expr, self.env, self.ir, binding)

    def other(self, expr, binding):
        if not isinstance(expr, Through):
            return super().other(expr, binding)
        out = _element(Ref(expr.out), self.env, self.ir, binding)
        if self.env is self.base:
            return out
        base = _Replay(self.ir, self.base, self.base, self.t, self.dt)
        return out + self.run(expr.input, binding) - base.run(expr.input, binding)


def evaluate(e: Expr, env: Mapping[str, np.ndarray], base: Mapping[str, np.ndarray],
             ir: ModelIR, times: np.ndarray, dt: float, binding: Mapping[str, str] = {}):
    """The value of `e` over the saved times with the variables' series in `env`; `base`
    holds the simulated series (for the inputs of stateful functions). `binding` names the
    element of each dimension being evaluated; an arrayed series in `env` is
    (..., elements, times)."""
    return _Replay(ir, env, base, times, dt).run(e, dict(binding))


def _element(e, env, ir: ModelIR, binding):
    """A variable's series (one element of an arrayed one, by subscripts or binding)."""
    from sdmodels.ir import index_binding
    name = e.name if isinstance(e, Ref) else getattr(e.target, "name", None)
    if name not in env:
        raise Unsupported(str(name))
    dims = ir.variables[name].dims
    if not dims:
        return env[name]
    fixed = index_binding(dims, e.elements, ir.dims, name) if isinstance(e, Index) else {}
    row = 0
    for d in dims:
        element = fixed.get(d) or binding.get(d)
        if element is None:
            raise Unsupported(f"{name}[{d}]")
        row = row * len(ir.dims[d].elements) + ir.dims[d].elements.index(element)
    return np.asarray(env[name])[..., row, :]


def host_cells(ir: ModelIR, element) -> list[tuple[dict, Expr]]:
    """(binding, dynamic equation) for every element of `element` (one for a scalar)."""
    import itertools
    from sdmodels.elements import PerElement
    from sdmodels.analysis.graph import collapse
    equation = getattr(element, "equation", None)
    if equation is None:
        expr = host_expression(ir, element)
        return [({}, expr)] if expr is not None else []
    keys = list(itertools.product(*(ir.dims[d].elements for d in element.dims)))
    if not isinstance(equation, PerElement):    # one equation for every element
        shared = collapse(ir, equation)
        return [(dict(zip(element.dims, k)), shared) for k in keys]
    per = equation.as_dict()
    return [(dict(zip(element.dims, k)), collapse(ir, per[k])) for k in keys]
