"""Vensim macros expanded per call site (sdmodels/interop/macros.py).

Expected values: arithmetic written here, and the suite's canonical outputs (Vensim's runs).
"""

import numpy as np
import pytest

from sdmodels.errors import ImportModelError
from sdmodels.interop import import_model
from sdmodels.interop.conformance import load_output, suite_root
from sdmodels.ir import build
from sdmodels.simulate import simulate
from tests.mdl_files import write_mdl

CONTROL = """
INITIAL TIME = 0 ~ ~ |
FINAL TIME = 4 ~ ~ |
TIME STEP = 1 ~ ~ |
SAVEPER = TIME STEP ~ ~ |
"""


def _write(tmp_path, text):
    return write_mdl(tmp_path, text, CONTROL)


def test_each_call_site_has_its_own_stock(tmp_path):
    path = _write(tmp_path, """
        :MACRO: ACCUM(rate, start)
        ACCUM = INTEG(rate, start) ~ ~ |
        :END OF MACRO:
        a = ACCUM(1, 10) ~ ~ |
        b = ACCUM(2 * Time, 0) ~ ~ |
        """)
    frame = simulate(build(import_model(path))).to_pandas()
    t = frame.index.to_numpy()
    np.testing.assert_allclose(frame["a"], 10 + t)               # Euler, dt=1: 10 + t
    np.testing.assert_allclose(frame["b"], t * (t - 1))          # sum of 2k for k < t


def test_macro_locals_and_parameters(tmp_path):
    path = _write(tmp_path, """
        :MACRO: SCALE(x, f)
        SCALE = x * inner ~ ~ |
        inner = f + 1 ~ ~ |
        :END OF MACRO:
        y = SCALE(Time, 2) + SCALE(1, 0) ~ ~ |
        """)
    frame = simulate(build(import_model(path))).to_pandas()
    np.testing.assert_allclose(frame["y"], frame.index.to_numpy() * 3 + 1)


def test_wrong_argument_count_is_named(tmp_path):
    path = _write(tmp_path, """
        :MACRO: TWICE(x)
        TWICE = 2 * x ~ ~ |
        :END OF MACRO:
        y = TWICE(1, 2) ~ ~ |
        """)
    with pytest.raises(ImportModelError, match=r"variable 'y'.*macro 'twice' takes 1"):
        import_model(path)


SUITE = suite_root()


@pytest.mark.skipif(SUITE is None, reason="../shared/test-models is not present")
@pytest.mark.parametrize("case", ["macro_expression", "macro_multi_expression", "macro_stock",
                                  "macro_trailing_definition"])
def test_suite_macro_models_match_vensim(case):
    folder = SUITE / "tests" / case
    expected = load_output(folder / "output.tab")["macro output"]
    frame = simulate(build(import_model(folder / f"test_{case}.mdl"))).to_pandas()
    ours = frame["macro output"].reindex(expected.index).to_numpy()
    np.testing.assert_allclose(ours, expected.to_numpy(), rtol=1e-5, atol=1e-5)
