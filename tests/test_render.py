"""Diagrams from the real Graphviz: SVG parses and carries loop labels and polarity marks,
DOT is byte-identical across builds, every format comes out."""
import defusedxml.ElementTree as ET
import pytest

from _analysis_models import composed, inventory, pod_eviction, sir
from sdmodels import find_loops, to_graphviz
from sdmodels.render import Diagram

SVG = "{http://www.w3.org/2000/svg}"


def svg_texts(diagram: Diagram) -> list[str]:
    root = ET.fromstring(diagram.pipe("svg"))
    return [t.text or "" for t in root.iter(f"{SVG}text")]


def test_cld_svg_has_every_loop_label_and_polarity_marks():
    model = inventory()
    loops = find_loops(model)
    texts = svg_texts(to_graphviz(model, loop_set=loops))
    for loop in loops:
        assert f"\u21bb {loop.id}" in texts
    assert "Stock control" in texts
    assert "+" in texts and "\u2212" in texts      # + and minus marks at arrowheads
    assert "||" in texts                            # the delayed supply line
    for name in ("Inventory", "Orders", "Arrivals", "Shipments"):
        assert name in texts


def test_dot_is_byte_identical_across_builds():
    a = to_graphviz(composed()).pipe("dot")
    b = to_graphviz(composed()).pipe("dot")
    assert a == b
    assert to_graphviz(sir(), kind="sfd").source == to_graphviz(sir(), kind="sfd").source


def test_modules_become_clusters_and_composed_loop_is_labelled():
    d = to_graphviz(composed())
    assert 'subgraph "cluster_backend"' in d.source and 'label="Backend"' in d.source
    texts = svg_texts(d)
    assert "Retry storm" in texts and "Queue" in texts
    flat = to_graphviz(composed(), modules=False)
    assert "cluster_" not in flat.source and "Backend / Queue" in svg_texts(flat)


def test_highlight_greys_other_loops_and_only_loops_drops_the_rest():
    model = pod_eviction()
    loops = find_loops(model)
    d = to_graphviz(model, loops=["R1"], loop_set=loops)
    assert "#c4c4c4" in d.source           # some other link is greyed
    assert '"eviction" -> "running_pods"' in d.source
    only = to_graphviz(model, loops=["R1"], only_loops=True, loop_set=loops)
    assert '"rescheduling"' not in only.source
    with pytest.raises(KeyError, match="no loop 'R9'"):
        to_graphviz(model, loops=["R9"], loop_set=loops)


def test_sfd_has_stocks_valves_clouds():
    d = to_graphviz(sir(), kind="sfd")
    src = d.source
    assert '"susceptible" [label="Susceptible", shape="box"' in src
    assert 'shape="circle"' in src                  # valves
    assert '"cloud:to:recovering"' not in src       # flows between stocks need no cloud
    texts = svg_texts(d)
    assert "Succumbing" in texts and "Infectivity" in texts   # labels wrap at ~18 chars
    sink = to_graphviz(pod_eviction(), kind="sfd").source
    assert '"cloud:to:eviction"' in sink and '"cloud:from:rescheduling"' in sink


@pytest.mark.parametrize("fmt, magic", [("svg", b"<?xml"), ("png", b"\x89PNG"),
                                        ("pdf", b"%PDF"), ("dot", b"digraph")])
def test_every_format_saves(tmp_path, fmt, magic):
    path = to_graphviz(sir()).save(tmp_path / f"sir.{fmt}")
    assert path.read_bytes().startswith(magic)
    assert [p.name for p in tmp_path.iterdir()] == [f"sir.{fmt}"]   # no temporary left


def test_bad_suffix_is_refused_and_jupyter_reprs():
    d = to_graphviz(sir())
    with pytest.raises(ValueError, match="must end in"):
        d.save("diagram.jpeg")
    assert d._repr_svg_().lstrip().startswith("<?xml")
    assert "<svg" in d._repr_html_()
