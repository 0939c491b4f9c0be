"""Behaviour labels: one word per run saying what its series did, with the thresholds used.

Notation for one series y(t) saved at n points: y0 first value, yf last value, range =
max(y) - min(y), scale = max(|y0|, |yf|, range). Thresholds (`LabelOptions`, settable in
the sweep file's ``[labels]`` table): ``tolerance`` (default 0.02), ``band`` (0.10) and
``overshoot`` (0.05). The baseline b is the last y before the trigger starts
(``trigger = {start, end}`` in the sweep file), or y0 without a trigger. The *tail* is the last 10 % of saved points.

Turning points are found by a zig-zag filter: a local extreme counts only once the series
has moved back from it by more than ``tolerance * scale``, so noise and numerical ripple do
not make turning points. Labels are tried in this order; the first that fits wins:

``steady``
    range <= tolerance * max(|y0|, |yf|): nothing moved (also any constant series), or the
    series only jumped between its first two points and then stayed put (a value at t = 0
    computed before the model settled, e.g. 0 then constant, is not growth).
``recovered``
    The series left the band around b (deviation > band_abs = max(band * |b|,
    tolerance * largest deviation)) after the trigger's start, and every tail point is back
    inside the band.
``collapsed`` (only with a trigger that ends before the run does)
    It left the band, ends outside it, and over the tail it is not getting closer to b (it
    moved back by less than tolerance * largest deviation): the bad state sustains itself
    after the trigger has ended, the metastable failure.
``step``
    One jump and flat otherwise: leaving out the largest change between two saved points,
    the remaining changes add up to at most tolerance * scale (a STEP input, a switch).
``oscillating``
    At least four turning points. ``period`` = 2 x mean time between turning points;
    ``damping`` = damping ratio zeta = delta / sqrt(4 pi^2 + delta^2), where delta, the
    logarithmic decrement per cycle, is twice the mean log ratio of successive
    peak-to-trough swings (exact for a sampled damped sinusoid c + A exp(-s t) cos(w t);
    0 for a sustained oscillation, negative for a growing one).
``overshoot``
    It moved from y0 to a different yf (|yf - y0| > tolerance * scale) and on the way went
    past yf by more than overshoot * |yf - y0|.
``growth`` / ``decline``
    yf - y0 > tolerance * scale / < -tolerance * scale, without the above.
Anything else is ``steady``. ``period`` and ``damping`` are reported for every run with
enough turning points (NaN otherwise), whatever its label.
``failed``
    Given by the sweep runner, not by `classify`: the run's values turned NaN or infinite
    (its ``failure`` column says which variable and when); its metrics are NaN.

>>> import numpy as np
>>> t = np.linspace(0, 10, 101)
>>> classify(t, np.vstack([np.full(101, 5.0), 5 + t, 5 - t]))["label"].tolist()
['steady', 'growth', 'decline']
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
from sdmodels.kernel_cache import njit

from sdmodels.sweep.design import LabelOptions

# the last is given by the sweep runner, not by classify: a run whose values turned NaN/inf
LABELS = ("steady", "recovered", "collapsed", "oscillating", "overshoot", "growth", "decline",
          "step", "failed")
STEADY, RECOVERED, COLLAPSED, OSCILLATING, OVERSHOOT, GROWTH, DECLINE, STEP = range(8)


@njit(cache=True, nogil=True)
def _turning_points(y, h, out):
    """Indices of zig-zag turning points (hysteresis h) into `out`; returns how many."""
    n = y.size
    count = 0
    direction = 0
    hi = 0
    lo = 0
    cand = 0
    for i in range(1, n):
        v = y[i]
        if direction == 0:
            if v > y[hi]:
                hi = i
            if v < y[lo]:
                lo = i
            if y[hi] - v > h:
                if hi > 0:
                    out[count] = hi
                    count += 1
                direction = -1
                cand = i
            elif v - y[lo] > h:
                if lo > 0:
                    out[count] = lo
                    count += 1
                direction = 1
                cand = i
        elif direction < 0:
            if v < y[cand]:
                cand = i
            elif v - y[cand] > h:
                out[count] = cand
                count += 1
                direction = 1
                cand = i
        else:
            if v > y[cand]:
                cand = i
            elif y[cand] - v > h:
                out[count] = cand
                count += 1
                direction = -1
                cand = i
    return count


@njit(cache=True, nogil=True)
def _largest_jump(y):
    """(i, rest): y[i] - y[i-1] is the largest change; rest sums the size of all the others."""
    best = 1
    total = 0.0
    for i in range(1, y.size):
        d = abs(y[i] - y[i - 1])
        total += d
        if d > abs(y[best] - y[best - 1]):
            best = i
    if y.size < 2:
        return 0, 0.0
    return best, total - abs(y[best] - y[best - 1])


@njit(cache=True, nogil=True)
def _classify(t, Y, i0, i1, has_trigger, ended, tol, band, over, codes, periods, dampings):
    runs, n = Y.shape
    tp = np.empty(n, dtype=np.int64)
    tail = max(2, n // 10)
    for r in range(runs):
        y = Y[r]
        y0 = y[0]
        yf = y[n - 1]
        lo = y.min()
        hi = y.max()
        rng = hi - lo
        scale = max(abs(y0), abs(yf), rng, 1e-300)
        k = _turning_points(y, tol * scale, tp)
        periods[r] = np.nan
        dampings[r] = np.nan
        if k >= 2:
            periods[r] = 2.0 * (t[tp[k - 1]] - t[tp[0]]) / (k - 1)
        if k >= 3:
            first = abs(y[tp[1]] - y[tp[0]])
            last = abs(y[tp[k - 1]] - y[tp[k - 2]])
            if first > 0 and last > 0:
                delta = 2.0 * math.log(first / last) / (k - 2)
                dampings[r] = delta / math.sqrt(4 * math.pi ** 2 + delta ** 2)
        if not (rng > tol * max(abs(y0), abs(yf))):
            codes[r] = STEADY
            continue
        jump, moved = _largest_jump(y)
        if jump == 1 and moved <= tol * scale:     # only the first interval moved
            codes[r] = STEADY
            continue
        base = y[i0] if has_trigger else y0
        dev = 0.0
        for i in range(i0, n):
            dev = max(dev, abs(y[i] - base))
        band_abs = max(band * abs(base), tol * dev)
        if dev > band_abs:
            back = True
            for i in range(n - tail, n):
                if abs(y[i] - base) > band_abs:
                    back = False
            if back:
                codes[r] = RECOVERED
                continue
            if ended and abs(yf - base) > band_abs:
                start = max(i1, n - tail)
                if abs(y[start] - base) - abs(yf - base) < tol * dev:
                    codes[r] = COLLAPSED
                    continue
        if moved <= tol * scale:
            codes[r] = STEP
            continue
        if k >= 4:
            codes[r] = OSCILLATING
            continue
        d = yf - y0
        if abs(d) > tol * scale:
            s = 1.0 if d > 0 else -1.0
            beyond = 0.0
            for i in range(n):
                beyond = max(beyond, s * (y[i] - yf))
            if beyond > over * abs(d):
                codes[r] = OVERSHOOT
            elif d > 0:
                codes[r] = GROWTH
            else:
                codes[r] = DECLINE
            continue
        codes[r] = STEADY


def classify(t, Y, *, trigger: tuple[float, float] | None = None,
             options: LabelOptions = LabelOptions()) -> pd.DataFrame:
    """Label every run of `Y` (runs, times) saved at times `t`: columns label, period, damping.

    >>> import numpy as np
    >>> t = np.linspace(0, 40, 4001)
    >>> row = classify(t, 1 + np.exp(-0.1 * t) * np.cos(t))          # period 2 pi
    >>> row.loc[0, "label"], round(float(row.loc[0, "period"]), 2)
    ('oscillating', 6.28)
    """
    from sdmodels.sweep.metrics import baseline_and_windows
    t = np.ascontiguousarray(t, dtype=float)
    Y = np.ascontiguousarray(np.atleast_2d(Y), dtype=float)
    if Y.shape[1] != t.size:
        raise ValueError(f"series have {Y.shape[1]} points but there are {t.size} times")
    _, i0, i1 = baseline_and_windows(t, Y, trigger)
    runs = Y.shape[0]
    codes = np.zeros(runs, dtype=np.int64)
    periods, dampings = np.empty(runs), np.empty(runs)
    # collapsed needs the trigger to have ended in the run: a stress still acting at the end
    # holds the series away from its baseline, which says nothing of a state that sustains
    # itself
    ended = trigger is not None and trigger[1] < t[-1]
    _classify(t, Y, i0, i1, trigger is not None, ended, options.tolerance, options.band,
              options.overshoot, codes, periods, dampings)
    return pd.DataFrame({"label": pd.Categorical.from_codes(codes, categories=list(LABELS)),
                         "period": periods, "damping": dampings})
