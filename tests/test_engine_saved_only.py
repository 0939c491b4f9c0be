"""Values only saving reads (tape_shared.output_only) are computed on the steps saved and the
last: the same numbers as every step, the dynamics' values untouched, and a NaN in one is
reported at the first step saved that holds it (the time a user would see it)."""
import numpy as np
import pytest

from sdmodels import Model, SimulationError, simulate
from sdmodels.tape import prepare


def _decay(saveper: float) -> Model:
    m = Model("decay shown", stop=2, dt=0.25, saveper=saveper)
    s = m.stock("S", initial=1)
    m.flow("Out", s * m.aux("Rate", m.constant("k", 0.5) + 0 * s), out_of=s)
    m.aux("Shown", m.aux("Twice", 2 * s) + m.time)       # read by nothing but saving
    return m


def test_only_the_values_nothing_reads_wait_for_the_steps_saved():
    from sdmodels.tape_shared import output_only
    program = prepare(_decay(1))
    assert sorted(output_only(program.ir, set())) == ["shown", "twice"]
    seg = program.arrays["seg"]
    assert seg[11] - seg[10] == 2 and seg[3] - seg[2] == 2      # Twice, Shown | Rate, Out


@pytest.mark.parametrize("method", ["euler", "rk4"])
def test_saved_values_are_those_of_every_step(method):
    every = simulate(_decay(0.25), method=method, engine="interpreter")
    sparse = simulate(_decay(1), method=method, engine="interpreter")
    for name in ("S", "Shown", "Twice"):
        assert np.array_equal(sparse[name][0], every[name][0][::4])
    if method == "euler":                         # S(n) = (1 - dt k)^n, Shown = 2 S + t
        s = 0.875 ** np.arange(0, 9, 4)
        assert np.allclose(sparse["Shown"][0], 2 * s + [0, 1, 2], rtol=1e-14, atol=0)


def test_a_nan_only_saving_reads_is_reported_where_it_is_saved():
    m = Model("shown fails", stop=2, dt=0.25, saveper=1)
    s = m.stock("S", initial=1)
    m.flow("Out", s * 0.5, out_of=s)
    m.aux("Root", (0.6 - m.time) ** 0.5)
    with pytest.raises(SimulationError, match="'Root' became nan at time 1 "):
        simulate(m, engine="interpreter")         # NaN from t = 0.75, a step not saved
    res = simulate(m, engine="interpreter", on_failure="mark")
    assert np.isfinite(res["S"][0][:1]).all() and np.isnan(res["S"][0][1:]).all()


def test_a_samplers_period_is_read_every_step_it_may_be_due():
    from sdmodels import sample_hold

    def model(saveper):
        m = Model("sampled", stop=4, dt=0.25, saveper=saveper)
        s = m.stock("S", initial=0)
        m.flow("In", m.constant("rate", 1) + 0 * s, into=s)            # S = t
        m.aux("Held", sample_hold(s, m.aux("Period", 0.25 + s / 4)))   # its period grows
        return m
    every = simulate(model(0.25), engine="interpreter")
    sparse = simulate(model(1), engine="interpreter")
    assert np.array_equal(sparse["Held"][0], every["Held"][0][::4])
    # due at 0, 0.25, 0.75, 1, 1.5, 2.25, 3, 4 (next = then + 0.25 + S / 4, on the dt grid)
    assert list(sparse["Held"][0]) == [0, 1, 1.5, 3, 4]
