"""A request waiting for a database connection holds a request thread of the service that
sent it (reference Part 3.3, "Connection Pool Exhaustion": each waiting request holds a
thread, Tomcat maxThreads): the composition serves a service's requests with its threads
less those waiting in the pools it calls, and bounds a pool's waiting requests by its
callers' threads. Expected values are closed forms from the description's numbers."""
from __future__ import annotations

import pytest

from library.compose import compose
from sdmodels import simulate
from sdmodels.system import load_system
from tests.hands_on_variants import hands_on_text, threaded

SLOW_DB = """
system: blocked
components:
  users: {kind: traffic, rate: 100/s}
  api: {kind: service, serviceTime: 50ms, replicas: 2, workersPerPod: 10}
  db: {kind: database, queryTime: 1s, pool: {maximumPoolSize: 5}}
calls:
  - {from: users, to: api, timeout: 10s}
  - {from: api, to: db, timeout: 10s}
"""


def test_threads_waiting_for_a_connection_do_not_serve():
    """2 pods x 10 threads = 20 threads, 100 req/s, a pool of 5 connections held 1 s x the
    database's USL slowdown at 5 in flight (1 + 0.02 x 4 + 0.0005 x 5 x 4 = 1.09): the pool
    hands out mu = 5 / 1.09 = 4.587 connections a second, far below the 100 req/s. The
    waiting requests take the threads until the API sends no more than the pool serves:
    its throughput is mu (not the 20 / 50 ms = 400 req/s its threads would serve free),
    its free threads mu x 50 ms = 0.229 (Little's law), and 20 - 0.229 wait (at most the
    20 threads: the pool's Max waiting is its callers' threads, not Tomcat's 200)."""
    model = compose(load_system(SLOW_DB), stop=60).model
    names = ["api request threads", "api free threads", "db pool.Waiting for connection",
             "db pool.Connections acquired", "api.Throughput", "db callers' threads"]
    run = simulate(model, engine="interpreter", outputs=names).to_pandas()
    threads, free, waiting, acquired, served, bound = (run[c].loc[30:] for c in run.columns)
    mu = 5 / (1 + 0.02 * 4 + 0.0005 * 5 * 4)
    assert threads.to_numpy() == pytest.approx(20) and bound.to_numpy() == pytest.approx(20)
    assert acquired.to_numpy() == pytest.approx(mu, rel=1e-3)
    assert served.to_numpy() == pytest.approx(mu, rel=1e-3)
    assert free.to_numpy() == pytest.approx(mu * 0.05, rel=1e-2)
    assert (waiting + free).to_numpy() == pytest.approx(20, rel=1e-6)
    assert run["api free threads"].iloc[0] == pytest.approx(20)      # nothing waits at t = 0


