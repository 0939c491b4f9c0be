"""The alert pipeline and capacity budget parts against their arithmetic (reference Parts
3.5 and 3.6), each run alone with its inputs held."""
from functools import partial

import numpy as np
import pytest

from library.parts.ops import alert_pipeline, capacity_budget
from sdmodels import build, simulate as _simulate

# the interpreter: no numba compile (tests/test_engine_interpreter.py checks the engines agree)
simulate = partial(_simulate, engine="interpreter")


@pytest.fixture(scope="module")
def alerts():
    return build(alert_pipeline().with_time(stop=120))


def _alerts(kernel, **params):
    return simulate(kernel, params={k: [v] for k, v in params.items()},
                    outputs=["Alerts per day", "Incidents missed", "Noise alert rules",
                             "Alert fatigue", "Share of alerts read"])


def test_alerts_are_meaningful_plus_noise_and_all_read_below_capacity(alerts):
    # 5 incidents + 10 rules x 1 alert a day = 15 < 20 of attention: nothing missed, no
    # post-mortem, the rules stay
    r = _alerts(alerts, **{"Initial noise rules": 10})
    assert r["Alerts per day"][0] == pytest.approx(15)
    assert r["Incidents missed"][0].max() == pytest.approx(0, abs=1e-12)


def test_overload_and_fatigue_leave_a_quarter_read(alerts):
    # 35 rules: 40 alerts a day against 20 of attention; with no post-mortem rules the
    # overload stays 1 - 20/40 = 0.5, fatigue smooths to it (14 days, e^-120/14 ~ 2e-4), so
    # 20 x (1 - 0.5) = 10 of 40 are read (25 %) and 5 x 0.75 = 3.75 incidents a day missed
    r = _alerts(alerts, **{"Initial noise rules": 35, "Rules added per missed incident": 0})
    assert r["Alert fatigue"][0, -1] == pytest.approx(0.5, abs=1e-3)
    assert r["Share of alerts read"][0, -1] == pytest.approx(0.25, abs=1e-3)
    assert r["Incidents missed"][0, -1] == pytest.approx(3.75, abs=5e-3)


def test_review_deletes_a_fixed_share_of_the_rules_each_interval(alerts):
    # review alone, nothing added: dN/dt = -N x 0.5 / 7, N0 exp(-2) at day 28; Euler at
    # dt 0.25 day gives exactly N0 (1 - 0.25 x 0.5 / 7)^112 (13.29 vs 13.53)
    r = _alerts(alerts, **{"Initial noise rules": 100, "Alert review": 1,
                           "Rules added per missed incident": 0})
    day28 = np.searchsorted(r.times, 28)
    assert r["Noise alert rules"][0, day28] == pytest.approx(
        100 * (1 - 0.25 * 0.5 / 7) ** 112, rel=1e-9)


def test_ratio_tracking_tunes_down_to_the_target(alerts):
    # 95 rules: ratio 100 / 5 = 20 alerts per incident; tuning removes the excess until the
    # ratio is the target 2: 10 alerts a day, 5 of them noise
    r = _alerts(alerts, **{"Initial noise rules": 95, "Ratio tracking": 1})
    assert r["Alerts per day"][0, -1] == pytest.approx(10, rel=0.05)


@pytest.fixture(scope="module")
def fleet():
    return build(capacity_budget().with_time(stop=36))


def _fleet(kernel, **params):
    return simulate(kernel, params={k: [v] for k, v in params.items()},
                    outputs=["Provisioned capacity", "Utilization", "Outage time",
                             "Approved cut"])


def test_routine_planning_holds_the_buffer_over_steady_demand(fleet):
    # demand 1 for three years: capacity (1 + 5 %) x 1, utilization 1 / 1.05, no outage,
    # and 95 % utilization is far above the 15 % floor: no cut
    r = _fleet(fleet, Demand=1.0)
    assert r["Provisioned capacity"][0] == pytest.approx(1.05, rel=1e-9)
    assert r["Utilization"][0, -1] == pytest.approx(1 / 1.05, rel=1e-6)
    assert r["Outage time"][0, -1] == 0 and r["Approved cut"][0].max() == 0


def test_a_budget_cut_below_demand_brings_an_outage_and_a_post_mortem(fleet):
    # with a floor of 99 %, the review at month 6 finds 1 / 1.05 = 95 % and approves a cut of
    # 50 % of 1.05 = 0.525 (held to the next review); capacity falls below the demand of 1:
    # an outage, whose post-mortem buys 2 x the peak that broke it = 2 (the spiral in small)
    r = _fleet(fleet, Demand=1.0, **{"Utilization floor": 0.99})
    cap, t = r["Provisioned capacity"][0], r.times
    assert cap[t < 5.99] == pytest.approx(1.05)
    assert r["Approved cut"][0, np.searchsorted(t, 6.5)] == pytest.approx(0.525, rel=1e-9)
    assert r["Outage time"][0, -1] > 0
    assert cap[(t > 7) & (t < 11)].max() == pytest.approx(2.0, rel=0.05)
