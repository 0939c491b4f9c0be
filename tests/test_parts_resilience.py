"""The resilience parts against their documented behaviour: circuit breaker state traces
(resilience4j semantics), the token-bucket retry budget, retry generations and jitter, the
rate limiter, readiness-gated load balancing and the traffic source.
"""
from functools import partial

import math

import numpy as np
import pytest

from library.parts.breaker import circuit_breaker
from library.parts.ratelimit import load_balancer, rate_limiter
from library.parts.retry import retry_client
from library.parts.traffic import traffic
from sdmodels import Model, build, step, simulate as _simulate

# the interpreter: no numba compile (tests/test_engine_interpreter.py checks the engines agree)
simulate = partial(_simulate, engine="interpreter")

WAIT, PERMITTED, MIN_CALLS, WINDOW = 60.0, 10.0, 100.0, 100.0    # resilience4j defaults


def _breaker_rig(share: str = "Failure fraction", slow_calls: bool = True) -> Model:
    """A breaker fed by a constant call rate whose calls fail (0.8) from 10 s to 'Healed at'
    (or, with share="Slow call fraction", are slow: 'Bad share' of them from 'Bad from');
    its slow-call rate threshold is the parameter 'Slow threshold' (resilience4j's 100 %)."""
    m = Model("rig", stop=300, dt=0.05, saveper=0.05)
    calls = m.constant("Call rate", 100.0, units="req/s")
    healed = m.constant("Healed at", 100.0, units="s")
    quiet = m.constant("Quiet from", 1e9, units="s")
    bad, start = m.constant("Bad share", 0.8), m.constant("Bad from", 10.0, units="s")
    br = m.module("breaker", circuit_breaker(slow_calls=slow_calls), display="Breaker")
    br.connect("Calls", calls * (1 - step(1, quiet)))
    br.connect(share, bad * (step(1, start) - step(1, healed)))
    if slow_calls:
        br.connect("Slow call rate threshold", m.constant("Slow threshold", 1.0))
    return m


@pytest.fixture(scope="module")
def rig():
    return build(_breaker_rig())


@pytest.fixture(scope="module")
def slow_rig():
    return build(_breaker_rig("Slow call fraction"))


def _changes(times, state):
    moved = np.flatnonzero(np.diff(state) != 0) + 1
    return [(float(times[i]), float(state[i])) for i in moved]


@pytest.mark.parametrize("which", ["failures", "slow calls"])
def test_breaker_trace_trip_open_half_open_reopen_close(rig, slow_rig, which):
    # the same trace whether 80 % of the calls fail (failureRateThreshold 50 %) or 80 % are
    # slow and none fail (slowCallRateThreshold 50 %): resilience4j opens on either rate
    r = simulate(rig, outputs=["Breaker / Breaker state"]) if which == "failures" else \
        simulate(slow_rig, params={"Slow threshold": 0.5}, outputs=["Breaker / Breaker state"])
    trace = _changes(r.times, r["Breaker / Breaker state"][0])
    states = [s for _, s in trace]
    # closed -> open (trip) -> half-open -> open (trials fail at 0.8) -> half-open -> closed
    assert states == [1.0, 0.5, 1.0, 0.5, 0.0], trace
    t_trip, t_half, t_reopen, t_half2, t_close = (t for t, _ in trace)
    # the window's failure rate 0.8 (1 - exp(-n / 100)) reaches 0.5 after n = 98 calls,
    # 0.98 s after the failures begin at 10 s (100 calls/s): a trip at the 11.0 s tick,
    # in force one step later
    assert t_trip == pytest.approx(10 + 100 * math.log(1 / (1 - 0.5 / 0.8)) / 100 + 0.05,
                                   abs=0.15)
    assert t_half - t_trip == pytest.approx(WAIT, abs=0.15)          # open for the wait
    # 10 trial calls at 100 calls/s take 0.1 s, judged at the next tick: still failing
    assert t_reopen - t_half == pytest.approx(0.2, abs=0.11)
    assert t_half2 - t_reopen == pytest.approx(WAIT, abs=0.15)
    # at 131 s the downstream healed (100 s): the trials succeed and the breaker closes
    assert t_close - t_half2 == pytest.approx(0.2, abs=0.11)


