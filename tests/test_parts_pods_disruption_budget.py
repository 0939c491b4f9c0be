"""PodDisruptionBudget admission (library/parts/pods.admit_evictions) against hand-worked drains.

Kubernetes docs, "API-initiated Eviction": the API server admits an eviction request while the
PDB's disruptionsAllowed (currentHealthy - desiredHealthy; minAvailable is desiredHealthy) is
above 0 and takes one from it; the other requests get 429 and the caller asks again later. So a
drain of 3 pods under minAvailable 2 evicts one pod, then the next only once that pod's
replacement is ready (after its start-up), never two at once, whatever the step.

Timing with the pods part (decisions taken at a step's start, `_wiring.at_step_start`): a pod
evicted at t is gone in the step from t; the ReplicaSet creates its replacement at the next
step, t + dt; it is ready a start-up later, t + dt + S, and counts as healthy for a decision
from the step after, t + S + 2 dt. So with S = 5 s and a drain from t = 10 s the evictions are
at 10, 15 + 2 dt and 20 + 4 dt (15 and 20 as dt -> 0).
"""
from functools import partial

import numpy as np
import pytest

from library.parts._wiring import at_step_start
from library.parts.pods import admit_evictions, pod_lifecycle
from sdmodels import Dim, Model, simulate as _simulate, sum_over

simulate = partial(_simulate, engine="interpreter")     # no numba compile
STARTUP = 5.0
DRAIN_AT = 10.0


def _drain(min_available: float, dt: float) -> Model:
    """Three one-replica deployments (pods part) under one PDB; from DRAIN_AT a drain asks to
    evict each original pod once, asking again at every step while refused (the replacements
    land on another node, so they are not asked for)."""
    top = Model("drain", stop=40, dt=dt, saveper=dt)
    pods = Dim("pod", 3)
    life = {e: top.module(e, pod_lifecycle(deletions=False, crashes=False, **{
        "Initial pods": 1, "Desired replicas": 1, "Startup time": STARTUP}))
        for e in pods.elements}
    ready = top.aux("Ready", {e: p.out["Ready pods"] for e, p in life.items()}, dims=[pods])
    evicted_so_far = top.stock("Evicted so far", 0, dims=[pods])
    asked = top.aux("Asked", (top.time >= DRAIN_AT) * (evicted_so_far < 0.5) * ready,
                    dims=[pods])
    allowed = top.aux("Disruptions allowed", sum_over(ready, pods) - min_available)
    admitted = top.aux("Admitted", admit_evictions(asked, allowed, pods.elements), dims=[pods])
    evict = top.aux("Evicted", at_step_start(top, admitted), dims=[pods])
    top.flow("Counting", evict / top.dt_expr, into=evicted_so_far, dims=[pods])
    top.aux("Healthy", sum_over(ready, pods))
    for e, p in life.items():
        p.connect("Evicted now", evict[e]).connect("Eviction rate", 0)
    return top


def _evictions(min_available, method, dt):
    res = simulate(_drain(min_available, dt), method=method,
                   outputs=["Evicted", "Healthy", "Evicted so far"])
    keys = [f"pod{i}" for i in (1, 2, 3)]
    per_step = sum(res[f"Evicted[{k}]"][0] for k in keys)
    return (res.times, per_step, res["Healthy"][0],
            np.array([res[f"Evicted so far[{k}]"][0][-1] for k in keys]))


SETTINGS = [("euler", 0.5), ("euler", 0.25), ("rk4", 0.5)]


@pytest.mark.parametrize("method, dt", SETTINGS)
def test_min_available_2_of_3_evicts_one_pod_at_a_time(method, dt):
    t, per_step, healthy, each = _evictions(2, method, dt)
    # one eviction per replacement's start-up, never two at once
    assert per_step.max() == pytest.approx(1, abs=1e-9)
    at = t[per_step > 0.5]
    assert at == pytest.approx([DRAIN_AT, DRAIN_AT + STARTUP + 2 * dt,
                                DRAIN_AT + 2 * (STARTUP + 2 * dt)], abs=1e-9)
    assert healthy.min() == pytest.approx(2, abs=1e-9)          # minAvailable held
    assert healthy[-1] == pytest.approx(3, abs=1e-9)            # all replaced in the end
    assert each == pytest.approx([1, 1, 1], abs=1e-9)           # each pod evicted once


@pytest.mark.parametrize("method, dt", SETTINGS)
def test_min_available_1_of_3_admits_two_at_once_then_the_third(method, dt):
    # disruptionsAllowed = 3 - 1 = 2: two of the three requests at 10 s pass, the third is
    # refused until a replacement is ready
    t, per_step, healthy, _ = _evictions(1, method, dt)
    at = t[per_step > 0.5]
    assert per_step[per_step > 0.5] == pytest.approx([2, 1], abs=1e-9)
    assert at == pytest.approx([DRAIN_AT, DRAIN_AT + STARTUP + 2 * dt], abs=1e-9)
    assert healthy.min() == pytest.approx(1, abs=1e-9)


def test_min_available_3_of_3_refuses_every_request():
    # disruptionsAllowed 0: every request gets 429, the drain never ends (kubectl drain
    # retries until its --timeout)
    _, per_step, healthy, each = _evictions(3, "euler", 0.5)
    assert np.all(per_step == 0) and np.all(healthy == 3) and np.all(each == 0)
