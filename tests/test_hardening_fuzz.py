"""Property-based tests (hypothesis) of the equation parser and both model readers.

Any generated input gives a result or an sdmodels error, never another exception and never
a hang (sizes are bounded by sdmodels.limits). CI-sized: few examples, derandomized so the
suite is deterministic, no deadline (numba/pysd warm-up is slow on a busy machine). The long
run is benchmarks/fuzz.py.
"""
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _fuzzing import (check_equation, check_model_file, equations, mangled, vensim_texts,
                      xmile_texts)

CI = settings(max_examples=60, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@CI
@given(mangled(equations()))
def test_parser_gives_a_tree_or_a_model_error(text):
    check_equation(text)


@CI
@given(st.text(max_size=200))
def test_parser_on_arbitrary_text(text):
    check_equation(text)


@settings(CI, max_examples=25)
@given(vensim_texts())
def test_vensim_reader_gives_a_model_or_an_sdmodels_error(text):
    check_model_file(text, ".mdl")


@settings(CI, max_examples=25)
@given(xmile_texts())
def test_xmile_reader_gives_a_model_or_an_sdmodels_error(text):
    check_model_file(text, ".xmile")


@settings(CI, max_examples=15)
@given(st.binary(max_size=400))
def test_readers_on_arbitrary_bytes(data):
    text = data.decode("latin-1")
    check_model_file(text, ".mdl")
    check_model_file(text, ".xmile")
