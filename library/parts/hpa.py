"""The Kubernetes HorizontalPodAutoscaler as a part: the controller's algorithm on its clock.

As kube-controller-manager runs it (`pkg/controller/podautoscaler/horizontal.go` and
`replica_calculator.go`), every "Sync period" (15 s, --horizontal-pod-autoscaler-sync-period):

1. it reads a metric that left the workload a "Scrape interval" (metrics-server resolution,
   15 s) plus a "Metric pipeline delay" ago; the pipeline starts full of the metric's
   initial (steady-state) value, not 0, so a run does not begin with a spurious scale-down.
   A pod metric is the average over the "Metric window" ending at the scrape: metrics-server
   reports CPU as a rate over the container's cumulative usage counter (FAQ, "How CPU usage
   is calculated?"; its window is --metric-resolution, 15s in the released manifest
   components.yaml, the binary's own default 60 s), not the usage at the scrape
   instant, so a burst shorter than the window moves it by its share of the window. An
   External metric is read as its source reports it ("External metric window" 0: the value
   at the scrape), as a queue depth is;
2. the raw recommendation. A pod metric ("Metric kind" 0, e.g. CPU utilisation, given as the
   average over ready pods) counts ready pods only: ratio r = metric / target, desired =
   ceil(r x ready). When pods are not ready and r > 1, the replica calculator assumes they
   use 0 % ("rebalanceIgnored"): r' = r x ready / current, and it scales only if r' is still
   beyond the tolerance and above 1, to ceil(r' x current). An external metric ("Metric
   kind" 1, e.g. queue depth, given as a total) uses ratio = metric / (target x current),
   desired = ceil(metric / target). Within |ratio - 1| <= "Tolerance" (0.1) nothing changes.
   Which pods are "ready" (`groupPods`): a Pending pod is unready; a running pod without a
   metric yet is missing (0 on a scale-up, like an unready one); the Ready condition and
   the CPU initialization period are checked for the CPU resource only, so for any other
   metric a pod counts as soon as it runs and reports one, Ready or not. The pod metric
   is the plain mean of the counted pods' values (`GetMetricUsageRatio`), not weighted by
   their requests: wire "Ready pods" to the pods that report the metric;
3. stabilization: up only to the lowest recommendation of the last scaleUp window (default
   0 s), down only to the highest of the last scaleDown window (default 300 s); the replica
   count at the start counts as a recommendation (the controller records it first), so
   nothing scales down in the first 300 s;
4. rate policies per direction (Percent and Pods per periodSeconds, measured from the replica
   count at the start of the period, combined by selectPolicy 0 = Max, 1 = Min,
   2 = Disabled; scale-up default 100 % or 4 pods per 15 s, whichever is more; scale-down
   default 100 % per 15 s), then clamped to [minReplicas, maxReplicas].
"""
from __future__ import annotations

import math

from sdmodels import (Model, delay_fixed, if_then_else, maximum, minimum, rolling_max,
                      rolling_min, sample_hold)
from sdmodels.errors import ModelError
from sdmodels.expr import Ref

from library.parts._wiring import conversion


K8S = "Kubernetes HPA default"
_BIG = 1e9

#: name -> (default, units, source)
HPA = {
    "Metric": (50.0, "metric", "wired: the pod metric's average over ready pods (kind 0) or "
               "the external metric's total (kind 1)"),
    "Ready pods": (1.0, "pods", "wired from the pods: ready pods report the pod metric"),
    "Metric kind": (0.0, "1", "0 = pod metric (Resource/Pods), 1 = External/Object total"),
    "Target": (70.0, "metric", "the target per pod (averageUtilization 70 % as in reference "
               "Part 4.1, or averageValue)"),
    "Scrape interval": (15.0, "s", "metrics-server --metric-resolution default 15 s"),
    "Metric pipeline delay": (0.0, "s", "assumption: no lag beyond the scrape"),
    "Metric window": (15.0, "s", "metrics-server FAQ (kubernetes-sigs/metrics-server): CPU is "
                      "a rate over the cumulative usage counter, its window (the Metrics API's "
                      "`window`) the --metric-resolution, 15s in the released components.yaml; "
                      "0 = the value at the scrape"),
    "External metric window": (0.0, "s", "an External/Object metric as its source reports it "
                               "(a queue depth: the value at the scrape); > 0 averages it"),
    "Sync period": (15.0, "s", K8S + ": --horizontal-pod-autoscaler-sync-period=15s"),
    "Tolerance": (0.1, "1", K8S + ": --horizontal-pod-autoscaler-tolerance=0.1"),
    "minReplicas": (1.0, "pods", K8S + ": minReplicas 1"),
    "maxReplicas": (10.0, "pods", "assumption: maxReplicas has no default"),
    "Initial replicas": (1.0, "pods", "= minReplicas"),
    "scaleUp stabilizationWindowSeconds": (0.0, "s", K8S + ": 0"),
    "scaleUp selectPolicy": (0.0, "1", K8S + ": Max (0 = Max, 1 = Min, 2 = Disabled)"),
    "scaleUp Percent value": (100.0, "%", K8S + ": 100 % per 15 s"),
    "scaleUp Percent periodSeconds": (15.0, "s", K8S),
    "scaleUp Pods value": (4.0, "pods", K8S + ": 4 pods per 15 s"),
    "scaleUp Pods periodSeconds": (15.0, "s", K8S),
    "scaleDown stabilizationWindowSeconds": (300.0, "s", K8S + ": 300 s"),
    "scaleDown selectPolicy": (0.0, "1", K8S + ": Max (0 = Max, 1 = Min, 2 = Disabled)"),
    "scaleDown Percent value": (100.0, "%", K8S + ": 100 % per 15 s"),
    "scaleDown Percent periodSeconds": (15.0, "s", K8S),
    "scaleDown Pods value": (0.0, "pods", K8S + ": not listed (0 = not listed)"),
    "scaleDown Pods periodSeconds": (15.0, "s", K8S),
}