@pytest.mark.parametrize("slowdown", [5.0, 10.0])
def test_hands_on_threads_bound_the_wait_so_a_5s_connection_timeout_never_fires(slowdown):
    """The Hands-On API thread-per-request (the example with `concurrency:
    threadPerRequest` and HikariCP's 30 s) reaches the database through its cache (a miss waits for its fill),
    so the pool's waiting requests block the API's threads: free threads = threads -
    waiting. Its HPA took the 4 pods down to 2 at 30 s (800 req/s is 20 % CPU of 4), so in
    the flush during a slowdown 2 x 50 = 100 threads can wait. The pool hands out 50 /
    (50 ms x slowdown x USL) a second, USL = 1 + 0.02 x 49 + 0.0005 x 50 x 49 = 3.205 at 50
    in flight: 62.4/s at the scenario's 5x, 31.2/s at the reference's 10x slow query (50 ->
    500 ms). Both are above 100 threads / 5 s = 20/s, so the head of the queue waits at most
    100 / 31.2 = 3.2 s < 5 s: fix 5 (connectionTimeout 30 s -> 5 s) never fires, and the
    run with it is the run without it at 5x. At 10x the only change is the mean wait the
    pool reports (its fluid head 3.2 s + the M/M/c mean 2.9 s = 6.1 s, capped at 5 s), so
    cache fills come back a little sooner: 50 s instead of 51 s beyond half the peak of
    98 waiting, the same peak. By `analyze`'s rule (a third as long or a peak a third
    lower) fix 5 does not break the loop: it cannot while the threads bound the wait below
    the timeout. Its idle_timeout (60 s) retires idle connections only, and a saturated pool
    has none (HikariCP: only above minimumIdle, which defaults to the pool size)."""
    from sdmodels.system.fixes import Change, Fix, apply
    spec = load_system(threaded(hands_on_text()))
    # the reference's fix 5 as written: max_connections 50 (the pool already has 50),
    # connection_timeout 5s, idle_timeout 60s
    fix = Fix("connection pool with timeout", tuple(
        Change(("components", "db", "pool", field), "", "", value)
        for field, value in (("connectionTimeout", 5.0), ("idleTimeout", 60.0))), (), "")
    names = ["api request threads", "api free threads", "db pool.Waiting for connection",
             "db pool.Connections acquired", "db pool.Wait timeouts", "db pool.Wait time",
             "users to cdn retries.Retry rate"]
    runs = [simulate(compose(s).model, scenario="flush during slowdown", engine="interpreter",
                     params={"Slowdown factor": slowdown}, outputs=names).to_pandas()
            for s in (spec, apply(spec, fix))]
    rate = 50 / (0.05 * slowdown * (1 + 0.02 * 49 + 0.0005 * 50 * 49))
    assert rate > 100 / 5
    for run in runs:
        threads, free, waiting, acquired, timeouts, wait, retries = run.columns
        assert run[threads].loc[60:120].to_numpy() == pytest.approx(100)
        assert (run[free] + run[waiting]).loc[60:].to_numpy() == pytest.approx(
            run[threads].loc[60:].to_numpy())
        assert run[waiting].max() > 90 and run[waiting].max() <= 100 + 1e-6
        busy = run[run[waiting] > 50]
        assert len(busy) >= 10                           # the USL settles within ~1 s x 8
        assert busy[acquired].iloc[8:].to_numpy() == pytest.approx(rate, rel=1e-3)
        head = (run[waiting] / run[acquired].clip(lower=1e-9)).max()   # the FIFO head's wait
        assert run[timeouts].max() == 0 and head < 100 / rate * 1.001 < 5
    before, after = runs
    waiting = before.columns[2]
    assert after[waiting].max() == pytest.approx(before[waiting].max(), rel=1e-3)  # same peak
    held = [(run[waiting] > before[waiting].max() / 2).sum() for run in runs]
    assert held[1] > held[0] * 2 / 3         # beyond half its rise almost as long: not broken
    if slowdown == 5.0:                      # the threads bind: nothing changes at all
        assert after.to_numpy() == pytest.approx(before.to_numpy(), rel=1e-6, abs=1e-6)
    else:   # the mean wait shown (fluid head 3.2 s + M/M/c mean 2.9 s at rho 0.99) is capped
        wait = before.columns[5]            # at 5 s, so fills return a little sooner
        assert before[wait].max() > 6 and after[wait].max() == pytest.approx(5)
        assert held[0] == 51 and 45 <= held[1] < held[0]      # 51 s -> 50 s


def _pool_rig(**settings):
    """A connection pool alone, and the share of its queries slower than 0.5, 1, 3 s."""
    from library.parts.pool import connection_pool, slower_than
    from sdmodels import Model
    m = Model("slow", stop=120, dt=0.01, saveper=1.0)
    p = m.module("pool", connection_pool(**settings), display="pool")
    for u in (0.5, 1.0, 3.0):
        m.aux(f"slower than {u:g}", slower_than(p, u))
    return simulate(m, engine="interpreter").to_pandas().iloc[-1]


