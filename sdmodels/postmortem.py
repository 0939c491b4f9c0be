"""The postmortem loop story: which loop drove the incident, and when, as one HTML page.

`write_postmortem(model, out_dir, scenario=...)` scores the loops of one scenario (Loops
That Matter, `sdmodels.analysis.dominance`), finds the dominance phases of a chosen
variable, and writes:

- timeline.svg/.png: the variable on top (the `fixed` scenario dashed when the model has
  one, observed metrics as dots), the relative scores of the strongest loops below on the
  same time axis, each phase shaded and its dominant loop named;
- phase_<k>.svg/.png: the causal loop diagram of each phase, its dominant loops
  highlighted among the strongest others;
- loop_<id>.svg/.png: each dominant loop alone, in loop order around a circle, and
  loop_<id>_behaviour.svg/.png: the behaviour of its variables;
- postmortem.html: the whole story on one self-contained page (pictures inlined as data
  URIs, no scripts, no network), and phases.csv, scores.csv.

Files appear only when complete (written atomically).
"""
from __future__ import annotations

import base64
import html
import importlib
import json
from pathlib import Path

import pandas as pd

from sdmodels.analysis.dominance import dominance
from sdmodels.analysis.dominance_result import Dominance, explained_variable, runs_as
from sdmodels.analysis.loops import LoopSet
from sdmodels.analysis.phases import takeover_order
from sdmodels.elements import Stock, canonical
from sdmodels.errors import ModelError, did_you_mean
from sdmodels.files import atomic_path
from sdmodels.ir import ModelIR, build
from sdmodels.plotting import figure, save_figure
from sdmodels.postmortem_loops import (acted, never_drove, never_led, quiet_phase,
                                      takeover_table)

PHASE_COLORS = ("#fdebd0", "#d6eaf8", "#d5f5e3", "#f5eef8", "#fcf3cf", "#e8daef")
LINE_COLORS = ("#c0392b", "#1f5fa8", "#1e8449", "#8e44ad", "#d35400", "#117a65", "#7d6608")
TOP_LOOPS = 6


def clock(model_name: str | None):
    """A function time -> text: 'HH:MM' when the library model declares CLOCK_START (and
    counts seconds), else the number itself."""
    start = None
    if model_name:
        try:
            start = getattr(importlib.import_module(f"library.{model_name}"), "CLOCK_START", None)
        except ImportError:
            start = None
    if not start:
        return lambda t: f"{t:g}"
    h, m = (int(x) for x in start.split(":"))

    def fmt(t: float) -> str:
        total = h * 3600 + m * 60 + int(round(t))
        return f"{total // 3600 % 24:02d}:{total // 60 % 60:02d}"
    return fmt


def default_variable(model_name: str | None, ir: ModelIR) -> str:
    """The variable a postmortem follows: the library model's first key output that loops
    can move (something on or after a loop, not an input), else the first such stock."""
    import networkx as nx

    from sdmodels.analysis.graph import causal_graph
    from sdmodels.report import key_outputs
    graph = causal_graph(ir)
    on_loops = {v for c in nx.strongly_connected_components(graph) if len(c) > 1 for v in c}
    moved = on_loops | {d for v in on_loops for d in nx.descendants(graph, v)}
    keys = key_outputs(model_name, ir) if model_name else []
    stocks = [v.display for v in ir.of_kind(Stock) if not v.internal]
    for key in keys + stocks:
        if canonical(key) in moved:
            return ir.display(canonical(key))
    if not stocks:
        raise ModelError(f"model '{ir.name}' has no stock to follow; give --variable")
    return stocks[0]


