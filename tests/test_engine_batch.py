"""Vectorized runs: a batch equals its runs done one by one; arrays; modules; randomness."""
import numpy as np
import pandas as pd
import pytest

from sdmodels import (Dim, Model, build, compile, random_normal, random_uniform, run, simulate,
                      smooth, sum_over, max_over)


def sir(**values):
    m = Model("sir", stop=100, dt=0.03125)
    total = m.constant("Total Population", values.get("Total Population", 1000))
    beta = m.constant("Contact Infectivity", 0.3)
    dur = m.constant("Duration", 5)
    s = m.stock("Susceptible", initial=total)
    i = m.stock("Infectious", initial=5)
    r = m.stock("Recovered", initial=0)
    m.flow("Succumbing", "Susceptible*Infectious/Total Population * Contact Infectivity",
           out_of=s, into=i)
    m.flow("Recovering", i / dur, out_of=i, into=r)
    return m


@pytest.mark.parametrize("method", ["euler", "rk4"])
def test_batch_equals_single_runs(method):
    kernel = compile(sir(), method=method)
    betas = np.linspace(0.1, 0.6, 70)           # >= 64 runs: the parallel kernel
    durs = np.linspace(2, 9, 70)
    batch = simulate(kernel, params={"Contact Infectivity": betas, "Duration": durs})
    assert batch.data.shape[0] == 70
    for k in (0, 33, 69):
        one = simulate(kernel, params={"Contact Infectivity": betas[k], "Duration": durs[k]})
        assert np.max(np.abs(batch.data[k] - one.data[0])) <= 1e-12


def test_sir_conserves_population_and_peaks():
    frame = run(sir(), method="rk4", stop=400, saveper=1)    # long enough for I -> 0
    assert frame["Infectious"].iloc[-1] < 1e-3
    total = frame[["Susceptible", "Infectious", "Recovered"]].sum(axis=1)
    assert np.allclose(total, 1005, rtol=1e-12)
    # Final-size relation (Kermack-McKendrick) with R0 = beta * D = 1.5 and the force of
    # infection divided by 1000: S_inf = 1000 exp(-1.5 (1005 - S_inf) / 1000). Solve by bisection.
    lo, hi = 0.0, 1000.0
    for _ in range(100):
        mid = (lo + hi) / 2
        if mid - 1000 * np.exp(-1.5 * (1005 - mid) / 1000) > 0:
            hi = mid
        else:
            lo = mid
    assert frame["Susceptible"].iloc[-1] == pytest.approx(lo, rel=2e-3)


def test_many_runs_give_a_dataset_with_parameter_coordinates():
    ds = run(sir(), params={"Duration": [2, 5, 8]}, outputs=["Infectious"])
    assert ds["Infectious"].dims == ("run", "time")
    assert ds["Duration"].values.tolist() == [2, 5, 8]
    peaks = ds["Infectious"].max("time").values
    assert peaks[0] < peaks[1] < peaks[2]      # longer infectious period, bigger epidemic


def test_changing_parameters_never_recompiles():
    k = compile(sir())
    a = simulate(k, params={"Duration": 3})
    assert compile(sir()).source_hash == k.source_hash       # same structure, same kernel
    assert compile(sir(**{"Total Population": 5})).source_hash == k.source_hash
    b = simulate(k, params={"Duration": 7})
    assert a["Infectious"].max() != b["Infectious"].max()


def test_arrays_broadcast_reduce_and_index():
    pods = Dim("pod", 4)
    m = Model("pods", stop=10, dt=0.5)
    share = m.constant("Share", [0.1, 0.2, 0.3, 0.4], dims=[pods])
    load = m.constant("Load", 100)
    mem = m.stock("Memory", initial=0, dims=[pods])
    m.flow("Growth", share * load, into=mem, dims=[pods])
    m.aux("Total memory", sum_over(mem, pods))
    m.aux("Largest", max_over(mem, pods))
    m.aux("First pod", mem["pod1"])
    m.aux("Doubled", {"pod1": mem * 2, "pod2": 0, "pod3": 0, "pod4": mem}, dims=[pods])
    frame = run(m)
    last = frame.iloc[-1]
    assert last["Memory[pod3]"] == pytest.approx(0.3 * 100 * 10)
    assert last["Total memory"] == pytest.approx(100 * 10)
    assert last["Largest"] == pytest.approx(400)
    assert last["First pod"] == pytest.approx(100)
    assert (last["Doubled[pod1]"], last["Doubled[pod4]"]) == pytest.approx((200, 400))
    # one element of an arrayed constant is a parameter of its own
    two = run(m, params={"Share[pod2]": [0.5, 0.0]}, outputs=["Total memory"])
    assert two["Total memory"].isel(time=-1).values.tolist() == pytest.approx([1300, 800])


