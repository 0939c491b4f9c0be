"""XMILE modules: <model name> per sub-model, <module> + <connect> as `Model.module`.

Reference values: the suite's canonical output of bpowers-hares_and_lynxes_modules (Stella
10.0.6, read at test time, compared under the suite's rule) and arithmetic written here.
"""
import numpy as np
import pytest

from sdmodels.elements import Aux, Constant, Stock
from sdmodels.errors import ImportModelError
from sdmodels.expr import Ref
from sdmodels.interop.conformance import column_key, load_output, suite_root
from sdmodels.interop.xmile import import_xmile
from sdmodels.ir import build
from sdmodels.simulate import simulate

ROOT = suite_root()
FOLDER = ROOT / "samples" / "bpowers-hares_and_lynxes_modules" if ROOT else None
needs_suite = pytest.mark.skipif(FOLDER is None or not FOLDER.is_dir(),
                                 reason="../shared/test-models not available")
FILES = ["model.xmile", "model.stmx", "model_legacy.stmx"]
TOL = 1e-5   # the suite's README: |expected - actual| <= 1e-5 + 1e-5*|actual|


@needs_suite
@pytest.mark.parametrize("name", FILES)
def test_matches_stella_output(name):
    model = import_xmile(FOLDER / name)
    expected = load_output(FOLDER / "output.csv")
    frame = simulate(build(model), times=expected.index.to_numpy(float)).to_pandas()
    ours = {column_key(c): c for c in frame.columns}
    checked = 0
    for col in expected.columns:
        if column_key(col) == "time":
            continue
        got = frame[ours[column_key(col)]].to_numpy(float)   # every column must be ours
        exp = expected[col].to_numpy(float)
        assert np.all(np.abs(exp - got) <= TOL + TOL * np.abs(got)), col
        checked += 1
    assert checked == 14     # area, harvest size, 6 hares.* and 6 lynxes.* columns


@needs_suite
def test_first_steps_by_hand():
    frame = simulate(build(import_xmile(FOLDER / "model.xmile")), times=[0.0, 0.5]).to_pandas()
    cols = {column_key(c): c for c in frame.columns}

    def at(name, t):
        return float(frame[cols[name]].loc[t])
    assert at("hares.births", 0.0) == pytest.approx(50000 * 1.25)
    assert at("hares.hare_density", 0.0) == pytest.approx(50000 / 1000)   # area from outside
    # lynxes' death fraction: its graph at density 50 (read across the module boundary)
    assert at("lynxes.death_fraction", 0.0) == pytest.approx(0.0820849986238988)
    # Euler step dt=0.5: lynxes += 0.5 * (1250*0.25 - 1250*0.0820849986238988)
    assert at("lynxes.lynxes", 0.5) == pytest.approx(
        1250 + 0.5 * (1250 * 0.25 - 1250 * 0.0820849986238988), rel=1e-12)
    # hares' deaths read lynxes.lynxes through the connect: lynxes * density (graph y = x)
    assert at("hares.deaths", 0.5) == pytest.approx(at("lynxes.lynxes", 0.5) * 50, rel=1e-12)


@needs_suite
@pytest.mark.parametrize("name", FILES)
def test_module_structure_is_kept(name):
    model = import_xmile(FOLDER / name)
    hares, lynxes = model.elements["hares.hares"], model.elements["lynxes.lynxes"]
    assert isinstance(hares, Stock) and hares.module == "hares"
    assert isinstance(lynxes, Stock) and lynxes.module == "lynxes"
    wired = model.elements["hares.lynxes"]          # the input, set by <connect>
    assert isinstance(wired, Aux) and wired.equation == Ref("lynxes.lynxes")
    assert model.elements["lynxes.size_of_one_time_lynx_harvest"].equation == Ref(
        "size_of_one_time_lynx_harvest")
    assert isinstance(model.elements["area"], Constant) and not model.elements["area"].module


@needs_suite
def test_loops_cross_modules():
    from sdmodels.analysis.loops import find_loops
    loops = find_loops(import_xmile(FOLDER / "model.xmile"), behaviour=False)
    crossing = [lp for lp in loops.loops if "hares.hares" in lp.variables
                and "lynxes.lynxes" in lp.variables]
    assert crossing, "the predator-prey loop runs through both modules"
    assert all({"hares", "lynxes"} <= set(lp.modules) for lp in crossing)


XMILE = """<?xml version="1.0" encoding="utf-8"?>
<xmile xmlns="http://docs.oasis-open.org/xmile/ns/XMILE/v1.0" version="1.0">
  <header><name>wrap</name></header>
  <sim_specs><start>0</start><stop>2</stop><dt>1</dt></sim_specs>
  <model>
    <variables>
      <module name="inner" model="{model}">
        <connect to="inner.gain" from=".outer_gain"/>
      </module>
      <aux name="outer_gain"><eqn>3</eqn></aux>
      <aux name="doubled"><eqn>inner.out * 2</eqn></aux>
    </variables>
  </model>
  <model name="scaler">
    <variables>
      <aux name="gain" access="input"><eqn>{{placeholder}}</eqn></aux>
      <aux name="out" access="output"><eqn>gain * 5</eqn></aux>
    </variables>
  </model>
</xmile>
"""


def test_outer_equation_reads_module_output(tmp_path):
    path = tmp_path / "wrap.xmile"
    path.write_text(XMILE.format(model="scaler"))
    frame = simulate(build(import_xmile(path))).to_pandas()
    assert list(frame["doubled"]) == [3 * 5 * 2] * 3
    assert list(frame["inner.out"]) == [15] * 3


def test_module_of_missing_model_is_named(tmp_path):
    path = tmp_path / "wrap.xmile"
    path.write_text(XMILE.format(model="nowhere"))
    with pytest.raises(ImportModelError, match=r"module 'inner': model 'nowhere' is not in"):
        import_xmile(path)
