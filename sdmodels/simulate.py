"""simulate / run: integrate a model for one or many parameter sets in one kernel call.

>>> from sdmodels import Model, run
>>> m = Model("decay", stop=2, dt=0.5)
>>> s = m.stock("Amount", initial=100)
>>> _ = m.flow("Outflow", s / m.constant("Lifetime", 1), out_of=s)
>>> run(m)["Amount"].tolist()
[100.0, 50.0, 25.0, 12.5, 6.25]
"""
from __future__ import annotations

import math
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Iterable, Mapping, Sequence

import numpy as np

from sdmodels.compile import Kernel, SlotTable
from sdmodels.limits import check_count, check_result_size, current_limits
from sdmodels.elements import Constant, canonical
from sdmodels.errors import ModelError, SimulationError, UnknownNameError, did_you_mean

if TYPE_CHECKING:       # pandas loads with the first Results, not with sdmodels
    import pandas as pd
    from sdmodels.results import Results

PARALLEL_MIN_RUNS = 64
SMALL_RESULT = 1 << 24      # bytes: a result this small is not weighed against free memory
# (reading /proc/meminfo is a sixth of an unchanged SIR's run(m))


def _calls_array_builtin(element) -> bool:
    """Whether an element's equations call one of the compiled array built-ins."""
    from sdmodels.expr import VECTOR_FUNCTIONS, Call, walk
    from sdmodels.ir import expressions
    return any(isinstance(n, Call) and n.fn in VECTOR_FUNCTIONS
               for _key, expr in expressions(element) for n in walk(expr))


def _threads(runs: int, parallel: bool | None) -> int:
    """Threads for a call: one per core for large batches ($SDMODELS_THREADS to cap)."""
    if parallel is False or (parallel is None and runs < PARALLEL_MIN_RUNS):
        return 1
    cap = int(os.environ.get("SDMODELS_THREADS", "0")) or os.cpu_count() or 1
    return max(1, min(cap, runs))


def _is_frame(value) -> bool:
    """Whether `value` is a pandas DataFrame (without importing pandas for the check)."""
    pandas = sys.modules.get("pandas")
    return pandas is not None and isinstance(value, pandas.DataFrame)


