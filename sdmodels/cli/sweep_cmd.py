"""`sdm sweep` and `sdm sweep-report`."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import click

from sdmodels.cli.common import parse_assignments

SWEEP_SUFFIXES = (".toml", ".yaml", ".yml")


def is_sweep_file(target: str) -> bool:
    """Whether TARGET is a sweep file rather than a model: a .toml/.yaml that is not a system
    description (whose top level has `system:` or `components:` and no `model`)."""
    import re
    if not target.lower().endswith(SWEEP_SUFFIXES):
        return False
    try:
        text = Path(target).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return True                 # load_sweep says what is wrong with it
    keys = set(re.findall(r"^([A-Za-z_]+)\s*[:=]", text, flags=re.M))
    return "model" in keys or not keys & {"system", "components"}


def build_spec(target: str | None, *, vary, sets, scenario, outputs, metrics, samples, sampler,
               seed, replications, trigger, series, series_format, chunk_size, stop, dt):
    """A SweepSpec from a sweep file and/or flags (flags add to or override the file)."""
    from sdmodels.sweep.design import SweepError, SweepSpec, load_sweep, parse_vary
    if target is None:
        return None
    spec = load_sweep(target) if is_sweep_file(target) else SweepSpec(target)
    flagged = parse_vary(vary)
    names = {f.name for f in flagged}
    changes = {"factors": tuple(f for f in spec.factors if f.name not in names) + flagged,
               "set": {**spec.set, **parse_assignments(sets)}}
    if trigger:
        start, _, end = trigger.partition(":")
        try:
            changes["trigger"] = (float(start), float(end or start))
        except ValueError:
            raise SweepError(f"--trigger '{trigger}' is not START:END (for example 10:40)") \
                from None
    for key, value in (("scenario", scenario), ("samples", samples), ("sampler", sampler),
                       ("seed", seed), ("replications", replications),
                       ("series_format", series_format), ("chunk_size", chunk_size),
                       ("stop", stop), ("dt", dt)):
        if value is not None:
            changes[key] = value
    if outputs:
        changes["outputs"] = tuple(o.strip() for o in outputs.split(",") if o.strip())
    if metrics:
        changes["metrics"] = tuple(metrics)
    if series:
        changes["series"] = tuple(s.strip() for s in series.split(",") if s.strip())
    return replace(spec, **changes)


def register(main: click.Group) -> None:
    @main.command("sweep")
    @click.argument("target", required=False, metavar="SWEEPFILE|MODEL")
    @click.option("--vary", multiple=True, metavar="NAME=VALUES",
                  help="Vary a constant: 0,1,3,5 | 50:100:5 | uniform(a,b) | normal(m,sd) | "
                       "lognormal(mu,sigma) | triangular(lo,mode,hi). Repeatable; lists and "
                       "ranges form a full-factorial grid.")
    @click.option("--set", "sets", multiple=True, metavar="NAME=VALUE",
                  help="Fix a constant for every run (repeatable).")
    @click.option("--scenario", default=None, help="A named scenario of the model.")
    @click.option("--outputs", default=None, metavar="A,B",
                  help="Outputs to summarise and label (default: the model's stocks).")
    @click.option("--metric", "metrics", multiple=True, metavar="OUTPUT:KIND[=X]",
                  help="final, peak, time_of_peak, min, mean, time_above=X, time_below=X, "
                       "recovery=PERCENT (repeatable; default: the first five).")
    @click.option("--samples", type=int, default=None, help="Draws for sampled parameters.")
    @click.option("--sampler", type=click.Choice(["lhs", "random"]), default=None)
    @click.option("--seed", type=int, default=None, help="Seed of sampling and of run 0.")
    @click.option("--replications", type=int, default=None,
                  help="Runs per design point, each with its own random seed.")
    @click.option("--trigger", default=None, metavar="START:END",
                  help="The disturbance window, for recovery metrics and labels.")
    @click.option("--series", default=None, metavar="A,B",
                  help="Also keep these variables' full series (series.nc or series.zarr).")
    @click.option("--series-format", type=click.Choice(["netcdf", "zarr"]), default=None)
    @click.option("--chunk-size", type=int, default=None, help="Runs per kernel call / file.")
    @click.option("--stop", type=float, default=None, help="Override the stop time.")
    @click.option("--dt", type=float, default=None, help="Override the time step.")
    @click.option("-o", "--output", "directory", required=True, metavar="DIR",
                  help="Directory for chunks, results.parquet/.csv and series.")
    @click.option("--workers", type=click.IntRange(min=1), default=None,
                  help="Run chunks in N local processes.")
    @click.option("--scheduler", default=None, metavar="ADDRESS",
                  help="A Dask scheduler (tcp://host:8786), or 'local' for a LocalCluster.")
    @click.option("--resume", is_flag=True,
                  help="Continue the sweep recorded in DIR (SWEEPFILE|MODEL may be omitted).")
    @click.option("--progress/--no-progress", default=True, help="Show a progress bar.")
    def sweep_command(target, vary, sets, scenario, outputs, metrics, samples, sampler, seed,
                      replications, trigger, series, series_format, chunk_size, stop, dt,
                      directory, workers, scheduler, resume, progress):
        """Run a parameter sweep of a model (or a sweep file) into DIR; rerun to resume."""
        from sdmodels.sweep.runner import run_sweep
        if target is None and not resume:
            raise click.UsageError("give a sweep file or a model (or --resume -o DIR)")
        if workers and workers > 1 and scheduler and scheduler != "local":
            raise click.UsageError("--workers and --scheduler ADDRESS exclude each other")
        spec = build_spec(target, vary=vary, sets=sets, scenario=scenario, outputs=outputs,
                          metrics=metrics, samples=samples, sampler=sampler, seed=seed,
                          replications=replications, trigger=trigger, series=series,
                          series_format=series_format, chunk_size=chunk_size, stop=stop, dt=dt)
        out = run_sweep(spec, directory, workers=workers, scheduler=scheduler, resume=resume,
                        progress=progress)
        rate = out.runs / out.seconds if out.seconds > 0 else float("inf")
        click.echo(f"{out.runs} runs in {out.chunks} chunks ({out.chunks_run} run now, "
                   f"{out.chunks_skipped} already done) in {out.seconds:.1f} s "
                   f"({rate:,.0f} runs/s)")
        labels = [c for c in out.table.columns if c.endswith(".label")]
        for col in labels:
            counts = out.table[col].value_counts()
            click.echo(f"  {col[:-6]}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
        failed = out.table[out.table["failure"].notna()] if "failure" in out.table else []
        if len(failed):
            first = failed.iloc[0]
            click.echo(f"  {len(failed)} runs stopped on a NaN/inf and are labelled 'failed' "
                       f"(first: run {first['run']}: {first['failure']}); see the 'failure' "
                       "column")
        click.echo(f"wrote {out.directory / 'results.parquet'} and results.csv")

    @main.command("sweep-report")
    @click.argument("directory", metavar="DIR")
    @click.option("--metric", default=None, help="The metric column to plot (default: first).")
    def sweep_report_command(directory, metric):
        """Write report.md (and report.html) with tables and plots of the sweep in DIR."""
        from sdmodels.sweep.report import write_report
        paths = write_report(directory, metric=metric)
        click.echo("wrote " + ", ".join(str(p) for p in paths))
