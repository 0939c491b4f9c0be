"""Thundering herd: synchronized cache expiry sends every user to the database at once.

Reference: Part 3.2 ("The Thundering Herd"): 10,000 users, cache TTL 3600 s, hit ratio 99.9 %
(database load ~10 req/s); the cache populated at 10:00 expires for everyone at 11:00, the
database is overwhelmed, queries time out, the cache cannot be repopulated, and the herd never
leaves. Fixes from Part 3.2, Part 4.1 (principle 4) and the common-mistakes table: TTL jitter
(+-10-20 %), request coalescing (single flight: one refill per key), early refresh (refresh
an entry before it expires while still serving it).

Mechanism. Cache entries (hot keys) are refilled by database queries and expire a TTL later:
the expiry is the refill history replayed by a pipeline (`delay_fixed`), so entries filled
together expire together. TTL jitter turns the pipeline into a uniform distributed delay over
TTL x (1 +- jitter): expiry = (R(t - TTL + a) - R(t - TTL - a)) / 2a with R the cumulative
refills, exactly what `ttl = 3600 + random(-a, a)` does. Requests for missing keys go to the
database, which shares its capacity among the queries in flight (latency = in flight /
capacity); a query that takes longer than the client's "Query timeout" fails and refills
nothing. Sustaining loop: empty cache -> herd -> latency above the timeout -> no refills ->
empty cache.

>>> from sdmodels import run
>>> df = run(build(), scenario="trigger", outputs=["DB load"])
>>> df["DB load"].max() > 5000
True
"""
from __future__ import annotations


from sdmodels import Model, delay_fixed, if_then_else, maximum, minimum

REF = "reference Part 3.2"

# name: (default, units, source)
PARAMETERS: dict[str, tuple[float, str, str]] = {
    "Users": (10000.0, "users", REF),
    "Requests per user": (1.0, "req/s/user", "assumed: 10,000 req/s, so 0.1 % misses are the "
                          "reference's ~10 req/s of database load"),
    "Hot keys": (100.0, "keys", "assumed: the entries every user's pages read"),
    "Base hit ratio": (0.999, "1", REF + ": hit ratio 99.9 %"),
    "TTL": (3600.0, "s", REF + ": TTL = 3600 s"),
    "TTL jitter": (0.0, "fraction of TTL", "reference fixes: +-10-20 % (0 = no jitter)"),
    "Synchronized fill": (0.0, "fraction", "trigger: 1 = the whole cache was populated at "
                          "10:00; 0 = entries of all ages (steady state)"),
    "DB capacity": (200.0, "queries/s", "assumed: 20x the normal load, 1/50 of the herd"),
    "Query timeout": (1.0, "s", "assumed client timeout"),
    "Request coalescing": (0.0, "0/1", REF + " fix: single flight, one query per missing key"),
    "Early refresh": (0.0, "0/1", REF + " fix: cache warming, refresh before expiry"),
}



