"""Pod lifecycle: start-up until ready, crashes (OOM kills), restarts with CrashLoopBackOff.

The kubelet restarts a crashed container after a back-off of 10 s, doubled at every crash up
to 300 s (10, 20, 40, 80, 160, 300, 300 ...), and resets the back-off once the container has
run 10 minutes without crashing (Kubernetes docs, "Pod Lifecycle: container restarts").
Pods are tracked by how many times they crashed in a row ("Crash count", 0..6): a crash
moves a running pod to the back-off of the next count, a pipeline of exactly that delay
(`delay_fixed`), then through start-up ("Startup time", until the readiness probe passes)
back to running; running 10 minutes moves it back to count 0 (taken as a rate 1/600 s).
An evicted pod ("Eviction rate") is deleted, not restarted: the ReplicaSet replaces it with a
new pod that starts at crash count 0. A crash or eviction that is a decision rather than a
hazard (the OOM killer at a memory limit, an eviction above a threshold) comes in as "Crashed
now" / "Evicted now", the share of the running pods it removes in this step; like pod
creations and deletions it is moved whole at the step (`_wiring.at_step_start`), so Euler and
RK4 kill, create and delete the same pods. The ReplicaSet creates pods when "Desired replicas"
exceed the pods that exist and deletes pods when they fall below, in the order of its
controller's ranking (kubernetes/kubernetes `pkg/controller/controller_utils.go`,
`ActivePodsWithRanks.Less`: unscheduled before scheduled, pending before running, not ready
before ready, ..., more restarts before fewer, newer before older; the ReplicaSet docs'
"Scaling a ReplicaSet" list the same order):
first the new pods still starting, newest first, then running ones. A starting pod that is
deleted never becomes ready: the pods starting at crash count 0 leave the start-up pipeline
by a stack ("Start-up survivors"): the cohort created T ago becomes ready only in the part
of it that no later deletion reached, which is the lowest level the created-minus-deleted
count fell to since. Pods backing off (and restarting after a crash) are not deleted, a
simplification: the ranking would take them before the ready ones.

Two kinds of eviction come in, and only one of them asks a PodDisruptionBudget. "Eviction
rate" and the kubelet's node-pressure eviction ignore PDBs ("The kubelet does not respect your
configured PodDisruptionBudget", Kubernetes docs, "Node-pressure Eviction"). An API-initiated
eviction (kubectl drain, a descheduler, the VPA updater, an operator) is admitted one request
at a time: the API server answers 200 while the PDB's disruptionsAllowed (currentHealthy -
desiredHealthy; desiredHealthy = minAvailable, or the expected pods - maxUnavailable) is
above 0 and takes one from it, and 429 Too Many Requests otherwise, "you can attempt the
eviction again later" (Kubernetes docs, "API-initiated Eviction"; "Specifying a Disruption
Budget for your Application": "an eviction is allowed if at most maxUnavailable pods ... are
unavailable after the eviction"). A budget spans the pods of a deployment, not one pod, so it
is not an input of this part: the caller admits its "Evicted now" with `admit_evictions`.
"""
from __future__ import annotations

from sdmodels import Dim, Model, delay_fixed, maximum, minimum, rolling_min, sum_over

from sdmodels.expr import Ref

from library.parts._wiring import at_step_start


STAGES = 7                  # crash counts 0..6; from the 6th crash on the back-off stays 300 s
POD_ROUNDING = 1e-9         # pods: counts closer than this to a whole number are that number
BACKOFF = [min(10 * 2 ** (k - 1), 300) if k else 0 for k in range(STAGES)]

#: name -> (default, units, source)
PODS = {
    "Desired replicas": (3.0, "pods", "wired from the HPA or a deployment's replicas"),
    "Initial pods": (3.0, "pods", "assumption: the deployment's replicas, all running"),
    "Startup time": (30.0, "s", "assumption: container start until the readiness probe "
                     "passes (reference Part 2.3: pod startup 10-300 s)"),
    "Crash rate": (0.0, "1/s", "crashes per running pod per second, a hazard (segfaults, "
                   "failed liveness probes); 0 = none"),
    "Eviction rate": (0.0, "1/s", "evictions per running pod per second, a hazard no PDB "
                      "gates (the kubelet's node-pressure eviction): the pod is deleted and "
                      "the ReplicaSet creates a new one"),
    "Crashed now": (0.0, "1", "share of the running pods killed in this step, decided at its "
                    "start (the OOM killer at the memory limit); 0 = none"),
    "Evicted now": (0.0, "1", "share of the running pods evicted in this step, decided at its "
                    "start (an eviction above a threshold; API-initiated ones admitted by "
                    "`admit_evictions`); 0 = none"),
    "Backoff reset time": (600.0, "s", "kubelet: back-off reset after 10 min of running"),
}


