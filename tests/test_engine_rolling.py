"""Rolling windows against closed forms on both engines: a monotone input is the case where
the window's extreme leaves it at every step (the oldest sample), which the deque in
`_interpreter._roll` keeps in O(1) a step; a NaN in the window falls back to the full scan."""
import math

import numpy as np
import pytest

from sdmodels import Model, if_then_else, rolling_max, rolling_min, simulate

DT, WINDOW = 0.25, 2.0


def _model():
    m = Model("rolling", stop=10, dt=DT)
    m.aux("Min of rising", rolling_min(m.time, WINDOW))
    m.aux("Max of falling", rolling_max(-m.time, WINDOW))
    gap = if_then_else((m.time >= 3) * (m.time < 3.5), math.nan, m.time)
    m.aux("Max with a gap", rolling_max(gap, WINDOW))
    return m


@pytest.mark.parametrize("engine", ["interpreter", "compiled"])
def test_rolling_extremes_of_monotone_inputs_are_the_window_ends(engine):
    r = simulate(_model(), engine=engine)
    t = r.times
    # the window holds the samples of the last WINDOW time units, the current one included;
    # before it fills, the samples since the start (t = 0)
    assert np.allclose(r["Min of rising"][0], np.maximum(0.0, t - WINDOW), atol=1e-12)
    assert np.allclose(r["Max of falling"][0], -np.maximum(0.0, t - WINDOW), atol=1e-12)
    gap = r["Max with a gap"][0]
    # max() scans from the oldest slot and a NaN compares false: while the NaN samples are
    # in the window the result is whatever the scan meets, so only its ends are checked:
    # the window is clean again WINDOW after the gap, and the max is the newest sample
    clean = (t < 3) | (t >= 3.5 + WINDOW)
    assert np.allclose(gap[clean], t[clean], atol=1e-12)


def test_both_engines_agree_bit_for_bit_with_and_without_nan():
    a = simulate(_model(), engine="interpreter").data
    b = simulate(_model(), engine="compiled").data
    assert np.array_equal(a, b, equal_nan=True)