def read_observed(path, ir: ModelIR) -> pd.DataFrame:
    """Observed metrics: a CSV with a time column and columns named like model variables."""
    try:
        frame = pd.read_csv(path)
    except (ValueError, OSError) as exc:         # pandas' ParserError is a ValueError
        why = " ".join(str(exc).split())
        raise ModelError(f"'{path}' is not a readable CSV of observed metrics ({why}); give "
                         "a 'time' column and columns named like model variables") from None
    time = next((c for c in frame.columns if c.strip().lower() in ("time", "t", "timestamp")),
                None)
    if time is None:
        raise ModelError(f"'{path}': observed metrics need a 'time' column (model time, "
                         f"{ir.time_units}) and columns named like model variables")
    frame = frame.set_index(time)
    known = {c: ir.display(canonical(c)) for c in frame.columns if canonical(c) in ir.variables}
    if not known:
        raise ModelError(f"'{path}': no column is named like a variable of model "
                         f"'{ir.name}' (columns: {', '.join(map(str, frame.columns))})")
    shown = [v.display for v in ir.variables.values() if not v.internal]
    for column in frame.columns:
        if column not in known:      # a typo would otherwise vanish from the page
            raise ModelError(f"'{path}': column '{column}' names no variable of model "
                             f"'{ir.name}'; rename it or leave it out."
                             f"{did_you_mean(str(column), shown)}")
    frame = frame[list(known)].rename(columns=known)
    for column, values in [(time, frame.index.to_series()), *frame.items()]:
        bad = pd.to_numeric(values, errors="coerce").isna() & values.notna()
        if bad.any():
            row = int(bad.to_numpy().argmax())
            raise ModelError(f"'{path}', column '{column}', data row {row + 1}: "
                             f"{values.iloc[row]!r} is not a number; observed metrics are "
                             "numbers (leave a cell empty where nothing was measured)")
    inside = (frame.index >= ir.start) & (frame.index <= ir.stop)
    if not inside.any():
        raise ModelError(f"'{path}': every observed time ({frame.index.min():g} to "
                         f"{frame.index.max():g}) lies outside the run of model '{ir.name}' "
                         f"({ir.start:g} to {ir.stop:g} {ir.time_units}); give times in model "
                         "time, counted from its start")
    return frame


def _describe(d: Dominance, loop_id: str, in_phase: str | None = None) -> str:
    """'R1 Retry storm (reinforcing): a -> b -> a'; in a phase, its polarity there first
    ('U3 Slow queries, R in this phase (structurally U: links ...): ...')."""
    loop = next(l for l in d.loops if l.id == loop_id)
    ran = runs_as(d.relative[loop_id])
    kind = {"R": "reinforcing", "B": "balancing"}.get(loop.polarity) or (
        f"ran as {ran}, structurally U" if ran else "structurally U, it never scored")
    arrow = " \u2192 "
    head = f"{d.label(loop_id)} ({kind})" if in_phase is None else \
        f"{d.label(loop_id)}, " + in_phase.replace(" -> ", arrow)
    text = f"{head}: " + arrow.join(loop.names + loop.names[:1])
    if not loop.name and d.ir is not None:      # an unnamed variant: which named paths it takes
        paths = [n.name for n in d.ir.loop_names if set(n.variables) <= set(loop.variables)]
        if paths:
            text += f" (it runs along the named loop{'s' if len(paths) > 1 else ''} " + \
                ", ".join(f"'{p}'" for p in paths) + ")"
    return text


def _strongest(phases: pd.DataFrame, shares: pd.DataFrame) -> list[str]:
    """The loops drawn in the timeline: the phases' dominant loops, then the loops with
    the largest mean share."""
    ids = [x for ph in phases["loops"] for x in ph.split(" + ") if x != "-"]
    ids += list(shares.abs().mean().sort_values(ascending=False, kind="stable").index)
    out = []
    for x in ids:
        if x not in out and len(out) < TOP_LOOPS:
            out.append(x)
    return out


