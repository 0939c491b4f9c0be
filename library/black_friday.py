"""Black Friday meltdown: a traffic ramp, a slow query, retries, an autoscaler and a shared pool.

The story that opens the reference ("The Black Friday Meltdown", 10:47 -> 11:12), composed
from the library's parts as modules: `retry_storm` is the payment service (retries without
backoff, a circuit breaker that trips late) and `connection_pool` is the database behind it
(one poorly indexed 50 ms query that slows under concurrent load). Around them:

- "Traffic": 3x normal at 10:47, ramping toward 10x (+0.12x per minute, so +20 % by 10:52);
- an autoscaler on latency ("autoscaler sees high latency"): every 15 s it asks for
  ceil(pods x latency / target) pods (Kubernetes HPA rule, 0.1 tolerance), new pods are
  ready 60 s later, no scale-down within the hour (300 s stabilization window);
- every pod opens its own connection pool (HikariCP maximumPoolSize default 10) against a
  database that accepts 100 connections (PostgreSQL max_connections default). Past 10 pods
  the new pods find no connection left and their requests fail: "more pods, more connection
  attempts, more failures".

Time is in seconds from 10:40. Nothing is scripted as a function of time except the traffic
ramp: the slowdown, the connection growth, the retries and the collapse come from the loops.

Fixes (the `fixed` scenario; each is a parameter): exponential backoff with jitter and a
10 % retry budget on the payment retries, a circuit breaker that trips at 20 % failures,
a connection wait timeout below the request timeout, an autoscaler capped at the pods
the database can give connections to, and load shedding: the payment service serves at
most "Admission limit" (the database's measured capacity) and queues at most 0.25 s of
work, rejecting the rest at once (a balancing loop: backlog up, queue room down, arrivals
down). Rejections are not failures the breaker counts, so overload alone never opens it.
The slow query itself stays slow in `fixed` (the same traffic against the same database);
the `query indexed` scenario removes the root cause alone, and still fails through the
autoscaler loop.

Example::

    from library import black_friday
    from sdmodels import run
    df = run(black_friday.build(), scenario="trigger")
    df[black_friday.KEY_OUTPUTS].iloc[::600]
"""
from __future__ import annotations

import math

from sdmodels import (Model, canonical, delay_fixed, if_then_else, maximum, minimum,
                      sample_hold, smooth)
from sdmodels.expr import Ref

from library import connection_pool, retry_storm
from library.parts._wiring import conversion

CLOCK_START = "10:40"

#: name -> (default, units, source)
PARAMETERS = {
    "Normal traffic": (60.0, "req/s", "assumption: payment requests on a normal day, so the "
                       "slow query's peak (~300 q/s) lies near 5x"),
    "Traffic at 10:47": (3.0, "x normal", "reference: 'already 3x normal load'"),
    "Traffic growth": (0.12, "x normal/min", "reference: traffic +20 % from 10:47 to 10:52"),
    "Peak traffic": (10.0, "x normal", "reference: 'heading toward 10x'"),
    "Pod capacity": (50.0, "req/s/pod", "assumption: requests one payment pod serves per second"),
    "Initial pods": (8.0, "pods", "assumption: 8 pods carry 3x traffic at 45 % load"),
    "Max pods": (100.0, "pods", "reference Part 4 HPA YAML: maxReplicas 100"),
    "Target latency": (0.25, "s", "assumption: HPA target for request latency"),
    "HPA sync period": (15.0, "s", "Kubernetes HPA default sync period (15 s)"),
    "HPA tolerance": (0.1, "1", "Kubernetes HPA default tolerance (0.1)"),
    "Pod startup time": (60.0, "s", "reference Part 2: 'pod startup (60s+)'"),
    "Connections per pod": (10.0, "connections/pod", "HikariCP maximumPoolSize default 10"),
    "DB max connections": (100.0, "connections", "PostgreSQL max_connections default 100"),
    "Base query time": (0.05, "s", "reference: the query 'normally took 50ms'"),
    "Request timeout": (1.0, "s", "assumption: payment client timeout 1 s (as retry_storm)"),
    "Max retries": (3.0, "retries", "hands-on exercise: 3 retries"),
    "Backoff on": (0.0, "0/1", "reference: payment retries without backoff (fix: 1)"),
    "Jitter": (0.0, "0/1", "reference: 'all instances retry simultaneously' (fix: 1)"),
    "Retry budget on": (0.0, "0/1", "fix: retries at most 10 % of requests"),
    "Breaker failure threshold": (0.5, "1", "reference: the breaker 'finally trips' late; "
                                  "fix: 0.2"),
    "Connection wait timeout": (30.0, "s", "HikariCP connectionTimeout default 30 s "
                                "(fix: 0.5 s, below the request timeout)"),
    "Pool cap": (100.0, "connections", "connections all pods together may open; fix: 44, "
                 "the database's best concurrency (USL peak sqrt((1 - sigma) / kappa))"),
    "HPA connection limit on": (0.0, "0/1", "fix: never more pods than the database can give "
                                "connections to (DB max connections / connections per pod)"),
    "Load shedding on": (0.0, "0/1", "reference Part 1.2 'Rate limiting: too many requests -> "
                         "reject excess -> manageable load' (fix: 1)"),
    "Admission limit": (300.0, "req/s", "fix: the database's measured capacity, the USL peak "
                        "44 / (0.05 x 2.81) = 313 q/s, less 4 % margin"),
    "Shedding queue time": (0.25, "s", "fix: the payment queue holds at most 0.25 s of work "
                            "and rejects the rest at once (429), well below the 1 s timeout"),
}

