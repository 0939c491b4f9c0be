"""A closed workload (library.parts.traffic.closed_clients; `population` and `thinkTime` in a
system description) against the interactive response time law, and what exponential
backoff with jitter (the Hands-On's fix 2) does to an open and to a closed workload.

Expected values are closed forms worked out for the model: N clients, each waiting for its
request's end and then thinking Z. A request that succeeds ends one response time L after
it is sent; one that fails is known T (the timeout) after its attempt was sent, the client
sleeps b_k and retries, at most R times. At equilibrium X = N / (L + Z) with no failures,
and X = N / ((R + 1) T + b_1 + ... + b_R + Z) with every attempt failing, R + 1 attempts
per request (the fluid model's delays keep their means, so jitter changes b_k's spread,
not its mean).
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from scipy.optimize import brentq

from sdmodels import Model, simulate
from sdmodels.system import SystemDescriptionError, load_system
from sdmodels.system.fixes import apply, fixes_for

from library.parts.retry import retry_client
from library.parts.traffic import closed_clients

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def clients_and_retries(n, think, fail, retries, wait, *, exponential=False, jitter=0.0,
                        timeout=1.0, latency=0.05, max_backoff=30.0, stop=400):
    """N closed clients calling through a retry client whose attempts fail with `fail`."""
    m = Model("closed", stop=stop, dt=0.01, saveper=1, time_units="second")
    c = m.module("clients", closed_clients(**{
        "Population": n, "Think time": think, "Response time": latency,
        "Initial response time": latency, "Failure delay": timeout}))
    r = m.module("retries", retry_client(budget=False, **{
        "Failure delay": timeout, "Max retries": retries, "Backoff base": wait,
        "Exponential backoff": float(exponential), "Max backoff": max_backoff,
        "Failure fraction": fail, "Jitter": jitter}))
    r.connect("Demand", c.out["Requests"])
    c.connect("Succeeded", r.out["Successes"])
    c.connect("Failed for good", r.out["Given up"])
    return simulate(m, engine="interpreter").to_pandas()


@pytest.mark.parametrize("n, think, latency", [(100, 1.0, 0.25), (40, 0.0, 0.05),
                                                (840, 1.0, 0.05)])
def test_without_failures_throughput_is_population_over_response_plus_think_time(
        n, think, latency):
    run = clients_and_retries(n, think, 0.0, 3, 1.0, latency=latency, stop=20)
    expected = n / (latency + think)            # interactive response time law
    # the clients start in their no-failure cycle: at equilibrium from t = 0
    assert run["clients / Requests"].to_numpy() == pytest.approx(expected, rel=1e-9)
    assert run["clients / Busy clients"].iloc[-1] == pytest.approx(expected * latency,
                                                                   rel=1e-9)


@pytest.mark.parametrize("waits, kwargs", [
    ([1.0, 1.0, 1.0], {}),                                            # fixed 1 s
    ([1.0, 2.0, 4.0], {"exponential": True}),                         # 1, 2, 4 s
    ([1.0, 2.0, 2.0], {"exponential": True, "max_backoff": 2.0}),     # capped at 2 s
    ([0.75, 1.5, 3.0], {"exponential": True, "jitter": 2.0}),         # equal jitter: 3b/4
    ([0.5, 1.0, 2.0], {"exponential": True, "jitter": 1.0}),          # full jitter: b/2
    ([1.0, 2.0, 4.0], {"exponential": True, "jitter": 3.0}),          # b (1 +/- 0.5): b
])
def test_with_every_attempt_failing_a_blocked_client_sends_r_plus_1_attempts_a_cycle(
        waits, kwargs):
    n, think, timeout, retries = 100, 1.0, 1.0, 3
    run = clients_and_retries(n, think, 1.0, retries, 1.0, timeout=timeout, **kwargs)
    cycle = (retries + 1) * timeout + sum(waits) + think
    attempts = run["retries / Attempts"].loc[304:399]
    # the start's wave rings on in a loop of pure delays (no jitter); 96 s of it averaged
    # (8 cycles of the fixed 12 s one) is within 0.1 % of the equilibrium
    assert attempts.mean() == pytest.approx(n * (retries + 1) / cycle, rel=1e-3)
    assert run["clients / Requests"].loc[304:399].mean() == pytest.approx(n / cycle, rel=1e-3)


def test_backoff_cuts_the_attempts_of_blocked_clients():
    """Every attempt failing, 3 retries after a 1 s timeout, think time 1 s: fixed 1 s waits
    give 4 attempts per 8 s a client, exponential 1-2-4 s waits with resilience4j's jitter
    (1 +/- 0.5 of each: the same means) 4 per 12 s: a third fewer attempts (Brooker 2022:
    backoff helps a closed system; an open one sends them all, later)."""
    fixed = clients_and_retries(100, 1.0, 1.0, 3, 1.0)["retries / Attempts"].loc[304:399]
    backoff = clients_and_retries(100, 1.0, 1.0, 3, 1.0, exponential=True,
                                  jitter=3.0)["retries / Attempts"].loc[304:399]
    assert backoff.mean() / fixed.mean() == pytest.approx(8 / 12, rel=2e-3)


def test_a_traffic_component_is_open_or_closed_and_says_which_fields_fit(tmp_path):
    head = "system: s\ncomponents:\n"
    tail = "  api: {kind: service, serviceTime: 50ms}\ncalls:\n  - {from: users, to: api}\n"
    cases = {
        "  users: {kind: traffic, rate: 10/s, population: 5}\n": "not both",
        "  users: {kind: traffic, users: 2}\n": "give either rate",
        "  users: {kind: traffic, rate: 10/s, thinkTime: 1s}\n": "users.thinkTime: applies "
                                                                 "to a closed workload",
        "  users: {kind: traffic, population: 5, peak: 30/s}\n": "users.peak: applies to an "
                                                                  "open workload",
    }
    for users, message in cases.items():
        with pytest.raises(SystemDescriptionError) as info:
            load_system(head + users + tail)
        assert len(info.value.problems) == 1 and message in str(info.value), users
        assert info.value.problems[0].line == 3
    spec = load_system(head + "  users: {kind: traffic, population: 5}\n" + tail)
    c = spec.components["users"].config
    assert (c["population"], c["thinkTime"], c["rate"]) == (5.0, None, None)


def test_a_composed_closed_workload_follows_the_response_time_law():
    """100 users thinking 950 ms on an API of 50 ms (4 pods x 50 workers: 5 busy on
    average, no queueing): 100 / (0.05 + 0.95) = 100 req/s; in the traffic surge 3x the
    users, 300 req/s; a closed workload calling two components is refused."""
    from library.compose import compose
    from sdmodels.errors import ModelError
    text = """
