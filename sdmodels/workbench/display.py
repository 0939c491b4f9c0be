"""Rich displays for Jupyter: HTML (and Markdown) for Model, Results, Loop and LoopSet.

The `_repr_*_` methods of those classes call these functions, so the classes stay small and
matplotlib and Graphviz are imported only when a notebook shows something. A display never
raises: a model that does not build shows its error instead of a diagram.

>>> from sdmodels import Model
>>> m = Model("decay", stop=2, dt=1)
>>> s = m.stock("Amount", initial=100, units="widgets")
>>> _ = m.flow("Outflow", s / m.constant("Lifetime", 2), out_of=s)
>>> print(model_markdown(m).splitlines()[0])
**decay**: 1 stock, 1 flow, 0 auxiliaries, 1 constant; t = 0 .. 2 time, dt 1
"""
from __future__ import annotations

import html
import io

import numpy as np

POLARITY = {"R": ("reinforcing", "#c0392b"), "B": ("balancing", "#1f5fa8"),
            "U": ("unknown", "#7f8c8d")}
MAX_TABLE_ROWS = 30
MAX_PLOTTED = 6


def _e(text) -> str:
    return html.escape(str(text))


def _table(header: list[str], rows: list[list[str]], *, raw: bool = False) -> str:
    """An HTML table; cells are escaped unless `raw`."""
    cell = (lambda c: c) if raw else _e
    head = "".join(f"<th style='text-align:left'>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td style='text-align:left'>{cell(c)}</td>" for c in r)
                   + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _counts(ir) -> str:
    from sdmodels.elements import Aux, Constant, Flow, Stock
    parts = []
    for kind, one, many in ((Stock, "stock", "stocks"), (Flow, "flow", "flows"),
                            (Aux, "auxiliary", "auxiliaries"), (Constant, "constant", "constants")):
        n = sum(1 for v in ir.of_kind(kind) if not v.internal)
        parts.append(f"{n} {one if n == 1 else many}")
    return ", ".join(parts)


def _summary(model) -> tuple[str, list[list[str]], list[str]]:
    """(headline, parameter rows, scenario names) of a model."""
    from sdmodels import build
    from sdmodels.workbench.values import parameter_specs
    ir = build(model)
    head = (f"**{ir.name}**: {_counts(ir)}; t = {ir.start:g} .. {ir.stop:g} {ir.time_units}, "
            f"dt {ir.dt:g}")
    rows = [[p.name, f"{p.default:g}", p.units, p.source] for p in parameter_specs(ir)]
    return head, rows, list(ir.scenarios)


def model_markdown(model) -> str:
    """A Markdown summary: counts, time settings, the parameter table, scenarios."""
    try:
        head, rows, scenarios = _summary(model)
    except Exception as exc:      # a display must not raise: show why the model does not build
        return f"**{getattr(model, 'name', 'model')}** does not build: {exc}"
    lines = [head, ""]
    if rows:
        lines += ["| parameter | default | units | source |", "|---|---|---|---|"]
        lines += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |"
                  for r in rows[:MAX_TABLE_ROWS]]
        if len(rows) > MAX_TABLE_ROWS:
            lines.append(f"\n... and {len(rows) - MAX_TABLE_ROWS} more parameters")
    if scenarios:
        lines += ["", "Scenarios: " + ", ".join(scenarios)]
    return "\n".join(lines)


def model_html(model) -> str:
    """The summary and the causal-loop diagram (Graphviz SVG) of a model."""
    try:
        head, rows, scenarios = _summary(model)
    except Exception as exc:
        return f"<p><b>{_e(getattr(model, 'name', 'model'))}</b> does not build: {_e(exc)}</p>"
    name, rest = head[2:].split("**", 1)
    parts = [f"<p><b>{_e(name)}</b>{_e(rest)}</p>"]
    if rows:
        parts.append(_table(["parameter", "default", "units", "source"], rows[:MAX_TABLE_ROWS]))
    if scenarios:
        parts.append(f"<p>Scenarios: {_e(', '.join(scenarios))}</p>")
    try:
        from sdmodels import to_graphviz
        parts.append(to_graphviz(model).pipe("svg").decode())
    except Exception as exc:
        parts.append(f"<p><i>no diagram: {_e(exc)}</i></p>")
    return "\n".join(parts)


