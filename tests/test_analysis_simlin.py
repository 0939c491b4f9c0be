"""Our loop set and polarities against pysimlin's (Simlin's loop finder) on the same models.

pysimlin reads the conformance suite's files itself; we read them through
`sdmodels.interop.import_model`, and also rebuild a few by hand in the DSL with the same
equations, so the comparison does not rest on our importer alone.
"""
import warnings
from pathlib import Path

import pytest

from _analysis_models import predator_prey, sir
from sdmodels import find_loops
from sdmodels.interop.conformance import shared_root

simlin = pytest.importorskip("simlin", reason="pysimlin is not installed: pip install pysimlin")
SAMPLES = shared_root() / "test-models" / "samples"
FILES = ["SIR/SIR.mdl", "SIR/SIR.xmile", "Lotka_Volterra/Lotka_Volterra.mdl",
         "teacup/teacup.mdl", "teacup/teacup.xmile", "Workforce/workforce.mdl"]


def theirs(path: Path):
    return {(frozenset(l.variables), str(l.polarity).split(".")[-1][0])
            for l in simlin.load(str(path)).loops}


def ours(model):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {(frozenset(l.variables), l.polarity) for l in find_loops(model)}


@pytest.mark.parametrize("name", FILES)
def test_same_loops_as_simlin_on_conformance_files(name):
    path = SAMPLES / name
    if not path.exists():
        pytest.skip(f"{path} is not available on this machine")
    try:
        from sdmodels.interop import import_model
    except ImportError:
        pytest.skip("sdmodels.interop (Vensim/XMILE import) is not available yet")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = import_model(path)
    expected = theirs(path)
    assert expected, "pysimlin found no loops: the comparison would prove nothing"
    assert ours(model) == expected


@pytest.mark.parametrize("build, name", [(sir, "SIR/SIR.mdl"),
                                         (predator_prey, "Lotka_Volterra/Lotka_Volterra.mdl")])
def test_same_loops_as_simlin_on_models_rebuilt_by_hand(build, name):
    path = SAMPLES / name
    if not path.exists():
        pytest.skip(f"{path} is not available on this machine")
    assert ours(build()) == theirs(path)
