"""Behaviour tests for library/eviction_cascade.py (reference Part 3.4).

Arithmetic from the documented defaults: 1,000 req/s over 10 pods of 125 req/s -> 80 %
utilization -> rho / (1 - rho) = 4 requests in flight -> 310 + 25 x 4 = 410 MB per pod
(+-5 % of the 100 MB in-flight part across pods: 405 .. 415 MB). With 9 pods: 88.9 % -> 8 in
flight -> 510 MB (+-10 MB: 500 .. 520 MB), over the 512 MB limit for the largest pods.
"""
import numpy as np
import pytest

from library import eviction_cascade
from sdmodels import build, compile, run


@pytest.fixture(scope="module")
def kernel():
    return compile(build(eviction_cascade.build()))


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


@pytest.mark.parametrize("scenario", ["fix_headroom", "fix_scale_out"])
def test_headroom_or_scale_out_alone_stop_the_cascade(kernel, scenario):
    # headroom: 640 MB > the 9-pod worst case 520 MB; scale-out: pods are added while the
    # average is above 450 MB, before the survivors reach 512 MB
    df = run(kernel, scenario=scenario)
    assert df["Pods up"].min() >= 8
    assert df["Served traffic"].min() == 1000


def test_disruption_budget_alone_cannot_stop_oom_kills(kernel):
    # A PDB gates evictions, not the kernel's OOM killer: survivors still reach 512 MB.
    df = run(kernel, scenario="fix_disruption_budget")
    assert df["Pods up"].min() == 0


def test_leak_rate_sets_the_time_of_the_first_kill(kernel):
    # Halving the leak doubles the time to the first kill: (512 - 407) / 0.05 = 2,096 s
    df = run(kernel, scenario="trigger", params={"Leak rate": 0.05})
    first = df.index[df["Pods removed so far"] > 0][0]
    assert 2050 <= first <= 2150


def test_named_loops_get_their_polarity_through_the_pod_arrays():
    """The cascade runs through arrayed links (Pod up[pod] -> Pods up -> Load share[pod] ->
    ... -> Memory[pod] -> Pods removed[pod]); nudging every pod together gives each link its
    sign, so the named loops come out as the reference describes them: the eviction cascade
    reinforcing (fewer pods -> more load each -> more OOM kills), scale-out balancing."""
    from sdmodels import find_loops
    loops = {loop.name: loop for loop in find_loops(eviction_cascade.build()) if loop.name}
    assert loops["Eviction cascade (R)"].polarity == "R"
    assert loops["Scale out (B)"].polarity == "B"
