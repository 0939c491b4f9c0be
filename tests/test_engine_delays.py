"""Stateful functions against their definitions: step and pulse responses, conservation."""
import math

import numpy as np
import pytest

from sdmodels import (Model, Stock, build, delay1, delay3, delay_fixed, delayn, pulse, rolling_max,
                      rolling_min, sample_hold, simulate, smooth, smooth3, step, trend)

DT = 1 / 64


def response(fn, *, stop=40.0, method="rk4", shape="step"):
    m = Model("resp", stop=stop, dt=DT)
    x = m.aux("Input", step(10, 1) if shape == "step" else pulse(1, 1) * 10)
    m.aux("Output", fn(x))
    res = simulate(m, method=method)
    return res.times, res["Input"][0], res["Output"][0]


def erlang_step(t, order, tau):
    """Step response of an order-n exponential delay: the Erlang CDF with mean tau."""
    rate = order / tau
    k = np.arange(order)
    t = np.clip(t, 0, None)
    terms = np.array([(rate * t) ** i / math.factorial(i) for i in k])
    return 1 - np.exp(-rate * t) * terms.sum(axis=0)


@pytest.mark.parametrize("fn, order", [(lambda x: delay1(x, 4), 1), (lambda x: delay3(x, 4), 3),
                                       (lambda x: delayn(x, 4, 5), 5), (lambda x: smooth(x, 4), 1),
                                       (lambda x: smooth3(x, 4), 3)])
def test_exponential_delays_step_response_is_erlang(fn, order):
    t, _, out = response(fn)
    expected = 10 * erlang_step(t - 1, order, 4.0)
    # RK4 with dt=1/64 while the step itself is discontinuous at t=1: error ~ dt-sized
    assert np.max(np.abs(out - expected)) < 10 * DT * order


def test_delay_fixed_replays_the_pulse_intact():
    t, x, out = response(lambda x: delay_fixed(x, 5, 0), shape="pulse", method="euler")
    shift = int(round(5 / DT))
    assert np.array_equal(out[shift:], x[:-shift])
    assert np.all(out[:shift] == 0)


def test_delay3_spreads_a_pulse_but_conserves_its_mass():
    t, x, out = response(lambda x: delay3(x, 5), shape="pulse", method="euler", stop=80)
    mass_in, mass_out = x.sum() * DT, out.sum() * DT
    assert mass_in == pytest.approx(10.0, rel=1e-9)
    assert mass_out == pytest.approx(mass_in, rel=1e-3)
    assert out.max() < 0.5 * x.max()       # spread: the peak is far lower than the pulse


def test_material_delay_conserves_mass_at_every_step():
    m = Model("conserve", stop=30, dt=0.25)
    src = m.stock("Source", initial=100)
    dst = m.stock("Sink", initial=0)
    out = m.flow("Send", src * 0.2, out_of=src)
    m.flow("Arrive", delay3(out, 6, 0), into=dst)   # start empty: nothing in transit
    stages = [v.display for v in build(m).of_kind(Stock) if v.internal]
    assert len(stages) == 3
    frame = simulate(m, outputs=["Source", "Sink"] + stages).to_pandas()
    in_transit = frame[stages].sum(axis=1)
    assert in_transit.max() > 1
    total = frame["Source"] + frame["Sink"] + in_transit
    assert np.allclose(total, 100, atol=1e-9)


@pytest.mark.parametrize("initial_trend", [0.05, 0.0])
def test_trend_of_exponential_growth_is_its_growth_rate(initial_trend):
    m = Model("trend", stop=60, dt=0.125)
    x = m.aux("Input", "exp(0.05 * Time)")
    m.aux("Trend", trend(x, 5, initial_trend))
    out = simulate(m, method="rk4")["Trend"][0]
    # For x = e^{gt}, a first-order smooth settles at avg = x / (1 + gT), so
    # TREND = (x - avg) / (avg T) = g exactly; started at g it stays there; started at 0
    # the gap decays like e^{-t/T}: after 60 = 12 T it is far below 1e-4.
    assert out[0] == pytest.approx(initial_trend, abs=1e-9)
    assert out[-1] == pytest.approx(0.05, abs=1e-4)
    if initial_trend == 0.05:
        assert np.max(np.abs(out - 0.05)) < 1e-6


def test_sample_hold_updates_only_on_its_clock():
    m = Model("sampler", stop=60, dt=0.5)
    m.aux("Held", sample_hold(m.time, 15))
    res = simulate(m)
    held = res["Held"][0]
    assert np.array_equal(held, np.floor(res.times / 15) * 15)


def test_rolling_window_max_and_min():
    m = Model("window", stop=30, dt=1)
    x = m.aux("Signal", pulse(5, 1) * 3 - pulse(20, 1))
    m.aux("Max", rolling_max(x, 4))
    m.aux("Min", rolling_min(x, 4))
    frame = simulate(m).to_pandas()
    # the pulse at t=5 is seen by the 4-unit window at t = 5..9 and no later
    assert frame.loc[5:9, "Max"].eq(3).all() and frame.loc[10, "Max"] == 0
    assert frame.loc[20:24, "Min"].eq(-1).all() and frame.loc[25, "Min"] == 0


def test_delay_with_initial_value_starts_there():
    m = Model("init", stop=10, dt=0.25)
    x = m.constant("Input", 2)
    m.aux("D", delay1(x, 3, 8))
    frame = simulate(m).to_pandas()
    assert frame["D"].iloc[0] == pytest.approx(8)
    assert frame["D"].iloc[-1] == pytest.approx(2 + 6 * (1 - 0.25 / 3) ** 40)
