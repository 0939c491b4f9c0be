"""A time step too long for the model's modes is warned about (`sdm run --dt`), against the
stability functions of Euler and RK4 (Hairer, Norsett & Wanner, *Solving ODEs I*, II.7).

- A first-order decay with time constant tau: Euler multiplies it by 1 - dt / tau a step, so
  it flips sign every step past dt = tau; RK4's factor stays positive and below 1 up to
  z = -2.785 (the real edge of its stability region), so it fails past dt = 2.785 tau.
- A damped oscillator x'' + 2 zeta w x' + w^2 x = 0 with w = 1, zeta = 0.1: eigenvalues
  -0.1 +/- 0.995i; Euler's |1 + z|^2 = (1 - 0.1 dt)^2 + (0.995 dt)^2 reaches 1 at
  dt = 0.2 / |lambda|^2 = 0.2 (its oscillation grows from there).
"""
from __future__ import annotations

from click.testing import CliRunner

from sdmodels import Model
from sdmodels.analysis.stability import linearize, step_note
from sdmodels.cli import main

TAU = 4.0


def decay() -> Model:
    m = Model("decay", stop=20, dt=0.125)
    x = m.stock("X", initial=0)
    m.flow("Adjust", (10 - x) / TAU, into=x)
    return m


def oscillator() -> Model:
    m = Model("spring", stop=20, dt=0.01)
    x = m.stock("Position", initial=1)
    v = m.stock("Velocity", initial=0)
    m.flow("Moving", v, into=x)
    m.flow("Pull", -x - 0.2 * v, into=v)
    return m


def test_euler_flips_a_decay_past_one_time_constant():
    lin = linearize(decay(), at=0)
    assert step_note(lin, 0.9 * TAU) is None
    note = step_note(lin, 1.1 * TAU)
    assert "multiplied by -0.1 every step" in note and note.endswith("Use dt <= 4 or --method rk4")


def test_rk4_holds_a_decay_to_2_785_time_constants():
    lin = linearize(decay(), at=0)
    assert step_note(lin, 2.7 * TAU, "rk4") is None
    note = step_note(lin, 2.9 * TAU, "rk4")
    assert note is not None and "Use dt <= 11" in note       # 2.785 x 4 = 11.1, 2 digits


def test_euler_grows_an_oscillation_past_0_2():
    lin = linearize(oscillator(), at=0)
    assert step_note(lin, 0.15) is None
    note = step_note(lin, 0.25)
    assert "(eigenvalue -0.1 +/- 0.995i)" in note and "Use dt <= 0.2" in note


def test_sdm_run_warns_only_for_a_step_too_long():
    """teacup cools with time constant 10 minutes ("Characteristic Time")."""
    long = CliRunner().invoke(main, ["run", "teacup", "--dt", "20"])
    assert long.exit_code == 0
    assert "Warning: dt=20 is too long a step for euler in model 'teacup': its mode with " \
        "time constant 10 minutes" in long.output and "Use dt <= 10" in long.output
    fine = CliRunner().invoke(main, ["run", "teacup", "--dt", "2"])
    assert fine.exit_code == 0 and "too long a step" not in fine.output


def test_modes_faster_than_the_models_own_step_are_not_warned_about():
    """retry_storm's parts hold fluid relaxations written x / dt, whose eigenvalue follows
    the step itself: twice the model's 0.05 s step does not make them a warning."""
    result = CliRunner().invoke(main, ["run", "retry_storm", "--dt", "0.1"])
    assert result.exit_code == 0 and "too long a step" not in result.output
