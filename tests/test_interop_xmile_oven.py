"""XMILE / Stella ovens against timelines worked out by hand from Stella's help page (Ovens.htm:
fill until the capacity or the fill time, cook for the cook time, release everything, clean)
and the DT rules of sdmodels/interop/xmile_oven.py (decided at the start of a DT; the batch
leaves in the last cooking DT, as a conveyor's slat leaves when its transit time is up).
"""
import math

import numpy as np
import pytest

from sdmodels import run
from sdmodels.errors import ImportModelError
from sdmodels.interop import import_model

HEAD = """<?xml version="1.0" encoding="utf-8"?>
<xmile version="1.0" xmlns="http://docs.oasis-open.org/xmile/ns/XMILE/v1.0"
 xmlns:isee="http://iseesystems.com/XMILE">
<header><vendor>isee systems, inc.</vendor><product version="3.0">Stella Architect</product>
<options><uses_queue/></options></header>
<sim_specs method="Euler" time_units="Hours"><start>0</start><stop>{stop}</stop>
<dt>{dt}</dt></sim_specs><model><variables>"""
# the oven's outflow has no equation: the oven computes it (XMILE 4.3, as for conveyors)
BODY = """
<stock name="supply"><eqn>{supply}</eqn><outflow>loading</outflow><non_negative/></stock>
<stock name="Oven"><eqn>{initial}</eqn><inflow>loading</inflow><outflow>unloading</outflow>
  <oven>{options}</oven></stock>
<flow name="loading"><eqn>{loading}</eqn><non_negative/></flow>
<flow name="unloading"/>
<stock name="done"><eqn>0</eqn><inflow>unloading</inflow></stock>
"""


def _run(tmp_path, options, *, dt=1, stop=12, loading="2", initial=0, supply=100,
         engine="interpreter"):
    path = tmp_path / "oven.stmx"
    path.write_text(HEAD.format(stop=stop, dt=dt) + BODY.format(
        options=options, loading=loading, initial=initial, supply=supply) +
        "</variables></model></xmile>")
    return run(import_model(path), engine=engine)


def _check(out, **columns):
    for name, expected in columns.items():
        np.testing.assert_allclose(out[name].to_numpy(), expected, rtol=0, atol=1e-12,
                                   err_msg=name)


def test_fill_time_binds_then_the_batch_cooks_and_leaves_in_one_dt(tmp_path):
    # 2 per DT for round(3 / 1) = 3 DTs; closed for 2 DTs (the batch is in the oven at 2
    # saved times); all 6 leave in the second of them; the door reopens the DT after
    out = _run(tmp_path, "<fill_time>3</fill_time><cook_time>2</cook_time>")
    _check(out, Oven=[0, 2, 4, 6, 6, 0, 2, 4, 6, 6, 0, 2, 4],
           loading=[2, 2, 2, 0, 0, 2, 2, 2, 0, 0, 2, 2, 2],
           unloading=[0, 0, 0, 0, 6, 0, 0, 0, 0, 6, 0, 0, 0],
           done=[0, 0, 0, 0, 0, 6, 6, 6, 6, 6, 12, 12, 12])


def test_capacity_binds_first_and_cuts_the_inflow_within_a_dt(tmp_path):
    # 1 per DT of 0.5; at t = 2 only 0.5 fits under the capacity 4.5, so the inflow that DT
    # is 0.5 / 0.5 = 1 and the door closes long before the fill time (10); cook 1 = 2 DTs
    out = _run(tmp_path, "<capacity>4.5</capacity><fill_time>10</fill_time>"
               "<cook_time>1</cook_time>", dt=0.5, stop=4.5)
    _check(out, Oven=[0, 1, 2, 3, 4, 4.5, 4.5, 0, 1, 2],
           loading=[2, 2, 2, 2, 1, 0, 0, 2, 2, 2],
           unloading=[0, 0, 0, 0, 0, 0, 9, 0, 0, 0],
           supply=[100, 99, 98, 97, 96, 95.5, 95.5, 95.5, 94.5, 93.5])


