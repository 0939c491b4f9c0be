"""The `sdm` command line. Commands are small typed functions; no modelling logic here.

Each command module registers its commands on `main`; add a module to COMMAND_MODULES.
Every command also takes the safety options of `sdmodels.cli.safety` (--allow-data-dir,
--max-...), and shows sdmodels warnings as one plain line each.
"""
from __future__ import annotations

import importlib
import sys

import click

from sdmodels.cli import safety
from sdmodels.errors import SDModelsError

COMMAND_MODULES = ("sdmodels.cli.run_cmd", "sdmodels.cli.demo_cmd", "sdmodels.cli.sweep_cmd",
                   "sdmodels.cli.analysis_cmd", "sdmodels.cli.interop_cmd",
                   "sdmodels.cli.workbench_cmd", "sdmodels.cli.dominance_cmd",
                   "sdmodels.cli.analyze_cmd", "sdmodels.cli.check_cmd")


_HELP_ERRORS = getattr(click.exceptions, "NoArgsIsHelpError", ())


def _one_line(exc: click.UsageError, ctx: click.Context):
    """A bad flag or value as one line, like every other error (click prints three)."""
    if isinstance(exc, _HELP_ERRORS):      # `sdm` alone: click shows the help
        raise exc
    where = exc.ctx.command_path if exc.ctx is not None else ctx.command_path
    click.echo(f"Error: {exc.format_message()} (see '{where} --help')", err=True)
    sys.exit(exc.exit_code)


class _Group(click.Group):
    """Turns sdmodels errors into one clear line and exit code 2 (1 for run failures)."""

    def parse_args(self, ctx, args):
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            _one_line(exc, ctx)

    def invoke(self, ctx):
        with safety.cli_session():
            try:
                return super().invoke(ctx)
            except click.UsageError as exc:
                _one_line(exc, ctx)
            except SDModelsError as exc:
                from sdmodels.errors import SimulationError
                click.echo(f"Error: {exc}", err=True)
                sys.exit(1 if isinstance(exc, SimulationError) else 2)
            except (OSError, MemoryError, RecursionError) as exc:
                click.echo(f"Error: {safety.describe(exc)}", err=True)
                sys.exit(2)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="sdmodels")
def main() -> None:
    """sdmodels: system-dynamics models of software-operations failures."""


for _name in COMMAND_MODULES:
    importlib.import_module(_name).register(main)
safety.add_options(main)
