"""The interpreter (sdmodels/tape.py) against the compiled kernel: one IR, one semantics.

Both engines run the same model for a short horizon and must agree to 1e-12 (relative, with
an absolute floor of 1e-12) at every saved value, NaN where the other has NaN, and report the
same failures. Every library model and scenario (RK4 too on one); a sample of the SDXorg suite;
the features one by one (delays, samplers, windows, random streams, array built-ins,
non-negative stocks cut back, ACTIVE INITIAL, failures). Kernels compile here, so horizons
and models stay small.
"""
import importlib
import os
import warnings
from dataclasses import replace

import numpy as np
import pytest

from sdmodels import Dim, Kernel, LimitError, Model, ModelError, Program, build, simulate, use_limits
from sdmodels.engine import prepared
from sdmodels.expr import (Binary, Call, Const, Ref, Unary, delay3, delay_fixed, if_then_else, maximum, pulse, pulse_train,
                           ramp, random_normal, random_uniform, rolling_max, rolling_min,
                           sample_hold, smooth, step, sum_over, xidz, zidz)
from sdmodels.interop.conformance import cases, suite_root
from sdmodels.sources import library_models

TOL = 1e-12


def same(model, **options):
    """Run both engines; assert equal values and failures; return the interpreter's results."""
    a = simulate(model, engine="interpreter", **options)
    b = simulate(model, engine="compiled", **options)
    assert a.columns == b.columns
    assert np.array_equal(np.isnan(a.data), np.isnan(b.data))
    ok = ~np.isnan(b.data)
    gap = np.abs(a.data[ok] - b.data[ok])
    assert np.all(gap <= TOL * np.maximum(1.0, np.abs(b.data[ok]))), gap.max()
    assert a.failures == b.failures
    return a


#: a library model whose tape is longer than this many instructions is compared with
#: SDMODELS_ENGINE_EQUALITY=full only: numba's compile grows faster than linearly with the code
#: (black_friday's 9,364 instructions took over ten minutes of CI; eviction_cascade's 1,650
#: values minutes too). Every opcode is compared below one by one, and the interpreter runs
#: the big models in every other test.
QUICK_KERNEL_CODE = 1500


def _library_cases():
    out = []
    full = os.environ.get("SDMODELS_ENGINE_EQUALITY") == "full"
    for name in sorted(library_models()):
        model = importlib.import_module(f"library.{name}").build()
        if not full and len(prepared(model).program("euler").code) > QUICK_KERNEL_CODE:
            continue
        for scenario in [None, *model.scenarios]:
            out.append(pytest.param(name, scenario, id=f"{name}-{scenario or 'default'}"))
    return out


@pytest.mark.parametrize("name, scenario", _library_cases())
def test_library_models_agree(name, scenario):
    model = importlib.import_module(f"library.{name}").build()
    horizon = min(model.stop, model.start + 200 * model.dt)
    same(model, scenario=scenario, stop=horizon, on_failure="mark")


@pytest.mark.parametrize("name", sorted(library_models())[:1])
def test_library_models_agree_under_rk4(name):
    model = importlib.import_module(f"library.{name}").build()
    same(model, method="rk4", stop=min(model.stop, model.start + 50 * model.dt))


ROOT = suite_root()
# a varied sample that compiles quickly (the whole suite runs through the interpreter in
# tests/test_conformance.py, against the suite's own outputs)
SAMPLE = {"tests/arithmetics/test_arithmetics.mdl",
          "tests/arithmetics_exp/test_arithmetics_exp.mdl", "tests/delays/test_delays.mdl", "tests/input_functions/test_inputs.mdl",
          "tests/lookups/test_lookups_no-indirect.stmx", "tests/rounding/test_rounding.mdl",
          "tests/subscript_1d_arrays/test_subscript_1d_arrays.mdl",
          "tests/active_initial_circular/test_active_initial_circular.mdl",
          "tests/chained_initialization/test_chained_initialization.stmx"}
SUITE = [c for c in (cases(ROOT) if ROOT else []) if c.name in SAMPLE]