def pod_lifecycle(*, deletions: bool = True, crashes: bool = True, evictions: bool = True,
                  **overrides) -> Model:
    """Pods of a deployment: start-up, crashes, CrashLoopBackOff restarts (10 s .. 300 s).

    Each option left off builds the part without paths a model does not use (the same
    numbers where it applies, and fewer loops in every model around it):
    `deletions=False` is for a replica count that never falls below the pods that exist (a
    fixed "Desired replicas", pods replaced only after an eviction): the ReplicaSet never
    deletes, so the part has no deletion flows and no start-up stack (every new pod is
    ready a start-up after its creation; 6 paths from a kill to the ready pods instead of
    27). `crashes=False`: pods that never crash (no "Crash rate", "Crashed now" and
    "Backoff reset time" inputs, no back-off; "Restart rate" is 0). `evictions=False`:
    pods never evicted (no "Eviction rate" and "Evicted now" inputs).
    """
    m = Model("pods", stop=1200, dt=0.5, time_units="second",
              doc="pods start, crash and restart with Kubernetes' CrashLoopBackOff")
    unused = (set() if crashes else {"Crash rate", "Crashed now", "Backoff reset time"}) | (
        set() if evictions else {"Eviction rate", "Evicted now"})
    c = m.inputs({k: v for k, v in PODS.items() if k not in unused}, overrides)
    dt = m.dt_expr
    crash = Dim("crash_count", STAGES)
    keys = [f"crash_count{k + 1}" for k in range(STAGES)]
    running = m.stock("Running pods", {k: c["Initial pods"] if i == 0 else 0
                                       for i, k in enumerate(keys)}, dims=[crash],
                      units="pods", non_negative=True)
    total_running = sum_over(running, crash)
    at_start = at_step_start(m, running)     # what a decision taken at the step removes whole
    starting = m.stock("Starting pods", 0, dims=[crash], units="pods")
    if crashes:
        crashed, restarts, backing = _crash_loop(m, c, crash, running, at_start)
        count = total_running + sum_over(backing, crash) + sum_over(starting, crash)
    else:
        restarts = dict.fromkeys(keys, 0.0)
        count = total_running + sum_over(starting, crash)
    pods = m.aux("Pods", count, units="pods", doc="pods that exist, ready or not")
    created = m.aux("Pods created", at_step_start(m, maximum(0, c["Desired replicas"] - pods))
                    / dt, units="pods/s")
    starting_in = m.aux("Starting", {
        k: (restarts[k] + created if crashes else created) if i == 0 else restarts[k]
        for i, k in enumerate(keys)}, dims=[crash], units="pods/s")
    m.flow("Start-ups", starting_in, into=starting, dims=[crash], units="pods/s")
    new_ready = _start_up_survivors(m, created, c["Startup time"]) if deletions else m.aux(
        "Start-up survivors", delay_fixed(created, c["Startup time"], 0), units="pods/s",
        doc="new pods ready now: all those created a start-up ago (nothing deletes them)")
    ready_now = m.aux("Becoming ready rate", {
        k: new_ready if i == 0 else delay_fixed(restarts[k], c["Startup time"], 0)
        if crashes else 0.0 for i, k in enumerate(keys)}, dims=[crash], units="pods/s")
    m.flow("Becoming ready", ready_now, out_of=starting, into=running, dims=[crash],
           units="pods/s")
    if deletions:
        _deletions(m, c, crash, count, running, starting, new_ready)
    if crashes:
        m.flow("Crashing out", crashed, out_of=running, dims=[crash], units="pods/s")
        removed = c["Crashed now"] + c["Evicted now"] if evictions else c["Crashed now"]
        staying = maximum(0, 1 - removed)                  # pods removed whole
        resets = m.aux("Back-off resets", {k: 0 if i == 0 else running[k] * staying / c[
            "Backoff reset time"] for i, k in enumerate(keys)}, dims=[crash], units="pods/s",
            doc="running 10 minutes without a crash (not the pods removed in this step)")
        m.flow("Resetting", {k: resets[k] if i else -sum_over(resets, crash)
                             for i, k in enumerate(keys)}, out_of=running, dims=[crash],
               units="pods/s", doc="back to crash count 0 (negative there: an inflow)")
    if evictions:
        m.flow("Evicting", running * c["Eviction rate"] + at_start * c["Evicted now"] / dt,
               out_of=running, dims=[crash], units="pods/s",
               doc="evicted pods are deleted; new ones replace them (crash count 0)")
    m.output(m.aux("Ready pods", total_running, units="pods"))
    m.output(pods)
    m.output(m.aux("Restart rate", sum_over(restarts, crash) if crashes else 0.0,
                   units="pods/s"))
    m.output(m.aux("Not ready pods", pods - total_running, units="pods"))
    return m


