"""Rich displays for Jupyter and the notebook widget (ipywidgets), on small models."""
import re

import numpy as np
import pytest

from library import teacup
from sdmodels import find_loops, simulate
from sdmodels.workbench.display import model_markdown


def test_model_html_has_the_parameter_table_and_the_diagram():
    m = teacup.build()
    text = m._repr_html_()
    assert "<b>teacup</b>" in text and "1 stock, 1 flow" in text
    assert re.search(r"<td[^>]*>Characteristic Time</td><td[^>]*>10</td><td[^>]*>minute</td>", text)
    assert "<svg" in text and "B1" in text                       # Graphviz's diagram
    md = m._repr_markdown_()
    assert "| Characteristic Time | 10 | minute | SDXorg" in md
    assert "Scenarios: baseline, cold room" in md


def test_a_broken_model_displays_its_error():
    from sdmodels import Model
    m = Model("broken")
    m.aux("A", "B + 1")
    assert "does not build" in m._repr_html_() and "uses &#x27;B&#x27;" in m._repr_html_()
    assert "does not build" in model_markdown(m)


def test_results_html_table_and_plot():
    r = simulate(teacup.build())
    text = r._repr_html_()
    # first, min, max and last of the temperature: 180 .. 70 + 110 (1 - 1/80)^240
    last = 70 + 110 * (1 - 0.125 / 10) ** 240
    row = re.search(r"<td[^>]*>Teacup Temperature</td>((?:<td[^>]*>[^<]*</td>){4})", text)
    cells = [float(c) for c in re.findall(r">([^<]+)</td>", row.group(1))]
    assert cells == pytest.approx([180, last, 180, last], rel=1e-5)
    assert "<svg" in text
    many = simulate(teacup.build(), params={"Characteristic Time": [5, 10, 20]})._repr_html_()
    assert "3 runs" in many and "Characteristic Time" in many


def test_loop_and_loopset_html_say_r_b_and_delays():
    from sdmodels import Model, delay3
    m = Model("delayed", stop=10, dt=0.25)
    s = m.stock("Stock", initial=1)
    m.flow("Growth", delay3(s, 2) * 0.1, into=s)
    loops = find_loops(m)
    html = loops._repr_html_()
    assert "reinforcing" in html and "delay3 2" in html
    assert "R1" in loops[0]._repr_html_() and "reinforcing" in loops[0]._repr_html_()


def test_widget_sliders_rerun_the_model():
    pytest.importorskip("ipywidgets")
    from sdmodels.workbench import widget
    w = widget("teacup")
    assert list(w.sliders) == ["Initial Temperature", "Room Temperature", "Characteristic Time"]
    before = np.array(w.after["series"]["Teacup Temperature"])
    w.sliders["Characteristic Time"].value = 20
    times = np.array(w.after["times"])
    after = np.array(w.after["series"]["Teacup Temperature"])
    np.testing.assert_allclose(after, 70 + 110 * (1 - 0.125 / 20) ** (times / 0.125), rtol=1e-12)
    assert np.array_equal(np.array(w.before["series"]["Teacup Temperature"]), before)
    w.scenario.value = "cold room"
    assert w.sliders["Room Temperature"].value == 40 and w.after["values"]["Room Temperature"] == 40
    assert w.sliders["Characteristic Time"].value == 10