FIXES = {"Backoff on": 1.0, "Jitter": 1.0, "Retry budget on": 1.0,
         "Connection wait timeout": 0.5, "Pool cap": 44.0, "HPA connection limit on": 1.0,
         "Load shedding on": 1.0, "Breaker failure threshold": 0.2}

KEY_OUTPUTS = ["Traffic", "DB connections in use", "Query time", "Offered load", "Goodput",
               "Pods"]


def build(**overrides) -> Model:
    """The Black Friday model; keyword overrides replace parameters' defaults by name."""
    m = Model("black_friday", start=0, stop=3600, dt=0.05, saveper=5, time_units="second",
              doc="Black Friday 10:40-11:40: traffic ramp, slow query, retries, autoscaler, "
                  "shared connection pool")
    c = m.parameters(PARAMETERS, overrides)

    mult = m.aux("Traffic multiplier", minimum(c["Peak traffic"], c["Traffic at 10:47"]
                                               + c["Traffic growth"] * (m.time - 420) / 60),
                 units="x normal", doc="the only scripted input: demand ramps up")
    traffic = m.aux("Traffic", c["Normal traffic"] * mult, units="req/s")

    # -- autoscaler: pods requested (a stock), ready after the start-up delay -------------
    requested = m.stock("Pods requested", initial=c["Initial pods"], units="pods")
    ready = m.aux("Pods", delay_fixed(requested, c["Pod startup time"], c["Initial pods"]),
                  units="pods", doc="pods ready to serve (requested one start-up time ago)")
    cap_pods = m.aux("Pod ceiling", if_then_else(
        c["HPA connection limit on"] > 0,
        minimum(c["Max pods"], math.floor(c["DB max connections"] / c["Connections per pod"])),
        c["Max pods"]), units="pods")
    latency = Ref(canonical("Payments / Latency"))
    ratio = m.aux("HPA ratio", smooth(latency, c["HPA sync period"]) / c["Target latency"],
                  units="1", doc="observed latency / target, averaged over a sync period")
    desired = m.aux("HPA desired pods", sample_hold(minimum(cap_pods, if_then_else(
        abs(ratio - 1) <= c["HPA tolerance"], requested, math.ceil(requested * ratio))),
        c["HPA sync period"]), units="pods", doc="HPA rule, evaluated every sync period")
    m.flow("Scale up", maximum(0, desired - requested) / m.dt_expr, into=requested,
           units="pods/s", doc="scale-up only: scale-down waits out a 300 s window")

    # -- every pod opens its own pool against one database ------------------------------
    opened = m.aux("DB connections open", minimum(c["DB max connections"],
                                                  ready * c["Connections per pod"]),
                   units="connections")
    starved = m.aux("Starved share", maximum(0, 1 - c["DB max connections"] / (
        ready * c["Connections per pod"])), units="1",
        doc="share of pods (and of requests) that found no connection left")

    # -- load shedding: serve at most the database's capacity, reject the excess at once --
    shed = c["Load shedding on"]
    pod_cap = m.aux("Pod serving capacity", ready * c["Pod capacity"], units="req/s")
    serve_cap = m.aux("Serving capacity", if_then_else(
        shed > 0, minimum(pod_cap, c["Admission limit"]), pod_cap), units="req/s",
        doc="with load shedding, never more than the database can take")
    db_failfast = Ref(canonical("DB / Fail-fast fraction"))
    pay = m.module("payments", retry_storm.build(Capacity=1.0), display="Payments", inputs={
        "Arrival rate": traffic,
        "Capacity": serve_cap,
        "Queue limit": if_then_else(shed > 0, c["Shedding queue time"] * serve_cap,
                                     retry_storm.PARAMETERS["Queue limit"][0]),
        "Downstream latency": Ref(canonical("DB / Request latency")),
        "Downstream failure fraction": 1 - (1 - starved) * (1 - db_failfast),
        "Timeout": c["Request timeout"],
        "Max retries": c["Max retries"],
        "Backoff base": c["Backoff on"] * 1.0,
        "Exponential backoff": c["Backoff on"],
        "Jitter": c["Jitter"],
        "Retry budget on": c["Retry budget on"],
        "Circuit breaker on": 1.0,
        "Breaker failure threshold": c["Breaker failure threshold"],
        "Base latency": 0.005,
    })
    per_payment = conversion(m, "Queries per payment", "queries/req",
                             "a payment served by a pod with a connection runs one query")
    db = m.module("db", connection_pool.build(), display="DB", inputs={
        "Query rate": pay["Throughput"] * (1 - starved) * per_payment,
        "Pool size": minimum(opened, c["Pool cap"]),
        "Base query time": c["Base query time"],
        "Request timeout": c["Request timeout"],
        "Max retries": 0.0,
        "Connection wait timeout": c["Connection wait timeout"],
    })

    m.aux("DB connections in use", db["Connections in use"], units="connections")
    m.aux("Query time", db["Request latency"], units="s",
          doc="what a query costs the app: waiting for a connection + running it")
    m.aux("Offered load", pay["Offered load"], units="req/s")
    m.aux("Goodput", pay["Goodput"], units="req/s")

    pay_path = retry_storm.path("Payments")
    m.name_loop("Autoscaler grabs connections", [
        "Pods requested", "Pods", "Starved share", "Payments / Downstream failure fraction",
        "Payments / Server / Downstream failure fraction", *pay_path,
        *retry_storm.path("Payments", ["Server / Queue wait", "Server / Latency"]),
        "Payments / Latency", "HPA ratio", "HPA desired pods", "Scale up"])
    # the reference's root cause (R): slow query -> connections held -> pool fills -> waits
    # -> payment timeouts -> retries -> more queries waiting for connections
    to_db = [*retry_storm.path("Payments", ["Server / Utilization", "Server / Throughput"]),
             "Payments / Throughput", "DB / Query arrivals"]
    m.name_loop("Slow query holds connections", [
        "DB / Pool / Query arrivals", "DB / Pool / Waiting for connection", "DB / Pool / Connections acquired", "DB / Pool / Connections in use",
        "DB / Database / DB load", "DB / Database / DB slowdown", "DB / Database / Query time", "DB / Database / Hold time",
        "DB / Pool / Pool throughput limit", "DB / Pool / Wait time", "DB / Request latency",
        "Payments / Downstream latency", "Payments / Server / Downstream latency",
        "Payments / Server / Timeout fraction", *pay_path, *to_db])
    m.name_loop("Payment retries load the database", [
        "DB / Pool / Waiting for connection", "DB / Pool / Wait time", "DB / Request latency",
        "Payments / Downstream latency", "Payments / Server / Downstream latency",
        "Payments / Server / Timeout fraction", *pay_path, *to_db])
    m.add_scenario("baseline", {"Traffic growth": 0.0},
                   doc="3x traffic held flat: the system copes")
    m.add_scenario("trigger", {}, doc="the ramp of the reference: collapse within ~25 min")
    m.add_scenario("fixed", dict(FIXES), doc="the same ramp with the fixes on: it serves what "
                   "the database can take and sheds the rest")
    m.add_scenario("query indexed", {"Base query time": 0.01},
                   doc="the root cause removed (the query takes connection_pool's 10 ms), no "
                   "other fix: the database keeps up, but past 8 pods' capacity the autoscaler "
                   "adds pods beyond the 100 connections and the starved pods' failures, "
                   "retries and breaker still take the site down")
    return m

