"""The connection pool and database parts against closed forms: Little's law, Erlang C, USL."""
from functools import partial

import math

import numpy as np
import pytest

from library.parts.database import database
from library.parts.pool import connection_pool
from sdmodels import Model, build, simulate as _simulate

# the interpreter: no numba compile (tests/test_engine_interpreter.py checks the engines agree)
simulate = partial(_simulate, engine="interpreter")


def erlang_c_wait(c, lam, hold):
    """Mean wait in an M/M/c queue (Erlang C): C(c, a) / (c / hold - lam), a = lam x hold."""
    a = lam * hold
    head = sum(a ** k / math.factorial(k) for k in range(c))
    tail = a ** c / math.factorial(c) * c / (c - a)
    return tail / (head + tail) / (c / hold - lam)


@pytest.fixture(scope="module")
def pool_kernel():
    return build(connection_pool().with_time(stop=20))


def _pool(kernel, cols, **params):
    n = max(len(v) if isinstance(v, list) else 1 for v in params.values())
    params = {k: v if isinstance(v, list) else [v] * n for k, v in params.items()}
    return simulate(kernel, params=params, outputs=cols)


def test_littles_law_busy_connections(pool_kernel):
    # busy = arrivals x hold: 500 x 10 ms = 5, x 50 ms = 25 (DESIGN.md, reference Part 3.3);
    # at 500 ms the product 250 exceeds the 100 connections: the pool is full
    r = _pool(pool_kernel, ["Connections in use", "Waiting for connection"],
              **{"Pool size": 100, "Hold time": [0.010, 0.050, 0.500]})
    busy = r["Connections in use"][:, -1]
    assert busy == pytest.approx([5, 25, 100], rel=1e-9)
    assert r["Waiting for connection"][:2, -1].max() == 0       # no backlog below saturation


def test_waiting_is_bounded_by_the_threads(pool_kernel):
    # 500 q/s against 100 connections x 0.5 s = 200 q/s, 2,000 threads. With T = 30 s the
    # threads fill first (at 6.7 s) and the head then waits 2,000 / 200 = 10 s < 30 s:
    # nobody times out, the excess 300 q/s is refused at once. With T = 5 s every thread
    # waits at most 5 s, so the threads let in 2,000 / 5 = 400 q/s: 200 are served, 200
    # time out after 5 s, 100 are refused at once. Either way (500 - 200) / 500 = 0.6 fail.
    r = _pool(pool_kernel, ["Waiting for connection", "Fail-fast share", "Wait timeouts",
                            "Thread rejections"],
              **{"Pool size": 100, "Hold time": 0.5, "Acquire timeout": [5.0, 30.0],
                 "Max waiting": 2000})
    assert r["Waiting for connection"][:, -1] == pytest.approx([2000, 2000], rel=1e-6)
    assert r["Thread rejections"][:, -1] == pytest.approx([100, 300], rel=1e-6)
    assert r["Wait timeouts"][:, -1] == pytest.approx([200, 0], abs=1e-6)
    assert r["Fail-fast share"][:, -1] == pytest.approx([0.6, 0.6], rel=1e-6)


def test_callers_give_up_at_the_acquire_timeout(pool_kernel):
    # Fluid overload with abandonment (HikariCP: getConnection blocks for connectionTimeout
    # T, then throws): arrivals lambda 500 > mu 200 q/s, FIFO, every caller leaves at T.
    # The backlog can hold at most the admissions of the last T seconds, a window that the
    # part keeps exponential: lambda T (1 - exp(-t / T)) from an empty start. Until the
    # backlog (lambda - mu) t reaches it nobody times out; from then on it levels off at
    # lambda T (Little's law), the head times out at lambda - mu = 300 q/s, and mu are
    # served after waiting T: with a client timeout above T all of them are goodput; with
    # the client's timeout = T (30 s) every one served is late: goodput 0 (the work holds
    # the connections and yields nothing)
    r = simulate(pool_kernel, stop=300, outputs=["Waiting for connection", "Wait timeouts",
                                                 "Thread rejections", "Wait time", "Goodput"],
                 params={"Pool size": [100] * 2, "Hold time": [0.5] * 2,
                         "Acquire timeout": [5.0, 30.0], "Max waiting": [1e6] * 2,
                         "Client timeout": [20.0, 30.0]})
    t = r.times
    q, timeouts = r["Waiting for connection"], r["Wait timeouts"]
    for k, big_t in enumerate((5.0, 30.0)):
        lo, hi = 1e-6, 3 * big_t          # where 300 t meets 500 T (1 - exp(-t / T))
        for _ in range(60):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if 300 * mid < 500 * big_t * (1 - math.exp(-mid / big_t)) \
                else (lo, mid)
        early = (t > 0) & (t < lo - 0.1)
        assert q[k][early] == pytest.approx(300 * t[early], rel=0.01)
        assert timeouts[k][early].max() == 0
        assert timeouts[k][t > lo + 0.1].min() > 0
    assert q[:, -1] == pytest.approx([500 * 5, 500 * 30], rel=1e-3)      # ~exp(-8) away
    assert timeouts[:, -1] == pytest.approx([300, 300], rel=1e-3)
    assert r["Thread rejections"][:, -1] == pytest.approx([0, 0], abs=1e-9)
    assert r["Wait time"][:, -1] == pytest.approx([5.0, 30.0])
    # (the M/M/c tail past the 20 s client timeout: ~exp(-15 s / 1.5 s) of the served)
    assert r["Goodput"][:, -1] == pytest.approx([200, 0], abs=0.01)