@pytest.mark.skipif(ROOT is None, reason="../shared/test-models is not present")
@pytest.mark.parametrize("case", SUITE, ids=[c.name for c in SUITE])
def test_suite_sample_agrees(case):
    assert len(SUITE) == len(SAMPLE)
    from sdmodels.errors import SDModelsError
    from sdmodels.interop import import_model
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ir = build(import_model(case.model))
        except SDModelsError as exc:
            pytest.skip(f"not imported: {exc}")
    same(ir, stop=min(ir.stop, ir.start + 100 * ir.dt), on_failure="mark")


def features() -> Model:
    """One small model that uses every kind of element and most built-ins."""
    m = Model("features", stop=12, dt=0.25)
    pods = Dim("pod", 3)
    k = m.constant("k", [0.1, 0.2, 0.3], dims=[pods])
    load = m.aux("Load", 10 + 5 * step(1, 2) + 3 * pulse(4, 1) + ramp(2, 1, 6)
                 + pulse_train(1, 0.5, 2, 9) + random_uniform(0, 1, 0))
    mem = m.stock("Memory", initial=100, dims=[pods], non_negative=True, limit_outflows=True)
    m.flow("Leak", "Memory * k + Load / 3", out_of=mem, dims=[pods])
    m.flow("Fill", "Load", into=mem, dims=[pods])
    total = m.aux("Total", sum_over(mem, pods))
    m.aux("Late", delay_fixed(total, 1.5, 7))
    m.aux("Spread", delay3(load, 2))
    m.aux("Smooth", smooth(total, 1))
    m.aux("Held", sample_hold(load, 2))
    m.aux("Peak", rolling_max(load, 3))
    m.aux("Low", rolling_min(load, 3))
    m.aux("Guarded", xidz(total, load - 10, -1) + zidz(1, total) + maximum(0, load - 12))
    m.aux("Noise", random_normal(-1, 1, 0, 0.5, 0))
    m.aux("Branch", if_then_else((load > 12) & ~(total < 0), load ** 0.5, total))
    m.lookup("Curve", [(0, 0), (50, 1), (400, 2)])
    m.aux("Shape", "Curve(Total)")
    m.aux("Start value", "Total * 2", initial=5)
    # repeated subtrees, computed once on the tape (sdmodels/tape_shared.py): not inside a
    # reduction (other bindings), not a random draw (the kernel draws twice)
    n = Call("floor", (maximum(total / 10, 0),))
    draw = random_uniform(0, 1, 0) + 1
    m.aux("Repeated", (n + 1) * (n + 2) / (n + 3) + sum_over(mem * (n + 1), pods)
          + sum_over(mem * k, pods) * sum_over(mem * k, pods) + draw * draw
          + if_then_else(load > 12, n * 2, (n + 1) * 2))
    # one-instruction forms (a select of two registers, a step of a register, compare and
    # jump: NaN compares false either way) and subtrees of constants computed once a run
    nan = Call("sqrt", (total - 1e9,))
    m.aux("Chosen", if_then_else(load > 12, total, load) + if_then_else(nan > 0, load, total)
          + if_then_else(nan <= 0, load * 2, total * 3) + step(total, 3) + step(total * 2, 5))
    c = m.constant("c", 2)
    m.aux("Scaled", total * (c * 3 + 1) / (m.dt_expr * c + Call("exp", (c,))))
    # copies (module wiring writes them): read as the value they copy, saved alike
    m.aux("Copy", m.aux("Copied", "Load") * 2 + m.aux("Copy of copy", "Copied"))
    m.aux("Per pod", "Memory * (k * 2 + c)", dims=[pods])     # hoisted once per element
    return m


@pytest.mark.parametrize("method", ["euler", "rk4"])
def test_every_feature_agrees(method):
    out = same(features(), method=method, params={"k": [0.1, 0.5]}, seed=3)
    assert out.runs == 2 and np.all(np.isfinite(out.data))


def test_random_streams_match_the_kernel_per_run():
    out = same(features(), params={"k": [0.1, 0.1, 0.1]}, seed=11)
    noise = out["Noise"]
    assert not np.allclose(noise[0], noise[1])       # run r draws from seed + r
    again = simulate(features(), engine="interpreter", params={"k": [0.1]}, seed=12)
    assert np.array_equal(again["Noise"][0], noise[1])


