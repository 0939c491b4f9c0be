"""Matplotlib without pyplot's global state: a figure, and saving it as PNG and SVG atomically."""
from __future__ import annotations

from pathlib import Path

from sdmodels.files import atomic_path


def figure(width: float = 6.4, height: float = 4.2):
    """A new figure on the Agg canvas (no display, no pyplot state)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig, stem: str | Path, *, dpi: int = 120) -> list[Path]:
    """Write `stem`.png and `stem`.svg, each only once complete; return both paths."""
    stem = Path(stem)
    paths = []
    for suffix in (".png", ".svg"):
        target = stem.with_suffix(suffix)
        with atomic_path(target) as tmp:
            fig.savefig(tmp, format=suffix[1:], dpi=dpi)
        paths.append(target)
    return paths
