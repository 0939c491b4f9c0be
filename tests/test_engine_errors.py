"""Every build-time and run-time error says what, where and how to fix (checked by regex)."""
import math

import pytest

from sdmodels import (AlgebraicLoopError, Dim, DimensionError, DuplicateNameError,
                      EquationSyntaxError, Model, ModelError, ModelWarning, SimulationError,
                      UnknownNameError, build, delay3, minimum, parse_equation, simulate,
                      smooth)


def teacup():
    m = Model("teacup", stop=30, dt=0.125)
    temp = m.stock("Teacup Temperature", initial=180)
    m.constant("Room Temperature", 70)
    m.constant("Characteristic Time", 10)
    return m, temp


def test_unknown_name_suggests_the_closest():
    m, temp = teacup()
    m.flow("Heat Loss", "(Teacup Temperature - Room Temp) / Characteristic Time", out_of=temp)
    with pytest.raises(UnknownNameError, match=r"flow 'Heat Loss' uses 'Room Temp', which is not "
                       r"defined in model 'teacup'\. Did you mean 'Room Temperature'\?"):
        build(m)


def test_duplicate_name_is_refused_ignoring_case_and_spaces():
    m, _ = teacup()
    with pytest.raises(DuplicateNameError, match=r"defines 'room temperature' twice .*rename"):
        m.aux("room  temperature", 3)


def test_algebraic_loop_prints_the_cycle():
    m = Model("loop")
    m.aux("Latency", "Load * 2")
    m.aux("Load", "Latency + 1")
    with pytest.raises(AlgebraicLoopError, match=r"algebraic loop .*: (Latency -> Load -> Latency"
                                                 r"|Load -> Latency -> Load)\. Break it"):
        build(m)


def test_a_delay_breaks_an_algebraic_loop():
    m = Model("loop")
    m.aux("Latency", delay3("Load * 0.5", 3, 0))   # an explicit start value: no initial cycle
    m.aux("Load", "Latency + 1")
    ir = build(m)
    assert ir.eval_order.index("latency") < ir.eval_order.index("load")


def test_flow_attached_to_a_non_stock():
    m, _ = teacup()
    with pytest.raises(ModelError, match=r"flow 'Heat Loss' drains 'Room Temperature', which is a "
                                         r"constant, not a stock"):
        m.flow("Heat Loss", 1, out_of="Room Temperature")
        build(m)


def test_flow_with_no_stock():
    m, _ = teacup()
    with pytest.raises(ModelError, match=r"flow 'Leak' .* attached to no stock; give into="):
        m.flow("Leak", 1)


@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_non_finite_constant(value):
    m, temp = teacup()
    m.constant("Bad", value)
    with pytest.raises(ModelError, match=r"constant 'Bad' in model 'teacup' is (nan|inf); "
                                         r"constants must be finite"):
        build(m)


def test_lookup_with_unsorted_x():
    m, _ = teacup()
    m.lookup("Slowdown", [(0, 1), (50, 2), (20, 3)])
    with pytest.raises(ModelError, match=r"lookup 'Slowdown' has x values out of order \(50.0 "
                                         r"then 20.0\); sort the points"):
        build(m)


def test_a_negative_smooth_time_warns():
    """A smooth with a negative averaging time moves away from its input (dS/dt = (x - S) /
    T with T < 0): a sign slip the engine would run without a word (harden helper's find)."""
    m = Model("negative", stop=10, dt=1)
    m.aux("Out", smooth(m.constant("In", 1), m.constant("Averaging time", -3)))
    with pytest.warns(ModelWarning, match=r"'Out': the smooth time -3 is negative: it moves "
                                          r"away from its input"):
        build(m)


def test_coarse_dt_for_a_delay_warns():
    m = Model("coarse", stop=10, dt=1)
    m.aux("Out", delay3(m.constant("In", 1), 2))
    with pytest.warns(ModelWarning, match=r"dt=1.0 is coarser than the delay3 stage time 0.666667"
                                          r".*use dt <= 0.666667"):
        build(m)