def test_breaker_moves_the_same_at_any_step_and_with_rk4(rig):
    want = _changes(*(lambda r: (r.times, r["Breaker / Breaker state"][0]))(
        simulate(rig, outputs=["Breaker / Breaker state"])))
    ir = build(_breaker_rig())
    for dt, method in [(0.025, "euler"), (0.0125, "euler"), (0.05, "rk4")]:
        r = simulate(ir, method=method, dt=dt, outputs=["Breaker / Breaker state"])
        got = _changes(r.times, r["Breaker / Breaker state"][0])
        assert [s for _, s in got] == [s for _, s in want]
        # transitions on the 0.1 s clock, in force one step later: within a step of dt 0.05
        assert np.allclose([t for t, _ in got], [t for t, _ in want], atol=0.05)


def test_half_open_trials_go_at_a_rate_that_does_not_depend_on_the_step(rig):
    # 1000 calls/s: the 10 trial calls go at most 10 per 0.1 s tick of the clock, so at
    # 100 calls/s for 0.1 s at any step (not as a pulse of 10 / dt), 10 calls in all
    for dt, method in [(0.05, "euler"), (0.0125, "euler"), (0.05, "rk4")]:
        r = simulate(rig, method=method, dt=dt, saveper=dt, params={"Call rate": 1000.0},
                     outputs=["Breaker / Breaker state", "Breaker / Permitted calls"])
        state, sent = r["Breaker / Breaker state"][0], r["Breaker / Permitted calls"][0]
        first = np.flatnonzero(state == 0.5)
        first = first[first <= first[0] + np.flatnonzero(np.diff(first) > 1)[0]] if (
            np.diff(first) > 1).any() else first
        trials = sent[first]
        assert trials.max() == pytest.approx(PERMITTED / 0.1), (dt, method)
        assert trials.sum() * dt == pytest.approx(PERMITTED), (dt, method)


def test_no_trip_below_minimum_call_volume(rig):
    # calls stop at 95 s; 80 % fail from 10 s. At 1 call/s that is 95 calls < 100: never a
    # trip, however high the failure rate; at 2 calls/s the 100th call comes at 50 s, when
    # the window's failure rate is far above 50 %: it trips at that tick
    r = simulate(rig, params={"Call rate": [1.0, 2.0], "Quiet from": 95.0},
                 outputs=["Breaker / Breaker state", "Breaker / Breaker trips"])
    assert r["Breaker / Breaker state"][0].max() == 0.0
    opened = r.times[np.flatnonzero(r["Breaker / Breaker state"][1] == 1.0)[0]]
    assert opened == pytest.approx(MIN_CALLS / 2.0, abs=0.2)


def test_no_re_trip_without_load(rig):
    # calls stop at 20 s, after the trip at ~11 s: the breaker waits 60 s, goes half-open
    # and stays there (no trial call to judge); it never re-opens on a stale ratio
    r = simulate(rig, params={"Quiet from": 20.0, "Healed at": 1e9},
                 outputs=["Breaker / Breaker state"])
    trace = _changes(r.times, r["Breaker / Breaker state"][0])
    assert [s for _, s in trace] == [1.0, 0.5], trace
    assert r["Breaker / Breaker state"][0][-1] == 0.5


def test_breakers_per_instance_need_their_own_call_volume():
    # 10 instances share 100 calls/s: each sees 10/s, reaches 100 calls 10 s after the start,
    # and opens at the first tick after its window shows >= 50 % failures. All failing
    # from t = 0: one breaker for the group opens at ~1 s, per-instance ones at ~10 s
    m = Model("group", stop=30, dt=0.05, saveper=0.05)
    n = m.constant("Instances", 1.0)
    br = m.module("breaker", circuit_breaker(), display="Breaker",
                  inputs={"Calls": 100.0, "Failure fraction": 1.0, "Instances": n})
    r = simulate(build(m), params={"Instances": [1.0, 10.0]},
                 outputs=["Breaker / Breaker state", "Breaker / Permitted calls"])
    first = [r.times[np.flatnonzero(r["Breaker / Breaker state"][i] == 1.0)[0]] for i in (0, 1)]
    assert first[0] == pytest.approx(MIN_CALLS / 100.0, abs=0.15)
    assert first[1] == pytest.approx(10 * MIN_CALLS / 100.0, abs=0.15)
    assert br.unconnected() == ["Enabled", "Failure rate threshold", "Sliding window size",
                                "Minimum number of calls", "Wait duration in open state",
                                "Permitted calls in half-open state", "Evaluation period"]


