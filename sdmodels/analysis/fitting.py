"""Fit named constants of a model to observed metrics: least squares over batches of runs.

The observed metrics are a table with a time index and columns named like model variables
(what `sdm postmortem --observed` reads). Each series is weighed by its own spread (its
standard deviation, or its mean magnitude when flat) so that a queue in thousands does not
drown a ratio; missing points are skipped; the model is interpolated linearly between
its steps to the observed times.

The search runs the model in batches, one `simulate` call per batch (the kernel runs the
parameter sets of a batch side by side):

1. a grid of starting points for one or two parameters (each from 1/4 to 4 times its
   current value, 9 points on a log scale, all in one batch), to start near the best;
2. `scipy.optimize.least_squares` (trust region reflective) from the best point, whose
   Jacobian is one batch of forward differences (the point and each parameter moved on).

>>> from sdmodels import Model
>>> m = Model("decay", stop=10, dt=0.125)
>>> s = m.stock("Amount", initial=100)
>>> _ = m.flow("Outflow", s * m.constant("Rate", 0.1), out_of=s)
>>> import numpy as np, pandas as pd
>>> t = np.arange(0, 10.5, 0.5)
>>> seen = pd.DataFrame({"Amount": 100 * (1 - 0.125 * 0.3) ** (t / 0.125)}, index=t)
>>> result = fit(m, seen, ["Rate"])
>>> round(result.parameters["Rate"], 6)
0.3
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sdmodels.elements import Constant, canonical
from sdmodels.errors import ModelError, SimulationError

GRID = np.geomspace(0.25, 4.0, 9)      # multiples of the current value tried first
_FAILED = 1e6                          # the residual of a run that stopped (nan/inf)


@dataclass(frozen=True)
class Fit:
    """The fitted constants, where the search started, and how well the run matches."""
    parameters: dict[str, float]
    start: dict[str, float]
    rmse: float                        # root mean square of the weighed residuals
    start_rmse: float
    runs: int                          # model runs the search took
    series: tuple[str, ...]            # the observed series fitted
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict:
        """Plain values, for JSON."""
        return {"parameters": self.parameters, "start": self.start, "rmse": self.rmse,
                "start_rmse": self.start_rmse, "runs": self.runs, "series": list(self.series),
                "notes": list(self.notes)}


def _targets(ir, observed: pd.DataFrame) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """The observed columns named like variables, their times, values and weights."""
    if not isinstance(observed, pd.DataFrame):
        raise ModelError(f"observed metrics must be a pandas DataFrame (time index, columns "
                         f"named like variables), not {type(observed).__name__}")
    names = [ir.display(canonical(c)) for c in observed.columns if canonical(c) in ir.variables]
    if not names:
        raise ModelError(f"no observed series is named like a variable of model '{ir.name}' "
                         f"(columns: {', '.join(map(str, observed.columns))})")
    frame = observed.rename(columns={c: ir.display(canonical(c)) for c in observed.columns
                                     if canonical(c) in ir.variables})[names]
    times = np.asarray(frame.index, dtype=float)
    if times.min() < ir.start - 1e-9 or times.max() > ir.stop + 1e-9:
        raise ModelError(f"observed times {times.min():g}..{times.max():g} reach outside "
                         f"model '{ir.name}''s run ({ir.start:g}..{ir.stop:g} {ir.time_units});"
                         " give times in the model's time, or change its start and stop")
    values = frame.to_numpy(dtype=float)
    spread = np.nanstd(values, axis=0)
    flat = np.nanmean(np.abs(values), axis=0)
    scale = np.where(spread > 0, spread, np.where(flat > 0, flat, 1.0))
    return names, times, values, scale


def fit(model, observed: pd.DataFrame, parameters, *, scenario: str | None = None,
        bounds: dict[str, tuple[float, float]] | None = None, max_runs: int = 2000,
        engine: str = "auto") -> Fit:
    """Least-squares values of the constants `parameters` (display names) for which the
    run of `model` (in `scenario`) matches `observed` (time index, columns named like
    variables). `bounds` maps a name to (low, high); default: the sign of its current
    value (a positive rate stays positive)."""
    from scipy.optimize import least_squares

    from sdmodels.ir import build
    from sdmodels.simulate import simulate
    ir = build(model)
    ids = [ir.id_of(p, "constant") for p in parameters]
    for p, i in zip(parameters, ids):
        if not isinstance(ir.variables[i], Constant):
            raise ModelError(f"'{p}' is not a constant of model '{ir.name}': only constants "
                             "can be fitted")
    names = [ir.display(i) for i in ids]
    series, times, values, scale = _targets(ir, observed)
    now = simulate(model, scenario=scenario, outputs=names, times=[ir.start], engine=engine)
    x0 = now.data[0, 0, :].astype(float)
    low, high = _bounds(names, x0, bounds or {})
    seen = ~np.isnan(values)
    runs = [0]

    def residuals(batch: np.ndarray) -> np.ndarray:
        """(points, residuals) for a batch of parameter points, one simulate call."""
        runs[0] += len(batch)
        res = simulate(model, scenario=scenario, params={n: batch[:, k] for k, n in
                                                         enumerate(names)},
                       outputs=series, saveper=ir.dt, on_failure="mark", engine=engine)
        out = np.empty((len(batch), int(seen.sum())))
        for r in range(len(batch)):
            sim = np.column_stack([np.interp(times, res.times, res.data[r, :, j])
                                   for j in range(len(series))])
            diff = (sim - values) / scale
            out[r] = np.where(np.isfinite(diff), diff, _FAILED)[seen]
        return out

    start_rmse = _rmse(residuals(x0[None, :])[0])
    best = x0
    if len(names) <= 2:
        grid = np.stack(np.meshgrid(*[x0[k] * GRID if x0[k] != 0 else GRID - 1
                                      for k in range(len(names))]), -1).reshape(-1, len(names))
        grid = grid[np.all((grid >= low) & (grid <= high), axis=1)]
        if len(grid):
            scores = [_rmse(r) for r in residuals(grid)]
            if min(scores) < start_rmse:
                best = grid[int(np.argmin(scores))]
    steps = 1e-6 * np.maximum(np.abs(best), 1e-6)

    def jacobian(x: np.ndarray) -> np.ndarray:
        moved = np.repeat(x[None, :], len(x) + 1, axis=0)
        h = np.where(x + steps <= high, steps, -steps)
        moved[1:] += np.diag(h)
        r = residuals(moved)
        return ((r[1:] - r[0]) / h[:, None]).T
    try:
        found = least_squares(lambda x: residuals(x[None, :])[0], np.clip(best, low, high),
                              jac=jacobian, bounds=(low, high), x_scale="jac",
                              max_nfev=max(1, max_runs // (len(names) + 2)))
    except SimulationError as exc:       # pragma: no cover - runs are marked, not raised
        raise ModelError(f"fitting {', '.join(names)} failed: {exc}") from None
    notes = () if found.success else (f"the search stopped before converging: {found.message}",)
    return Fit(dict(zip(names, map(float, found.x))), dict(zip(names, map(float, x0))),
               _rmse(found.fun), start_rmse, runs[0], tuple(series), notes)


def _rmse(residual: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(residual)))) if residual.size else 0.0


def _bounds(names, x0: np.ndarray, given: dict) -> tuple[np.ndarray, np.ndarray]:
    low = np.where(x0 > 0, 0.0, -np.inf)
    high = np.where(x0 < 0, 0.0, np.inf)
    for k, n in enumerate(names):
        found = given.get(n)
        if found is not None:
            low[k], high[k] = map(float, found)
            if not low[k] < high[k] or not low[k] <= x0[k] <= high[k]:
                raise ModelError(f"bounds for '{n}' must hold its current value {x0[k]:g} "
                                 f"with low < high (got {found})")
    return low, high
