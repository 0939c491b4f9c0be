"""Sweep files (TOML/YAML) read into a `SweepSpec`, every mistake reported at once.

>>> spec_from_mapping({"model": "teacup", "vary": {"Room Temperature": [60, 70]}}).factors
(Levels(name='Room Temperature', values=(60.0, 70.0)),)
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping

from sdmodels.sources import MODEL_FILE_SUFFIXES, SYSTEM_FILE_SUFFIXES
from sdmodels.sweep.design import (LabelOptions, SweepError, SweepSpec, _count, _num,
                                   design_problems, parse_values)


_FILE_KEYS = {"model", "scenario", "set", "vary", "design", "outputs", "metrics", "trigger",
              "labels", "series", "time", "chunk_size"}


def load_sweep(path: str | Path) -> SweepSpec:
    """Read a sweep file (.toml, .yaml or .yml); the README's "Sweeps" section shows the format."""
    path = Path(path)
    if not path.exists():
        raise SweepError(f"sweep file '{path}' does not exist")
    try:
        text = path.read_text(encoding="utf-8-sig")     # a byte-order mark is no TOML
    except UnicodeDecodeError as exc:
        raise SweepError(f"sweep file '{path}' is not UTF-8 text (byte {exc.start} cannot be "
                         "read); save it as UTF-8 TOML or YAML") from None
    try:
        if path.suffix.lower() == ".toml":
            import tomllib
            data = tomllib.loads(text)
        elif path.suffix.lower() in (".yaml", ".yml"):
            import yaml
            data = yaml.safe_load(text) or {}
        else:
            raise SweepError(f"sweep file '{path}' must end in .toml, .yaml or .yml")
    except SweepError:
        raise
    except Exception as exc:  # tomllib / yaml parse errors carry line and column
        raise SweepError(f"sweep file '{path}' could not be read: {_one_line(exc)}") from None
    return spec_from_mapping(data, where=str(path), base=path.parent)


def _one_line(exc: Exception) -> str:
    """A parser's error in one line: PyYAML's spans five, with the text and a caret."""
    mark, problem = getattr(exc, "problem_mark", None), getattr(exc, "problem", None)
    if mark is None or not problem:
        return " ".join(str(exc).split())
    text = f"line {mark.line + 1}, column {mark.column + 1}: {problem}"
    context, where = getattr(exc, "context", None), getattr(exc, "context_mark", None)
    if context and where is not None:
        text += f" ({context} at line {where.line + 1}, column {where.column + 1})"
    return text


class _Problems:
    """Collects what is wrong in a sweep file, so that all of it is reported at once."""

    def __init__(self):
        self.items: list[str] = []

    def add(self, text: str) -> None:
        self.items.append(text)

    def get(self, fn, *args, default=None, what: str = ""):
        """fn(*args), or `default` with the problem recorded."""
        try:
            return fn(*args)
        except SweepError as exc:
            self.items.append(str(exc))
        except (TypeError, ValueError, KeyError, OverflowError) as exc:
            self.items.append(f"{what}: {exc}" if what else str(exc))
        return default

    def table(self, data: Mapping, key: str) -> dict:
        value = data.get(key) or {}
        if not isinstance(value, Mapping):
            self.add(f"[{key}] must be a table of settings, not {value!r}")
            return {}
        return dict(value)


def _float_or_none(what: str, value):
    return None if value is None else _num(what, value)


