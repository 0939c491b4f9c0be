"""XMILE / Stella conveyors (with leakage) and queues against pysimlin's, and the refused
variants.

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
    (4, "IF TIME &lt; 3 THEN 2 ELSE 5", 0.5), (2.5, "TIME", 0.25),
    (2.2, "IF TIME &lt; 3 THEN 2 ELSE 5", 0.5)])     # 4.4 DTs: a belt of 4 slats
def test_conveyor_matches_pysimlin(tmp_path, length, loading, dt):
    simlin = pytest.importorskip("simlin")
    path = _file(tmp_path, BELT.format(length=length, loading=loading), dt=dt)
    ours = run(import_model(path))
    theirs = simlin.load(str(path)).run().results
    for col in ("belt", "unloading", "done"):
        np.testing.assert_allclose(ours[col].to_numpy(), theirs[col].to_numpy(),
                                   rtol=1e-9, atol=1e-9, err_msg=col)
    # the initial content (8 over the belt's round(length / dt) slats) leaves evenly
    assert ours["unloading"].iloc[0] == pytest.approx(8 / (round(length / dt) * dt))


LEAKY = """
<stock name="belt"><eqn>8</eqn><inflow>loading</inflow>
  <outflow>unloading</outflow><outflow>spill</outflow><conveyor><len>{length}</len></conveyor>
</stock>
<flow name="loading"><eqn>{loading}</eqn></flow>
<flow name="unloading"><eqn>0</eqn></flow>
<flow name="spill"><eqn>{fraction}</eqn><leak/></flow>
<stock name="done"><eqn>0</eqn><inflow>unloading</inflow></stock>
<stock name="lost"><eqn>0</eqn><inflow>spill</inflow></stock>
"""

QUEUE = """
<stock name="line"><eqn>3</eqn><inflow>arrive</inflow><outflow>serve</outflow><queue/></stock>
<flow name="arrive"><eqn>IF TIME &lt; 2 THEN 4 ELSE TIME</eqn></flow>
<flow name="serve"><eqn>3</eqn></flow>
<stock name="served"><eqn>0</eqn><inflow>serve</inflow><outflow>off</outflow></stock>
<flow name="off"><eqn>served / 2</eqn></flow>
"""


def _same_as_pysimlin(path, columns):
    simlin = pytest.importorskip("simlin")
    ours = run(import_model(path))
    theirs = simlin.load(str(path)).run().results
    for col in columns:
        np.testing.assert_allclose(ours[col].to_numpy(), theirs[col].to_numpy(),
                                   rtol=1e-9, atol=1e-9, err_msg=col)
    return ours


@pytest.mark.parametrize("length, loading, fraction, dt", [
    (4, "IF TIME &lt; 3 THEN 2 ELSE 5", 0.2, 0.5), (2.5, "TIME", 0.3, 0.25),
    (2.3, "5", 0.2, 0.5)])
def test_leaking_conveyor_matches_pysimlin(tmp_path, length, loading, fraction, dt):
    path = _file(tmp_path, LEAKY.format(length=length, loading=loading, fraction=fraction),
                 dt=dt)
    ours = _same_as_pysimlin(path, ("belt", "unloading", "spill", "done", "lost"))
    # conservation: what left (delivered or leaked) plus what is on the belt is what came in
    came = 8 + (ours["loading"].cumsum() - ours["loading"]).to_numpy() * dt
    np.testing.assert_allclose((ours["belt"] + ours["done"] + ours["lost"]).to_numpy(), came)
    if loading.isdigit():
        return
    # linear leakage: a slat that entered loses exactly the fraction by the time it leaves
    late = ours.index >= length + 1
    expected = (1 - fraction) * ours["loading"].shift(int(length / dt)).to_numpy()[late]
    np.testing.assert_allclose(ours["unloading"].to_numpy()[late], expected)


def test_transit_time_from_constants_is_fixed(tmp_path):
    body = BELT.replace("<len>{length}</len>", "<len>tt</len>").format(loading=1) + \
        '<aux name="tt"><eqn>half * 2</eqn></aux><aux name="half"><eqn>1.5</eqn></aux>'
    _same_as_pysimlin(_file(tmp_path, body), ("belt", "unloading"))


def test_queue_flows_everything_out_as_pysimlin(tmp_path):
    # Stella: the queue "wants" to flow everything through its outflows (queue / DT + inflows)
    ours = _same_as_pysimlin(_file(tmp_path, QUEUE), ("line", "serve", "served", "off"))
    assert ours["serve"].iloc[0] == pytest.approx(3 / 0.5 + 4)
    assert ours["line"].iloc[1:].abs().max() == 0


def test_queue_with_several_outflows_as_pysimlin(tmp_path):
    # the first outflow, highest in priority, takes everything; the others find the queue
    # empty (pysimlin, which the XMILE twins are checked against, does the same)
    body = QUEUE.replace("<outflow>serve</outflow>", "<outflow>serve</outflow><outflow>spill"
                         "</outflow><outflow>drop</outflow>") + \
        '<flow name="spill"><eqn>2</eqn></flow><flow name="drop"><eqn>line</eqn></flow>' \
        '<stock name="spilled"><eqn>0</eqn><inflow>spill</inflow></stock>'
    ours = _same_as_pysimlin(_file(tmp_path, body), ("line", "serve", "spill", "drop",
                                                      "served", "spilled"))
    assert ours["serve"].iloc[0] == pytest.approx(3 / 0.5 + 4)
    assert ours[["spill", "drop", "spilled"]].abs().to_numpy().max() == 0
    # a queue nothing leaves only accumulates, as pysimlin's does
    alone = QUEUE.replace("<outflow>serve</outflow>", "").replace(
        '<inflow>serve</inflow>', '')
    ours = _same_as_pysimlin(_file(tmp_path, alone), ("line",))
    assert ours["line"].iloc[1] == pytest.approx(3 + 4 * 0.5)


@pytest.mark.parametrize("body, message", [
    (LEAKY.replace("<leak/>", "<leak/><leak_start>0.5</leak_start>"),
     "has <leak_start>, which is not supported"),
    (BELT.replace("<len>{length}</len>", "<len>{length}</len><capacity>3</capacity>"),
     "<capacity> is not supported"),
    (QUEUE.replace("<outflow>serve</outflow>", "<outflow>serve</outflow><outflow>off2"
                   "</outflow>") + '<flow name="off2"><eqn>1</eqn></flow><stock name="b">'
     '<eqn>0</eqn><inflow>off2</inflow><outflow>out2</outflow><conveyor><len>1</len>'
     '</conveyor></stock><flow name="out2"><eqn>0</eqn></flow>',
     "queue 'line' feeds conveyor 'b'"),
    (BELT.replace("<conveyor><len>{length}</len></conveyor>", "<oven/>"),
     "oven 'belt' has no <cook_time>"),
    (BELT.replace("<len>{length}</len>", "<len>tt</len>") + '<aux name="tt"><eqn>half * 2'
     '</eqn></aux><aux name="half"><eqn>1 + TIME / 10</eqn></aux>',
     "a transit time that changes during the run"),
    (QUEUE.replace("<outflow>off</outflow>", "<outflow>off</outflow><conveyor><len>1</len>"
                   "</conveyor>"), "queue 'line' feeds conveyor 'served'"),
])
def test_conveyor_variants_we_do_not_run_are_named(tmp_path, body, message):
    path = _file(tmp_path, body.replace("{fraction}", "0.1").format(length=4, loading=1))
    with pytest.raises(ImportModelError, match=message):
        import_model(path)
