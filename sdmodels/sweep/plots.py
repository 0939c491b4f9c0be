"""Sweep plots, written as PNG and SVG with matplotlib's object API (no pyplot, no GUI).

- `metric_line`: a metric over one parameter (mean line, min-max band over the other
  parameters and replications);
- `heatmap`: a metric, or the behaviour label, over two parameters: the label version is
  the phase diagram (where does the system recover, where does it collapse);
- `fan`: sampled time series coloured by their label.

>>> import pandas as pd, tempfile, pathlib
>>> t = pd.DataFrame({"a": [1, 1, 2, 2], "b": [1, 2, 1, 2], "m": [0., 1., 2., 3.],
...                   "x.label": ["steady", "growth", "growth", "collapsed"]})
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> [p.suffix for p in heatmap(t, "a", "b", "x.label", d / "phase")]
['.png', '.svg']
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from sdmodels.sweep.labels import LABELS
from sdmodels.plotting import figure, save_figure

LABEL_COLOURS = {"steady": "#4c72b0", "recovered": "#55a868", "collapsed": "#c44e52",
                 "oscillating": "#8172b2", "overshoot": "#ccb974", "growth": "#dd8452",
                 "decline": "#64b5cd", "step": "#937860"}
MAX_LEVELS = 30   # a parameter with more distinct values is binned for the heatmap


def _levels(values: pd.Series) -> pd.Series:
    if values.nunique() <= MAX_LEVELS:
        return values
    cut = pd.cut(values, MAX_LEVELS // 2)
    return cut.map(lambda iv: iv.mid).astype(float)


def metric_line(table: pd.DataFrame, param: str, metric: str, stem) -> list[Path]:
    """The metric's mean over `param`, with the min-max band of everything else."""
    x = _levels(table[param])
    grouped = table[metric].groupby(x).agg(["mean", "min", "max"]).sort_index()
    fig = figure()
    ax = fig.add_subplot()
    ax.fill_between(grouped.index, grouped["min"], grouped["max"], alpha=0.25,
                    label="min-max over other settings")
    ax.plot(grouped.index, grouped["mean"], marker="o", ms=3, label="mean")
    ax.set_xlabel(param)
    ax.set_ylabel(metric)
    ax.legend(loc="best", fontsize="small")
    ax.grid(alpha=0.3)
    return save_figure(fig, stem)


def heatmap(table: pd.DataFrame, x: str, y: str, value: str, stem) -> list[Path]:
    """`value` over the (x, y) grid: its mean, or for a label column its most common label."""
    xs, ys = _levels(table[x]), _levels(table[y])
    frame = pd.DataFrame({"x": xs, "y": ys, "v": table[value]})
    fig = figure(6.8, 4.8)
    ax = fig.add_subplot()
    if value.endswith("label"):
        mode = frame.groupby(["y", "x"])["v"].agg(lambda s: s.astype(str).value_counts().index[0])
        grid = mode.unstack("x")
        present = [lab for lab in LABELS if (grid == lab).any().any()]
        codes = grid.apply(lambda col: col.map({lab: i for i, lab in enumerate(present)}))
        from matplotlib.colors import ListedColormap
        cmap = ListedColormap([LABEL_COLOURS[lab] for lab in present])
        image = ax.pcolormesh(_edges(grid.columns), _edges(grid.index),
                              codes.to_numpy(float), cmap=cmap, vmin=-0.5,
                              vmax=len(present) - 0.5)
        bar = fig.colorbar(image, ax=ax, ticks=range(len(present)))
        bar.ax.set_yticklabels(present)
        ax.set_title(f"{value} (most common per cell)")
    else:
        grid = frame.groupby(["y", "x"])["v"].mean().unstack("x")
        image = ax.pcolormesh(_edges(grid.columns), _edges(grid.index), grid.to_numpy(float),
                              cmap="viridis")
        fig.colorbar(image, ax=ax, label=value)
        ax.set_title(f"{value} (mean per cell)")
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    return save_figure(fig, stem)


def _edges(centres) -> np.ndarray:
    c = np.asarray(list(centres), dtype=float)
    if c.size == 1:
        return np.array([c[0] - 0.5, c[0] + 0.5])
    mid = (c[1:] + c[:-1]) / 2
    return np.concatenate([[c[0] - (mid[0] - c[0])], mid, [c[-1] + (c[-1] - mid[-1])]])


def fan(sample: pd.DataFrame, table: pd.DataFrame, output: str, stem) -> list[Path]:
    """Every sampled run of `output` over time, coloured by its label."""
    labels = table.set_index("run")[f"{output}.label"].astype(str)
    fig = figure()
    ax = fig.add_subplot()
    seen = set()
    for run, part in sample.groupby("run"):
        lab = labels.get(run, "steady")
        ax.plot(part["time"], part[output], color=LABEL_COLOURS.get(lab, "grey"), lw=0.8,
                alpha=0.7, label=None if lab in seen else lab)
        seen.add(lab)
    ax.set_xlabel("time")
    ax.set_ylabel(output)
    ax.legend(loc="best", fontsize="small")
    ax.grid(alpha=0.3)
    return save_figure(fig, stem)
