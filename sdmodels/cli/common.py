"""Pieces shared by CLI commands: parsing --set, atomic output files."""
from __future__ import annotations

import os
from pathlib import Path

import click

from sdmodels.files import (atomic_path, is_stdout,  # noqa: F401  (atomic_path re-exported)
                            write_csv)


def parse_assignments(values: tuple[str, ...], flag: str = "--set") -> dict[str, float]:
    """'Name=value' pairs -> {Name: value}; a malformed one is a usage error (exit 2)."""
    out = {}
    for text in values:
        name, sep, value = text.partition("=")
        if not sep or not name.strip():
            raise click.BadParameter(f"'{text}' is not Name=value (for example "
                                     f"{flag} \"Pool size=100\")", param_hint=flag)
        try:
            out[name.strip()] = float(value)
        except ValueError:
            raise click.BadParameter(f"'{value.strip()}' in '{text}' is not a number",
                                     param_hint=flag) from None
    return out


def emit(text: str, output: str | None) -> None:
    """Print `text`, or write it (atomically) to `output` and say so."""
    if output:
        with atomic_path(output) as tmp:
            tmp.write_text(text + "\n")
        click.echo(f"wrote {output}", err=is_stdout(output))   # not into the data piped on
    else:
        click.echo(text)


def write_table(frame, target: str | os.PathLike) -> None:
    """Write a DataFrame as CSV or Parquet (by suffix), atomically."""
    suffix = Path(target).suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise click.BadParameter(f"'{target}': output must end in .csv or .parquet",
                                 param_hint="-o")
    if suffix == ".csv":
        write_csv(frame, target)
        return
    with atomic_path(target) as tmp:
        frame.to_parquet(tmp)