@pytest.mark.parametrize("c, rho", [(1, 0.5), (2, 0.61), (5, 0.8), (10, 0.5), (10, 0.95),
                                    (20, 0.9), (50, 0.9), (100, 0.95), (100, 0.99)])
def test_waiting_below_saturation_matches_erlang_c(pool_kernel, c, rho):
    # Sakasegawa's approximation is within 3.5 % of the hold time of Erlang C for every
    # c <= 100, rho <= 0.99 (worst: c = 2, rho = 0.61, 0.626 h vs 0.593 h)
    hold = 0.095
    lam = rho * c / hold
    r = _pool(pool_kernel, ["M/M/c wait"], **{"Pool size": c, "Max connections": 1000,
                                             "Hold time": hold, "Arrivals": lam})
    assert r["M/M/c wait"][0, -1] == pytest.approx(erlang_c_wait(c, lam, hold),
                                                   abs=0.035 * hold)


def test_the_issue_example_waits_157_ms_at_any_step():
    # pool of 10, 100 req/s, 95 ms hold: Erlang C gives 157 ms; the fluid model gave 19 ms
    # at dt 0.02 and 1.9 ms at dt 0.002. The part answers the same at both steps.
    exact = erlang_c_wait(10, 100, 0.095)
    assert exact == pytest.approx(0.157, abs=5e-4)
    part = connection_pool(**{"Pool size": 10, "Arrivals": 100, "Hold time": 0.095})
    for dt in (0.02, 0.002):
        res = simulate(part.with_time(stop=1, dt=dt), outputs=["Wait time"])
        assert res["Wait time"][0, -1] == pytest.approx(exact, rel=0.01)


def erlang_c(c, a):
    """C(c, a) by the Erlang B recursion (whole c)."""
    b = 1.0
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    return b / (1 - a / c + a / c * b)


def mmc_response_tail(c, lam, hold, t, wait_p):
    """P(wait + hold > t) in M/M/c (Gross & Harris, Fundamentals of Queueing Theory, 3rd ed.,
    sec. 2.3): e^(-mu t) [1 + C (1 - e^(-mu t (c - 1 - a))) / (c - 1 - a)], a = lam / mu."""
    mu, a = 1 / hold, lam * hold
    if abs(c - 1 - a) < 1e-12:          # its limit (the wait's rate equals mu): 1 + C mu t
        return math.exp(-mu * t) * (1 + wait_p * mu * t)
    return math.exp(-mu * t) * (1 + wait_p * (1 - math.exp(-mu * t * (c - 1 - a)))
                                / (c - 1 - a))


@pytest.mark.parametrize("rho, hold", [(0.3, 0.1), (0.8, 0.2), (0.95, 0.25)])
def test_late_share_of_one_connection_is_the_mm1_sojourn_tail(pool_kernel, rho, hold):
    # M/M/1: the response time is exponential with rate mu - lambda (Kleinrock 1975, eq.
    # 3.26), so with a 1 s client timeout the late share is exp(-(mu - lambda) x 1 s): at
    # rho 0.95 and a 250 ms hold, 0.82 - latency near the timeout, most answers late but not
    # all. Sakasegawa's C is exact at c = 1 (C = rho), so the part must match to rounding.
    lam = rho / hold
    r = _pool(pool_kernel, ["Late share", "Waiting for connection"],
              **{"Pool size": 1, "Hold time": hold, "Arrivals": lam, "Client timeout": 1.0})
    assert r["Waiting for connection"][0, -1] == 0           # below saturation: no backlog
    assert r["Late share"][0, -1] == pytest.approx(math.exp(-(1 / hold - lam)), rel=1e-9)


@pytest.mark.parametrize("c, rho, hold, timeout", [(2, 0.6, 0.1, 0.5),
                                                  (5, 0.8, 0.1, 0.5),   # c - 1 - a = 0
                                                  (10, 0.95, 0.095, 1.0),
                                                  (20, 0.9, 0.05, 0.3),
                                                  (80, 0.39, 0.155, 1.0)])
