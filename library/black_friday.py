"""Black Friday meltdown: a traffic ramp, a slow query, retries, an autoscaler and a shared pool.

The story that opens the reference ("The Black Friday Meltdown", 10:47 -> 11:12), composed
from the library's parts (library/parts), wired by their ports:

- `traffic` ("Traffic source"): 3x normal at 10:47, ramping toward 10x (+0.12x per minute,
  so +20 % by 10:52);
- `retry_client` ("Payments"): the payment calls, 3 retries without backoff, each sent the
  moment the 1 s timeout fires ("all instances retry simultaneously");
- `circuit_breaker` ("Breaker"): resilience4j's closed / open / half-open breaker in each of
  the 50 callers, tripping at 50 % failures over its last 100 calls ("finally trips");
- `rate_limiter` ("Admission"): the pods take at most pods x pod capacity (with the
  load-shedding fix, at most the database's capacity); the rest is refused at once;
- `connection_pool` ("Pool"): every pod opens a HikariCP pool of 10 against a PostgreSQL that
  accepts 100 connections; past 10 pods the new pods' pools are refused ("Connections
  refused": 'sorry, too many clients already'; they count in "Connections asked for") and
  their requests block in getConnection() for HikariCP's 30 s connectionTimeout, then fail
  ("Starved share"; their callers gave up at the 1 s timeout, the pods do not know it);
- `database` ("Database"): the poorly indexed 50 ms query slowed by concurrency as the
  Universal Scalability Law says, with PostgreSQL's pgbench fit (sigma 0.04, kappa 0.001):
  3.1x slower at its best concurrency (31 queries, 198 q/s), 10.5x (524 ms: the reference's
  "500ms under load") with the 80 connections of 8 pods;
- `hpa_controller` ("HPA"): a Kubernetes HPA on the pods' mean latency ("autoscaler sees
  high latency": a Pods metric, the mean of the pods' values, so a starved pod counts with
  its 30 s), with the reference's HPA YAML behaviour; pods ready 60 s after it asks.

Named loops, in the reference's order (Loops That Matter, following "Connections asked
for", finds the first two taking over in that order in `trigger`, the third acting once and
then held at its controller's limit): "Slow query holds connections" (R: more connections
in use -> slower queries -> connections held longer; connections double while traffic grows
28 %), "Payment retries load the database" (R: requests waiting for a connection -> late
answers -> retries -> more requests waiting) and "Autoscaler grabs connections" (R: latency
-> HPA -> pods -> connections refused -> starved pods -> latency). The last passes a change
all the way round once (the pods' 8 -> 11 at 10:57:44, through the HPA's sync at 10:58:44,
the pods' 15 -> 20 at 10:59:44) and never leads, faithfully: one starved pod of 11 adds
HikariCP's 30 s / 11 = 2.7 s to the pods' mean latency, a usage ratio of 5 against the
0.5 s target at 10:59 (45 by 11:02:30), far past what the reference's scale-up policy lets
through (double or +4 pods a minute, after a 60 s stabilization window), so every HPA
decision from 10:59 is the policy's limit (22, 30, 40, 44, 60, 80, 88 pods), then
maxReplicas (100 from 11:01:30).
A decision held at a limit passes none of its metric's change on, and Loops That Matter
scores a loop with such a link 0 (Schoenberg, Davidsen & Eberlein 2020: an inactive link
zeroes the loop); the postmortem says instead that the loop held the HPA at its scale-up
limit (`sdmodels.analysis.phases.capped_links`). Checked against Kubernetes'
replica calculator (pkg/controller/podautoscaler/replica_calculator.go): a Pods metric is
the plain mean of the pods' values (GetMetricUsageRatio), so a starved pod counts with its
30 s; for any metric but CPU a pod counts once it runs and reports the metric (groupPods
checks the Ready condition for CPU only), so starved pods count as ready; a pod still
starting is Pending or has no metric yet and counts at 0 on a scale-up
(calcPlainMetricReplicas), as `library/parts/hpa.py` computes.

Time is in seconds from 10:40. Nothing is scripted as a function of time except the traffic
ramp. Measured in `trigger` (any step, Euler or RK4): connections in use 12 -> 24 from 10:47
to 10:54; the database folds at 10:55:30 (first timeouts, retries, the breakers trip within
12 s: failures climb from 1 % to 50 % in 5 s, since past the fold the 80 connections hold the
database at 152 q/s against 200 arriving and the pool's FIFO wait passes the 1 s timeout
within 2 s; the pool's response-time tail has no slow climb of latency to follow, see
library/README.md); the breakers cycle open / closed, the HPA adds pods from 10:57:45
(100 by 11:02:30), and from 11:00 goodput stays below 10 % of the traffic (the reference:
11:12): most pods have no connection, so the breakers' trial calls fail and they stay open.

Fixes (the `fixed` scenario; each is a parameter): exponential backoff with jitter and a
10 % retry budget on the payment retries, a breaker that trips at 20 % failures, a
connection wait timeout below the request timeout, a pool capped at the database's best
concurrency (31), an autoscaler capped at the pods the database can give connections to,
and load shedding: the pods admit at most "Admission limit" (the database's capacity) and let
at most "Shedding queue time" of work wait for a connection. It serves 190 req/s for the
whole hour. `query indexed` removes the root cause alone (10 ms queries): the database keeps
up; from 11:28 the 8 pods' capacity (400 req/s) refuses the excess at once, which a latency
HPA does not see.

Example::

    from library import black_friday
    from sdmodels import run
    df = run(black_friday.build(), scenario="trigger")
    df[black_friday.KEY_OUTPUTS].iloc[::60]
"""
from __future__ import annotations

