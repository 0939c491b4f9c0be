"""HPA autoscaler: a Kubernetes HorizontalPodAutoscaler acting on a stale queue-depth metric.

Reference: Part 2.2 ("Autoscaler oscillation") and its war story "The Autoscaler That
Destroyed Itself", the delay inventory of Part 2.3, and Part 4.1's HPA YAML with its
`behavior` block. The controller is modelled as the real one works (kube-controller-manager
`pkg/controller/podautoscaler/horizontal.go` and `replica_calculator.go`), step by step on
its own clock:

1. every "HPA sync period" (default 15 s, `--horizontal-pod-autoscaler-sync-period`) it reads a
   metric that left the workload a "Scrape interval" plus a "Metric pipeline delay" ago;
2. raw recommendation = ceil(metric / target), unless |metric / (target x current) - 1| <=
   "HPA tolerance" (0.1), in which case it keeps the current count;
3. stabilization: it scales up only to the lowest recommendation of the last
   `scaleUp stabilizationWindowSeconds`, down only to the highest of the last
   `scaleDown stabilizationWindowSeconds`;
4. rate policies: per direction, a Percent and a Pods policy over their `periodSeconds`,
   measured from the replica count at the start of the period, combined by `selectPolicy`
   (0 = Max, 1 = Min, 2 = Disabled); then clamped to [minReplicas, maxReplicas].

Pods become ready a "Pod startup time" after the HPA asks for them. Every pod opens
"DB connections per pod" (3, the story); the database accepts "DB connection pool size"
connections (100, the story's pool max and PostgreSQL's max_connections default), so pods
beyond floor(100 / 3) = 33 are refused ("sorry, too many clients already"), fail their
readiness checks and serve nothing, and retry their connections. Each attempt, refused or
not, makes PostgreSQL fork and set up a backend ("Connection setup time", 20 ms: TCP, TLS,
SCRAM authentication and session setup take 10-30 ms on a LAN), all of it counted as
database CPU (an upper bound), out of the cores a pool of that size is sized for (PostgreSQL
wiki: connections = cores x 2 + effective spindles). The CPU the storm takes is taken from
the queries (as if the database were saturated: again an upper bound). With these
documented values the storm costs 3 x failing pods / 1 s x 20 ms of CPU: 0.06 cores per
failing pod, so the overshoot wastes pods but does not break the database; it would take
the database's throughput below the 80 msg/s burst only with more than 0.76 x 49.5 / 0.06
~ 630 failing pods (or a database of under 0.08 cores per failing pod). The story's
collapse ("400+ pods", the node autoscaler adding nodes) is not reproduced: it needs numbers
the story does not give.

Parameters carry the names of the HPA YAML fields (`minReplicas`, `scaleUp Pods value`, ...),
so a manifest's numbers go straight in; `hpa_overrides(spec)` converts a parsed manifest.

>>> from sdmodels import run
>>> df = run(build(), scenario="trigger", outputs=["Spec replicas", "Failing pods"])
>>> int(df["Spec replicas"].max()) > 24, int(df["Failing pods"].max()) > 0
(True, True)
"""
from __future__ import annotations

import math
from typing import Mapping

from sdmodels import Model, delay_fixed, if_then_else, maximum, minimum, step

from library.parts._wiring import conversion, part_parameters
from library.parts.hpa import HPA, hpa_controller

STORY = "reference Part 2.3 war story"
YAML = "reference Part 4.1 HPA YAML"

#: the HPA part's inputs this model sets, under the names its README table has always used
RENAMED = {"Sync period": "HPA sync period", "Tolerance": "HPA tolerance"}
#: the part's inputs wired from the model's own elements, not parameters
WIRED = ("Metric", "Ready pods", "Metric kind", "Target")


def hpa_parameters(story: Mapping[str, tuple[float, str]]) -> dict[str, tuple[float, str, str]]:
    """The HPA part's parameter table (Kubernetes' defaults and their sources), renamed where
    this model's names differ, with `story`'s (default, source) in place of the part's."""
    return part_parameters(HPA, names=RENAMED, story=story, skip=WIRED)


