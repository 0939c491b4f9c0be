"""SDEverywhere's test models (../shared/sdeverywhere-models) against Vensim's own output.

Each NAME.mdl with a NAME.dat beside it is imported, run by sdmodels and compared with the
corpus rule |expected - actual| <= 1e-6 + 1e-3*|actual| (sdmodels.interop.corpus). Models in
tests/corpus_expected.py are strict xfails with their reason. CI runs the models that
exercise mappings, :EXCEPT:, element-level ordering, .dat data files and the added built-ins (about 15 s of
kernel compiles on a cold cache); SDMODELS_CORPUS=full runs all 45, expected failures
included. benchmarks/corpus.py prints the
same comparison for sdmodels, pysd and pysimlin side by side.
"""
import os

import pytest

from sdmodels.interop.corpus import corpus_cases, finite, load_reference, sdeverywhere_root
from tests.corpus_expected import EXPECTED_FAILURES

ROOT = sdeverywhere_root()
ALL = corpus_cases(ROOT) if ROOT else []
FULL = os.environ.get("SDMODELS_CORPUS") == "full"
CI = {"except/except.mdl", "mapping/mapping.mdl", "multimap/multimap.mdl",
      "init_recurrence/init_recurrence.mdl", "helper_recurrence/helper_recurrence.mdl",
      "interleaved/interleaved.mdl", "ref/ref.mdl", "lookup/lookup.mdl", "npv/npv.mdl",
      "directdata/directdata.mdl", "allocate/allocate.mdl", "getdata/getdata.mdl"}
SELECTED = [c for c in ALL if FULL or c.name in CI]

pytestmark = pytest.mark.skipif(ROOT is None,
                                reason="../shared/sdeverywhere-models is not present")


def _param(case):
    marks = [pytest.mark.xfail(strict=True, reason=EXPECTED_FAILURES[case.name])] \
        if case.name in EXPECTED_FAILURES else []
    return pytest.param(case, id=case.name, marks=marks)


@pytest.mark.parametrize("case", [_param(c) for c in SELECTED])
def test_corpus_model_matches_vensim(case):
    from sdmodels.interop.corpus import ATOL, RTOL
    from sdmodels.interop.runcase import run_case
    outcome = run_case(case, expected=finite(load_reference(case.output)), tol=RTOL, atol=ATOL)
    assert outcome.status == "pass", f"{case.name}: {outcome.status}: {outcome.detail}"


def test_expected_failures_name_real_models():
    names = {c.name for c in ALL}
    assert set(EXPECTED_FAILURES) <= names
    assert CI <= names


def test_corpus_is_the_one_the_issue_counts():
    # issue 12: 45 .mdl/.dat pairs in the SDEverywhere set
    assert len(ALL) == 45


def test_models_pair_with_the_output_of_their_stem(tmp_path):
    from sdmodels.interop.corpus import corpus_cases, load_reference
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "a.mdl").write_text("x = 1 ~~|")
    (tmp_path / "a" / "a.csv").write_text("Time,x\n0,1\n1,1\n")
    (tmp_path / "a" / "a_data.dat").write_text("y\n0\t5\n")     # data for the model, not output
    (tmp_path / "b.mdl").write_text("x = 1 ~~|")                # no output: not a case
    found = corpus_cases(tmp_path)
    assert [c.name for c in found] == ["a/a.mdl"]
    assert load_reference(found[0].output)["x"].tolist() == [1.0, 1.0]