import math

from sdmodels import Model, delay_fixed, if_then_else, maximum, minimum, smooth

from library.hpa_autoscaler import SEED_YAML, hpa_overrides
from library.parts._wiring import conversion
from library.parts.breaker import circuit_breaker
from library.parts.database import database
from library.parts.hpa import HPA, hpa_controller
from library.parts.pool import connection_pool
from library.parts.ratelimit import rate_limiter
from library.parts.retry import retry_client
from library.parts.traffic import traffic

CLOCK_START = "10:40"
PGBENCH = "Gunther 2012, USL fit to PostgreSQL 9.1 pgbench (Haas)"

#: name -> (default, units, source)
PARAMETERS = {
    "Normal traffic": (50.0, "req/s", "assumption: payment requests on a normal day, so that "
                       "the database's peak (198 q/s, 3.96x normal) comes at 10:55, between "
                       "the reference's 10:52 (queries 3x slower) and 10:58 (first timeouts)"),
    "Traffic at 10:47": (3.0, "x normal", "reference: 'already 3x normal load'"),
    "Traffic growth": (0.12, "x normal/min", "reference: traffic +20 % from 10:47 to 10:52"),
    "Peak traffic": (10.0, "x normal", "reference: 'heading toward 10x'"),
    "Pod capacity": (50.0, "req/s/pod", "assumption: requests one payment pod serves per second"),
    "Initial pods": (8.0, "pods", "assumption: 8 pods carry 3x traffic at 38 % load"),
    "Max pods": (100.0, "pods", "reference Part 4 HPA YAML: maxReplicas 100"),
    "Target latency": (0.5, "s", "assumption: HPA target for the pods' mean request latency, "
                       "the 500 ms the reference calls fine (Part 3.1)"),
    "Metric rate window": (60.0, "s", "assumption: the latency metric is a Prometheus "
                           "rate(...[1m]) through prometheus-adapter"),
    "HPA sync period": (15.0, "s", "Kubernetes HPA default sync period (15 s)"),
    "HPA tolerance": (0.1, "1", "Kubernetes HPA default tolerance (0.1)"),
    "Pod startup time": (60.0, "s", "reference Part 2: 'pod startup (60s+)'"),
    "Connections per pod": (10.0, "connections/pod", "HikariCP maximumPoolSize default 10"),
    "DB max connections": (100.0, "connections", "PostgreSQL max_connections default 100"),
    "Base query time": (0.05, "s", "reference: the query 'normally took 50ms'"),
    "DB contention": (0.04, "1", PGBENCH + ": sigma 0.04"),
    "DB coherency": (0.001, "1", PGBENCH + ": kappa 0.001 (peak at 31 queries, 3.1x slower)"),
    "Request timeout": (1.0, "s", "assumption: payment client timeout 1 s (as retry_storm)"),
    "Max retries": (3.0, "retries", "hands-on exercise: 3 retries"),
    "Backoff on": (0.0, "0/1", "reference: payment retries without backoff (fix: 1)"),
    "Jitter": (0.0, "0/1", "reference: 'all instances retry simultaneously' (fix: 1)"),
    "Retry budget on": (0.0, "0/1", "fix: retries at most 10 % of requests"),
    "Caller instances": (50.0, "1", "assumption: 50 web front-end pods call the payment "
                         "service, each with its own breaker (a resilience4j breaker lives in "
                         "one process), so each needs 100 calls of its own before it may trip"),
    "Breaker failure threshold": (0.5, "1", "resilience4j failureRateThreshold 50 %; the "
                                  "breaker 'finally trips' late; fix: 0.2"),
    "Request threads per pod": (200.0, "req/pod", "Tomcat maxThreads default 200: a request "
                                "waiting for a connection holds a thread (the initial pods' "
                                "threads bound the requests that wait)"),
    "Connection wait timeout": (30.0, "s", "HikariCP connectionTimeout default 30 s "
                                "(fix: 0.5 s, below the request timeout)"),
    "Pool cap": (100.0, "connections", "connections all pods together may open; fix: 31, "
                 "the database's best concurrency (USL peak sqrt((1 - sigma) / kappa))"),
    "HPA connection limit on": (0.0, "0/1", "fix: never more pods than the database can give "
                                "connections to (DB max connections / connections per pod)"),
    "Load shedding on": (0.0, "0/1", "reference Part 1.2 'Rate limiting: too many requests -> "
                         "reject excess -> manageable load' (fix: 1)"),
    "Admission limit": (190.0, "req/s", "fix: the database's measured capacity, the USL peak "
                        "31 / (0.05 x 3.13) = 198 q/s, less 4 % margin"),
    "Shedding queue time": (0.25, "s", "fix: at most 0.25 s of work waits for a connection; "
                            "the rest is rejected at once (429), well below the 1 s timeout"),
}

