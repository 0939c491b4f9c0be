"""Sweep designs: what to vary and how, read from a TOML/YAML file or from --vary flags.

A design is a value (`SweepSpec`); `design_table(spec)` expands it into one row per run.
Levels (lists and ranges) are crossed as a full-factorial grid; sampled parameters
(uniform, normal, lognormal, triangular) are drawn `samples` times by Latin hypercube or
plain random sampling with a seed, and crossed with the grid; every point is repeated
`replications` times, each run getting its own random seed (seed + run number).

>>> spec = parse_vary(["Room Temperature=60:80:10", "Characteristic Time=5,10"])
>>> design_table(SweepSpec(model="teacup", factors=spec)).shape
(6, 5)
"""
from __future__ import annotations

import itertools
import json
import math
import re
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from sdmodels.elements import canonical
from sdmodels.errors import SDModelsError

DISTRIBUTIONS = {"uniform": ("low", "high"), "normal": ("mean", "sd"),
                 "lognormal": ("mu", "sigma"), "triangular": ("low", "mode", "high")}
SAMPLERS = ("lhs", "random")
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"


class SweepError(SDModelsError):
    """A sweep design or sweep directory is invalid; raised before any run starts."""


@dataclass(frozen=True)
class Levels:
    """A parameter set to each of `values` in turn (crossed with the other levels)."""
    name: str
    values: tuple[float, ...]


@dataclass(frozen=True)
class Sampled:
    """A parameter drawn from a distribution (`dist` in DISTRIBUTIONS) `samples` times."""
    name: str
    dist: str
    args: tuple[float, ...]


@dataclass(frozen=True)
class LabelOptions:
    """Thresholds of the behaviour labels (see sdmodels.sweep.labels)."""
    tolerance: float = 0.02
    band: float = 0.10
    overshoot: float = 0.05


@dataclass(frozen=True)
class SweepSpec:
    """A whole sweep: model, fixed settings, varied factors, outputs, metrics, labels, series."""
    model: Any
    factors: tuple = ()
    scenario: str | None = None
    set: Mapping[str, float] = field(default_factory=dict)
    sampler: str = "lhs"
    samples: int = 0
    seed: int = 0
    replications: int = 1
    outputs: tuple[str, ...] = ()
    metrics: tuple[str, ...] = ()          # "Output:kind[=arg]", see sdmodels.sweep.metrics
    trigger: tuple[float, float] | None = None
    labels: LabelOptions = LabelOptions()
    series: tuple[str, ...] = ()
    series_format: str = "netcdf"
    method: str = "euler"
    stop: float | None = None
    dt: float | None = None
    saveper: float | None = None
    chunk_size: int | None = None

    def to_json(self) -> str:
        """A canonical JSON text of the spec (models given as objects are named by name)."""
        data = asdict(self)
        if not isinstance(self.model, str):
            data["model"] = f"<model {getattr(self.model, 'name', type(self.model).__name__)}>"
        data["factors"] = [dict(asdict(f), kind=type(f).__name__) for f in self.factors]
        return json.dumps(data, sort_keys=True, default=list)


def spec_from_json(text: str) -> SweepSpec:
    """Inverse of `SweepSpec.to_json` for specs whose model is a name or path."""
    data = json.loads(text)
    factors = []
    for f in data.pop("factors"):
        kind = f.pop("kind")
        factors.append(Levels(f["name"], tuple(f["values"])) if kind == "Levels"
                       else Sampled(f["name"], f["dist"], tuple(f["args"])))
    data["labels"] = LabelOptions(**data["labels"])
    for key in ("outputs", "metrics", "series"):
        data[key] = tuple(data[key])
    if data["trigger"] is not None:
        data["trigger"] = tuple(data["trigger"])
    return SweepSpec(factors=tuple(factors), **data)


def parse_range(text: str, name: str) -> tuple[float, ...]:
    """'start:stop:step' -> the values from start to stop inclusive.

    >>> parse_range("50:100:25", "Arrival rate")
    (50.0, 75.0, 100.0)
    """
    parts = text.split(":")
    try:
        start, stop, step = (float(p) for p in parts)
    except ValueError:
        raise SweepError(f"parameter '{name}': range '{text}' is not start:stop:step with three "
                         "numbers (for example 50:100:5)") from None
    return _arange(name, start, stop, step, text)


