"""sdmodels' own reader of Vensim .mdl files: sections, equations, macros, the sketch.

`read_abstract(path)` gives the AbstractModel that pysd's translator builds (as our own light
dataclasses, sdmodels/interop/mdl/structures.py: no pysd import), mapped by
sdmodels/interop/abstract.py and read by our own lexer and parser; `read_sketch`
gives the positions of the variables in the file's views. The environment variable
SDMODELS_MDL_PARSER=pysd switches .mdl import back to pysd's translator (a cross-check).
"""
from __future__ import annotations

import os

from sdmodels.errors import VensimSyntaxError
from sdmodels.interop.mdl.reader import read_abstract
from sdmodels.interop.mdl.sketch import read_sketch

PARSERS = ("own", "pysd")


def chosen_parser() -> str:
    """'own' or 'pysd', from $SDMODELS_MDL_PARSER (default 'own').

    >>> chosen_parser() in PARSERS
    True
    """
    value = os.environ.get("SDMODELS_MDL_PARSER", "own").strip().lower() or "own"
    if value not in PARSERS:
        from sdmodels.errors import ImportModelError
        raise ImportModelError(f"SDMODELS_MDL_PARSER={value!r}: use 'own' or 'pysd'")
    return value


__all__ = ["PARSERS", "VensimSyntaxError", "chosen_parser", "read_abstract", "read_sketch"]