def test_slow_call_share_is_the_pools_response_time_tail():
    """Below saturation (10 connections, 100 queries/s held 95 ms: rho 0.95, no backlog),
    the share slower than u is M/M/c's response-time tail (Gross & Harris sec. 2.3) with
    the pool's Sakasegawa C = 0.95^(sqrt(22) - 1) and theta = c mu - lambda = 5.26/s:
    (1 - C) e^(-mu u) + C (mu e^(-theta u) - theta e^(-mu u)) / (mu - theta), 11.6 % at
    0.5 s; a caller waits at most its client timeout (1 s), so nothing is slower than 1 s
    or 3 s for it."""
    import math
    row = _pool_rig(**{"Arrivals": 100.0, "Hold time": 0.095, "Pool size": 10.0,
                       "Client timeout": 1.0})
    c, mu = 0.95 ** (math.sqrt(22) - 1), 1 / 0.095
    theta = 10 * mu - 100
    u = 0.5
    tail = (1 - c) * math.exp(-mu * u) + c * (mu * math.exp(-theta * u) - theta * math.exp(
        -mu * u)) / (mu - theta)
    assert row["slower than 0.5"] == pytest.approx(tail, rel=1e-6)
    assert tail == pytest.approx(0.1157, abs=5e-4)
    assert row["slower than 1"] == 0 and row["slower than 3"] == 0


def test_slow_call_share_in_an_overloaded_pool():
    """200 queries/s on 10 connections held 100 ms (mu = 100/s), connectionTimeout 2 s, a
    30 s client: in steady overload 100/s are served after waiting the 2 s timeout (the
    FIFO head) and 100/s give up at 2 s. Over 1 s: every call. Over 3 s: none of those who
    gave up (2 s), and of the served those whose M/M/c rest (rho capped at 0.99: C =
    0.99^(sqrt(22) - 1), theta = 1/s) exceeds 1 s: half x the tail at 1 s = 19.7 %."""
    import math
    row = _pool_rig(**{"Arrivals": 200.0, "Hold time": 0.1, "Pool size": 10.0,
                       "Acquire timeout": 2.0, "Max waiting": 1000.0, "Client timeout": 30.0})
    assert row["slower than 0.5"] == pytest.approx(1.0, rel=1e-6)
    assert row["slower than 1"] == pytest.approx(1.0, rel=1e-6)
    c, mu, theta = 0.99 ** (math.sqrt(22) - 1), 10.0, 1.0
    tail = (1 - c) * math.exp(-mu) + c * (mu * math.exp(-theta) - theta * math.exp(-mu)) / (
        mu - theta)
    assert row["slower than 3"] == pytest.approx(0.5 * tail, rel=1e-3)
    assert 0.5 * tail == pytest.approx(0.197, abs=1e-3)


@pytest.fixture(scope="module")
def hands_on_fixes():
    from sdmodels.system.analyze import recognised
    from sdmodels.system.fixes import fixes_for, merged
    r = recognised(threaded(hands_on_text()))
    return r.spec, {f.name: f for f in merged(fixes_for(m, r.spec) for m in r.matches)}


@pytest.mark.parametrize("slowdown", [5.0, 10.0])
def test_hands_on_pool_loop_is_broken_by_less_load_not_by_a_shorter_wait(slowdown,
                                                                          hands_on_fixes):
    """What would break the pool loop behind threads, where fix 5 does not: not a wait bound, even one under
    the head's wait (1 s < 100 / 62.4 = 1.6 s): the callers that give up free their threads
    for more cache misses, so the pool stays full (beyond half its peak more than half as
    long). Less load into the pool does: fix 3's breaker on cache -> db, which opens on
    slow calls, keeps the waiting below half the unfixed peak but for a second or two."""
    from sdmodels.system.fixes import Change, Fix, apply
    spec, fixes = hands_on_fixes
    short = Fix("", (Change(("components", "db", "pool", "connectionTimeout"), "", "", 1.0),),
                (), "")
    waiting = "db pool.Waiting for connection"
    runs = [simulate(compose(s).model, scenario="flush during slowdown", engine="interpreter",
                     params={"Slowdown factor": slowdown}, outputs=[waiting]).to_pandas()
            .iloc[:, 0] for s in (spec, apply(spec, short),
                                  apply(spec, fixes["circuit breaker on cache -> db"]))]
    before, shorter, breaker = runs
    half = before.max() / 2
    held = [float((run > half).sum()) for run in runs]      # seconds (saved every 1 s)
    assert held[0] > 15 and shorter.max() > 0.9 * before.max() and held[1] > held[0] / 2
    assert breaker.max() < half and held[2] <= 2


