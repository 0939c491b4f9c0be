"""Loops That Matter through several windows of one value: a stateful call written inline
and the same call behind an auxiliary of its own score alike (sdmodels.analysis.dominance,
`LinkScorer._copies`).

The model is the HPA's stabilization in small: a level, the lowest of it over no window
and the highest over the last 2 s, combined as min(max(floor, lowest), highest), drive
the level's fill. While the level rises, both windows show its value now and move
together: either alone moves nothing (min(max(1, x + d), x) = x), so the loop's change is
shared between them, half each (they are symmetric). Written inline, the fill reads the
level through both windows: one loop; behind two auxiliaries, two loops, one through each
window, whose scores add up to the inline loop's at every step. Closed forms for the
rising phase, per dt (Euler): Fill = K (GOAL - S) with S = level moves by -K dL, the drain
by dL / TAU, so the fill loop's score is -K / (K + 1 / TAU) = -K TAU / (K TAU + 1) and the
drain loop's -1 / (K TAU + 1)."""
import numpy as np

from sdmodels import Model, if_then_else, maximum, minimum, rolling_max, rolling_min
from sdmodels.analysis.dominance import dominance

DT, K, TAU, FLOOR = 0.25, 0.5, 4.0, 1.0


def windowed(*, named: bool) -> Model:
    """Level' = K (Goal - min(max(FLOOR, lowest), highest)) - Level / TAU; Goal 10, then 2
    from t = 4 (the level falls: then only the lowest window moves the fill)."""
    m = Model("windowed", stop=8, dt=DT)
    level = m.stock("Level", initial=0)
    lowest, highest = rolling_min(level, 0), rolling_max(level, 2)
    if named:
        lowest, highest = m.aux("Lowest", lowest), m.aux("Highest", highest)
    goal = if_then_else(m.time < 4, 10, 2)
    m.flow("Fill", K * (goal - minimum(maximum(FLOOR, lowest), highest)), into=level)
    m.flow("Drain", level / TAU, out_of=level)
    return m


def _fill_loops(d) -> list[str]:
    return [l.id for l in d.loops if "fill" in l.variables]


def test_inline_windows_and_named_windows_give_the_same_loop_scores():
    inline, named = dominance(windowed(named=False), every=1), dominance(windowed(named=True),
                                                                         every=1)
    (fill,), pair = _fill_loops(inline), _fill_loops(named)
    assert len(pair) == 2 and {v for l in named.loops if l.id in pair for v in l.variables
                               } >= {"lowest", "highest"}
    drain_i = next(l.id for l in inline.loops if "drain" in l.variables)
    drain_n = next(l.id for l in named.loops if "drain" in l.variables)
    for field in ("scores", "relative"):
        a, b = getattr(inline, field), getattr(named, field)
        assert np.allclose(b[pair].sum(axis=1), a[fill], rtol=0, atol=1e-12), field
        assert np.allclose(b[drain_n], a[drain_i], rtol=0, atol=1e-12), field
    # the closed forms while the level rises (t < 4; the first step has no window yet)
    rising = inline.relative.loc[0.25:3.5]
    assert np.allclose(rising[fill], -K * TAU / (K * TAU + 1), atol=1e-9)
    assert np.allclose(rising[drain_i], -1 / (K * TAU + 1), atol=1e-9)
    for loop in pair:                               # the tie: half each
        assert np.allclose(named.relative.loc[0.25:3.5, loop], -K * TAU / (K * TAU + 1) / 2,
                           atol=1e-9)


def test_where_one_window_alone_moves_the_fill_it_takes_the_whole_score():
    # after the goal drops the level falls: the lowest window follows it, the highest holds
    # an older value above it, so the fill moves with the lowest alone (the changes add
    # up: each window its own ceteris-paribus score, the method's)
    named = dominance(windowed(named=True), every=1)
    by = {v: l.id for l in named.loops for v in ("lowest", "highest") if v in l.variables}
    falling = named.relative.loc[4.5:7.5]
    assert (falling[by["lowest"]] < -0.5).all()
    assert (falling[by["highest"]] == 0).all()
