"""The shortest stress that leaves a loop stuck (`sdmodels.system.tipping`), against the
closed form of a latch: a backlog that retries a fifth of itself each second and is served
at 5/s at most, pushed by a stress of 10/s.

While the backlog B < 5 the service keeps up with it: dB/dt = 10 - 0.8 B, so B reaches 5 at
t1 = ln(1 / 0.6) / 0.8 = 0.639 s. Above 5, dB/dt = 5 + 0.2 B, reaching 25 at
t2 = 5 ln(10 / 6) = 2.554 s later. Past 25 the retries (0.2 B) outgrow the service without
the stress, so B grows for good; below it, B drains. The tipping stress is t1 + t2 = 3.19 s.
Euler at dt = 0.01 moves that by about dt, so stresses 0.3 s either side are on known sides.
"""
from __future__ import annotations

import math

import pytest

from sdmodels import Model, minimum, pulse
from sdmodels.system.tipping import LADDER, sentence, stuck_after

TIPPING = math.log(1 / 0.6) / 0.8 + 5 * math.log(10 / 6)
START, WHOLE = 10.0, 30.0


def latch(retry_share: float = 0.2) -> Model:
    m = Model("latch", stop=80, dt=0.01)
    start, length = m.constant("Stress start", START), m.constant("Stress duration", WHOLE)
    b = m.stock("Backlog", initial=0)
    m.flow("Arrivals", 10 * pulse(start, length) + retry_share * b, into=b)
    m.flow("Served", minimum(b, 5), out_of=b)
    return m


def test_the_tipping_stress_is_where_the_closed_form_puts_it():
    assert TIPPING == pytest.approx(3.193, abs=1e-3)
    window = (START, START + WHOLE)
    below, above = round(TIPPING - 0.3, 2), round(TIPPING + 0.3, 2)
    assert stuck_after(latch(), None, ["Backlog"], window, ladder=(below, above)) == \
        {"Backlog": above}
    # none of the shorter stresses tips it: the whole stress is the answer
    assert stuck_after(latch(), None, ["Backlog"], window, ladder=(1.0, below)) == \
        {"Backlog": WHOLE}
    # the default ladder: 1 and 2 s pass, 5 s is the first that sticks
    assert stuck_after(latch(), None, ["Backlog"], window) == {"Backlog": 5.0}


def test_a_weaker_loop_needs_a_longer_stress():
    """Retrying a tenth: B reaches 5 at ln(1 / 0.55) / 0.9 = 0.664 s, then 50 (where the
    retries outgrow the service) 10 ln(10 / 5.5) = 5.98 s later: 6.64 s in all, so of the
    default ladder 10 s is the first that sticks; with only 2 and 5 s tried, the whole."""
    weak = math.log(1 / 0.55) / 0.9 + 10 * math.log(10 / 5.5)
    assert weak == pytest.approx(6.64, abs=0.01)
    window = (START, START + WHOLE)
    assert stuck_after(latch(0.1), None, ["Backlog"], window) == {"Backlog": 10.0}
    assert stuck_after(latch(0.1), None, ["Backlog"], window, ladder=(2.0, 5.0)) == \
        {"Backlog": WHOLE}


def test_a_ladder_longer_than_the_stress_is_not_run():
    assert stuck_after(latch(), None, ["Backlog"], (START, START + 1.0)) == {"Backlog": 1.0}
    assert stuck_after(latch(), None, [], (START, START + WHOLE)) == {}


def test_the_sentence_names_the_ladder():
    assert sentence(5.0, 60.0) == "a stress of 5 s already leaves it stuck (60 s in the scenario)"
    assert all(f"{d:g}" in sentence(60.0, 60.0) for d in LADDER)