def test_clean_time_keeps_the_emptied_oven_closed(tmp_path):
    # cook 1.6 = round(3.2) = 3 DTs of 0.5; clean 1 = 2 DTs after the release, empty and
    # closed; the door reopens at t = 5
    out = _run(tmp_path, "<capacity>5</capacity><fill_time>10</fill_time><cook_time>1.6"
               "</cook_time><clean_time>1</clean_time>", dt=0.5, stop=6)
    _check(out, Oven=[0, 1, 2, 3, 4, 5, 5, 5, 0, 0, 0, 1, 2],
           loading=[2, 2, 2, 2, 2, 0, 0, 0, 0, 0, 2, 2, 2],
           unloading=[0, 0, 0, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0])


def test_arrest_pauses_filling_and_cooking_without_counting_down(tmp_path):
    # arrested at t = 1 (filling: nothing comes on) and t = 5 (cooking: nothing goes out);
    # neither DT counts, so the fill time still allows 3 DTs of material and the batch stays
    # 3 saved times instead of 2
    out = _run(tmp_path, "<fill_time>3</fill_time><cook_time>2</cook_time><arrest>"
               "IF TIME = 1 OR TIME = 5 THEN 1 ELSE 0</arrest>", stop=9)
    _check(out, Oven=[0, 2, 2, 4, 6, 6, 6, 0, 2, 4],
           loading=[2, 0, 2, 2, 0, 0, 0, 2, 2, 2],
           unloading=[0, 0, 0, 0, 0, 0, 6, 0, 0, 0])


def test_an_oven_with_initial_content_starts_filling(tmp_path):
    # no fill time: it fills until the capacity 6 (3 + 2 + 1 of the 2 asked for), cooks 1 DT
    out = _run(tmp_path, "<capacity>6</capacity><fill_time></fill_time><cook_time>1"
               "</cook_time>", initial=3, stop=5)
    _check(out, Oven=[3, 5, 6, 0, 2, 4], loading=[2, 1, 0, 2, 2, 2],
           unloading=[0, 0, 6, 0, 0, 0])


def _reference(requested, *, n, dt, capacity, fill, cook, clean, supply):
    """The documented rules stepped through one DT at a time, from the values at its start."""
    content, upstream, state, left = 0.0, supply, "idle", None
    rows = []
    for k in range(n):
        t = k * dt
        inflow = outflow = 0.0
        if state in ("idle", "filling"):
            amount = min(max(0.0, requested(t)) * dt, capacity - content, upstream)
            inflow = amount / dt
            if state == "idle" and amount > 0:
                state, left = "filling", max(1, round(fill / dt))
            if state == "filling":
                if content + amount >= capacity - 1e-9 or left <= 1:
                    state, left = "cooking", max(1, round(cook / dt))
                else:
                    left -= 1
        elif state == "cooking":
            if left <= 1:
                outflow = content / dt
                state, left = ("cleaning", round(clean / dt)) if round(clean / dt) else \
                    ("idle", None)
            else:
                left -= 1
        elif left <= 1:
            state = "idle"
        else:
            left -= 1
        rows.append((content, inflow, outflow))
        content += (inflow - outflow) * dt
        upstream -= inflow * dt
    return np.array(rows)


def test_varying_inflow_follows_the_rules_and_conserves_material(tmp_path):
    out = _run(tmp_path, "<capacity>7</capacity><fill_time>2</fill_time><cook_time>1"
               "</cook_time><clean_time>0.5</clean_time>", dt=0.25, stop=10,
               loading="1 + TIME", supply=20)
    expected = _reference(lambda t: 1 + t, n=len(out), dt=0.25, capacity=7, fill=2, cook=1,
                          clean=0.5, supply=20)
    np.testing.assert_allclose(out[["Oven", "loading", "unloading"]].to_numpy(), expected,
                               atol=1e-9)
    # whatever the oven holds came from the supply or has gone on to 'done'
    np.testing.assert_allclose((out["supply"] + out["Oven"] + out["done"]).to_numpy(), 20,
                               atol=1e-9)
    released = out["unloading"].to_numpy() > 0
    assert released.sum() >= 3                      # several batches ...
    assert not (released[1:] & released[:-1]).any()  # ... each gone in one DT
    assert math.isclose(out["supply"].iloc[-1], 0.0, abs_tol=1e-9)   # the supply ran out


def test_the_compiled_kernel_agrees(tmp_path):
    options = "<capacity>7</capacity><fill_time>2</fill_time><cook_time>1</cook_time>" \
              "<clean_time>0.5</clean_time><arrest>IF TIME &gt; 3 AND TIME &lt; 4 THEN 1 " \
              "ELSE 0</arrest>"
    kw = dict(dt=0.25, stop=10, loading="1 + TIME", supply=20)
    ours = _run(tmp_path, options, **kw)
    np.testing.assert_allclose(_run(tmp_path, options, engine="compiled", **kw).to_numpy(),
                               ours.to_numpy(), rtol=0, atol=1e-12)


