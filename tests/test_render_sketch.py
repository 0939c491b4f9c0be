"""Imported Vensim models are drawn where the modeller put their variables in the sketch."""

import defusedxml.ElementTree as ET
import numpy as np
import pytest
from click.testing import CliRunner

from sdmodels import to_graphviz
from sdmodels.cli import main
from sdmodels.elements import canonical
from sdmodels.interop import import_model, read_sketch
from sdmodels.interop.conformance import shared_root
from sdmodels.sketch_layout import SCALE

SIR = shared_root() / "test-models" / "samples" / "SIR" / "SIR.mdl"
SVG = "{http://www.w3.org/2000/svg}"
pytestmark = pytest.mark.skipif(not SIR.exists(), reason="the external test models are absent")


def _centres(svg: bytes) -> dict[str, tuple[float, float]]:
    """Node title -> (x, mean y) of its label's text lines in the rendered SVG (points)."""
    out = {}
    for g in ET.fromstring(svg).iter(f"{SVG}g"):
        if g.get("class") != "node":
            continue
        texts = [(float(t.get("x")), float(t.get("y"))) for t in g.iter(f"{SVG}text")]
        if texts:
            out[g.find(f"{SVG}title").text] = (texts[0][0], float(np.mean([y for _, y in texts])))
    return out


def _fit(svg: bytes, sketch: dict) -> tuple[np.ndarray, np.ndarray]:
    """Slopes of the drawn x and y against the sketch's, and the largest misfit (points)."""
    drawn = _centres(svg)
    pairs = [(sketch[name], drawn[canonical(name)]) for name in sketch if canonical(name) in drawn]
    assert len(pairs) >= 5             # SIR: 3 stocks, 2 flows (and 3 constants in the SFD)
    a = np.array([p[0] for p in pairs])
    b = np.array([p[1] for p in pairs])
    slopes, misfit = [], []
    for k in (0, 1):
        slope, offset = np.polyfit(a[:, k], b[:, k], 1)
        slopes.append(slope)
        misfit.append(np.abs(b[:, k] - (slope * a[:, k] + offset)).max())
    return np.array(slopes), np.array(misfit)


def test_cli_draws_an_mdl_model_at_its_sketch_positions(tmp_path):
    sketch = read_sketch(SIR)
    out = tmp_path / "sir.svg"
    result = CliRunner().invoke(main, ["diagram", str(SIR), "--no-behaviour", "-o", str(out)])
    assert result.exit_code == 0, result.output
    slopes, misfit = _fit(out.read_bytes(), sketch)
    # one sketch pixel is SCALE points on both axes (SVG y points down, as the sketch's)
    assert np.allclose(slopes, SCALE, atol=0.01)
    assert misfit.max() < 8           # points: a two-line label's centre vs its baseline
    auto = tmp_path / "auto.svg"
    result = CliRunner().invoke(main, ["diagram", str(SIR), "--no-behaviour", "--auto-layout",
                                       "-o", str(auto)])
    assert result.exit_code == 0, result.output
    slopes, misfit = _fit(auto.read_bytes(), sketch)
    assert not (np.allclose(slopes, SCALE, atol=0.01) and misfit.max() < 8)


def test_stock_and_flow_diagram_follows_the_sketch():
    sketch = read_sketch(SIR)
    d = to_graphviz(import_model(SIR), kind="sfd", behaviour=False, positions=sketch)
    assert d.engine == "neato"
    slopes, misfit = _fit(d.pipe("svg"), sketch)
    assert np.allclose(slopes, SCALE, atol=0.01) and misfit.max() < 8
