"""Vensim's SAMPLE IF TRUE imported as the IR's sampler: it runs as Vensim does and Loops
That Matter scores loops through it as through the library's sample_hold (held.py).

Expected values: Vensim's rule (vensim.com/documentation/fn_sample_if_true.html: the input
while the condition holds, else the value it had) and, for the scores, the sampled
controller of sdmodels/analysis/held.py's docstring, whose loop passes its whole change in
the interval where a tick's change arrives (relative score -1 there, 0 between).
"""

import numpy as np
import pytest

from sdmodels import Model, build, run, sample_hold
from sdmodels.analysis.dominance import dominance
from sdmodels.elements import SampleIfTrue
from sdmodels.interop import import_model
from tests.mdl_files import write_mdl

CONTROLLER = """
Level = INTEG(Fill, 0) ~~|
Fill = 0.5 * (10 - Held level) ~~|
Held level = SAMPLE IF TRUE(MODULO(Time, 1) = 0, Level, 0) ~~|
INITIAL TIME = 0 ~~|
FINAL TIME = 8 ~~|
TIME STEP = 0.25 ~~|
SAVEPER = TIME STEP ~~|
"""

# an order placed when the inventory falls below 20 (its first order at t = 6)
REORDER = """
Inventory = INTEG(Receiving - Selling, 50) ~~|
Selling = 5 ~~|
Receiving = Order / 4 ~~|
Order = SAMPLE IF TRUE(Inventory < 20, 40, -3) ~~|
INITIAL TIME = 0 ~~|
FINAL TIME = 12 ~~|
TIME STEP = 1 ~~|
SAVEPER = TIME STEP ~~|
"""


def _import(tmp_path, text):
    return import_model(write_mdl(tmp_path, text))


def test_imported_sample_if_true_is_the_irs_sampler(tmp_path):
    ir = build(_import(tmp_path, CONTROLLER))
    samplers = [v for v in ir.variables.values() if isinstance(v, SampleIfTrue)]
    assert len(samplers) == 1 and not any(type(v).__name__ == "Stock" and "sample" in v.id
                                          for v in ir.variables.values())
    assert [d.kind for d in ir.delays] == ["sample_if_true"]


def test_a_loop_through_it_scores_as_through_the_library_sampler(tmp_path):
    lib = Model("sampled controller", stop=8, dt=0.25)
    level = lib.stock("Level", initial=0)
    lib.flow("Fill", 0.5 * (10 - sample_hold(level, 1)), into=level)
    ours, imported = dominance(lib, every=1), dominance(_import(tmp_path, CONTROLLER), every=1)
    assert list(ours.relative.columns) == list(imported.relative.columns) == ["B1"]
    # same behaviour: the level closes half the gap to 10 held at each whole time unit
    a, b = run(lib, engine="interpreter"), run(_import(tmp_path, CONTROLLER),
                                                engine="interpreter")
    assert np.allclose(a["Level"], b["Level"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(imported.scores["B1"], ours.scores["B1"], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(imported.relative["B1"], ours.relative["B1"], atol=1e-12)
    rel = imported.relative["B1"].round(9)
    # the whole change of each tick arrives in the interval ending one dt before the next
    # tick (7 full periods after the first in 8 time units), nothing in between
    assert sorted(set(rel)) == [-1.0, 0.0] and int((rel == -1.0).sum()) == 8


def test_an_input_reading_itself_counts_and_is_no_algebraic_loop(tmp_path):
    m = _import(tmp_path, """
        counter = SAMPLE IF TRUE(MODULO(Time, 2) = 0, counter + 1, 0) ~~|
        c2[d] = SAMPLE IF TRUE(MODULO(Time, 2) = 0, c2[d] + k[d], 0) ~~|
        d: d1, d2 ~~|
        k[d] = 1, 2 ~~|
        INITIAL TIME = 0 ~~|
        FINAL TIME = 4 ~~|
        TIME STEP = 1 ~~|
        SAVEPER = TIME STEP ~~|
        """)
    for engine in ("interpreter", "compiled"):
        out = run(m, engine=engine)
        assert out["counter"].tolist() == [1, 1, 2, 2, 3]     # ticks at t = 0, 2, 4
        assert out["c2[d2]"].tolist() == [2, 2, 4, 4, 6]


@pytest.mark.parametrize("condition, expected", [("Time >= 2", [7, 7, 2, 3, 4]),
                                                  ("0", [7, 7, 7, 7, 7])])
def test_the_initial_value_stands_until_the_condition_first_holds(tmp_path, condition,
                                                                  expected):
    out = run(_import(tmp_path, f"""
        x = SAMPLE IF TRUE({condition}, Time, 7) ~~|
        INITIAL TIME = 0 ~~|
        FINAL TIME = 4 ~~|
        TIME STEP = 1 ~~|
        SAVEPER = TIME STEP ~~|
        """), engine="interpreter")
    assert out["x"].tolist() == expected


def test_its_condition_and_initial_value_are_part_of_what_it_does(tmp_path):
    # an order placed when the inventory falls below 20 (the condition) closes a loop, as
    # the Vensim model reads; the held value spans the initial value too (-3 before the
    # first order), which value ranges (and so link polarity) must cover
    from sdmodels.analysis.intervals import Ranges
    from sdmodels.analysis.loops import find_loops
    m = _import(tmp_path, REORDER)
    assert [l.names for l in find_loops(m, behaviour=False)] == [
        ("Inventory", "Order", "Receiving")]
    assert Ranges(build(m)).var("order") == (-3.0, 40.0)
    out = run(m, engine="interpreter")
    # 50 - 5.75 t until below 20 (t = 6: 15.5), then 10 a step in, 5 out
    assert out["Order"].tolist()[:8] == [-3] * 6 + [40, 40]


def test_its_xmile_export_runs_alike_in_every_engine(tmp_path):
    # a scalar SAMPLE IF TRUE is written as a held stock reset to the input where the
    # condition holds (XMILE has no such built-in); counter reads itself through that stock
    import warnings

    import pysd
    from sdmodels.interop import to_xmile
    m = _import(tmp_path, """
        counter = SAMPLE IF TRUE(MODULO(Time, 2) = 0, counter + 1, 0) ~~|
        late = SAMPLE IF TRUE(Time >= 2, Time * 3, 7) ~~|
        INITIAL TIME = 0 ~~|
        FINAL TIME = 4 ~~|
        TIME STEP = 1 ~~|
        SAVEPER = TIME STEP ~~|
        """)
    path = tmp_path / "m.xmile"
    path.write_text(to_xmile(m))
    expected = {"counter": [1, 1, 2, 2, 3], "late": [7, 7, 6, 9, 12]}
    back = run(import_model(path), engine="interpreter")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = pysd.read_xmile(str(path)).run(return_timestamps=[0, 1, 2, 3, 4])
    for name, values in expected.items():
        assert back[name].tolist() == values and theirs[name].tolist() == values
    simlin = pytest.importorskip("simlin")
    other = simlin.load(str(path)).run().results
    for name, values in expected.items():
        assert other[name].tolist()[:5] == values
