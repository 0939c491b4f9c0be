"""SUM / PROD / VMIN / VMAX over a whole dimension stay one reduction however many elements
(a 1,000-element SUM was a chain of 999 additions, over the expression depth limit); over a
subrange the terms form a balanced tree; the XMILE export writes a reduction as a balanced
tree that our reader and pysd both read back. Expected values are closed forms."""
import warnings

import pytest

from sdmodels import Model, run
from sdmodels.expr import Reduce, sum_over
from sdmodels.interop import import_model
from sdmodels.interop.export import to_xmile
from tests.mdl_files import control, write_mdl

N = 1000


def _mdl(tmp_path, body: str):
    return import_model(write_mdl(tmp_path, body, control(1)))


def test_a_sum_over_a_thousand_elements_is_one_reduction(tmp_path):
    # x[c_i] = i: SUM = n (n + 1) / 2, VMAX = n, VMIN = 1; PROD over the 3-element subrange
    # and the 4-element dimension of y = 2: 2^3 and 2^4
    model = _mdl(tmp_path, f"""
        Cell: (c1-c{N}) ~~|
        Few: c1, c2, c3 ~~|
        Small: (s1-s4) ~~|
        x[Cell] = Time + Cell ~~|
        y[Small] = 2 ~~|
        total = SUM(x[Cell!]) ~~|
        top = VMAX(x[Cell!]) ~~|
        bottom = VMIN(x[Cell!]) ~~|
        few = SUM(x[Few!]) ~~|
        power = PROD(y[Small!]) ~~|
        power few = PROD(x[Few!]) ~~|
        """)
    total = model.elements["total"].equation
    assert total == Reduce("sum", total.operand, "Cell")
    out = run(model, engine="interpreter")
    assert out["total"].tolist() == [N * (N + 1) / 2, N * (N + 1) / 2 + N]
    assert out["top"].tolist() == [N, N + 1] and out["bottom"].tolist() == [1, 2]
    assert out["power"].tolist() == [16, 16]
    # a subrange: the terms written out, a balanced tree (2 levels for 3 terms, not a chain)
    assert out["few"].tolist() == [6, 9] and out["power few"].tolist() == [6, 24]
    few = model.elements["few"].equation
    assert few.op == "+" and {type(few.left).__name__, type(few.right).__name__} == \
        {"Index", "Binary"}


def _array(n: int) -> Model:
    m = Model(f"array{n}", stop=2)
    cell = m.dim("Cell", [f"c{i}" for i in range(1, n + 1)])
    x = m.constant("X", [float(i) for i in range(1, n + 1)], dims=(cell,))
    m.aux("Total", sum_over(x, cell))
    return m


def test_the_xmile_export_of_a_large_sum_reads_back_in_sdmodels_and_pysd(tmp_path):
    # 300 elements: over the depth limit of 200 as one chain; 19 chains of at most 16 as a
    # balanced tree
    n = 300
    path = tmp_path / "a.xmile"
    path.write_text(to_xmile(_array(n)))
    text = path.read_text()
    assert "SUM" not in text and "(((((X[c1] + X[c2] + " in text and "(X[c289] + " in text
    expected = n * (n + 1) / 2
    assert run(import_model(path), engine="interpreter")["Total"].tolist() == [expected] * 3
    pysd = pytest.importorskip("pysd")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = pysd.read_xmile(str(path)).run(return_columns=["Total"])
    assert out["Total"].tolist() == [expected] * 3
