"""Server / pod pool: c workers, an M/M/c queue below saturation, a fluid one above it.

The model (all rates in req/s):

- **Queue.** "Backlog" Q holds the requests waiting for a worker. Workers start requests at
  D = c mu rho_hat, where rho_hat is the utilisation at which the *stationary* M/M/c queue
  would hold Q: the pointwise stationary fluid flow approximation (PSFFA; Agnew 1976, Tipper
  & Sundareshan 1990, Wang, Wang & Tsai 1996), dQ/dt = lambda - c mu G^-1(Q) with G the
  stationary queue length. Here G^-1 is taken as one Newton step from the arrival
  utilisation rho_a = min(lambda / (c mu), 0.999):
  rho_hat = clamp(rho_a + (Q - L_q(rho_a)) / L_q'(rho_a), 0, 1). At a steady arrival rate
  below capacity Q settles at L_q(rho_a) exactly, so the mean wait Q / D is Erlang C's
  W_q = C(c, a) / (c mu - lambda) (Little's law), whatever dt; above capacity rho_hat -> 1
  and Q grows at lambda - c mu (fluid overload); after overload it drains at c mu. The
  relaxation time L_q' / (c mu) is kept >= dt, so a queue that settles faster than one
  step settles within it (only that sub-step transient depends on dt).
- **Erlang C** from the Erlang B recursion over the worker count (library/parts/erlang.py:
  exact up to 64 workers; above, |error in C| <= 0.002 up to 500 workers, tested).
- **Bounded queue.** Arrivals beyond "Queue limit" are rejected at once ("Queue rejections").
- **Timeouts.** A request times out when its wait exceeds "Timeout" less its service and
  downstream time (the budget). Its wait W = Q / D splits into a random part X, the
  stationary M/M/c wait (0 with probability C, else exponential with rate c mu - lambda;
  Kleinrock, *Queueing Systems* I, 1975, eq. 3.40) but never more on average than W, and the
  deterministic rest E = W - E[X] (the backlog beyond the stationary queue, served FIFO).
  P(timeout) = 1 when E exceeds the budget, else C exp(-(budget - E) C / E[X]); in steady
  state below saturation this is M/M/c's C exp(-(c mu - lambda) budget) exactly. The
  exponential rate is kept >= 5 % of c mu: above 95 % utilisation the random part stops
  growing and the rest of the wait counts as deterministic (fluid), so a queue in overload
  or draining after it times out by its FIFO wait, not by an exponential tail. The server
  still serves timed-out requests (its workers do not know the client left): they cost
  capacity ("Throughput") and yield nothing ("Goodput" counts only requests served within
  the timeout and not failed downstream), so a FIFO queue whose wait exceeds the timeout
  yields no goodput at all.

Example::

    from library.parts.server import server_pool
    from sdmodels import run
    df = run(server_pool(Arrivals=100, Workers=10, **{"Service time": 0.095}))
    df["Queue wait"].iloc[-1]      # ~0.157 s, Erlang C's W_q
"""
from __future__ import annotations

from sdmodels import Model, exp, if_then_else, maximum, minimum

from library.parts._wiring import conversion
from library.parts.erlang import erlang_c, queue_slope

RHO_MAX = 0.99999   # the stationary branch is evaluated at most at this utilisation
RATE_FLOOR = 0.05   # the stationary wait's exponential rate c mu - lambda, at least 5 % of c mu

INPUTS = {
    "Arrivals": (100.0, "req/s", "wired by the caller; default: the issue's pool example, "
                 "100 req/s"),
    "Workers": (10.0, "1", "assumption: a pool of 10 workers (threads, connections, pods)"),
    "Service time": (0.095, "s", "assumption: 95 ms hold time per request (issue example)"),
    "Queue limit": (1000.0, "req", "assumption: requests the server queues before it rejects"),
    "Timeout": (1.0, "s", "assumption: the client gives up after 1 s"),
    "Downstream latency": (0.0, "s", "wired by the caller: time spent below this server"),
    "Downstream failure fraction": (0.0, "1", "wired by the caller: failures below it"),
    "Initial backlog": (0.0, "req", "assumption: the queue starts empty"),
}


