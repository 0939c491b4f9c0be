"""Thundering herd: synchronized cache expiry sends every user to the database at once.

Reference: Part 3.2 ("The Thundering Herd"): 10,000 users, cache TTL 3600 s, hit ratio 99.9 %
(database load ~10 req/s); the cache populated at 10:00 expires for everyone at 11:00, the
database is overwhelmed, queries time out, the cache cannot be repopulated, and the herd never
leaves. Fixes from Part 3.2, Part 4.1 (principle 4) and the common-mistakes table: TTL jitter
(+-10-20 %), request coalescing (single flight: one refill per key), early refresh (refresh
an entry before it expires while still serving it).

Composed of three parts (library/parts): `cache.cache` (the hot keys: TTL expiry as the fill
history replayed a TTL later, a pipeline, or a uniform spread with jitter; coalescing; early
refresh; a fill that fails or times out fills nothing), `pool.connection_pool` (HikariCP's
10 connections, M/M/c waits, a FIFO backlog bounded by the request threads, no goodput once
the backlog outlasts the client) and `database.database` (query time under concurrency,
Universal Scalability Law). Sustaining loop: empty cache -> herd -> the pool's backlog
outlasts the 1 s client timeout -> no fill succeeds -> empty cache. The database itself never
sees more than the pool's 10 queries.

Time step 0.02 s, the pool's and the database's own: it resolves the fastest time in the model,
the 50 ms query, in 2.5 steps (the pool's flows are written per step: what a step can acquire,
age out or reject). At dt 0.01 every scenario's key outputs take the same behaviour labels
and end within 1 % of dt 0.02 (trigger: DB load 9,687 vs 9,623 of 10,000 queries/s, where
RK4 at dt 0.01 gives 9,760: the step changes less than the method does); half the steps make
a run (and a workbench slider move) half as long.

>>> from sdmodels import run
>>> df = run(build(), scenario="trigger", outputs=["DB load"])
>>> bool(df["DB load"].max() > 5000)
True
"""
from __future__ import annotations

from sdmodels import Model, delay_fixed, minimum

from library.parts._wiring import conversion, expose
from library.parts.cache import cache
from library.parts.database import database
from library.parts.pool import connection_pool

REF = "reference Part 3.2"

# name: (default, units, source)
PARAMETERS: dict[str, tuple[float, str, str]] = {
    "Users": (10000.0, "users", REF),
    "Requests per user": (1.0, "req/s/user", "assumed: 10,000 req/s, so 0.1 % misses are the "
                          "reference's ~10 req/s of database load"),
    "Hot keys": (100.0, "keys", "assumed: the entries every user's pages read"),
    "Base hit ratio": (0.999, "1", REF + ": hit ratio 99.9 % (the 0.1 % are reads the cache "
                       "never holds)"),
    "TTL": (3600.0, "s", REF + ": TTL = 3600 s"),
    "TTL jitter": (0.0, "1", "reference fixes: +-10-20 % of the TTL (0 = no jitter)"),
    "Synchronized fill": (0.0, "1", "trigger: 1 = the whole cache was populated at 10:00; "
                          "0 = entries of all ages (steady state)"),
    "Query time": (0.05, "s", "reference: the query 'normally took 50ms'"),
    "Pool size": (10.0, "connections", "HikariCP maximumPoolSize default 10: with the USL "
                  "slowdown ~163 queries/s, 16x the normal load"),
    "Max waiting requests": (2000.0, "queries", "10 pods x Tomcat maxThreads default 200"),
    "Query timeout": (1.0, "s", "assumed client timeout"),
    "Request coalescing": (0.0, "0/1", REF + " fix: single flight, one query per missing key"),
    "Early refresh": (0.0, "0/1", REF + " fix: cache warming, refresh before expiry"),
}

KEY_OUTPUTS = ["DB load", "Cached keys", "DB latency", "Hit ratio", "DB queries in flight",
               "Goodput"]


def build(**overrides) -> Model:
    """The thundering-herd model (t = 0 is 10:00); overrides set parameters by display name."""
    m = Model("thundering_herd", start=0, stop=5400, dt=0.02, saveper=1, time_units="second",
              doc="Synchronized cache expiry, a database that cannot refill, and the fixes")
    c = m.parameters(PARAMETERS, overrides)
    reads = m.aux("Requests", c["Users"] * c["Requests per user"], units="req/s")
    kv = m.module("cache", cache(), display="Cache")
    pool = m.module("pool", connection_pool(), display="Pool")
    db = m.module("db", database(), display="DB")
    kv.connect("Requests", reads * c["Base hit ratio"]).connect("Keys", c["Hot keys"])
    for name in ("TTL", "TTL jitter", "Synchronized fill", "Request coalescing", "Early refresh"):
        kv.connect(name, c[name])
    per_read = conversion(m, "Queries per read", "queries/req",
                          "a read that is never cached sends one query")
    queries = m.aux("DB queries", kv.out["Misses"] + reads * (1 - c["Base hit ratio"])
                    * per_read,
                    units="queries/s", doc="fills, refreshes and the reads never cached")
    pool.connect("Arrivals", queries).connect("Hold time", db.out["Hold time"])
    pool.connect("Failed share", db.out["Killed share"])
    pool.connect("Pool size", c["Pool size"]).connect("Client timeout", c["Query timeout"])
    pool.connect("Max waiting", c["Max waiting requests"])
    db.connect("Queries in flight", pool.out["Connections in use"])
    db.connect("Base query time", c["Query time"])
    kv.connect("Fill time", minimum(pool.out["Request latency"], c["Query timeout"]))
    kv.connect("Fill success share", 1 - pool.out["Failure share"])

    expose(m, kv, ["Cached keys", "Missing keys"])
    m.aux("DB latency", pool.out["Request latency"], units="s", doc="connection wait + query")
    m.aux("DB queries in flight", pool.out["Connections in use"], units="connections")
    hits = m.aux("Hit ratio", kv.out["Hit ratio"] * c["Base hit ratio"], units="1")
    m.aux("Goodput", reads * (1 - (1 - hits) * pool.out["Failure share"]), units="req/s",
          doc="reads answered: hits, and misses whose query came back in time")
    sent = m.stock("Queries so far", 0, units="queries")
    m.flow("Queries counted", queries, into=sent, units="queries/s")
    window = conversion(m, "Dashboard window", "s", "a dashboard counts queries per 1 s")
    m.aux("DB load", (sent - delay_fixed(sent, window, 0)) / window, units="queries/s",
          doc="queries sent in the last second, as a dashboard shows it")

    fill = ["Cache / Fills so far", "Cache / Cached keys", "Cache / Missing keys"]
    m.name_loop("Herd sustains itself (R)", fill + [
        "Cache / Misses", "DB queries", "Pool / Query arrivals", "Pool / Waiting for connection",
        "Pool / Late share", "Pool / Failure share", "Cache / Fill success share", "Cache / Fills"])
    m.name_loop("Refill repairs the cache (B)", fill + ["Cache / Fills"])
    # the herd's echo (R, two inversions): keys filled together expire together a TTL
    # later, go missing together and are filled together again
    m.name_loop("Expiry follows refills (R)", fill + [
        "Cache / Pipeline expiry", "Cache / Expired so far", "Cache / Fills"])

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
