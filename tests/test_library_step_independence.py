"""A scenario's behaviour must not depend on the step: same labels at dt, dt/2, dt/4 and RK4.

DESIGN.md: "Results must not depend on the step. Discrete controllers fire on their own
clock; a scenario's behaviour (recovered, collapsed, oscillating) is the same at dt, dt/2
and with RK4." For every library model and scenario, each key output is labelled by the
sweep's behaviour labels (sdmodels/sweep/labels.py) from runs at the model's dt, dt/2,
dt/4 (Euler) and with RK4 at dt; the four labels must agree. Outputs are compared on the
model's own save times, so the labels see the same points.
"""
import importlib

import numpy as np
import pytest

from sdmodels import Stock, build, simulate
from sdmodels.sources import library_models
from sdmodels.sweep.labels import classify

MODELS = sorted(library_models())
SETTINGS = (("euler", 1), ("euler", 2), ("euler", 4), ("rk4", 1))


#: (model, scenario) -> why its labels still move with the step (strict: fixing one fails
#: the test until its entry goes)
KNOWN: dict[tuple[str, str], str] = {
}


def _cases():
    cases = []
    for name in MODELS:
        module = importlib.import_module(f"library.{name}")
        for scenario in module.build().scenarios or [None]:
            why = KNOWN.get((name, scenario))
            marks = [pytest.mark.xfail(reason=why, strict=True)] if why else []
            cases.append(pytest.param(name, scenario, marks=marks))
    return cases


@pytest.mark.parametrize("name, scenario", _cases())
def test_labels_do_not_depend_on_the_step(name, scenario):
    module = importlib.import_module(f"library.{name}")
    ir = build(module.build())
    outputs = list(getattr(module, "KEY_OUTPUTS", [])) or [
        s.display for s in ir.of_kind(Stock) if not s.internal]
    labels = {}
    for method, divide in SETTINGS:
        res = simulate(ir, scenario=scenario, method=method, dt=ir.dt / divide,
                       saveper=ir.saveper, outputs=outputs, engine="interpreter")
        assert np.isfinite(res.data).all(), f"{name}/{scenario}: {method} dt/{divide} not finite"
        rows = classify(res.times, res.data[0].T)
        labels[(method, divide)] = dict(zip(res.columns, rows["label"].astype(str)))
    reference = labels[("euler", 1)]
    differing = {f"{column}: " + ", ".join(f"{m} dt/{d} {labels[(m, d)][column]}"
                                           for m, d in SETTINGS)
                 for column in reference
                 if len({labels[s][column] for s in SETTINGS}) > 1}
    assert not differing, f"{name}/{scenario}: labels depend on the step:\n" + "\n".join(
        sorted(differing))


#: composed example systems (examples/*.yaml through library.compose): the scenarios whose
#: labels moved with the step (hands_on's pod loss at 2 dt: the pods' return drained the API's
#: backlog within one step, an impulse of calls down whose sampled height is 1/dt) and the one
#: in which its HPA acts (user surge); and the baseline, where the API's backlog holds
#: 1e-15 requests of rounding at dt and 2 dt and none at dt/2 (the labels' floor,
#: sdmodels.system.checklist.NEGLIGIBLE, calls that steady, as analyze does)
COMPOSED = (("hands_on", "pod loss"), ("hands_on", "user surge"), ("hands_on", "baseline"))


@pytest.mark.parametrize("example, scenario", COMPOSED)
def test_composed_system_labels_do_not_depend_on_the_step(example, scenario):
    """Every role output of a composed system (what loop recognition and the report read)
    gets the same label at dt, dt/2 and 2 dt (the default dt 0.01 s allows 2 dt: every
    service time of the example is above 2 x 0.02 s)."""
    from pathlib import Path

    from library.compose import compose
    path = Path(__file__).resolve().parent.parent / "examples" / f"{example}.yaml"
    composition = compose(path)
    ir = build(composition.model)
    outputs = sorted({ir.display(v) for node in composition.nodes.values()
                      for v in node.roles.values()})
    from sdmodels.system.checklist import behaviour_labels, reversals
    hpa = [ir.display(n.roles["hpa replicas"]) for n in composition.nodes.values()
           if "hpa replicas" in n.roles]
    labels, undone = {}, {}
    for divide in (1, 2, 0.5):
        res = simulate(ir, scenario=scenario, dt=ir.dt / divide, saveper=ir.saveper,
                       outputs=outputs, engine="interpreter")
        assert np.isfinite(res.data).all(), f"{example}/{scenario}: dt/{divide} not finite"
        labels[divide] = dict(zip(res.columns, behaviour_labels(res.times, res.data[0].T)[0]))
        undone[divide] = [reversals(res.times, res.data[0][:, res.columns.index(c)], 75)
                          for c in hpa]      # the HPA's changes undone (analyze's measure)
    differing = sorted(f"{c}: " + ", ".join(f"dt/{d:g} {labels[d][c]}" for d in labels)
                       for c in labels[1] if len({labels[d][c] for d in labels}) > 1)
    assert len(labels[1]) > 20 and not differing, "\n".join(differing)
    assert hpa and undone[2] == undone[1] == undone[0.5], undone
