"""Fix 5 of the Hands-On Exercise (a pool with a connectionTimeout) and when it breaks the
connection-pool loop. HikariCP's connectionTimeout bounds a caller's wait for a connection
(30 s by default); node-postgres' pg.Pool waits forever by default (connectionTimeoutMillis
0); Go's database/sql has no such bound at all (only the request's context). Behind a
thread-per-request server the request threads bound the queue (each waiting caller holds
one, Tomcat maxThreads): tests/test_system_threads.py shows the Hands-On's 100 threads keep
its head's wait under 5 s, so the bound never fires. Behind an async server (an event loop,
goroutines: `concurrency: async`) nothing else bounds it. Expected values are closed forms
of the descriptions' numbers: the pool hands out mu = c / (query time x slowdown x USL(c)),
USL(c) = 1 + 0.02 (c - 1) + 0.0005 c (c - 1) when saturated (library/parts/database.py)."""
from __future__ import annotations

import math

import pytest

from library.compose import compose
from sdmodels import simulate
from sdmodels.system import analyze, load_system
from tests.hands_on_variants import hands_on_text, with_connection_timeout

#: 100 req/s into a pool of 20 connections, 100 ms queries; api -> db waits 10 s
NODE_API = """
system: node-api
components:
  users: {kind: traffic, rate: 100/s}
  api: {kind: service, serviceTime: 50ms, replicas: 2, workersPerPod: 10, concurrency: CONC}
  db: {kind: database, queryTime: 100ms, pool: {maximumPoolSize: 20, connectionTimeout: CT}}
calls:
  - {from: users, to: api, timeout: 10s}
  - {from: api, to: db, timeout: 10s}
"""
USL20 = 1 + 0.02 * 19 + 0.0005 * 20 * 19            # 1.57
MU = 20 / (0.1 * USL20)                                # 127.4 connections a second
MU_SLOW = MU / 5                                       # 25.5 in the 5x dependency slowdown
NAMES = ["db pool.Waiting for connection", "db pool.Wait timeouts", "db pool.Goodput"]


def _node_api(concurrency: str, timeout: str):
    text = NODE_API.replace("CONC", concurrency).replace("CT", timeout)
    run = simulate(compose(load_system(text)).model, scenario="dependency slowdown",
                   engine="interpreter", outputs=NAMES).to_pandas()
    run.columns = ["waiting", "timeouts", "goodput"]
    return run


