"""Behaviour of library/black_friday.py against the reference's opening story.

Clock: t = 0 is 10:40; the reference's 10:47 is t = 420 s, the outage at 11:12 is t = 1920 s.
"""
import numpy as np
import pytest

from library import black_friday
from sdmodels import build, compile, simulate

OUTS = black_friday.KEY_OUTPUTS


@pytest.fixture(scope="module")
def runs():
    k = compile(build(black_friday.build()))
    return {sc: simulate(k, scenario=sc, outputs=OUTS) for sc in ("trigger", "fixed", "baseline")}


def _first(mask, times):
    idx = np.flatnonzero(mask)
    return times[idx[0]] if idx.size else None


def test_key_outputs_exist(runs):
    assert set(OUTS) <= set(runs["trigger"].columns)


def test_collapse_within_about_25_minutes_of_first_slowdown(runs):
    r = runs["trigger"]
    t, q, good, traffic = r.times, r["Query time"][0], r["Goodput"][0], r["Traffic"][0]
    slow = _first((q > 1.25 * 0.05) & (t > 60), t)       # queries 25 % over their 50 ms
    out = _first((good < 0.1 * traffic) & (t > 60), t)    # outage: < 10 % of demand served
    assert slow is not None and out is not None
    minutes = (out - slow) / 60
    # reference: 10:47 -> 11:12 = 25 min ("in under 25 minutes"); accept 15..35 min
    assert 15 <= minutes <= 35, minutes
    assert (good[t > out + 300] < 0.1 * traffic[t > out + 300]).all()   # it stays down


def test_connections_grow_much_faster_than_traffic(runs):
    r = runs["trigger"]
    t, conn, traffic, q = r.times, r["DB connections in use"][0], r["Traffic"][0], r["Query time"][0]
    slow = np.flatnonzero((q > 1.25 * 0.05) & (t > 60))[0]
    peak = int(np.argmax(conn))
    conn_growth = conn[peak] / conn[slow]
    traffic_growth = traffic[peak] / traffic[slow]
    # reference: traffic +20 %, connections +400 %; ask for connection growth at least
    # twice the traffic growth and at least 3x in absolute terms
    assert conn_growth > 2 * traffic_growth
    assert conn_growth > 3


def test_pods_pile_up_past_what_the_database_can_connect(runs):
    # 100 DB connections / 10 per pod = 10 pods; the autoscaler goes beyond
    assert runs["trigger"]["Pods"][0].max() > 100 / 10


def test_fixed_survives_the_reference_window(runs):
    t = runs["fixed"].times
    window = (t > 420) & (t <= 1920 + 300)          # 10:47 .. 11:17, five minutes past 11:12
    good = runs["fixed"]["Goodput"][0][window]
    demand = runs["fixed"]["Traffic"][0][window]
    # The unindexed query caps the database near 300 q/s (USL peak: 44 / (0.05 x 2.8));
    # the fixed system serves what is asked below that and at least 2/3 of it above,
    # instead of dropping to zero as the unfixed one does.
    assert (good > np.minimum(0.95 * demand, 0.66 * 300)).all()
    assert runs["fixed"]["Pods"][0].max() <= 10                       # connection-limited HPA


def test_baseline_flat_traffic_is_fine(runs):
    r = runs["baseline"]
    assert r["Goodput"][0][-10:].mean() == pytest.approx(r["Traffic"][0][-1], rel=0.01)
