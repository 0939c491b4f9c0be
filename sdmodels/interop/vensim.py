"""Vensim .mdl import: pysd's translator up to its abstract model, then ours."""
from __future__ import annotations

import contextlib
import io
import re
import warnings
from pathlib import Path

from sdmodels.errors import ImportModelError, SDModelsError
from sdmodels.interop import mdl_text
from sdmodels.interop.abstract import AbstractImporter, Unsupported, key_of
from sdmodels.interop.vensim_subscripts import text_mappings

_UNSUPPORTED_TEXT = (   # macros (macros.py) and GET XLS/DIRECT (external.py) are imported
    # (pattern, ASCII word every match holds: a case-blind regex scan of a large model
    # costs milliseconds, a search of its lower-cased bytes a tenth of that)
    (re.compile(r"\bGET[ _](123|VDF)", re.I), b"get", "external data",
     "GET 123 / GET VDF read Lotus or Vensim binary files; not supported"),
)


def import_vensim(path, *, data_files=(), data_dirs=()):
    """Read a Vensim .mdl file into a `Model` (pysd parses; sdmodels builds and runs).

    `data_files`: .tab/.csv files (relative to the model) that fill DATA variables without
    equation, as Vensim's run-time data files do. `data_dirs`: folders besides the model's
    own that GET DATA/CONSTANTS/LOOKUPS and `data_files` may read (see interop.external).
    """
    path = Path(path)
    text = mdl_text.read_text(path)
    mdl_text.check_text(path, text)
    lowered = text.encode().lower()     # ASCII letters only: no other letter folds to them
    for pattern, word, construct, why in _UNSUPPORTED_TEXT:
        m = pattern.search(text) if word in lowered else None
        if m:
            var = _variable_at(text, m.start())
            if construct == "macro":
                var = text[m.end():].split("(")[0].strip() + " (the macro)"
            raise ImportModelError(f"{path}:{text.count(chr(10), 0, m.start()) + 1}: "
                                   f"variable '{var}' uses {construct} "
                                   f"({m.group(0)}): {why}")
    abstract = _with_mappings(_abstract(path), text)
    mdl_text.warn_control(path, abstract)
    return from_abstract(abstract, path, data_files=data_files, data_dirs=data_dirs)


def _abstract(path: Path):
    from sdmodels.interop.mdl import chosen_parser, read_abstract
    if chosen_parser() == "own":    # sdmodels' parser; SDMODELS_MDL_PARSER=pysd: pysd's
        return read_abstract(path)
    from pysd.translators.vensim.vensim_file import VensimFile
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            vf = VensimFile(path)
            vf.parse()
            return vf.get_abstract_model()
    except Exception as exc:   # pysd raises plain exceptions with its own messages
        if "RecursionError" in f"{type(exc).__name__} {exc}"[:300]:
            raise ImportModelError(mdl_text.too_deep(path, "an equation")) from None
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ImportModelError(f"{path}: the Vensim parser could not read the model "
                               f"({type(exc).__name__}: {first[:300]})") from None


def _with_mappings(abstract, text: str):
    """Range mappings as Vensim means them: a list of map-to choices `-> (DimA: SubA, A1)`
    pairs each element with an element or subrange of the target. sdmodels' own reader keeps
    that list (`mapping_detail`); pysd's grammar reads it as extra elements of the range,
    which are taken back out here (vensim_subscripts.text_mappings)."""
    import dataclasses
    found = None
    for section in abstract.sections:
        fixed = []
        for r in section.subscripts:
            detail = getattr(r, "mapping_detail", None)
            if detail is not None:
                entries = [target if names is None else (target, tuple(names))
                           for target, names in detail]
                if any(isinstance(e, tuple) for e in entries):
                    r = dataclasses.replace(r, mapping=entries)
            else:
                found = text_mappings(text) if found is None else found
                entries = found.get(key_of(r.name))
                if entries and isinstance(r.subscripts, list):
                    extra = sum(len(e[1]) for e in entries if isinstance(e, tuple))
                    r = dataclasses.replace(
                        r, subscripts=r.subscripts[:len(r.subscripts) - extra], mapping=entries)
            fixed.append(r)
        section.subscripts = fixed
    return abstract


def from_abstract(abstract, path: Path, *, data_files=(), data_dirs=()):
    """Map a pysd AbstractModel to a `Model`, wrapping failures in ImportModelError."""
    importer = None
    try:
        importer = AbstractImporter(abstract, name=path.stem, path=str(path))
        importer.data_files = tuple(data_files or ())
        importer.data_dirs = tuple(data_dirs or ())
        return importer.build()
    except Unsupported as exc:
        raise ImportModelError(f"{_at_line(path, importer)}: {_where(importer)} uses "
                               f"{exc.construct}: {exc.why}") from None
    except SDModelsError as exc:     # the model's own message names it when no variable does
        within = f"{_where(importer)}: " if importer and importer.current else ""
        raise ImportModelError(f"{_at_line(path, importer)}: {within}{exc}") from None
    except RecursionError:
        raise ImportModelError(mdl_text.too_deep(path, _where(importer))) from None


def _where(importer) -> str:
    """'variable X' for the variable being imported, else 'the model'."""
    return f"variable '{importer.current}'" if importer and importer.current else "the model"


def _at_line(path: Path, importer) -> str:
    """'file:line' of the equation of the variable being imported (a .mdl file), else 'file'."""
    from sdmodels.interop.vensim_where import definition_line
    if importer is None or not importer.current or path.suffix.lower() != ".mdl":
        return str(path)
    line = definition_line(mdl_text.read_text(path), importer.current)
    return f"{path}:{line}" if line else str(path)


def _variable_at(text: str, pos: int) -> str:
    """The name on the left of the equation that holds position `pos`."""
    start = text.rfind("|", 0, pos) + 1
    head = text[start:pos].strip().splitlines()
    head = " ".join(head).split("=")[0].split(":")[0].split("[")[0].strip()
    head = head.replace("{UTF-8}", "").strip()
    return head or "?"
