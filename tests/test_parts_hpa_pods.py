"""The HPA part against the controller's arithmetic (kube-controller-manager), and pod restarts."""
from functools import partial

import numpy as np
import pytest

from library.parts.hpa import hpa_controller
from library.parts.pods import pod_lifecycle
from sdmodels import Model, build, if_then_else, simulate as _simulate
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


def test_each_stabilization_window_is_built_once():
    """Each window is read once, so its rolling extreme is one element (read in both branches
    of if_then_else(time < window, min(held, initial), held), each direction built two)."""
    from collections import Counter
    kinds = Counter(type(v).__name__ for v in build(hpa_controller()).variables.values())
    assert kinds["Rolling"] == 2                   # the scale-up lowest, the scale-down highest


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


@pytest.fixture(scope="module")
def square_wave():
    """The pod-metric HPA fed 70 % (the target) for 5 s, then a square wave: "High" for the
    first "On" s of every 5 s, then 0."""
    from sdmodels import modulo
    top = Model("square", stop=120, dt=0.5)
    high, on = top.constant("High", 140.0), top.constant("On", 2.5)
    hpa = top.module("hpa", hpa_controller(kind="pod", **{
        "Target": 70, "Initial replicas": 3, "minReplicas": 3, "maxReplicas": 100}),
        display="HPA")
    wave = high * (modulo(top.time, 5) < on)
    hpa.connect("Metric", if_then_else(top.time < 5, 70.0, wave))
    hpa.connect("Ready pods", 3)
    return build(top)


def test_a_pod_metric_is_the_average_over_its_15_s_window(square_wave):
    # 140 % for 2.5 s of every 5 s: a 15 s window holds three periods (or 5 s at 70 % and
    # two), mean 70 % = the target (r = 1: no change), though the scrapes at 15, 30 ... s
    # fall on the 140 % half (metrics-server: CPU is the rate of the usage counter over its
    # 15 s resolution). The HPA reads a scrape one step (0.5 s) later.
    res = simulate(square_wave, outputs=["HPA / Metric seen by HPA", "HPA / Spec replicas"])
    seen, t = res["HPA / Metric seen by HPA"][0], res.times
    assert seen == pytest.approx(70, abs=1e-9)
    assert (res["HPA / Spec replicas"][0] == 3).all()
    # 1 s on in 5: 28 % from the scrape at 30 s (the 15 s one: (5 x 70 + 2 x 140) / 15 = 42)
    res = simulate(square_wave, params={"On": [1.0]}, outputs=["HPA / Metric seen by HPA"])
    seen = res["HPA / Metric seen by HPA"][0]
    assert seen[(t > 15) & (t <= 30)] == pytest.approx(42, abs=1e-9)
    assert seen[t > 30] == pytest.approx(28, abs=1e-9)


def test_a_zero_window_reads_the_metric_at_the_scrape(square_wave):
    # "Metric window" 0: the scrape instant (t = 15 k, on the 140 % half) reads 140 %, so
    # ceil(3 x 140 / 70) = 6 pods: the artefact the window removes
    res = simulate(square_wave, params={"HPA / Metric window": [0.0]},
                   outputs=["HPA / Metric seen by HPA", "HPA / Spec replicas"])
    t = res.times
    assert res["HPA / Metric seen by HPA"][0][t > 15] == pytest.approx(140)
    assert res["HPA / Spec replicas"][0][-1] > 3


def test_an_external_metric_is_read_as_its_source_reports_it():
    # a queue depth (External, window 0 by default) is its value at the scrape
    from sdmodels import modulo
    top = Model("queue", stop=60, dt=0.5)
    hpa = top.module("hpa", hpa_controller(kind="external", Target=100), display="HPA")
    hpa.connect("Metric", 300 * (modulo(top.time, 5) < 2.5))
    res = simulate(top, outputs=["HPA / Metric seen by HPA"])
    assert res["HPA / Metric seen by HPA"][0][res.times > 15] == pytest.approx(300)