def _plot_svg(results, columns: list[str]) -> str:
    from sdmodels.plotting import figure
    fig = figure(7.0, 1.6 * len(columns) + 0.4)
    axes = fig.subplots(len(columns), 1, sharex=True, squeeze=False)[:, 0]
    for ax, col in zip(axes, columns):
        series = results[col]
        for r in range(min(series.shape[0], 50)):
            ax.plot(results.times, series[r], lw=1.2, alpha=1.0 if series.shape[0] == 1 else 0.5)
        ax.set_ylabel(col, fontsize=8, rotation=0, ha="right", va="center")
        ax.tick_params(labelsize=7)
    axes[-1].set_xlabel(results.time_units, fontsize=8)
    out = io.StringIO()
    fig.savefig(out, format="svg")
    text = out.getvalue()
    return text[text.find("<svg"):]


def results_html(results) -> str:
    """A compact table (first, min, max, last of each column; finals per run for several
    runs) and a plot of the first columns."""
    cols = list(results.columns)
    head = (f"<p><b>{_e(results.model)}</b>: {results.runs} run{'s' if results.runs != 1 else ''}"
            f", {len(results.times)} saved times ({results.times[0]:g} .. "
            f"{results.times[-1]:g} {_e(results.time_units)}), {len(cols)} columns"
            + (f", <b>{len(results.failures)} failed</b>" if results.failures else "") + "</p>")
    if results.runs == 1:
        data = results.data[0]
        rows = [[c, *(f"{v:.6g}" for v in (data[0, k], np.nanmin(data[:, k]),
                                           np.nanmax(data[:, k]), data[-1, k]))]
                for k, c in enumerate(cols[:MAX_TABLE_ROWS])]
        table = _table(["variable", "first", "min", "max", "last"], rows)
    else:
        params = results.params
        shown = cols[:8]
        rows = [[str(r), *(f"{params.iloc[r][p]:.6g}" for p in params.columns),
                 *(f"{results.data[r, -1, results.columns.index(c)]:.6g}" for c in shown)]
                for r in range(min(results.runs, MAX_TABLE_ROWS))]
        table = _table(["run", *params.columns, *(f"{c} (last)" for c in shown)], rows)
    try:
        plot = _plot_svg(results, cols[:MAX_PLOTTED])
    except Exception as exc:
        plot = f"<p><i>no plot: {_e(exc)}</i></p>"
    return head + table + plot


def _badge(polarity: str) -> str:
    word, color = POLARITY.get(polarity, POLARITY["U"])
    return f"<b style='color:{color}'>{polarity}</b> {word}"


def _delays(loop) -> str:
    if not loop.delays:
        return ""
    items = "; ".join(f"{d.cause} \u2192 {d.effect}: {d.kind} {d.to_dict()['time']}"
                      for d in loop.delays)
    total = f"{loop.total_delay:g}" if loop.total_delay is not None else "variable"
    return f"{_e(total)} ({_e(items)})"


def _loop_row(loop) -> list[str]:
    return [f"<b>{_e(loop.id)}</b>", _e(loop.name or ""), _badge(loop.polarity),
            _e(" \u2192 ".join(loop.names + loop.names[:1])), _delays(loop)]


LOOP_HEADER = ["id", "name", "type", "loop", "delay"]


def loop_html(loop) -> str:
    """One loop: id, name, R/B, its variables in order, delays on its links."""
    return _table(LOOP_HEADER, [_loop_row(loop)], raw=True)


def loopset_html(loops) -> str:
    """All loops of a model as one table, with the summary and notices."""
    notes = "".join(f"<p><i>{_e(n)}</i></p>" for n in loops.notices)
    return (_table(LOOP_HEADER, [_loop_row(l) for l in loops], raw=True)
            + f"<p>{_e(loops.summary())}</p>" + notes)