def test_hands_on_fix_5_says_why_the_threads_make_it_idle(hands_on_fixes):
    """Behind threads analyze's fix 5 says why it cannot fire there, from the description's
    numbers: 50 connections x 5 s / 200 threads = 1.25 s of queue at most against the users'
    1 s timeout, and where it would (an async caller, below the 15 s of the calls to db)."""
    _, fixes = hands_on_fixes
    fix = fixes["connection pool with timeout"]
    assert "50 x 5 s / 200 = 1.25 s" in fix.why and "give up after 1 s" in fix.why
    assert "request threads of api" in fix.why
    assert "it breaks the loop where nothing bounds the waiting (an async caller of db) and " \
        "it is below the 15 s the callers wait for db" in fix.why
    assert "- components.db.pool.connectionTimeout: 30s\n+ components.db.pool." \
        "connectionTimeout: 5s" in fix.diff()


def test_hands_on_behind_threads_only_slow_calls_open_the_database_breaker(hands_on_fixes):
    """Fix 3 behind threads, in the flush during the slowdown. The API sends no more queries
    than its free threads can (the rest wait for a connection), so the pool refuses none and
    every query is answered, in 3.8 s at most, within the call's 15 s timeout: the failure
    share stays under 0.1 % and a breaker that counts failures alone (the reference's
    failure_threshold) never opens, though the queue's head alone waits 1.5 s. Counting calls
    slower than the users' 1 s as slow, it opens within two seconds of the flush (60 s)."""
    from sdmodels.system.fixes import BREAKER, Change, Fix, apply
    spec, fixes = hands_on_fixes
    i = [k for k, c in enumerate(spec.calls) if c.source == "cache"][0]
    failures_only = apply(spec, Fix("", (Change(("calls", i, "circuitBreaker"), "", "",
                                                dict(BREAKER)),), (), ""))
    names = ["db pool.Failure share", "db pool.Request latency", "db pool.Client timeout",
             "cache to db breaker.Breaker state", "db pool.Backlog wait"]
    runs = [simulate(compose(s).model, scenario="flush during slowdown", engine="interpreter",
                     outputs=names).to_pandas()
            for s in (failures_only, apply(spec, fixes["circuit breaker on cache -> db"]))]
    failed, latency, timeout, state, head = runs[0].columns
    assert runs[0][failed].max() < 1e-3 and runs[0][timeout].max() == 15   # late tail: 0.04 %
    assert 3 < runs[0][latency].max() < 4
    assert runs[0][state].max() == 0                   # failures alone: never opens
    assert runs[0][head].max() > 1.4        # though the queue's head alone waits 1.5 s
    opened = runs[1][state].index[runs[1][state].to_numpy() == 1]
    assert 60 < opened.min() <= 62


TWO_HOPS = """
system: two-hops
components:
  users: {kind: traffic, rate: RATE/s}
  front: {kind: service, serviceTime: 10ms, replicas: 2, workersPerPod: 4CONCURRENCY}
  back: {kind: service, serviceTime: 40ms, replicas: 10, workersPerPod: 10}
calls:
  - {from: users, to: front, timeout: 5s}
  - {from: front, to: back, timeout: 5s}
"""


@pytest.mark.parametrize("rate, concurrency, held", [
    (200, "", 10.0), (100, "", None), (200, ", concurrency: async", None)])
def test_a_thread_per_request_service_that_cannot_hold_its_calls_below_is_noticed(
        rate, concurrency, held):
    """Little's law: front holds a thread through its 10 ms and back's 40 ms (back is 100
    workers at 8 % of 2,500 req/s: its Erlang C wait is below 1e-9 s), so X x 50 ms threads:
    10 at 200 req/s, more than its 2 x 4 = 8 (the notice), 5 at 100 req/s (none). An async
    front holds none whatever the rate."""
    from sdmodels.system.threads import notices
    spec = load_system(TWO_HOPS.replace("RATE", str(rate)).replace("CONCURRENCY", concurrency))
    found = notices(spec, compose(spec))
    if held is None:
        assert found == []
        return
    (text,) = found
    assert text.startswith(f"front is thread-per-request with 8 request threads, but at the "
                           f"baseline {rate} req/s x 50 ms (its service and its calls below) "
                           f"hold {held:g} (Little's law)")
    assert "write concurrency: async" in text