def test_async_callers_queue_without_bound_and_a_5s_timeout_bounds_them():
    """The 5x slowdown (60 s to 120 s) takes the pool from 127.4 to 25.5 connections a
    second, under the 100 req/s. Async callers, pg.Pool's default (wait forever): the queue
    grows at 100 - 25.5 = 74.5/s to 4,471 at 120 s, then drains at 127.4 - 100 = 27.4/s,
    empty 163 s after the slowdown ended; while its head waits 10 s (the api -> db timeout)
    or more, from 65 s until it is down to 10 x 127.4 = 1,274 (237 s), every answer comes
    after its caller left: no goodput for 172 s. connectionTimeout 5 s: the queue levels at
    the queries of the last 5 s, 100 x 5 = 500 (Little's law), 74.5/s give up, the 25.5
    served waited 5 s of their 10 and are late only by the M/M/c tail at the 5 s left (the
    pool's: C = 0.99^(sqrt(42) - 1), theta = 20 x 0.01 / 0.785 s, hold 0.785 s), and it is
    empty 500 / 27.4 = 18 s after the slowdown. HikariCP's default 30 s sheds waiters too,
    but the served have waited over the callers' 10 s: no goodput either. The same callers with a thread each (2 x 10
    = 20 threads) wait 20 - 25.5 x 50 ms = 18.7 at most (tests/test_system_threads.py): the
    5 s timeout never fires."""
    forever, bounded = _node_api("async", "0s"), _node_api("async", "5s")
    peak = (100 - MU_SLOW) * 60
    assert forever.waiting.loc[120] == pytest.approx(peak, rel=2e-3)     # the USL settles
    empty = 120 + forever.waiting.loc[120] / (MU - 100)
    assert forever.waiting.loc[int(empty) - 2] > 0 and forever.waiting.loc[int(empty) + 2] < 1e-6
    late_until = 120 + (forever.waiting.loc[120] - 10 * MU) / (MU - 100)
    assert forever.goodput.loc[66:int(late_until) - 1].max() < 1e-9
    assert forever.goodput.loc[int(late_until) + 2] > 0 and forever.timeouts.max() == 0

    assert bounded.waiting.loc[70:119].to_numpy() == pytest.approx(100 * 5, rel=1e-6)
    assert bounded.timeouts.loc[70:119].to_numpy() == pytest.approx(100 - MU_SLOW, rel=1e-4)
    hold, c = 0.1 * 5 * USL20, 0.99 ** (math.sqrt(42) - 1)
    theta, mu, u = 20 * 0.01 / hold, 1 / hold, 10 - 5
    m, d = min(mu, theta) * u, abs(mu - theta) * u
    tail = (1 - c) * math.exp(-mu * u) + c * math.exp(-m) * (1 + m * (1 - math.exp(-d)) / d)
    assert tail == pytest.approx(0.331, abs=1e-3)
    assert bounded.goodput.loc[70:119].to_numpy() == pytest.approx(MU_SLOW * (1 - tail),
                                                                    rel=1e-3)
    assert bounded.waiting.loc[int(120 + 500 / (MU - 100)) + 2] < 1e-6

    # HikariCP's 30 s, above the callers' 10 s: the callers who give up leave the queue, but
    # the served waited longer than their callers did: it bounds the queue, nothing more
    hikari = _node_api("async", "30s")
    assert hikari.timeouts.loc[100:119].min() > 0 and hikari.goodput.loc[66:119].max() < 1e-9

    threads = _node_api("threadPerRequest", "5s")
    assert threads.waiting.loc[70:119].to_numpy() == pytest.approx(20 - MU_SLOW * 0.05,
                                                                   rel=1e-3)
    assert threads.timeouts.max() == 0


def test_analyze_credits_fix_5_on_an_async_service():
    """`sdm analyze` on the async service with pg.Pool's default proposes fix 5 as a diff
    from 'wait forever' and shows it breaking the pool loop in the run where the loop ran
    (the 3x traffic surge, 300 req/s for 60 s on a pool that hands out 127.4): the queue
    peaks at (300 - 127.4) x 60 = 10,357 without the bound (a little less while the USL
    settles) and at the last 5 s of queries, 300 x 5 = 1,500, with it."""
    a = analyze(NODE_API.replace("CONC", "async").replace("CT", "0s"))
    row = {r["fix"]: r for r in a.fixes}["connection pool with timeout"]
    assert row["breaks"] == ["connection pool exhaustion: db"]
    assert "- components.db.pool.connectionTimeout: 0s (wait forever)\n" \
        "+ components.db.pool.connectionTimeout: 5s" in row["diff"]
    assert "api wait without a thread (async)" in row["why"]
    assert "under 10 s: answered in time" in row["why"]
    loop = [x for x in row["loops"] if x["targeted"]][0]
    assert loop["scenario"] == "traffic surge" and loop["broken"]
    assert loop["peak_before"] == pytest.approx((300 - MU) * 60, rel=5e-3)
    assert loop["peak_after"] == pytest.approx(300 * 5, rel=1e-3)


def _async_hands_on(timeout: str) -> str:
    return with_connection_timeout(hands_on_text(), timeout) if timeout != "0s" else \
        hands_on_text()


