"""Behaviour tests for library/eviction_cascade.py (reference Part 3.4).

Arithmetic from the documented defaults: 1,000 req/s over 10 pods of 125 req/s -> 80 %
utilization -> rho / (1 - rho) = 4 requests in flight -> 310 + 25 x 4 = 410 MB per pod
(+-5 % of the 100 MB in-flight part across pods: 405 .. 415 MB). With 9 pods: 88.9 % -> 8 in
flight -> 510 MB (+-10 MB: 500 .. 520 MB), over the 512 MB limit for the largest pods.
"""
import numpy as np
import pytest

from library import eviction_cascade
from sdmodels import build
from sdmodels import run as _run


@pytest.fixture(scope="module")
def kernel():
    return build(eviction_cascade.build())


def run(ir, **options):
    """One run on the interpreter (the compiled kernel's 1,650 values take minutes to compile;
    tests/test_engine_interpreter.py checks the engines agree)."""
    return _run(ir, engine="interpreter", **options)


def _memory(df):
    return df[[c for c in df.columns if c.startswith("Memory[")]]


def test_baseline_is_steady_at_the_reference_400_mb(kernel):
    df = run(kernel, scenario="baseline")
    mem = _memory(df)
    assert mem.min().min() >= 405 - 1 and mem.max().max() <= 415 + 1
    assert (df["Pods up"] == 10).all()
    assert df["Pods removed so far"].iloc[-1] == 0


def test_trigger_leak_kills_pod3_first_then_the_cascade_takes_everything(kernel):
    df = run(kernel, scenario="trigger")
    removed = df["Pods removed so far"]
    first = df.index[removed > 0][0]
    # pod3's factor is 1 - 0.05 x 5/9: 310 + 25 x 0.972 x 4 = 407 MB; (512 - 407) / 0.1 MB/s
    # = 1,048 s until its OOM kill
    assert 1000 <= first <= 1100
    assert df.loc[first, "Pod up[pod3]"] == 0
    assert df.loc[first, "Pods up"] == 9
    # survivors head for 500-520 MB with a 60 s response: the largest crosses 512 MB after
    # 60 x ln((520 - 415) / (520 - 512)) ~ 155 s; at 8 pods utilization is 100 % and the rest
    # die within seconds. The collapse must come from that, within 100-300 s of the first kill.
    zero = df.index[df["Pods up"] < 0.5][0]
    assert 100 <= zero - first <= 300
    assert df.loc[zero, "Served traffic"] == 0
    assert removed.loc[:zero].iloc[-1] >= 10


def test_fixed_keeps_serving_all_traffic(kernel):
    df = run(kernel, scenario="fixed")
    assert df["Pods up"].min() >= 9
    assert np.allclose(df["Served traffic"], 1000)


def test_headroom_alone_stops_the_cascade(kernel):
    # 640 MB > the 9-pod worst case 520 MB: the survivors never reach the limit
    df = run(kernel, scenario="fix_headroom")
    assert df["Pods up"].min() >= 8
    assert df["Served traffic"].min() == 1000


def test_scale_out_alone_comes_too_late_with_slow_start_up(kernel):
    # the average passes 450 MB only after pod 3's kill; a pod added then needs the same
    # 180 s start-up as the restarted ones, and the survivors reach 512 MB ~155 s after the
    # kill: the cascade comes first
    df = run(kernel, scenario="fix_scale_out")
    assert df["Pods up"].min() == 0


def test_the_kubelet_restart_absorbs_the_kill_when_start_up_is_short(kernel):
    # CrashLoopBackOff restarts pod 3 after 10 s; with a 120 s start-up it is ready after
    # 130 s, before the largest survivor reaches 512 MB (~155 s): one kill, no cascade.
    # With 180 s (the default) it is back too late: all ten go down.
    short = run(kernel, scenario="trigger", params={"Pod startup time": 120})
    assert short["Pods up"].min() == 9
    assert short["Served traffic"].min() == 1000
    df = run(kernel, scenario="trigger")
    down = df.index[df["Pods up"] < 0.5][0]
    # the nine killed in the cascade restart 10 s later (crash count 1) and are ready 180 s
    # after that: 1,000 req/s are served again ~190 s after the collapse
    full = df.index[(df.index > down) & (df["Served traffic"] >= 1000)][0]
    assert full - down == pytest.approx(190, abs=15)
    # pod 3, killed first, is back alone before them and takes all the traffic: killed
    # again (its second crash: 20 s back-off)
    alone = df.loc[down:full - 10, "Pods up"]
    assert alone.max() == pytest.approx(1) and alone.iloc[-1] == pytest.approx(0, abs=1e-9)


def test_disruption_budget_alone_cannot_stop_oom_kills(kernel):
    # A PDB gates evictions, not the kernel's OOM killer: survivors still reach 512 MB.
    df = run(kernel, scenario="fix_disruption_budget")
    assert df["Pods up"].min() == 0


@pytest.mark.parametrize("method, divide", [("euler", 1), ("euler", 2), ("rk4", 1)])
def test_the_budget_admits_one_eviction_at_a_time_when_every_pod_asks_at_once(kernel, method,
                                                                             divide):
    # Every pod is above a 400 MB eviction threshold from t = 0 (405 .. 415 MB) and the PDB
    # allows 1 unavailable: the Eviction API admits one request (disruptionsAllowed 1 -> 0)
    # and refuses the other nine (429) until the replacement is ready, a 60 s start-up and
    # two steps later (created the step after the eviction, counted healthy the step after
    # it is ready): evictions at 0, 61 and 122 s at dt 0.5 (0, 60.5, 121 at dt 0.25). A
    # check on the pods up made once per step evicted all ten at t = 0.
    df = run(kernel, scenario="baseline", method=method, dt=0.5 / divide, params={
        "Eviction threshold": 400, "PDB maxUnavailable": 1, "Pod startup time": 60})
    removed = df["Pods removed so far"]
    assert removed.loc[[5, 55, 65, 115, 125]].tolist() == pytest.approx([1, 1, 2, 2, 3],
                                                                        abs=1e-9)
    assert df.loc[:125, "Pods up"].min() == pytest.approx(9, abs=1e-9)


def test_leak_rate_sets_the_time_of_the_first_kill(kernel):
    # Halving the leak doubles the time to the first kill: (512 - 407) / 0.05 = 2,096 s
    df = run(kernel, scenario="trigger", params={"Leak rate": 0.05})
    first = df.index[df["Pods removed so far"] > 0][0]
    assert 2050 <= first <= 2150


def test_named_loops_get_their_polarity_through_the_pod_arrays():
    """The cascade runs through arrayed links (Pod up[pod] -> Pods up -> Load share[pod] ->
    ... -> Memory[pod] -> Pods removed[pod]); nudging every pod together gives each link its
    sign, so the named loops come out as the reference describes them: the eviction cascade
    reinforcing (fewer pods -> more load each -> more OOM kills, through each pod's
    lifecycle part: OOM killed -> crashes -> running pods -> ready pods), scale-out balancing.
    The share a pod gets, up / (pods up), falls as pods up rise; judged from the baseline
    run (the trigger's runs meet pods restarting one at a time, where the first ready pod
    takes everything, an if_then_else on total > 0, and call it 'mixed')."""
    from sdmodels import find_loops
    loops = {loop.name: loop for loop in find_loops(eviction_cascade.build(),
                                                    scenario="baseline") if loop.name}
    assert loops["Eviction cascade (R)"].polarity == "R"
    assert loops["Scale out (B)"].polarity == "B"