def _arange(name, start, stop, step, shown) -> tuple[float, ...]:
    if not all(math.isfinite(v) for v in (start, stop, step)):
        raise SweepError(f"parameter '{name}': range '{shown}' needs finite numbers "
                         "(for example 50:100:5)")
    if not step > 0 or stop < start:
        raise SweepError(f"parameter '{name}': range '{shown}' is empty; it needs step > 0 and "
                         "stop >= start (for example 50:100:5)")
    count = _range_count(name, shown, (stop - start) / step + 1e-9)
    return tuple(float(round(start + i * step, 12)) for i in range(count))


def _range_count(name, shown, intervals: float) -> int:
    """The number of values of a range, checked against max_range_values before any is made."""
    from sdmodels.limits import current_limits, flag_name
    limit = current_limits().max_range_values
    if not intervals + 1 <= limit:
        raise SweepError(f"parameter '{name}': range '{shown}' gives {intervals + 1:.3g} values, "
                         f"more than the limit of {limit:,}; use a larger step, or raise the "
                         f"limit with {flag_name('max_range_values')} N (or "
                         "SDMODELS_MAX_RANGE_VALUES=N)")
    return int(math.floor(intervals)) + 1


def parse_values(name: str, value) -> Levels | Sampled:
    """One factor from a file value or a flag's text: list, range, dist(...) or table."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return Levels(name, (float(value),))
    if isinstance(value, (list, tuple)):
        if not value:
            raise SweepError(f"parameter '{name}': the list of values is empty")
        try:
            return Levels(name, tuple(float(v) for v in value))
        except (TypeError, ValueError):
            raise SweepError(f"parameter '{name}': {list(value)!r} is not a list of numbers") \
                from None
    if isinstance(value, Mapping):
        return _from_table(name, dict(value))
    if isinstance(value, str):
        text = value.strip()
        match = re.fullmatch(r"(\w+)\s*\((.*)\)", text)
        if match:
            args = [a.strip() for a in match.group(2).split(",") if a.strip()]
            if not all(re.fullmatch(_NUMBER, a) for a in args):
                raise SweepError(f"parameter '{name}': '{text}' needs numbers as arguments, "
                                 "for example normal(10, 2)")
            return _sampled(name, match.group(1).lower(), [float(a) for a in args])
        if ":" in text:
            return Levels(name, parse_range(text, name))
        if not text:
            raise SweepError(f"parameter '{name}': no values given")
        parts = [p.strip() for p in text.split(",")]
        if all(re.fullmatch(_NUMBER, p) for p in parts):
            return Levels(name, tuple(float(p) for p in parts))
    raise SweepError(f"parameter '{name}': cannot read {value!r}; give a list (0,1,3,5), a range "
                     "(50:100:5) or a distribution (uniform(1, 2), normal(10, 2), "
                     "lognormal(0, 0.5), triangular(1, 2, 4))")


def _from_table(name: str, table: dict) -> Levels | Sampled:
    if "dist" in table or "distribution" in table:
        dist = str(table.pop("dist", table.pop("distribution", ""))).lower()
        if dist not in DISTRIBUTIONS:
            return _sampled(name, dist, [])
        wanted = DISTRIBUTIONS[dist]
        unknown = sorted(set(table) - set(wanted))
        missing = [k for k in wanted if k not in table]
        if unknown or missing:
            raise SweepError(f"parameter '{name}': {dist} takes {', '.join(wanted)}"
                             + (f"; missing {', '.join(missing)}" if missing else "")
                             + (f"; unknown {', '.join(unknown)}" if unknown else ""))
        return _sampled(name, dist, [_num(name, table[k]) for k in wanted])
    if {"start", "stop"} <= set(table):
        start, stop = _num(name, table["start"]), _num(name, table["stop"])
        if "num" in table:
            num = _count(f"parameter '{name}': num", table["num"])
            if num < 1 or stop < start:
                raise SweepError(f"parameter '{name}': range {table} is empty")
            _range_count(name, f"{start:g}..{stop:g} in {num} values", num - 1)
            return Levels(name, tuple(float(v) for v in np.linspace(start, stop, num)))
        step = _num(name, table.get("step", 1.0))
        return Levels(name, _arange(name, start, stop, step, f"{start:g}:{stop:g}:{step:g}"))
    raise SweepError(f"parameter '{name}': table {table} needs start/stop(/step or num) or dist")


def _num(name, value) -> float:
    if isinstance(value, bool):
        raise SweepError(f"parameter '{name}': {value!r} is not a number")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise SweepError(f"parameter '{name}': {value!r} is not a number") from None


def _count(what: str, value) -> int:
    """A whole number from a file value (5, 5.0, "5"); SweepError otherwise."""
    if not isinstance(value, bool):
        try:
            number = float(value)
            if number == int(number):
                return int(number)
        except (TypeError, ValueError, OverflowError):
            pass
    raise SweepError(f"{what} is {value!r}; give a whole number")


def _sampled(name: str, dist: str, args: list[float]) -> Sampled:
    if dist not in DISTRIBUTIONS:
        from sdmodels.errors import did_you_mean
        raise SweepError(f"parameter '{name}': unknown distribution '{dist}'; use one of "
                         f"{', '.join(DISTRIBUTIONS)}.{did_you_mean(dist, DISTRIBUTIONS)}")
    wanted = DISTRIBUTIONS[dist]
    if len(args) != len(wanted):
        raise SweepError(f"parameter '{name}': {dist} takes {len(wanted)} numbers "
                         f"({', '.join(wanted)}), got {len(args)}")
    problem = None
    if dist == "uniform" and not args[1] > args[0]:
        problem = f"high ({args[1]:g}) must be greater than low ({args[0]:g})"
    elif dist in ("normal", "lognormal") and not args[1] > 0:
        problem = f"{wanted[1]} must be positive, got {args[1]:g}"
    elif dist == "triangular" and not (args[0] <= args[1] <= args[2] and args[0] < args[2]):
        problem = (f"needs low <= mode <= high with low < high, got {args[0]:g}, {args[1]:g}, "
                   f"{args[2]:g}")
    if problem:
        raise SweepError(f"parameter '{name}': {dist}({', '.join(f'{a:g}' for a in args)}): "
                         f"{problem}")
    return Sampled(name, dist, tuple(args))


def parse_vary(flags: Sequence[str]) -> tuple:
    """--vary "Name=values" flags -> factors (values as in `parse_values`)."""
    factors = []
    for text in flags:
        name, sep, value = text.partition("=")
        if not sep or not name.strip():
            raise SweepError(f"--vary '{text}' is not Name=values (for example "
                             "--vary \"Max retries=0,1,3,5\")")
        factors.append(parse_values(name.strip(), value))
    return tuple(factors)


def design_problems(spec: SweepSpec) -> list[str]:
    """Problems of the design that do not need the model (the model's names are checked
    by `sdmodels.sweep.runner.prepare`)."""
    from sdmodels.limits import current_limits
    problems = []
    names = [f.name for f in spec.factors]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        problems.append(f"parameter(s) {', '.join(dupes)} are varied twice")
    sampled = [f for f in spec.factors if isinstance(f, Sampled)]
    if spec.sampler not in SAMPLERS:
        problems.append(f"sampler '{spec.sampler}' is unknown; use lhs or random")
    if sampled and spec.samples < 1:
        problems.append(f"{', '.join(f.name for f in sampled)} are sampled from distributions "
                        "but samples is not set; add samples = N to [design] (or --samples N)")
    if spec.replications < 1:
        problems.append(f"replications must be at least 1, got {spec.replications}")
    if spec.samples < 0:
        problems.append(f"samples must not be negative, got {spec.samples}")
    if spec.samples > 0 and not sampled:        # it would be ignored without a word
        problems.append(f"samples = {spec.samples} draws nothing: no parameter is drawn from "
                        "a distribution (for example --vary \"X=uniform(0, 1)\"); drop samples")
    both = sorted({f.name for f in spec.factors
                   if canonical(f.name) in {canonical(n) for n in spec.set}})
    if both:                                    # the varied values won, the set one vanished
        problems.append(f"parameter(s) {', '.join(both)} are both varied and set; keep one")
    if spec.trigger is not None and spec.trigger[1] < spec.trigger[0]:
        problems.append(f"trigger ends ({spec.trigger[1]:g}) before it starts "
                        f"({spec.trigger[0]:g})")
    if spec.series_format not in ("netcdf", "zarr"):
        problems.append(f"series format '{spec.series_format}' is unknown; use netcdf or zarr")
    if spec.method not in ("euler", "rk4"):
        problems.append(f"method '{spec.method}' is unknown; use euler or rk4")
    if spec.chunk_size is not None and int(spec.chunk_size) < 1:
        problems.append("chunk_size must be at least 1")
    runs = math.prod(len(f.values) for f in spec.factors if isinstance(f, Levels)) \
        * (max(spec.samples, 0) if sampled else 1) * max(spec.replications, 1)
    limit = current_limits().max_sweep_runs
    if runs > limit:
        problems.append(f"the design has {runs:,} runs, more than the limit of {limit:,}; vary "
                        "fewer values, or raise the limit with --max-sweep-runs N (or "
                        "SDMODELS_MAX_SWEEP_RUNS=N)")
    return problems


def check_design(spec: SweepSpec) -> None:
    """SweepError listing every problem of `design_problems`, if any."""
    problems = design_problems(spec)
    if problems:
        raise SweepError("invalid sweep design: " + "; ".join(problems))


def _sample(factors: list[Sampled], n: int, sampler: str, seed: int) -> dict[str, np.ndarray]:
    from scipy.special import ndtri
    rng = np.random.default_rng(seed)
    out = {}
    for f in factors:
        if sampler == "lhs":   # one draw in each of n equal-probability strata, shuffled
            u = (rng.permutation(n) + rng.uniform(size=n)) / n
        else:
            u = rng.uniform(size=n)
        a = f.args
        if f.dist == "uniform":
            x = a[0] + u * (a[1] - a[0])
        elif f.dist == "normal":
            x = a[0] + a[1] * ndtri(u)
        elif f.dist == "lognormal":
            x = np.exp(a[0] + a[1] * ndtri(u))
        else:   # triangular: inverse CDF
            low, mode, high = a
            cut = (mode - low) / (high - low)
            x = np.where(u < cut, low + np.sqrt(u * (high - low) * (mode - low)),
                         high - np.sqrt((1 - u) * (high - low) * (high - mode)))
        out[f.name] = x
    return out


def design_table(spec: SweepSpec) -> pd.DataFrame:
    """One row per run: `run`, the varied parameters, `replicate` and `seed`.

    The table is a pure function of the spec, so a resumed sweep rebuilds the same runs.
    """
    check_design(spec)
    levels = [f for f in spec.factors if isinstance(f, Levels)]
    sampled = [f for f in spec.factors if isinstance(f, Sampled)]
    grid = list(itertools.product(*[f.values for f in levels])) if levels else [()]
    columns: dict[str, np.ndarray] = {f.name: np.array([g[i] for g in grid], dtype=float)
                                      for i, f in enumerate(levels)}
    n_points = len(grid)
    if sampled:
        draws = _sample(sampled, spec.samples, spec.sampler, spec.seed)
        columns = {k: np.repeat(v, spec.samples) for k, v in columns.items()}
        columns.update({k: np.tile(v, n_points) for k, v in draws.items()})
        n_points *= spec.samples
    reps = spec.replications
    table = pd.DataFrame({k: np.repeat(v, reps) for k, v in columns.items()})
    table.insert(0, "run", np.arange(n_points * reps, dtype=np.int64))
    table["replicate"] = np.tile(np.arange(reps, dtype=np.int64), n_points)
    table["seed"] = (np.int64(spec.seed) + table["run"].to_numpy()) % (2 ** 32)
    return table


def with_overrides(spec: SweepSpec, **changes) -> SweepSpec:
    """A copy of `spec` with the given fields replaced (None values are ignored)."""
    return replace(spec, **{k: v for k, v in changes.items() if v is not None})


from sdmodels.sweep.sweepfile import load_sweep, spec_from_mapping  # noqa: E402,F401
