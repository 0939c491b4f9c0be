"""`sdm run` and `sdm list`."""
from __future__ import annotations

import click

from sdmodels.cli.common import parse_assignments, write_table


def run_model(model: str, *, sets: dict[str, float], scenario: str | None, method: str,
              stop: float | None, dt: float | None, output: str | None) -> str:
    """Run one model; write the series to `output` if given; return the summary text."""
    from sdmodels.elements import Stock
    from sdmodels.ir import build
    from sdmodels.simulate import simulate
    from sdmodels.sources import load_model

    ir = build(load_model(model))
    results = simulate(ir, params=sets, scenario=scenario, method=method, stop=stop, dt=dt)
    if dt is not None and dt > ir.dt:       # a longer step than the model's: can it take it?
        _warn_step(ir, dt, method)
    frame = results.to_pandas()
    if output:
        write_table(frame, output)
    stocks = [v.display for v in ir.of_kind(Stock) if not v.internal]
    finals = frame.iloc[-1]
    width = max((len(c) for c in finals.index), default=10)
    lines = [f"{ir.name}: {len(frame)} saved steps, t = {frame.index[0]:g} .. "
             f"{frame.index[-1]:g} {ir.time_units} ({method})" +
             (f", scenario '{scenario}'" if scenario else "")]
    lines += [f"  {c:<{width}}  {finals[c]:.6g}" for c in finals.index
              if c.split("[")[0] in stocks]
    if output:
        lines.append(f"wrote {output}")
    return "\n".join(lines)


def _warn_step(ir, dt: float, method: str) -> None:
    """Warn when `dt` is too long for the model's modes (linearised at its start)."""
    import warnings
    from sdmodels.analysis.stability import step_warning
    from sdmodels.errors import ModelWarning
    note = step_warning(ir, dt, method)
    if note:
        warnings.warn(note, ModelWarning, stacklevel=2)


def list_models() -> str:
    """One line per library model."""
    from sdmodels.sources import library_models
    models = library_models()
    if not models:
        return "(the library is empty)"
    width = max(len(n) for n in models)
    return "\n".join(f"{name:<{width}}  {line}" for name, line in models.items())


def register(main: click.Group) -> None:
    @main.command("run")
    @click.argument("model")
    @click.option("--set", "sets", multiple=True, metavar="NAME=VALUE",
                  help="Set a constant for this run (repeatable).")
    @click.option("--scenario", default=None, help="A named scenario of the model.")
    @click.option("--method", type=click.Choice(["euler", "rk4"]), default="euler",
                  show_default=True)
    @click.option("--stop", type=float, default=None, help="Override the stop time.")
    @click.option("--dt", type=float, default=None, help="Override the time step.")
    @click.option("-o", "--output", default=None, metavar="FILE.csv|FILE.parquet",
                  help="Write the full time series here.")
    def run_command(model, sets, scenario, method, stop, dt, output):
        """Run MODEL (a library name, a .py file with build(), or a model file)."""
        click.echo(run_model(model, sets=parse_assignments(sets), scenario=scenario,
                             method=method, stop=stop, dt=dt, output=output))

    @main.command("list")
    def list_command():
        """List the library's models."""
        click.echo(list_models())
