"""Erlang C (library/parts/erlang.py) against the textbook closed form, computed exactly in
rational arithmetic here, and its robustness at the extremes: no server, a fraction of one,
thousands; no load, load far past the servers. Runs on the interpreter (no compile)."""
from fractions import Fraction
from math import factorial

import numpy as np
import pytest

from library.parts.erlang import erlang_c
from library.parts.server import server_pool
from sdmodels import Model, erlang_b, simulate


def erlang_b_exact(c: int, a: float) -> Fraction:
    """B(c, a) = (a^c / c!) / sum_{k<=c} a^k / k!, exactly (a as the float it is)."""
    x = Fraction(a)
    terms = [x ** k / factorial(k) for k in range(c + 1)]
    return terms[-1] / sum(terms)


def erlang_c_exact(c: int, a: float) -> float:
    """C(c, a) = (a^c / c! * c / (c - a)) / (sum_{k<c} a^k / k! + a^c / c! * c / (c - a))."""
    x = Fraction(a)
    top = x ** c / factorial(c) * c / (c - x)
    return float(top / (sum(x ** k / factorial(k) for k in range(c)) + top))


def run_erlang(cs, rhos):
    """Erlang C of the part and the Erlang B it reads (the built-in at the same arguments)."""
    m = Model("erlang", stop=1, dt=1)
    c, rho = m.constant("c", 1), m.constant("rho", 0.5)
    erlang_c(m, c, rho)
    m.aux("B", erlang_b(c, c * rho))
    r = simulate(m, params={"c": np.asarray(cs, float), "rho": np.asarray(rhos, float)},
                 engine="interpreter", outputs=["Erlang C", "B"])
    return r["Erlang C"][:, -1], r["B"][:, -1]


CASES = [(c, rho) for c in (1, 2, 3, 5, 10, 20, 50, 63, 64)
         for rho in (0.01, 0.3, 0.7, 0.95, 0.999)]


def test_erlang_c_is_the_closed_form_up_to_64_servers():
    cs, rhos = zip(*CASES)
    got_c, got_b = run_erlang(cs, rhos)
    for (c, rho), gc, gb in zip(CASES, got_c, got_b):
        a = float(np.float64(c) * np.float64(rho))          # the load as the model forms it
        # rounding only: every term of the recursion is positive (a few ulp per level)
        assert gc == pytest.approx(erlang_c_exact(c, a), rel=1e-12, abs=1e-300), (c, rho)
        assert gb == pytest.approx(float(erlang_b_exact(c, a)), rel=1e-12), (c, rho)


def test_fractional_servers_interpolate_erlang_b_between_whole_counts():
    cases = [(0.5, 0.4), (2.25, 0.8), (9.5, 0.9), (63.75, 0.97)]
    got_c, _ = run_erlang(*zip(*cases))
    for (c, rho), gc in zip(cases, got_c):
        n, f, a = int(c), c - int(c), c * rho
        b = (1 - f) * erlang_b_exact(n, a) + f * erlang_b_exact(n + 1, a)
        want = float(b / (1 - Fraction(rho) * (1 - b)))
        assert gc == pytest.approx(want, rel=1e-12), (c, rho)


def test_extreme_server_counts_and_loads_stay_finite_probabilities():
    cs = [0, 1e-9, 1e-6, 0.5, 1, 63.5, 64, 65, 200, 1000, 1e4, 1e6]
    rhos = [0, 1e-12, 1e-3, 0.5, 0.99999, 1, 2, 1e3]
    grid = [(c, rho) for c in cs for rho in rhos]
    got_c, got_b = run_erlang(*zip(*grid))
    assert np.isfinite(got_c).all() and (got_b > 0).all()
    assert ((got_c >= 0) & (got_c <= 1)).all()
    for (c, rho), gc in zip(grid, got_c):
        if rho >= 1 or c == 0:          # load at or past the servers, or none: all wait
            assert gc == 1.0, (c, rho)
    # a << c: the waiting probability vanishes (1 / 999! ~ 1e-2565 at c = 1000, a = 1; past
    # 64 servers the recursion starts from the fluid estimate, which still gives < 1e-100)
    tiny, _ = run_erlang([1000, 1e6, 200, 64], [1e-3, 1e-3, 0.01, 1e-3 / 64])
    assert (tiny < 1e-100).all()


def test_server_pool_with_many_idle_workers_has_no_overflow():
    # the hands-on HPA regression: 300 workers, next to no load (a = 1e-3 Erlangs), where the
    # unrolled 1 / B used to reach (300 / 0.001)^64 = inf; the bounds keep B above 1e-286
    model = server_pool(Arrivals=0.0, Workers=300.0).with_time(stop=0.05, dt=0.01)
    r = simulate(model, engine="interpreter", outputs=["Erlang C", "Queue wait", "Goodput"])
    assert (r["Erlang C"] > 0).all() and (r["Erlang C"] < 1e-100).all()
    assert (r["Queue wait"] == 0).all()