def _crash_loop(m: Model, c, crash: Dim, running, at_start):
    """Crashes (a hazard, and kills decided at the step's start) into CrashLoopBackOff:
    returns the crashes, the restarts after each back-off and the pods backing off."""
    keys = crash.elements
    backoff = m.aux("Back-off delay", dict(zip(keys, BACKOFF)), dims=[crash], units="s",
                    doc="kubelet CrashLoopBackOff: 10 s doubling to 300 s (fixed in the "
                    "kubelet, so not a parameter)")
    crashed = m.aux("Crashes", running * c["Crash rate"] + at_start * c["Crashed now"]
                    / m.dt_expr, dims=[crash], units="pods/s")
    into_backoff = m.aux("Entering back-off", {
        k: 0 if i == 0 else crashed[keys[i - 1]] + (crashed[k] if i == STAGES - 1 else 0)
        for i, k in enumerate(keys)}, dims=[crash], units="pods/s")
    restarts = m.aux("Restarts", delay_fixed(into_backoff, backoff, 0), dims=[crash],
                     units="pods/s", doc="containers restarted after their back-off")
    backing = m.stock("Backing off pods", 0, dims=[crash], units="pods")
    m.flow("Crashing", into_backoff, into=backing, dims=[crash], units="pods/s")
    m.flow("Restarting", restarts, out_of=backing, dims=[crash], units="pods/s")
    return crashed, restarts, backing


def _deletions(m: Model, c, crash: Dim, count, running, starting, new_ready) -> None:
    """The ReplicaSet's deletions: new pods still starting first, then running ones. They
    count the pods themselves, not through "Pods": the starting and running pods they read
    anyway would otherwise reach them by two paths each (twice the loops)."""
    dt, keys = m.dt_expr, crash.elements
    excess = maximum(0, count - c["Desired replicas"])
    first = minimum(excess, maximum(0, starting[keys[0]] - new_ready * dt))
    from_starting = m.aux("Starting pods deleted", at_step_start(m, first) / dt,
                          units="pods/s", doc="not-ready new pods deleted first "
                          "(ActivePodsWithRanks), the newest first")
    m.stock("Cumulative starting pods deleted", 0, units="pods",
            doc="for the start-up stack: how far deletions reached into the new pods")
    m.flow("Counting deletions", from_starting, into="Cumulative starting pods deleted",
           units="pods/s")
    m.flow("Deleting starting", if_first(keys, from_starting), out_of=starting,
           dims=[crash], units="pods/s")
    deleted = at_step_start(m, minimum(maximum(0, excess - starting[keys[0]]),
                                       running[keys[0]])) / dt
    m.flow("Deleting", if_first(keys, deleted), out_of=running, dims=[crash], units="pods/s")


def _start_up_survivors(m: Model, created, startup):
    """New pods becoming ready (pods/s): the cohort created `startup` ago, less what later
    deletions took from it. Deletions take the newest starting pods first (a stack): on the
    count N = created - deleted, the cohort created at s holds the places N(s) .. N(s + dt),
    and of it there survives the part below the lowest N since, min over [s + dt, t] of N,
    so max(0, that minimum - N(s)). (That minimum is at most N(s + dt), and the ReplicaSet
    never creates and deletes in one step, so the cohort's own size needs no reading.)"""
    dt = m.dt_expr
    made = m.stock("Cumulative pods created", 0, units="pods",
                   doc="for the start-up stack: pods created since the start")
    m.flow("Counting creations", created, into=made, units="pods/s")
    net = m.aux("Created less deleted while starting", made - Ref(
        "cumulative_starting_pods_deleted"), units="pods")
    lowest = rolling_min(net, maximum(0, startup - dt))
    return m.aux("Start-up survivors", at_step_start(m, maximum(
        0, lowest - delay_fixed(net, startup, 0))) / dt, units="pods/s",
        doc="new pods ready now: the cohort created a start-up ago that no deletion reached")


def admit_evictions(requests, allowed, keys) -> dict:
    """The eviction requests (0/1 per pod, made at one instant) a PodDisruptionBudget admits.

    The API server admits requests one at a time while disruptionsAllowed is above 0 and takes
    one from it with each (the pod joins the PDB's disruptedPods at once), and answers 429 to the
    rest: of the pods asked for at once, the first `allowed` (a count, disruptionsAllowed) in
    `keys` order are evicted, whatever the step. A refused caller asks again later (kubectl
    drain: "will retry after 5s"): a caller whose requests stand while their cause lasts (read from
    the state at every step) asks again at the next step, and is admitted once a replacement
    is ready and counts as healthy again. Returns ``{key: 0/1 expression}``.

    >>> from sdmodels import Dim, Model, run
    >>> m = Model("drain", stop=1, dt=1)
    >>> pods = Dim("pod", 3)
    >>> asked = m.constant("Asked", 1, dims=[pods])
    >>> _ = m.aux("Admitted", admit_evictions(asked, 3 - 2, pods.elements), dims=[pods])
    >>> run(m).filter(like="Admitted").iloc[0].tolist()     # 3 pods up, minAvailable 2
    [1.0, 0.0, 0.0]
    """
    admitted, asked_before = {}, 0.0
    for k in keys:
        admitted[k] = requests[k] * (asked_before + 1 <= allowed + POD_ROUNDING)
        asked_before = asked_before + requests[k]
    return admitted


def if_first(keys, value):
    """`value` in the first element (crash count 0), 0 in the others."""
    return {k: value if i == 0 else 0 for i, k in enumerate(keys)}


PARTS = [pod_lifecycle]
