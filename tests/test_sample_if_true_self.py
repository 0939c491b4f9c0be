"""Which values a SAMPLE IF TRUE reads: its own name, anywhere in it, reads the value held so
far; every other variable is read at this step's value.

Vensim's reference (vensim.com/documentation/fn_sample_if_true.html): "When the same
variable appears on the right it is the previous value of the variable that is used. For
all other variables it is the current value of the variable that is used." Its own
examples put the variable in the condition (`max workforce = SAMPLE IF TRUE(Workforce >
max workforce, ...)`, `starting time = SAMPLE IF TRUE(:NOT: starting time :AND: ...)`);
the expected series below are those rules worked by hand. A cycle through another
variable (`y = x + 1; x = SAMPLE IF TRUE(c, y, 0)`) needs y's value of this step, which
needs x's: simultaneous in Vensim, a cycle in SDEverywhere (which drops only
self-references from a variable's dependencies) and in Simlin, a RecursionError in pysd;
here the algebraic-loop error, which says what reads what.
"""
import math
import textwrap

import numpy as np
import pytest
from test_analysis_sample_if_true import _import as import_text

from sdmodels import run
from sdmodels.analysis.evaluate import record
from sdmodels.analysis.held import source_rows
from sdmodels.errors import AlgebraicLoopError
from sdmodels.interop import import_model

CONTROL = """
INITIAL TIME = 0 ~~|
FINAL TIME = 6 ~~|
TIME STEP = 1 ~~|
SAVEPER = TIME STEP ~~|
"""

DOC_EXAMPLES = """
Workforce = 10 + 5 * SIN(Time) ~~|
max workforce = SAMPLE IF TRUE(Workforce > max workforce, Workforce, Workforce) ~~|
project is started = IF THEN ELSE(Time >= 3, 1, 0) ~~|
starting time = SAMPLE IF TRUE(:NOT: starting time :AND: project is started, Time, 0) ~~|
d: d1, d2 ~~|
k[d] = 0, 2 ~~|
w[d] = 10 + 5 * SIN(Time + k[d]) ~~|
peak[d] = SAMPLE IF TRUE(w[d] > peak[d], w[d], w[d]) ~~|
trough[d1] = SAMPLE IF TRUE(w[d1] < trough[d1], w[d1], 100) ~~|
trough[d2] = SAMPLE IF TRUE(w[d2] < trough[d2], w[d2], -100) ~~|
"""


def _import(tmp_path, text):
    return import_text(tmp_path, textwrap.dedent(text) + CONTROL)


def _running(values, better, start):
    out, held = [], start
    for v in values:
        held = v if better(v, held) else held
        out.append(held)
    return out


def test_its_own_name_in_the_condition_reads_the_value_held_so_far(tmp_path):
    m = _import(tmp_path, DOC_EXAMPLES)
    t = range(7)
    work = [10 + 5 * math.sin(x) for x in t]
    expected = {
        # starts at Workforce (10), then the running maximum
        "max workforce": _running(work, lambda v, h: v > h, work[0]),
        # 0 until the project starts at t = 3; then NOT 3 is false: it keeps 3
        "starting time": [0, 0, 0, 3, 3, 3, 3],
        "peak[d2]": _running([10 + 5 * math.sin(x + 2) for x in t], lambda v, h: v > h,
                             10 + 5 * math.sin(2)),
        # per element, each with its own initial value (the second never samples)
        "trough[d1]": _running(work, lambda v, h: v < h, 100),
        "trough[d2]": [-100] * 7,
    }
    runs = [run(m, engine=engine) for engine in ("interpreter", "compiled")]
    for name, values in expected.items():
        np.testing.assert_allclose(runs[0][name], values, rtol=0, atol=1e-12)
        np.testing.assert_allclose(runs[1][name], runs[0][name], rtol=0, atol=1e-12)


def test_loop_analysis_sees_the_ticks_a_self_reading_condition_makes(tmp_path):
    # Workforce rises at t = 1 and 2, then falls: ticks there only; the start's value is
    # the initial one (Workforce itself, which is not above itself)
    trace = record(_import(tmp_path, DOC_EXAMPLES))
    assert source_rows(trace, trace.slot("max workforce~sample_if_true")).tolist() == \
        [0, 1, 2, 2, 2, 2, 2]


@pytest.mark.parametrize("sampler", ["SAMPLE IF TRUE(MODULO(Time, 2) = 0, y, 0)",
                                     "SAMPLE IF TRUE(y > 3, 5, 0)"])
def test_a_cycle_through_another_variable_is_an_algebraic_loop_that_says_why(tmp_path,
                                                                             sampler):
    m = _import(tmp_path, f"y = x + 1 ~~|\nx = {sampler} ~~|\n")
    with pytest.raises(AlgebraicLoopError) as err:
        run(m, engine="interpreter")
    text = str(err.value)
    assert "algebraic loop" in text and "y -> x" in text
    assert "only 'x' itself reads the value held so far" in text
    assert "SAMPLE IF TRUE(c, x + 1, 0)" in text


def test_the_same_sampler_written_with_its_own_name_runs(tmp_path):
    # the fix the error suggests: x + 1 inside x's SAMPLE IF TRUE; ticks at t = 0, 2, 4, 6
    m = _import(tmp_path, "x = SAMPLE IF TRUE(MODULO(Time, 2) = 0, x + 1, 0) ~~|\n"
                          "y = x + 1 ~~|\n")
    for engine in ("interpreter", "compiled"):
        out = run(m, engine=engine)
        assert out["x"].tolist() == [1, 1, 2, 2, 3, 3, 4]
        assert out["y"].tolist() == [2, 2, 3, 3, 4, 4, 5]


def test_a_self_reading_condition_exports_to_xmile_and_runs_alike(tmp_path):
    import warnings

    import pysd
    from sdmodels.interop import to_xmile
    m = _import(tmp_path, """
        Workforce = 10 + 5 * SIN(Time) ~~|
        max workforce = SAMPLE IF TRUE(Workforce > max workforce, Workforce, Workforce) ~~|
        """)
    path = tmp_path / "m.xmile"
    path.write_text(to_xmile(m))
    expected = run(m, engine="interpreter")["max workforce"].to_numpy()
    back = run(import_model(path), engine="interpreter")["max workforce"].to_numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = pysd.read_xmile(str(path)).run(return_timestamps=list(range(7)))
    np.testing.assert_allclose(back, expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(theirs["max_workforce"].to_numpy(), expected, rtol=0, atol=1e-12)


def test_the_library_reads_its_own_name_the_same_way():
    from sdmodels import Model
    m = Model("peak", stop=6, dt=1)
    m.aux("Load", "10 + 5 * sin(time)")
    m.aux("Peak", "sample_if_true(Load > Peak, Load, Load)")
    load = [10 + 5 * math.sin(x) for x in range(7)]
    for engine in ("interpreter", "compiled"):
        np.testing.assert_allclose(run(m, engine=engine)["Peak"],
                                   _running(load, lambda v, h: v > h, load[0]),
                                   rtol=0, atol=1e-12)
