"""Diagram fixes: one loop in loop order on a circle, named loops always marked, flows named
by a string reach their stocks in the stock-and-flow diagram."""
import pytest
import math
import re
import warnings

import defusedxml.ElementTree as ET

from sdmodels import Model, find_loops, to_graphviz
from sdmodels.render import loop_diagram
from sdmodels.sources import load_model

SVG = "{http://www.w3.org/2000/svg}"


def _crossings(points: list[tuple[float, float]]) -> int:
    """Crossings of the closed polygon through `points` in order (non-adjacent sides)."""
    def cross(p, q, r):
        return (q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0])
    sides = list(zip(points, points[1:] + points[:1]))
    n, count = len(sides), 0
    for i in range(n):
        for j in range(i + 2, n):
            if i == 0 and j == n - 1:
                continue
            (a, b), (c, d) = sides[i], sides[j]
            if cross(a, b, c) * cross(a, b, d) < 0 and cross(c, d, a) * cross(c, d, b) < 0:
                count += 1
    return count


def _model_and_loops(name: str):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = load_model(name)
        return model, find_loops(model, behaviour=False)


def test_single_loop_is_drawn_in_loop_order_without_crossings():
    model, loops = _model_and_loops("retry_storm")
    loop = loops["Retry storm"]
    d = to_graphviz(model, loops=[loop.id], only_loops=True, loop_set=loops, behaviour=False)
    pos = dict(re.findall(r'^\s+"([^"]+)" \[.*?pos="([-\d.,]+)!"', d.source, re.M))
    points = [tuple(float(x) for x in pos[v].split(",")) for v in loop.variables]
    assert len(points) == loop.length and _crossings(points) == 0
    angles = [math.atan2(y, x) for x, y in points]        # clockwise, one step each
    steps = [(a - b) % (2 * math.pi) for a, b in zip(angles, angles[1:])]
    assert max(steps) - min(steps) < 1e-2
    texts = [t.text or "" for t in ET.fromstring(d.pipe("svg")).iter(f"{SVG}text")]
    assert "Retry storm" in texts and any(t.startswith(loop.polarity + " ") for t in texts)
    assert any(t.startswith("||") for t in texts)          # the retry delay on its link


def test_named_loops_keep_their_markers_past_forty_loops():
    model, loops = _model_and_loops("black_friday")
    assert len(loops) > 40
    source = to_graphviz(model, loop_set=loops, behaviour=False).source
    for loop in loops:
        assert (f'"loop:{loop.id}"' in source) == bool(loop.name), loop.id


def test_flow_named_by_string_reaches_its_stock_in_the_sfd():
    m = Model("tank", stop=5)
    m.stock("Water in tank", initial=1)
    m.flow("Filling", 2.0, into="Water in tank")
    m.flow("Leak", 0.5, out_of="Water in tank")
    source = to_graphviz(m, kind="sfd", behaviour=False).source
    assert '"filling" -> "water_in_tank"' in source
    assert '"water_in_tank" -> "leak"' in source
    assert source.count("cloud:") == 2 * 2                 # one cloud each, node + edge


def test_loop_diagram_names_modules_and_leaves_constants_out():
    model, loops = _model_and_loops("black_friday")
    loop = loops["Autoscaler grabs connections"]
    source = loop_diagram(model, loop).source
    assert "[Payments]" in source
    nodes = re.findall(r'^\s+"([^"]+)" \[', source, re.M)
    assert set(nodes) == set(loop.variables) | {"loop:centre"}


def _three_tanks() -> Model:
    """Three coupled tanks without modules (the neato layout): five loops."""
    m = Model("tanks", stop=5)
    a, b, c = (m.stock(n, initial=10) for n in ("A", "B", "C"))
    m.flow("A to B", (a - b) / 3, out_of=a, into=b)
    m.flow("B to C", (b - c) / 4, out_of=b, into=c)
    m.flow("C to A", (c - a) / 5, out_of=c, into=a)
    m.flow("A grows", 0.01 * a, into=a)
    return m


def test_loop_markers_sit_among_their_loops_variables():
    """Without modules (neato), every marker is pinned at the centre of its loop's variables."""
    model = _three_tanks()
    loops = find_loops(model, behaviour=False)
    assert len(loops) >= 4
    diagram = to_graphviz(model, loop_set=loops, behaviour=False)
    assert diagram.engine == "neato"
    pos = {name: tuple(float(v) for v in p.split(","))
           for name, p in re.findall(r'^\s+"([^"]+)" \[pos="([-\d.,]+)!"', diagram.source, re.M)}
    for loop in loops:
        marker = pos[f"loop:{loop.id}"]
        xs, ys = zip(*(pos[v] for v in loop.variables))
        pad = 0.5                                           # inches: a label's half height
        assert min(xs) - pad <= marker[0] <= max(xs) + pad, loop.id
        assert min(ys) - pad - 0.4 * len(loops) <= marker[1] <= max(ys) + pad, loop.id


def test_loop_markers_of_a_model_with_modules_are_ranked_by_their_loops_variables():
    """With modules (dot keeps them in boxes, positions cannot be pinned), each marker is
    tied by invisible edges to two opposite variables of its own loop."""
    model, loops = _model_and_loops("connection_pool")
    diagram = to_graphviz(model, loop_set=loops, behaviour=False)
    assert diagram.engine == "dot"
    ties = re.findall(r'^\s+"([^"]+)" -> "([^"]+)" \[style="invis"', diagram.source, re.M)
    for loop in loops:
        marker = f"loop:{loop.id}"
        into = [u for u, v in ties if v == marker]
        out = [v for u, v in ties if u == marker]
        assert into == [loop.variables[0]], loop.id
        assert out == [loop.variables[len(loop.variables) // 2]], loop.id
