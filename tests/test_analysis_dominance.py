"""Loops That Matter: closed forms, the re-evaluation of equations, phases, determinism."""
import json
import math
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from _analysis_models import composed, inventory
from sdmodels import Dim, Model, find_loops
from sdmodels.analysis.dominance import dominance
from sdmodels.analysis.evaluate import record
from sdmodels.sources import load_model

ROOT = Path(__file__).resolve().parent.parent


def births_deaths(birth=0.1, life=20.0, arrayed=False) -> Model:
    m = Model("population", stop=20, dt=0.25)
    d = (Dim("region", 3),) if arrayed else ()
    initial = {"region1": 100, "region2": 50, "region3": 10} if arrayed else 100
    p = m.stock("Population", initial=initial, dims=d)
    m.flow("Births", birth * p, into=p, dims=d)
    m.flow("Deaths", p / life, out_of=p, dims=d)
    return m


def logistic(r=0.2, K=1000.0, p0=10.0) -> Model:
    """P' = r P (1 - P/K) as one net flow; 'Room to grow' makes the two loops distinct."""
    m = Model("logistic", stop=60, dt=0.125)
    p = m.stock("Population", initial=p0)
    room = m.aux("Room to grow", 1 - p / m.constant("Capacity", K))
    m.flow("Net growth", m.constant("Growth rate", r) * p * room, into=p)
    m.name_loop("Growth", ["Population", "Net growth"])
    m.name_loop("Crowding", ["Population", "Room to grow"])
    return m


def test_one_stock_relative_scores_are_the_gain_ratio():
    # gains 0.1 and -1/20: relative scores 0.1 / 0.15 and -0.05 / 0.15 at every time
    d = dominance(births_deaths())
    assert np.allclose(d.relative["R1"], 2 / 3, atol=1e-12)
    assert np.allclose(d.relative["B1"], -1 / 3, atol=1e-12)
    # flow -> stock scores are |Δflow / Δnet|: 0.1 / 0.05 = 2 for births, -1 for deaths
    assert np.allclose(d.scores["R1"], 2.0) and np.allclose(d.scores["B1"], -1.0)


def test_flows_split_or_netted_give_the_same_relative_scores():
    # the 2023 correction: a stock's flow -> stock scores do not depend on how its flows
    # are drawn; births and deaths as auxiliaries feeding one net flow score as two flows
    m = Model("population, one net flow", stop=20, dt=0.25)
    p = m.stock("Population", initial=100)
    births, deaths = m.aux("Births", 0.1 * p), m.aux("Deaths", p / 20)
    m.flow("Net change", births - deaths, into=p)
    netted = dominance(m).relative
    split = dominance(births_deaths()).relative
    assert sorted(netted.columns) == sorted(split.columns) == ["B1", "R1"]
    assert np.allclose(netted["R1"], split["R1"], atol=1e-12)
    assert np.allclose(netted["B1"], split["B1"], atol=1e-12)


def test_arrayed_loops_score_all_their_elements_together():
    d = dominance(births_deaths(arrayed=True))
    assert np.allclose(d.relative["R1"], 2 / 3, atol=1e-12)
    assert np.allclose(d.relative["B1"], -1 / 3, atol=1e-12)


def test_logistic_growth_relative_scores_are_one_minus_p_over_k():
    # discrete link scores give exactly 1 - P(t)/K for the step t -> t + dt
    d = dominance(logistic())
    growth = next(l.id for l in d.loops if l.name == "Growth")
    crowding = next(l.id for l in d.loops if l.name == "Crowding")
    p = d.variables["Population"].to_numpy()
    assert np.max(np.abs(d.relative[growth] - (1 - p / 1000))) < 1e-10
    assert np.max(np.abs(d.relative[crowding] + p / 1000)) < 1e-10


def test_every_score_is_zero_at_equilibrium():
    d = dominance(births_deaths(birth=0.05))               # births = deaths = P/20
    assert np.all(d.scores.to_numpy() == 0) and np.all(d.relative.to_numpy() == 0)
    assert list(d.phases()["names"]) == ["no loop active"]
    stocked = dominance(logistic(p0=1000.0))               # at its carrying capacity
    assert np.all(stocked.relative.to_numpy() == 0)


def test_logistic_phases_switch_at_half_capacity_with_runtime_polarity():
    d = dominance(logistic())
    ph = d.phases()
    assert list(ph["names"]) == ["Growth", "Crowding"]
    assert list(ph["polarity"]) == ["R", "B"]              # both loops are U by equation
    # crowding takes over when P reaches K/2: the first step from above half capacity
    p = d.variables["Population"]
    assert ph["start"].iloc[1] == p.index[np.argmax(p.to_numpy() > 500)]
    assert abs(ph["start"].iloc[1] - math.log(99) / 0.2) < 0.5   # Euler vs exact logistic
    assert "ran +" in ph["why_unknown"].iloc[0]