def server_pool(**overrides) -> Model:
    """A pool of c workers with a bounded FIFO queue and client timeouts (M/M/c + fluid)."""
    m = Model("server_pool", stop=60, dt=0.01, time_units="second",
              doc="c workers, M/M/c waiting below saturation, fluid above, timeouts")
    p = m.inputs(INPUTS, overrides)
    lam, c, s = p["Arrivals"], maximum(p["Workers"], 1e-6), maximum(p["Service time"], 1e-6)
    one = conversion(m, "Requests per worker", "req", "a worker (a count, '1') serves one "
                     "request at a time: converts worker counts into requests")
    cap = m.output(m.aux("Capacity", c * one / s, units="req/s", doc="c mu: all workers busy"))
    rho_a = m.aux("Arrival utilisation", minimum(lam / cap, RHO_MAX), units="1")
    wait_p = m.output(erlang_c(m, c, rho_a))
    stationary = wait_p * rho_a / (1 - rho_a) * one     # L_q = lambda W_q, W_q = C / (c mu - lambda)
    backlog = m.stock("Backlog", initial=p["Initial backlog"], units="req", non_negative=True,
                      doc="requests waiting for a worker")
    slope = queue_slope(c, rho_a, wait_p) * one
    rho_hat = m.aux("Utilization", maximum(0, minimum(1, rho_a + (backlog - stationary)
                                                      / maximum(slope, cap * m.dt_expr))),
                    units="1", doc="busy share of the workers: the stationary utilisation "
                    "whose queue is the backlog (one Newton step from rho_a)")
    served = m.flow("Throughput", cap * rho_hat, out_of=backlog, units="req/s",
                    doc="requests started per second, timed-out ones included")
    room = maximum(0, (p["Queue limit"] - backlog) / m.dt_expr + served)
    accepted = m.flow("Arrivals to server", minimum(lam, room), into=backlog, units="req/s")
    rejected = m.aux("Queue rejections", lam - accepted, units="req/s",
                     doc="arrivals refused at once because the queue is full")
    wait = m.aux("Queue wait", backlog / maximum(served, 1e-9 * cap), units="s",
                 doc="mean wait in the queue (Little's law: backlog / start rate)")
    rate = cap * maximum(1 - rho_a, RATE_FLOOR)
    random = minimum(wait, wait_p * one / rate)
    excess = wait - random
    budget = p["Timeout"] - s - p["Downstream latency"]
    tmo = m.aux("Timeout fraction", if_then_else(excess >= budget, 1, wait_p * exp(
        -(budget - excess) * wait_p / maximum(random, 1e-12))), units="1",
        doc="share of requests whose wait exceeds the time the timeout leaves for it")
    done_fail = m.aux("Served failure fraction",
                      1 - (1 - tmo) * (1 - p["Downstream failure fraction"]), units="1",
                      doc="served requests that time out or fail downstream")
    refused = rejected / maximum(lam, 1e-9)
    m.aux("Failure fraction", 1 - (1 - refused) * (1 - done_fail), units="1",
          doc="share of arriving requests that fail: rejected, timed out, failed downstream")
    m.aux("Goodput", served * (1 - done_fail), units="req/s",
          doc="requests served within the timeout and not failed downstream")
    m.aux("Latency", wait + s + p["Downstream latency"], units="s",
          doc="mean response time: queue wait + service + downstream")
    for name in ("Backlog", "Throughput", "Arrivals to server", "Queue rejections",
                 "Queue wait", "Timeout fraction", "Served failure fraction", "Failure fraction",
                 "Goodput", "Latency", "Utilization", "Arrival utilisation"):
        m.output(name)
    m.name_loop("Queue drains", ["Backlog", "Utilization", "Throughput"])
    return m


PARTS = (server_pool,)
