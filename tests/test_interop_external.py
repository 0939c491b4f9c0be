"""Vensim external data read at import (sdmodels/interop/external.py).

Spreadsheets are written here with openpyxl (real files, real pysd readers); expected values are
the written numbers under Vensim's interpolation rules. Suite checks use the canonical outputs
of ../shared/test-models (Vensim's own results).
"""

import numpy as np
import openpyxl
import pytest

from sdmodels.errors import ImportModelError
from sdmodels.interop import import_model
from sdmodels.interop.conformance import load_output, suite_root
from sdmodels.ir import build
from sdmodels.simulate import simulate
from tests.mdl_files import write_mdl

CONTROL = """
INITIAL TIME = 0 ~ ~ |
FINAL TIME = 5 ~ ~ |
TIME STEP = 0.5 ~ ~ |
SAVEPER = TIME STEP ~ ~ |
"""


def _write(folder, equations: str, name="m.mdl"):
    return write_mdl(folder, equations, CONTROL, name=name)


def _sheet(path, rows, title="S"):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = title
    for row in rows:
        ws.append(row)
    wb.save(path)


def _run(path):
    return simulate(build(import_model(path))).to_pandas()


@pytest.fixture
def data_model(tmp_path):
    # times 0, 2, 4 in row 1 from column B; series x in row 2, y in row 3
    _sheet(tmp_path / "d.xlsx", [["time", 0, 2, 4], ["x", 10, 20, 40], ["y", 1, 2, 3]])
    (tmp_path / "k.csv").write_text("name,1.5,-2\n")
    return _write(tmp_path, """
        d: one, two ~ ~ |
        interp series := GET XLS DATA('d.xlsx', 'S', '1', 'B2') ~ ~ |
        back series :HOLD BACKWARD::= GET XLS DATA('d.xlsx', 'S', '1', 'B2') ~ ~ |
        fwd series :LOOK FORWARD::= GET XLS DATA('d.xlsx', 'S', '1', 'B2') ~ ~ |
        k[d] = GET DIRECT CONSTANTS('k.csv', ',', 'B1') ~ ~ |
        tbl[d] ( GET XLS LOOKUPS('d.xlsx', 'S', '1', 'B2') ) ~ ~ |
        y[d] = tbl[d](Time / 2) ~ ~ |
        """)


def test_data_series_follow_vensim_interpolation_modes(data_model):
    frame = _run(data_model)
    t = frame.index.to_numpy()
    # interpolate: linear between (0,10), (2,20), (4,40), the last value held after t=4
    np.testing.assert_allclose(frame["interp series"], np.interp(t, [0, 2, 4], [10, 20, 40]),
                               rtol=1e-12)
    # hold backward: the last point at or before t; look forward: the first at or after t
    back = np.select([t >= 4, t >= 2], [40, 20], 10)
    fwd = np.select([t <= 0, t <= 2], [10, 20], 40)
    np.testing.assert_array_equal(frame["back series"], back)
    np.testing.assert_array_equal(frame["fwd series"], fwd)


def test_constants_and_subscripted_lookups_from_files(data_model):
    frame = _run(data_model)
    assert frame["k[one]"].iloc[0] == 1.5 and frame["k[two]"].iloc[-1] == -2.0
    t = frame.index.to_numpy()
    # tbl[one] is row 2 (x), tbl[two] is row 3 (y), both over the times in row 1
    np.testing.assert_allclose(frame["y[one]"], np.interp(t / 2, [0, 2, 4], [10, 20, 40]))
    np.testing.assert_allclose(frame["y[two]"], np.interp(t / 2, [0, 2, 4], [1, 2, 3]))


def test_file_outside_the_model_folder_is_refused(tmp_path):
    (tmp_path / "k.csv").write_text("name,1\n")
    path = _write(tmp_path / "sub", "k = GET DIRECT CONSTANTS('../k.csv', ',', 'B1') ~ ~ |\n")
    with pytest.raises(ImportModelError, match=r"variable 'k'.*'\.\./k\.csv'.*outside"):
        import_model(path)


def test_missing_file_and_bad_sheet_are_named(tmp_path):
    path = _write(tmp_path, "k = GET XLS CONSTANTS('nope.xlsx', 'S', 'B1') ~ ~ |\n")
    with pytest.raises(ImportModelError, match=r"variable 'k'.*'nope\.xlsx' not found"):
        import_model(path)
    _sheet(tmp_path / "d.xlsx", [["a", 1]])
    path = _write(tmp_path, "k = GET XLS CONSTANTS('d.xlsx', 'Missing', 'B1') ~ ~ |\n", "n.mdl")
    with pytest.raises(ImportModelError, match=r"variable 'k'.*sheet 'Missing'.*cell 'B1'"):
        import_model(path)


def test_data_without_equation_is_refused_clearly(tmp_path):
    path = _write(tmp_path, "x:INTERPOLATE: ~ ~ |\ny = x ~ ~ |\n")
    with pytest.raises(ImportModelError, match=r"variable 'x' uses DATA.*data_files"):
        import_model(path)


SUITE = suite_root()
needs_suite = pytest.mark.skipif(SUITE is None, reason="../shared/test-models is not present")


@needs_suite
def test_get_time_value_is_time_plus_offset():
    folder = SUITE / "tests" / "get_time_value"
    expected = load_output(folder / "output.tab")
    frame = _run(folder / "test_get_time_value_simple.mdl")
    # GET TIME VALUE(0, (dim-20)/3, 0) = Time + (index of dim - 20) / 3; Vensim's file agrees
    for t in (-10.0, 0.0, 12.5, 50.0):
        for i in (0, 20, 100):
            col = f"get time 0 dim 0[A{i}]"
            assert frame.loc[t, col] == pytest.approx(t + (i + 1 - 20) / 3, abs=1e-12)
            assert frame.loc[t, col] == pytest.approx(expected.loc[t, col], abs=1e-4)


@needs_suite
def test_hold_backward_and_look_forward_match_vensim_3d():
    folder = SUITE / "tests" / "get_data_args_3d_xls"
    expected = load_output(folder / "output.tab")
    frame = _run(folder / "test_get_data_args_3d_xls.mdl")
    for col in ("accumulation backward[A,Row2]", "accumulation forward[A,Row1]",
                "accumulation backward[B,Row1]", "accumulation forward[B,Row2]"):
        ours = frame[col].reindex(expected.index).to_numpy()
        np.testing.assert_allclose(ours, expected[col].to_numpy(), rtol=1e-5, atol=1e-5)