system: s
components:
  users: {kind: traffic, population: 100, thinkTime: 950ms}
  api: {kind: service, replicas: 4, workersPerPod: 50, serviceTime: 50ms}
calls:
  - {from: users, to: api, timeout: 1s}
"""
    model = compose(text, stop=100).model
    names = ["api / Throughput", "users / Busy clients"]
    base = simulate(model, engine="interpreter", outputs=names).to_pandas()
    assert base["api / Throughput"].loc[10:].to_numpy() == pytest.approx(100, rel=1e-3)
    surge = simulate(model, scenario="traffic surge", engine="interpreter",
                     outputs=names).to_pandas()
    assert surge["api / Throughput"].loc[80:100].to_numpy() == pytest.approx(300, rel=1e-3)
    two = text.replace("  - {from: users", "  - {from: users, to: db}\n  - {from: users") \
        .replace("calls:", "  db: {kind: database}\ncalls:")
    with pytest.raises(ModelError, match="closed workload"):
        compose(two)


# --------------------------------------------------------------------------- fix 2
HANDS_ON = (EXAMPLES / "hands_on.yaml").read_text()
POPULATION, THINK = 840, 1.0     # 840 / (0.05 s + 1 s) = 800 req/s, the open users' rate


def closed_hands_on() -> str:
    """The Hands-On system with its users closed: 840 people thinking 1 s between requests
    of 50 ms, 800 req/s as the open description's, 3x of them (2,520) in the surge."""
    return re.sub(r"    rate: 800/s.*\n", f"    population: {POPULATION}\n"
                  f"    thinkTime: {THINK:g}s\n", HANDS_ON)


def surge_equilibrium(n, think, timeout, latency, waits, limit):
    """(rejected share p, retries/s) of N closed clients against a rate limiter saturated at
    `limit` admitted attempts/s: a request's attempt k + 1 is sent with probability p^k; a
    rejection costs the timeout (the retry client's failure delay) and the wait b_k before
    the next attempt, the last one the timeout alone; an admitted attempt ends after
    `latency`. X = N / (E[time] + Z), attempts X (1 + p + ... + p^R), admitted (1 - p) of
    them = limit."""
    r = len(waits)

    def rates(p):
        time = sum(p ** k * ((1 - p) * latency + p * (timeout + (waits[k] if k < r else 0)))
                   for k in range(r + 1))
        x = n / (time + think)
        return x, x * sum(p ** k for k in range(r + 1))
    p = brentq(lambda p: rates(p)[1] * (1 - p) - limit, 1e-9, 1 - 1e-9)
    x, attempts = rates(p)
    return p, attempts - x


