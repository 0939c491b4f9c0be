"""Lookups, non-negative stocks, built-in input functions, and the on-disk kernel cache."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sdmodels import (Model, if_then_else, pulse_train, ramp, run, step, xidz, zidz, maximum)

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("extrapolate, expected", [(False, [1, 1, 2, 3, 3]),
                                                   (True, [0, 1, 2, 3, 4])])
def test_lookup_interpolates_and_clamps_or_extrapolates(extrapolate, expected):
    m = Model("lk", stop=4, dt=1)
    table = m.lookup("Curve", [(1, 1), (3, 3)], extrapolate=extrapolate)
    m.aux("Y", table(m.time))
    assert run(m)["Y"].tolist() == expected


def test_lookup_by_name_in_equation_text():
    m = Model("lk", stop=2, dt=0.5)
    m.lookup("Slowdown", [(0, 1), (100, 1), (200, 10)])
    m.constant("Load", 150)
    m.aux("Factor", "Slowdown(Load)")
    assert run(m)["Factor"].iloc[0] == pytest.approx(5.5)


def test_non_negative_stock_never_goes_below_zero():
    m = Model("drain", stop=10, dt=1)
    s = m.stock("Queue", initial=5, non_negative=True)
    m.flow("Drain", 2, out_of=s)
    free = Model("drain2", stop=10, dt=1)
    s2 = free.stock("Queue", initial=5)
    free.flow("Drain", 2, out_of=s2)
    assert run(m)["Queue"].min() == 0 and run(m)["Queue"].iloc[3] == 0     # 5 - 2 - 2 - 2 -> 0
    assert run(free)["Queue"].iloc[-1] == 5 - 2 * 10


def test_non_negative_flow_is_clipped():
    m = Model("flow", stop=3, dt=1)
    s = m.stock("Level", initial=0)
    m.flow("Net", "Time - 2", into=s, non_negative=True)
    assert run(m)["Net"].tolist() == [0, 0, 0, 1]


def test_input_functions_follow_their_definitions():
    m = Model("inputs", stop=12, dt=1)
    m.aux("Step", step(5, 3))
    m.aux("Ramp", ramp(2, 4, 8))
    m.aux("Train", pulse_train(2, 1, 4, 10))
    m.aux("Guard", xidz(1, m.time - 5, -1) + zidz(1, m.time - 6))
    m.aux("Branch", if_then_else((m.time > 3) & (m.time < 6), 1, maximum(m.time, 10)))
    f = run(m)
    assert f["Step"].tolist() == [0, 0, 0] + [5] * 10
    assert f["Ramp"].tolist() == [0] * 5 + [2, 4, 6] + [8] * 5        # 2 (t-4), held after 8
    assert f["Train"].tolist() == [0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0]
    # t=5: xidz(1, 0, -1) = -1 plus zidz(1, -1) = -1; t=6: xidz(1, 1, -1) = 1 plus zidz(1, 0) = 0
    assert f["Guard"].iloc[5] == -2 and f["Guard"].iloc[6] == 1
    assert f["Branch"].tolist() == [10, 10, 10, 10, 1, 1, 10, 10, 10, 10, 10, 11, 12]


def test_second_process_loads_the_compiled_kernel_from_disk(tmp_path):
    code = (
        "import json, sys; sys.path.insert(0, %r)\n"
        "from benchmarks.engine import sir_model\n"
        "from sdmodels import compile, simulate\n"
        "k = compile(sir_model()); simulate(k)\n"
        "fn = k.function\n"
        "print(json.dumps({'hits': len(fn.stats.cache_hits), 'misses': len(fn.stats.cache_misses)}))\n"
    ) % str(ROOT)
    env = {**os.environ, "SDMODELS_CACHE_DIR": str(tmp_path)}
    first = json.loads(subprocess.check_output([sys.executable, "-c", code], env=env))
    second = json.loads(subprocess.check_output([sys.executable, "-c", code], env=env))
    assert first == {"hits": 0, "misses": 1}        # compiled and written
    assert second == {"hits": 1, "misses": 0}       # loaded, not compiled
    assert list((tmp_path / "kernels").glob("k_*.py"))


def test_active_initial_breaks_a_cycle_among_start_values():
    from sdmodels import AlgebraicLoopError, build
    def model(initial):
        m = Model("active", stop=2, dt=1)
        level = m.stock("Level", initial="Target")
        m.aux("Target", "Level * 2", initial=initial)
        m.flow("Fill", "(Target - Level) / 4", into=level)
        return m
    with pytest.raises(AlgebraicLoopError, match="initial values depend on each other"):
        build(model(None))
    frame = run(model(10))
    # start: Target = 10 (its initial equation), Level = Target = 10; then Target = 2 Level
    assert frame["Target"].tolist()[0] == 20      # the saved t=0 row is the active equation
    assert frame["Level"].tolist() == [10, 12.5, 15.625]   # +(20-10)/4, +(25-12.5)/4


def test_limit_outflows_conserves_what_a_non_negative_stock_passes_on():
    """Stella's non-negative stock: outflows cut back in declaration order to what the stock
    holds plus its inflows in the step (Euler, dt = 1): room 5 + 1 = 6, F1 takes 3, F2 the
    other 3; afterwards the inflow's 1 a step goes to F1. Total material is conserved."""
    m = Model("transfer", stop=3, dt=1)
    a = m.stock("A", 5, non_negative=True, limit_outflows=True)
    b, c = m.stock("B", 0), m.stock("C", 0)
    m.flow("F1", 3, out_of=a, into=b)
    m.flow("F2", 4, out_of=a, into=c)
    m.flow("In", 1, into=a)
    out = run(m)
    assert out["F2"].tolist() == [3, 0, 0, 0] and out["F1"].tolist() == [3, 1, 1, 1]
    total = out["A"] + out["B"] + out["C"]
    assert total.tolist() == [5, 6, 7, 8]          # initial 5 plus 1 a step from In
    clamped = Model("clamped", stop=3, dt=1)        # the default clamps: B gets 4 from nothing
    a = clamped.stock("A", 5, non_negative=True)
    b = clamped.stock("B", 0)
    clamped.flow("F", 9, out_of=a, into=b)
    assert run(clamped)["B"].iloc[1] == 9 and run(clamped)["A"].iloc[1] == 0


def test_limit_outflows_falls_back_to_clamping_when_an_inflow_needs_an_outflow():
    from sdmodels.errors import ModelWarning
    m = Model("retry", stop=2, dt=1)
    backlog = m.stock("Backlog", 5, non_negative=True, limit_outflows=True)
    failed = m.flow("Failed", 10, out_of=backlog)
    m.flow("Retries", failed * 0.5, into=backlog)
    with pytest.warns(ModelWarning, match="outflows of Backlog are not cut back"):
        out = run(m)
    assert out["Backlog"].iloc[1] == 0.0
