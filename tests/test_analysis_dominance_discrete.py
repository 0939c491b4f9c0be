"""Loops That Matter through discrete elements (sdmodels.analysis.held): a sampler's output
moves at its ticks by its input's change since the previous tick, a pipeline's one delay
after its input; loops through them are followed back in time and score while they act.

Expected values are closed forms of the link-score definitions for these small models."""
import numpy as np
import pytest

from sdmodels import Model, delay_fixed, sample_hold
from sdmodels.analysis.dominance import dominance
from sdmodels.analysis.evaluate import record

DT, T = 0.25, 1.0                 # four steps between the sampler's ticks
K, GOAL = 0.5, 10.0


def controller(delay: float | None = None, outflow_time: float | None = None) -> Model:
    """Level' = K (GOAL - sample_hold(Level, T)) [delayed by `delay`] [- Level / tau]."""
    m = Model("sampled controller", stop=12, dt=DT)
    s = m.stock("Level", initial=0)
    seen = sample_hold(s, T)
    if delay is not None:
        seen = delay_fixed(seen, delay)
    m.flow("Fill", K * (GOAL - seen), into=s)
    if outflow_time is not None:
        m.flow("Drain", s / outflow_time, out_of=s)
    return m


def _changes(trace, name):
    x = trace.series(name)
    return np.flatnonzero(np.abs(np.diff(x)) > 1e-12)


def test_a_sampled_balancing_loop_alone_scores_minus_one_at_every_tick():
    m = controller()
    d = dominance(m, every=1)
    (loop,) = d.loops
    rel = d.relative[loop.id].to_numpy()
    # per dt, the fill moves only on the steps into a tick (t -> t + dt with t + dt = n T):
    # every link then passes the whole change on (+1, +1, -1, +1), between ticks nothing
    ticks = _changes(record(m), "Fill")
    expected = np.zeros_like(rel)
    expected[ticks] = -1.0
    assert len(ticks) == 12 and np.array_equal(rel, expected)      # ticks at 1, 2, ..., 12
    assert np.allclose(d.scores[loop.id].to_numpy()[ticks], -1.0, atol=1e-12)
    # quiet until the step into the first tick (0.75 -> 1), then one phase to the end: the
    # steps between ticks are the controller waiting, not a pause of the story; its share
    # counts the steps at which something moved
    ph = d.phases()
    assert list(ph["names"]) == ["no loop active", "B1"]
    assert ph["start"].iloc[1] == 1 - DT and ph["end"].iloc[1] == 12 - DT
    assert ph["share"].iloc[1] == 1.0 and ph["polarity"].iloc[1] == "B"


def test_a_sampled_then_pipelined_loop_scores_when_its_change_arrives():
    # the sample moves at n T, the fill 0.5 (two steps) later: no single step sees both, so
    # scoring every link over the same step gave 0 throughout; followed back in time
    # through the pipeline and the sampler, the loop is all of every change of the fill
    m = controller(delay=0.5)
    trace = record(m)
    d = dominance(m, trace=trace, every=1)
    (loop,) = d.loops
    rel = d.relative[loop.id].to_numpy()
    arrivals = _changes(trace, "Fill")
    samples = _changes(trace, "Level")            # the level moves at every step
    assert len(arrivals) == 11 and len(samples) == len(rel)
    assert np.allclose(trace.times[arrivals + 1] % T, 0.5)      # half a period after ticks
    expected = np.zeros_like(rel)
    expected[arrivals] = -1.0
    assert np.array_equal(rel, expected)
    assert np.allclose(d.scores[loop.id].to_numpy()[arrivals], -1.0, atol=1e-12)


@pytest.mark.parametrize("tau", [5.0, 1.0])
def test_two_loops_share_the_change_as_their_gains_say(tau):
    # scored over each sampling period (every = T / dt), the sampled inflow changes by
    # -K dS and the drain by dS / tau over the same interval, so the sampled loop's share
    # of the stock's net-flow change is K tau / (K tau + 1) at every interval, the
    # drain's 1 / (K tau + 1)
    m = controller(outflow_time=tau)
    d = dominance(m, every=int(T / DT))
    sampled = next(l.id for l in d.loops if "fill" in l.variables)
    drain = next(l.id for l in d.loops if "drain" in l.variables)
    share = K * tau / (K * tau + 1)
    # until the level settles (its changes below rounding: then every score is 0)
    moving = (d.relative[drain] != 0).to_numpy()
    assert moving.sum() >= 8 and moving[:moving.sum()].all()
    assert np.allclose(d.relative[sampled][moving], -share, atol=1e-9)
    assert np.allclose(d.relative[drain][moving], -(1 - share), atol=1e-9)


