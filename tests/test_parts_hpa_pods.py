"""The HPA part against the controller's arithmetic (kube-controller-manager), and pod restarts."""
from functools import partial

import numpy as np
import pytest

from library.parts.hpa import hpa_controller
from library.parts.pods import pod_lifecycle
from sdmodels import Model, build, simulate as _simulate
from sdmodels.errors import ModelError

# the interpreter: no numba compile (tests/test_engine_interpreter.py checks the engines agree)
simulate = partial(_simulate, engine="interpreter")

UP_YAML = {"scaleUp Percent periodSeconds": 60, "scaleUp Pods periodSeconds": 60,
           "scaleDown Percent value": 10, "scaleDown Percent periodSeconds": 60}


@pytest.fixture(scope="module")
def stepped():
    """The HPA part (external metric) wired to a metric that drops at "Drop time"."""
    top = Model("hpa_test", stop=1200, dt=1)
    high, low = top.constant("High", 0.0), top.constant("Low", 0.0)
    drop = top.constant("Drop time", 1e9)
    hpa = top.module("hpa", hpa_controller(**{"Metric kind": 1, "Target": 200}), display="HPA")
    hpa.connect("Metric", high * (top.time < drop) + low)
    return build(top)


def _levels(kernel, **params):
    """Spec replicas, their distinct successive levels and the times."""
    res = simulate(kernel, params={k if k in ("High", "Low", "Drop time") else f"HPA / {k}": [v]
                                   for k, v in params.items()},
                   outputs=["HPA / Spec replicas"])
    spec = res["HPA / Spec replicas"][0]
    return spec, [spec[0]] + [b for a, b in zip(spec, spec[1:]) if b != a], res.times


@pytest.fixture(scope="module")
def pod_metric():
    """Pod metric (kind 0), ready pods and the metric as parameters."""
    return build(hpa_controller(**{"maxReplicas": 100}).with_time(stop=200))


def _spec(kernel, **params):
    res = simulate(kernel, params={k: [v] for k, v in params.items()},
                   outputs=["Spec replicas"])
    return res["Spec replicas"][0], res.times


def test_tolerance_band_keeps_the_count(pod_metric):
    # 3 ready pods at 75 % of a 70 % target: |75/70 - 1| = 0.07 <= 0.1, no change;
    # at 80 %: ceil(3 x 80 / 70) = ceil(3.43) = 4
    base = {"Initial replicas": 3, "minReplicas": 3, "Ready pods": 3}
    assert _spec(pod_metric, **base, Metric=75)[0].max() == 3
    assert _spec(pod_metric, **base, Metric=80)[0][-1] == 4


def test_unready_pods_count_as_zero_when_scaling_up(pod_metric):
    # 4 replicas, 2 ready at 140 % of 70 %: r = 2. Counting the 2 unready pods at 0 %,
    # r' = 2 x 2 / 4 = 1.0, within tolerance: stay at 4 (averaging over all 4 would ask 8).
    # At 210 %: r' = 3 x 2 / 4 = 1.5 -> ceil(1.5 x 4) = 6, then r' = 3 x 2 / 6 = 1: stay.
    base = {"Initial replicas": 4, "Ready pods": 2}
    assert _spec(pod_metric, **base, Metric=140)[0].max() == 4
    spec, _ = _spec(pod_metric, **base, Metric=210)
    assert spec.max() == 6 and spec[-1] == 6


def test_no_scale_down_at_start_and_300_s_default_window(stepped):
    # 8 replicas, external metric 0 (wants minReplicas 3): the pipeline starts at the
    # steady-state value and the initial count is a recommendation, so the default 300 s
    # scale-down window holds 8 until t = 300; the 100 %-per-15-s policy then allows 3 at once
    spec, _, t = _levels(stepped, **{"Initial replicas": 8, "minReplicas": 3})
    assert (spec[t < 300] == 8).all()
    assert (spec[t >= 315] == 3).all()


def test_scale_down_waits_300_s_after_the_last_high_recommendation(stepped):
    # a queue metric of 2,000 for 10 min (ceil(2000 / 200) = 10 pods), then 0: the highest
    # recommendation of the last 300 s stays 10 until 300 s after the drop at t = 600
    spec, _, t = _levels(stepped, **{"High": 2000, "Drop time": 600, "minReplicas": 2,
                                     "Initial replicas": 2})
    assert spec[(t > 100) & (t < 600)].min() == 10
    assert (spec[(t >= 600) & (t < 900)] == 10).all()
    assert spec[t >= 930].max() == 2


def test_rate_policies_follow_the_controller_arithmetic(stepped):
    # reference Part 4.1's behaviour block: scale-up Percent 100 and Pods 4 per 60 s, Max:
    # 3 -> max(6, 7) = 7 -> max(14, 11) = 14 -> 28 -> 56 -> maxReplicas 100. Scale-down
    # Percent 10 per 60 s (window 0 here): floor(90) = 90, floor(81) = 81, 72, 64.
    spec, levels, t = _levels(stepped, **{
        "High": 1e6, "Drop time": 400, "minReplicas": 3, "Initial replicas": 3,
        "maxReplicas": 100, "scaleDown stabilizationWindowSeconds": 0, **UP_YAML})
    # the first sync is at t = 0, so the first level saved is already 7
    assert levels[:5] == [7, 14, 28, 56, 100]
    assert levels[5:9] == [90, 81, 72, 64]
    ups = t[np.r_[False, np.diff(spec) > 0]]
    assert np.all(np.diff(ups[:5]) >= 60)                 # one step per 60 s period