def hpa_controller(*, kind: str | None = None, averaged: bool = True, **overrides) -> Model:
    """The HPA: stale metric, replica calculator, stabilization, rate policies, bounds.

    `kind` "pod" or "external" builds the replica calculator for that metric kind alone
    (the "Metric kind" input is then not read): the same numbers for that kind, and one
    path from the metric to the replicas instead of two, so a model that includes the
    part has fewer loops. By default both are built and "Metric kind" chooses.
    `averaged=False` is for a metric that reaches the HPA already averaged (a Prometheus
    rate through prometheus-adapter): no window input and no window stock, so no second
    average and fewer paths (and loops) through the part.
    """
    if kind not in (None, "pod", "external"):
        raise ModelError(f"hpa_controller: kind {kind!r} is not a metric kind; give 'pod' "
                         "(Resource/Pods metrics), 'external' (External/Object) or None (both)")
    m = Model("hpa", stop=600, dt=1, time_units="second",
              doc="Kubernetes HorizontalPodAutoscaler, synced on its own clock")
    unread = ({"Metric window", "External metric window"} if not averaged else
              {"pod": {"External metric window"}, "external": {"Metric window"}}.get(kind, set()))
    c = m.inputs({k: v for k, v in HPA.items() if k not in unread}, overrides)
    initial, period, tol = c["Initial replicas"], c["Sync period"], c["Tolerance"]
    spec = Ref("spec_replicas")          # what the HPA last wrote, defined at the end
    current = m.aux("Current replicas", delay_fixed(spec, m.dt_expr, initial), units="pods",
                    doc="the scale's replicas as the HPA reads them at a sync")
    metric = c["Metric"]
    if averaged:
        window = (c["Metric window"] if kind == "pod" else c["External metric window"]
                  if kind == "external" else if_then_else(c["Metric kind"] > 0.5, c[
                      "External metric window"], c["Metric window"]))
        metric = _window_average(m, metric, window)
    seen = m.aux("Metric seen by HPA", delay_fixed(sample_hold(
        metric, c["Scrape interval"]), c["Metric pipeline delay"]), units="metric",
        doc="averaged over its window, scraped, then delayed; starts at the metric's initial "
        "value")
    ready = m.aux("Ready pods counted", minimum(delay_fixed(c["Ready pods"], m.dt_expr),
                                                current), units="pods",
                  doc="ready pods as listed at the sync (read one step back, as the replicas)")
    # 2. replica calculator
    one_pod = conversion(m, "Pod unit", "pods", "an External metric's AverageValue target "
                         "is per pod: the total target is target x replicas / 1 pod")
    external = None if kind == "pod" else m.aux("External recommendation", if_then_else(
        abs(seen * one_pod / (c["Target"] * current) - 1) <= tol, current,
        math.ceil(seen / c["Target"]) * one_pod), units="pods")
    r = m.aux("Usage ratio", seen / c["Target"], units="1", doc="ready pods' average / target")
    unready = current - ready
    r_all = m.aux("Usage ratio with unready pods at 0", r * ready / current, units="1")
    plain = if_then_else(abs(r - 1) <= tol, current, math.ceil(r * ready))
    rebalanced = if_then_else((abs(r_all - 1) <= tol) | (r_all < 1), current,
                              maximum(current, math.ceil(r_all * current)))
    pod = None if kind == "external" else m.aux("Pod metric recommendation", if_then_else(
        ready < 1, current, if_then_else((unready > 0) & (r > 1), rebalanced, plain)),
        units="pods")
    raw = m.aux("Raw recommendation", pod if external is None else external if pod is None
                else if_then_else(c["Metric kind"] > 0.5, external, pod), units="pods")
    # 3. stabilization over recommendations recorded at syncs (plus the initial count)
    recorded = m.aux("Recorded recommendation", sample_hold(raw, period), units="pods")
    # each window read once, so built once: before the window has passed, the initial count
    # takes part; after, a bound no recommendation reaches leaves the window's value as it is
    windows = {}
    for direction, roll, pick, past in (("scaleUp", rolling_min, minimum, _BIG),
                                        ("scaleDown", rolling_max, maximum, -_BIG)):
        w = c[f"{direction} stabilizationWindowSeconds"]
        windows[direction] = pick(roll(recorded, maximum(w - period, 0)),
                                  if_then_else(m.time < w, initial, past))
    stabilized = m.aux("Stabilized recommendation", minimum(
        maximum(current, windows["scaleUp"]), windows["scaleDown"]), units="pods")
    # 4. rate policies and bounds
    up = _rate_limit(m, "scaleUp", spec, current, c)
    down = _rate_limit(m, "scaleDown", spec, current, c)
    allowed_max = minimum(c["maxReplicas"], maximum(up, current))
    allowed_min = maximum(c["minReplicas"], minimum(down, current))
    normalized = if_then_else(stabilized > current, minimum(stabilized, allowed_max),
                              if_then_else(stabilized < current,
                                           maximum(stabilized, allowed_min), stabilized))
    decision = m.aux("HPA decision", if_then_else(
        current > c["maxReplicas"], c["maxReplicas"],
        if_then_else(current < c["minReplicas"], c["minReplicas"], normalized)), units="pods")
    m.aux("Spec replicas", sample_hold(decision, period), units="pods", initial=initial,
          doc="the replicas the HPA wrote at its last sync (the initial replicas at the start, "
          "so that parts fed by it can feed its metric)")
    for name in ("Spec replicas", "Metric seen by HPA", "Raw recommendation", "Usage ratio"):
        m.output(name)
    return m


