"""The built-in erlang_b(servers, load) (sdmodels/queueing.py, sdmodels/_vectors.py).

Against the textbook Erlang B, computed exactly in rational arithmetic up to 64 servers (and
by the classic float recursion above, where the built-in starts from a fluid estimate); the
engine's loop against the expression tree an export writes, the numpy and scalar forms the
analyses and the workbench use, and the compiled kernel (the same floats: the same
operations in the same order); an XMILE export read by pysd; units, ranges and link signs.
"""
from fractions import Fraction
from math import factorial

import numpy as np
import pytest

from sdmodels import Model, erlang_b, simulate
from sdmodels.queueing import SCALAR, expanded, numpy_ops, recursion

#: (servers, load): whole and fractional counts, none, past 64, tiny and huge loads
GRID = [(c, a) for c in (0, 0.25, 1, 1.5, 2, 3, 7.75, 10, 20, 33.3, 50, 63, 63.5, 64)
        for a in (1e-3, 0.01, 0.5, 1, 2.5, 9.5, 30, 64, 200, 1e4)]
PAST_64 = [(c, c * rho) for c in (65, 70, 100, 200, 500) for rho in (0.01, 0.3, 0.7, 0.9, 1.0,
                                                                      1.5)]
EDGES = [(0.0, 0.0), (-2.0, 3.0), (5.0, 0.0), (5.0, -1.0), (1e6, 1e-3), (1e6, 1e6), (1e-9, 1e-9),
         (64.0, 1e-3), (2000.0, 1e-3), (3.0, 1e300)]


def erlang_b_exact(c: int, a: float) -> Fraction:
    """B(c, a) = (a^c / c!) / sum_{k<=c} a^k / k!, exactly (a as the float it is)."""
    x = Fraction(a)
    terms = [x ** k / factorial(k) for k in range(c + 1)]
    return terms[-1] / sum(terms)


def erlang_b_float(c: int, a: float) -> float:
    """The classic recursion B(k) = a B(k-1) / (k + a B(k-1)) from B(0) = 1, in floats."""
    b = 1.0
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    return b


def engine(cases, *, tree: bool = False, kernel: bool = False) -> np.ndarray:
    """erlang_b at each (servers, load) of `cases`, one run each, by the interpreter (or the
    compiled kernel), as the built-in or (tree) as the expression tree an export writes."""
    m = Model("erlang b", stop=1, dt=1)
    c, a = m.constant("c", 1), m.constant("a", 1)
    m.aux("B", expanded(c, a) if tree else erlang_b(c, a))
    cs, loads = (np.asarray(x, float) for x in zip(*cases))
    r = simulate(m, params={"c": cs, "a": loads}, outputs=["B"],
                 engine="compiled" if kernel else "interpreter")
    return r["B"][:, 0]


def test_whole_and_fractional_servers_are_the_closed_form():
    got = engine(GRID)
    for (c, a), b in zip(GRID, got):
        n, f = int(c), c - int(c)       # linear between whole counts, exact at them
        want = (1 - Fraction(f)) * erlang_b_exact(n, max(a, 1e-3)) + \
            Fraction(f) * erlang_b_exact(n + 1, max(a, 1e-3))
        assert b == pytest.approx(float(want), rel=1e-12, abs=1e-300), (c, a)


def test_past_64_servers_the_fluid_start_stays_close():
    # 64 exact levels above the fluid estimate R = a / max(a - k0, sqrt(a)): absolute error
    # under 1e-4 up to 500 servers (measured 7.2e-5 at c = 500, rho = 0.9)
    got = engine(PAST_64)
    for (c, a), b in zip(PAST_64, got):
        assert abs(b - erlang_b_float(c, a)) < 1e-4, (c, a)
        assert 0 < b <= 1


def test_no_servers_tiny_and_huge_values_stay_probabilities():
    got = engine(EDGES)
    assert np.isfinite(got).all() and ((got > 0) & (got <= 1)).all()
    assert got[0] == got[1] == 1.0          # no server: every arrival is blocked
    assert got[2] == got[3] == pytest.approx(float(erlang_b_exact(5, 1e-3)), rel=1e-12)
    assert got[4] < 1e-280 and got[8] < 1e-280        # R capped, never inf
    assert got[9] == pytest.approx(1.0, rel=1e-12)     # load far past the servers


