"""Behaviour of library/black_friday.py against the reference's opening story.

Clock: t = 0 is 10:40; the reference's 10:47 is t = 420 s, the outage at 11:12 is t = 1920 s.
Expected values come from the parameters' closed forms (the Universal Scalability Law's
fixed point and peak, the pool and admission limits), not from the model's own output.
"""
import math
import re

import numpy as np
import pytest

from library import black_friday
from sdmodels import build, simulate

OUTS = black_friday.KEY_OUTPUTS
P = {name: value for name, (value, _, _) in black_friday.PARAMETERS.items()}
B, SIGMA, KAPPA = P["Base query time"], P["DB contention"], P["DB coherency"]
N_BEST = math.sqrt((1 - SIGMA) / KAPPA)                          # USL peak concurrency, 31


def slowdown(n):
    return 1 + SIGMA * (n - 1) + KAPPA * n * (n - 1)


DB_CAPACITY = N_BEST / (B * slowdown(N_BEST))                      # 198 queries/s


def traffic_at(t):
    return P["Normal traffic"] * (P["Traffic at 10:47"] + P["Traffic growth"] * (t - 420) / 60)


def usl_connections(rate):
    """Connections in use at `rate` queries/s: the smaller root of N = rate B S(N)."""
    a = rate * B * KAPPA
    b = rate * B * (SIGMA - KAPPA) - 1
    c = rate * B * (1 - SIGMA)
    return (-b - math.sqrt(b * b - 4 * a * c)) / (2 * a)


@pytest.fixture(scope="module")
def runs():
    k = build(black_friday.build())       # the interpreter: no minutes-long numba compile
    outs = OUTS + ["Breaker / Breaker state", "Payment failure fraction"]
    return {sc: simulate(k, scenario=sc, outputs=outs, engine="interpreter")
            for sc in ("trigger", "fixed", "baseline", "query indexed")}


def _first(mask, times):
    idx = np.flatnonzero(mask)
    return times[idx[0]] if idx.size else None


def _minutes(r, column):
    """Per-minute means (10:40, 10:41, ...): the breakers' 30 s cycles averaged out."""
    t, x = r.times, r[column][0]
    return np.array([x[(t >= 60 * k) & (t < 60 * k + 60)].mean() for k in range(60)])


def test_key_outputs_exist(runs):
    assert set(OUTS) <= set(runs["trigger"].columns)


def test_connections_follow_the_usl_and_grow_faster_than_traffic(runs):
    r = runs["trigger"]
    t, conn = r.times, r["DB connections in use"][0]
    at = {s: int(np.argmin(np.abs(t - s))) for s in (420, 840)}        # 10:47 and 10:54
    for s, i in at.items():
        # Little's law with the USL's query time: N = rate x B x S(N); the database feels
        # the load within ~1 s, so on a ramp of 0.1 req/s per second the lag is < 3 %
        assert conn[i] == pytest.approx(usl_connections(traffic_at(s)), rel=0.03)
    conn_growth = conn[at[840]] / conn[at[420]]
    traffic_growth = traffic_at(840) / traffic_at(420)
    assert traffic_growth == pytest.approx(1 + 0.12 * 7 / 3)          # +28 % in 7 minutes
    assert conn_growth > 1.8 and conn_growth > 2.5 * (traffic_growth - 1) + 1


def test_the_story_unfolds_in_the_reference_order(runs):
    r = runs["trigger"]
    t = r.times
    fold = 420 + (DB_CAPACITY / P["Normal traffic"] - P["Traffic at 10:47"]) \
        / P["Traffic growth"] * 60                                  # traffic reaches 198 q/s
    assert fold == pytest.approx(900, abs=5)                          # 10:55
    failing = _first(r["Payment failure fraction"][0] > 0.01, t)
    trip = _first(r["Breaker / Breaker state"][0] >= 1, t)
    crowded = _first(r["Pods"][0] > P["DB max connections"] / P["Connections per pod"], t)
    good = _minutes(r, "Goodput") / _minutes(r, "Traffic")
    down = [k for k in range(60) if (good[k:] < 0.1).all()]
    assert failing is not None and trip is not None and crowded is not None and down
    outage = 60 * down[0]
    # first timeouts at the fold (within the database's 1 s lag and the M/M/c tail), the
    # breakers within 30 s (50 callers x 100 calls at ~4 calls/s each), then the autoscaler's
    # pods past the 100 connections, then the outage - by 11:12 at the latest
    assert fold <= failing <= fold + 60, failing
    assert failing < trip <= failing + 30, (failing, trip)
    assert trip < crowded < outage <= 1920, (trip, crowded, outage)
    # and the pods keep coming: 100 (maxReplicas), 90 of them without a connection
    assert r["Pods"][0][-1] == P["Max pods"]


def test_fixed_serves_what_the_database_allows_for_the_whole_run(runs):
    r = runs["fixed"]
    good, traffic = _minutes(r, "Goodput"), _minutes(r, "Traffic")
    limit = P["Admission limit"]
    assert limit == pytest.approx(0.96 * DB_CAPACITY, abs=1)
    # 190 q/s on a pool capped at 31 connections: N = 190 x 0.05 x S(N) gives N = 21.4,
    # queries of 0.113 s, an M/M/c wait of a few ms: nothing comes near the 1 s timeout
    assert (good >= 0.99 * np.minimum(traffic, limit)).all(), (good / traffic).min()
    assert good.max() <= limit * 1.001
    assert r["Breaker / Breaker state"][0].max() == 0
    assert r["Pods"][0].max() <= P["DB max connections"] / P["Connections per pod"]
    assert r["DB connections in use"][0].max() == pytest.approx(usl_connections(limit), rel=0.02)


