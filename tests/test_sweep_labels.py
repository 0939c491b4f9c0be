"""Behaviour labels and metrics on series whose behaviour is known by construction."""
import numpy as np
import pytest

from sdmodels.sweep import classify, compute_metrics
from sdmodels.sweep.design import LabelOptions

T = np.linspace(0, 60, 6001)     # dt = 0.01


def damped(zeta, wn=1.0, t=T):
    wd = wn * np.sqrt(1 - zeta ** 2)
    return 1 + np.exp(-zeta * wn * t) * np.cos(wd * t), 2 * np.pi / wd


@pytest.mark.parametrize("zeta", [0.05, 0.1, 0.2])
def test_damped_cosine_is_oscillating_with_its_period_and_damping_ratio(zeta):
    y, period = damped(zeta)
    row = classify(T, y).iloc[0]
    assert row["label"] == "oscillating"
    # turning points are located to within one sample (0.01) and averaged over >= 3 of them
    assert row["period"] == pytest.approx(period, abs=0.01)
    # successive swings of a sampled damped sinusoid decay exactly by exp(-delta / 2); the
    # sampled extremes are off by O((w dt)^2) = 1e-4 relative, far below this tolerance
    assert row["damping"] == pytest.approx(zeta, abs=2e-3)


def test_sustained_and_growing_oscillations():
    rows = classify(T, np.vstack([5 + np.sin(T), 5 + np.exp(0.02 * T) * np.sin(T)]))
    assert rows["label"].tolist() == ["oscillating", "oscillating"]
    assert rows.loc[0, "damping"] == pytest.approx(0.0, abs=1e-3)
    assert rows.loc[1, "damping"] < 0                   # growing: negative damping ratio
    assert rows.loc[0, "period"] == pytest.approx(2 * np.pi, abs=0.01)


def test_growth_decline_steady_overshoot():
    logistic = 1000 / (1 + 999 * np.exp(-0.3 * T))
    cooling = 70 + 110 * np.exp(-T / 10)                # the teacup's closed form
    rng = np.random.default_rng(0)
    flat = 100 + 0.05 * rng.standard_normal(T.size)     # 0.05 % noise: below the 2 % tolerance
    zeta = 0.5                                          # step response: 16 % overshoot
    wd = np.sqrt(1 - zeta ** 2)
    step = 1 - np.exp(-zeta * T) * (np.cos(wd * T) + zeta / wd * np.sin(wd * T))
    noisy_growth = 10 + T + 0.2 * rng.standard_normal(T.size)
    labels = classify(T, np.vstack([logistic, cooling, flat, step, noisy_growth]))["label"]
    assert labels.tolist() == ["growth", "decline", "steady", "overshoot", "growth"]


def step_then(after):
    """Baseline 10; pushed to 50 during the trigger 10..20; then `after` (a function of s)."""
    s = T - 20
    return np.where(T < 10, 10.0, np.where(T < 20, 50.0, after(np.maximum(s, 0))))


def test_recovered_and_collapsed_after_a_trigger():
    recovered = step_then(lambda s: 10 + 40 * np.exp(-s / 3))
    stuck = step_then(lambda s: 50 + 0 * s)                     # stays bad: metastable
    worse = step_then(lambda s: 50 + 2 * s)                     # keeps getting worse
    slow = step_then(lambda s: 10 + 40 * np.exp(-s / 100))      # still coming back: not stuck
    rows = classify(T, np.vstack([recovered, stuck, worse, slow]), trigger=(10, 20))
    assert rows["label"].tolist()[:3] == ["recovered", "collapsed", "collapsed"]
    assert rows["label"][3] != "collapsed"
    # without a trigger, leaving the start value and returning is still "recovered"
    assert classify(T, recovered)["label"][0] == "recovered"
    # a trigger still acting at the end of the run (a lasting stress) holds the series away:
    # that is the stress, not a state that sustains itself after it, so never "collapsed"
    held = classify(T, stuck, trigger=(10, T[-1] + 1e9))["label"][0]
    assert held == "step"                      # one jump at 10 s, flat after it


def test_thresholds_are_options():
    y = 100 + 0.9 * np.sin(T)                           # range 1.8 % of the level
    assert classify(T, y)["label"][0] == "steady"       # tolerance 2 %
    assert classify(T, y, options=LabelOptions(tolerance=0.005))["label"][0] == "oscillating"


def test_metrics_against_closed_forms():
    t = np.linspace(0, 10, 1001)
    series = {"y": t[None, :], "s": np.sin(2 * np.pi * t / 10)[None, :]}
    m = compute_metrics(t, series, ["y:final", "y:peak", "y:min", "y:mean", "y:time_of_peak",
                                    "y:time_above=3", "y:time_below=3", "s:time_above=0",
                                    "s:peak", "s:time_of_peak"]).iloc[0]
    assert m["y.final"] == 10 and m["y.peak"] == 10 and m["y.min"] == 0
    assert m["y.mean"] == pytest.approx(5)              # trapezoid is exact on a line
    assert m["y.time_of_peak"] == 10
    assert m["y.time_above=3"] == pytest.approx(7) and m["y.time_below=3"] == pytest.approx(3)
    assert m["s.time_above=0"] == pytest.approx(5)      # half the period
    assert m["s.peak"] == pytest.approx(1) and m["s.time_of_peak"] == pytest.approx(2.5)


def test_recovery_time_matches_the_closed_form():
    tau = 5.0
    y = step_then(lambda s: 10 + 40 * np.exp(-s / tau))
    stuck = step_then(lambda s: 50 + 0 * s)
    m = compute_metrics(T, {"y": np.vstack([y, stuck, np.full(T.size, 10.0)])},
                        ["y:recovery=5"], trigger=(10, 20))["y.recovery=5"]
    # within 5 % of 10 when 40 exp(-s / tau) <= 0.5: s = tau ln 80; sampling adds <= dt
    assert m[0] == pytest.approx(tau * np.log(80), abs=0.011)
    assert np.isnan(m[1])                               # never came back
    assert m[2] == 0                                    # never left