def retry_rates(text, scenario="traffic surge"):
    """The users' retries/s in the scenario, before and after fix 2."""
    from library.compose import compose
    spec = load_system(text)
    fix = [f for f in fixes_for(_storm(spec), spec)
           if f.name == "exponential backoff with jitter"][0]
    name = "users to cdn retries / Retry rate"
    return [simulate(compose(s, stop=125).model.with_time(saveper=0.01), scenario=scenario,
                     engine="interpreter", outputs=[name]).to_pandas()[name]
             for s in (spec, apply(spec, fix))], fix


def _storm(spec):
    from types import SimpleNamespace
    return SimpleNamespace(pattern="retry storm", key="retry storm: users -> cdn",
                           subject={"call": 0})


def test_fix_2_spreads_but_does_not_cut_the_retries_of_open_users():
    """Open users (800/s, 2,400/s in the surge) against the per-user limit of 1,000/s: at
    equilibrium every request is tried until admitted or out of attempts, so 2,400 (1 - p^4)
    = 1,000 admitted: p = (1 - 1000/2400)^(1/4) = 0.874 and 1000 / (1 - p) - 2400 = 5,533
    retries/s, whatever the waits between attempts. Fix 2 leaves it there."""
    (before, after), fix = retry_rates(HANDS_ON)
    p = (1 - 1000 / 2400) ** 0.25
    expected = 1000 / (1 - p) - 2400
    for run in (before, after):
        assert run.loc[100:119.99].to_numpy() == pytest.approx(expected, rel=2e-3)
    assert "open workload (rate: 800/s)" in fix.why and "the retries are as many" in fix.why


def test_fix_2_cuts_the_retries_of_closed_users():
    """Closed users (840 thinking 1 s; 2,520 in the surge) against the same limit: a
    rejected client is blocked through its 1 s timeout and its wait, so the longer waits of
    fix 2 (mean 1, 2, 4 s: resilience4j's jitter of +/- 50 % keeps the means, instead of 1,
    1, 1 s) keep more of them blocked and fewer requests come: 702 -> 569 retries/s at
    equilibrium (19 % fewer; the limiter's rejected share 42 % -> 37 %). Without jitter the
    fixed waits ring around their equilibrium (the surge's first wave comes back every
    cycle), averaged over 20 s at every step it is within 0.2 %; with jitter the run
    settles on it."""
    (before, after), fix = retry_rates(closed_hands_on())
    _, fixed = surge_equilibrium(3 * POPULATION, THINK, 1.0, 0.05, [1.0, 1.0, 1.0], 1000)
    _, backoff = surge_equilibrium(3 * POPULATION, THINK, 1.0, 0.05, [1.0, 2.0, 4.0], 1000)
    assert (round(fixed), round(backoff)) == (702, 569)
    assert before.loc[100:119.99].mean() == pytest.approx(fixed, rel=2e-3)
    assert after.loc[100:119.99].to_numpy() == pytest.approx(backoff, rel=1e-3)
    assert after.loc[65:119].max() < before.loc[65:119].max()       # the waves are gone
    assert "closed workload (population 840, thinkTime 1s)" in fix.why
    assert "4 attempts per 8 s before, per 12 s after" in fix.why and "33%" in fix.why


def test_the_analysis_of_the_closed_hands_on_names_the_same_loops_and_fix_2_cuts_its_storm():
    """The closed Hands-On system: the same four reinforcing and two balancing loops (the
    clients' own balancing loop left out of the recognition). Fix 2's row: the sustained
    surge's retries (569/s, the closed form above) stay under half the first wave's peak
    (the surge's 2,520 clients starting together), so the storm is beyond half its old rise
    for at most a third as long: broken by the report's rule; the limiter's rejected share
    (42 % -> 37 % at equilibrium) is not."""
    from sdmodels.system import analyze
    a = analyze(closed_hands_on())
    types = {f.match.pattern: f.polarity for f in a.findings}
    assert types == {"retry storm": "R", "cache stampede": "R", "connection pool exhaustion":
                     "R", "rate-limit retry amplification": "R", "HPA scaling": "B",
                     "rate limiting": "B"}
    row = {r["fix"]: r for r in a.fixes}["exponential backoff with jitter"]
    assert row["breaks"] == ["retry storm: users -> cdn"]
    storm = [x for x in row["loops"] if x["loop"] == "retry storm: users -> cdn"][0]
    _, backoff = surge_equilibrium(3 * POPULATION, THINK, 1.0, 0.05, [1.0, 2.0, 4.0], 1000)
    assert storm["peak_before"] / 2 > backoff * 1.1
    assert storm["held_after"] <= storm["held_before"] / 3 and storm["broken"]
    assert "closed workload" in row["why"]
