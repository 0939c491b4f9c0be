"""`sdm export MODEL -o FILE.xmile`: write a model as XMILE for Stella-compatible tools."""
from __future__ import annotations

import click

from sdmodels.cli.common import atomic_path


def export_model(model: str, output: str) -> str:
    """Export MODEL (library name, .py, or a model file) to XMILE at `output`, atomically."""
    from sdmodels.interop import to_xmile
    from sdmodels.sources import load_model
    loaded = load_model(model)
    text = to_xmile(loaded)          # raises before anything is written
    with atomic_path(output) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return f"wrote {output} ({len(loaded.elements)} elements)"


def register(main: click.Group) -> None:
    @main.command("export")
    @click.argument("model")
    @click.option("-o", "--output", required=True, metavar="FILE.xmile",
                  help="Where to write the XMILE document.")
    def export_command(model, output):
        """Export MODEL as XMILE (stocks, flows, graphical functions, delays, arrays)."""
        if not output.lower().endswith((".xmile", ".xml", ".stmx")):
            raise click.BadParameter(f"'{output}': give a .xmile (or .xml/.stmx) file name",
                                     param_hint="-o")
        click.echo(export_model(model, output))