def test_conditionals_and_constant_subtrees_take_single_instructions():
    from sdmodels import _opcodes as op
    from sdmodels.tape import prepare
    m = Model("short forms", stop=2, dt=0.5)
    s = m.stock("S", initial=1)
    rate = m.constant("rate", 0.5)
    m.aux("A", if_then_else(s > 2, s, rate) + step(s, 1) + if_then_else(s < 1, s * 2, rate))
    m.aux("B", (s + 1) * rate)
    program = prepare(m)
    seg = program.arrays["seg"]
    steps = program.code[seg[10]:seg[11], 0]        # A and B: only saved, so computed then
    assert seg[3] == seg[2] and op.SELECT in steps and op.STEP in steps and op.JNLT in steps
    assert steps[-1] == op.FUSED + 2 * 6 + 0             # (s + 1) * rate: one instruction
    assert op.JZ not in steps           # no flag computed, then tested by a jump


def test_a_subtree_of_constants_is_computed_once_per_run_with_that_runs_values():
    from sdmodels.tape import prepare
    m = Model("decay", stop=1, dt=0.25)
    s = m.stock("S", initial=1)
    k = m.constant("k", 1)
    m.flow("Out", s * (k * 0.5 + 0.25), out_of=s)
    program = prepare(m)
    seg = program.arrays["seg"]
    assert seg[9] > seg[8] and seg[3] - seg[2] == 1         # k * 0.5 + 0.25, once a run
    out = simulate(program, params={"k": [1.0, 3.0]})
    for run, k_value in enumerate([1.0, 3.0]):             # Euler: S(n) = (1 - dt r)^n
        expected = (1 - 0.25 * (k_value * 0.5 + 0.25)) ** np.arange(5)
        assert np.allclose(out["S"][run], expected, rtol=1e-15, atol=0)


def test_a_copy_takes_no_instruction_and_reads_as_what_it_copies():
    from sdmodels import _opcodes as op
    from sdmodels.tape import prepare
    m = Model("copies", stop=1, dt=0.5)
    s = m.stock("S", initial=4)
    m.flow("Out", m.aux("B", m.aux("A", s)) * 0.5, out_of=s)
    program = prepare(m)
    seg = program.arrays["seg"]
    assert list(program.code[seg[2]:seg[3], 0]) == [op.MUL]      # Out = S * 0.5
    out = simulate(program)
    assert np.array_equal(out["A"][0], [4.0, 3.0, 2.25])
    assert np.array_equal(out["B"][0], out["S"][0])


def test_an_equation_computes_a_repeated_subtree_once():
    # the Erlang B recursion written out as a tree (as an export writes erlang_b) repeats its
    # server count and load in each of its 64 levels
    from sdmodels.queueing import expanded
    from sdmodels.tape import prepare
    m = Model("erlang", stop=1)
    servers = m.constant("Servers", 10)
    m.aux("B", expanded(servers, servers * m.constant("rho", 0.95)))
    program = prepare(m)
    assert len(program.code) < 2000        # 6,028 with the subtrees written out
    out = simulate(program)
    assert abs(out["B"][0, 0] - 0.191379) < 1e-6   # B(10, 9.5)


@pytest.mark.parametrize("window", [0, 1, 4, 30])
def test_rolling_windows_keep_the_extreme_of_the_last_values(window):
    # the interpreter rescans a window only when its extreme may leave it: the values must
    # still be the max / min of the last round(window / dt) + 1 inputs, ties and zeros too
    m = Model("windows", stop=40, dt=0.5)
    t = m.aux("T", "Time")
    x = m.aux("X", Call("modulo", (Call("floor", (t * 1.7,)), Const(7.0))) - 3
              + if_then_else(t > 20, 0 - t / 10, 0))
    m.aux("Peak", rolling_max(x, window))
    m.aux("Low", rolling_min(x, window))
    out = simulate(m, engine="interpreter")
    xs = out["X"][0]
    size = int(np.floor(window / 0.5 + 0.5)) + 1
    last = [xs[max(0, k - size + 1):k + 1] for k in range(len(xs))]
    assert np.array_equal(out["Peak"][0], [v.max() for v in last])
    assert np.array_equal(out["Low"][0], [v.min() for v in last])


def test_failures_are_reported_alike():
    m = Model("blowup", stop=10)
    x = m.stock("X", initial=1)
    m.flow("Growth", "X * X * 1e100", into=x)
    out = same(m, on_failure="mark")
    assert 0 in out.failures and "inf" in out.failures[0]


