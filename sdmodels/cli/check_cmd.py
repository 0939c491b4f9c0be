"""`sdm check MODEL`: every equation whose units do not balance (exit 1 when any)."""
from __future__ import annotations

import json
import sys

import click


def check_text(model: str, *, as_json: bool) -> tuple[str, bool]:
    """The units report of MODEL as text or JSON, and whether it is clean."""
    from sdmodels.units import check_units
    from sdmodels.sources import load_model
    report = check_units(load_model(model))
    if as_json:
        return json.dumps(report.to_dict(), indent=2), report.clean
    lines = [str(p) for p in report.problems]
    if report.unparsed:
        lines.append("unreadable units (not checked): " + "; ".join(report.unparsed))
    lines.append(report.summary())
    return "\n".join(lines), report.clean


def register(main: click.Group) -> None:
    @main.command("check")
    @click.argument("model")
    @click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
    def check_command(model, as_json):
        """Check the units of every equation of MODEL (a library name, .py, .mdl, .xmile or
        system .yaml): one line per problem, then a summary; exit 1 when any."""
        text, clean = check_text(model, as_json=as_json)
        click.echo(text)
        if not clean:
            sys.exit(1)
