"""Connection-pool death spiral: slow queries hold connections longer and exhaust the pool.

From the reference's Part 3.3 ("The Connection Pool Death Spiral": pool of 100, 500 queries/s,
10 ms per query; 50 ms -> 25 busy; 500 ms -> pool full, requests wait, time out and retry),
its fixes (query timeouts, connection timeouts, pool sized to downstream capacity,
bulkheads) and the hands-on exercise ("Connection Pool Exhaustion").

Composed of two parts (library/parts): `pool.connection_pool` (Little's law for the
connections in use, M/M/c waits below saturation, a FIFO backlog bounded by the acquire
timeout and the request threads) and `database.database` (query time under concurrency by
Gunther's Universal Scalability Law, a query timeout). Around them, clients that give up
after "Request timeout" and retry at once, up to "Max retries" (attempt generations).

The pool does not know the client left: a request keeps waiting and, once it gets a
connection, runs its query for nobody. That wasted work and the retries are the spiral.
"Connection wait timeout" (HikariCP connectionTimeout, default 30 s) drops requests that
waited too long, "Query timeout" (PostgreSQL statement_timeout, default 0 = off) kills long
queries; both fail fast (and are retried).

Fixes, all parameters: a query timeout, a wait timeout below the request timeout (fail before
the client gives up, so no queued work is wasted), a pool sized to the database's best
concurrency (the USL peak, sqrt((1 - sigma) / kappa) = 44 connections), a bulkhead.

Example::

    from library import connection_pool
    from sdmodels import run
    run(connection_pool.build(), scenario="trigger")["Connections in use"].max()
"""
from __future__ import annotations

from sdmodels import Dim, Model, delay_fixed, pulse, sum_over
from sdmodels.expr import Ref

from library.parts._wiring import conversion, expose
from library.parts.database import database
from library.parts.pool import connection_pool

GENERATIONS = 6   # first attempt + up to 5 retries

#: name -> (default, units, source)
PARAMETERS = {
    "Query rate": (500.0, "queries/s", "Part 3.3: 500 queries per second"),
    "Pool size": (100.0, "connections", "Part 3.3: pool of 100 connections (10 pods x "
                  "HikariCP maximumPoolSize default 10)"),
    "DB max connections": (100.0, "connections", "PostgreSQL max_connections default 100"),
    "Base query time": (0.010, "s", "Part 3.3: normal query time 10 ms"),
    "Contention coefficient": (0.02, "1", "USL sigma (Gunther 2007): half the PostgreSQL 9.1 "
                               "pgbench fit; a query takes ~8x longer with 100 running"),
    "Coherency coefficient": (0.0005, "1", "USL kappa (Gunther 2007): half the PostgreSQL "
                              "9.1 pgbench fit"),
    "DB response time": (1.0, "s", "assumption: the database's slowdown follows its load "
                         "within about a second"),
    "Request timeout": (1.0, "s", "Part 3.3: with 500 ms wait + 500 ms query 'new requests "
                        "timing out' at about 1 s"),
    "Max retries": (3.0, "retries", "hands-on exercise: 3 retries, no backoff"),
    "Connection wait timeout": (30.0, "s", "HikariCP connectionTimeout default (30 s)"),
    "Max waiting requests": (2000.0, "queries", "10 pods x Tomcat maxThreads default 200: a "
                             "request waiting for a connection blocks a request thread"),
    "Query timeout": (0.0, "s", "PostgreSQL statement_timeout default 0 (off)"),
    "Bulkhead share": (1.0, "1", "share of the pool this operation may use (1 = no bulkhead)"),
    "Slow query factor": (1.0, "1", "trigger: query time multiplier during the trigger "
                          "(Part 3.3: 10 ms -> 50 ms -> 500 ms)"),
    "Trigger start": (60.0, "s", "trigger timing"),
    "Trigger duration": (20.0, "s", "trigger timing: e.g. a lock held by a migration"),
}

TRIGGER = {"Slow query factor": 5.0}
FIXES = {"Query timeout": 0.25, "Connection wait timeout": 0.5, "Pool size": 44.0,
         "Bulkhead share": 1.0}

KEY_OUTPUTS = ["Connections in use", "Waiting for connection", "Query time", "Wait time",
               "Query arrivals", "Goodput"]


