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
  it are refused at once ("Thread rejections"). Callers that wait without a thread (an
  event loop, goroutines) set no such bound, and a pool that waits forever (node-postgres'
  default, connectionTimeoutMillis 0) has an acquire timeout of 1e9 s: then the backlog
  grows as long as arrivals exceed mu, and every answer is late once its wait D passes the
  client timeout (library.compose, `concurrency: async`, `connectionTimeout: 0s`). Both leave by one outflow, "Failed
  waits"; the split between them is for display: when the threads bind they let in
  Max waiting / timeout a second, the pool serves mu of them and the rest time out.
- A client that waits longer than "Client timeout" has gone. A request's response time is
  D + X + S: D the fluid backlog's FIFO wait (the same for every request, at most the
  acquire timeout), X the stationary M/M/c wait (0 with probability C, else exponential with
  rate theta = c mu - lambda; Kleinrock, *Queueing Systems* I, 1975, eq. 3.40) and S the hold
  time (exponential with rate mu = 1 / hold, as M/M/c assumes). Once D reaches the timeout T
  nothing is answered in time (goodput 0: everything served has already timed out, not
  exp(-T / W)); below it the share answered late is the M/M/c response-time tail at
  u = T - D (Gross & Harris, *Fundamentals of Queueing Theory*, 3rd ed. 1998, sec. 2.3):
  P(X + S > u) = (1 - C) e^(-mu u) + C P(E_theta + E_mu > u), the last a hypoexponential
  tail, e^(-m u) (1 + m u (1 - e^(-d u)) / (d u)) with m = min(mu, theta), d = |mu - theta|
  (symmetric in the two rates, no cancellation or overflow). So as the mean latency climbs
  toward the timeout the late share rises smoothly (at 1 s and a mean of 250 ms: 1.8 %, of
  500 ms: 13.5 %), and it is exactly M/M/c's where M/M/c holds. C is Sakasegawa's
  rho^(sqrt(2(c+1)) - 1), the one that gives his mean wait above (C / theta): within 0.052 of
  Erlang C for every c <= 100 (tests/test_parts_pool_cache.py); rho is capped at 0.99, so
  theta >= 1 % of c mu, and in overload the backlog's D carries the rest of the wait.
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


def response_tail(u, wait_p, theta, mu):
    """P(X + S > u) for M/M/c: X the wait (0 w.p. 1 - wait_p, else rate theta), S rate mu.

    Gross & Harris's M/M/c response-time distribution, written symmetric in the two rates
    (no 0 / 0 at theta = mu, no overflow when theta < mu); an expression.

    >>> from sdmodels import Model, run
    >>> m = Model("tail", stop=1, dt=1)
    >>> _ = m.aux("P", response_tail(m.constant("u", 1.0), 0.5, 2.0, 4.0))
    >>> round(float(run(m)["P"].iloc[0]), 6)   # 0.5 e^-4 + 0.5 (4 e^-2 - 2 e^-4) / (4 - 2)
    0.135335
    """
    u = maximum(u, 0)
    low = minimum(mu, theta) * u
    gap = abs(mu - theta) * u
    spread = if_then_else(gap < 1e-6, 1 - gap / 2, (1 - exp(-gap)) / maximum(gap, 1e-12))
    return (1 - wait_p) * exp(-mu * u) + wait_p * exp(-low) * (1 + low * spread)


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
    # written out where they are used rather than read from the displayed auxiliaries, so
    # that the late share and the mean wait each take one path from the load (a path more
    # multiplies the loops of every model that uses the pool)
    busy = rho ** (sqrt(2 * (servers + 1)) - 1)
    theta = maximum(servers, 1e-9) * (1 - rho) / hold     # c mu - lambda, the wait's decay rate
    m.aux("Wait probability", busy, units="1",
          doc="Sakasegawa's approximation of Erlang C: the share of queries that wait")
    mmc = m.aux("M/M/c wait", busy / theta, units="s",
                doc="Sakasegawa's approximation of the Erlang C mean wait, C / (c mu - lambda)")
    backlog_wait = m.aux("Backlog wait", waiting / rate, units="s")
    wait = m.aux("Wait time", minimum(c["Acquire timeout"], backlog_wait + mmc), units="s")
    m.aux("Request latency", wait + hold, units="s")
    head = minimum(backlog_wait, timeout)       # the served waited at most the timeout
    late = m.aux("Late share", if_then_else(
        head >= c["Client timeout"], 1,
        response_tail(c["Client timeout"] - head, busy, theta, 1 / hold)), units="1",
        doc="share answered after the client gave up: the FIFO backlog's wait, then the "
        "M/M/c response-time tail at what the timeout leaves")
    fast = m.aux("Fail-fast share", minimum(1, failed / maximum(arrivals, 1e-9)),
                 units="1", doc="share of arrivals the pool fails: refused at once (no "
                 "thread) or given up at the acquire timeout")
    m.aux("Failure share", 1 - (1 - fast) * (1 - c["Failed share"]) * (1 - late), units="1")
    m.aux("Goodput", acquired * (1 - c["Failed share"]) * (1 - late), units="queries/s",
          doc="queries answered in time")
    for name in ("Connections in use", "Connections acquired", "Wait time", "Request latency",
                 "Late share", "Fail-fast share", "Failure share", "Goodput", "Wait timeouts",
                 "Thread rejections", "Wait probability",
                 "Waiting for connection", "Pool utilization", "Usable connections"):
        m.output(name)
    return m



def slower_than(pool, seconds):
    """Share of a pool's queries that take longer than `seconds` for their caller (an
    expression over the elements of a `connection_pool` module `pool`, read only).

    The same response-time model as its "Late share", at any threshold: a served query
    takes D + X + S (the FIFO backlog's wait D, at most the acquire timeout, then the M/M/c
    tail; theta = C / W_q, both the pool's own); a caller waits at most its client timeout,
    so a threshold at or above it finds no slow call; a query that waited the acquire
    timeout ("Wait timeouts") took that long; one refused at once took no time. For a
    breaker's slow-call rate (library/parts/breaker.py).

    >>> from sdmodels import Model, run
    >>> m = Model("slow", stop=1, dt=0.01)
    >>> p = m.module("pool", connection_pool(**{"Arrivals": 100.0, "Hold time": 0.095,
    ...              "Pool size": 10.0, "Client timeout": 1.0}))
    >>> _ = m.aux("Slower", slower_than(p, 0.5))
    >>> round(float(run(m)["Slower"].iloc[-1]), 4)     # M/M/10 at rho 0.95: P(R > 0.5 s)
    0.1157
    """
    client, acquire = pool["Client timeout"], pool["Acquire timeout"]
    head = minimum(pool["Backlog wait"], acquire)
    busy = pool["Wait probability"]
    theta = busy / maximum(pool["M/M/c wait"], 1e-12)
    served = if_then_else(head >= seconds, 1, response_tail(seconds - head, busy, theta,
                                                            1 / pool["Hold time"]))
    gave_up = minimum(1, pool["Wait timeouts"] / maximum(pool["Arrivals"], 1e-9))
    return (client > seconds) * ((1 - pool["Fail-fast share"]) * served
                                 + gave_up * (acquire > seconds))


PARTS = [connection_pool]