def test_late_share_is_the_mmc_response_time_tail(pool_kernel, c, rho, hold, timeout):
    # the share answered after the client's timeout is M/M/c's response-time tail; the
    # part's only approximation is the waiting probability (Sakasegawa's rho^(sqrt(2(c+1))
    # - 1) for Erlang C), and the tail is linear in it with a coefficient in [0, 1], so the
    # error is at most |C_Sakasegawa - C_Erlang| (<= 0.052 for every c <= 100)
    lam = rho * c / hold
    r = _pool(pool_kernel, ["Late share", "Wait probability"],
              **{"Pool size": c, "Max connections": 1000, "Hold time": hold,
                 "Arrivals": lam, "Client timeout": timeout})
    sakasegawa = rho ** (math.sqrt(2 * (c + 1)) - 1)
    assert r["Wait probability"][0, -1] == pytest.approx(sakasegawa, rel=1e-12)
    exact_c = erlang_c(c, lam * hold)
    late = r["Late share"][0, -1]
    assert late == pytest.approx(mmc_response_tail(c, lam, hold, timeout, sakasegawa),
                                 rel=1e-9)
    assert late == pytest.approx(mmc_response_tail(c, lam, hold, timeout, exact_c),
                                 abs=abs(sakasegawa - exact_c) + 1e-12)


def test_late_share_rises_smoothly_as_latency_nears_the_timeout(pool_kernel):
    # one connection, a 1 s timeout, hold times 0.1 .. 0.9 s at 50 % utilisation: the mean
    # response time 2 x hold climbs to 1.8 s and the late share follows exp(-(1 - rho) / hold)
    # (no step): from 0.7 % at 0.1 s to 57 % at 0.9 s
    holds = [0.1, 0.2, 0.3, 0.5, 0.7, 0.9]
    r = _pool(pool_kernel, ["Late share"],
              **{"Pool size": 1, "Hold time": holds, "Arrivals": [0.5 / h for h in holds],
                 "Client timeout": 1.0})
    assert r["Late share"][:, -1] == pytest.approx([math.exp(-0.5 / h) for h in holds],
                                                   rel=1e-9)


def test_no_goodput_once_the_backlog_outlasts_the_client(pool_kernel):
    # FIFO backlog of 2,000 at 200 q/s: every request waits 10 s. With a 1 s client
    # timeout nothing is answered in time (goodput 0, not exp(-1 / 10) = 90 % lost);
    # with a 30 s one all 200 q/s served are answered
    r = _pool(pool_kernel, ["Goodput", "Late share"],
              **{"Pool size": 100, "Hold time": 0.5, "Max waiting": 2000,
                 "Client timeout": [1.0, 30.0]})
    assert r["Goodput"][:, -1] == pytest.approx([0, 200], abs=1e-6)


def test_database_slowdown_follows_the_usl():
    # with 100 queries in flight: 1 + 0.02 x 99 + 0.0005 x 100 x 99 = 7.93 (Gunther's USL);
    # after 20 response times the smoothing has converged (e^-20)
    res = simulate(database(**{"Queries in flight": 100}).with_time(stop=20),
                   outputs=["DB slowdown", "Query time"])
    assert res["DB slowdown"][0, -1] == pytest.approx(7.93, rel=1e-6)
    assert res["Query time"][0, -1] == pytest.approx(0.0793, rel=1e-6)


def test_a_database_without_a_statement_timeout_holds_connections_for_the_query_time():
    # database(query_timeout=False): no "Query timeout" input, no "Killed share"; the hold
    # time is the USL query time, as with the timeout left at 0 (100 in flight: 7.93 x 10 ms)
    lean = database(query_timeout=False, **{"Queries in flight": 100})
    assert "Query timeout" not in lean.constants()
    assert "Killed share" not in {p.display for p in lean.output_ports.values()}
    runs = [simulate(part.with_time(stop=20), outputs=["Hold time"])
            for part in (database(**{"Queries in flight": 100}), lean)]
    assert runs[1]["Hold time"][0, -1] == pytest.approx(0.0793, rel=1e-6)
    np.testing.assert_array_equal(runs[1]["Hold time"], runs[0]["Hold time"])


def test_pool_and_database_settle_at_the_littles_law_fixed_point():
    # N = lambda x base x USL(N): 500 x 0.01 x (1 + 0.02 (N - 1) + 0.0005 N (N - 1))
    n = 5.0
    for _ in range(100):
        n = 500 * 0.01 * (1 + 0.02 * (n - 1) + 0.0005 * n * (n - 1))
    top = Model("service", stop=30, dt=0.02)
    pool = top.module("pool", connection_pool(**{"Pool size": 100}), display="Pool")
    db = top.module("db", database(), display="DB")
    pool.connect("Hold time", db.out["Hold time"])
    db.connect("Queries in flight", pool.out["Connections in use"])
    res = simulate(top, outputs=["Pool / Connections in use"])
    assert n == pytest.approx(5.51, abs=0.01)
    assert res["Pool / Connections in use"][0, -1] == pytest.approx(n, rel=1e-4)
    assert np.isfinite(res.data).all()