@pytest.mark.parametrize("method", ["euler", "rk4"])
def test_scale_down_during_start_up_deletes_the_newest_starting_pods(method):
    # 2 ready pods; desired 4 at t = 10 (2 pods start, 30 s), 6 at t = 20 (2 more), 5 at
    # t = 25. The ReplicaSet deletes a not-ready pod, the newest (ActivePodsWithRanks), so
    # the 2 ready pods all stay ready; the t = 10 cohort is ready at 40 s (4), one of the
    # t = 20 cohort at 50 s (5). Deleting a ready pod would leave 1 ready at 25 s.
    from sdmodels import step
    top = Model("scale_down", stop=70, dt=0.5)
    pod = top.module("pod", pod_lifecycle(**{"Initial pods": 2, "Startup time": 30}),
                     display="Pod")
    pod.connect("Desired replicas", 2 + step(2, 10) + step(2, 20) - step(1, 25))
    res = simulate(top, method=method, outputs=["Pod / Ready pods", "Pod / Pods"])
    t, ready, pods = res.times, res["Pod / Ready pods"][0], res["Pod / Pods"][0]
    assert ready[t < 40] == pytest.approx(2, abs=1e-9)
    assert ready[(t > 41) & (t < 50)] == pytest.approx(4, abs=1e-9)
    assert ready[t > 51] == pytest.approx(5, abs=1e-9)
    assert pods[t > 26] == pytest.approx(5, abs=1e-9)


def test_scale_down_of_all_starting_pods_leaves_the_ready_ones():
    # 3 pods started at t = 10 and all deleted by t = 25: none ever becomes ready, the
    # ready count never moves and the pods part never goes below the 2 ready pods
    from sdmodels import step
    part = pod_lifecycle(**{"Initial pods": 2, "Startup time": 30})
    top = Model("cancel", stop=80, dt=0.5)
    pod = top.module("pod", part, display="Pod")
    pod.connect("Desired replicas", 2 + step(3, 10) - step(2, 20) - step(1, 25))
    res = simulate(top, outputs=["Pod / Ready pods", "Pod / Pods", "Pod / Not ready pods"])
    t = res.times
    assert res["Pod / Ready pods"][0] == pytest.approx(2, abs=1e-9)
    assert res["Pod / Pods"][0][t > 26] == pytest.approx(2, abs=1e-9)
    assert res["Pod / Not ready pods"][0].min() >= -1e-9


@pytest.mark.parametrize("method", ["euler", "rk4"])
def test_pods_without_deletions_move_as_the_full_part_under_a_fixed_replica_count(method):
    # pod_lifecycle(deletions=False): a fixed "Desired replicas" never falls below the pods
    # that exist, so the ReplicaSet never deletes; the part without its deletion flows and
    # start-up stack kills, restarts, evicts and replaces the same pods (a kill at 10 s:
    # back-off 10 s, start-up 5 s, ready at 25 s; an eviction at 40 s: a new pod ready at
    # 45.5 s), with a fifth of the paths from a kill to the ready pods (6 instead of 27)
    import networkx as nx
    from library.parts._wiring import at_step_start
    from sdmodels import pulse
    from sdmodels.analysis import causal_graph
    runs = []
    for deletions in (True, False):
        top = Model("one_pod", stop=80, dt=0.5, saveper=0.5)
        pod = top.module("pod", pod_lifecycle(deletions=deletions, **{
            "Initial pods": 1, "Desired replicas": 1, "Startup time": 5}), display="Pod")
        pod.connect("Crashed now", at_step_start(top, pulse(10, 0.25)))
        pod.connect("Evicted now", at_step_start(top, pulse(40, 0.25)))
        runs.append(simulate(top, method=method, outputs=["Pod / Ready pods", "Pod / Pods"]))
    t, ready = runs[1].times, runs[1]["Pod / Ready pods"][0]
    assert ready[(t > 11) & (t < 25)].max() == 0 and ready[(t > 26) & (t < 40)].min() == 1
    assert ready[(t > 41) & (t < 45.5)].max() == 0 and ready[t > 46].min() == 1
    np.testing.assert_allclose(runs[1].data, runs[0].data, rtol=0, atol=1e-12)
    paths = {}
    for deletions in (True, False):
        g = causal_graph(build(pod_lifecycle(deletions=deletions)), constants=True)
        paths[deletions] = sum(1 for _ in nx.all_simple_paths(g, "crashed_now", "ready_pods"))
    assert paths == {True: 27, False: 6}


