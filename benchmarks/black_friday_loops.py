"""Loops of black_friday as built today and composed from library/parts, and which of the
story's loops lead the parts composition's `trigger` run.

Issue 10 asks for black_friday as a composition of parts; issue 11 needs it to have few
enough loops that `find_loops` lists them all (tests/test_library_common.py checks named
loops only when the listing is complete, 5,000 loops) and a trigger run whose named loops
take over in the reference's order (connections growing faster than traffic, retries, the
autoscaler grabbing connections). This script composes the story from the parts (traffic,
retry_client, circuit_breaker, server_pool or not, rate_limiter, connection_pool, database,
hpa_controller) by their ports and prints, for each variant, the number of loops (capped),
and with --dominance the named loops in the order they first led the change of
"DB connections in use" and of the database's query time in `trigger` (Loops That Matter,
`sdmodels.analysis.phases`; all three named loops pass through the query time).

Run: PYTHONPATH=. python benchmarks/black_friday_loops.py [--cap N] [--dominance]
Measured 2026-11-30 (2 shared cores), cap 100,000:

    as built                  100,000+        (the issue quotes 38,111 under another cap)
    parts, payment server     100,000+        (200,000+ with cap 200,000)
    parts, pool-limited        13,596         (payments = clients + breaker + shedding + pool)
    pool-limited, 1-path HPA    5,659

Loops multiply by the parallel paths inside every part a loop crosses: the server's Erlang C
and utilisation paths (x15), the breaker's state machine between "Calls" and "Admission
fraction" (x2.6), the HPA's recommendation, stabilization and policy branches (x2.4 over a
one-path rule), the starved share (x1.3). --dominance on the pool-limited variant (trigger,
HPA target 0.5 s): "Slow query holds connections" leads from 10:40 and is the only named loop
that leads for two reports in a row, on either variable. Among the named loops moving the
query time, the retry loop's share grows from 0.8 % (t = 900 s) to 9 % (1500 s; 5 % with
a 1 s timeout, the share past it is the exponential tail exp(-1 s / 0.14 s)); the autoscaler
loop's is 0. After the USL fold (~313 q/s, t ~ 1510 s) the pool fills
and its FIFO wait passes the 1 s timeout within ~10 s, the breaker (100 calls) trips in under
a second, and connections in use stay at the pool size, so the retry loop never leads the
change of connections in use, and the HPA chain (scrape sample, sync sample-and-hold,
start-up pipeline delay) scores 0 except in reports where all its discrete elements move.
With 4 initial pods (40 connections, below the USL peak 44) the fold is gentler, but the
breaker (100-call window, ~0.3 s at 300 calls/s) still trips within 10 s of the pool
filling, at 1525 s, and cycles open 30 s / closed a few seconds for the rest of the run;
the retry loop leads one report (1670 s), the autoscaler loop none. At 0.5 s resolution the
first collapse is a retry storm of 8 s: payment failures 0.5 % at 1520 s, retries arrive 1 s
after each timeout and add ~25 req/s at 1522.5 s, the pool's backlog starts at 1523 s and
failures reach 53 % at 1528 s, when the breaker trips. `takeover_order` wants two reports in
a row (10 s at saveper 5 s), which the storm does not last, while the HPA chain scores only
in reports that hold a sync (one in three at 5 s): no reporting interval lets both lead.
"""
from __future__ import annotations

import argparse
import math
import time
import warnings

from sdmodels import Model, delay3, delay_fixed, maximum, minimum, sample_hold
from sdmodels.analysis import find_loops

from library import black_friday
from library.parts.breaker import circuit_breaker
from library.parts.database import database
from library.parts.hpa import HPA, hpa_controller
from library.parts.pool import connection_pool
from library.parts.ratelimit import rate_limiter
from library.parts.retry import retry_client
from library.parts.server import server_pool
from library.parts.traffic import traffic

SLOW_QUERY = ["Pool / Connections in use", "Database / Queries in flight", "Database / DB load",
              "Database / DB slowdown", "Database / Query time", "Database / Hold time",
              "Pool / Hold time"]
RETRY = ["Pool / Connections acquired", *SLOW_QUERY, "Pool / Late share", "Pool / Failure share",
         "Payment failure fraction", "Clients / Failure fraction", "Clients / Failed attempts",
         "Clients / Retries wanted", "Clients / Retries issued", "Clients / Retries arriving",
         "Clients / Attempts sent", "Clients / Attempts", "Breaker / Calls",
         "Breaker / Permitted calls", "Shedding / Requests", "Shedding / Admitted",
         "Pool / Arrivals"]
AUTOSCALER = ["Pods", "Pool / Pool size", "Pool / Usable connections",
              "Pool / Pool throughput limit", "Pool / Connections acquired", *SLOW_QUERY,
              "Pool / Pool throughput limit", "Pool / Backlog wait", "Pool / Wait time",
              "Pool / Request latency", "Latency seen by HPA", "HPA / Metric",
              "HPA / Metric seen by HPA", "HPA / Usage ratio",
              "HPA / Pod metric recommendation", "HPA / Raw recommendation",
              "HPA / Recorded recommendation", "HPA / Stabilized recommendation",
              "HPA / HPA decision", "HPA / Spec replicas"]


def one_path_hpa(**overrides) -> Model:
    """An HPA with one path from metric to replicas (no tolerance, windows or policies)."""
    m = Model("hpa", stop=600, dt=1, time_units="second")
    p = m.inputs({k: HPA[k] for k in ("Metric", "Ready pods", "Target", "Sync period",
                                      "maxReplicas", "Initial replicas")}, overrides)
    seen = delay_fixed(p["Ready pods"] * p["Metric"], m.dt_expr, 1)
    m.output(m.aux("Spec replicas", sample_hold(minimum(p["maxReplicas"], math.ceil(
        seen / p["Target"])), p["Sync period"]), units="pods", initial=p["Initial replicas"]))
    return m