def test_dt_that_does_not_divide_the_horizon_warns():
    m = Model("ragged", stop=10, dt=0.3)
    m.constant("X", 1)
    with pytest.warns(ModelWarning, match=r"dt=0.3 does not divide the horizon"):
        build(m)


def test_nan_at_run_time_names_variable_time_and_parameters():
    m = Model("blowup", stop=10, dt=1)
    x = m.stock("Level", initial=1)
    k = m.constant("Drain time", 2)
    m.flow("Drain", x / (k - m.time * 0 - 2 * (m.time >= 4)), out_of=x)
    simulate(m, params={"Drain time": 4})         # fine: denominator 4 - 2 = 2
    with pytest.raises(SimulationError, match=r"'Drain' became inf at time 4 in run 1 of model "
                                              r"'blowup' \(Drain time=2\); 1 of 2 runs failed"):
        simulate(m, params={"Drain time": [3, 2]})


def test_syntax_error_points_at_the_column():
    with pytest.raises(EquationSyntaxError, match=r"expected a number, a name or '\(' but found "
                                                  r"'\*' at column 11 of equation\n  Backlog \* \* 2"):
        parse_equation("Backlog * * 2")


def test_unknown_function_arity():
    with pytest.raises(EquationSyntaxError, match=r"MIN takes 2 arguments, got 3"):
        parse_equation("MIN(a, b, c)")


def test_dimension_mismatch_needs_a_reduction():
    pods = Dim("pod", 3)
    m = Model("pods")
    mem = m.constant("Memory", [1, 2, 3], dims=[pods])
    m.aux("Total", mem * 2)
    with pytest.raises(DimensionError, match=r"auxiliary 'Total' has dimensions \(\) but its "
                                             r"equation varies over \('pod',\); .*sum_over"):
        build(m)


def test_unknown_subscript_element():
    pods = Dim("pod", 3)
    m = Model("pods")
    mem = m.constant("Memory", [1, 2, 3], dims=[pods])
    m.aux("Fourth", mem["pod4"])
    with pytest.raises(DimensionError, match=r"'pod4' is not an element of dimension 'pod'"):
        build(m)


def test_unknown_parameter_and_non_constant_parameter():
    m, temp = teacup()
    m.flow("Heat Loss", "(Teacup Temperature - Room Temperature) / Characteristic Time",
           out_of=temp)
    with pytest.raises(UnknownNameError, match=r"parameter 'Room temp' is not a constant of model "
                                               r"'teacup'\. Did you mean 'Room Temperature'\?"):
        simulate(m, params={"Room temp": 3})
    with pytest.raises(ModelError, match=r"'Heat Loss' is a flow, not a constant"):
        simulate(m, params={"Heat Loss": 3})
    with pytest.raises(ModelError, match=r"different lengths \[2, 3\]"):
        simulate(m, params={"Room Temperature": [1, 2], "Characteristic Time": [1, 2, 3]})


def test_python_if_on_an_expression_is_refused_with_advice():
    m, temp = teacup()
    with pytest.raises(TypeError, match=r"use if_then_else\(cond, a, b\), minimum"):
        max(temp, 3)
    assert minimum(temp, 3) is not None


def test_stateful_in_stock_initial_is_refused():
    m = Model("bad")
    m.stock("Level", initial=delay3(m.constant("In", 1), 2))
    with pytest.raises(ModelError, match=r"stock 'Level': its initial value uses a delay"):
        build(m)


def test_initial_values_in_a_cycle():
    m = Model("init")
    m.stock("A", initial="B * 2")
    m.stock("B", initial="A + 1")
    with pytest.raises(AlgebraicLoopError, match=r"initial values depend on each other in a "
                                                 r"cycle: (A -> B -> A|B -> A -> B)"):
        build(m)
