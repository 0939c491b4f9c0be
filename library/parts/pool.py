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
- Waiting is bounded as HikariCP bounds it: a caller blocks in getConnection() for at most
  "Acquire timeout" (connectionTimeout, 30 s), then gives up, leaves the queue and frees its
  thread. The backlog is FIFO, so it holds the latest arrivals, all younger than the
  timeout: at most the queries that arrived during the last "Acquire timeout" ("Recent
  arrivals", an exponential window of one timeout: exact in steady state; a pipeline would
  make every cohort time out together and echo with the timeout's period, which real,
  random hold and patience times smooth out); what would exceed it is the head of the
  queue reaching the timeout ("Wait timeouts": they fail after waiting, having held a
  thread all along). In a steady overload (arrivals lambda above the pool's rate mu) the
  backlog levels off at lambda x timeout (Little's law), mu are served, lambda - mu time
  out, and the served ones waited the timeout. No more than "Max waiting" requests wait at
  once (each blocks a request thread: Tomcat's maxThreads default is 200): arrivals beyond
  it are refused at once ("Thread rejections"). Both leave by one outflow, "Failed
  waits"; the split between them is for display: when the threads bind they let in
  Max waiting / timeout a second, the pool serves mu of them and the rest time out.
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
    """A connection pool: Little's law below saturation, M/M/c waits, a FIFO backlog whose
    callers give up at the acquire timeout."""
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
    timeout, threads = c["Acquire timeout"], c["Max waiting"]
    recent = m.stock("Recent arrivals", initial=0, units="queries", non_negative=True,
                     doc="queries that arrived over the last acquire timeout (an exponential "
                     "window): the most a FIFO backlog younger than the timeout can hold")
    m.flow("Arrivals counted", arrivals, into=recent, units="queries/s")
    m.flow("Arrivals aged out", recent / timeout, out_of=recent, units="queries/s",
           doc="a window of one timeout: in steady state arrivals x timeout")
    # the window at the end of the step (its aging written out, not read from the flow:
    # one path from the window into the failures, not two)
    window = recent + dt * (arrivals - recent / timeout)
    failed = m.flow("Failed waits", maximum(0, waiting + dt * (arrivals - acquired)
                                            - minimum(window, threads)) / dt,
                    out_of=waiting, units="queries/s", doc="callers whose wait reached the "
                    "acquire timeout (they give up, leave the queue and free their thread) "
                    "and arrivals refused at once because every thread waits")
    timeouts = m.aux("Wait timeouts", if_then_else(window > threads, minimum(failed, maximum(
        0, threads / timeout - acquired)), failed), units="queries/s",
        doc="the head of the queue reaching the acquire timeout: when the threads bind "
        "they let in Max waiting / timeout a second, and what is not served times out")
    m.aux("Thread rejections", failed - timeouts, units="queries/s",
          doc="arrivals refused at once: every request thread already waits")
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
    head = minimum(backlog_wait, timeout)       # the served waited at most the timeout
    late = m.aux("Late share", if_then_else(
        head >= c["Client timeout"], 1,
        exp(-(c["Client timeout"] - head) / (mmc + hold))), units="1",
        doc="share answered after the client gave up")
    fast = m.aux("Fail-fast share", minimum(1, failed / maximum(arrivals, 1e-9)),
                 units="1", doc="share of arrivals the pool fails: refused at once (no "
                 "thread) or given up at the acquire timeout")
    m.aux("Failure share", 1 - (1 - fast) * (1 - c["Failed share"]) * (1 - late), units="1")
    m.aux("Goodput", acquired * (1 - c["Failed share"]) * (1 - late), units="queries/s",
          doc="queries answered in time")
    for name in ("Connections in use", "Connections acquired", "Wait time", "Request latency",
                 "Late share", "Fail-fast share", "Failure share", "Goodput", "Wait timeouts",
                 "Thread rejections",
                 "Waiting for connection", "Pool utilization", "Usable connections"):
        m.output(name)
    return m


PARTS = [connection_pool]