def test_pods_that_never_crash_nor_get_evicted_scale_as_the_full_part():
    # pod_lifecycle(crashes=False, evictions=False): a deployment scaled by its HPA alone
    # (compose's services without a memory limit) has no back-off, no crash or eviction
    # inputs, and the same pods as the full part with those inputs at 0 (the scale-down
    # through start-up of the test above: 4 ready at 41 s, 5 at 51 s)
    from sdmodels import step
    lean = pod_lifecycle(crashes=False, evictions=False)
    assert not {"Crash rate", "Crashed now", "Backoff reset time", "Eviction rate",
                "Evicted now"} & set(lean.constants())
    runs = []
    for part in (pod_lifecycle(**{"Initial pods": 2, "Startup time": 30}), pod_lifecycle(
            crashes=False, evictions=False, **{"Initial pods": 2, "Startup time": 30})):
        top = Model("scale", stop=70, dt=0.5)
        pod = top.module("pod", part, display="Pod")
        pod.connect("Desired replicas", 2 + step(2, 10) + step(2, 20) - step(1, 25))
        runs.append(simulate(top, outputs=["Pod / Ready pods", "Pod / Pods"]))
    t, ready = runs[1].times, runs[1]["Pod / Ready pods"][0]
    assert ready[(t > 41) & (t < 50)] == pytest.approx(4, abs=1e-9)
    assert ready[t > 51] == pytest.approx(5, abs=1e-9)
    np.testing.assert_array_equal(runs[1].data, runs[0].data)


def test_pod_decisions_read_each_stock_by_one_path():
    # loops multiply by parallel paths: a flow that reads a stock both directly and through
    # an aux of it ("Pods", a held copy of the running pods) closes every loop through that
    # stock twice. The ReplicaSet's deletions read the pods they count from the stocks, the
    # decided kills and evictions hold the running pods inline, and restarted pods become
    # ready from the restarts alone (created ones through the start-up stack).
    from sdmodels.analysis import causal_graph
    g = causal_graph(build(pod_lifecycle()))
    stocks = {"running_pods", "backing_off_pods", "starting_pods"}
    assert set(g.predecessors("deleting")) == stocks
    assert set(g.predecessors("starting_pods_deleted")) == stocks | {"start-up_survivors"}
    assert set(g.predecessors("crashes")) == set(g.predecessors("evicting")) == {"running_pods"}
    assert set(g.predecessors("becoming_ready_rate")) == {"restarts", "start-up_survivors"}


def test_an_hpa_without_its_window_reads_the_metric_as_a_zero_window_does():
    # averaged=False: the metric arrives averaged already (a Prometheus rate): no window
    # input, no window stock, and the same decisions as a window of 0 s
    plain = hpa_controller(kind="pod", averaged=False)
    assert "metric_window" not in plain.input_ports and "metric_window" in hpa_controller(
        kind="pod").input_ports
    zero = hpa_controller(kind="pod", **{"Metric window": 0.0})
    step = {"Metric": 150.0}
    a = simulate(plain, params=step, outputs=["Spec replicas"])
    b = simulate(zero, params=step, outputs=["Spec replicas"])
    assert np.array_equal(a["Spec replicas"], b["Spec replicas"])
    # the HPA rule on the raw metric: ceil(1 ready pod x 150 / 70) = 3 replicas
    assert a["Spec replicas"][0, -1] == 3.0
