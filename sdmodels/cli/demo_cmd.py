"""`sdm demo`: the main job — a model's scenarios side by side, with plots and a report."""
from __future__ import annotations

import click

DEFAULT_MODEL = "black_friday"


def default_model() -> str:
    """black_friday when the library has it, else the smallest example."""
    from sdmodels.sources import library_models
    return DEFAULT_MODEL if DEFAULT_MODEL in library_models() else "teacup"


def register(main: click.Group) -> None:
    @main.command("demo")
    @click.argument("model", required=False)
    @click.option("-o", "--out", "out_dir", default="out/demo", show_default=True,
                  help="Folder for the series, plots and report.")
    @click.option("--scenario", "scenarios", multiple=True,
                  help="Scenarios to compare (default: all of the model's).")
    @click.option("--method", type=click.Choice(["euler", "rk4"]), default="euler",
                  show_default=True)
    def demo_command(model, out_dir, scenarios, method):
        """Run MODEL's scenarios (default: black_friday) and write a report folder."""
        from sdmodels.report import write_report
        name = model or default_model()
        files = write_report(name, out_dir, scenarios=scenarios or None, method=method)
        click.echo(f"{name}: wrote {len(files)} files to {out_dir}/")
        for f in files:
            click.echo(f"  {f}")
        click.echo(f"open {out_dir}/report.html")