def spec_from_mapping(data: Mapping, *, where: str = "sweep", base: Path | None = None
                      ) -> SweepSpec:
    """A SweepSpec from the parsed contents of a sweep file; every problem in one SweepError."""
    from sdmodels.errors import did_you_mean
    if not isinstance(data, Mapping):
        raise SweepError(f"{where}: the file must hold a table of settings")
    p = _Problems()
    for key in data:
        if key not in _FILE_KEYS:
            p.add(f"unknown setting '{key}'.{did_you_mean(str(key), _FILE_KEYS)} "
                  f"Settings: {', '.join(sorted(_FILE_KEYS))}")
    if "model" not in data:
        p.add("no model given; add model = \"teacup\" (a library name or a path to a "
              ".py/.mdl/.xmile file)")
    model = str(data.get("model", ""))
    if base is not None and ("/" in model or model.endswith((".py", *MODEL_FILE_SUFFIXES,
                                                            *SYSTEM_FILE_SUFFIXES))):
        candidate = base / model      # relative to the sweep file; else to here, if it is
        model = str(candidate) if candidate.exists() or not Path(model).exists() else model
    design, time, labels = p.table(data, "design"), p.table(data, "time"), p.table(data, "labels")
    series = data.get("series") or {}
    if isinstance(series, (list, tuple, str)):
        series = {"variables": series}
    if not isinstance(series, Mapping):
        p.add(f"series must be a list of variables or a table, not {series!r}")
        series = {}
    metrics = data.get("metrics") or []
    if isinstance(metrics, Mapping):   # {Output: [kinds]}
        metrics = [f"{out}:{k}" for out, kinds in metrics.items()
                   for k in ([kinds] if isinstance(kinds, str) else kinds)]
    elif isinstance(metrics, str):
        metrics = [metrics]
    fixed = p.table(data, "set")
    vary = p.table(data, "vary")
    label_options = p.get(lambda: LabelOptions(**{k: _num(f"labels.{k}", v)
                                                  for k, v in labels.items()}),
                          default=LabelOptions(), what="[labels] takes tolerance, band, "
                          "overshoot")
    spec = SweepSpec(
        model=model, scenario=None if data.get("scenario") is None else str(data["scenario"]),
        set={str(k): v for k, v in ((k, p.get(_num, f"set.{k}", v)) for k, v in fixed.items())
             if v is not None},
        factors=tuple(f for f in (p.get(parse_values, str(k), v) for k, v in vary.items())
                      if f is not None),
        sampler=str(design.pop("sampler", design.pop("kind", "lhs"))).lower(),
        samples=p.get(_count, "design.samples", design.pop("samples", 0), default=0),
        seed=p.get(_count, "design.seed", design.pop("seed", 0), default=0),
        replications=p.get(_count, "design.replications", design.pop("replications", 1),
                           default=1),
        outputs=tuple(p.get(_names, data.get("outputs"), default=[], what="outputs")),
        metrics=tuple(str(m) for m in metrics), trigger=p.get(_trigger, data.get("trigger"),
                                                               what="trigger"),
        labels=label_options,
        series=tuple(p.get(_names, series.get("variables"), default=[], what="series")),
        series_format=str(series.get("format", "netcdf")).lower(),
        method=str(time.pop("method", "euler")),
        stop=p.get(_float_or_none, "time.stop", time.pop("stop", None)),
        dt=p.get(_float_or_none, "time.dt", time.pop("dt", None)),
        saveper=p.get(_float_or_none, "time.saveper", time.pop("saveper", None)),
        chunk_size=p.get(lambda v: None if v is None else _count("chunk_size", v),
                         data.get("chunk_size")))
    leftover = sorted(set(design) | set(time))
    if leftover:
        p.add(f"unknown design/time setting(s) {', '.join(leftover)}; design takes sampler, "
              "samples, seed, replications; time takes method, stop, dt, saveper")
    p.items += design_problems(spec)
    if p.items:
        if len(p.items) == 1:
            raise SweepError(f"{where}: {p.items[0]}")
        raise SweepError(f"{where}: {len(p.items)} problems: " + "; ".join(
            f"({i}) {text}" for i, text in enumerate(p.items, 1)))
    return spec


def _names(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, (list, tuple)):
        raise SweepError(f"{value!r} is not a list of names")
    return [str(v) for v in value]


def _trigger(value) -> tuple[float, float] | None:
    if value is None:
        return None
    if isinstance(value, Mapping):
        if "start" not in value:
            raise SweepError(f"trigger {dict(value)} needs start (and end)")
        return (_num("trigger.start", value["start"]),
                _num("trigger.end", value.get("end", value["start"])))
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise SweepError(f"trigger {value!r} is not {{start = S, end = E}} or [S, E]")
    start, end = value
    return _num("trigger.start", start), _num("trigger.end", end)
