"""Linearisation and modes against models whose eigenvalues are known in closed form."""
import math

import numpy as np
import pytest

from sdmodels import Dim, Model, ModelError, delay3, random_uniform, simulate
from sdmodels.analysis.stability import linearize, mode_summary, modes
from sdmodels.sweep.labels import classify


def _oscillator(omega=2.0, zeta=0.1):
    """x'' + 2 zeta omega x' + omega^2 x = 0 as two stocks (position, velocity)."""
    m = Model("damped oscillator", stop=40, dt=0.001)
    x = m.stock("Position", initial=1.0)
    v = m.stock("Velocity", initial=0.0)
    m.flow("Motion", v, into=x)
    m.flow("Acceleration", -omega ** 2 * x - 2 * zeta * omega * v, into=v)
    return m


def test_first_order_loop_time_constant():
    m = Model("goal seeking", stop=20)
    x = m.stock("Level", initial=0)
    m.flow("Adjustment", (100 - x) / 8, into=x)
    (mode,) = modes(linearize(m))
    assert mode.eigenvalue.real == pytest.approx(-1 / 8, rel=1e-6)
    assert mode.time_constant == pytest.approx(8, rel=1e-6)
    assert mode.period is None and mode.damping_ratio == pytest.approx(1.0)
    assert mode.kind == "exponential decay"


def test_damped_oscillator_period_and_damping_match_closed_form_and_simulation():
    omega, zeta = 2.0, 0.1
    (mode,) = modes(linearize(_oscillator(omega, zeta), at=0.0))
    damped = omega * math.sqrt(1 - zeta ** 2)
    assert mode.eigenvalue.real == pytest.approx(-zeta * omega, rel=1e-6)
    assert mode.period == pytest.approx(2 * math.pi / damped, rel=1e-6)
    assert mode.damping_ratio == pytest.approx(zeta, rel=1e-6)
    assert mode.kind == "damped oscillation"
    # the period measured in the simulation (turning points, RK4) agrees within 1 %
    res = simulate(_oscillator(omega, zeta), method="rk4", outputs=["Position"])
    row = classify(res.times, res["Position"])
    assert float(row.loc[0, "period"]) == pytest.approx(mode.period, rel=0.01)


def test_second_order_delay_in_a_negative_loop_matches_characteristic_polynomial():
    # S' = (G - P2) / A, P1' = (S - P1) / D, P2' = (P1 - P2) / D:
    # det(lambda I - J) = lambda (lambda + 1/D)^2 + 1 / (A D^2)
    A, D = 5.0, 2.0
    m = Model("perception delay", stop=50, dt=0.01)
    s = m.stock("Stock", initial=10)
    p1 = m.stock("Perceived 1", initial=10)
    p2 = m.stock("Perceived 2", initial=10)
    m.flow("Correction", (20 - p2) / A, into=s)
    m.flow("Update 1", (s - p1) / D, into=p1)
    m.flow("Update 2", (p1 - p2) / D, into=p2)
    found = np.sort_complex(np.linalg.eigvals(linearize(m, at=0).jacobian))
    expected = np.sort_complex(np.roots([1, 2 / D, 1 / D ** 2, 1 / (A * D ** 2)]))
    assert np.allclose(found, expected, atol=1e-6)
    assert any(mode.period is not None for mode in modes(linearize(m, at=0)))


def test_delay3_stages_are_states():
    # X' = (10 - delay3(X, T)) / A: a third-order delay in a negative loop. With stage time
    # T/3 = d: lambda (lambda + 1/d)^3 + 1 / (A d^3) = 0
    A, T = 4.0, 6.0
    d = T / 3
    m = Model("delayed goal seeking", stop=30, dt=0.01)
    x = m.stock("X", initial=0)
    m.flow("Adjust", (10 - delay3(x, T, 0)) / A, into=x)
    lin = linearize(m, at=0)
    assert len(lin.states) == 4
    expected = np.sort_complex(np.roots([1, 3 / d, 3 / d ** 2, 1 / d ** 3, 1 / (A * d ** 3)]))
    assert np.allclose(np.sort_complex(np.linalg.eigvals(lin.jacobian)), expected, atol=1e-6)


def test_arrayed_stocks_each_contribute_a_state():
    pods = Dim("pod", 2)
    m = Model("two decays", stop=5)
    tau = m.constant("Tau", {"pod1": 2.0, "pod2": 5.0}, dims=[pods])
    x = m.stock("Memory", initial=100, dims=[pods])
    m.flow("Release", x / tau, out_of=x, dims=[pods])
    lin = linearize(m)
    assert lin.states == ("Memory[pod1]", "Memory[pod2]")
    assert sorted(mode.time_constant for mode in modes(lin)) == pytest.approx([2.0, 5.0])


def test_an_equation_the_linearisation_cannot_evaluate_is_named():
    m = Model("noisy", stop=5)
    x = m.stock("X", initial=1)
    m.flow("Noise", random_uniform(0, 1) - x, into=x)
    with pytest.raises(ModelError, match="'Noise' uses random_uniform"):
        linearize(m)


def test_modes_faster_than_the_step_are_labelled_and_left_out_of_the_relevant_ones():
    """A slow loop (tau = 4 s) feeding a fast tracker (tau = 0.1 s, under the 0.25 s step):
    the Jacobian is triangular, eigenvalues -1/4 and -1/0.1. The fast one is labelled and
    left out of the modes that matter; a neutral integrator is left out too."""
    m = Model("slow and fast", stop=10, dt=0.25)
    x = m.stock("X", initial=0)
    m.flow("Adjust", (10 - x) / 4, into=x)
    y = m.stock("Y", initial=0)
    m.flow("Track", (x - y) / 0.1, into=y)
    z = m.stock("Z", initial=0)
    m.flow("Count", x, into=z)                        # an integrator: eigenvalue 0
    lin = linearize(m)
    every = modes(lin)
    assert sorted(round(mode.growth_rate, 6) for mode in every) == [-10.0, -0.25, 0.0]
    fast = [mode for mode in every if mode.faster_than_step]
    assert [round(mode.growth_rate, 6) for mode in fast] == [-10.0]   # 10 x 0.25 >= 0.5
    assert [round(mode.time_constant, 6) for mode in modes(lin, relevant=True)] == [4.0]
    summary = mode_summary(lin)
    assert summary["faster_than_step"] == 1 and summary["neutral"] == 1
    assert summary["step"] == 0.25 and summary["modes"][0]["faster_than_step"] is False
