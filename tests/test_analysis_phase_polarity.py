"""Polarity from behaviour (issue 11 item 2): a loop whose sign turns with the operating
point is reported with its sign in each phase, runtime first, its structural U after.

The model: one stock P with one net flow f(P) = r P (1 - P/K), so one loop P -> f -> P
that the equations cannot sign (f rises with P below K/2 and falls above). Its link score
P -> f over an Euler step from P_k to P_k+1 has the sign of f(P_k+1) - f(P_k) =
r (P_k+1 - P_k) (1 - (P_k + P_k+1)/K): reinforcing while P_k + P_k+1 < K, balancing after,
exactly. In continuous time the turn is at P = K/2, t* = ln(K/P0 - 1)/r (22.98 here).
"""
import math
import re

import numpy as np
import pytest

from sdmodels import Model
from sdmodels.analysis.dominance import dominance
from sdmodels.postmortem import write_postmortem

R, K, P0 = 0.2, 1000.0, 10.0


def one_net_flow() -> Model:
    m = Model("one net flow", stop=60, dt=0.125)
    p = m.stock("Population", initial=P0)
    m.flow("Net growth", R * p * (1 - p / m.constant("Capacity", K)), into=p)
    return m


@pytest.fixture(scope="module")
def d():
    return dominance(one_net_flow())


def test_one_loop_gives_two_phases_with_its_sign_in_each(d):
    assert [l.polarity for l in d.loops] == ["U"]
    ph = d.phases()
    assert list(ph["loops"]) == ["U1", "U1"] and list(ph["polarity"]) == ["R", "B"]
    assert list(ph["in_phase"]) == [
        "R in this phase (structurally U: links Population -> Net growth ran +)",
        "B in this phase (structurally U: links Population -> Net growth ran -)"]
    # the turn: the first step whose two ends add up to more than K (see the module doc)
    p = d.variables["Population"].to_numpy()
    k = int(np.argmax(p[:-1] + p[1:] > K))
    assert ph["start"].iloc[1] == d.variables.index[k]
    assert abs(ph["start"].iloc[1] - math.log(K / P0 - 1) / R) < 0.25   # Euler, dt 1/8
    assert list(ph["share"]) == [1.0, 1.0]                    # the only loop


def test_the_loop_table_leads_with_the_signs_it_ran_with(d):
    row = d.summary().iloc[0]
    assert list(d.summary().columns[:4]) == ["loop", "name", "runs_as", "polarity"]
    assert (row["runs_as"], row["polarity"]) == ("R/B", "U")


def test_a_loop_the_equations_sign_says_only_its_runtime_sign():
    m = Model("births", stop=10, dt=0.25)
    p = m.stock("Population", initial=100)
    m.flow("Births", 0.1 * p, into=p)
    ph = dominance(m).phases()
    assert list(ph["in_phase"]) == ["R in this phase"]


def test_the_postmortem_tells_each_phase_by_its_runtime_sign(tmp_path):
    page = write_postmortem(one_net_flow(), tmp_path, variable="Population").read_text()
    told = page[page.index("<h2>The phases"):page.index("</ol>")]
    items = re.findall(r"<li>(.*?)</li>", told)
    assert len(items) == 2
    assert "U1, R in this phase (structurally U: links Population \u2192 Net growth ran +)" \
        in items[0]
    assert "U1, B in this phase (structurally U: links Population \u2192 Net growth ran -)" \
        in items[1]
    assert "runs as" not in told and "sign set by the run" not in told
    # the loop's own section: the signs it ran with first, its structure after
    assert "U1 (ran as R/B, structurally U): Population \u2192 Net growth" in page
