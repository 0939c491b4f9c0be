"""Compiled helpers that generated kernels call (lookups, pulse trains, ramps)."""
from __future__ import annotations

import numpy as np
from sdmodels.kernel_cache import njit


@njit(cache=True, nogil=True)
def lookup(x, xs, ys, offset, n, extrapolate):
    """Piecewise-linear interpolation in xs/ys[offset:offset+n], clamped or extrapolated."""
    lo = offset
    hi = offset + n - 1
    if n == 1:
        return ys[lo]
    if x <= xs[lo]:
        if extrapolate:
            return ys[lo] + (ys[lo + 1] - ys[lo]) * (x - xs[lo]) / (xs[lo + 1] - xs[lo])
        return ys[lo]
    if x >= xs[hi]:
        if extrapolate:
            return ys[hi] + (ys[hi] - ys[hi - 1]) * (x - xs[hi]) / (xs[hi] - xs[hi - 1])
        return ys[hi]
    if x != x:
        return x
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if xs[mid] <= x:
            lo = mid
        else:
            hi = mid
    return ys[lo] + (ys[hi] - ys[lo]) * (x - xs[lo]) / (xs[hi] - xs[lo])


@njit(cache=True, nogil=True)
def pulse_train(t, start, width, interval, end, dt, teps):
    """1 during each pulse of `width` every `interval` from `start` until `end`."""
    if t + teps < start or t - teps > end:
        return 0.0
    width = max(width, dt)
    if interval <= 0.0:
        return 1.0 if t + teps < start + width else 0.0
    phase = (t + teps - start) % interval
    return 1.0 if phase < width else 0.0


@njit(cache=True, nogil=True)
def ramp(t, slope, start, end, has_end):
    """slope * (t - start) after start, held after end."""
    if t <= start:
        return 0.0
    if has_end and t >= end:
        return slope * (end - start)
    return slope * (t - start)


@njit(cache=True, nogil=True)
def bounded_normal(lo, hi, mean, sd):
    """A normal draw clipped to [lo, hi] (Vensim RANDOM NORMAL)."""
    value = np.random.normal(mean, sd) if sd > 0.0 else mean
    return min(max(value, lo), hi)


@njit(cache=True, nogil=True)
def window_extreme(buf, count, want_max):
    """Max (or min) of the first `count` entries of a rolling buffer."""
    best = buf[0]
    for i in range(1, count):
        v = buf[i]
        if (v > best) if want_max else (v < best):
            best = v
    return best