def test_a_negative_constant_raised_to_a_power_reads_as_the_kernel_reads_it():
    # (-30.0 ** x) in the kernel's source is -(30 ** x), as Vensim reads 30^-30^-c
    m = Model("power", stop=1)
    c = m.constant("c", 2)
    m.aux("E", Binary("^", Const(-30.0), Unary("-", c)))
    out = same(m)
    assert out["E"][0, 0] == -(30.0 ** -2)


def test_array_builtins_agree():
    m = Model("alloc", stop=3)
    d = Dim("who", 3)
    m.constant("Request", [5, 3, 4], dims=[d])
    m.constant("Priority", [3, 1, 2], dims=[d])
    m.constant("Idx", [0, 1, 2], dims=[d])
    each = lambda name: [Ref(name)[w] for w in d.elements]  # noqa: E731
    m.aux("Got", Call("allocate_by_priority", (Ref("Idx"), Const(1), Const(8),
                                               *each("Request"), *each("Priority"))), dims=[d])
    m.aux("Order", Call("vector_sort_order", (Ref("Idx"), Const(1), *each("Priority"))), dims=[d])
    m.aux("Pick", Call("vector_select", (Const(-1), Const(0), *each("Idx"), *each("Request"))))
    same(m)


def test_an_unchanged_model_is_prepared_once_and_an_edit_prepares_again():
    m = Model("decay", stop=4)
    s = m.stock("Amount", initial=100)
    m.flow("Outflow", s / m.constant("Lifetime", 2), out_of=s)
    first = prepared(m)
    assert prepared(m) is first
    assert simulate(m).data[0, 1, 0] == 50.0
    m.elements["lifetime"] = replace(m.elements["lifetime"], values=(4.0,))
    assert prepared(m) is not first
    assert simulate(m).data[0, 1, 0] == 75.0


def test_a_model_run_long_enough_compiles_its_kernel_aside(monkeypatch):
    from sdmodels import engine
    monkeypatch.setattr(engine, "BACKGROUND_AFTER", 0.0)
    monkeypatch.setenv("SDMODELS_BACKGROUND_COMPILE", "1")
    m = Model("decay", stop=4)
    s = m.stock("Amount", initial=100)
    m.flow("Outflow", s / m.constant("Lifetime", 2), out_of=s)
    first = simulate(m)                      # interpreted; starts the compile in a thread
    entry = prepared(m)
    assert "euler" in entry._compiling
    entry._compiling["euler"].join()
    assert entry.has_kernel("euler")
    assert isinstance(entry.choose("euler", "auto", 1, 4), Kernel)
    assert np.array_equal(simulate(m).data, first.data)


def test_heavy_calls_compile_unless_the_model_is_too_large(monkeypatch):
    from sdmodels import engine
    m = Model("decay", stop=4)
    s = m.stock("Amount", initial=100)
    m.flow("Outflow", s / m.constant("Lifetime", 2), out_of=s)
    entry = prepared(m)
    assert isinstance(entry.choose("euler", "auto", 1, 4), Program)     # light: interpreted
    monkeypatch.setattr(engine, "COMPILE_ABOVE", 10.0)
    monkeypatch.setattr(engine, "COMPILE_MAX_SLOTS", 2)                  # 3 values: too large
    assert isinstance(entry.choose("euler", "auto", 1000, 4), Program)
    assert not entry.has_kernel("euler")


def test_engine_names_are_checked():
    m = Model("decay", stop=1)
    m.stock("Amount", initial=1)
    with pytest.raises(ModelError, match="engine must be one of"):
        simulate(m, engine="jit")


def test_deep_expressions_prepare_without_recursion_error():
    m = Model("deep", stop=2)
    x = m.stock("X", initial=1)
    expr = x
    for i in range(400):     # deeper than build and the tape writer recurse by default
        expr = if_then_else(x < i, expr + 1, -1.0)
    m.flow("In", expr, into=x)
    # 801 levels: over the default depth limit (a clear LimitError), fine once raised
    with pytest.raises(LimitError, match="801 levels deep"):
        simulate(m, engine="interpreter")
    with use_limits(max_expression_depth=1000):
        # X = 1: level 1 (1 < 1 is false) gives -1, and each of levels 2..399 adds one
        assert simulate(m, engine="interpreter").data[0, 1, 0] == 1 + (-1 + 398)
