"""The cache part against renewal theory: hit ratio lambda T / (1 + lambda T), coalescing,
jittered and synchronized expiry, flushes, and the empty-cache stampede."""
from functools import partial

import numpy as np
import pytest

from library.parts.cache import cache
from sdmodels import build, simulate as _simulate

# the interpreter: no numba compile (tests/test_engine_interpreter.py checks the engines agree)
simulate = partial(_simulate, engine="interpreter")

KEYS = 100
#: (reads per key per second lambda, TTL T in s)
TABLE = [(0.01, 10), (0.1, 10), (1, 10), (0.05, 60), (0.2, 30), (2, 5)]


def closed_form(lam, ttl, fill=0.0):
    """Hit ratio of a TTL cache under Poisson reads: an entry is cached for T, then the next
    read (after 1 / lambda on average) misses and refills it in `fill`: renewal-reward gives
    lambda T / (1 + lambda T + lambda fill)."""
    return lam * ttl / (1 + lam * ttl + lam * fill)


@pytest.fixture(scope="module")
def kernel():
    return build(cache(Keys=KEYS).with_time(stop=200, dt=0.01, saveper=1))


def _runs(kernel, rows, cols, **params):
    """One run per row of `rows`; `params` are scalars or lists of len(rows)."""
    p = {k: v if isinstance(v, list) else [v] * len(rows) for k, v in params.items()}
    return simulate(kernel, params=p, outputs=cols)


@pytest.mark.parametrize("jitter", [0.0, 0.5])
def test_steady_state_hit_ratio_is_the_closed_form(kernel, jitter):
    # started at the closed form with entries of all ages, it stays there for 20 TTLs (or
    # more): fills = lambda x missing keys balance expiries = cached / T only at that ratio.
    # Euler's one-step lag of fills and expiry moves it by about lambda dt h (1 - h), up to
    # 2.5e-4 at dt 0.01 (the rows of the table differ by 0.05 or more)
    r = _runs(kernel, TABLE, ["Hit ratio"], Requests=[lam * KEYS for lam, _ in TABLE],
              TTL=[t for _, t in TABLE], **{"Fill time": 0.0, "TTL jitter": jitter})
    for i, (lam, ttl) in enumerate(TABLE):
        assert r["Hit ratio"][i] == pytest.approx(closed_form(lam, ttl), abs=5e-4)


def test_a_cold_cache_converges_to_the_closed_form(kernel):
    # empty at t = 0: with a +-50 % jittered TTL the cohorts mix and the ratio settles
    r = _runs(kernel, TABLE, ["Hit ratio"], Requests=[lam * KEYS for lam, _ in TABLE],
              TTL=[t for _, t in TABLE], **{"Fill time": 0.0, "TTL jitter": 0.5,
                                            "Warm start": 0})
    assert r["Hit ratio"][:, 0] == pytest.approx(0)
    for i, (lam, ttl) in enumerate(TABLE):
        assert r["Hit ratio"][i, -1] == pytest.approx(closed_form(lam, ttl), abs=2e-3)


def test_fill_time_and_coalescing(kernel):
    # lambda 10/s, T 10 s, fills take 0.5 s: lambda T / (1 + lambda T + lambda L) = 100 /
    # 106 either way; without coalescing every read of a missing key queries the store
    # (lambda x missing), with it one query per fill (lambda / (1 + lambda L) x missing)
    r = _runs(kernel, [0, 1], ["Hit ratio", "Misses", "Missing keys"], Requests=1000,
              TTL=10, **{"Fill time": 0.5, "Warm start": 0, "TTL jitter": 0.5,
                         "Request coalescing": [0, 1]})
    assert r["Hit ratio"][:, -1] == pytest.approx([100 / 106] * 2, abs=2e-3)
    missing = r["Missing keys"][:, -1]
    assert r["Misses"][:, -1] == pytest.approx([10 * missing[0], 10 / 6 * missing[1]],
                                               rel=1e-3)


def test_synchronized_fill_expires_at_once_and_jitter_spreads_it(kernel):
    # all keys filled at t = 0 with T = 50 s (none refilled: the store fails): without
    # jitter they all expire within a step of 50 s; with +-20 % uniformly over 40..60 s
    r = simulate(kernel, params={"Synchronized fill": [1, 1], "TTL": [50, 50],
                                 "Requests": [1000, 1000], "TTL jitter": [0, 0.2],
                                 "Fill success share": [0, 0]},
                 outputs=["Entries due", "Cached keys"], saveper=0.01)
    t, due = r.times, r["Entries due"]
    cached = r["Cached keys"]
    assert cached[0, t < 49.99].min() == pytest.approx(cached[0, 0])
    assert cached[0, t > 50.005].max() < 1e-9
    assert due[1, t < 39.99].max() == 0
    inside = (t > 41) & (t < 59)
    assert due[1, inside].mean() == pytest.approx(cached[1, 0] / 20, rel=0.01)


def test_a_fill_before_the_start_expires_a_ttl_after_it(kernel):
    # filled at t = -30 s with T = 50 s (a cache populated before the run began): every key
    # expires within a step of 20 s = T - 30; with +-20 % over 10..30 s = T (1 -+ 0.2) - 30,
    # uniformly (cached / 20 s a second); the store fails, so nothing refills
    r = simulate(kernel, params={"Synchronized fill": [1, 1], "TTL": [50, 50],
                                 "Synchronized fill time": [-30, -30],
                                 "Requests": [1000, 1000], "TTL jitter": [0, 0.2],
                                 "Fill success share": [0, 0]},
                 outputs=["Entries due", "Cached keys"], saveper=0.01)
    t, due, cached = r.times, r["Entries due"], r["Cached keys"]
    assert cached[0, t < 19.99].min() == pytest.approx(cached[0, 0])
    assert cached[0, t > 20.005].max() < 1e-9
    assert due[1, t < 9.99].max() == 0
    inside = (t > 11) & (t < 29)
    assert due[1, inside].mean() == pytest.approx(cached[1, 0] / 20, rel=0.01)
    assert cached[1, t > 30.005].max() < 1e-9


