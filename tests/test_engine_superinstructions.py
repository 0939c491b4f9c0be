"""The interpreter's one-instruction forms: a sampler's clock (DUE, HOLD), reductions over
registers, the 'time has come' jump of STEP / PULSE / samplers (sdmodels/_opcodes.py JNDUE,
CLOCK, REDUCE), copies that take no instruction and numbers written once a run. Each is the
same operations on the same values as the instructions it replaces;
tests/test_engine_interpreter.py holds the library against the compiled kernel, these check
the forms are taken and give the closed-form values.
"""
import numpy as np

from sdmodels import Dim, Model, pulse, sample_hold, simulate
from sdmodels import _opcodes as op
from sdmodels.expr import max_over, min_over, prod_over, sum_over
from sdmodels.tape import prepare


def _step_ops(program) -> list[int]:
    """A saved step's instructions: stage 1, then the values only saving reads."""
    seg = program.arrays["seg"]
    return list(program.code[seg[2]:seg[3], 0]) + list(program.code[seg[10]:seg[11], 0])


def test_a_sampler_of_a_register_is_one_instruction():
    m = Model("held", stop=6, dt=0.5)
    m.aux("Held", sample_hold(m.time, 1.5))
    program = prepare(m)
    steps = _step_ops(program)
    assert steps == [op.HOLD]                 # test the clock, copy, move the clock: one
    times = np.arange(0, 6.25, 0.5)
    held = simulate(program)["Held"][0]
    assert np.array_equal(held, np.floor(times / 1.5 + 1e-9) * 1.5)   # sampled at 0, 1.5, ...


def test_a_sampler_of_an_expression_tests_and_moves_its_clock_in_one_instruction():
    m = Model("held", stop=6, dt=0.5)
    m.aux("Held", sample_hold(m.time * 2, 1.5))
    program = prepare(m)
    steps = _step_ops(program)
    assert steps == [op.DUE, op.MUL]          # no JNDUE, CLOCK or loop of instructions
    times = np.arange(0, 6.25, 0.5)
    held = simulate(program)["Held"][0]
    assert np.array_equal(held, 2 * np.floor(times / 1.5 + 1e-9) * 1.5)


def test_a_flow_that_copies_a_value_takes_no_instruction():
    m = Model("copy", stop=2, dt=0.5)
    s = m.stock("S", initial=8)
    rate = m.aux("Rate", s / 2)
    m.flow("Out", rate, out_of=s)            # the stock's derivative reads Rate's register
    program = prepare(m)
    assert _step_ops(program) == [op.DIV]
    out = simulate(program)
    assert np.array_equal(out["S"][0], 8 * 0.75 ** np.arange(5))
    assert np.array_equal(out["Out"][0], out["Rate"][0])


def test_a_sampler_whose_period_is_shorter_than_dt_samples_every_step():
    m = Model("fast", stop=2, dt=0.5)
    m.aux("Held", sample_hold(m.time * 2, 0.1))      # the clock moves by max(period, dt)
    assert np.array_equal(simulate(prepare(m))["Held"][0], [0, 1, 2, 3, 4])


def test_pulse_starts_on_its_step_with_one_jump():
    m = Model("pulse", stop=3, dt=0.25)
    m.aux("P", pulse(m.constant("Start", 1), 0.5))
    program = prepare(m)
    assert _step_ops(program).count(op.JNDUE) == 1
    p = simulate(program)["P"][0]
    assert np.array_equal(np.flatnonzero(p), [4, 5])     # t = 1.0 and 1.25


def test_reductions_over_registers_are_one_instruction_left_to_right():
    d = Dim("d", 5)
    m = Model("reduce", stop=1, dt=1)
    values = [0.1, 0.2, 0.3, 1e16, -1e16]                 # order shows in the float sum
    x = m.stock("X", initial={f"d{i + 1}": v for i, v in enumerate(values)}, dims=[d])
    m.aux("Sum", sum_over(x, d))
    m.aux("Prod", prod_over(x, d))
    m.aux("Min", min_over(x, d))
    m.aux("Max", max_over(x, d))
    program = prepare(m)
    assert _step_ops(program).count(op.REDUCE) == 4 and op.ADD not in _step_ops(program)
    out = simulate(program)
    acc = values[0]
    for v in values[1:]:
        acc = acc + v
    assert out["Sum"][0, 0] == acc == 0.0                 # (((0.1 + 0.2) + 0.3) + 1e16) - 1e16
    assert out["Prod"][0, 0] == np.prod(values)
    assert out["Min"][0, 0] == -1e16 and out["Max"][0, 0] == 1e16


def test_an_element_whose_equation_is_a_number_is_written_once_a_run():
    d = Dim("d", 2)
    m = Model("settled", stop=2, dt=0.5)
    s = m.stock("S", initial={"d1": 8, "d2": 8}, dims=[d])
    m.flow("Out", {"d1": s["d1"] / 2, "d2": 1}, out_of=s, dims=[d])
    for method in ("euler", "rk4"):
        program = prepare(m, method=method)
        assert op.MOV not in _step_ops(program)
        out = simulate(program)
        assert np.array_equal(out["S[d2]"][0], 8 - np.arange(5) * 0.5)   # 1 a time unit
        assert np.array_equal(out["Out[d2]"][0], np.ones(5))
    assert np.array_equal(simulate(prepare(m))["S[d1]"][0], 8 * 0.75 ** np.arange(5))
