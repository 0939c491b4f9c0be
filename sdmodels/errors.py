"""One exception tree for sdmodels.

Every message says what went wrong, where (model, element, line), and how to fix it.
"""
from __future__ import annotations

import difflib
from typing import Iterable


class SDModelsError(Exception):
    """Base class of every error sdmodels raises on purpose."""


class ModelError(SDModelsError):
    """A model is malformed; raised by `build` before anything runs."""


class UnknownNameError(ModelError, KeyError):
    """An equation or option refers to a name the model does not define."""

    def __str__(self) -> str:  # KeyError would quote the message
        return self.args[0] if self.args else ""


class DuplicateNameError(ModelError):
    """Two elements share one name."""


class AlgebraicLoopError(ModelError):
    """Auxiliaries depend on each other in a cycle with no stock to break it."""


class DimensionError(ModelError):
    """Array dimensions do not line up."""


class EquationSyntaxError(ModelError):
    """Equation text could not be parsed."""


class SimulationError(SDModelsError):
    """A run produced a non-finite value or could not be carried out."""


class ImportModelError(SDModelsError):
    """A model file (Vensim, XMILE) could not be imported."""


class VensimSyntaxError(ImportModelError, EquationSyntaxError):
    """A .mdl file breaks Vensim's grammar: file:line:column, the variable, what was expected."""


class ModelWarning(UserWarning):
    """A model builds but is likely to give misleading results (e.g. dt too coarse)."""


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """Return ' Did you mean 'X'?' for the closest candidate, or ''."""
    candidates = list(candidates)
    lowered = {c.lower(): c for c in candidates}
    close = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.6)
    return f" Did you mean '{lowered[close[0]]}'?" if close else ""


def not_a_model(call: str, accepted: str, value) -> TypeError:
    """The TypeError for a call given something else than a model, with how to get one:
    a library name or a file path is the usual slip in a notebook.

    >>> str(not_a_model("build()", "a Model", "teacup"))
    "build() takes a Model, got str 'teacup': load it first, library.teacup.build() for a library model or sdmodels.interop.import_model(path) for a .mdl/.xmile file"
    """
    got = type(value).__name__
    if isinstance(value, str) or hasattr(value, "__fspath__"):
        name = str(value)
        hint = (f"library.{name}.build() for a library model" if name.isidentifier()
                else "library.NAME.build() for a library model")
        return TypeError(f"{call} takes {accepted}, got {got} {name!r}: load it first, {hint} "
                         "or sdmodels.interop.import_model(path) for a .mdl/.xmile file")
    return TypeError(f"{call} takes {accepted}, got {got}")


class LimitError(ModelError):
    """An input is larger than a safety limit (array size, equation length, sweep size)."""


class CacheWarning(UserWarning):
    """A kernel-cache entry or directory could not be trusted; it was rebuilt or skipped."""


class OutputError(SDModelsError):
    """An output file or folder cannot be written (read-only, /proc, not a folder...)."""