def test_module_composition_flows_across_modules():
    pool = Model("pool", stop=20, dt=0.25)
    q = pool.stock("Queue", initial=0)
    rate = pool.constant("Service rate", 1.0)
    pool.flow("Served", q * rate, out_of=q)
    top = Model("system", stop=20, dt=0.25)
    arrivals = top.constant("Arrival rate", 10)
    db = top.module("db", pool, inputs={"Service rate": 0.5}, display="DB")
    top.flow("Arrivals", arrivals, into=db["Queue"])
    frame = run(top, method="rk4")
    assert "DB / Queue" in frame.columns
    # Q' = 10 - 0.5 Q -> Q(t) = 20 (1 - e^{-t/2})
    assert frame["DB / Queue"].iloc[-1] == pytest.approx(20 * (1 - np.exp(-10)), rel=1e-6)


def test_random_streams_are_reproducible_per_run():
    m = Model("noise", stop=50, dt=1)
    m.aux("U", random_uniform(0, 1))
    m.aux("N", random_normal(10, 2))
    a = simulate(m, params={}, seed=7)
    b = simulate(m, seed=7)
    c = simulate(m, seed=8)
    assert np.array_equal(a.data, b.data) and not np.array_equal(a.data, c.data)
    u = a["U"][0]
    assert 0 <= u.min() and u.max() < 1 and len(set(u)) == len(u)   # a fresh draw each step
    # run r of a sweep draws from seed + r: run 1 of a sweep seeded 7 == a single run seeded 8
    m.constant("K", 1)
    sweep = simulate(m, params={"K": [1, 1]}, seed=7)
    single = simulate(m, seed=8)
    assert np.array_equal(sweep["U"][1], single["U"][0])


def test_long_form_and_final_table():
    res = simulate(sir(), params={"Duration": [4, 6]}, outputs=["Infectious", "Recovered"],
                   saveper=10)
    long = res.long()
    assert len(long) == 2 * 11 * 2
    assert set(long["variable"]) == {"Infectious", "Recovered"}
    assert isinstance(res.final(), pd.DataFrame) and res.final().shape == (2, 2)


def test_memory_follows_what_was_asked_for():
    # 10,000 runs of a 3,200-step model: keeping one variable at one time is 10,000 floats
    # (80 kB), not runs x steps x variables (10,000 x 3,201 x 8 x 8 B = 2 GB)
    n = 10_000
    res = simulate(sir(), params={"Duration": np.linspace(2, 9, n)}, outputs=["Infectious"],
                   times=[100])
    assert res.data.shape == (n, 1, 1) and res.data.nbytes == n * 8
    # and it is the right number: the same as a single run's final value
    one = simulate(sir(), params={"Duration": 9.0}, outputs=["Infectious"])
    assert res.data[-1, 0, 0] == one["Infectious"][0][-1]


def test_per_element_equations_with_delays_keep_explicit_subscripts_and_reductions():
    tiers = Dim("attempt", ["first", "retry"])
    m = Model("tiers", stop=40, dt=0.25)
    load = m.constant("Load", [10, 4], dims=[tiers])
    m.aux("Delayed", {"first": smooth(load["retry"], 2),             # explicit element wins
                      "retry": smooth(load / sum_over(load, tiers), 2)},  # reduction stays whole
          dims=[tiers])
    last = run(m).iloc[-1]
    # smooth of a constant equals it: 4 for the first element, 4 / (10 + 4) for the second
    assert last["Delayed[first]"] == pytest.approx(4)
    assert last["Delayed[retry]"] == pytest.approx(4 / 14)


def test_nested_modules_keep_readable_names():
    pool = Model("pool", stop=5, dt=0.5)
    used = pool.stock("Connections in use", initial=1)
    pool.flow("Release", used * pool.constant("Release rate", 0.5), out_of=used)
    db = Model("db", stop=5, dt=0.5)
    inner = db.module("pool", pool, display="Pool")
    db.aux("Busy", inner["Connections in use"] * 1)
    top = Model("system", stop=5, dt=0.5)
    outer = top.module("db", db, display="DB")
    top.aux("Doubled busy", outer["Busy"] * 2)
    ir = build(top)
    element = ir.variables["db.pool.connections_in_use"]
    assert element.display == "DB / Pool / Connections in use" and element.module == "db.pool"
    frame = run(top)
    # Euler: 1 * (1 - 0.5 * 0.5)^10 connections left after 10 steps
    assert frame["Doubled busy"].iloc[-1] == pytest.approx(2 * 0.75 ** 10)
