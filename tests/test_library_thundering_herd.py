"""Behaviour tests for library/thundering_herd.py (reference Part 3.2).

Arithmetic from the documented defaults: 10,000 users x 1 req/s = 10,000 req/s; a 99.9 % hit
ratio leaves 10,000 x 0.001 = 10 req/s for the database (the reference's "~10 req/s"). When
all 100 hot keys expire together every request misses: 10,000 req/s against a database of
200 queries/s, whose latency (in flight / capacity) passes the 1 s timeout once 200 queries
are in flight, i.e. after 200 / 10,000 = 0.02 s, so almost no refill completes.
"""
import pytest

from library import thundering_herd
from sdmodels import build, compile, run

HERD_AT = 3600            # populated at 10:00 (t = 0), TTL 3600 s: expiry at 11:00
COLS = ["DB load", "Cached keys", "DB latency", "Hit ratio"]


@pytest.fixture(scope="module")
def kernel():
    return compile(build(thundering_herd.build()))


def _run(kernel, scenario, **params):
    return run(kernel, scenario=scenario, params=params, outputs=COLS)


def test_baseline_database_load_is_the_reference_10_per_second(kernel):
    # 10 req/s of uncacheable misses + 100 keys / 3600 s = 0.03 refills/s
    df = _run(kernel, "baseline").loc[2:]
    assert df["DB load"].max() <= 10.5 and df["DB load"].min() >= 9.5
    assert df["Cached keys"].min() > 99


def test_trigger_herd_hits_the_database_and_stays(kernel):
    df = _run(kernel, "trigger")
    before = df.loc[2:HERD_AT - 1]
    assert before["DB load"].max() <= 10.5                 # an hour of 99.9 % hits
    # the herd: >= 90 % of the 10,000 req/s (a handful of keys refill in the first 0.02 s)
    assert df.loc[HERD_AT + 2, "DB load"] >= 9000
    # sustained: 30 minutes later the cache is still nearly empty and the herd still there
    assert df["DB load"].iloc[-1] >= 9000
    assert df["Cached keys"].iloc[-1] < 10
    assert df["DB latency"].iloc[-1] > 1                   # past the timeout


def test_herd_needs_the_database_to_be_smaller_than_the_herd(kernel):
    # With capacity 20,000 q/s > 10,000 req/s the latency stays ~1 / 20,000 s: the first
    # queries refill every key and the load falls back to 10 req/s.
    df = _run(kernel, "trigger", **{"DB capacity": 20000})
    assert df["Cached keys"].iloc[-1] > 99
    assert df["DB load"].iloc[-1] <= 10.5


@pytest.mark.parametrize("scenario, bound", [
    # jitter +-10 %: 100 keys expire over 720 s = 0.14 keys/s, each refilled by its first
    # query within ~5 ms: far below 1 extra query per second -> under 10 + 1
    ("fix_jitter", 11.0),
    # single flight: one query per missing key per round trip; with 100 keys in flight the
    # latency is 101 / 200 = 0.5 s, so at most 2 rounds in a second: 10 + 2 x 100 = 210
    ("fix_coalescing", 210.0),
    # early refresh: exactly one refresh query per key (100) + the 10 req/s of misses = 110
    ("fix_early_refresh", 110.0 + 1),
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
             outputs=["Entries due to expire"])
    due = df["Entries due to expire"]
    assert due.loc[10:2870].max() == 0
    # uniform density 100 keys / 1440 s = 0.069 keys/s inside the window
    assert due.loc[3000:4200].mean() == pytest.approx(100 / 1440, rel=0.02)