def _window_average(m: Model, metric, window):
    """`metric` averaged over the last `window` seconds (its value when the window is 0), the
    time before the start taken at the metric's initial (steady-state) value.

    A moving average as a stock: it gains what enters the window and loses what leaves it,
    (metric - metric `window` ago) / window, and starts at the metric's initial value; under
    Euler it is the exact mean of the last round(window / dt) steps. The window is rounded to
    whole steps, as the pipeline of the leaving values is.
    """
    dt = m.dt_expr
    span = maximum(dt, math.floor(window / dt + 0.5) * dt)
    mean = m.stock("Metric averaged over window", metric, units="metric",
                   doc="the metric's mean over the window ending now, as metrics-server's "
                   "rate of a cumulative counter")
    m.flow("Metric window change", (metric - delay_fixed(metric, span)) / span, into=mean,
           units="metric/s", doc="what enters the window less what leaves it")
    return if_then_else(window > 0, mean, metric)


def _rate_limit(m: Model, direction: str, spec, current, c):
    """The replica limit of one direction's policies (controller: calculateScale*Limit)."""
    grow = direction == "scaleUp"
    listed, proposed = [], []
    for kind in ("Percent", "Pods"):
        value, period = c[f"{direction} {kind} value"], c[f"{direction} {kind} periodSeconds"]
        start = m.aux(f"{direction} {kind} period start replicas",
                      delay_fixed(spec, period, c["Initial replicas"]), units="pods",
                      doc="replicas at the start of the policy period")
        if kind == "Pods":
            proposed.append(start + value if grow else start - value)
        else:
            proposed.append(math.ceil(start * (1 + value / 100)) if grow else
                            math.floor(start * (1 - value / 100)))
        listed.append(value > 0)            # a policy not listed (value 0) never limits

    def pick(larger: bool):
        fn, neutral = (maximum, -_BIG) if larger else (minimum, _BIG)
        a, b = (if_then_else(on, x, neutral) for on, x in zip(listed, proposed))
        return fn(a, b)
    # selectPolicy Max means the largest change: the highest limit up, the lowest down
    most, least = (pick(True), pick(False)) if grow else (pick(False), pick(True))
    select = c[f"{direction} selectPolicy"]
    return m.aux(f"{direction} policy limit", if_then_else(
        select.eq(2), current, if_then_else(select.eq(1), least, most)), units="pods")


PARTS = [hpa_controller]
