"""A look-aside cache (Redis, memcached) in front of a backing store: TTL, jitter, coalescing.

"Keys" entries, each read by Poisson requests at lambda = "Requests" / "Keys" per second.
A read of a cached entry is a hit; a read of a missing one is a miss that asks the backing
store ("Misses", wired to a pool or a database) and fills the entry when the answer comes
back in time ("Fill success share", "Fill time", wired from the store). A filled entry
expires "TTL" later, so with fills taking no time an entry's cycle is a TTL cached plus a
wait of 1 / lambda for the next read: the hit ratio is lambda T / (1 + lambda T) (with a
fill time L: lambda T / (1 + lambda T + lambda L)), which the part reaches in steady state
(tests/test_parts_cache.py checks a table of lambda, T).

- **Expiry is the fill history replayed a TTL later**: without jitter a pipeline
  (`delay_fixed`), so entries filled together expire together (the thundering herd); with
  "TTL jitter" j each entry lives T + uniform(-jT, +jT), the reference's
  `TTL = 3600 + random(-300, 300)`: the expiry rate is (R(t - T + jT) - R(t - T - jT)) / 2jT
  with R the cumulative fills, exactly the uniform spread (an Erlang delay of the same
  variance would need order 3 / j^2, 300 stages at 10 %, and still expire some entries
  early).
- **Coalescing** ("single flight"): one fill in flight per key; the other reads of that key
  wait for it instead of querying the store. A missing key is filled after a wait of
  1 / lambda for its first read plus L per attempt, each attempt succeeding with share s:
  s lambda / (1 + lambda L) fills per missing key per second. Without coalescing every read
  of a missing key queries the store and the first success fills it:
  s lambda / (1 + s lambda L).
- **Early refresh** (cache warming, refresh-ahead): an entry is refreshed at a moment
  spread evenly over the last "Refresh ahead" share of its TTL (probabilistic early
  expiration, Vattani, Chierichetti and Lowenstein, VLDB 2015), so entries filled together
  do not refresh together; it is served meanwhile, and on success it starts a new TTL, else
  it expires then (up to that share early, a simplification).
- **Empty-cache stampede**: a fill whose query fails or times out fills nothing, so a
  store that is too slow keeps the cache empty, which keeps the store too slow.
- "Flush time": every entry expires at that moment (a restart or FLUSHALL), for a scenario
  that triggers a synchronized expiry; "Synchronized fill": the share of the entries at the
  start that were all filled together at "Synchronized fill time" (0, the start, or
  earlier: a cache populated at 10:00 in a run that starts at 10:50 expires at 11:00); the
  rest have ages spread evenly over a TTL.

With coalescing, the queries sent depend on the store's latency, which depends on them: the
part reads that latency one step back (as the HPA part reads ready pods).
"""
from __future__ import annotations

import math

from sdmodels import Model, delay_fixed, if_then_else, maximum, minimum, sample_hold

from library.parts._wiring import conversion


REF = "reference Part 3.2"

#: name -> (default, units, source)
CACHE = {
    "Requests": (10000.0, "req/s", "wired: reads of the cached keys (reference Part 3.2: "
                 "10,000 users)"),
    "Keys": (100.0, "keys", "assumption: the hot entries the requests read evenly"),
    "TTL": (3600.0, "s", REF + ": TTL = 3600 s"),
    "TTL jitter": (0.0, "1", REF + " fix: TTL = 3600 + random(-300, 300), +-share of TTL; "
                   "0 = none"),
    "Request coalescing": (0.0, "0/1", REF + " fix: single writer / request coalescing"),
    "Early refresh": (0.0, "0/1", REF + " fix: cache warming, refresh before expiration"),
    "Refresh ahead": (0.1, "1", "share of the TTL before expiry within which an entry is "
                      "refreshed, at a uniformly spread moment (probabilistic early expiration, "
                      "Vattani et al., VLDB 2015); a failed refresh expires the entry"),
    "Fill time": (0.01, "s", "wired: the backing store's latency for a fill"),
    "Fill success share": (1.0, "1", "wired: share of fills the store answers in time"),
    "Synchronized fill": (0.0, "1", "share of the entries at t = 0 filled together at the "
                          "'Synchronized fill time' (1 = " + REF + "'s cache populated at "
                          "10:00)"),
    "Synchronized fill time": (0.0, "s", "when the synchronized entries were filled, at or "
                               "before the start (-3000: an hour's TTL ends 600 s into the "
                               "run); 0 = at the start"),
    "Warm start": (1.0, "0/1", "1 = starts at the steady-state hit ratio, 0 = empty"),
    "Flush time": (1e9, "s", "when every entry expires at once (FLUSHALL, a restart); "
                   "1e9 = never"),
}


