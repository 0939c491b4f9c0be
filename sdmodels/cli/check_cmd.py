"""`sdm check`: the equations of a model whose units do not balance."""
from __future__ import annotations

import sys

import click


def check_text(model: str) -> tuple[str, int]:
    """A report of MODEL's unit imbalances (one line each) and how many there are."""
    from sdmodels.ir import build
    from sdmodels.sources import load_model
    from sdmodels.units import check_units
    ir = build(load_model(model))
    issues = check_units(ir)
    lines = [str(i) for i in issues]
    lines.append(f"{ir.name}: {len(issues)} unit imbalance{'s' if len(issues) != 1 else ''}"
                 if issues else f"{ir.name}: units balance in every equation")
    return "\n".join(lines), len(issues)


def register(main: click.Group) -> None:
    @main.command("check")
    @click.argument("model")
    def check_command(model):
        """Check the units of every equation of MODEL (exit 1 when some do not balance)."""
        text, count = check_text(model)
        click.echo(text)
        if count:
            sys.exit(1)