def test_absolute_relative_scores_add_up_to_one_per_partition():
    for model, params in ((inventory(), {"Desired inventory": 150}), (composed(), None)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            d = dominance(model, params=params)
        total = d.relative.abs().sum(axis=1).to_numpy()
        assert np.all((np.abs(total - 1) < 1e-9) | (total == 0))
        assert (total > 0).mean() > 0.5


def test_delay_links_are_scored_through_their_stages():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        d = dominance(inventory(), params={"Desired inventory": 150})
    control = next(l.id for l in d.loops if l.name == "Stock control")
    assert d.relative[control].abs().max() > 0.5       # the delayed loop does something
    assert d.relative[control].max() <= 1e-12           # and it is balancing throughout


@pytest.mark.parametrize("name", ["alert_storm", "capacity_spiral", "hpa_autoscaler",
                                  "retry_storm"])
def test_re_evaluating_every_equation_reproduces_the_run(name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trace = record(load_model(name))
    checked = 0
    for column in range(len(trace.slots)):
        if trace.equation(column) is None:
            continue
        recorded = trace.values[:, column]
        again = trace.evaluate(column)
        assert np.allclose(again, recorded, rtol=1e-10, atol=1e-10), trace.slots[column].label
        checked += 1
    assert checked > 10


def test_dominance_table_is_tidy():
    d = dominance(logistic())
    frame = d.to_pandas()
    assert list(frame.columns) == ["scenario", "time", "loop", "name", "polarity", "runs_as",
                                   "score", "relative"]
    assert len(frame) == len(d.relative) * len(d.loops)
    growth = frame[frame["name"] == "Growth"]                  # U by equation, R by run
    assert set(growth["polarity"]) == {"U"} and set(growth["runs_as"]) == {"R"}
    assert d.summary()["name"].iloc[0] in ("Growth", "Crowding")


def test_loop_set_dominance_method_uses_its_loops():
    m = births_deaths()
    loops = find_loops(m, behaviour=False)
    d = loops.dominance(m)
    assert [l.id for l in d.loops] == [l.id for l in loops]


def _capped_loops(seed: str) -> list:
    code = ("import json, warnings; warnings.simplefilter('ignore');"
            "from sdmodels import find_loops; from sdmodels.sources import load_model;"
            "s = find_loops(load_model('black_friday'), max_loops=40, behaviour=False);"
            "print(json.dumps([[l.id, l.name, l.names] for l in s]))")
    env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True, cwd=ROOT)
    return json.loads(out.stdout)


def test_capped_loop_listings_are_the_same_in_every_process():
    first, second = _capped_loops("1"), _capped_loops("12345")
    # 40 from the enumeration and black_friday's named loops, listed whatever the cap
    named = len(load_model("black_friday").loop_names)
    assert 40 < len(first) <= 40 + named and first == second


def test_cap_and_total_in_every_format():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        capped = find_loops(load_model("black_friday"), max_loops=30, behaviour=False)
    data = json.loads(capped.to_json())
    # the named loops are listed besides the 30 the enumeration stopped at
    named = {n.name for n in load_model("black_friday").loop_names}
    assert data["cap"] == 30 and data["total"] is None and data["shown"] == len(capped)
    assert 30 < len(capped) <= 30 + len(named) and {l.name for l in capped if l.name} == named
    assert "cap of 30" in capped.to_table() and "cap of 30" in capped.to_markdown()
    assert set(capped.to_pandas()["cap"]) == {30}
    full = find_loops(births_deaths(), behaviour=False)
    assert json.loads(full.to_json())["total"] == 2


@pytest.mark.parametrize("name", ["retry_storm", "api_service"])
def test_strongest_path_discovery_finds_the_loops_that_matter(name):
    # every loop listed, scored: discovery from the run must find each that carries change
    # (models whose loops can all be listed and whose runs score many of them)
    from sdmodels.analysis.discovery import discover_loops
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trace = record(load_model(name), scenario="trigger")
        full = dominance(trace.ir, trace=trace)
    found = {l.variables for l in discover_loops(trace)}
    # every loop, the memories of discrete elements too (summary() leaves those out)
    mean = full.relative.abs().mean()
    mattered = list(mean[mean >= 0.002].index)
    assert len(mattered) >= 3
    by_id = {l.id: l.variables for l in full.loops}
    assert all(by_id[x] in found for x in mattered)
    assert len(found) < len(full.loops) / 2 or len(full.loops) < 30
