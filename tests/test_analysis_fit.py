"""Fitting constants to observed metrics (sdmodels.analysis.fitting), `sdm postmortem --fit`.

The observed series come from the closed form of the model's own Euler steps, so the
exact values are known; the noise is deterministic, and its effect on the estimate is
predicted from the closed form's sensitivity (linear least squares), not from a run."""
import json
import textwrap

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from sdmodels import Model
from sdmodels.analysis.fitting import fit
from sdmodels.cli import main
from sdmodels.errors import ModelError

DT, S0, RATE = 0.125, 100.0, 0.3
TIMES = np.arange(0, 10.01, 0.5)


def decay(rate: float = 0.1, inflow: float | None = None) -> Model:
    m = Model("decay", stop=10, dt=DT)
    s = m.stock("Amount", initial=S0)
    m.flow("Outflow", s * m.constant("Rate", rate), out_of=s)
    if inflow is not None:
        m.flow("Inflow", m.constant("Supply", inflow), into=s)
    return m


def euler_decay(rate, t):
    """Amount after t / dt Euler steps of Amount' = -rate Amount."""
    return S0 * (1 - rate * DT) ** (t / DT)


def test_a_decay_rate_is_recovered_through_deterministic_noise():
    noise = 1.5 * np.sin(7.3 * TIMES)                 # +-1.5 on a series from 100 to 5
    observed = pd.DataFrame({"Amount": euler_decay(RATE, TIMES) + noise}, index=TIMES)
    result = fit(decay(rate=0.1), observed, ["Rate"])
    # the least-squares shift the noise causes, to first order: (J'J)^-1 J' noise with J
    # the closed form's derivative in the rate (1.7e-4 here); what is left is second order,
    # ~ shift^2 / rate = 1e-7, so 1e-5 tells the predicted estimate from the true rate
    n = TIMES / DT
    jac = -S0 * n * DT * (1 - RATE * DT) ** (n - 1)
    shift = jac @ noise / (jac @ jac)
    assert result.start == {"Rate": 0.1}
    assert 1e-4 < abs(shift) < 1e-3                    # the noise matters, a little
    assert result.parameters["Rate"] == pytest.approx(RATE + shift, abs=1e-5)
    assert result.rmse < result.start_rmse / 10
    assert result.runs > 9                             # the grid batch, then the search


def test_two_constants_are_recovered_exactly_without_noise():
    # Amount_n = a / r + (S0 - a / r) (1 - r dt)^n for Amount' = a - r Amount
    a, r = 4.0, 0.25
    n = TIMES / DT
    amount = a / r + (S0 - a / r) * (1 - r * DT) ** n
    result = fit(decay(rate=0.5, inflow=2.0), pd.DataFrame({"Amount": amount}, index=TIMES),
                 ["Rate", "Supply"])
    assert result.parameters["Rate"] == pytest.approx(r, rel=1e-6)
    assert result.parameters["Supply"] == pytest.approx(a, rel=1e-6)


def test_fit_refuses_what_it_cannot_fit():
    seen = pd.DataFrame({"Amount": euler_decay(RATE, TIMES)}, index=TIMES)
    with pytest.raises(ModelError, match="only constants"):
        fit(decay(), seen, ["Outflow"])
    with pytest.raises(ModelError, match="named like a variable"):
        fit(decay(), pd.DataFrame({"Other": [1.0]}, index=[0.0]), ["Rate"])
    with pytest.raises(ModelError, match="outside"):
        fit(decay(), pd.DataFrame({"Amount": [1.0]}, index=[50.0]), ["Rate"])


def test_postmortem_fits_and_tells_the_story_with_the_fitted_values(tmp_path):
    model = tmp_path / "decay.py"
    model.write_text(textwrap.dedent('''
        from sdmodels import Model

        def build(**overrides):
            m = Model("decay", stop=10, dt=0.125)
            s = m.stock("Amount", initial=100)
            m.flow("Outflow", s * m.constant("Rate", 0.1), out_of=s)
            return m
    '''))
    csv = tmp_path / "metrics.csv"
    csv.write_text("time,Amount\n" + "\n".join(
        f"{t},{v:.9f}" for t, v in zip(TIMES, euler_decay(RATE, TIMES))))
    out = tmp_path / "pm"
    result = CliRunner().invoke(main, ["postmortem", str(model), "--observed", str(csv),
                                       "--fit", "Rate", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "fitted Rate = 0.3" in result.output
    found = json.loads((out / "fit.json").read_text())
    assert found["parameters"]["Rate"] == pytest.approx(RATE, rel=1e-5)
    page = (out / "postmortem.html").read_text()
    assert "Fitted to the observed metrics" in page and "<b>Rate</b> = 0.3 " in page
    # without observed metrics there is nothing to fit to: one line, exit code 2
    bad = CliRunner().invoke(main, ["postmortem", str(model), "--fit", "Rate",
                                    "-o", str(tmp_path / "none")])
    assert bad.exit_code == 2 and "--observed" in bad.output
    assert not (tmp_path / "none").exists()
