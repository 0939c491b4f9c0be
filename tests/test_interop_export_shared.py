"""The XMILE export writes repeated long subexpressions and deep nests as auxiliaries of their
own (sdmodels/interop/export_shared.py), stays exact, and writes an auxiliary's start value."""
import re

import numpy as np
import pytest

from sdmodels import Model, maximum, minimum, run, sample_hold
from sdmodels.interop import import_model, to_xmile


def _equations(text):
    return re.findall(r"<eqn>(.*?)</eqn>", text, re.S)


def _nesting(eqn):
    depth = worst = 0
    for ch in eqn:
        depth += (ch == "(") - (ch == ")")
        worst = max(worst, depth)
    return worst


def _read_back(text, tmp_path):
    path = tmp_path / "m.xmile"
    path.write_text(text)
    return import_model(path)


def recursion(levels):
    """x_j = 1 + (j / L) x_{j-1}, L = MAX(load, 0.001): L appears at every level."""
    m = Model("recursion", stop=2, dt=0.5)
    load = maximum(m.constant("Offered load in Erlangs", 50.0) * (1 + m.time), 1e-3)
    x = 1.0
    for j in range(1, levels + 1):
        x = 1 + minimum(j / load, 1e10) * x
    m.aux("Reciprocal", x)
    return m


def test_a_repeated_part_is_written_once_and_a_deep_nest_is_cut(tmp_path):
    m = recursion(90)
    text = to_xmile(m)
    eqns = _equations(text)
    # the load, 50 characters inlined 90 times before, is one auxiliary now
    load = "MAX(Offered_load_in_Erlangs * (1.0 + TIME), 0.001)"
    assert sum(e.count(load) for e in eqns) == 1
    # 90 levels, each wrapping the last in one more pair of parentheses: cut into parts
    # whose nesting stays below the readers' limit (50)
    assert max(_nesting(e) for e in eqns) <= 40
    assert 3 <= text.count("<aux name=\"Reciprocal_part_") <= 10
    back = run(_read_back(text, tmp_path), engine="interpreter")
    ours = run(m, engine="interpreter")
    # the same operations in the same order: the same numbers, to the last bit
    assert np.array_equal(back["Reciprocal"].to_numpy(), ours["Reciprocal"].to_numpy())
    assert np.isfinite(ours["Reciprocal"].to_numpy()).all()


def test_short_repeats_stay_inline():
    m = Model("short", stop=1)
    a = m.constant("a", 2.0)
    m.aux("Square", (a + 1) * (a + 1))
    text = to_xmile(m)
    assert "<eqn>(a + 1.0) * (a + 1.0)</eqn>" in text and "_part_" not in text


def test_an_auxiliary_start_value_is_its_init_eqn(tmp_path):
    # ACTIVE INITIAL: 'Held' starts at 7 for whatever is computed from it at the start (the
    # stock), then follows its equation; the hpa_autoscaler export lost this (an initial
    # cycle on reading back)
    m = Model("held", stop=4, dt=1)
    held = m.aux("Held", sample_hold(10 + m.time, 2), initial=7.0)
    m.stock("Level", initial=held)
    text = to_xmile(m)
    assert "<init_eqn>7.0</init_eqn>" in text
    back = run(_read_back(text, tmp_path), engine="interpreter")
    ours = run(m, engine="interpreter")
    assert ours["Level"].iloc[0] == 7.0 and back["Level"].iloc[0] == 7.0
    assert back["Held"].to_numpy() == pytest.approx(ours["Held"].to_numpy())