def test_slow_call_detection_at_its_defaults_changes_nothing(rig):
    # resilience4j's defaults (100 %, 60 s) and no slow calls: the breaker with slow-call
    # detection moves exactly as the failure-rate breaker alone (the library models' part)
    plain = build(_breaker_rig(slow_calls=False))
    names = ["Breaker / Breaker state", "Breaker / Permitted calls", "Breaker / Failure rate seen"]
    a, b = (simulate(ir, outputs=names) for ir in (rig, plain))
    for name in names:
        assert np.array_equal(a[name], b[name]), name


def test_slow_calls_alone_open_the_breaker_only_at_their_threshold(slow_rig):
    """No call fails; 80 % are slow from 10 s. resilience4j's default slowCallRateThreshold
    (100 %) never opens on 80 %; at 50 % it opens when the window's slow rate
    0.8 (1 - exp(-n / 100)) reaches 0.5, n = 100 ln(1 / (1 - 0.5 / 0.8)) = 98.1 calls, 0.98 s
    after 10 s (the 11.0 s tick, in force one step later); at 85 % (above the 80 % slow)
    it stays closed however long the slow calls last; with every call slow from the start
    (the window then holds only slow calls: rate exactly 1) even the 100 % default opens,
    at the first tick after the 100-call minimum, filled from empty at 100 calls/s: 1.0 s."""
    r = simulate(slow_rig, params={"Slow threshold": [1.0, 0.5, 0.85]},
                 outputs=["Breaker / Breaker state", "Breaker / Slow call rate seen",
                          "Breaker / Failure rate seen"])
    state = r["Breaker / Breaker state"]
    assert state[0].max() == 0.0 and state[2].max() == 0.0
    assert r["Breaker / Slow call rate seen"][2].max() == pytest.approx(0.8, abs=1e-3)
    assert r["Breaker / Failure rate seen"].max() == 0.0
    opened = r.times[np.flatnonzero(state[1] == 1.0)[0]]
    assert opened == pytest.approx(10 + 100 * math.log(1 / (1 - 0.5 / 0.8)) / 100 + 0.05,
                                   abs=0.11)
    every = simulate(slow_rig, params={"Bad share": 1.0, "Bad from": -1.0},
                     outputs=["Breaker / Breaker state"])
    first = every.times[np.flatnonzero(every["Breaker / Breaker state"][0] == 1.0)[0]]
    assert first == pytest.approx(MIN_CALLS / 100.0 + 0.1, abs=0.11)


def test_slow_calls_wait_for_the_minimum_number_of_calls(slow_rig):
    # calls stop at 95 s; 80 % slow from 10 s, slowCallRateThreshold 50 %. At 1 call/s that
    # is 95 calls < 100: never open. At 2 calls/s the 100th call comes at 50 s; the window
    # then holds 100 (1 - e^-1) = 63.2 weighted calls, of which the 80 slow since 10 s weigh
    # 0.8 x 100 (1 - e^-0.8) = 44.1: a slow rate of 0.70 >= 0.5, so it opens at that tick
    r = simulate(slow_rig, params={"Call rate": [1.0, 2.0], "Quiet from": 95.0,
                                   "Slow threshold": 0.5},
                 outputs=["Breaker / Breaker state", "Breaker / Slow call rate seen"])
    assert r["Breaker / Breaker state"][0].max() == 0.0
    assert r["Breaker / Slow call rate seen"][0].max() > 0.5     # the rate alone: not enough
    opened = np.flatnonzero(r["Breaker / Breaker state"][1] == 1.0)[0]
    assert r.times[opened] == pytest.approx(MIN_CALLS / 2.0, abs=0.2)
    rate = r["Breaker / Slow call rate seen"][1][opened - 2]
    assert rate == pytest.approx(0.8 * (1 - math.exp(-0.8)) / (1 - math.exp(-1)), abs=0.01)