def build(**overrides) -> Model:
    """The thundering-herd model (t = 0 is 10:00); overrides set parameters by display name."""
    m = Model("thundering_herd", start=0, stop=5400, dt=0.01, saveper=1, time_units="second",
              doc="Synchronized cache expiry, a database that cannot refill, and the fixes")
    c = m.parameters(PARAMETERS, overrides)
    dt = m.dt_expr
    keys, ttl = c["Hot keys"], c["TTL"]

    cached = m.stock("Cached keys", keys, units="keys", non_negative=True)
    refills_so_far = m.stock("Refills so far", c["Synchronized fill"] * keys, units="keys",
                             doc="cumulative refills: the pipeline of future expiries")
    in_flight = m.stock("DB queries in flight", 0, units="queries", non_negative=True)

    # expiry: the refill history replayed a TTL later, spread uniformly over +-jitter
    half = m.aux("Jitter half-width", maximum(c["TTL jitter"] * ttl, dt / 2), units="s")
    early = delay_fixed(refills_so_far, ttl - half, 0)
    late = delay_fixed(refills_so_far, ttl + half, 0)
    aged = (1 - c["Synchronized fill"]) * keys / ttl * (m.time < ttl)
    due = m.aux("Entries due to expire", minimum((early - late) / (2 * half) + aged,
                                                 cached / dt), units="keys/s",
                doc="entries of uniform age (steady state) expire evenly over the first TTL")

    latency = m.aux("DB latency", (in_flight + 1) / c["DB capacity"], units="s",
                    doc="processor sharing: every query in flight slows the others")
    healthy = m.aux("DB answers in time", latency <= c["Query timeout"], units="0/1")
    refreshed = m.aux("Entries refreshed early", c["Early refresh"] * due * healthy,
                      units="keys/s")
    m.flow("Expiry", due - refreshed, out_of=cached, units="keys/s")

    demand = c["Users"] * c["Requests per user"]
    missing = m.aux("Missing keys", maximum(keys - cached, 0), units="keys")
    miss_requests = m.aux("Requests for missing keys", demand * missing / keys, units="req/s")
    background = demand * (1 - c["Base hit ratio"]) * cached / keys
    coalesced = minimum(miss_requests, missing / latency)
    refill_queries = m.aux("Refill queries", if_then_else(
        c["Request coalescing"] > 0.5, coalesced, miss_requests), units="queries/s")
    queries = m.aux("DB queries", refill_queries + background + c["Early refresh"] * due,
                    units="queries/s")
    m.flow("Queries sent", queries, into=in_flight, units="queries/s")
    done = m.flow("Queries completed", minimum(in_flight / dt, c["DB capacity"]),
                  out_of=in_flight, units="queries/s")
    refill_share = refill_queries / maximum(queries, 1e-9)
    refills = m.flow("Refills", minimum(done * refill_share * healthy, missing / dt), into=cached,
                     units="keys/s", doc="a refill counts only if its query beat the timeout")
    m.flow("Refills recorded", refills + refreshed, into=refills_so_far, units="keys/s")

    sent = m.stock("Queries so far", 0, units="queries")
    m.flow("Queries counted", queries, into=sent, units="queries/s")
    m.aux("DB load", sent - delay_fixed(sent, 1, 0), units="queries/s",
          doc="queries sent in the last second, as a dashboard shows it")
    m.aux("Hit ratio", 1 - (miss_requests + background) / demand, units="1")
    m.aux("Goodput", demand - miss_requests + refills, units="req/s")

    m.name_loop("Herd sustains itself (R)", ["Cached keys", "Missing keys",
                                             "Requests for missing keys", "Refill queries",
                                             "DB queries", "DB queries in flight", "DB latency",
                                             "DB answers in time", "Refills"])
    # through the database's queue (B): missing keys -> queries -> completed -> refills
    m.name_loop("Refill repairs the cache (B)", ["Cached keys", "Missing keys",
                                                 "Requests for missing keys", "Refill queries",
                                                 "DB queries", "Queries sent",
                                                 "DB queries in flight", "Queries completed",
                                                 "Refills"])
    # the herd's echo (R, two inversions): keys refilled together expire together a TTL
    # later, go missing together and are refilled together again
    m.name_loop("Expiry follows refills (R)", ["Refills so far", "Entries due to expire",
                                               "Expiry", "Cached keys", "Missing keys",
                                               "Requests for missing keys", "Refill queries",
                                               "DB queries", "Queries sent",
                                               "DB queries in flight", "Queries completed",
                                               "Refills", "Refills recorded"])

    sync = {"Synchronized fill": 1.0}
    m.add_scenario("baseline", {}, doc="entries of all ages: ~10 req/s on the database")
    m.add_scenario("trigger", sync, doc="cache populated at 10:00: the herd at 11:00")
    m.add_scenario("fix_jitter", {**sync, "TTL jitter": 0.1}, doc="TTL 3600 s +- 10 %")
    m.add_scenario("fix_coalescing", {**sync, "Request coalescing": 1.0},
                   doc="single flight: one query per missing key")
    m.add_scenario("fix_early_refresh", {**sync, "Early refresh": 1.0},
                   doc="refresh entries before they expire")
    m.add_scenario("fixed", {**sync, "TTL jitter": 0.1, "Request coalescing": 1.0,
                             "Early refresh": 1.0}, doc="all three fixes")
    return m