def build(**overrides) -> Model:
    """The connection-pool model; keyword overrides replace parameters' defaults by name."""
    m = Model("connection_pool", start=0, stop=600, dt=0.02, saveper=0.5, time_units="second",
              doc="A connection pool in front of a database that slows under concurrency")
    c = m.parameters(PARAMETERS, overrides)
    db = m.module("database", database(), display="Database")
    pool = m.module("pool", connection_pool(), display="Pool")
    db.connect("Queries in flight", pool.out["Connections in use"])
    db.connect("Base query time", c["Base query time"])
    db.connect("Contention", c["Contention coefficient"])
    db.connect("Coherency", c["Coherency coefficient"])
    db.connect("Response time", c["DB response time"])
    db.connect("Query timeout", c["Query timeout"])
    db.connect("Slowdown factor", 1 + (c["Slow query factor"] - 1)
               * pulse(c["Trigger start"], c["Trigger duration"]))
    pool.connect("Hold time", db.out["Hold time"]).connect("Failed share", db.out["Killed share"])
    for port, name in [("Pool size", "Pool size"), ("Max connections", "DB max connections"),
                       ("Bulkhead share", "Bulkhead share"), ("Client timeout", "Request timeout"),
                       ("Acquire timeout", "Connection wait timeout"),
                       ("Max waiting", "Max waiting requests")]:
        pool.connect(port, c[name])

    # clients: a failed attempt is retried when its timeout expires, up to Max retries
    gen = Dim("attempt", GENERATIONS)
    number = m.constant("Attempt number", {f"attempt{k}": k for k in range(1, GENERATIONS + 1)},
                        dims=[gen], units="1", doc="1 = first attempt, 2 = first retry, ...")
    failed = pool.out["Failure share"]
    issued = Ref("retries_issued")      # defined below from the attempts it delays
    arriving = m.aux("Retries arriving", delay_fixed(issued, c["Request timeout"], 0),
                     dims=[gen], units="queries/s", doc="a retry follows its timeout at once")
    sent = m.aux("Attempts sent", {
        f"attempt{k}": c["Query rate"] if k == 1 else arriving[f"attempt{k - 1}"]
        for k in range(1, GENERATIONS + 1)}, dims=[gen], units="queries/s")
    retry = conversion(m, "Retry unit", "retries", "one retry: a failed attempt of "
                       "generation k is retried as retry number k")
    m.aux("Retries issued", sent * failed * (number * retry <= c["Max retries"]), dims=[gen],
          units="queries/s")
    pool.connect("Arrivals", m.aux("Query arrivals", sum_over(sent, gen), units="queries/s",
                                   doc="first attempts + retries"))
    expose(m, pool, ["Connections in use", "Waiting for connection", "Wait time",
                     "Request latency", "Goodput", "Connections acquired", "Failure share"])
    expose(m, db, ["Query time"])
    m.aux("Fail-fast fraction", 1 - (1 - pool.out["Fail-fast share"])
          * (1 - db.out["Killed share"]), units="1", doc="wait timeouts, rejections, kills")
    m.aux("Failure fraction", pool.out["Failure share"], units="1")

    m.name_loop("Death spiral (slow queries hold connections)", [
        "Pool / Connections in use", "Database / DB load", "Database / Query time",
        "Database / Hold time", "Pool / Pool throughput limit", "Pool / Backlog wait",
        "Pool / Late share", "Retries issued", "Pool / Query arrivals",
        "Pool / Waiting for connection", "Pool / Connections acquired"])
    m.name_loop("Timeouts trigger retries", [
        "Pool / Waiting for connection", "Pool / Backlog wait", "Pool / Late share",
        "Pool / Failure share", "Retries issued", "Retries arriving", "Attempts sent",
        "Pool / Query arrivals"])
    m.name_loop("Pool drains", ["Pool / Waiting for connection", "Pool / Connections acquired"])
    m.add_scenario("baseline", {}, doc="500 q/s x 10 ms: about 5 connections busy")
    m.add_scenario("trigger", dict(TRIGGER), doc="queries take 500 ms for 20 s; the pool "
                   "stays exhausted after they are fast again")
    m.add_scenario("fixed", {**TRIGGER, **FIXES}, doc="same trigger with a query timeout, a "
                   "wait timeout below the request timeout, and the pool sized to the database")
    m.add_scenario("query timeout only", {**TRIGGER, "Query timeout": 0.25})
    m.add_scenario("wait timeout only", {**TRIGGER, "Connection wait timeout": 0.5})
    m.add_scenario("pool sized to database", {**TRIGGER, "Pool size": 44.0})
    m.add_scenario("bulkhead", {**TRIGGER, "Bulkhead share": 0.44},
                   doc="this operation may use 44 of the 100 connections")
    return m
