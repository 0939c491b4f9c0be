"""Behaviour tests for library/thundering_herd.py (reference Part 3.2).

Arithmetic from the documented defaults: 10,000 users x 1 req/s = 10,000 req/s; a 99.9 % hit
ratio leaves 10,000 x 0.001 = 10 req/s for the database (the reference's "~10 req/s"). The
database sits behind a pool of 10 connections (HikariCP's default) running 50 ms queries,
1.225x slower with 10 running (USL: 1 + 0.02 x 9 + 0.0005 x 10 x 9): 10 / 0.061 = 163
queries/s. When all 100 hot keys expire together every read misses: 10,000 queries/s
against 163/s; the pool's backlog reaches its 2,000 waiting requests (10 pods x Tomcat's
200 threads) in 0.2 s, a 12 s wait past the 1 s client timeout, so no fill succeeds.
"""
from functools import partial

import pytest

from library import thundering_herd
from sdmodels import build, run as _run

# the interpreter: no numba compile (tests/test_engine_interpreter.py checks the engines agree)
run = partial(_run, engine="interpreter")

HERD_AT = 3600            # populated at 10:00 (t = 0), TTL 3600 s: expiry at 11:00
COLS = ["DB load", "Cached keys", "DB latency", "Hit ratio", "DB queries in flight"]
CAPACITY = 10 / (0.05 * (1 + 0.02 * 9 + 0.0005 * 10 * 9))      # 163 queries/s


@pytest.fixture(scope="module")
def kernel():
    return build(thundering_herd.build())


def _run(kernel, scenario, **params):
    return run(kernel, scenario=scenario, params=params, outputs=COLS)


def test_baseline_database_load_is_the_reference_10_per_second(kernel):
    # 10 req/s never cached + 100 keys / 3600 s expiring, each costing 1 + lambda x 50 ms
    # = 6 queries before its fill returns (no coalescing): 10 + 0.17
    df = _run(kernel, "baseline").loc[2:]
    assert df["DB load"].max() <= 10.5 and df["DB load"].min() >= 9.5
    assert df["Cached keys"].min() > 99


def test_trigger_herd_hits_the_database_and_stays(kernel):
    df = _run(kernel, "trigger")
    before = df.loc[2:HERD_AT - 1]
    assert before["DB load"].max() <= 10.5                 # an hour of 99.9 % hits
    # the herd: >= 90 % of the 10,000 req/s (a few keys refill before the backlog builds)
    assert df.loc[HERD_AT + 2, "DB load"] >= 9000
    # sustained: 30 minutes later the cache is still nearly empty and the herd still there
    assert df["DB load"].iloc[-1] >= 9000
    assert df["Cached keys"].iloc[-1] < 10
    assert df["DB latency"].iloc[-1] > 1                   # past the timeout


def test_the_pool_bounds_what_the_herd_does_to_the_database(kernel):
    # before the parts: 16.9 million queries in flight, latency 84,513 s. Behind the pool
    # the database runs at most 10 queries; a request waits at most the 2,000-deep backlog
    # (12.2 s at 163/s) plus the M/M/c term at utilisation 0.99 (0.6 s) and the query
    df = _run(kernel, "trigger")
    assert df["DB queries in flight"].max() <= 10 + 1e-9
    assert df["DB queries in flight"].iloc[-1] == pytest.approx(10, rel=1e-3)
    assert df["DB latency"].max() <= 2000 / CAPACITY + 0.7


def test_herd_needs_the_database_to_be_slower_than_the_herd(kernel):
    # 0.5 ms queries: 10 / 0.0006 = 16,300 queries/s > 10,000 req/s, no backlog builds, the
    # first queries refill every key and the load falls back to 10 req/s
    df = _run(kernel, "trigger", **{"Query time": 0.0005})
    assert df["Cached keys"].iloc[-1] > 99
    assert df["DB load"].iloc[-1] <= 10.5


@pytest.mark.parametrize("scenario, bound", [
    # jitter +-10 %: 100 keys expire over 720 s = 0.14 keys/s, each costing 6 queries
    # before its fill returns: 10.03 + 0.83 extra queries/s
    ("fix_jitter", 11.0),
    # single flight: one query per missing key per fill; the 100 fills wait at most
    # 100 / 163 = 0.6 s at the pool, inside the 1 s timeout: at most 2 rounds of 100
    ("fix_coalescing", 210.0),
    # early refresh, spread over the last 10 % of the TTL: 100 refreshes in 360 s
    ("fix_early_refresh", 11.0),
    ("fixed", 11.0),
])
def test_each_fix_caps_the_peak_database_load(kernel, scenario, bound):
    df = _run(kernel, scenario)
    assert df["DB load"].max() <= bound
    assert df["Cached keys"].iloc[-1] > 99
    assert df["DB load"].iloc[-1] <= 10.5


def test_jitter_spreads_expiry_over_the_jitter_window(kernel):
    # +-20 % of 3600 s: the 100 keys expire between 2880 s and 4320 s; none before
    df = run(kernel, scenario="trigger", params={"TTL jitter": 0.2, "Early refresh": 0},
             outputs=["Cache / Entries due"])
    due = df["Cache / Entries due"]
    assert due.loc[10:2870].max() == 0
    # uniform density 100 keys / 1440 s = 0.069 keys/s inside the window
    assert due.loc[3000:4200].mean() == pytest.approx(100 / 1440, rel=0.02)