@pytest.mark.parametrize("change, message", [
    (("<cook_time>2</cook_time>", "<cook_time>2</cook_time><batch_size>3</batch_size>"),
     r"oven 'Oven': <batch_size> is not supported \(an oven reads <cook_time>"),
    (("<cook_time>2</cook_time>", "<cook_time> </cook_time>"), "oven 'Oven' has no <cook_time>"),
    (("<outflow>unloading</outflow>", "<outflow>unloading</outflow><outflow>spill</outflow>"),
     "oven 'Oven' needs exactly one inflow and one outflow, as in Stella .it has 1 and 2."),
    (('<non_negative/></stock>', '<conveyor><len>2</len></conveyor></stock>'),
     "oven 'Oven' is fed by conveyor 'supply': how Stella holds back a batch"),
    # anything else our reader refuses: not handed to pysd, which reads an oven as a stock
    (('<flow name="spill">', '<aux name="note"><eqn>???</eqn></aux><flow name="spill">'),
     "variable 'note' has no usable equation .*.not handed to pysd's XMILE translator, which "
     "would run oven 'Oven' as a plain stock"),
])
def test_ovens_we_cannot_run_are_named(tmp_path, change, message):
    path = tmp_path / "oven.stmx"
    text = HEAD.format(stop=4, dt=1) + BODY.format(
        options="<cook_time>2</cook_time>", loading=2, initial=0, supply=10) + \
        '<flow name="spill"><eqn>0</eqn></flow></variables></model></xmile>'
    path.write_text(text.replace(*change))
    with pytest.raises(ImportModelError, match=message):
        import_model(path)


def test_a_conveyor_outflow_needs_no_equation(tmp_path):
    # XMILE 4.3: the conveyor computes its outflow; Stella writes none (a leakage flow keeps
    # its equation, the fraction)
    body = """<stock name="belt"><eqn>8</eqn><inflow>loading</inflow><outflow>unloading</outflow>
      <conveyor><len>2</len></conveyor></stock>
      <flow name="loading"><eqn>1</eqn></flow><flow name="unloading"{eqn}</flow>"""
    outs = []
    for eqn in (">", "><eqn>0</eqn>"):
        path = tmp_path / "belt.xmile"
        path.write_text(HEAD.format(stop=4, dt=1) + body.format(eqn=eqn) +
                        "</variables></model></xmile>")
        outs.append(run(import_model(path), engine="interpreter")["unloading"].to_numpy())
    np.testing.assert_array_equal(outs[0], outs[1])
    np.testing.assert_allclose(outs[0], [4, 4, 1, 1, 1])   # 8 over 2 slats, then what came


def test_rk4_is_refused_with_the_oven_named(tmp_path):
    """The oven keeps its state in stocks that take a new value each DT, exact under Euler
    only (RK4's stages would move them 5/8 of the way): RK4 is refused, not run wrong."""
    from sdmodels.errors import ModelError
    _run(tmp_path, "<cook_time>2</cook_time>")                     # writes oven.stmx
    model = import_model(tmp_path / "oven.stmx")
    with pytest.raises(ModelError, match=r"only be integrated with Euler: 'Oven' keep"):
        run(model, method="rk4", engine="interpreter")
    with pytest.raises(ModelError, match="method='euler'"):
        run(model, method="rk4", engine="compiled")


def test_a_stock_set_each_step_is_exact_under_euler_and_refused_under_rk4():
    from sdmodels import Model
    from sdmodels.errors import ModelError
    m = Model("set each step", stop=3, dt=0.5)
    level = m.stock("Level", initial=0)
    m.flow("Set", (m.time * 2 - level) / m.dt_expr, into=level)     # Level(t) = 2 (t - dt)
    out = run(m, engine="interpreter")
    np.testing.assert_allclose(out["Level"].to_numpy()[1:], 2 * (out.index.to_numpy()[1:] - 0.5),
                               rtol=0, atol=1e-12)
    with pytest.raises(ModelError, match=r"'set each step' can only .* 'Level'"):
        run(m, method="rk4", engine="interpreter")
