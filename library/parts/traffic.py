"""Traffic sources: an open one (a rate of arrivals) and a closed one (a population of clients).

**Open** (`traffic`): requests arrive at a rate whatever happens to them, as from many
independent users.

Rate(t) = max(0, base x (1 + amplitude x cos(2 pi (t - peak time) / period))
               + RAMP(slope, start, end) + spike height x PULSE(spike start, duration)
               + replay weight x series(t))
Each component is off at its default (slope 0, height 0, amplitude 0, weight 0), so the part
is a constant source until told otherwise. A replayed series is a lookup over time (clamped
at its ends), given as ``traffic(series=[(t, rate), ...])``: a day of real traffic, an
incident's load curve.

**Closed** (`closed_clients`): a population of N clients (virtual users, or an API client's
worker threads), each of which sends a request, waits for its end (its answer, or its last
failure after its retries, timeouts and backoff sleeps: a retrying client is blocked while it
sleeps), then thinks for Z before its next one (Schroeder, Wierman, Harchol-Balter, "Open
versus closed: a cautionary tale", NSDI 2006). By the interactive response time law the
throughput is X = N / (R + Z), R the time a request takes with its retries. The part keeps
the clients waiting (a stock), an answered attempt's answer coming back after the call's
response time (a first-order delay), a request that ends failed known one "Failure delay"
(the timeout) after its last attempt was sent. So at equilibrium: with no failures
X = N / (L + Z), L the response time; with every attempt failing and R retries with waits
b_1..b_R, X = N / ((R + 1) T + b_1 + ... + b_R + Z), and R + 1 attempts per request.
"""
from __future__ import annotations

import math

from sdmodels import Model, delay_fixed, if_then_else, maximum, pulse, ramp
from sdmodels.expr import Call
from sdmodels.operators import Function

from library.parts._wiring import conversion, held


INPUTS = {
    "Base rate": (100.0, "req/s", "assumption: steady demand"),
    "Ramp slope": (0.0, "req/s/s", "off by default: growth of the rate per second"),
    "Ramp start": (0.0, "s", "when the ramp begins"),
    "Ramp end": (1e9, "s", "when the ramp stops growing (default: never)"),
    "Spike height": (0.0, "req/s", "off by default: extra rate during the spike"),
    "Spike start": (60.0, "s", "when the spike begins"),
    "Spike duration": (10.0, "s", "how long the spike lasts"),
    "Diurnal amplitude": (0.0, "1", "off by default: daily swing as a share of the base rate"),
    "Diurnal period": (86400.0, "s", "one day"),
    "Diurnal peak time": (0.0, "s", "time of the daily peak"),
    "Replay weight": (0.0, "1", "off by default: 1 adds the replayed series"),
}


def traffic(series=None, **overrides) -> Model:
    """Requests per second: constant, ramp, spike, diurnal cycle and a replayed series."""
    m = Model("traffic", stop=600, dt=0.5, time_units="second",
              doc="demand as a function of time")
    p = m.inputs(INPUTS, overrides)
    points = list(series) if series is not None else [(0.0, 0.0), (1.0, 0.0)]
    replay = m.lookup("Replayed series", points, units="req/s",
                      doc="recorded request rate over time (clamped at its ends)")
    phase = 2 * math.pi * (m.time - p["Diurnal peak time"]) / p["Diurnal period"]
    daily = p["Base rate"] * (1 + p["Diurnal amplitude"] * Call(Function.COS, (phase,)))
    m.output(m.aux("Rate", maximum(0, daily + ramp(p["Ramp slope"], p["Ramp start"],
                                                   p["Ramp end"])
                                   + p["Spike height"] * pulse(p["Spike start"],
                                                               p["Spike duration"])
                                   + p["Replay weight"] * replay(m.time)),
                   units="req/s", doc="requests per second"))
    return m


CLOSED_INPUTS = {
    "Population": (100.0, "clients", "assumption: concurrent clients (virtual users, or a "
                   "client's worker threads), each with one request at a time"),
    "Think time": (1.0, "s", "assumption: pause between a request's end and the next one"),
    "Succeeded": (0.0, "req/s", "wired from the call: attempts that succeed, as they are sent"),
    "Failed for good": (0.0, "req/s", "wired from the call: requests that end failed (out of "
                        "retries or of budget, or refused), as their last attempt is sent"),
    "Response time": (0.05, "s", "wired from the call: how long a successful attempt takes"),
    "Initial response time": (0.05, "s", "assumption: the response time at the start, which "
                              "sets how many clients wait then (with no think time all of "
                              "them, whatever it is)"),
    "Failure delay": (1.0, "s", "wired from the call: a failure is known at the client timeout"),
}


def closed_clients(**overrides) -> Model:
    """A closed workload: N clients, each waiting for its request's end, then thinking.

    A request's end: its answer ("Succeeded", back after "Response time"), or its last
    failure ("Failed for good", known "Failure delay" after its last attempt was sent). A
    "Population" that grows brings clients that start thinking; one that shrinks loses its
    thinking clients first, its busy ones as their requests end.
    """
    m = Model("closed_clients", stop=120, dt=0.01, time_units="second",
              doc="a population of clients that each wait for their request, then think")
    p = m.inputs(CLOSED_INPUTS, overrides)
    dt = m.dt_expr
    per_client = conversion(m, "Requests per client", "req/clients",
                            "a client has one request at a time")
    think = p["Think time"]
    # the answer time a step late: new requests follow the answers at once when the think
    # time is under a step, and this step's latency depends on this step's requests
    answer = maximum(held(m, "Answer time", p["Response time"], p["Initial response time"],
                          units="s", doc="the call's response time, one step late"), dt)
    # at the start every client is in its cycle as with no failures: L / (L + Z) of them
    # waiting for an answer (all of them when Z = 0; none sent all at once at t = 0)
    start = p["Population"] * answer / (answer + think)
    busy = m.stock("Busy clients", initial=start, units="clients", non_negative=True,
                   doc="clients waiting for their request's end: an attempt, a timeout or a "
                   "backoff sleep (blocked, sending nothing else)")
    awaiting = m.stock("Answers on the way", initial=start * per_client, units="req",
                       non_negative=True,
                       doc="attempts that succeed, until their answer is back")
    m.flow("Answers arriving", p["Succeeded"], into=awaiting, units="req/s")
    answered = m.flow("Answered", awaiting / answer, out_of=awaiting, units="req/s",
                      doc="answers back after the response time (on average)")
    failed = m.aux("Failed requests ending", delay_fixed(p["Failed for good"],
                                                         p["Failure delay"], 0),
                   units="req/s", doc="requests that end failed, known at the timeout")
    thinking = m.aux("Thinking clients", maximum(0, p["Population"] - busy), units="clients",
                     doc="clients between a request's end and their next request")
    # a think time under a step: a client sends its next request in the step its last one
    # ends (not a step later, which would add dt to every cycle); clients beyond a
    # population that shrank leave as their requests end
    requests = m.aux("Requests", if_then_else(
        think < dt, maximum(0, answered + failed + (p["Population"] - busy) * per_client / dt),
        thinking * per_client / think), units="req/s",
        doc="new requests: thinking clients / think time")
    m.flow("Requests starting", requests / per_client, into=busy, units="clients/s")
    m.flow("Requests ending", (answered + failed) / per_client, out_of=busy, units="clients/s")
    m.aux("Throughput", answered + failed, units="req/s", doc="requests ended per second")
    for name in ("Requests", "Busy clients", "Thinking clients", "Throughput"):
        m.output(name)
    return m


PARTS = (traffic, closed_clients)