# name: (default, units, source)
PARAMETERS: dict[str, tuple[float, str, str]] = {
    # workload
    "Base arrival rate": (20.0, "msg/s", "assumed: normal load that 2 pods could serve"),
    "Burst extra arrival rate": (0.0, "msg/s", "trigger scenario: +60 -> 80 msg/s, 'a queue "
                                 "that 8 pods could handle' (Part 2.3)"),
    "Burst start": (120.0, "s", "assumed"),
    "Burst duration": (900.0, "s", "assumed: a 15-minute burst of orders"),
    "Processing rate per pod": (10.0, "msg/s/pod", "assumed: 8 pods x 10 = 80 msg/s"),
    # metric pipeline and controller: the HPA part's table, with this story's values
    **hpa_parameters({
        "Scrape interval": (30.0, STORY + ": 'scraped by Prometheus every 30 seconds'"),
        "Metric pipeline delay": (90.0, STORY + ": 1-minute aggregation plus adapter lag; "
                                  "with the scrape, 'about 2 minutes'"),
        "minReplicas": (3.0, YAML),
        "maxReplicas": (500.0, STORY + ": '400+ pods' at the peak"),
        "Initial replicas": (3.0, "= minReplicas"),
    }),
    "Metric type": (1.0, "1", STORY + ": queue-depth metric (0 = CPU utilization, 1 = queue depth)"),
    "averageValue": (200.0, "msg/pod", "assumed: External metric target per pod (20 s of "
                     "work); a queue growing 50 msg/s then adds 50 x 15 / 200 ~ 4-5 pods a sync"),
    "averageUtilization": (70.0, "%", YAML),
    # pods and database
    "Pod startup time": (60.0, "s", "Part 2.3 delay inventory: pod startup 10-300 s"),
    "DB connections per pod": (3.0, "connections/pod", STORY),
    "DB connection pool size": (100.0, "connections", STORY + ": 'connection pool max was "
                                "100' (= PostgreSQL max_connections default 100)"),
    "Connection retry interval": (1.0, "s", "assumed: a failing pod retries its connections "
                                  "every second (aggressive: an upper bound on the storm)"),
    "Connection setup time": (0.020, "s", "PostgreSQL forks and sets up a backend per "
                              "connection attempt: TCP, TLS, SCRAM authentication and session "
                              "setup take 10-30 ms on a LAN; all counted as database CPU (an "
                              "upper bound)"),
    "Effective spindle count": (1.0, "connections", "PostgreSQL wiki 'Number Of Database "
                                "Connections': connections = cores x 2 + effective spindles "
                                "(1 for an SSD-backed database)"),
    # fixes (switches and values; the fixed scenario sets them)
    "Connection limit as constraint": (0.0, "0/1", STORY + " fix 3: pods limited to "
                                       "pool / connections per pod"),
}

SELECT = {"Max": 0.0, "Min": 1.0, "Disabled": 2.0}


def hpa_overrides(spec: Mapping) -> dict[str, float]:
    """Parameter overrides from an HPA manifest (the parsed YAML, whole or just `spec`).

    >>> hpa_overrides({"spec": {"minReplicas": 3, "behavior": {"scaleUp": {
    ...     "selectPolicy": "Min", "policies": [{"type": "Pods", "value": 4,
    ...     "periodSeconds": 60}]}}}})["scaleUp Pods value"]
    4.0
    """
    spec = spec.get("spec", spec)
    out: dict[str, float] = {}
    for key in ("minReplicas", "maxReplicas"):
        if key in spec:
            out[key] = float(spec[key])
    for metric in spec.get("metrics", []):
        target = (metric.get("resource") or metric.get("external") or metric.get("object")
                  or metric.get("pods") or {}).get("target", {})
        if "averageUtilization" in target:
            out["averageUtilization"] = float(target["averageUtilization"])
            out["Metric type"] = 0.0
        if "averageValue" in target:
            out["averageValue"] = float(target["averageValue"])
            out["Metric type"] = 1.0
    for direction in ("scaleUp", "scaleDown"):
        rules = (spec.get("behavior") or {}).get(direction)
        if rules is None:
            continue
        if "stabilizationWindowSeconds" in rules:
            out[f"{direction} stabilizationWindowSeconds"] = float(rules["stabilizationWindowSeconds"])
        if "selectPolicy" in rules:
            out[f"{direction} selectPolicy"] = SELECT[rules["selectPolicy"]]
        if "policies" in rules:
            out[f"{direction} Percent value"] = out[f"{direction} Pods value"] = 0.0
            for policy in rules["policies"]:
                out[f"{direction} {policy['type']} value"] = float(policy["value"])
                out[f"{direction} {policy['type']} periodSeconds"] = float(policy["periodSeconds"])
    return out


