"""Loops That Matter through a SAMPLE IF TRUE's condition.

A condition changes the sampler's output only at a step where it switches the sampler on:
the output then jumps from the value held to the input. LTM's link score (Schoenberg,
Davidsen & Eberlein 2020, SDR 36(2)) moves one cause and holds the rest where the interval
starts, so moving the condition's cause alone gives the input's value at the start less
the value held (what the switch releases), and the input's link takes the rest (its own
change over the step). Where the sampler was sampling already, or holds, the condition
passes nothing on. The expected values are those rules worked by hand on the series below
(and, for the two-loop model, on a plain recurrence of the model written here).
"""
import numpy as np
import pytest
from test_analysis_sample_if_true import REORDER, _import

from sdmodels import run
from sdmodels.analysis.dominance import LinkScorer, dominance
from sdmodels.analysis.evaluate import record
from sdmodels.interop import import_model

# a controller that samples its speed plan only when the position is off target by more
# than a band: the only loop, Position -> Error -> Speed -> Position, runs through the
# condition; Plan and Target are exogenous
CONTROLLER = """
Target = 2 * Time ~~|
Position = INTEG(Speed{slip}, 0) ~~|
Slip = 0.1 * Position ~~|
Error = Target - Position ~~|
Speed = SAMPLE IF TRUE(ABS(Error) > Band, Plan, 1) ~~|
Plan = 1 + 0.5 * Time ~~|
Band = 3 ~~|
INITIAL TIME = 0 ~~|
FINAL TIME = 16 ~~|
TIME STEP = 1 ~~|
SAVEPER = TIME STEP ~~|
"""


