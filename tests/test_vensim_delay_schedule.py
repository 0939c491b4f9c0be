"""DELAY MATERIAL / DELAY INFORMATION with a delay time that changes, on the engine's ring
buffer (elements.Schedule, op DL_SCHEDULE): hand-computed values, and the compiled kernel
giving the interpreter's numbers (fn_delay_material.html, fn_delay_information.html)."""

import numpy as np
import pytest

from sdmodels import run
from sdmodels.elements import Schedule
from sdmodels.interop import import_model
from tests.mdl_files import write_mdl

MODEL = """
    wait = INTEG(0.5, 1) ~~|
    input = Time + 1 ~~|
    material = DELAY MATERIAL(input, wait, 0, -1) ~~|
    information = DELAY INFORMATION(input, wait, -2) ~~|
    shrinking = DELAY MATERIAL(input, 6 - wait, 100, -1) ~~|
    INITIAL TIME = 0 ~~|
    FINAL TIME = 40 ~~|
    TIME STEP = 1 ~~|
    SAVEPER = TIME STEP ~~|
"""


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return import_model(write_mdl(tmp_path_factory.mktemp("schedule"), MODEL))


def _due(n: int, wait0: float, slope: float) -> int:
    """The step the input of step n is due at: n + max(1, round(wait / TIME STEP))."""
    return n + max(1, int(np.floor(wait0 + slope * n + 0.5)))


def test_a_stock_delay_time_schedules_every_input_by_its_own_wait(model):
    # wait = 1 + n / 2 at step n (a stock: no bound at import, one slot per step): input n + 1
    # is due at n + round(1 + n / 2) (half rounds up: 1.5 -> 2), at steps 1, 3, 4, 6, 7, 9, ...;
    # steps where none is due give -1, steps where two are give their sum
    assert all(e.delay.value == 41 for e in model.elements.values()
               if isinstance(e, Schedule) and "material" in e.id)
    out = run(model, engine="interpreter")
    due = [_due(n, 1, 0.5) for n in range(41)]
    expected = [sum(n + 1 for n, d in enumerate(due) if d == m) or -1 for m in range(41)]
    expected[0] = 0                                  # the first k0 = 1 step: `initial`
    assert out["material"].tolist() == expected
    assert out["material"].tolist()[:8] == [0, 1, -1, 2, 3, -1, 4, 5]
    # information: the newest input due so far (-2 before the first)
    newest = [max((n for n, d in enumerate(due) if d <= m), default=None) for m in range(41)]
    assert out["information"].tolist() == [-2 if n is None else n + 1 for n in newest]
    # a falling delay time: 6 - wait = 5 - n / 2 steps, at least 1: inputs bunch up and add;
    # the first 5 steps give 100 plus what is due then
    due = [_due(n, 5, -0.5) for n in range(41)]
    got = out["shrinking"].tolist()
    for m in range(41):
        came = sum(n + 1 for n, d in enumerate(due) if d == m)
        assert got[m] == (came + 100 if m < 5 else came if m in due else -1), m


def test_the_compiled_kernel_gives_the_interpreters_numbers(model):
    fast = run(model, engine="compiled")
    slow = run(model, engine="interpreter")
    for column in ("material", "information", "shrinking"):
        assert np.allclose(fast[column], slow[column], rtol=1e-12, atol=1e-12), column
