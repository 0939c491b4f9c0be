"""Connection-pool death spiral: slow queries hold connections longer and exhaust the pool.

From the reference's Part 3.3 ("The Connection Pool Death Spiral": pool of 100, 500 queries/s,
10 ms per query; 50 ms -> 25 busy; 500 ms -> pool full, requests wait, time out and retry),
its fixes (query timeouts, connection timeouts, pool sized to downstream capacity,
bulkheads) and the hands-on exercise ("Connection Pool Exhaustion").

Structure (a fluid model in seconds):

- requests wait in "Waiting for connection"; the pool hands out connections up to "Pool size"
  (times "Bulkhead share", the part of the pool this operation may use). Connections turn
  over every few milliseconds, far faster than anything else here, so Little's law holds at
  each instant: "Connections in use" = acquisitions/s x hold time;
- the database gets slower with concurrent queries, following Gunther's Universal
  Scalability Law: time = base x (1 + sigma (N - 1) + kappa N (N - 1)) for N busy
  connections (smoothed over "DB response time" as the database's queues build);
- a client gives up after "Request timeout" (latencies spread exponentially, so the share
  that times out is exp(-timeout / latency)) and retries at once, up to "Max retries";
- the pool does not know the client left: the request keeps waiting and, once it gets a
  connection, runs its query for nobody. That wasted work and the retries are the spiral;
- "Connection wait timeout" (HikariCP connectionTimeout, default 30 s) drops requests that
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

from sdmodels import (Dim, Model, canonical, delay_fixed, exp, if_then_else, maximum, minimum,
                      pulse, smooth, sum_over)
from sdmodels.expr import Ref

GENERATIONS = 6   # first attempt + up to 5 retries

#: name -> (default, units, source)
PARAMETERS = {
    "Query rate": (500.0, "queries/s", "Part 3.3: 500 queries per second"),
    "Pool size": (100.0, "connections", "Part 3.3: pool of 100 connections"),
    "Base query time": (0.010, "s", "Part 3.3: normal query time 10 ms"),
    "Contention coefficient": (0.02, "1", "assumption (USL sigma, Gunther 2007): with kappa, "
                               "a query takes ~8x longer with 100 queries running"),
    "Coherency coefficient": (0.0005, "1", "assumption (USL kappa, Gunther 2007)"),
    "DB response time": (1.0, "s", "assumption: the database's slowdown follows its load "
                         "within about a second"),
    "Request timeout": (1.0, "s", "Part 3.3: with 500 ms wait + 500 ms query 'new requests "
                        "timing out' at about 1 s"),
    "Max retries": (3.0, "retries", "hands-on exercise: 3 retries, no backoff"),
    "Connection wait timeout": (30.0, "s", "HikariCP connectionTimeout default (30 s)"),
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
    gen = Dim("attempt", GENERATIONS)
    number = m.constant("Attempt number", {f"attempt{k}": k for k in range(1, GENERATIONS + 1)},
                        dims=[gen], units="1", doc="1 = first attempt, 2 = first retry, ...")

    # -- database ----------------------------------------------------------------------
    trig = m.aux("Trigger active", pulse(c["Trigger start"], c["Trigger duration"]), units="0/1")
    in_use = Ref(canonical("Connections in use"))
    load = m.aux("DB load", smooth(in_use, c["DB response time"], 0), units="queries",
                 doc="concurrent queries as the database feels them")
    usl = m.aux("DB slowdown", 1 + c["Contention coefficient"] * maximum(0, load - 1)
                + c["Coherency coefficient"] * load * maximum(0, load - 1), units="1",
                doc="Universal Scalability Law: time per query relative to one alone")
    qtime = m.aux("Query time", c["Base query time"] * usl * (1 + (c["Slow query factor"] - 1)
                                                              * trig), units="s")
    qt = c["Query timeout"]
    hold = m.aux("Hold time", if_then_else(qt > 0, qtime * (1 - exp(-qt / qtime)), qtime),
                 units="s", doc="mean time a connection is held (exponential query times "
                 "cut at the query timeout)")
    killed = m.aux("Killed share", if_then_else(qt > 0, exp(-qt / qtime), 0), units="1",
                   doc="queries the query timeout kills")

    # -- pool (Little's law) --------------------------------------------------------------
    usable = m.aux("Usable pool", c["Pool size"] * c["Bulkhead share"], units="connections")
    pool_rate = m.aux("Pool throughput limit", usable / hold, units="queries/s",
                      doc="acquisitions/s the pool sustains when every connection is busy")
    waiting = m.stock("Waiting for connection", initial=0, units="requests", non_negative=True)
    acquired = m.flow("Connections acquired", minimum(waiting / m.dt_expr, pool_rate),
                      out_of=waiting, units="queries/s")
    m.aux("Connections in use", acquired * hold, units="connections",
          doc="Little's law: acquisitions/s x hold time")
    m.aux("Pool utilization", in_use / c["Pool size"], units="1")
    m.aux("Connections free for other operations", c["Pool size"] - in_use, units="connections")
    gave_up = m.flow("Wait timeouts", maximum(0, waiting - pool_rate
                                              * c["Connection wait timeout"]) / m.dt_expr,
                     out_of=waiting, units="requests/s",
                     doc="requests that waited longer than the connection wait timeout (FIFO)")
    wait = m.aux("Wait time", waiting / pool_rate, units="s",
                 doc="time to get a connection (Little's law on the queue)")
    latency = m.aux("Request latency", wait + hold, units="s")
    tmo = m.aux("Timeout fraction", exp(-c["Request timeout"] / latency), units="1",
                doc="share of requests slower than the request timeout")
    arrivals = Ref(canonical("Query arrivals"))
    fast = m.aux("Fail-fast fraction", 1 - (1 - killed) * (1 - gave_up / maximum(arrivals, 1e-9)),
                 units="1", doc="requests failed by the wait timeout or the query timeout")
    fail = m.aux("Failure fraction", 1 - (1 - tmo) * (1 - fast), units="1")
    m.aux("Goodput", acquired * (1 - killed) * (1 - tmo), units="queries/s",
          doc="queries completed for a client that still waits")

    # -- clients and retries (no backoff) ---------------------------------------------------
    issued = Ref(canonical("Retries issued"))
    arriving = m.aux("Retries arriving", delay_fixed(issued, c["Request timeout"], 0),
                     dims=[gen], units="queries/s", doc="a retry follows its timeout at once")
    sent = m.aux("Attempts sent", {
        f"attempt{k}": c["Query rate"] if k == 1 else arriving[f"attempt{k - 1}"]
        for k in range(1, GENERATIONS + 1)}, dims=[gen], units="queries/s")
    m.aux("Retries issued", sent * fail * (number <= c["Max retries"]), dims=[gen],
          units="queries/s")
    m.flow("Query arrivals", sum_over(sent, gen), into=waiting, units="queries/s",
           doc="first attempts + retries")

    # Part 3.3 (R): slow queries -> connections held -> pool fills -> waits -> timeouts ->
    # retries -> more connections (two inversions: hold time -> pool rate -> wait time)
    m.name_loop("Death spiral (slow queries hold connections)",
                ["Waiting for connection", "Connections acquired", "Connections in use",
                 "DB load", "DB slowdown", "Query time", "Hold time", "Pool throughput limit",
                 "Wait time", "Request latency", "Timeout fraction", "Retries issued",
                 "Query arrivals"])
    m.name_loop("Timeouts trigger retries", ["Waiting for connection", "Wait time",
                                             "Request latency", "Timeout fraction",
                                             "Failure fraction", "Retries issued",
                                             "Retries arriving", "Attempts sent",
                                             "Query arrivals"])
    m.name_loop("Pool drains", ["Waiting for connection", "Connections acquired"])
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