def test_default_scale_up_is_100_percent_or_4_pods_per_15_s(stepped):
    # defaults: max(2 x current, current + 4) per 15 s: 1 -> 5 (at the t = 0 sync) -> 10 -> 20
    # -> 40 -> 80
    _, levels, _ = _levels(stepped, **{"High": 1e6, "maxReplicas": 1000})
    assert levels[:5] == [5, 10, 20, 40, 80]


def test_crash_loop_backoff_doubles_from_10_s_to_300_s():
    # one pod that crashes ~20 ms after it is ready (crash rate 50/s), start-up 1 s: the
    # kubelet restarts it after 10, 20, 40, 80, 160, 300, 300 s of back-off (Kubernetes
    # docs, container restart policy), so restarts begin at 10, then each previous + 1 s
    # start-up + back-off: 31, 72, 153, 314, 615, 916 (+ ~0.01 s per crash, within 0.1 s)
    part = pod_lifecycle(**{"Initial pods": 1, "Desired replicas": 1, "Crash rate": 50,
                            "Startup time": 1})
    res = simulate(part.with_time(dt=0.01, saveper=0.01, stop=1000),
                   outputs=["Restart rate", "Pods"])
    rate, t = res["Restart rate"][0], res.times
    on = t[rate > 1]
    starts = [on[0]] + [b for a, b in zip(on, on[1:]) if b - a > 1]
    assert starts == pytest.approx([10, 31, 72, 153, 314, 615, 916], abs=0.1)
    assert res["Pods"][0] == pytest.approx(1, abs=1e-9)       # the pod is never lost


@pytest.mark.parametrize("method, dt", [("euler", 0.5), ("euler", 0.25), ("rk4", 0.5)])
def test_a_decided_kill_or_eviction_moves_a_whole_pod_under_any_integrator(method, dt):
    # "Crashed now" at t = 10 (decided at the step's start): the pod is down from the next
    # step, backs off 10 s, starts for 5 s: ready again at 25 s. "Evicted now" at t = 40:
    # the pod is deleted, the ReplicaSet creates one the step after, ready 5 s later. A
    # flow of pods/dt read at every RK4 stage would move 62.5 % of a pod instead.
    from library.parts._wiring import at_step_start
    from sdmodels import pulse
    top = Model("one_pod", stop=60, dt=dt, saveper=0.5)
    pod = top.module("pod", pod_lifecycle(**{"Initial pods": 1, "Desired replicas": 1,
                                             "Startup time": 5}), display="Pod")
    pod.connect("Crashed now", at_step_start(top, pulse(10, dt / 2)))
    pod.connect("Evicted now", at_step_start(top, pulse(40, dt / 2)))
    res = simulate(top, method=method, outputs=["Pod / Ready pods", "Pod / Pods"],
                   engine="interpreter")
    t, ready, pods = res.times, res["Pod / Ready pods"][0], res["Pod / Pods"][0]
    assert ready[(t < 10) | ((t > 25.5 + dt) & (t < 40))] == pytest.approx(1, abs=1e-9)
    assert ready[(t > 10) & (t < 25)] == pytest.approx(0, abs=1e-9)
    assert pods[t < 40] == pytest.approx(1, abs=1e-9)        # crashed, not deleted
    assert ready[(t > 40) & (t < 45)] == pytest.approx(0, abs=1e-9)
    assert ready[t > 46 + dt] == pytest.approx(1, abs=1e-9)
    assert pods[t > 40 + 2 * dt] == pytest.approx(1, abs=1e-9)   # replaced by exactly one


@pytest.mark.parametrize("kind, metric_kind, params", [
    # pod metric: 3 ready pods at 140 % of a 70 % target ask ceil(3 x 2) = 6, then 12 ...
    ("pod", 0, {"Metric": 140.0, "Ready pods": 3.0, "Initial replicas": 3.0}),
    # external total 1000 against 200 per pod: ceil(1000 / 200) = 5 pods
    ("external", 1, {"Metric": 1000.0, "Target": 200.0, "Initial replicas": 2.0}),
])
def test_one_kind_part_scales_as_the_both_kinds_part(kind, metric_kind, params):
    # kind= builds one branch of the replica calculator: the same replicas, fewer paths
    both = hpa_controller(**{"Metric kind": metric_kind, "maxReplicas": 100, **params})
    one = hpa_controller(kind=kind, **{"maxReplicas": 100, **params})
    runs = [simulate(build(m.with_time(stop=120)), outputs=["Spec replicas"])["Spec replicas"][0]
            for m in (both, one)]
    assert runs[0].max() > params["Initial replicas"]
    np.testing.assert_array_equal(runs[0], runs[1])
    names = {e.display for e in one.elements.values()}
    assert ("External recommendation" in names) == (kind == "external")


def test_hpa_kind_must_be_pod_or_external():
    with pytest.raises(ModelError, match="kind 'cpu' is not a metric kind"):
        hpa_controller(kind="cpu")