def test_every_form_gives_the_same_floats():
    cases = GRID + PAST_64 + EDGES
    builtin = engine(cases)
    assert np.array_equal(builtin, engine(cases, tree=True))      # what an export writes
    cs, loads = (np.asarray(x, float) for x in zip(*cases))
    assert np.array_equal(builtin, recursion(cs, loads, numpy_ops()))       # the analyses
    assert np.array_equal(builtin, [recursion(c, a, SCALAR) for c, a in cases])  # workbench


def test_the_compiled_kernel_gives_the_interpreters_values():
    cases = GRID[::3] + PAST_64[::4] + EDGES
    a, b = engine(cases), engine(cases, kernel=True)
    assert np.all(np.abs(a - b) <= 1e-12 * np.abs(b))


def test_an_xmile_export_runs_alike_in_pysd(tmp_path):
    import warnings

    import pysd

    from sdmodels import run
    from sdmodels.interop import to_xmile
    m = Model("blocking", stop=4, dt=1)
    servers = m.aux("Servers", 2.5 + m.time * 4)    # 2.5, 6.5, ..., 18.5
    m.aux("Blocking", erlang_b(servers, m.constant("Load", 7.0)))
    path = tmp_path / "blocking.xmile"
    text = to_xmile(m)
    assert "erlang" not in text.lower()          # written out: no reader knows the function
    path.write_text(text)
    ours = run(m)["Blocking"].to_numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = pysd.read_xmile(str(path)).run(return_timestamps=[0, 1, 2, 3, 4])
    assert theirs["Blocking"].to_numpy() == pytest.approx(ours, rel=1e-12)
    whole = 2 + 4 * np.arange(5)
    want = [(float(erlang_b_exact(n, 7.0)) + float(erlang_b_exact(n + 1, 7.0))) / 2
            for n in whole]
    assert ours == pytest.approx(want, rel=1e-12)


def test_units_ranges_and_link_signs():
    from sdmodels import check_units, link_polarities
    from sdmodels.analysis.intervals import Ranges
    from sdmodels.ir import build
    m = Model("pool", stop=2, dt=1)
    servers = m.constant("Servers", 4, units="1")
    load = m.constant("Load", 3, units="req")
    blocking = m.aux("Blocking", erlang_b(servers, load), units="1")
    issues = check_units(m)
    assert [i.what for i in issues] == ["erlang_b() argument vs dimensionless"]
    assert Ranges(build(m)).var("blocking") == (0.0, 1.0)
    pol = link_polarities(m, behaviour=False)
    assert pol["servers", "blocking"].polarity == "-"
    assert pol["load", "blocking"].polarity == "+"
    assert blocking is not None


def test_the_workbench_and_the_equation_parser_know_it():
    from sdmodels.parse import parse_equation
    from sdmodels.workbench.values import evaluate_constant
    expr = parse_equation("Erlang B(c, c * 0.95)")
    assert evaluate_constant(expr, {"c": 10.0}) == pytest.approx(
        float(erlang_b_exact(10, 9.5)), rel=1e-12)


def test_loop_analysis_replays_it():
    # a pool that adds servers while arrivals are blocked: the replay (numpy recursion) sees
    # the signs the structure gives, and Loops That Matter scores the loop through it
    from sdmodels import dominance, link_polarities
    m = Model("scaling pool", stop=20, dt=0.25)
    servers = m.stock("Servers", initial=5)
    blocking = m.aux("Blocking", erlang_b(servers, m.constant("Load", 4)), units="1")
    m.flow("Scale up", (blocking - 0.01) * servers, into=servers)
    pol = link_polarities(m)
    assert (pol["servers", "blocking"].structural, pol["servers", "blocking"].observed) == \
        ("-", "-")
    assert pol["load", "blocking"].polarity == "+"
    scores = dominance(m).relative.to_numpy()
    assert np.isfinite(scores).all() and (scores < 0).any() and (scores > 0).any()