FIXES = {"Backoff on": 1.0, "Jitter": 1.0, "Retry budget on": 1.0,
         "Connection wait timeout": 0.5, "Pool cap": 31.0, "HPA connection limit on": 1.0,
         "Load shedding on": 1.0, "Breaker failure threshold": 0.2}

#: "Connections asked for" first after the input: the postmortem follows it
KEY_OUTPUTS = ["Traffic", "Connections asked for", "DB connections in use", "Query time",
               "Offered load", "Goodput", "Pods"]

#: the reference's HPA YAML (Part 4.1): scale-up stabilization 60 s, at most
#: double or +4 pods a minute, scale-down 300 s and 10 % a minute (its CPU target aside: this
#: HPA reads latency)
HPA_BEHAVIOR = {k: v for k, v in hpa_overrides(SEED_YAML).items()
                if k in HPA and k not in ("maxReplicas", "minReplicas", "Metric kind")}

#: the named loops, through the parts' variables (module display / variable)
SLOW_QUERY = ["Pool / Connections in use", "Database / Queries in flight", "Database / DB load",
              "Database / DB slowdown", "Database / Query time", "Database / Hold time",
              "Pool / Hold time"]
TO_POOL = ["Payments / Failure fraction", "Payments / Failed attempts",
           "Payments / Retries wanted", "Payments / Retries issued",
           "Payments / Retries arriving", "Payments / Attempts sent", "Payments / Attempts",
           "Breaker / Calls", "Breaker / Permitted calls", "Admission / Requests",
           "Admission / Admitted", "Pool / Arrivals", "Pool / Connections acquired"]
RETRIES = [*TO_POOL[:-1], "Pool / Query arrivals", "Pool / Waiting for connection",
           "Pool / Backlog wait", "Pool / Late share", "Pool / Failure share",
           "Payment failure fraction"]
AUTOSCALER = ["Pods", "Connections wanted", "Connections refused", "Starved share",
              "Payment latency", "Latency over the rate window",
              "HPA / Metric", "HPA / Metric seen by HPA", "HPA / Usage ratio",
              "HPA / Usage ratio with unready pods at 0",
              "HPA / Pod metric recommendation", "HPA / Raw recommendation",
              "HPA / Recorded recommendation", "HPA / Stabilized recommendation",
              "HPA / HPA decision", "HPA / Spec replicas"]