def resolve_params(kernel: SlotTable, params: Mapping | pd.DataFrame | None
                   ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Turn {name: value or values} into the (runs, n_params) array, checking every name."""
    params = _as_mapping(params)
    columns = kernel.parameter_columns
    ir = kernel.ir
    lengths, settings = set(), []
    for name, value in params.items():
        key = canonical(str(name))
        if key not in columns:
            raise _not_a_parameter(ir, name)
        try:
            arr = np.asarray(value, dtype=float)
        except (TypeError, ValueError):
            raise ModelError(f"parameter '{name}': {value!r} is not a number") from None
        if arr.ndim > 1:
            raise ModelError(f"parameter '{name}': give one value or a 1-D list of values")
        if arr.ndim == 1:
            lengths.add(len(arr))
        if not np.all(np.isfinite(arr)):
            raise ModelError(f"parameter '{name}' has a non-finite value; give finite numbers")
        settings.append((str(name), columns[key], arr))
    if len(lengths) > 1:
        raise ModelError(f"parameter lists have different lengths {sorted(lengths)}; every "
                         "varied parameter needs one value per run")
    runs = lengths.pop() if lengths else 1
    if runs == 0:
        raise ModelError("parameter lists are empty: nothing to run")
    P = np.tile(kernel.defaults, (runs, 1))
    table = {}
    for name, cols, arr in settings:
        for c in cols:
            P[:, c] = arr
        table[name] = np.broadcast_to(arr, (runs,)).copy()
    return P, table


def _as_mapping(params) -> Mapping:
    """`params` as {name: value or values}: a dict, a DataFrame's columns, or nothing."""
    if params is None:
        return {}
    if _is_frame(params):
        return {c: params[c].to_numpy() for c in params.columns}
    if not isinstance(params, Mapping):
        raise ModelError(f"params must be a dict {{name: value or list of values}} or a "
                         f"DataFrame with one column per constant, not {type(params).__name__} "
                         f"(for example params={{\"Pool size\": [50, 100]}})")
    return params


def _not_a_parameter(ir, name) -> ModelError:
    """The error for a name a run cannot set: what it is instead, or the closest constant."""
    element = ir.variables.get(canonical(str(name)))
    base, bracket, _ = str(name).partition("[")
    arrayed = ir.variables.get(canonical(base)) if bracket else None
    if isinstance(arrayed, Constant) and arrayed.dims:     # a typo in the element, not the name
        shown = ", ".join(f"[{', '.join(ir.dims[d].elements)}]" for d in arrayed.dims
                          if d in ir.dims)
        return UnknownNameError(f"parameter '{name}': '{arrayed.display}' has no such element "
                                f"in model '{ir.name}'; write '{arrayed.display}[ELEMENT]' "
                                f"with an element of {shown or arrayed.dims}")
    if element is not None and not isinstance(element, Constant):
        return ModelError(f"'{element.display}' is a {type(element).__name__.lower()}, not a "
                          f"constant, so a run cannot set it; make it a constant in model "
                          f"'{ir.name}' to vary it")
    shown = [v.display for v in ir.variables.values() if isinstance(v, Constant)]
    return UnknownNameError(f"parameter '{name}' is not a constant of model '{ir.name}'."
                            f"{did_you_mean(str(name), shown)}")


def check_parameters(ir, params) -> None:
    """Raise the error `simulate` would for a name in `params` that a run cannot set.

    For callers that run the model later, or several times, and must not mistake a typo
    for a run that failed.

    >>> from sdmodels import Model, build
    >>> m = Model("decay", stop=2, dt=0.5)
    >>> _ = m.constant("Lifetime", 1)
    >>> check_parameters(build(m), {"Lifetme": 2})
    Traceback (most recent call last):
    ...
    sdmodels.errors.UnknownNameError: parameter 'Lifetme' is not a constant of model 'decay'. Did you mean 'Lifetime'?
    """
    for name in _as_mapping(params):
        element = ir.variables.get(canonical(str(name).split("[")[0]))
        if not isinstance(element, Constant):
            raise _not_a_parameter(ir, name)


def check_scenario(ir, scenario: str | None) -> None:
    """Raise UnknownNameError (with the model's scenarios) unless `scenario` is None or one.

    >>> from sdmodels import Model, build
    >>> m = Model("decay", stop=2, dt=0.5)
    >>> _ = m.constant("Lifetime", 1)
    >>> m.add_scenario("slow", {"Lifetime": 4})
    >>> check_scenario(build(m), "slwo")
    Traceback (most recent call last):
    ...
    sdmodels.errors.UnknownNameError: model 'decay' has no scenario 'slwo'; it has: slow. Did you mean 'slow'?
    """
    if scenario is not None and scenario not in ir.scenarios:
        raise UnknownNameError(f"model '{ir.name}' has no scenario '{scenario}'; it has: "
                               f"{', '.join(ir.scenarios) or 'none'}."
                               f"{did_you_mean(str(scenario), ir.scenarios)}")


def _number(name: str, value, default: float) -> float:
    """A time setting as a float, or a ModelError naming it."""
    if value is None:
        return default
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ModelError(f"{name} must be a number, not {value!r}") from None


def _output_slots(kernel: SlotTable, outputs: Iterable[str] | None) -> np.ndarray:
    if outputs is None:
        return kernel.default_outputs
    by_var, by_label = kernel.output_index
    if isinstance(outputs, str):    # one name, not its letters
        outputs = [outputs]
    chosen = []
    for name in outputs:
        if not isinstance(name, str):
            raise ModelError(f"outputs are variable names, not {name!r}")
        key = canonical(name)
        if key in by_var:
            chosen += by_var[key]
        elif key in by_label:
            chosen.append(by_label[key])
        else:
            shown = [v.display for v in kernel.ir.variables.values() if not v.internal]
            raise UnknownNameError(f"output '{name}' is not a variable of model "
                                   f"'{kernel.ir.name}'.{did_you_mean(name, shown)}")
    return np.array(chosen, dtype=np.int64)


def _steps(start: float, stop: float, dt: float) -> int:
    steps = (stop - start) / dt
    return int(round(steps)) if abs(steps - round(steps)) < 1e-9 * max(1.0, steps) \
        else int(math.ceil(steps))


def simulate(model, *, params=None, scenario: str | None = None, method: str = "euler",
             start: float | None = None, stop: float | None = None, dt: float | None = None,
             saveper: float | None = None, times: Sequence[float] | None = None,
             outputs: Iterable[str] | None = None, seed: int = 0,
             parallel: bool | None = None, on_failure: str = "raise",
             engine: str = "auto") -> Results:
    """Run a model for every parameter set in `params` (one run if none vary).

    `params` maps constant names to one value or to a list (one per run); `scenario` applies
    a named scenario of the model first. `outputs` and `times` (or `saveper`) choose what
    is kept, and memory follows that choice. Run r draws random numbers from seed + r.
    A run whose values turn NaN or infinite stops there; with on_failure="raise" (the
    default) that is a SimulationError, with "mark" the other runs are kept and
    `Results.failures` says which runs stopped, where and why (their later values are NaN).
    `engine` is "auto" (the interpreter for a new model, the compiled kernel for heavy calls
    or once compiled; see sdmodels/engine.py), "interpreter" or "compiled": same results.
    An unchanged Model reuses what was prepared for it by an earlier call.
    """
    from sdmodels.engine import check_engine, prepared
    if on_failure not in ("raise", "mark"):
        raise ModelError(f"on_failure must be 'raise' or 'mark', not {on_failure!r}")
    check_engine(engine)
    entry = prepared(model, method)
    kernel = entry.table(method, engine)
    ir = kernel.ir
    merged: dict = {}
    check_scenario(ir, scenario)
    if scenario is not None:
        merged.update(dict(ir.scenarios[scenario].params))
    merged.update(_as_mapping(params))
    P, table = resolve_params(kernel, merged)
    runs = P.shape[0]
    start = _number("start", start, ir.start)
    stop = _number("stop", stop, ir.stop)
    dt = _number("dt", dt, ir.dt)
    if not dt > 0 or not stop > start or not math.isfinite(stop - start):
        raise ModelError(f"time settings need dt > 0 and finite stop > start (got start={start}, "
                         f"stop={stop}, dt={dt})")
    if (start, stop, dt) != (ir.start, ir.stop, ir.dt):   # build checked the model's own
        from sdmodels.ir import horizon_note
        note = horizon_note(ir.name, start, stop, dt)
        if note:
            import warnings
            from sdmodels.errors import ModelWarning
            warnings.warn(note, ModelWarning, stacklevel=2)
    n_steps = _steps(start, stop, dt)
    limits = current_limits()
    check_count(f"time steps ({start:g} to {stop:g} by {dt:g})", n_steps, "max_time_steps",
                where=f"model '{ir.name}'", limits=limits)
    if times is not None:
        try:
            wanted = np.asarray(times, dtype=float)
        except (TypeError, ValueError):
            raise ModelError(f"times must be numbers (the times to save), not {times!r}") from None
        save_steps = np.unique(np.round((wanted - start) / dt).astype(np.int64))
        if save_steps.size == 0 or save_steps[0] < 0 or save_steps[-1] > n_steps:
            raise ModelError(f"requested times must lie within {start}..{stop}")
    else:
        saveper = _number("saveper", saveper, max(ir.saveper, dt))
        if not saveper > 0 or not math.isfinite(saveper):
            raise ModelError(f"saveper must be a positive number (a multiple of dt={dt:g}), "
                             f"not {saveper!r}")
        every = max(1, int(round(saveper / dt)))
        save_steps = np.arange(0, n_steps + 1, every, dtype=np.int64)
    slots = _output_slots(kernel, outputs)
    if 8 * runs * save_steps.size * slots.size > SMALL_RESULT or limits.max_result_bytes:
        check_result_size(f"model '{ir.name}'", runs=runs, saved=save_steps.size,
                          outputs=slots.size, limits=limits)
    kernel = entry.choose(method, engine, runs, n_steps)
    out = np.empty((runs, save_steps.size, slots.size))   # every row written, but a failed
    # run's from its failing step on (NaN below): no pass over a buffer of up to ~10 MB first
    if isinstance(seed, (float, np.floating)) and float(seed).is_integer():
        seed = int(seed)
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise ModelError(f"seed must be a whole number, not {seed!r}")
    seeds = (np.int64(seed) + np.arange(runs, dtype=np.int64)) % (2 ** 32)
    status = np.full((runs, 3), -1, dtype=np.int64)
    threads = _threads(runs, parallel)
    began = time.perf_counter()
    if threads == 1:
        kernel(P, start, dt, n_steps, save_steps, slots, out, seeds, status)
    else:
        # the kernel releases the GIL: contiguous slices of runs go to threads
        bounds = np.linspace(0, runs, threads + 1).astype(int)
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(lambda ab: kernel(P[ab[0]:ab[1]], start, dt, n_steps, save_steps, slots,
                                            out[ab[0]:ab[1]], seeds[ab[0]:ab[1]],
                                            status[ab[0]:ab[1]]),
                          zip(bounds[:-1], bounds[1:])))
    if engine == "auto" and not isinstance(kernel, Kernel):
        entry.interpreted(method, time.perf_counter() - began)
    failed = np.flatnonzero(status[:, 0] >= 0)
    for r in failed:                # both engines check a step's values before saving them
        out[r, save_steps >= status[r, 0]] = np.nan
    failures = {int(r): _failure(kernel, status[r], start, dt) for r in failed}
    if failed.size and on_failure == "raise":
        r = int(failed[0])
        step, slot, kind = status[r]
        shown = ", ".join(f"{k}={v[r]:g}" for k, v in table.items()) or "default parameters"
        hint = ("Look for a division by zero, a log or sqrt of a negative number, or a dt "
                "too large for the fastest loop")
        if slot >= 0 and _calls_array_builtin(ir.variables[kernel.slots[int(slot)].var]):
            hint = ("Its array built-in refuses its input: a negative request or supply, a "
                    "width of 0 or less, a priority type other than 1-4, or a VECTOR SELECT "
                    "action outside 0-10")
        raise SimulationError(
            f"{failures[r]} in run {r} of model '{ir.name}' ({shown}); {failed.size} of {runs} "
            f"runs failed. {hint}")
    from sdmodels.results import Results
    labels = kernel.default_labels if outputs is None else \
        tuple(kernel.slots[i].label for i in slots)
    return Results(ir.name, start + save_steps * dt, out, labels, table, seeds, ir.time_units,
                   failures, kernel.label_index if outputs is None else None)


def _failure(kernel: SlotTable, status, start: float, dt: float) -> str:
    """'X' became nan at time T: one run's failure, from the kernel's status row."""
    step, slot, kind = (int(v) for v in status)
    label = kernel.slots[slot].label if slot >= 0 else "a variable"
    return f"'{label}' became {'nan' if kind == 1 else 'inf'} at time {start + step * dt:g}"


def run(model, **options):
    """Simulate and return a DataFrame (one run) or an xarray Dataset (several runs).

    Takes the same keyword options as `simulate`.
    """
    results = simulate(model, **options)
    return results.to_pandas(copy=False) if results.runs == 1 else results.to_xarray()
