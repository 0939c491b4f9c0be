"""The engine against closed-form solutions, and its measured order of accuracy."""
import math

import numpy as np
import pytest

from sdmodels import Model, simulate


def decay_model(stop=10.0, dt=0.25):
    m = Model("decay", stop=stop, dt=dt)
    s = m.stock("Amount", initial=100)
    m.flow("Outflow", s / m.constant("Lifetime", 2.0), out_of=s)
    return m


def logistic_model(stop=20.0, dt=0.25):
    m = Model("logistic", stop=stop, dt=dt)
    p = m.stock("Population", initial=10)
    r = m.constant("Growth rate", 0.5)
    k = m.constant("Carrying capacity", 1000)
    m.flow("Births", r * p * (1 - p / k), into=p)
    return m


def decay_exact(t):
    return 100 * np.exp(-t / 2.0)


def logistic_exact(t):
    return 1000 / (1 + (1000 / 10 - 1) * np.exp(-0.5 * t))


@pytest.mark.parametrize("method, tol", [("euler", 0.02), ("rk4", 1e-6)])
def test_exponential_decay_matches_closed_form(method, tol):
    res = simulate(decay_model(dt=0.0625), method=method)
    err = np.max(np.abs(res["Amount"][0] - decay_exact(res.times))) / 100
    # Euler's global error is about dt * |y''| * t / 2 ~ 0.0625 * 100/4 * 10/2/100 ~ 0.8 %
    assert err < tol


@pytest.mark.parametrize("method, tol", [("euler", 0.02), ("rk4", 1e-5)])
def test_logistic_growth_matches_closed_form(method, tol):
    res = simulate(logistic_model(dt=0.0625), method=method)
    err = np.max(np.abs(res["Population"][0] - logistic_exact(res.times))) / 1000
    assert err < tol


def _order(method, model_fn, exact, dts):
    errors = []
    for dt in dts:
        res = simulate(model_fn(dt=dt), method=method)
        col = res.columns[0]
        errors.append(abs(res[col][0][-1] - exact(res.times[-1])))
    return np.log2(np.array(errors[:-1]) / np.array(errors[1:]))


def test_euler_is_first_order():
    orders = _order("euler", decay_model, decay_exact, [0.5, 0.25, 0.125, 0.0625])
    # halving dt halves the error: log2 ratio -> 1
    assert np.all(np.abs(orders - 1.0) < 0.15), orders


def test_rk4_is_fourth_order():
    orders = _order("rk4", logistic_model, logistic_exact, [1.0, 0.5, 0.25])
    # halving dt divides the error by 16: log2 ratio -> 4
    assert np.all(np.abs(orders - 4.0) < 0.35), orders


def test_saveper_and_stop_override_select_times():
    res = simulate(decay_model(), saveper=1.0, stop=5)
    assert res.times.tolist() == [0, 1, 2, 3, 4, 5]
    assert res["Amount"][0][2] == pytest.approx(100 * (1 - 0.25 / 2) ** 8)


def test_explicit_times_and_outputs_limit_memory():
    res = simulate(decay_model(), times=[0, 2.5, 10], outputs=["Amount"])
    assert res.data.shape == (1, 3, 1)
    assert res.times.tolist() == [0, 2.5, 10]


def test_teacup_against_newton_cooling():
    from library.teacup import build
    res = simulate(build(), method="rk4")
    t = res.times
    exact = 70 + 110 * np.exp(-t / 10)
    assert np.max(np.abs(res["Teacup Temperature"][0] - exact)) < 1e-6
    assert math.isclose(res["Heat Loss"][0][0], 11.0)
