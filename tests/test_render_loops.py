"""Diagram fixes: one loop in loop order on a circle, named loops always marked, flows named
by a string reach their stocks in the stock-and-flow diagram."""
import functools
import math
import re
import warnings

import defusedxml.ElementTree as ET

from sdmodels import Model, build, find_loops, to_graphviz
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


@functools.lru_cache(maxsize=None)
def _signed(name: str):
    """A library model's IR and its link polarities from the equations (seconds on the
    big models: computed once per model for this file)."""
    from sdmodels.analysis.polarity import link_polarities
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = build(load_model(name))
        return model, link_polarities(model, behaviour=False)


def _model_and_loops(name: str, **options):
    """The model's IR, its loops and the link polarities they were signed with."""
    model, signs = _signed(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model, find_loops(model, polarities=signs, **options), signs


def test_single_loop_is_drawn_in_loop_order_without_crossings():
    model, loops, signs = _model_and_loops("retry_storm")
    loop = loops["Retry storm"]
    d = to_graphviz(model, loops=[loop.id], only_loops=True, loop_set=loops, polarities=signs)
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
    model, loops, signs = _model_and_loops("black_friday", max_loops=100)   # past 40
    assert len(loops) > 40 and sum(1 for l in loops if l.name) == len(model.loop_names)
    source = to_graphviz(model, loop_set=loops, polarities=signs).source
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
    # a small cap: the named loops are listed anyway
    model, loops, signs = _model_and_loops("black_friday", max_loops=50)
    loop = loops["Autoscaler grabs connections"]
    source = loop_diagram(model, loop, polarities=signs).source
    assert "[HPA]" in source            # the loop crosses the HPA part; its nodes say so
    nodes = re.findall(r'^\s+"([^"]+)" \[', source, re.M)
    assert set(nodes) == set(loop.variables) | {"loop:centre"}


def test_loop_markers_sit_among_their_loops_variables():
    # connection_pool is now built from modules; without their boxes it is laid out by
    # neato, whose markers are pinned at their loops' centres
    model, loops, signs = _model_and_loops("connection_pool")
    source = to_graphviz(model, loop_set=loops, polarities=signs, modules=False).source
    pos = {name: tuple(float(v) for v in p.split(","))
           for name, p in re.findall(r'^\s+"([^"]+)" \[pos="([-\d.,]+)!"', source, re.M)}
    checked = 0
    for loop in loops:
        marker = pos.get(f"loop:{loop.id}")
        if marker is None:
            continue
        xs, ys = zip(*(pos[v] for v in loop.variables))
        pad = 0.5                                           # inches: a label's half height
        assert min(xs) - pad <= marker[0] <= max(xs) + pad, loop.id
        assert min(ys) - pad - 0.4 * len(loops) <= marker[1] <= max(ys) + pad, loop.id
        checked += 1
    assert checked == len(loops)


def test_loop_markers_sit_in_their_loops_with_module_boxes():
    import json

    import graphviz

    from sdmodels.markers import centre_markers
    model, loops, signs = _model_and_loops("connection_pool")
    d = to_graphviz(model, loop_set=loops, polarities=signs)
    assert d.engine == "dot" and len(d.markers) == len(loops)        # modules: dot layout
    laid = centre_markers(d.source, dict(d.markers))                 # what pipe() draws
    layout = json.loads(graphviz.Source(laid, engine="neato").pipe("json", neato_no_op=2))
    pos = {o["name"]: tuple(float(v) for v in o["pos"].split(","))
           for o in layout["objects"] if "pos" in o}
    for loop in loops:
        xs, ys = zip(*(pos[v] for v in loop.variables))
        x, y = pos[f"loop:{loop.id}"]
        pad = 36                                            # points: half a label's width
        assert min(xs) - pad <= x <= max(xs) + pad, loop.id
        # markers sharing a centre are stacked 24 points apart below it
        assert min(ys) - pad - 24 * len(loops) <= y <= max(ys) + pad, loop.id
    assert d.pipe("svg").decode().count('class="cluster"') == 2     # the module boxes stay
