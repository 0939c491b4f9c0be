"""`sdm dominance` and `sdm postmortem`: which loop drove the behaviour, and when."""
from __future__ import annotations

import json

import click

from sdmodels.cli.common import emit, parse_assignments


def markdown_table(frame) -> str:
    """A DataFrame as a Markdown table (no extra dependency)."""
    def cell(value) -> str:
        return (f"{value:.4g}" if isinstance(value, float) else str(value)).replace("|", "\\|")
    lines = ["| " + " | ".join(map(str, frame.columns)) + " |",
             "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |"
              for row in frame.itertuples(index=False)]
    return "\n".join(lines)


def dominance_text(model: str, *, fmt: str, scenario: str | None, variable: str | None,
                   sets: dict[str, float], top: int) -> str:
    """The dominance phases and strongest loops of one run of MODEL, as text."""
    import warnings

    from sdmodels.analysis.dominance import dominance
    from sdmodels.ir import build
    from sdmodels.sources import load_model
    from sdmodels.analysis.dominance_result import explained_variable
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ir = build(load_model(model))
        if variable is not None:        # a typo: at once, not after the run and its scores
            variable = explained_variable(ir, variable)
        d = dominance(ir, scenario=scenario, params=sets or None)
    phases = d.phases(variable)
    loops = d.summary().head(top)
    if fmt == "csv":
        return d.to_pandas().to_csv(index=False).rstrip("\n")
    if fmt == "json":
        return json.dumps({"model": d.model, "scenario": d.scenario, "variable": variable,
                           "phases": phases.to_dict("records"),
                           "loops": loops.to_dict("records"), "notices": list(d.notices)},
                          indent=2)
    if fmt == "markdown":
        return "\n".join([f"## Dominance phases of '{d.model}' ({d.scenario or 'baseline'})",
                          "", markdown_table(phases), "", "## Strongest loops", "",
                          markdown_table(loops)] + [f"> {n}" for n in d.notices])
    return "\n".join([f"dominance phases of '{d.model}' (scenario {d.scenario or 'baseline'}"
                      f"{', variable ' + variable if variable else ''}):",
                      phases.drop(columns=["polarity", "why_unknown"]).rename(
                          columns={"in_phase": "polarity"}).to_string(index=False), "",
                      "strongest loops (mean and peak |relative loop score|):",
                      loops.to_string(index=False)] + list(d.notices))


def register(main: click.Group) -> None:
    @main.command("dominance")
    @click.argument("model")
    @click.option("--scenario", default=None, help="A named scenario of the model.")
    @click.option("--variable", default=None,
                  help="Explain this variable: only loops that can move it count.")
    @click.option("--format", "fmt", type=click.Choice(["table", "csv", "json", "markdown"]),
                  default="table", show_default=True,
                  help="csv: relative loop scores over time, one row per (time, loop).")
    @click.option("--top", type=click.IntRange(min=1), default=10, show_default=True,
                  help="How many of the strongest loops to list.")
    @click.option("--set", "sets", multiple=True, metavar="NAME=VALUE",
                  help="Set a constant for the run (repeatable).")
    @click.option("-o", "--output", default=None, help="Write to this file instead of stdout.")
    def dominance_command(model, scenario, variable, fmt, top, sets, output):
        """Which loop drove MODEL's behaviour, and when (Loops That Matter)."""
        text = dominance_text(model, fmt=fmt, scenario=scenario, variable=variable,
                              sets=parse_assignments(sets), top=top)
        emit(text, output)

    @main.command("postmortem")
    @click.argument("model")
    @click.option("--scenario", default=None, help="The scenario to explain.")
    @click.option("--variable", default=None,
                  help="The variable to follow (default: the model's first key output).")
    @click.option("--observed", type=click.Path(exists=True, dir_okay=False), default=None,
                  help="CSV of observed metrics: a time column and columns named like "
                       "model variables, drawn over the simulation.")
    @click.option("--fit", "fit_names", default=None, metavar="NAME[,NAME]",
                  help="Fit these constants to the observed metrics first (least squares "
                       "over batches of runs) and tell the story with the fitted values.")
    @click.option("-o", "--output", "out_dir", required=True, metavar="DIR",
                  help="Directory for postmortem.html and its pictures.")
    def postmortem_command(model, scenario, variable, observed, fit_names, out_dir):
        """Write the loop story of one scenario of MODEL as a self-contained HTML page."""
        import warnings
        from pathlib import Path

        from sdmodels.postmortem import write_postmortem
        from sdmodels.sources import load_model
        name = model if Path(model).suffix == "" else None
        if fit_names is not None and not fit_names.replace(",", "").strip():
            raise click.BadParameter(f"'{fit_names}' names no constant; give --fit "
                                     "\"Name[,Name]\"", param_hint="--fit")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            page = write_postmortem(load_model(model), out_dir, scenario=scenario,
                                    variable=variable, observed=observed, model_name=name,
                                    fit_parameters=[n.strip() for n in (fit_names or "").split(",")
                                                    if n.strip()])
        fitted = page.parent / "fit.json"
        if fit_names and fitted.exists():
            found = json.loads(fitted.read_text())
            click.echo("fitted " + ", ".join(f"{n} = {v:.6g}" for n, v in
                                             found["parameters"].items()))
        click.echo(f"wrote {page}")