SEED_YAML = {"minReplicas": 3, "maxReplicas": 100, "metrics": [
    {"type": "Resource", "resource": {"name": "cpu", "target": {
        "type": "Utilization", "averageUtilization": 70}}}],
    "behavior": {
        "scaleDown": {"stabilizationWindowSeconds": 300, "policies": [
            {"type": "Percent", "value": 10, "periodSeconds": 60}]},
        "scaleUp": {"stabilizationWindowSeconds": 60, "selectPolicy": "Max", "policies": [
            {"type": "Percent", "value": 100, "periodSeconds": 60},
            {"type": "Pods", "value": 4, "periodSeconds": 60}]}}}



def pool_maxed(c):
    """Pods the database's pool can give their connections to."""
    return math.floor(c["DB connection pool size"] / c["DB connections per pod"])


def build(**overrides) -> Model:
    """The HPA war-story model; keyword overrides set parameters by display name."""
    m = Model("hpa_autoscaler", start=0, stop=3600, dt=1, saveper=5, time_units="second",
              doc="Kubernetes HPA on a stale queue metric; the overshoot outgrows the "
              "database's connections")
    c = m.parameters(PARAMETERS, overrides)
    hpa = m.module("hpa", hpa_controller(), display="HPA")
    spec = m.aux("Spec replicas", hpa.out["Spec replicas"], units="pods")

    # workload and queue
    arrivals = m.aux("Arrival rate", c["Base arrival rate"] + c["Burst extra arrival rate"] * (
        step(1, c["Burst start"]) - step(1, c["Burst start"] + c["Burst duration"])),
        units="msg/s")
    queue = m.stock("Queue depth", 0, units="msg", non_negative=True)
    m.flow("Arrivals", arrivals, into=queue, units="msg/s")

    # pods: ready a start-up time after the HPA asks; beyond the pool they get no connection
    started = m.aux("Started pods", minimum(spec, delay_fixed(spec, c["Pod startup time"],
                                                              c["Initial replicas"])), units="pods")
    served = m.aux("Pods with DB connections", minimum(spec, pool_maxed(c)), units="pods")
    ready = m.aux("Ready pods", minimum(started, served), units="pods")
    failing = m.aux("Failing pods", spec - served, units="pods",
                    doc="pods that cannot get their connections: fail health checks, retry")
    m.aux("DB connections demanded", spec * c["DB connections per pod"], units="connections")
    attempts = m.aux("Connection attempts", failing * c["DB connections per pod"]
                     / c["Connection retry interval"], units="connections/s",
                     doc="connections the failing pods try to open")
    per_core = conversion(m, "Connections per core", "connections/cores", "the PostgreSQL "
                          "wiki's sizing: 2 connections per core", value=2.0)
    per_conn = conversion(m, "Cores per setup", "cores/connections", "a backend in setup "
                          "runs on one core")
    cores = m.aux("DB CPU cores", (c["DB connection pool size"] - c["Effective spindle count"])
                  / per_core, units="cores", doc="the cores a pool of this size is sized for "
                  "(PostgreSQL wiki: connections = cores x 2 + effective spindles)")
    storm = m.aux("DB cores in connection setup", attempts * c["Connection setup time"]
                  * per_conn, units="cores", doc="Little's law: attempts/s x setup time, each "
                  "setup a forked backend on a core")
    health = m.aux("DB query capacity factor", maximum(0, 1 - storm / cores), units="1",
                   doc="share of the database's CPU left to queries under the connection "
                   "storm (as if it were saturated: an upper bound on the harm)")
    capacity = m.aux("Processing capacity", ready * c["Processing rate per pod"] * health,
                     units="msg/s")
    processing = m.flow("Processing", minimum(queue / m.dt_expr + arrivals, capacity),
                        out_of=queue, units="msg/s")
    percent = conversion(m, "Percent per whole", "%", "100 % = 1", value=100.0)
    util = m.aux("CPU utilization", percent * processing / maximum(capacity, 1e-9), units="%",
                 doc="busy workers / workers: a request blocked on the database keeps its "
                 "worker busy, so this is processing / capacity at the current DB health")

    # the HPA reads the queue (External, total) or the ready pods' average utilisation
    external = c["Metric type"] > 0.5
    # the HPA's metric is unit-agnostic ('metric'): the queue's messages or the CPU's percent
    per_msg = conversion(m, "Metric per message", "metric/msg", "the External metric counts "
                         "messages")
    per_pct = conversion(m, "Metric per percent", "metric/%", "the pod metric is in percent")
    one_pod = conversion(m, "Pod unit", "pods", "the HPA's Target is per pod for either kind")
    hpa.connect("Metric", if_then_else(external, queue * per_msg, util * per_pct))
    hpa.connect("Metric kind", c["Metric type"])
    hpa.connect("Target", if_then_else(external, c["averageValue"] * per_msg * one_pod,
                                       c["averageUtilization"] * per_pct))
    hpa.connect("Ready pods", ready)
    hpa.connect("maxReplicas", if_then_else(c["Connection limit as constraint"] > 0.5,
                                            minimum(c["maxReplicas"], pool_maxed(c)),
                                            c["maxReplicas"]))
    for name in HPA:
        if name not in WIRED and name != "maxReplicas":
            hpa.connect(name, c[RENAMED.get(name, name)])

    m.name_loop("HPA scaling (B)", ["Spec replicas", "Started pods", "Ready pods", "Processing", "Queue depth",
                                   "HPA / Metric seen by HPA", "HPA / Raw recommendation"])
    m.name_loop("Connection storm slows the database (R)", [
        "Spec replicas", "Failing pods", "Connection attempts", "DB cores in connection setup",
        "DB query capacity factor",
        "Processing", "Queue depth", "HPA / Metric seen by HPA", "HPA / Raw recommendation"])

    burst = {"Burst extra arrival rate": 60.0}
    fix_sync = {"HPA sync period": 180.0}
    fix_windows = {"scaleUp stabilizationWindowSeconds": 60.0,
                   "scaleDown stabilizationWindowSeconds": 300.0}
    fix_pool = {"Connection limit as constraint": 1.0}
    m.add_scenario("baseline", {}, doc="steady 20 msg/s: 3 pods, nothing happens")
    m.add_scenario("trigger", burst, doc="a burst to 80 msg/s: stale metric, overshoot "
                   "past the database's connections, a connection storm (no collapse)")
    m.add_scenario("fix_sync_period", {**burst, **fix_sync},
                   doc="fix 1: evaluation interval (180 s) above the metric delay (~120 s)")
    m.add_scenario("fix_stabilization", {**burst, **fix_windows},
                   doc="fix 2: stabilization windows (up 60 s, down 300 s, as in Part 4.1)")
    m.add_scenario("fix_connection_limit", {**burst, **fix_pool},
                   doc="fix 3: replicas capped at pool / connections per pod")
    m.add_scenario("fixed", {**burst, **fix_sync, **fix_windows, **fix_pool},
                   doc="all three fixes of the war story")
    m.add_scenario("seed_yaml", {**burst, **hpa_overrides(SEED_YAML), "Scrape interval": 15.0,
                                 "Metric pipeline delay": 15.0},
                   doc="the reference's HPA YAML (CPU 70 %, min 3, max 100, behavior block) "
                   "on the same burst; metrics-server resolution 15 s")
    return m