def build_from_parts(*, payment_server: bool = False, hpa_part=hpa_controller,
                     **overrides) -> Model:
    """black_friday's story wired from the parts' ports (the `trigger` ramp only).

    Pool-limited (default): the payment pods hold no queue of their own, a request's time is
    its connection wait + query; with `payment_server` the pods are a `server_pool` whose
    downstream is the pool (as black_friday's payments module is today)."""
    m = Model("black_friday_parts", stop=3600, dt=0.05, saveper=5, time_units="second")
    c = m.parameters(black_friday.PARAMETERS, overrides)
    normal, growth = c["Normal traffic"], c["Traffic growth"]
    demand = m.module("traffic", traffic(), display="Traffic source", inputs={
        "Base rate": normal * (c["Traffic at 10:47"] - growth * 7),
        "Ramp slope": normal * growth / 60})
    hpa = m.module("hpa", hpa_part(), display="HPA")
    spec = hpa.out["Spec replicas"]
    pods = m.aux("Pods", minimum(spec, delay3(spec, c["Pod startup time"], c["Initial pods"])),
                 units="pods")
    wanted = pods * c["Connections per pod"]
    starved = m.aux("Starved share", maximum(0, 1 - c["DB max connections"] / wanted), units="1")
    clients = m.module("clients", retry_client(), display="Clients", inputs={
        "Demand": demand.out["Rate"], "Failure delay": c["Request timeout"],
        "Max retries": c["Max retries"], "Backoff base": 0.0})
    cb = m.module("breaker", circuit_breaker(), display="Breaker", inputs={
        "Calls": clients.out["Attempts"], "Wait duration in open state": 30.0,
        "Permitted calls in half-open state": 3.0})
    clients.connect("Shed fraction", 1 - cb.out["Admission fraction"])
    limiter = m.module("shedding", rate_limiter(), display="Shedding", inputs={
        "Requests": cb.out["Permitted calls"], "Rate": 1e9, "Burst": 1e9})
    db = m.module("database", database(), display="Database",
                  inputs={"Base query time": c["Base query time"]})
    pool = m.module("pool", connection_pool(), display="Pool", inputs={
        "Hold time": db.out["Hold time"], "Pool size": minimum(wanted, c["Pool cap"]),
        "Max connections": c["DB max connections"], "Client timeout": c["Request timeout"],
        "Max waiting": 2000.0})
    db.connect("Queries in flight", pool.out["Connections in use"])
    failed = m.aux("Payment failure fraction",
                   1 - (1 - starved) * (1 - pool.out["Failure share"]), units="1")
    latency = pool.out["Request latency"]
    if payment_server:
        pay = m.module("payments", server_pool(), display="Payments", inputs={
            "Arrivals": limiter.out["Admitted"], "Service time": 0.005,
            "Workers": pods * c["Pod capacity"] * 0.005, "Timeout": c["Request timeout"],
            "Downstream latency": latency, "Downstream failure fraction": failed})
        pool.connect("Arrivals", pay.out["Throughput"] * (1 - starved))
        failed, latency = pay.out["Failure fraction"], pay.out["Latency"]
    else:
        pool.connect("Arrivals", limiter.out["Admitted"] * (1 - starved))
    cb.connect("Failure fraction", failed)
    clients.connect("Failure fraction", 1 - (1 - limiter.out["Rejected share"]) * (1 - failed))
    hpa.connect("Metric", m.aux("Latency seen by HPA", latency, units="metric"))
    hpa.connect("Target", m.aux("HPA target", c["Target latency"], units="metric"))
    hpa.connect("Ready pods", pods).connect("maxReplicas", c["Max pods"])
    m.aux("DB connections in use", pool.out["Connections in use"], units="connections")
    if not payment_server:
        m.name_loop("Slow query holds connections", SLOW_QUERY)
        m.name_loop("Payment retries load the database", RETRY)
        if hpa_part is hpa_controller:
            m.name_loop("Autoscaler grabs connections", AUTOSCALER)
    return m


def takeover(model, variable: str) -> str:
    """The named loops in the order they first led the change of `variable` in trigger."""
    from sdmodels.analysis.dominance import dominance
    from sdmodels.analysis.phases import takeover_order
    from sdmodels.ir import build
    order = takeover_order(dominance(build(model)), variable)
    return "; ".join(f"{r['name']} from {r['first']:g} s for {r['led']:g} s"
                     for _, r in order.iterrows())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cap", type=int, default=100_000, help="stop counting at this many")
    ap.add_argument("--dominance", action="store_true", help="also score the loops in trigger")
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    for label, model in (("as built", black_friday.build()),
                         ("parts, payment server", build_from_parts(payment_server=True)),
                         ("parts, pool-limited", build_from_parts()),
                         ("pool-limited, 1-path HPA", build_from_parts(hpa_part=one_path_hpa))):
        start = time.perf_counter()
        loops = find_loops(model, behaviour=False, max_loops=args.cap)
        more = "" if loops.complete else "+ (cap reached)"
        print(f"{label:26s} {len(loops):>8d}{more:16s} {time.perf_counter() - start:6.1f} s")
    if args.dominance:
        model = build_from_parts(**{"Target latency": 0.5})
        for variable in ("DB connections in use", "Database / Query time"):
            print(f"takeover of {variable} (pool-limited, HPA target 0.5 s):",
                  takeover(model, variable))


if __name__ == "__main__":
    main()
