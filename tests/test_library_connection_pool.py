"""Behaviour of library/connection_pool.py against the reference's Part 3.3 figures."""
from functools import partial

import pytest

from library import connection_pool
from sdmodels import build, simulate as _simulate

# the interpreter: no numba compile (tests/test_engine_interpreter.py checks the engines agree)
simulate = partial(_simulate, engine="interpreter")

NO_CONTENTION = {"Contention coefficient": 0.0, "Coherency coefficient": 0.0}


@pytest.fixture(scope="module")
def kernel():
    return build(connection_pool.build())


def test_littles_law_figures(kernel):
    # Little's law: busy = 500 q/s x 10 ms = 5; x 50 ms = 25; x 500 ms = 250 > 100 -> full.
    r = simulate(kernel, params={**{k: [v] * 3 for k, v in NO_CONTENTION.items()},
                                 "Base query time": [0.010, 0.050, 0.500], "Max retries": [0] * 3},
                 outputs=["Connections in use", "Waiting for connection"], stop=120)
    busy = r["Connections in use"][:, -1]
    assert busy[0] == pytest.approx(500 * 0.010, rel=0.01)
    assert busy[1] == pytest.approx(500 * 0.050, rel=0.01)
    assert busy[2] == pytest.approx(100, rel=1e-6)
    q = r["Waiting for connection"]
    assert q[2, -1] > 1000                  # queue grows: 500 - 100/0.5 = 300 q/s unserved
    assert q[0, -1] < 500 * 0.02 + 1e-6     # no queue beyond one step of arrivals


def test_trigger_death_spiral_outlives_the_trigger(kernel):
    r = simulate(kernel, scenario="trigger",
                 outputs=["Connections in use", "Goodput", "Query arrivals", "Query time"])
    after = r.times > 60 + 20 + 60          # a minute after queries are fast again
    assert r["Connections in use"][0][after].min() == pytest.approx(100)   # pool stays full
    assert r["Goodput"][0][after].max() < 0.2 * 500
    # retries: 3 per request when all time out -> up to 4 x 500 = 2000 q/s; ask for > 3x
    assert r["Query arrivals"][0][after].mean() > 3 * 500
    # the database is slower with 100 queries running than the 10 ms baseline (USL)
    assert r["Query time"][0][after].min() > 5 * 0.010


@pytest.mark.parametrize("scenario", ["fixed", "wait timeout only"])
def test_fixes_hold(kernel, scenario):
    r = simulate(kernel, scenario=scenario, outputs=["Connections in use", "Goodput"])
    end = r.times > 300
    assert r["Goodput"][0][end].min() > 0.95 * 500
    assert r["Connections in use"][0][end].max() < 10     # back to ~5 busy
    if scenario == "fixed":
        assert r["Connections in use"][0].max() <= 44 + 1e-6   # never beyond the sized pool
