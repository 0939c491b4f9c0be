"""A connection pool (HikariCP-like) in front of a database that accepts max_connections.

Connections turn over every few milliseconds, far faster than anything else in these models,
so the pool is quasi-static: the connections in use obey Little's law at each instant,
busy = acquisitions/s x hold time (500 queries/s x 10 ms = 5, DESIGN.md), up to the usable
connections min(pool size x bulkhead share, the database's max_connections). When that
product reaches the pool size the pool saturates: requests queue ("Waiting for connection",
FIFO, a fluid backlog that drains at usable / hold time) and the death spiral can start.

- Waiting below saturation is that of an M/M/c queue (c connections, mean hold time h), by
  Sakasegawa's approximation of Erlang C (Sakasegawa 1977): W_q = h rho^(sqrt(2(c+1)) - 1) /
  (c (1 - rho)); within 3.5 % of the hold time of Erlang C for every c <= 100 and rho <= 0.99
  (tests/test_parts_pool_cache.py),
  e.g. 10 connections, 100 req/s, 95 ms hold: 157 ms. Utilisation is capped at 0.99 in the
  formula, where the fluid backlog takes over.
- Waiting is bounded: a request that would wait longer than "Acquire timeout" (HikariCP
  connectionTimeout, 30 s) fails fast, and no more than "Max waiting" requests wait (each
  blocks a request thread: Tomcat's maxThreads default is 200); the rest is rejected at once.
- A client that waits longer than "Client timeout" has gone: in the FIFO backlog every
  request waits the same, so once the backlog's wait exceeds the timeout nothing is answered
  in time (goodput 0, not exp(-T / W)); below it the share answered late is the tail of the
  M/M/c wait plus the hold time, taken as exponential with their mean.
"""
from __future__ import annotations

from sdmodels import Model, exp, if_then_else, maximum, minimum, sqrt

from library.parts._wiring import conversion


HIKARI = "HikariCP default"

#: name -> (default, units, source)
POOL = {
    "Arrivals": (500.0, "queries/s", "reference Part 3.3: 500 queries per second"),
    "Hold time": (0.010, "s", "reference Part 3.3: normal query time 10 ms"),
    "Pool size": (10.0, "connections", HIKARI + " maximumPoolSize 10"),
    "Bulkhead share": (1.0, "1", "share of the pool this operation may use (1 = no bulkhead)"),
    "Max connections": (100.0, "connections", "PostgreSQL max_connections default 100"),
    "Acquire timeout": (30.0, "s", HIKARI + " connectionTimeout 30 s"),
    "Max waiting": (200.0, "queries", "Tomcat maxThreads default 200: each request waiting "
                    "for a connection blocks a request thread"),
    "Client timeout": (30.0, "s", "assumption: the caller waits as long as the pool"),
    "Failed share": (0.0, "1", "wired from the database: queries that fail there (killed)"),
}


def connection_pool(**overrides) -> Model:
    """A connection pool: Little's law below saturation, M/M/c waits, a bounded FIFO backlog."""
    m = Model("connection_pool", stop=60, dt=0.02, time_units="second",
              doc="connections held for a hold time; requests wait, time out or are rejected")
    c = m.inputs(POOL, overrides)
    dt, hold, arrivals = m.dt_expr, c["Hold time"], c["Arrivals"]
    per_query = conversion(m, "Connections per query", "connections/query",
                           "a query holds one connection while it runs")
    one = conversion(m, "Connection unit", "connections", "Sakasegawa's c is a count: "
                     "c = usable connections / 1 connection")
    usable = m.aux("Usable connections", minimum(c["Pool size"] * c["Bulkhead share"],
                                                 c["Max connections"]), units="connections")
    rate = m.aux("Pool throughput limit", usable / hold / per_query, units="queries/s",
                 doc="acquisitions/s the pool sustains when every connection is busy")
    waiting = m.stock("Waiting for connection", initial=0, units="queries", non_negative=True,
                      doc="the fluid backlog beyond saturation (FIFO)")
    m.flow("Query arrivals", arrivals, into=waiting, units="queries/s")
    acquired = m.flow("Connections acquired", minimum(arrivals + waiting / dt, rate),
                      out_of=waiting, units="queries/s")
    bound = minimum(rate * c["Acquire timeout"], c["Max waiting"])
    failed_fast = m.flow("Wait timeouts", maximum(0, waiting + dt * (arrivals - acquired)
                                                  - bound) / dt, out_of=waiting,
                         units="queries/s", doc="requests past the acquire timeout or the "
                         "waiting limit: they fail at once")
    in_use = m.aux("Connections in use", acquired * hold * per_query, units="connections",
                   doc="Little's law: acquisitions/s x hold time")
    util = m.aux("Pool utilization", in_use / maximum(usable, 1e-9), units="1")
    rho = minimum(arrivals * hold * per_query / maximum(usable, 1e-9), 0.99)   # offered
    servers = usable / one
    mmc = m.aux("M/M/c wait", hold * rho ** (sqrt(2 * (servers + 1)) - 1)
          / (maximum(servers, 1e-9) * (1 - rho)), units="s",
          doc="Sakasegawa's approximation of the Erlang C mean wait")
    backlog_wait = m.aux("Backlog wait", waiting / rate, units="s")
    wait = m.aux("Wait time", minimum(c["Acquire timeout"], backlog_wait + mmc), units="s")
    m.aux("Request latency", wait + hold, units="s")
    late = m.aux("Late share", if_then_else(
        backlog_wait >= c["Client timeout"], 1,
        exp(-(c["Client timeout"] - backlog_wait) / (mmc + hold))), units="1",
        doc="share answered after the client gave up")
    fast = m.aux("Fail-fast share", minimum(1, failed_fast / maximum(arrivals, 1e-9)),
                 units="1")
    m.aux("Failure share", 1 - (1 - fast) * (1 - c["Failed share"]) * (1 - late), units="1")
    m.aux("Goodput", acquired * (1 - c["Failed share"]) * (1 - late), units="queries/s",
          doc="queries answered in time")
    for name in ("Connections in use", "Connections acquired", "Wait time", "Request latency",
                 "Late share", "Fail-fast share", "Failure share", "Goodput",
                 "Waiting for connection", "Pool utilization", "Usable connections"):
        m.output(name)
    return m


PARTS = [connection_pool]