def test_a_loop_only_through_the_condition_scores_where_it_switches(tmp_path):
    m = _import(tmp_path, CONTROLLER.format(slip=""))
    out = run(m, engine="interpreter")
    # the position runs at 1 until the error passes 3 (t = 4: 8 - 4), then at the plan
    # sampled there (3), until the error passes -3 (t = 12: 24 - 28), then tracks the plan
    assert out["Speed"].tolist() == [1] * 4 + [3] * 8 + [7, 7.5, 8, 8.5, 9]
    d = dominance(m, every=1)
    assert [l.names for l in d.loops] == [("Position", "Error", "Speed")]
    # [3, 4]: the switch releases Plan(3) - 1 = 1.5 of the speed's change of 2 (score
    # 0.75, + as the error rose by 1); speed -> position 1; position -> error -1 (the
    # position rose by 1, the error by 1): -0.75. [11, 12]: releases 6.5 - 3 of 4 as the
    # error fell by 1 (-0.875); position -> error: -(3 / -1) -> -3; loop +2.625
    expected = np.zeros(16)
    expected[3], expected[11] = -0.75, 2.625
    np.testing.assert_allclose(d.scores.iloc[:, 0], expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(d.relative.iloc[:, 0], np.sign(expected), rtol=0, atol=1e-12)
    # the input's link takes the rest of the change: 0.25 and 0.125 at the switches, all
    # of it where the sampler tracks the plan (t >= 12), nothing while it holds
    scorer = LinkScorer(record(m))
    condition = scorer.link_matrix("error", "speed")[:, 0, 0]
    plan = scorer.link_matrix("plan", "speed")[:, 0, 0]
    np.testing.assert_allclose(condition[[3, 11]], [0.75, -0.875], rtol=0, atol=1e-12)
    np.testing.assert_allclose(plan[[3, 11]], [0.25, 0.125], rtol=0, atol=1e-12)
    np.testing.assert_allclose(np.abs(condition) + np.abs(plan),
                               [0] * 3 + [1] + [0] * 7 + [1] * 5, rtol=0, atol=1e-12)


def _by_hand(n=16, band=3.0):
    """The two-loop controller as a plain recurrence, and its loop scores by LTM's rules
    over each step [k, k + 1]: (slip loop, condition loop)."""
    p, held, rows = 0.0, 1.0, []
    for k in range(n + 1):
        error, plan = 2 * k - p, 1 + 0.5 * k
        held = plan if abs(error) > band else held
        rows.append((p, error, held, plan, 0.1 * p))
        p += held - 0.1 * p
    p, error, speed, plan, slip = np.array(rows).T
    dp, de, ds, dslip = (np.diff(x) for x in (p, error, speed, slip))
    dnet = ds - dslip
    switched = (np.abs(error[:-1]) <= band) & (np.abs(error[1:]) > band)
    released = np.where(switched, plan[:-1] - speed[:-1], 0.0)
    with np.errstate(all="ignore"):
        slip_loop = np.where(dslip == 0, 0.0, -np.abs(dslip / dnet))
        condition = np.where(ds == 0, 0.0, np.abs(released / ds) * np.sign(released / de))
        cond_loop = condition * np.where(ds == 0, 0.0, np.abs(ds / dnet)) * -np.abs(dp / de)
    return slip_loop, cond_loop


def test_with_a_second_loop_the_shares_add_up_as_ltm_normalises_them(tmp_path):
    m = _import(tmp_path, CONTROLLER.format(slip=" - Slip"))
    d = dominance(m, every=1)
    ids = {l.names: l.id for l in d.loops}
    slip, cond = ids[("Position", "Slip")], ids[("Position", "Error", "Speed")]
    slip_loop, cond_loop = _by_hand()
    np.testing.assert_allclose(d.scores[slip], slip_loop, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(d.scores[cond], cond_loop, rtol=1e-12, atol=1e-12)
    switches = np.flatnonzero(cond_loop)
    assert switches.tolist() == [2, 9, 13]          # the error passes +-3 in these steps
    total = np.abs(slip_loop) + np.abs(cond_loop)
    np.testing.assert_allclose(d.relative[cond], cond_loop / total, rtol=1e-12, atol=1e-12)
    # |relative| adds up to 1 at every step; the condition's loop leads at each switch
    np.testing.assert_allclose(d.relative.abs().sum(axis=1), 1.0, rtol=0, atol=1e-12)
    assert (d.relative[cond].abs().to_numpy()[switches] > 0.85).all()


def test_a_reorder_point_loop_scores_when_the_order_is_placed(tmp_path):
    # scored 0 before: the order (40 instead of -3) is placed when the inventory falls
    # below 20, in the step from t = 5 (21.25) to 6 (15.5); that step's whole change of the
    # order is the condition's (-1: the inventory fell), and the receiving passes it on
    d = dominance(_import(tmp_path, REORDER))
    expected = np.zeros(12)
    expected[5] = -1.0
    np.testing.assert_allclose(d.scores.iloc[:, 0], expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("text", [CONTROLLER.format(slip=""),
                                  CONTROLLER.format(slip=" - Slip"), REORDER])
def test_relative_scores_equal_simlins(tmp_path, text):
    # Simlin reads SAMPLE IF TRUE as IF cond THEN input ELSE PREVIOUS(self) and scores the
    # condition's link by the same ceteris paribus (its score at t is ours at t - dt); the
    # input's link differs (Simlin's is 0 at a switch), but it is on no loop here
    simlin = pytest.importorskip("simlin")
    path = tmp_path / "m.mdl"
    path.write_text("{UTF-8}\n" + text)
    theirs = {frozenset(v.lower() for v in l.variables if not v.startswith("$")):
              np.asarray(l.behavior_time_series) for l in simlin.load(str(path)).run().loops}
    d = dominance(import_model(path), every=1)
    assert len(theirs) == len(d.loops)
    for loop in d.loops:
        series = theirs[frozenset(n.lower() for n in loop.names)]
        mine = d.relative[loop.id].to_numpy()
        np.testing.assert_allclose(mine, series[1:len(mine) + 1], rtol=0, atol=1e-12)


def test_a_cause_in_both_condition_and_input_passes_its_whole_change(tmp_path):
    # Vensim's max workforce: Workforce is read by the condition and the input. Held since
    # t = 2, it ticks again in the step from 7 to 8: moved in the condition alone, the max
    # would drop to Workforce(7) (what the switch releases, W7 - M7 < 0); the input takes
    # the rest, W8 - W7; the link's score is their sum, 1, as at every tick
    m = _import(tmp_path, """
        Workforce = 10 + 5 * SIN(Time) ~~|
        max workforce = SAMPLE IF TRUE(Workforce > max workforce, Workforce, Workforce) ~~|
        INITIAL TIME = 0 ~~|
        FINAL TIME = 9 ~~|
        TIME STEP = 1 ~~|
        SAVEPER = TIME STEP ~~|
        """)
    w = 10 + 5 * np.sin(np.arange(10))
    scorer = LinkScorer(record(m))
    parts = scorer.link_parts("workforce", "max_workforce")
    condition = parts[()][:, 0, 0]
    dz = w[8] - w[2]                     # the max held w[2] from t = 2 to 7
    assert np.flatnonzero(condition).tolist() == [7]
    np.testing.assert_allclose(condition[7], (w[7] - w[2]) / dz, rtol=1e-12)
    np.testing.assert_allclose(scorer.link_matrix("workforce", "max_workforce")[:, 0, 0],
                               [1, 1, 0, 0, 0, 0, 0, 1, 0], rtol=0, atol=1e-12)
    # the sampler reading itself makes no loop; a model without loops has an empty summary
    d = dominance(m)
    assert d.loops == () and d.summary().empty and list(d.summary().columns)[:2] == [
        "loop", "name"]
