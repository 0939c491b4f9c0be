"""Eviction cascade: OOM kills move load onto survivors until the deployment collapses.

Reference: Part 3.4 ("The Eviction Cascade"): 10 pods share the traffic evenly, 400 MB each
at a 10 % share, limit 512 MB; a memory leak in pod 3 gets it OOM-killed, its load moves to
the other nine, their memory rises toward the limit, the next ones die, and each death
raises the load on the rest. Fixes from the same part: headroom between the working set and
the limit, a PodDisruptionBudget limiting concurrent evictions, and scaling out before pods
are evicted.

Mechanism. Each pod (a `Dim("pod", 10)` array) has its own memory: a working set that follows
the requests it holds in flight (Little's law: in-flight = utilization / (1 - utilization) for
a busy server, so memory rises steeply as a pod's share of the traffic grows), plus what a leak
has accumulated. Each pod's lifecycle is the `pods.pod_lifecycle` part (library/parts), one
module per pod, a deployment of one replica built without deletions (`deletions=False`: one
desired replica never falls below the pods that exist, so the ReplicaSet only replaces an
evicted pod; the same numbers, 969 loops instead of 3,619): a pod whose memory reaches "Memory limit" is OOM-killed (cgroup OOM killer,
never gated by a disruption budget) and the kubelet restarts its container after the
CrashLoopBackOff (10 s, doubling to 300 s with every crash in a row, reset after 10 minutes of
running), then "Pod startup time" until it is ready again with a fresh process; a pod above
the "Eviction threshold" is evicted through the Eviction API (an operator or the VPA updater
asking for a pod above a memory threshold: API-initiated evictions respect a PDB, Kubernetes
docs "API-initiated Eviction"; the kubelet's node-pressure eviction would not, and acts on
the node's memory, not a pod's), and the ReplicaSet replaces it with a new pod. The PDB
admits the requests one at a time while its disruptionsAllowed ("PDB maxUnavailable" less
the pods down) lasts and refuses the rest (429), which are asked again at the next step
(`pods.admit_evictions`): with maxUnavailable 1 one pod is evicted, and the next only once
its replacement is ready. Only
ready pods take traffic (readiness gating). Calibration: with 1,000 req/s and 125 req/s per
pod a 10 % share is 80 % utilization -> 4 requests in flight -> 310 + 25 x 4 = 410 MB (the
reference's 400 MB); one pod fewer is 88.9 % -> 8 in flight -> 510 MB (the reference's
490-510 MB), and with pods differing by +-5 % in memory per request the largest ones cross
512 MB, about 155 s after the first pod went down.

>>> from sdmodels import run
>>> df = run(build(), scenario="trigger", outputs=["Pods up"])
>>> int(df["Pods up"].min())
0
"""
from __future__ import annotations

import math

from sdmodels import (Dim, Model, delay_fixed, if_then_else, maximum, minimum, sample_hold,
                      sum_over)

from library.parts._wiring import at_step_start, conversion
from library.parts.pods import admit_evictions, pod_lifecycle

REF = "reference Part 3.4"
K8S = "Kubernetes docs"
N_PODS = 10
POD_ROUNDING = 1e-9     # pods: counts closer than this to a whole number are that number

# name: (default, units, source)
PARAMETERS: dict[str, tuple[float, str, str]] = {
    "Total traffic": (1000.0, "req/s", "assumed"),
    "Pod capacity": (125.0, "req/s/pod", "assumed: a 10 % share is 80 % utilization"),
    "Base memory": (310.0, "MB", "calibrated: 410 MB at a 10 % share (" + REF + ": 400 MB)"),
    "Memory per in-flight request": (25.0, "MB/request", "calibrated: 510 MB at 1/9 share ("
                                     + REF + ": 490-510 MB)"),
    "Memory spread between pods": (0.05, "1", "assumed: pods differ by +-5 % in memory per "
                                   "request (request mix, node)"),
    "Working-set response time": (60.0, "s", "assumed: heap growth and GC cycles"),
    "Memory limit": (512.0, "MB", REF),
    "Eviction threshold": (512.0, "MB", "API-initiated eviction above this (default: only the "
                           "OOM killer at the limit)"),
    "PDB maxUnavailable": (10.0, "pods", "no PodDisruptionBudget (all 10 may be down)"),
    "Leak rate": (0.0, "MB/s", "trigger scenario: 0.1 MB/s in pod 3 (" + REF + ")"),
    "Scale out before eviction": (0.0, "0/1", REF + " fix: add pods before, not after"),
    "Scale-out memory threshold": (450.0, "MB", "assumed: average memory ~88 % of the limit"),
    "Scale-out sync period": (15.0, "s", K8S + ": HPA sync period"),
    "Pod startup time": (180.0, "s", "reference Part 2.3: pod startup 10-300 s; 180 s: a JVM "
                         "service warming its caches. The cascade needs a killed pod away "
                         "longer than the survivors take to reach the limit (~155 s): with "
                         "60 or 120 s the restarted pod 3 is back in time"),
    "Max extra pods": (10.0, "pods", "assumed"),
    "Back-off reset time": (600.0, "s", K8S + ": the kubelet resets CrashLoopBackOff after "
                            "10 minutes of running"),
}
LEAKING = "pod3"
KEY_OUTPUTS = ["Pods up", "Served traffic", "Average pod memory", "Pods removed so far"]


