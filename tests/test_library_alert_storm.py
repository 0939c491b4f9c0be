"""Behaviour of library/alert_storm.py against the reference's Part 3.5 and arithmetic."""
from functools import partial

import numpy as np
import pytest

from library import alert_storm
from sdmodels import build, simulate as _simulate
from sdmodels.analysis import find_loops

# the interpreter: no numba compile (tests/test_engine_interpreter.py checks the engines agree)
simulate = partial(_simulate, engine="interpreter")

P = {name: spec[0] for name, spec in alert_storm.PARAMETERS.items()}
I = P["Incident rate"]                      # 5 meaningful alerts a day (Part 3.5)
C = P["Attention capacity"]                 # 20 alerts a day
K = P["Rules added per missed incident"]    # rules per missed incident
REVIEW_RATE = P["Review deletion fraction"] / P["Review interval"]   # share of rules per day


@pytest.fixture(scope="module")
def kernel():
    return build(alert_storm.build())


def series(kernel, scenario, **params):
    r = simulate(kernel, scenario=scenario, params=params)
    return {c: r[c] for c in ("Alerts per day", "Incidents missed", "Total incidents missed",
                              "Alert fatigue", "Alert-to-incident ratio")}, r.times


def test_baseline_reads_every_alert(kernel):
    s, _ = series(kernel, "baseline")
    # 5 meaningful alerts, no noise: 5 < 20 alerts/day of attention, so nothing is missed
    assert np.allclose(s["Alerts per day"], I)
    assert s["Total incidents missed"][0, -1] == pytest.approx(0, abs=1e-9)


def test_trigger_storm_runs_away_and_everything_is_ignored(kernel):
    s, t = series(kernel, "trigger")
    alerts = s["Alerts per day"][0]
    # the project takes alerts to the reference's 50/day ...
    project_end = P["Monitoring project day"] + P["Monitoring project duration"]
    assert alerts[np.searchsorted(t, project_end)] >= I + P["Monitoring project rules"] - 1
    # ... then the loop alone takes them past the reference's 200/day and still climbing:
    # once fatigue mutes everything, misses -> I a day and rules grow by K * I = 10 a day
    assert alerts[-1] > 200
    last_month = t >= t[-1] - 30
    slope = np.polyfit(t[last_month], alerts[last_month], 1)[0]
    assert slope == pytest.approx(K * I * P["Noise alerts per rule"], rel=0.1)
    assert s["Alert fatigue"][0, -1] > 0.9                     # "all ignored"
    assert s["Incidents missed"][0, -1] > 0.9 * I
    # misses run near I a day from about day 80 to the end (180 days)
    assert s["Total incidents missed"][0, -1] > 0.8 * I * (t[-1] - 80)


def test_storm_threshold_is_attention_capacity(kernel):
    # lasting storm only if I + noise > C: the threshold is C - I = 15 noise rules
    r = simulate(kernel, scenario="trigger",
                 params={"Monitoring project rules": [C - I - 1, C - I + 1]})
    alerts, missed = r["Alerts per day"], r["Total incidents missed"]
    assert alerts[0, -1] == pytest.approx(C - 1)              # 19 alerts/day: all read
    assert missed[0, -1] == pytest.approx(0, abs=1e-9)
    assert alerts[1, -1] > 5 * C                                # 21 alerts/day: runaway
    assert missed[1, -1] > 100


def test_fixed_stops_the_storm(kernel):
    trig, _ = series(kernel, "trigger")
    fixed, _ = series(kernel, "fixed")
    assert fixed["Alerts per day"].max() <= I + 1e-9           # no noise ever lands
    assert fixed["Total incidents missed"][0, -1] < 1e-6
    assert trig["Total incidents missed"][0, -1] > 400


def test_review_alone_caps_the_storm_but_does_not_end_it(kernel):
    s, t = series(kernel, "alert review only")
    alerts = s["Alerts per day"][0]
    # balance: deletions r * N = additions K * missed; missed <= I, so N <= K I / r = 140,
    # and with fatigue near 0.9 missed >= 0.9 I, so N >= 126: alerts in [131, 145]
    assert I + 0.9 * K * I / REVIEW_RATE <= alerts[-1] <= I + K * I / REVIEW_RATE
    last_month = t >= t[-1] - 30
    assert abs(np.polyfit(t[last_month], alerts[last_month], 1)[0]) < 0.1   # a plateau
    assert s["Incidents missed"][0, -1] > 0.8 * I                # still missing most


def test_ratio_tracking_alone_brings_alerts_back_under_capacity(kernel):
    s, _ = series(kernel, "ratio tracking only")
    trig, _ = series(kernel, "trigger")
    target = P["Target alert-to-incident ratio"]
    # tuning removes noise until the ratio is back at target: target * I = 10 < C alerts/day
    assert s["Alerts per day"][0, -1] == pytest.approx(target * I, rel=0.05)
    assert s["Incidents missed"][0, -1] < 0.01
    assert s["Total incidents missed"][0, -1] < 0.2 * trig["Total incidents missed"][0, -1]


def test_symptom_alerting_alone_adds_no_noise(kernel):
    s, _ = series(kernel, "symptom alerting only")
    assert np.allclose(s["Alerts per day"], I)


def test_named_loops_have_the_reference_polarity():
    m = alert_storm.build()
    trig = {l.name: l.polarity for l in find_loops(m, scenario="trigger") if l.name}
    assert trig["Add more monitoring"] == "R" and trig["Alert fatigue"] == "R"
    review = {l.name: l.polarity for l in find_loops(m, scenario="alert review only") if l.name}
    assert review["Alert review"] == "B"
    ratio = {l.name: l.polarity for l in find_loops(m, scenario="ratio tracking only") if l.name}
    assert ratio["Ratio tracking"] == "B"


def test_overrides_by_display_name():
    m = alert_storm.build(**{"attention capacity": 30})
    from sdmodels import build
    ir = build(m)
    assert ir.variables["attention_capacity"].values == (30.0,)
    with pytest.raises(KeyError, match="no parameter 'Attention'"):
        alert_storm.build(Attention=3)