def test_a_delayed_sample_shares_the_change_it_passed_on_a_period_earlier():
    # sample every T, then a pipeline of T: over period j the fill changes by
    # -K (S(j T) - S((j-1) T)), the level's change a period earlier, and the drain by
    # (S((j+1) T) - S(j T)) / tau. Followed back through the pipeline, the sampled loop's
    # share is K |dS_{j-1}| / (K |dS_{j-1}| + |dS_j| / tau); scored over the same period
    # (the old rule) it would be K tau / (K tau + 1) whatever the delay
    tau, n = 5.0, int(T / DT)
    m = controller(delay=T, outflow_time=tau)
    trace = record(m)
    d = dominance(m, trace=trace, every=n)
    sampled = next(l.id for l in d.loops if "fill" in l.variables)
    level = trace.series("Level")[::n]
    now, before = np.diff(level)[1:], np.diff(level)[:-1]
    expected = K * np.abs(before) / (K * np.abs(before) + np.abs(now) / tau)
    rel = -d.relative[sampled].to_numpy()[1:len(now) + 1]
    assert np.allclose(rel, expected, atol=1e-9)
    assert np.abs(expected - K * tau / (K * tau + 1)).max() > 0.1       # the shift matters
    assert d.relative[sampled].iloc[0] == 0          # the first period passes no change on


def test_a_held_link_takes_the_sign_of_its_input_expression():
    # sample_hold(-Level): the link Level -> held value is negative, the loop through
    # 'Fill = K (GOAL + held)' balancing all the same (before: +1 whatever the input)
    m = Model("negated", stop=4, dt=DT)
    s = m.stock("Level", initial=0)
    m.flow("Fill", K * (GOAL + sample_hold(-s, T)), into=s)
    d = dominance(m, every=int(T / DT))
    (loop,) = d.loops
    assert np.allclose(d.relative[loop.id], -1.0)
    assert np.allclose(d.links[("level", "fill")], -1.0)


def test_hpa_autoscaler_scale_up_is_driven_by_the_hpa_loop():
    from library import hpa_autoscaler
    d = dominance(hpa_autoscaler.build(), scenario="trigger")
    # the HPA loop: the queue's metric, scraped and delayed, the recommendation, the sync,
    # the pods' start-up and the processing that drains the queue
    hpa = next(l.id for l in d.loops if {"queue_depth", "hpa.hpa_decision", "started_pods",
                                          "ready_pods"} <= set(l.variables))
    scaling = d.relative.loc[240:420]            # pods ask for at 240 s, ready until ~420 s
    active = scaling[hpa] != 0
    assert active.sum() >= 4                     # before: one interval (a coincidence)
    # where it acts, it is a balancing loop and the strongest of the loops moving the pods
    assert (scaling.loc[active, hpa] < 0).all()
    from sdmodels.analysis.phases import variable_shares
    shares = variable_shares(d, "Ready pods").loc[240:420]
    assert (shares.abs().idxmax(axis=1)[active] == hpa).all()
    assert (shares.loc[active, hpa].abs() >= 0.5).all()
    # the story of the replicas: the HPA loop scales them (the burst at 120 s reaches the
    # first sync through the 30 s scrape and 90 s pipeline), and again in the second wave
    # after the first one's backlog drained (no collapse: the refused pods' connection
    # set-up costs the database too little, library/README.md)
    ph = d.phases("Spec replicas")
    acting = ph[ph["loops"] != "-"]
    assert acting["loops"].iloc[0] == hpa and 240 <= acting["start"].iloc[0] <= 300
    assert acting["names"].iloc[0] == acting["names"].iloc[-1] == "HPA scaling (B)"
    assert acting["start"].iloc[-1] > 900             # the second wave


def test_arrayed_sampled_loops_share_as_the_scalar_ones():
    # each region its own sampled fill and leak: the loop over the array is the trace of
    # the element loops, each with the scalar shares K tau / (K tau + 1) and 1 / (K tau + 1)
    from sdmodels import Dim
    tau = 5.0
    m = Model("regions", stop=6, dt=DT)
    dims = (Dim("region", 3),)
    s = m.stock("Level", initial={"region1": 0, "region2": 2, "region3": 4}, dims=dims)
    m.flow("Fill", K * (GOAL - sample_hold(s, T)), into=s, dims=dims)
    m.flow("Leak", s / tau, out_of=s, dims=dims)
    d = dominance(m, every=int(T / DT))
    fill = next(l.id for l in d.loops if "fill" in l.variables)
    leak = next(l.id for l in d.loops if "leak" in l.variables)
    assert np.allclose(d.relative[fill], -K * tau / (K * tau + 1), atol=1e-9)
    assert np.allclose(d.relative[leak], -1 / (K * tau + 1), atol=1e-9)