def test_hands_on_with_an_async_api_fix_5_breaks_the_death_spiral():
    """The Hands-On system as shipped, its API async (a Node.js API on pg.Pool: the callers
    wait without a thread), in the flush during the 5x slowdown. Without a bound, once the head
    of the queue waits 15 s (the cache -> db call's timeout) no fill is answered in time, the
    cache stays as empty as it is, and the queue keeps growing after the slowdown at the
    queries that arrive less the 50 / (50 ms x USL(50)) = 312 a second the pool hands out:
    the death spiral outlasts its trigger ('collapsed', the reference's 'Waiting for
    connection: 500 requests, wait 10,000 ms+'). HikariCP's default 30 s, above those 15 s,
    bounds the queue at the last 30 s of queries (Little's law) and fixes nothing else. Fix 5
    (5 s, below the 15 s): the queue levels at the last 5 s of queries, the served are
    answered in time, the cache refills and the pool loop, the stampede and the retry storm
    all end within the run: `analyze` credits it."""
    from sdmodels.system.fixes import fixes_for
    a = analyze(_async_hands_on("0s"), fixes=False, scenarios=["flush during slowdown"])
    pool = a.by_pattern("connection pool exhaustion")[0]
    fix = [f for f in fixes_for(pool.match, a.spec) if f.name == "connection pool with timeout"]
    row = a.evaluate(fix[0])
    assert row["scenarios"] == ["flush during slowdown"]
    assert row["breaks"] == ["connection pool exhaustion: db"]
    loops = {x["loop"]: x for x in row["loops"]}
    spiral = loops["connection pool exhaustion: db"]
    assert spiral["before"] == "collapsed" and spiral["end_before"] == spiral["peak_before"]
    assert spiral["end_after"] < 1e-6 and spiral["peak_after"] < spiral["peak_before"] / 100
    for other in ("cache stampede: cache", "retry storm: users -> cdn"):
        assert loops[other]["before"] == "collapsed" and loops[other]["broken"]

    names = ["db pool.Waiting for connection", "db pool.Arrivals",
             "db pool.Connections acquired", "cache.Hit ratio"]
    mu = 50 / (0.05 * (1 + 0.02 * 49 + 0.0005 * 50 * 49))
    runs = [simulate(compose(load_system(_async_hands_on(t))).model, engine="interpreter",
                     scenario="flush during slowdown", outputs=names).to_pandas()
            for t in ("0s", "30s")]
    for run in runs:
        run.columns = ["waiting", "arrivals", "acquired", "hit"]
        late = run.loc[200:]
        assert late.acquired.to_numpy() == pytest.approx(mu, rel=1e-4)
        assert late.hit.max() - late.hit.min() < 1e-9 and late.hit.max() < 0.5   # no fill
    forever, hikari = runs
    grown = forever.waiting.loc[600] - forever.waiting.loc[500]      # still growing at
    assert grown == pytest.approx((forever.arrivals.loc[500] - mu) * 100, rel=1e-3)  # the end
    assert hikari.waiting.loc[600] == pytest.approx(30 * hikari.arrivals.loc[600], rel=1e-3)


def test_concurrency_and_a_wait_forever_are_described_as_people_configure_them():
    """`connectionTimeout: 0s` is pg.Pool's 'wait forever' (the pool part's acquire timeout
    becomes 1e9 s); `concurrency` takes the two models by name and says which they are."""
    from sdmodels.system import SystemDescriptionError
    spec = load_system(NODE_API.replace("CONC", "async").replace("CT", "0s"))
    assert spec.components["db"].config["pool"]["connectionTimeout"] == 0
    run = simulate(compose(spec, stop=1).model, engine="interpreter",
                   outputs=["db pool.Acquire timeout", "db waiting bound"]).to_pandas()
    assert run.iloc[-1].tolist() == [1e9, 1e12]      # waits forever, no thread bound
    with pytest.raises(SystemDescriptionError, match="threadPerRequest, async"):
        load_system(NODE_API.replace("CONC", "eventLoop").replace("CT", "5s"))