def plot_timeline(d: Dominance, phases: pd.DataFrame, variable: str, stem: Path, *,
                  fixed: pd.Series | None = None, observed: pd.DataFrame | None = None,
                  fmt=str, time_units: str = "time") -> list[Path]:
    """Behaviour on top, below each strong loop's signed share of the change of the
    variable (what the phases are decided on), phases shaded and named."""
    from sdmodels.analysis.phases import variable_shares
    shares = variable_shares(d, variable)
    fig = figure(11, 6.6)
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[1, 1.25])
    series = d.variables[variable]
    top.plot(series.index, series, color="#111111", linewidth=1.8,
             label=f"{variable} ({d.scenario or 'baseline'})")
    if fixed is not None:
        top.plot(fixed.index, fixed, color="#1e8449", linewidth=1.5, linestyle="--",
                 label=f"{variable} (fixed)")
    if observed is not None and variable in observed:
        top.plot(observed.index, observed[variable], "o", markersize=3, color="#d35400",
                 label=f"{variable} (observed)")
    top.set_ylabel(variable)
    top.legend(fontsize=8, loc="upper left")
    for k, loop_id in enumerate(_strongest(phases, shares)):
        bottom.plot(shares.index, shares[loop_id], linewidth=1.4,
                    color=LINE_COLORS[k % len(LINE_COLORS)], label=d.label(loop_id)[:48])
    bottom.axhline(0, color="#7f8c8d", linewidth=0.6)
    bottom.set_ylim(-1.05, 1.05)
    bottom.set_ylabel(f"share of the change\nof {variable[:28]}")
    bottom.legend(fontsize=7, loc="lower left", ncol=2)
    for k, ph in phases.iterrows():
        for ax in (top, bottom):
            ax.axvspan(ph["start"], ph["end"], color=PHASE_COLORS[k % len(PHASE_COLORS)],
                       alpha=0.7, linewidth=0)
        if ph["loops"] != "-":
            bottom.text((ph["start"] + ph["end"]) / 2, 0.98, f"{k + 1}: {ph['loops']}",
                        ha="center", va="top", fontsize=8, rotation=90 if
                        ph["end"] - ph["start"] < 0.08 * (d.relative.index[-1] or 1) else 0)
    ticks = bottom.get_xticks()
    bottom.set_xticks(ticks)
    bottom.set_xticklabels([fmt(t) for t in ticks])
    bottom.set_xlim(d.relative.index[0], d.relative.index[-1])
    bottom.set_xlabel(time_units if fmt is str else "time")
    fig.suptitle(f"{d.model}, scenario '{d.scenario or 'baseline'}': which loop drove "
                 f"{variable}", fontsize=12)
    return save_figure(fig, stem, dpi=110)


