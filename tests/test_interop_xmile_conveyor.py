"""XMILE / Stella conveyors against pysimlin's own conveyor, and the refused variants.

Stella's reference ("Conveyor Computation"): material put on during one DT leaves after the
transit time; the initial content is spread evenly along the belt.
"""
import numpy as np
import pytest

from sdmodels import run
from sdmodels.errors import ImportModelError
from sdmodels.interop import import_model

HEAD = """<?xml version="1.0" encoding="utf-8"?>
<xmile version="1.0" xmlns="http://docs.oasis-open.org/xmile/ns/XMILE/v1.0">
<header><vendor>isee systems, inc.</vendor><product version="1.0">Stella Architect</product>
</header><sim_specs method="Euler" time_units="Months"><start>0</start><stop>12</stop>
<dt>{dt}</dt></sim_specs><model><variables>"""
TAIL = "</variables></model></xmile>"


def _file(tmp_path, body, dt=0.5):
    path = tmp_path / "conveyor.xmile"
    path.write_text(HEAD.format(dt=dt) + body + TAIL)
    return path


BELT = """
<stock name="belt"><eqn>8</eqn><inflow>loading</inflow><inflow>extra</inflow>
  <outflow>unloading</outflow><conveyor><len>{length}</len></conveyor></stock>
<flow name="loading"><eqn>{loading}</eqn></flow>
<flow name="extra"><eqn>0.5</eqn></flow>
<flow name="unloading"><eqn>0</eqn></flow>
<stock name="done"><eqn>0</eqn><inflow>unloading</inflow></stock>
"""


@pytest.mark.parametrize("length, loading, dt", [
    (4, "IF TIME &lt; 3 THEN 2 ELSE 5", 0.5), (2.5, "TIME", 0.25)])
def test_conveyor_matches_pysimlin(tmp_path, length, loading, dt):
    simlin = pytest.importorskip("simlin")
    path = _file(tmp_path, BELT.format(length=length, loading=loading), dt=dt)
    ours = run(import_model(path))
    theirs = simlin.load(str(path)).run().results
    for col in ("belt", "unloading", "done"):
        np.testing.assert_allclose(ours[col].to_numpy(), theirs[col].to_numpy(),
                                   rtol=1e-9, atol=1e-9, err_msg=col)
    # the initial content (8 over a transit time of `length`) leaves at 8 / length per month
    assert ours["unloading"].iloc[0] == pytest.approx(8 / length)


@pytest.mark.parametrize("body, message", [
    (BELT.replace("<outflow>unloading</outflow>", "<outflow>unloading</outflow>"
                  "<outflow>spill</outflow>").replace(
        '<flow name="unloading">', '<flow name="spill"><eqn>0</eqn><leak/></flow>'
                                   '<flow name="unloading">'),
     "leakage flow 'spill' is not supported"),
    (BELT.replace("<len>{length}</len>", "<len>{length}</len><capacity>3</capacity>"),
     "<capacity> is not supported"),
    (BELT.replace("<conveyor><len>{length}</len></conveyor>", "<queue/>"),
     "queue stock 'belt' is not supported"),
])
def test_conveyor_variants_we_do_not_run_are_named(tmp_path, body, message):
    path = _file(tmp_path, body.format(length=4, loading=1))
    with pytest.raises(ImportModelError, match=message):
        import_model(path)