def build(**overrides) -> Model:
    """The Black Friday model; keyword overrides replace parameters' defaults by name."""
    m = Model("black_friday", start=0, stop=3600, dt=0.05, saveper=1, time_units="second",
              doc="Black Friday 10:40-11:40: traffic ramp, slow query, retries, autoscaler, "
                  "shared connection pool")
    c = m.parameters(PARAMETERS, overrides)
    normal, growth, shed = c["Normal traffic"], c["Traffic growth"], c["Load shedding on"]
    per_min = conversion(m, "Seconds per minute", "s/min", "growth is per minute", value=60.0)
    at_1047 = conversion(m, "Time of 10:47", "s", "10:47 is 420 s after 10:40", value=420.0)
    demand = m.module("traffic", traffic(), display="Traffic source", inputs={
        "Base rate": normal * (c["Traffic at 10:47"] - growth * at_1047 / per_min),
        "Ramp slope": normal * growth / per_min,
        "Ramp end": at_1047 + (c["Peak traffic"] - c["Traffic at 10:47"]) * per_min
        / maximum(growth, 1e-9)})
    traffic_rate = m.aux("Traffic", demand.out["Rate"], units="req/s")

    # -- the HPA asks for pods; they are ready a start-up time later ---------------------
    # the latency reaches the HPA already averaged over its Prometheus rate window (above),
    # as prometheus-adapter serves it: no second metrics-server window on top
    hpa = m.module("hpa", hpa_controller(kind="pod", averaged=False, **HPA_BEHAVIOR),
                   display="HPA")
    spec = hpa.out["Spec replicas"]
    pods = m.aux("Pods", minimum(spec, delay_fixed(spec, c["Pod startup time"],
                                                   c["Initial pods"])), units="pods",
                 doc="ready pods: asked for one start-up time ago (scale-down at once)")
    wanted = m.aux("Connections wanted", pods * c["Connections per pod"], units="connections")
    refused = m.aux("Connections refused", maximum(0, wanted - c["DB max connections"]),
                    units="connections", doc="the new pods' pools asking PostgreSQL for "
                    "connections past max_connections ('sorry, too many clients already'): "
                    "HikariCP keeps trying to fill each pool to minimumIdle (= its size)")
    # refused / wanted, written without a second path from the pods (fewer loops): when
    # the pods want more than the database accepts, wanted = refused + max_connections
    starved = m.aux("Starved share", refused / (refused + c["DB max connections"]), units="1",
                    doc="share of pods (and of requests) that found no connection")

    # -- payment clients retry, the breaker and the pods' admission stand in front --------
    pay = m.module("payments", retry_client(), display="Payments", inputs={
        "Demand": traffic_rate, "Failure delay": c["Request timeout"],
        "Max retries": c["Max retries"], "Backoff base": c["Backoff on"] * 1.0,
        "Exponential backoff": c["Backoff on"], "Jitter": c["Jitter"],
        "Retry budget on": c["Retry budget on"]})
    cb = m.module("breaker", circuit_breaker(), display="Breaker", inputs={
        "Calls": pay.out["Attempts"], "Failure rate threshold": c["Breaker failure threshold"],
        "Instances": c["Caller instances"],
        # reference Part 4 Principle 3 (recovery_timeout=30) and the exercise's fix
        # (half_open_requests: 3), as in retry_storm
        "Wait duration in open state": 30.0, "Permitted calls in half-open state": 3.0})
    pay.connect("Shed fraction", 1 - cb.out["Admission fraction"])
    pod_cap = pods * c["Pod capacity"]
    admit = m.module("admission", rate_limiter(), display="Admission", inputs={
        "Requests": cb.out["Permitted calls"], "Burst": 0.0,
        "Rate": if_then_else(shed > 0, minimum(pod_cap, c["Admission limit"]), pod_cap)})

    # -- the pool and the database --------------------------------------------------------
    per_payment = conversion(m, "Queries per payment", "queries/req",
                             "a payment served by a pod with a connection runs one query")
    pool_conversion = conversion(m, "Connections per query", "connections/query",
                                 "a query holds (or waits for) one connection")
    db = m.module("database", database(), display="Database", inputs={
        "Base query time": c["Base query time"], "Contention": c["DB contention"],
        "Coherency": c["DB coherency"]})
    pool = m.module("pool", connection_pool(), display="Pool", inputs={
        "Arrivals": admit.out["Admitted"] * (1 - starved) * per_payment,
        "Hold time": db.out["Hold time"],
        "Pool size": minimum(minimum(wanted, c["DB max connections"]), c["Pool cap"]),
        "Max connections": c["DB max connections"],
        "Acquire timeout": c["Connection wait timeout"], "Client timeout": c["Request timeout"],
        "Max waiting": if_then_else(shed > 0, c["Shedding queue time"] * c["Admission limit"],
                                    c["Request threads per pod"] * c["Initial pods"])
        * per_payment})
    db.connect("Queries in flight", pool.out["Connections in use"])
    failed = m.aux("Payment failure fraction",
                   1 - (1 - starved) * (1 - pool.out["Failure share"]), units="1",
                   doc="payments that fail: no connection, waited too long, answered late")
    cb.connect("Failure fraction", failed)
    pay.connect("Failure fraction", 1 - (1 - admit.out["Rejected share"]) * (1 - failed))
    latency = m.aux("Payment latency", (1 - starved) * pool.out["Request latency"]
                    + starved * c["Connection wait timeout"], units="s",
                    doc="the pods' latency as the HPA averages a Pods metric (the mean of "
                    "the pods' values): a starved pod's request blocks in getConnection() "
                    "for HikariCP's connectionTimeout, then fails; the pod does not know "
                    "that its caller gave up at the request timeout")
    per_metric = conversion(m, "Metric per second", "metric/s", "the HPA reads latency")
    window = m.aux("Latency over the rate window", smooth(latency, c["Metric rate window"]),
                   units="s", doc="the latency metric as Prometheus reports it: averaged over "
                   "its rate() window (an exponential average of the same mean age)")
    hpa.connect("Metric", window * per_metric).connect("Ready pods", pods)
    hpa.connect("Target", c["Target latency"] * per_metric)
    hpa.connect("Sync period", c["HPA sync period"]).connect("Tolerance", c["HPA tolerance"])
    hpa.connect("Initial replicas", c["Initial pods"]).connect("minReplicas", c["Initial pods"])
    hpa.connect("maxReplicas", if_then_else(
        c["HPA connection limit on"] > 0,
        minimum(c["Max pods"], math.floor(c["DB max connections"] / c["Connections per pod"])),
        c["Max pods"]))

    m.aux("DB connections in use", pool.out["Connections in use"], units="connections")
    m.aux("Connections asked for", pool.out["Connections in use"]
          + pool.out["Waiting for connection"] * pool_conversion + refused,
          units="connections", doc="connections held + requests waiting for one (HikariCP's "
          "active + pending) + the new pods' refused connection attempts: the connection "
          "count of the reference's dashboard")
    m.aux("Query time", db.out["Query time"], units="s")
    m.aux("Offered load", admit.out["Admitted"], units="req/s",
          doc="payment attempts the pods take: first attempts + retries, after the breaker")
    m.aux("Goodput", pool.out["Goodput"] / per_payment, units="req/s",
          doc="payments answered within the timeout")

    m.name_loop("Slow query holds connections", SLOW_QUERY)
    m.name_loop("Payment retries load the database", RETRIES)
    m.name_loop("Autoscaler grabs connections", AUTOSCALER)
    m.add_scenario("baseline", {"Traffic growth": 0.0},
                   doc="3x traffic held flat: the system copes")
    m.add_scenario("trigger", {}, doc="the ramp of the reference: connections climb from "
                   "10:47, timeouts, retries and breakers at 10:55, the autoscaler's new pods "
                   "find no connection and the latency they add keeps the autoscaler at its "
                   "scale-up limit (double a minute) up to 100 pods; outage from 11:00")
    m.add_scenario("fixed", dict(FIXES), doc="the same ramp with the fixes on: it serves what "
                   "the database can take and sheds the rest")
    m.add_scenario("query indexed", {"Base query time": 0.01},
                   doc="the root cause removed (the query takes 10 ms), no other fix: the "
                   "database keeps up; from 11:28 the pods refuse what passes their capacity")
    return m