def plot_loop_behaviour(d: Dominance, loop_id: str, stem: Path, *, fmt=str,
                        fixed: pd.DataFrame | None = None,
                        observed: pd.DataFrame | None = None) -> list[Path]:
    """Small multiples: every variable of one loop over the run."""
    loop = next(l for l in d.loops if l.id == loop_id)
    names = [n for n in loop.names if n in d.variables]
    ncols = 3 if len(names) > 4 else max(1, len(names))
    nrows = -(-len(names) // ncols)
    fig = figure(3.4 * ncols, 1.9 * nrows + 0.5)
    axes = fig.subplots(nrows, ncols, squeeze=False, sharex=True)
    for ax, name in zip(axes.flat, names):
        ax.plot(d.variables.index, d.variables[name], color="#111111", linewidth=1.3)
        if fixed is not None and name in fixed:
            ax.plot(fixed.index, fixed[name], color="#1e8449", linewidth=1.1, linestyle="--")
        if observed is not None and name in observed:
            ax.plot(observed.index, observed[name], "o", markersize=2, color="#d35400")
        ax.set_title(name, fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(names):]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ticks = ax.get_xticks()
        ax.set_xticks(ticks)
        ax.set_xticklabels([fmt(t) for t in ticks], fontsize=7)
        ax.set_xlim(d.variables.index[0], d.variables.index[-1])
    fig.suptitle(f"{d.label(loop_id)}: its variables" +
                 (" (dashed: fixed)" if fixed is not None else ""), fontsize=10)
    return save_figure(fig, stem, dpi=100)


CONTEXT_LOOPS = 3


def phase_context(d: Dominance, phases: pd.DataFrame, k: int, variable: str) -> list[str]:
    """The loops drawn greyed around phase `k`'s dominant ones: the strongest others among
    the loops that move `variable`, by mean |relative score| over the phase."""
    from sdmodels.analysis.phases import relevant_loops
    ph = phases.iloc[k]
    ids = set(ph["loops"].split(" + "))
    cols = [d.loops[j].id for j in relevant_loops(d, variable, d.ir)]
    mean = d.relative.loc[ph["start"]:ph["end"], cols].abs().mean()
    ranked = mean[mean > 0].sort_values(ascending=False, kind="stable")
    return [x for x in ranked.index if x not in ids][:CONTEXT_LOOPS]


def draw_phases(d: Dominance, ir: ModelIR, phases: pd.DataFrame, variable: str, out: Path,
                fmt) -> list[int]:
    """phase_<k>.svg/.png: the causal loop diagram of each phase, its dominant loops in
    colour among the strongest others (greyed); constants left out. Returns the k drawn."""
    from sdmodels.analysis.polarity import link_polarities
    from sdmodels.render import to_graphviz
    loop_set = LoopSet(ir.name, d.loops)
    polarities = link_polarities(ir, behaviour=False)
    drawn = []
    for k, ph in phases.iterrows():
        if ph["loops"] == "-":
            continue
        led = " + ".join(f"{name} ({sign})" for name, sign in
                         zip(ph["names"].split(" + "), ph["polarity"].split()))  # runtime
        title = f"Phase {k + 1}, {fmt(ph['start'])} \u2013 {fmt(ph['end'])}: {led}"
        diagram = to_graphviz(ir, loops=ph["loops"].split(" + "), only_loops=True,
                              loop_set=loop_set, polarities=polarities, title=title,
                              context=phase_context(d, phases, k, variable))
        for suffix in ("svg", "png"):
            diagram.save(out / f"phase_{k + 1}.{suffix}")
        drawn.append(k + 1)
    return drawn


def _data_uri(path: Path) -> str:
    kind = "image/svg+xml" if path.suffix == ".svg" else "image/png"
    return f"data:{kind};base64,{base64.b64encode(path.read_bytes()).decode()}"


def write_postmortem(model, out_dir, *, scenario: str | None = None,
                     variable: str | None = None, observed=None,
                     model_name: str | None = None, threshold: float = 0.5,
                     min_fraction: float = 0.01, fit_parameters=(), params=None) -> Path:
    """Write the postmortem page and its pieces into `out_dir`; return the page's path.

    `params` sets constants ({name: value}) for the story's runs, on top of the scenario's
    (the workbench's sliders); `observed` is a CSV path (see `read_observed`); `fit_parameters` names constants to
    fit to it first (`sdmodels.analysis.fitting.fit`; the story is then told with the fitted
    values, and fit.json says what they are); `model_name` a library name, for its key
    outputs and clock. Example: ``write_postmortem(black_friday.build(), "pm",
    scenario="trigger", model_name="black_friday")``.
    """
    from sdmodels.files import can_make_dir, writable_dir
    from sdmodels.render import loop_diagram
    can_make_dir(out_dir)               # before the runs, not after
    ir = build(model)
    variable = explained_variable(ir, variable) if variable else \
        default_variable(model_name, ir)
    seen = read_observed(observed, ir) if observed is not None else None
    fitted, params = None, dict(params or {})
    if fit_parameters:
        if seen is None:
            raise ModelError("fitting parameters needs observed metrics; give --observed "
                             "with a CSV of them")
        from sdmodels.analysis.fitting import fit
        fitted = fit(ir, seen, list(fit_parameters), scenario=scenario)
        params = {**params, **fitted.parameters}
    # checks the scenario before anything is written
    d = dominance(ir, scenario=scenario, params=params or None)
    out = writable_dir(out_dir)
    phases = d.phases(variable, threshold=threshold, min_fraction=min_fraction)
    fixed = fixed_phases = fixed_run = None
    if "fixed" in ir.scenarios and scenario != "fixed":
        fix = {canonical(k) for k, _ in ir.scenarios["fixed"].params}
        fixed_run = dominance(ir, scenario="fixed", loops=LoopSet(ir.name, d.loops),
                              params={k: v for k, v in params.items()
                                      if canonical(k) not in fix} or None)
        fixed = fixed_run.variables
        fixed_phases = fixed_run.phases(variable, threshold=threshold, min_fraction=min_fraction)
    fmt = clock(model_name)
    plot_timeline(d, phases, variable, out / "timeline",
                  fixed=None if fixed is None else fixed[variable], observed=seen,
                  fmt=fmt, time_units=ir.time_units)
    dominant = []
    for ph in phases["loops"]:
        dominant += [x for x in ph.split(" + ") if x != "-" and x not in dominant]
    # the named loops that acted without leading are drawn too: the reader meets them in
    # the take-over table and should see them as well as the ones that led
    dominant += [l.id for l, *_ in acted(d, variable, takeover_order(d, variable))
                 if l.id not in dominant]
    for loop_id in dominant:
        loop = next(l for l in d.loops if l.id == loop_id)
        sign = phases.loc[phases["loops"].str.split(" + ", regex=False).apply(
            lambda ids, i=loop_id: i in ids), "polarity"]
        ran = sorted(set(" ".join(sign).split())) or [
            x for x in runs_as(d.scores[loop_id]).split("/") if x]
        note = "" if loop.polarity != "U" else "ran as " + "/".join(ran)
        # a U loop that ran with one sign is drawn in that sign's colour
        color = {"R": "#c0392b", "B": "#1f5fa8"}.get(ran[0]) if len(ran) == 1 else None
        diagram = loop_diagram(ir, loop, note=note, color=color)
        for suffix in ("svg", "png"):
            diagram.save(out / f"loop_{loop_id}.{suffix}")
        plot_loop_behaviour(d, loop_id, out / f"loop_{loop_id}_behaviour",
                                                fmt=fmt, fixed=fixed, observed=seen)
    drawn = draw_phases(d, ir, phases, variable, out, fmt)
    with atomic_path(out / "phases.csv") as tmp:
        phases.to_csv(tmp, index=False)
    with atomic_path(out / "scores.csv") as tmp:
        d.to_pandas().to_csv(tmp, index=False)
    if fitted is not None:
        with atomic_path(out / "fit.json") as tmp:
            tmp.write_text(json.dumps(fitted.to_dict(), indent=2), encoding="utf-8")
    page = _page(d, ir, phases, variable, dominant, out, fmt, (fixed_run, fixed_phases), seen,
                 drawn, fitted)
    target = out / "postmortem.html"
    with atomic_path(target) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return target


def _page(d: Dominance, ir: ModelIR, phases: pd.DataFrame, variable: str, dominant: list,
          out: Path, fmt, fixed, seen, drawn: list[int], fitted=None) -> str:
    e = html.escape
    scenario = d.scenario or "baseline"
    doc = ir.scenarios[d.scenario].doc if d.scenario in ir.scenarios else ""
    parts = [f"<h1>{e(ir.name)}: which loop drove it, and when</h1>",
             f"<p class=lead>Scenario <b>{e(scenario)}</b>{': ' + e(doc) if doc else ''}. "
             f"Following <b>{e(variable)}</b>. Loop scores by the Loops That Matter method "
             "(Schoenberg, Davidsen &amp; Eberlein 2020; corrected 2023). Below the "
             f"behaviour, each loop's share of the change of {e(variable)} among the loops "
             "through it, between -1 and 1: positive is reinforcing, negative balancing.</p>",
             f"<img class=wide alt='timeline' src='{_data_uri(out / 'timeline.svg')}'>",
             "<h2>The phases</h2><ol>"]
    for k, ph in phases.iterrows():
        span = f"{fmt(ph['start'])} \u2013 {fmt(ph['end'])}"
        if ph["loops"] == "-":
            parts.append(f"<li><b>{span}</b>: "
                         f"{quiet_phase(d, variable, ph['start'], ph['end'], fmt)}.</li>")
            continue
        ids = ph["loops"].split(" + ")
        said = "; ".join(e(_describe(d, x, how))
                         for x, how in zip(ids, ph["in_phase"].split("; ")))
        parts.append(f"<li><b>{span}</b>: {said}. It explains {ph['share']:.0%} of the "
                     "change.</li>")
    parts.append("</ol>")
    if drawn:
        parts.append("<h2>The loops of each phase</h2><p>Each phase's dominant loops in "
                     "colour, the strongest other loops that move "
                     f"{e(variable)} in grey:</p>")
        parts += [f"<img class=phase alt='phase {k}' "
                  f"src='{_data_uri(out / f'phase_{k}.svg')}'>" for k in drawn]
    order = takeover_order(d, variable)
    parts.append(takeover_table(d, variable, order, fmt, ir.time_units))
    parts.append(never_led(d, variable, order, fmt))
    parts.append(never_drove(d, fmt))
    for loop_id in dominant:
        long = next(l for l in d.loops if l.id == loop_id).length > 10
        parts += [f"<h2>{e(d.label(loop_id))}</h2>",
                  f"<p>{e(_describe(d, loop_id))}</p>",
                  f"<div class={'stack' if long else 'pair'}><img alt='loop {e(loop_id)}' "
                  f"src='{_data_uri(out / f'loop_{loop_id}.svg')}'>"
                  f"<img alt='behaviour of {e(loop_id)}' "
                  f"src='{_data_uri(out / f'loop_{loop_id}_behaviour.svg')}'></div>"]
    if fixed[0] is not None:
        parts.append(_fixed_section(ir, d, variable, *fixed, fmt))
    if seen is not None:
        parts.append(f"<p>Observed metrics drawn as dots: {e(', '.join(seen.columns))}.</p>")
    if fitted is not None:
        values = ", ".join(f"<b>{e(n)}</b> = {v:.4g} (model: {fitted.start[n]:.4g})"
                           for n, v in fitted.parameters.items())
        parts.append(f"<p>Fitted to the observed metrics by least squares over {fitted.runs} "
                     f"runs: {values}; the root mean square of the residuals, each series "
                     f"over its spread, went from {fitted.start_rmse:.3g} to "
                     f"{fitted.rmse:.3g}. The story above is told with these values."
                     + "".join(f" {e(n)}." for n in fitted.notes) + "</p>")
    parts.append("<p class=small>Files: timeline.svg/.png, phase_*.svg/.png, loop_*.svg/.png, "
                 "phases.csv, scores.csv (relative loop scores over time). Generated by "
                 "sdmodels (sdm postmortem).</p>")
    style = ("body{font-family:Helvetica,Arial,sans-serif;max-width:1150px;margin:2em auto;"
             "color:#1b2631;line-height:1.45}img.wide{width:100%}img.phase{display:block;"
             "max-width:100%;max-height:640px;margin:1em auto}div.pair{display:flex;"
             "gap:1em;align-items:flex-start}div.pair img{max-width:50%}"
             "div.stack img{width:100%}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:3px 8px}.lead{font-size:1.05em}"
             ".small{color:#7f8c8d;font-size:.85em}")
    return ("<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
            f"<title>{e(ir.name)} postmortem: {e(scenario)}</title><style>{style}</style>"
            "</head><body>" + "\n".join(parts) + "</body></html>\n")


def _fixed_section(ir: ModelIR, d: Dominance, variable: str, fixed: Dominance,
                   phases: pd.DataFrame, fmt) -> str:
    e = html.escape
    doc = ir.scenarios["fixed"].doc
    ours = d.variables[variable]
    theirs = fixed.variables[variable]
    items = "".join(f"<li><b>{fmt(p['start'])} \u2013 {fmt(p['end'])}</b>: "
                    + (e(p["names"]) + f" ({e(p['polarity'])}, {p['share']:.0%})"
                       if p["loops"] != "-" else
                       quiet_phase(fixed, variable, p["start"], p["end"], fmt)) + "</li>"
                    for _, p in phases.iterrows())
    return (f"<h2>With the fixes</h2><p>The model's <b>fixed</b> scenario"
            f"{': ' + e(doc) if doc else ''}. {e(variable)} at the end: "
            f"{ours.iloc[-1]:.4g} in '{e(d.scenario or 'baseline')}', {theirs.iloc[-1]:.4g} "
            f"with the fixes (mean {ours.mean():.4g} against {theirs.mean():.4g}); the "
            "dashed green lines above. The loops that drove it with the fixes on:</p>"
            f"<ol>{items}</ol>")