def test_the_lean_build_gives_the_same_numbers_in_a_run_shorter_than_a_ttl():
    # cache(flush=False, expire_fills=False) drops the flush input and the pipeline from the
    # run's fills to their expiry: in a run shorter than a TTL (40 s < 50 s) no fill of the
    # run expires, so the synchronized expiry at 20 s and the refills after it are the same
    params = {"Synchronized fill": 1.0, "TTL": 50.0, "Synchronized fill time": -30.0,
              "Requests": 50.0, "Fill time": 0.1}
    runs = [simulate(build(part.with_time(stop=40, dt=0.01, saveper=1)), params=params,
                     outputs=["Cached keys", "Fills so far"])
            for part in (cache(), cache(flush=False, expire_fills=False))]
    lean = cache(flush=False, expire_fills=False)
    assert "Flush time" not in lean.constants()
    cached = runs[0]["Cached keys"][0]
    assert cached[19] > 99 and cached[21] < 70        # the herd at 20 s, then the refills
    np.testing.assert_allclose(runs[1]["Cached keys"], runs[0]["Cached keys"], atol=1e-9)


def test_a_flush_empties_the_cache_and_it_refills(kernel):
    # flush at 100 s: hit ratio 0, then each key refills at its first read (lambda = 1/s):
    # 1 - exp(-lambda (t - 100)) of the keys are back
    r = _runs(kernel, [0], ["Hit ratio"], Requests=100, TTL=10,
              **{"Fill time": 0.0, "Flush time": 100})
    h = r["Hit ratio"][0]
    assert h[99] == pytest.approx(10 / 11, abs=1e-3)
    assert h[100] < 1e-9
    assert h[101:105] == pytest.approx(1 - np.exp(-np.arange(1, 5)), abs=0.01)


def test_failed_fills_do_not_populate_the_cache(kernel):
    # the stampede's sustaining half: a store that answers nothing in time leaves the
    # cache empty however many misses it gets
    r = _runs(kernel, [0], ["Hit ratio", "Misses"], Requests=1000, TTL=10,
              **{"Fill success share": 0.0, "Warm start": 0})
    assert r["Hit ratio"][0].max() == 0
    assert r["Misses"][0, -1] == pytest.approx(1000)


def test_early_refresh_keeps_entries_cached():
    # entries filled together at t = 0 (T = 50 s) are refreshed at moments spread over the
    # last 10 % of the TTL (45..50 s): one query per key (99.8 keys cached at the start,
    # lambda T = 500), 99.8 / 5 s ~ 20 queries/s, and never a miss
    part = cache(**{"Synchronized fill": 1, "TTL": 50, "Requests": 1000, "Early refresh": 1})
    r = simulate(part.with_time(stop=60, saveper=0.01), outputs=["Hit ratio", "Refresh queries"])
    h, t, q = r["Hit ratio"][0], r.times, r["Refresh queries"][0]
    assert h.min() >= h[0] - 1e-9
    assert np.sum(q) * 0.01 == pytest.approx(KEYS * 500 / 501, rel=0.01)
    assert q[t < 44.99].max() < 1e-9
    assert q[(t > 45.1) & (t < 49.9)] == pytest.approx(KEYS * 500 / 501 / 5, rel=0.01)


def test_a_cache_built_without_coalescing_and_refresh_gives_the_same_numbers():
    # cache(coalescing=False, early_refresh=False) leaves out those inputs and their paths
    # (the coalesced reads' latency a step back, the refresh queries): with both fixes off
    # the numbers are those of the full part, through a synchronized expiry at 20 s, its
    # refills from a store that answers 60 % in time, and the refills' own expiry at 70 s
    params = {"Synchronized fill": 1.0, "TTL": 50.0, "Synchronized fill time": -30.0,
              "Requests": 50.0, "Fill time": 0.1, "Fill success share": 0.6}
    lean = cache(coalescing=False, early_refresh=False)
    runs = [simulate(build(part.with_time(stop=90, dt=0.01, saveper=1)), params=params,
                     outputs=["Cached keys", "Misses"]) for part in (cache(), lean)]
    assert not {"Request coalescing", "Early refresh", "Refresh ahead"} & set(lean.constants())
    cached = runs[0]["Cached keys"][0]
    assert cached[19] > 99 and cached[21] < 70 and cached[69] > 90 and cached[70:75].min() < 70
    for name in ("Cached keys", "Misses"):
        np.testing.assert_allclose(runs[1][name], runs[0][name], rtol=1e-12, atol=1e-12)


def test_each_state_is_built_once():
    """What several equations read is one auxiliary, so its sampler or pipeline is built once
    (written inline, each equation that read it expanded one of its own: thundering_herd
    sampled the flush five times a step and kept each expiry pipeline twice)."""
    from collections import Counter
    ir = build(cache())
    kinds = Counter(type(v).__name__ for v in ir.variables.values())
    assert kinds["SampleHold"] == 2            # the fills and the expiries at the flush
    assert kinds["DelayLine"] == 3             # the expiry window's two edges, and the
    # store's latency a step back for coalescing