def test_baseline_flat_traffic_is_fine(runs):
    r = runs["baseline"]
    assert r["Goodput"][0][-10:].mean() == pytest.approx(r["Traffic"][0][-1], rel=0.01)
    assert r["Pods"][0].max() == P["Initial pods"]


def test_query_indexed_keeps_up_until_the_pods_are_full(runs):
    # 10 ms queries: the database never folds; what passes 8 pods x 50 req/s is refused
    r = runs["query indexed"]
    good, traffic = _minutes(r, "Goodput"), _minutes(r, "Traffic")
    capacity = P["Initial pods"] * P["Pod capacity"]
    assert (good >= 0.98 * np.minimum(traffic, capacity)).all()
    assert good.max() <= capacity * 1.001
    assert r["Breaker / Breaker state"][0].max() == 0


@pytest.fixture(scope="module")
def takeover():
    from sdmodels.analysis.dominance import dominance
    from sdmodels.analysis.phases import takeover_order
    from sdmodels.postmortem import default_variable
    ir = build(black_friday.build())
    variable = default_variable("black_friday", ir)
    d = dominance(ir, scenario="trigger")
    return variable, list(takeover_order(d, variable)["name"]), d


def test_the_postmortem_follows_the_connections_asked_for(takeover):
    assert takeover[0] == "Connections asked for"


def test_connections_then_retries_take_over(takeover):
    # the slow query leads while the connections climb; the retries when the pool is full
    names = takeover[1]
    assert names[:2] == ["Slow query holds connections", "Payment retries load the database"]


def test_the_autoscaler_loop_passes_a_change_round_as_r(takeover, runs):
    # a change can only start round the loop when a pod is refused a connection (pods past
    # DB max connections / connections per pod) and must come back through the HPA and the
    # pods' start-up time: so its first score is at least one start-up after that; while it
    # acts it runs as R (more pods -> more starved pods -> higher latency -> more pods)
    d = takeover[2]
    loop = next(l for l in d.loops if l.name == "Autoscaler grabs connections")
    score = d.scores[loop.id]
    acting = score[score != 0]
    r = runs["trigger"]
    crowded = _first(r["Pods"][0] > P["DB max connections"] / P["Connections per pod"], r.times)
    assert len(acting) >= 1
    assert acting.index[0] >= crowded - 1 + P["Pod startup time"], (acting.index[0], crowded)
    assert (acting > 0).all(), acting


def test_the_autoscaler_is_held_at_its_scale_up_limit(takeover):
    # from 10:59 each HPA decision below maxReplicas is the reference YAML's scale-up limit
    # (Percent 100 or Pods 4 per 60 s, selectPolicy Max: the larger of double and +4 the
    # replicas of a minute before), while the stabilized recommendation stands past it: the
    # starved pods' 30 s keep the pods' mean latency 5x the target and more
    v = takeover[2].variables
    dec, spec = v["HPA / HPA decision"], v["HPA / Spec replicas"]
    wanted = v["HPA / Stabilized recommendation"]
    moved = dec.index[1:][dec.diff().iloc[1:].to_numpy() != 0]
    held = [t for t in moved if t >= 1140 and dec[t] < P["Max pods"]]
    assert len(held) >= 5, held
    for t in held:
        before = spec.loc[t - 60]
        assert dec[t] == max(math.ceil(2 * before), before + 4), (t, dec[t], before)
        assert wanted[t] > dec[t], (t, wanted[t], dec[t])
    assert dec.iloc[-1] == P["Max pods"]


def test_the_page_names_the_three_loops_in_the_reference_order(takeover):
    from sdmodels.analysis.phases import takeover_order
    from sdmodels.postmortem import clock
    from sdmodels.postmortem_loops import takeover_table
    variable, _names, d = takeover
    table = takeover_table(d, variable, takeover_order(d, variable), clock("black_friday"))
    order = [table.index(n) for n in ("Slow query holds connections",
                                      "Payment retries load the database",
                                      "Autoscaler grabs connections")]
    assert order == sorted(order), table
    assert "never (held, see below)" in table


def test_the_postmortem_says_the_autoscaler_loop_acted_without_leading(takeover):
    # the page names a named loop that passed a change round but never led, and when
    from sdmodels.analysis.phases import takeover_order
    from sdmodels.postmortem import clock
    from sdmodels.postmortem_loops import never_led
    variable, names, d = takeover
    page = never_led(d, variable, takeover_order(d, variable), clock("black_friday"))
    assert "Autoscaler grabs connections" in page and "Autoscaler grabs" not in " ".join(names)
    assert "Slow query holds connections" not in page         # it led: in the table instead
    # not before a pod was refused (pods > 10 from 10:57:45) and a start-up (60 s) later
    first = re.search(r"first at (\d\d):(\d\d)", page)
    assert first and (int(first[1]), int(first[2])) >= (10, 58), page
    # and where it was held: the HPA's decision at its scale-up policy's limit
    assert ("HPA / HPA decision followed HPA / scaleUp policy limit instead of "
            "HPA / Stabilized recommendation") in page