# -- retry client ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def client():
    return build(retry_client().with_time(stop=200, dt=0.05, saveper=0.05))


def test_retry_generations_geometric(client):
    # every attempt fails with f, up to R retries: attempts = demand (1 + f + ... + f^R)
    f, R = 0.5, 3
    r = simulate(client, params={"Failure fraction": f, "Max retries": R},
                 outputs=["Attempts", "Given up"])
    assert r["Attempts"][0, -1] == pytest.approx(100 * sum(f ** k for k in range(R + 1)))
    assert r["Given up"][0, -1] == pytest.approx(100 * f ** (R + 1))


def test_token_bucket_retry_budget(client):
    # everything fails; R = 3 would send 300 retries/s; the budget allows ratio x requests
    # plus the bucket: cumulative retries <= 0.1 x cumulative requests + 10 at every time
    r = simulate(client, params={"Failure fraction": 1.0, "Retry budget on": [0.0, 1.0]},
                 outputs=["Retry rate"])
    dt = r.times[1] - r.times[0]
    total = np.cumsum(r["Retry rate"], axis=1) * dt
    requests = 100 * (r.times + dt)
    assert total[0, -1] == pytest.approx(3 * requests[-1], rel=0.02)     # unbudgeted
    assert (total[1] <= 0.1 * requests + 10 + 1e-6).all()
    assert total[1, -1] >= 0.99 * (0.1 * requests[-1])                   # and it is used