def build(**overrides) -> Model:
    """The eviction-cascade model; keyword overrides set parameters by display name."""
    m = Model("eviction_cascade", start=0, stop=3600, dt=0.5, saveper=5, time_units="second",
              doc="OOM kills redistribute load to the survivors until the deployment collapses")
    c = m.parameters(PARAMETERS, overrides)
    pods = Dim("pod", N_PODS)
    spread = m.constant("Memory factor", {e: 1 + (2 * i / (N_PODS - 1) - 1) for i, e in
                                          enumerate(pods.elements)}, dims=[pods], units="1",
                        doc="-1 .. +1 across the pods, times 'Memory spread between pods'")
    leaky = m.constant("Leaking pod", {e: float(e == LEAKING) for e in pods.elements},
                       dims=[pods], units="0/1")
    lifecycle = pod_lifecycle(deletions=False)      # one part, included once per pod
    life = {e: m.module(e, lifecycle, display=f"Pod {i + 1}") for i, e in enumerate(pods.elements)}
    one_pod = conversion(m, "Pod unit", "pods", "a pod is up or not: 'Pod up' / 1 pod is a 0/1 "
                         "switch, and a 0/1 decision x 1 pod is pods")
    one_req = conversion(m, "Request unit", "requests", "M/M/1's rho / (1 - rho) counts "
                         "requests")
    up = m.aux("Pod up", {e: p.out["Ready pods"] for e, p in life.items()}, dims=[pods],
               units="pods", doc="ready: the pod takes traffic")

    # scale-out: +1 pod per HPA sync while the average memory is high, ready after startup
    requested = m.stock("Extra pods requested", 0, units="pods")
    serving = sum_over(up, pods)
    average = m.aux("Average pod memory", if_then_else(
        serving > POD_ROUNDING * one_pod, sum_over(up * "Memory", pods) / maximum(
            serving, 1e-9), 0), units="MB", doc="what a memory-based HPA sees (0 with no "
        "pod up, not the rounding noise of pods at 1e-15 over 1e-9)")
    asking = sample_hold(c["Scale out before eviction"] * (average >= c["Scale-out memory threshold"]),
                         c["Scale-out sync period"])
    m.flow("Scale-out requests", if_then_else(requested < c["Max extra pods"],
                                              asking * one_pod / c["Scale-out sync period"], 0),
           into=requested, units="pods/s")
    extra_ready = m.aux("Extra pods ready", math.floor(
        delay_fixed(requested, c["Pod startup time"], 0) + 1e-9), units="pods")

    # load sharing: every ready pod (and every extra pod) gets an equal share
    serving_named = m.aux("Original pods up", sum_over(up, pods), units="pods")
    rho_extra = c["Total traffic"] / maximum(serving_named + extra_ready, 1e-9) / c["Pod capacity"]
    in_flight_extra = minimum(rho_extra / maximum(1 - rho_extra, 0.01), 100) * one_req
    extra_ok = m.aux("Extra pods serving", if_then_else(
        c["Base memory"] + c["Memory per in-flight request"] * in_flight_extra < c["Memory limit"],
        extra_ready, 0), units="pods", doc="fresh extra pods, unless their share OOMs them too")
    total = m.aux("Pods up", serving_named + extra_ok, units="pods")
    share = m.aux("Load share", if_then_else(total > POD_ROUNDING * one_pod, up / maximum(
        total, 1e-9), 0), dims=[pods], units="1", doc="none while no pod is up (not the "
        "rounding noise of pods at 1e-16 over pods at 1e-15)")
    rho = m.aux("Utilization", share * c["Total traffic"] / (c["Pod capacity"] * one_pod),
                dims=[pods], units="1", doc="busy share of the pod: its traffic / its capacity")
    in_flight = m.aux("Requests in flight", minimum(rho / maximum(1 - rho, 0.01), 100) * one_req,
                      dims=[pods], units="requests", doc="M/M/1: rho / (1 - rho), capped at 100")
    target = m.aux("Working-set target", c["Base memory"] + c["Memory per in-flight request"] * (
        1 + c["Memory spread between pods"] * (spread - 1)) * in_flight, dims=[pods], units="MB")

    working = m.stock("Working set", target, dims=[pods], units="MB")
    leaked = m.stock("Leaked memory", 0, dims=[pods], units="MB")
    memory = m.aux("Memory", working + leaked, dims=[pods], units="MB")

    # removals: OOM kill at the limit (a container restart); eviction above the threshold
    # within the PDB (the pod is replaced). Both are decisions taken at the start of a step
    # from the memory then; they move whole pods in that step under any integrator
    # (library/parts/_wiring.at_step_start)
    is_up = up / one_pod
    oom = m.aux("OOM killed", at_step_start(m, is_up * (memory >= c["Memory limit"])),
                dims=[pods], units="0/1", doc="the OOM killer: a ready pod at the limit")
    down = m.aux("Pods unavailable", N_PODS - serving_named, units="pods")
    allowed = m.aux("Disruptions allowed", maximum(0, c["PDB maxUnavailable"] - down),
                    units="pods", doc="the PDB's disruptionsAllowed: currentHealthy - (10 - "
                    "maxUnavailable), from the ready pods at the step's start (a pod the OOM "
                    "killer takes at the same instant is not seen yet: the PDB's status "
                    "'may trail the actual state', Kubernetes API, PodDisruptionBudgetStatus)")
    asked = m.aux("Eviction requested", is_up * (memory >= c["Eviction threshold"]) * (
        memory < c["Memory limit"]), dims=[pods], units="0/1", doc="API-initiated: a ready "
        "pod above the threshold (one at the limit is the OOM killer's), asked again at every "
        "step while it stays above")
    admitted = m.aux("Eviction admitted", admit_evictions(asked, allowed / one_pod,
                                                          pods.elements), dims=[pods],
                     units="0/1", doc="the requests the PDB admits, one at a time "
                     "(library/parts/pods.admit_evictions); the others are refused (429)")
    evict = m.aux("Evicted", at_step_start(m, admitted), dims=[pods], units="0/1")
    for e, p in life.items():
        p.connect("Crashed now", oom[e]).connect("Evicted now", evict[e])
        p.connect("Crash rate", 0).connect("Eviction rate", 0)      # decided, not hazards
        p.connect("Startup time", c["Pod startup time"]).connect("Initial pods", 1)
        p.connect("Desired replicas", 1).connect("Backoff reset time", c["Back-off reset time"])
    gone = oom + evict                      # 0 or 1: at most one of them, for a ready pod
    kills = m.aux("Pods removed", gone * one_pod / m.dt_expr, dims=[pods], units="pods/s",
                  doc="OOM kills and evictions")
    m.flow("Working set change", is_up * (target - working) / c["Working-set response time"],
           into=working, dims=[pods], units="MB/s")
    m.flow("Memory freed by restart", kills / one_pod * (at_step_start(m, working) - c["Base memory"]),
           out_of=working, dims=[pods], units="MB/s", doc="a fresh process starts from the base")
    m.flow("Leak", is_up * leaky * c["Leak rate"], into=leaked, dims=[pods], units="MB/s")
    m.flow("Leak freed by restart", kills / one_pod * at_step_start(m, leaked), out_of=leaked,
           dims=[pods], units="MB/s")
    m.aux("Served traffic", minimum(c["Total traffic"], total * c["Pod capacity"]), units="req/s")
    removed = m.stock("Pods removed so far", 0, units="pods")
    m.flow("Removals", sum_over(kills, pods), into=removed, units="pods/s")

    m.name_loop("Eviction cascade (R)", ["Pod up", "Pods up", "Load share", "Utilization",
                                         "Requests in flight", "Working-set target",
                                         "Working set", "Memory", "OOM killed",
                                         f"{LEAKING} / Crashes"])
    m.name_loop("Scale out (B)", ["Average pod memory", "Extra pods requested",
                                  "Extra pods ready", "Pods up", "Load share", "Memory"])

    leak = {"Leak rate": 0.1}
    headroom = {"Memory limit": 640.0, "Eviction threshold": 600.0}
    pdb = {"PDB maxUnavailable": 1.0, "Eviction threshold": 480.0}
    scale = {"Scale out before eviction": 1.0}
    m.add_scenario("baseline", {}, doc="no leak: 10 pods at ~410 MB, nothing happens")
    m.add_scenario("trigger", leak, doc="a 0.1 MB/s leak in pod 3: OOM kill, then the cascade")
    m.add_scenario("fix_headroom", {**leak, **headroom},
                   doc="limit 640 MB (25 % over the 9-pod working set of ~510 MB)")
    m.add_scenario("fix_disruption_budget", {**leak, **pdb},
                   doc="PDB maxUnavailable 1 on evictions at 480 MB (OOM kills ignore PDBs)")
    m.add_scenario("fix_scale_out", {**leak, **scale},
                   doc="add pods while the average pod memory is above 450 MB")
    m.add_scenario("fixed", {**leak, **headroom, **pdb, "Eviction threshold": 600.0, **scale},
                   doc="headroom + disruption budget + scale out before eviction")
    return m
