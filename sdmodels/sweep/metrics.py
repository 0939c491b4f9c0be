"""Summary metrics of simulated series, computed for all runs at once on (runs, times) arrays.

A metric is written "Output:kind" or "Output:kind=argument":

- ``final``, ``peak``, ``min``: last, largest, smallest saved value;
- ``time_of_peak``: first time the peak is reached;
- ``mean``: time-weighted (trapezoidal) mean over the saved horizon;
- ``time_above=X`` / ``time_below=X``: total time the series spends above / below X, with
  crossings located by linear interpolation between saved points;
- ``recovery=P``: time from the end of the trigger until the series is back within P % of
  its baseline (its last value before the trigger starts) and stays there to the end; 0 if it never
  left, NaN if it never comes back. Needs a trigger in the sweep.

>>> import numpy as np
>>> t = np.linspace(0, 10, 11); y = t[None, :]          # y = t
>>> compute_metrics(t, {"y": y}, ["y:time_above=3", "y:mean", "y:peak"]).round(6).to_dict("list")
{'y.time_above=3': [7.0], 'y.mean': [5.0], 'y.peak': [10.0]}
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from sdmodels.sweep.design import SweepError

KINDS = {"final": False, "peak": False, "time_of_peak": False, "min": False, "mean": False,
         "time_above": True, "time_below": True, "recovery": True}
DEFAULT_KINDS = ("final", "peak", "time_of_peak", "min", "mean")


@dataclass(frozen=True)
class Metric:
    """One summary of one output; `column` is its name in the results table."""
    output: str
    kind: str
    arg: float | None = None

    @property
    def column(self) -> str:
        return f"{self.output}.{self.kind}" + ("" if self.arg is None else f"={self.arg:g}")


def parse_metric(text: str, default_output: str | None = None) -> Metric:
    """'Backlog:time_above=100' -> Metric; 'peak' alone applies to `default_output`.

    >>> parse_metric("Backlog:recovery=5")
    Metric(output='Backlog', kind='recovery', arg=5.0)
    """
    from sdmodels.errors import did_you_mean
    output, sep, rest = text.rpartition(":")
    if not sep:
        output, rest = default_output or "", text
    kind, eq, arg = rest.strip().partition("=")
    kind = kind.strip().lower().replace(" ", "_").replace("-", "_")
    if kind not in KINDS:
        raise SweepError(f"metric '{text}': unknown kind '{kind}'.{did_you_mean(kind, KINDS)} "
                         f"Kinds: {', '.join(KINDS)}")
    if KINDS[kind] != bool(eq):
        raise SweepError(f"metric '{text}': {kind} " + (
            "needs a number, for example Backlog:time_above=100" if KINDS[kind]
            else "takes no argument"))
    if not output.strip():
        raise SweepError(f"metric '{text}' names no output; write Output:{kind}")
    value = None
    if eq:
        try:
            value = float(arg)
        except ValueError:
            raise SweepError(f"metric '{text}': '{arg}' is not a number") from None
        if kind == "recovery" and not value > 0:
            raise SweepError(f"metric '{text}': the recovery band must be a positive percent")
    return Metric(output.strip(), kind, value)


def _time_beyond(t: np.ndarray, y: np.ndarray, threshold: float, above: bool) -> np.ndarray:
    s = (y - threshold) if above else (threshold - y)
    a, b = s[:, :-1], s[:, 1:]
    dt = np.diff(t)[None, :]
    with np.errstate(invalid="ignore", divide="ignore"):
        hi, lo = np.maximum(a, b), np.minimum(a, b)
        frac = np.where(lo >= 0, 1.0, np.where(hi <= 0, 0.0, hi / (hi - lo)))
    return (frac * dt).sum(axis=1)


def baseline_and_windows(t: np.ndarray, y: np.ndarray, trigger: tuple[float, float] | None):
    """(baseline per run, index of the baseline, index where the trigger ends).

    The baseline is the last saved value strictly before the trigger starts (the first
    value without a trigger)."""
    if trigger is None:
        return y[:, 0], 0, 0
    i0 = int(np.clip(np.searchsorted(t, trigger[0], side="left") - 1, 0, t.size - 1))
    i1 = int(np.clip(np.searchsorted(t, trigger[1], side="left"), 0, t.size - 1))
    return y[:, i0], i0, i1


def _recovery(t, y, percent, trigger) -> np.ndarray:
    if trigger is None:
        raise SweepError("the recovery metric needs a trigger: add trigger = {start = S, end = E} "
                         "to the sweep file (or --trigger S:E)")
    base, _, i1 = baseline_and_windows(t, y, trigger)
    band = np.abs(base) * percent / 100.0
    inside = np.abs(y - base[:, None]) <= band[:, None] + 1e-12 * np.abs(base[:, None])
    # last index at which the series is outside the band
    outside_rev = ~inside[:, ::-1]
    any_out = outside_rev.any(axis=1)
    last_out = t.size - 1 - np.argmax(outside_rev, axis=1)
    out = np.where(~any_out | (last_out < i1), 0.0, np.nan)
    ok = any_out & (last_out >= i1) & (last_out < t.size - 1)
    out[ok] = t[last_out[ok] + 1] - t[i1]
    return out


def compute_metrics(t: np.ndarray, series: Mapping[str, np.ndarray], metrics: Sequence,
                    trigger: tuple[float, float] | None = None) -> pd.DataFrame:
    """A DataFrame with one column per metric and one row per run.

    `series` maps output names to (runs, times) arrays saved at times `t`.
    """
    t = np.asarray(t, dtype=float)
    cols = {}
    for m in metrics:
        m = parse_metric(m) if isinstance(m, str) else m
        y = series[m.output]
        if m.kind == "final":
            v = y[:, -1]
        elif m.kind == "peak":
            v = y.max(axis=1)
        elif m.kind == "min":
            v = y.min(axis=1)
        elif m.kind == "time_of_peak":
            v = t[np.argmax(y, axis=1)]
        elif m.kind == "mean":
            span = t[-1] - t[0]
            v = (np.trapezoid(y, t, axis=1) / span) if span > 0 else y[:, 0]
        elif m.kind in ("time_above", "time_below"):
            v = _time_beyond(t, y, m.arg, m.kind == "time_above")
        else:
            v = _recovery(t, y, m.arg, trigger)
        cols[m.column] = np.asarray(v, dtype=float)
    return pd.DataFrame(cols)
