"""Safety options every command takes, and how warnings and system errors reach the user.

--allow-data-dir DIR      let a Vensim model read GET DATA/... files from DIR too
--data-file FILE          a .dat/.tab/.csv file for a Vensim model's DATA variables
--max-array-elements N    and the other limits of `sdmodels.limits.Limits`

The options set SDMODELS_* environment variables for the command's duration, so that worker
processes of a sweep see the same limits; `cli_session` puts the environment back after.
"""
from __future__ import annotations

import contextlib
import os
import warnings
from dataclasses import fields
from typing import Iterator

import click

from sdmodels.errors import CacheWarning, ModelWarning
from sdmodels.limits import ALLOW_DATA_DIRS_ENV as ALLOW_ENV, DATA_FILES_ENV, Limits, env_name, \
    flag_name

SHOWN_PLAIN = (ModelWarning, CacheWarning)


def _env_names() -> list[str]:
    return [ALLOW_ENV, DATA_FILES_ENV] + [env_name(f.name) for f in fields(Limits)]


@contextlib.contextmanager
def cli_session() -> Iterator[None]:
    """During one command: sdmodels warnings as 'Warning: ...' lines; environment restored."""
    saved = {k: os.environ.get(k) for k in _env_names()}
    with warnings.catch_warnings():
        previous = warnings.showwarning

        def show(message, category, filename, lineno, file=None, line=None):
            if issubclass(category, SHOWN_PLAIN):
                click.echo(f"Warning: {message}", err=True)
            else:
                previous(message, category, filename, lineno, file, line)
        warnings.showwarning = show
        try:
            yield
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


def describe(exc: BaseException) -> str:
    """One line for an error of the system rather than of the model."""
    if isinstance(exc, MemoryError):
        return ("out of memory; the model, run or sweep is too large for this machine (see "
                "sdm --help for the --max-... limits, or use fewer runs or saved times)")
    if isinstance(exc, RecursionError):
        return ("a model or equation is nested too deeply to process; split long equations "
                "into intermediate variables")
    name = getattr(exc, "filename", None)
    reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return f"{name}: {reason}" if name else reason


def _whole(text: str) -> int:
    try:
        value = float(text)
    except ValueError:
        raise click.BadParameter(f"'{text}' is not a number") from None
    if not (value >= 0 and value == int(value)):
        raise click.BadParameter(f"'{text}' must be a whole number >= 0")
    return int(value)


def _set_limit(ctx, param, value):
    if value is not None:
        os.environ[env_name(param.name)] = str(_whole(value))


def _add_paths(env: str, paths: list[str]) -> None:
    old = [d for d in os.environ.get(env, "").split(os.pathsep) if d]
    os.environ[env] = os.pathsep.join(old + [os.path.abspath(p) for p in paths])


def _allow(ctx, param, value):
    if value:
        for folder in value:         # a typo would otherwise allow nothing, silently
            if not os.path.isdir(folder):
                raise click.BadParameter(f"'{folder}' is not a folder; give the folder the "
                                         "model's data files are in")
        _add_paths(ALLOW_ENV, value)


def _data_files(ctx, param, value):
    if value:
        for file in value:
            if not os.path.isfile(file):
                raise click.BadParameter(f"'{file}' is not a file; give the .dat, .tab or "
                                         ".csv file that holds the model's DATA series")
        _add_paths(DATA_FILES_ENV, value)


def options() -> list[click.Option]:
    """The safety options, as click parameters (they set the environment, not arguments)."""
    out = [click.Option(["--allow-data-dir"], multiple=True, metavar="DIR", expose_value=False,
                        is_eager=True, callback=_allow,
                        help="Also let the model read external data (GET DATA...) from DIR; "
                             "by default only the model's folder and below (repeatable)."),
           click.Option(["--data-file"], multiple=True, metavar="FILE", expose_value=False,
                        is_eager=True, callback=_data_files,
                        help="A .dat/.tab/.csv file filling a Vensim model's DATA variables "
                             "(those without an equation; repeatable).")]
    defaults = Limits()
    for f in fields(Limits):
        shown = getattr(defaults, f.name) or "half of free memory"
        out.append(click.Option([flag_name(f.name), f.name], metavar="N", expose_value=False,
                                is_eager=True, callback=_set_limit,
                                help=f"Safety limit (default {shown}; "
                                     f"env {env_name(f.name)})."))
    return out


def add_options(group: click.Group) -> None:
    """Give every command of `group` the safety options."""
    for command in group.commands.values():
        command.params.extend(options())