def test_clients_built_without_a_budget_send_the_same_retries(client):
    # retry_client(budget=False): no bucket and no budget inputs; every retry wanted is
    # sent, as with the budget off (geometric attempts with f = 0.5, R = 3)
    lean = retry_client(budget=False)
    assert not {"Retry budget on", "Retry budget ratio", "Retry budget size"} & set(
        lean.constants())
    params = {"Failure fraction": 0.5, "Max retries": 3}
    outs = ["Attempts", "Retry rate", "Given up"]
    full = simulate(client, params=params, outputs=outs)
    bare = simulate(build(lean.with_time(stop=200, dt=0.05, saveper=0.05)), params=params,
                    outputs=outs)
    assert bare["Attempts"][0, -1] == pytest.approx(100 * (1 + 0.5 + 0.25 + 0.125))
    for name in outs:
        np.testing.assert_allclose(bare[name], full[name], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("jitter, mean_sleep, var_sleep", [(0, 4.0, 0.0), (1, 2.0, 16 / 12),
                                                           (2, 3.0, 4 / 12)])
def test_jitter_spreads_a_burst(jitter, mean_sleep, var_sleep):
    # a 1 s burst of 100 req/s at t = 10 fails entirely; the first retries come back after the
    # timeout (1 s) plus the sleep: b = 4 s fixed (none), U[0, b] (full, mean b / 2, variance
    # b^2 / 12), b / 2 + U[0, b / 2] (equal, mean 3 b / 4, variance b^2 / 48). The Erlang-3
    # delay has the uniform's mean and variance, so the retries' arrival times have the
    # burst's variance (1 / 12) plus the sleep's. No jitter replays the burst intact.
    m = Model("burst", stop=40, dt=0.01, saveper=0.01)
    demand = m.aux("Demand", 100 * (step(1, 10) - step(1, 11)))
    c = m.module("client", retry_client(**{"Backoff base": 4.0, "Jitter": float(jitter),
                                            "Max retries": 1.0}), display="C",
                 inputs={"Demand": demand, "Failure fraction": 1.0})
    r = simulate(build(m), outputs=["C / Retry rate", "C / Attempts"])
    t = r.times
    retries = r["C / Attempts"][0] - 100 * ((t >= 10) & (t < 11))
    mean_t = (t * retries).sum() / retries.sum()
    assert retries.sum() * 0.01 == pytest.approx(100, rel=0.01)          # every one retried
    assert mean_t == pytest.approx(10.5 + 1 + mean_sleep, abs=0.1)
    sd = math.sqrt((((t - mean_t) ** 2) * retries).sum() / retries.sum())
    assert sd == pytest.approx(math.sqrt(1 / 12 + var_sleep), rel=0.05)
    if jitter == 0:
        assert retries.max() == pytest.approx(100, rel=0.01)             # intact


# -- rate limiter, balancer, traffic ----------------------------------------------------
def test_rate_limiter_and_retries_counted_against_it():
    # 900 req/s of demand against a 1000 req/s limit: nothing rejected. 1200 req/s: the
    # excess gets 429s, which the client retries (R = 3), so attempts exceed the demand
    # and the limiter rejects attempts - first ones and retries alike - beyond 1000/s
    m = Model("limited", stop=60, dt=0.01, saveper=0.5)
    demand = m.constant("Demand", 900.0, units="req/s")
    client = m.module("client", retry_client(), display="C", inputs={"Demand": demand})
    lim = m.module("limiter", rate_limiter(), display="L")
    lim.connect("Requests", client.out["Attempts"])
    client.connect("Failure fraction", lim.out["Rejected share"])
    r = simulate(build(m), params={"Demand": [900.0, 1200.0]},
                 outputs=["L / Admitted", "L / Rejected", "C / Attempts"])
    assert r["L / Rejected"][0, -1] == pytest.approx(0.0, abs=1e-9)
    assert r["L / Admitted"][1, -1] == pytest.approx(1000.0, rel=1e-3)
    assert r["C / Attempts"][1, -1] > 1200 * 1.1
    assert r["L / Rejected"][1, -1] == pytest.approx(r["C / Attempts"][1, -1] - 1000, rel=1e-3)


def test_load_balancer_sends_only_to_ready_connected_pods():
    m = load_balancer().with_time(stop=1, dt=0.5, saveper=0.5)
    r = simulate(build(m), params={"Ready pods": [5.0, 5.0, 0.0],
                                            "Connected pods": [3.0, 8.0, 8.0]},
                 outputs=["Serving pods", "Requests per pod", "Unroutable"])
    assert list(r["Serving pods"][:, -1]) == [3.0, 5.0, 0.0]
    assert r["Requests per pod"][0, -1] == pytest.approx(100 / 3)
    assert list(r["Unroutable"][:, -1]) == [0.0, 0.0, 100.0]


def test_traffic_components():
    series = [(0.0, 0.0), (100.0, 50.0), (200.0, 50.0)]
    m = traffic(series=series, **{"Ramp slope": 1.0, "Ramp start": 100.0, "Ramp end": 200.0,
                                  "Spike height": 30.0, "Diurnal amplitude": 0.5,
                                  "Diurnal period": 400.0, "Replay weight": 1.0})
    r = simulate(build(m.with_time(stop=400, dt=0.5, saveper=0.5)), outputs=["Rate"])
    rate = dict(zip(r.times, r["Rate"][0]))
    day = lambda t: 100 * (1 + 0.5 * math.cos(2 * math.pi * t / 400))   # noqa: E731
    assert rate[0.0] == pytest.approx(day(0))
    assert rate[65.0] == pytest.approx(day(65) + 30 + 32.5)            # spike + replay at 65 s
    assert rate[150.0] == pytest.approx(day(150) + 50 + 50)            # ramp + replay
    assert rate[300.0] == pytest.approx(max(0.0, day(300) + 100 + 50))  # ramp held at 100


def test_retry_client_keeps_one_pipeline_per_generation():
    """The retries due (timeout + the fixed part of the sleep) are one auxiliary, read by the
    jittered and the unjittered path: one pipeline per attempt generation, not two."""
    from library.parts.retry import GENERATIONS
    ir = build(retry_client())
    lines = [v for v in ir.variables.values() if type(v).__name__ == "DelayLine"]
    assert len(lines) == 1 and lines[0].dims == ("attempt",)
    assert len(ir.dims["attempt"].elements) == GENERATIONS
