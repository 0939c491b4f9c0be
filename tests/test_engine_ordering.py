"""Start-value and element-level ordering (sdmodels/ordering.py, sdmodels/elementwise.py)."""
import pytest

from sdmodels import Model, build, run
from sdmodels.errors import AlgebraicLoopError


def test_a_stock_whose_start_value_reads_its_own_inflow():
    # Stella / XMILE: in transit = INTEG(shipping - receiving, shipping * time): the inflow
    # must be computed before the stock's start value
    m = Model("transit", stop=2)
    ship = m.flow("Shipping", "2 + Time", into="In transit")
    m.stock("In transit", initial=ship * 3)
    ir = build(m)
    assert ir.init_order.index("shipping") < ir.init_order.index("in_transit")
    assert run(ir)["In transit"].tolist() == [6, 8, 11]   # 6, + 2, + 3


def test_arrayed_stocks_chained_by_their_start_values():
    m = Model("chain", stop=1)
    t = m.dim("t", ["t1", "t2", "t3"])
    m.stock("s", initial={"t1": 1, "t2": "e[t1] + 1", "t3": "e[t2] + 1"}, dims=[t])
    m.aux("e", "s * 10", dims=[t])
    out = run(build(m))
    assert [out[f"s[t{i}]"].iloc[0] for i in (1, 2, 3)] == [1, 11, 111]


def test_a_cycle_through_one_element_stays_an_algebraic_loop():
    m = Model("loop", stop=1)
    t = m.dim("t", ["t1", "t2"])
    m.aux("a", {"t1": "b[t1]", "t2": 0}, dims=[t])
    m.aux("b", "a * 2", dims=[t])
    with pytest.raises(AlgebraicLoopError, match="a -> b -> a|b -> a -> b"):
        build(m)
