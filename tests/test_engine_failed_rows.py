"""A run that fails keeps its rows up to the step before the failure; from the failing step on
its rows are NaN: simulate fills them (the result buffer is not pre-filled), for either engine,
since both check a step's values before saving them (kernel_layout, _interpreter._run)."""
import numpy as np

from sdmodels import Model, simulate


def test_rows_from_the_failing_step_on_are_nan_and_other_runs_complete():
    m = Model("blows up", stop=4, dt=0.5)
    s = m.stock("S", initial=1)
    k = m.constant("k", 2)
    m.flow("In", 1 / (k - m.time), into=s)          # 1 / 0 at t = k
    res = simulate(m, params={"k": [2.0, 10.0]}, on_failure="mark", engine="interpreter")
    assert list(res.failures) == [0] and "time 2" in res.failures[0]
    expected = [1.0]
    for t in np.arange(0, 4, 0.5):                      # Euler: S += dt / (k - t)
        expected.append(expected[-1] + 0.5 / (10.0 - t))
    assert np.allclose(res["S"][1], expected, rtol=1e-14, atol=0)
    first = res["S"][0]
    assert np.allclose(first[:4], [1, 1.25, 1.25 + 0.5 / 1.5, 1.25 + 0.5 / 1.5 + 0.5],
                       rtol=1e-14, atol=0)
    assert np.isnan(first[4:]).all() and np.isnan(res.data[0, 4:]).all()