def cache(*, flush: bool = True, expire_fills: bool = True, coalescing: bool = True,
          early_refresh: bool = True, **overrides) -> Model:
    """A TTL cache: Poisson reads per key, jittered expiry, coalescing, early refresh.

    `flush=False` leaves out the "Flush time" input and its paths; `expire_fills=False` is
    for a run shorter than the entries' shortest life (TTL less its jitter and refresh-ahead
    share): the entries filled during the run do not expire within it, so the part has no
    pipeline from its fills to their expiry; `coalescing=False` and `early_refresh=False`
    build a cache without those fixes (no "Request coalescing", "Early refresh" and
    "Refresh ahead" inputs, and no "Refresh queries"). Each gives the same numbers where it
    applies (the inputs left out at 0) and fewer paths (and loops) through the part, as
    `hpa_controller(averaged=False)` does.
    """
    m = Model("cache", stop=60, dt=0.01, time_units="second",
              doc="look-aside cache with TTL expiry in front of a backing store")
    left_out = {"Flush time": not flush, "Request coalescing": not coalescing,
                "Early refresh": not early_refresh, "Refresh ahead": not early_refresh}
    c = m.inputs({k: v for k, v in CACHE.items() if not left_out.get(k)}, overrides)
    dt, t, n, ttl = m.dt_expr, m.time, c["Keys"], c["TTL"]
    per_read = conversion(m, "Keys per read", "keys/req", "a read reads one key")
    lam = m.aux("Reads per key", c["Requests"] * per_read / n, units="1/s")
    per_fill = conversion(m, "Queries per fill", "queries/key", "a fill (or an early "
                          "refresh) is one query for one key")
    ok, fill_time = c["Fill success share"], c["Fill time"]
    # a stock without flows keeps its initial value (Vensim's INITIAL): the entries cached at
    # the start follow the reads at the start, not the reads of later (wired) moments
    start = m.stock("Entries at the start", c["Warm start"] * n * lam * ttl / (1 + lam * ttl),
                    units="keys", doc="steady-state entries for the reads at t = 0 (warm), "
                    "or none (cold)")
    flushed = m.aux("Flushed", t >= c["Flush time"], units="0/1") if flush else 0.0
    fills = m.stock("Fills so far", c["Synchronized fill"] * start, units="keys",
                    doc="cumulative fills: the pipeline of future expiries")
    # expiry: cohorts of the fill history replayed over [lo, hi] after their fill: the TTL
    # +-jitter, and with early refresh from "Refresh ahead" x TTL before that
    jitter = maximum(c["TTL jitter"] * ttl, dt)
    ahead = c["Early refresh"] * c["Refresh ahead"] * ttl if early_refresh else None
    lo = ttl - jitter - ahead if early_refresh else ttl - jitter
    mid = m.aux("Mean entry life", ttl - ahead / 2 if early_refresh else ttl, units="s")
    half = m.aux("Expiry half-width", mid - lo, units="s")
    # entries of the start with ages spread as in steady state: one lives mid + U(-h, h),
    # so its remaining life has density P(life > x) / mid (renewal theory)
    spread = (1 - c["Synchronized fill"]) * start / mid * (1 - flushed)
    left = maximum(0, mid + half - t)
    aged = m.aux("Entries of spread ages", spread * if_then_else(
        t <= lo, mid - t, left * left / (4 * half)), units="keys")
    steps = [math.floor((mid + s * half) / dt + 0.5) for s in (-1, 1)]     # as the pipelines
    width = m.aux("Expiry window", (steps[1] - steps[0]) * dt, units="s",
                  doc="the spread of expiries in whole steps (two steps without jitter)")
    # one auxiliary, read by both expiry pipelines and the cached count: written inline, each
    # reader expanded a sampler of its own (five identical samplers a step)
    at_flush = m.aux("Fills at the flush", if_then_else(flushed, sample_hold(
        fills, 1e12, c["Flush time"]), 0), units="keys", doc="the fills so far when the "
        "cache was flushed: every one of them expired then") if flush else 0.0
    # the synchronized entries (in "Fills so far" from the start) leave the pipelines'
    # ends "Synchronized fill time" earlier than the fills of the run: filled before t = 0
    cohort, age = c["Synchronized fill"] * start, maximum(0, -c["Synchronized fill time"])
    # auxiliaries, each read by the expiry flow and by "Entries due" (written inline, each
    # read was a pipeline of its own)
    lead, lag = (m.aux(f"Expired by the {edge} edge", maximum(maximum(
        delay_fixed(fills, mid + s * half, 0) if expire_fills else 0.0, at_flush),
        cohort * (t >= k * dt - age - dt / 2)), units="keys", doc="fills expired by this "
        "edge of the expiry window") for s, k, edge in zip((-1, 1), steps, ("early", "late")))
    expired = m.stock("Expired so far", 0, units="keys")
    m.flow("Pipeline expiry", (lead - lag) / width, into=expired, units="keys/s")
    gone = at_flush + expired - (if_then_else(flushed, sample_hold(
        expired, 1e12, c["Flush time"]), 0) if flush else 0.0)
    cached = m.aux("Cached keys", aged + fills - gone, units="keys")
    due = m.aux("Entries due", (lead - lag) / width + spread * minimum(1, left / (2 * half)),
                units="keys/s", doc="entries reaching the end of their TTL (or refreshed ahead)")
    missing = m.aux("Missing keys", maximum(0, n - cached), units="keys")
    single = c["Request coalescing"] > 0.5 if coalescing else None
    alone = ok * lam / (1 + ok * lam * fill_time)     # every read of a missing key queries
    per_key = if_then_else(single, ok * lam / (1 + lam * fill_time), alone) if coalescing \
        else alone
    asked = missing * lam
    if coalescing:
        # the queries coalescing sends depend on the store's latency, which depends on
        # them: they read it a step back (at the first step: no latency)
        asked = if_then_else(single, missing * lam / (1 + lam * delay_fixed(fill_time, dt, 0)),
                             asked)
    fill_rate = missing * per_key
    if early_refresh:
        refreshes = m.aux("Refresh queries", c["Early refresh"] * due * per_fill,
                          units="queries/s")
        fill_rate, asked = fill_rate + ok * refreshes / per_fill, asked * per_fill + refreshes
    else:
        asked = asked * per_fill
    m.flow("Fills", fill_rate, into=fills, units="keys/s",
           doc="misses filled by an answer in time, and entries refreshed early")
    m.output(m.aux("Misses", asked, units="queries/s",
                   doc="queries to the backing store: fills and refreshes"))
    m.output(m.aux("Hit ratio", minimum(1, cached / n), units="1",
                   doc="share of reads served from the cache"))
    for name in ("Cached keys", "Missing keys", "Entries due", "Reads per key",
                 *(("Refresh queries",) if early_refresh else ())):
        m.output(name)
    return m


PARTS = [cache]
