"""The main job: run a model's scenarios side by side and write series, plots and a report.

`write_report(model_name, out_dir)` runs every scenario of a library model (or the ones
named), writes each run's series as CSV, plots the key variables of all scenarios on shared
axes (PNG and SVG), draws the loop diagram when loop analysis is available, and writes
report.md and report.html that a person can open. Files appear only when complete.
"""
from __future__ import annotations

import html
import importlib
from pathlib import Path
from typing import Sequence

import pandas as pd

from sdmodels.files import atomic_path, can_make_dir, writable_dir, write_csv
from sdmodels.plotting import figure, save_figure
from sdmodels.elements import Stock
from sdmodels.ir import build
from sdmodels.simulate import check_scenario, simulate


def key_outputs(model_name: str, ir) -> list[str]:
    """The variables worth plotting: the library module's KEY_OUTPUTS, else the stocks."""
    try:
        module = importlib.import_module(f"library.{model_name}")
        keys = list(getattr(module, "KEY_OUTPUTS", []))
    except ImportError:
        keys = []
    return keys or [v.display for v in ir.of_kind(Stock) if not v.internal][:8]


def plot_scenarios(frames: dict[str, pd.DataFrame], columns: Sequence[str], title: str,
                   time_units: str, target_stem: Path) -> list[Path]:
    """One small plot per variable, every scenario on the same axes; PNG and SVG."""
    n = len(columns)
    ncols = 2 if n > 1 else 1
    nrows = (n + ncols - 1) // ncols
    fig = figure(6.5 * ncols, 2.6 * nrows + 0.4)
    axes = fig.subplots(nrows, ncols, squeeze=False, sharex=True)
    for ax, column in zip(axes.flat, columns):
        for name, frame in frames.items():
            if column in frame.columns:
                ax.plot(frame.index, frame[column], label=name, linewidth=1.6)
        ax.set_title(column, fontsize=10)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel(time_units)
    axes.flat[0].legend(fontsize=8, loc="best")
    fig.suptitle(title, fontsize=12)
    return save_figure(fig, target_stem, dpi=110)


FULL_TABLE_LIMIT = 12     # beyond this many loops the report shows the named ones only


def _loop_section(model, out_dir: Path) -> tuple[list[str], list[Path]]:
    """Loop table and diagram. Big models: the named loops drawn alone, the rest in files."""
    try:
        from sdmodels.analysis import find_loops
        from sdmodels.render import to_graphviz
    except ImportError:
        return ["Loop analysis is not available in this build."], []
    loops = find_loops(model)
    named = [loop.id for loop in loops if loop.name]
    written = []
    for target, text in ((out_dir / "loops.md", loops.to_markdown()),
                         (out_dir / "loops.json", loops.to_json())):
        with atomic_path(target) as tmp:
            tmp.write_text(text + "\n")
        written.append(target)
    diagrams = {"loops": to_graphviz(model, kind="cld", loop_set=loops)}
    lines = ["## Feedback loops", "", loops.summary(), ""]
    if len(loops) > FULL_TABLE_LIMIT and named:
        diagrams["named_loops"] = to_graphviz(model, kind="cld", loop_set=loops, loops=named,
                                              only_loops=True)
        subset = type(loops)(loops.model, tuple(l for l in loops if l.name), loops.method)
        lines += [f"The {len(named)} named loops (all {len(loops)} in [loops.md](loops.md), "
                  "[loops.json](loops.json), [loops.svg](loops.svg)):", "",
                  subset.to_markdown(), "", "![Named feedback loops](named_loops.svg)", ""]
    else:
        lines += [loops.to_markdown(), "", "![Causal-loop diagram](loops.svg)", ""]
    for stem, graph in diagrams.items():
        for suffix in (".svg", ".png"):
            target = out_dir / f"{stem}{suffix}"
            with atomic_path(target) as tmp:
                tmp.write_bytes(graph.pipe(format=suffix[1:]))
            written.append(target)
    return lines, written


def write_report(model_name: str, out_dir: str | Path, *, scenarios: Sequence[str] | None = None,
                 method: str = "euler") -> list[Path]:
    """Run the scenarios of `model_name` and write the report folder; return the files."""
    from sdmodels.sources import load_model

    out_dir = Path(out_dir)
    can_make_dir(out_dir)       # a bad name or a failed run leaves no folder and no file
    model = load_model(model_name)
    ir = build(model)
    names = list(scenarios or ir.scenarios or ["default"])
    for name in names:
        check_scenario(ir, None if name == "default" else name)
    frames: dict[str, pd.DataFrame] = {
        name: simulate(ir, scenario=None if name == "default" else name,
                       method=method).to_pandas() for name in names}
    writable_dir(out_dir)
    written: list[Path] = []
    for name, frame in frames.items():
        target = out_dir / f"series_{name.replace(' ', '_')}.csv"
        write_csv(frame, target)
        written.append(target)
    keys = [k for k in key_outputs(model_name, ir) if any(k in f.columns for f in frames.values())]
    written += plot_scenarios(frames, keys, f"{ir.name}: {', '.join(names)}", ir.time_units,
                              out_dir / "scenarios")
    loop_lines, loop_files = _loop_section(model, out_dir)
    written += loop_files
    lines = [f"# {ir.name}", "", ir.doc or "", "",
             f"Scenarios: {', '.join(names)}. Method {method}, dt {ir.dt:g} {ir.time_units}.", "",
             "![Key variables by scenario](scenarios.svg)", "", "## Key figures", "",
             _figures_table(frames, keys), ""] + loop_lines
    lines += ["## Files", ""] + [f"- [{p.name}]({p.name})" for p in written]
    markdown = "\n".join(lines) + "\n"
    for target, text in ((out_dir / "report.md", markdown),
                         (out_dir / "report.html", _html(ir.name, markdown))):
        with atomic_path(target) as tmp:
            tmp.write_text(text)
        written.append(target)
    return written


def _figures_table(frames: dict[str, pd.DataFrame], keys: Sequence[str]) -> str:
    rows = ["| variable | " + " | ".join(f"{s} peak | {s} final" for s in frames) + " |",
            "|---|" + "---|---|" * len(frames)]
    for key in keys:
        cells = []
        for frame in frames.values():
            if key in frame.columns:
                cells += [f"{frame[key].max():.4g}", f"{frame[key].iloc[-1]:.4g}"]
            else:
                cells += ["", ""]
        rows.append(f"| {key} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def _html(title: str, markdown: str) -> str:
    """A plain HTML page of the report (images inline, tables as preformatted text)."""
    body = []
    for line in markdown.splitlines():
        if line.startswith("![") and "](" in line:
            src = line.split("](", 1)[1].rstrip(")")
            body.append(f'<p><img src="{html.escape(src)}" style="max-width:100%"></p>')
        elif line.startswith("# "):
            body.append(f"<h1>{html.escape(line[2:])}</h1>")
        elif line.startswith("## "):
            body.append(f"<h2>{html.escape(line[3:])}</h2>")
        elif line.startswith("- [") and "](" in line:
            name = line[3:].split("]", 1)[0]
            body.append(f'<li><a href="{html.escape(name)}">{html.escape(name)}</a></li>')
        elif line.startswith("|"):
            body.append(f"<pre>{html.escape(line)}</pre>")
        elif line.strip():
            body.append(f"<p>{html.escape(line)}</p>")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
            "</title><style>body{font-family:sans-serif;max-width:70em;margin:2em auto}"
            "pre{margin:0}</style></head><body>" + "\n".join(body) + "</body></html>\n")
