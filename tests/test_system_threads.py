"""A request waiting for a database connection holds a request thread of the service that
sent it (reference Part 3.3, "Connection Pool Exhaustion": each waiting request holds a
thread, Tomcat maxThreads): the composition serves a service's requests with its threads
less those waiting in the pools it calls, and bounds a pool's waiting requests by its
callers' threads. Expected values are closed forms from the description's numbers."""
from __future__ import annotations

from pathlib import Path

import pytest

from library.compose import compose
from sdmodels import simulate
from sdmodels.system import load_system

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

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
    """The Hands-On API reaches the database through its cache (a miss waits for its fill),
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
    the timeout."""
    from sdmodels.system.fixes import Change, Fix, apply
    spec = load_system((EXAMPLES / "hands_on.yaml").read_text())
    fix = Fix("pool connectionTimeout", (Change(("components", "db", "pool",
                                                 "connectionTimeout"), "30s", "5s", 5.0),), (), "")
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
