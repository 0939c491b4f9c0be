"""`sdm sweep-report DIR`: label counts, a metric summary and plots, as Markdown and HTML.

>>> import tempfile
>>> from sdmodels.sweep import SweepSpec, parse_vary
>>> from sdmodels.sweep.runner import run_sweep
>>> d = tempfile.mkdtemp()
>>> _ = run_sweep(SweepSpec(model="teacup", factors=parse_vary(
...     ["Room Temperature=60:80:10", "Characteristic Time=5,10"])), d, progress=False)
>>> [p.name for p in write_report(d)]
['report.md', 'report.html']
"""
from __future__ import annotations

import html
from pathlib import Path

import pandas as pd

from sdmodels.cli.common import atomic_path
from sdmodels.sweep import plots, store
from sdmodels.sweep.design import SweepError, spec_from_json


def _md_table(frame: pd.DataFrame) -> str:
    head = "| " + " | ".join(str(c) for c in frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    rows = ["| " + " | ".join(f"{v:.4g}" if isinstance(v, float) else str(v) for v in row) + " |"
            for row in frame.itertuples(index=False)]
    return "\n".join([head, rule, *rows])


def write_report(directory, *, metric: str | None = None) -> list[Path]:
    """Write DIR/report.md and DIR/report.html with images in DIR/report/; return the two."""
    root = Path(directory)
    results = root / "results.parquet"
    manifest_path = root / "sweep.json"
    missing = [p.name for p in (results, manifest_path) if not p.is_file()]
    if missing:
        raise SweepError(f"'{root}' holds no finished sweep (no {' and no '.join(missing)}); "
                         f"run sdm sweep ... -o {root} first")
    manifest = store.read_manifest(root)
    spec = spec_from_json(manifest["spec"])
    try:
        table = pd.read_parquet(results)
    except (OSError, ValueError) as exc:     # pyarrow's ArrowInvalid is a ValueError
        raise SweepError(f"'{results}' cannot be read ({' '.join(str(exc).split())}); delete "
                         "it and run the same sdm sweep command again: it is rebuilt from "
                         "the finished chunks") from None
    varied = [f.name for f in spec.factors if table[f.name].nunique() > 1]
    metrics = list(manifest["metrics"])
    if metric is not None and metric not in table.columns:
        from sdmodels.errors import did_you_mean
        raise SweepError(f"no metric column '{metric}' in {results}."
                         f"{did_you_mean(metric, metrics)} Columns: {', '.join(metrics)}")
    chosen = metric or (metrics[0] if metrics else None)
    label_cols = [c for c in table.columns if c.endswith(".label")]
    images = root / "report"
    images.mkdir(exist_ok=True)
    figures: list[tuple[str, Path]] = []
    if chosen:
        for p in varied[:3]:
            figures.append((f"{chosen} over {p}",
                            plots.metric_line(table, p, chosen, images / f"line-{_slug(p)}")[0]))
    if len(varied) >= 2:
        x, y = varied[0], varied[1]
        for col in label_cols[:1]:
            figures.append((f"Phase diagram: {col} over {x} and {y}",
                            plots.heatmap(table, x, y, col, images / "phase")[0]))
        if chosen:
            figures.append((f"{chosen} over {x} and {y}",
                            plots.heatmap(table, x, y, chosen, images / "heatmap")[0]))
    sample_path = root / "sample_series.parquet"
    if sample_path.exists() and label_cols:
        sample = pd.read_parquet(sample_path)
        for col in label_cols:
            out = col[: -len(".label")]
            if out in sample.columns:
                figures.append((f"{out}: sampled runs coloured by label",
                                plots.fan(sample, table, out, images / f"fan-{_slug(out)}")[0]))
    counts = {col[: -len(".label")]: table[col].value_counts() for col in label_cols}
    summary = table[metrics].describe().T[["mean", "min", "max"]].reset_index(
        names="metric") if metrics else pd.DataFrame()
    lines = [f"# Sweep of model '{manifest.get('model')}'", "",
             f"{len(table)} runs; varied: {', '.join(varied) or 'nothing'}"
             + (f"; scenario '{spec.scenario}'" if spec.scenario else "")
             + (f"; trigger {spec.trigger[0]:g}..{spec.trigger[1]:g}" if spec.trigger else ""),
             "", "## Behaviour labels", ""]
    for out, c in counts.items():
        lines += [f"**{out}**: " + ", ".join(f"{k} {v}" for k, v in c.items() if v), ""]
    failed = table[table["failure"].notna()] if "failure" in table else table.iloc[:0]
    if len(failed):    # runs whose values turned NaN/inf: listed, left out of the metrics
        listed = failed[["run", *varied, "failure"]].head(20)
        lines += ["## Failed runs", "", f"{len(failed)} runs stopped on a NaN or infinite "
                  "value; their metrics are NaN and their label 'failed'"
                  + (" (the first 20):" if len(failed) > 20 else ":"), "",
                  _md_table(listed), ""]
    if len(summary):
        lines += ["## Metrics", "", _md_table(summary), ""]
    lines += ["## Plots", ""]
    lines += [f"![{title}](report/{path.name})\n" for title, path in figures]
    md_path, html_path = root / "report.md", root / "report.html"
    with atomic_path(md_path) as tmp:
        tmp.write_text("\n".join(lines))
    body = [f"<h1>Sweep of model '{html.escape(str(manifest.get('model')))}'</h1>",
            f"<p>{html.escape(lines[2])}</p>", "<h2>Behaviour labels</h2>"]
    body += [f"<p><b>{html.escape(o)}</b>: " + html.escape(", ".join(
        f"{k} {v}" for k, v in c.items() if v)) + "</p>" for o, c in counts.items()]
    if len(failed):
        body += ["<h2>Failed runs</h2>", f"<p>{len(failed)} runs stopped on a NaN or infinite "
                 "value; their metrics are NaN and their label 'failed'.</p>",
                 listed.to_html(index=False)]
    if len(summary):
        body += ["<h2>Metrics</h2>", summary.to_html(index=False, float_format="{:.4g}".format)]
    body += ["<h2>Plots</h2>"] + [f"<figure><img src='report/{p.name}' alt='{html.escape(t)}'>"
                                  f"<figcaption>{html.escape(t)}</figcaption></figure>"
                                  for t, p in figures]
    with atomic_path(html_path) as tmp:
        tmp.write_text("<!doctype html><meta charset='utf-8'><title>sweep report</title>"
                       + "\n".join(body))
    return [md_path, html_path]


def _slug(name: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in name.lower()).strip("-")
