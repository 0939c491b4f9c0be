"""Where a variable is defined in a .mdl file, for import errors that name file and line.

The mapping (abstract.py) works on the parsed model, which keeps no positions; an error it
raises names the variable, and this finds the line of the equation that defines it.
"""
from __future__ import annotations

import re

from sdmodels.interop.abstract import key_of

_LEFT = re.compile(r"\s*(?:\{[^}]*\}\s*)*(?::MACRO:[^)]*\)\s*)?([^=(\[:~|]+)")


def definition_line(text: str, name: str) -> int | None:
    """The 1-based line where the equation of variable `name` starts in .mdl `text`.

    >>> definition_line("{UTF-8}\\nx = 1 ~~|\\n\\nFlow Rate [A] =\\n 2 ~~|", "flow_rate")
    4
    >>> definition_line("x = 1 ~~|", "y") is None
    True
    """
    key = key_of(name)
    end = text.find("\\\\\\---///")       # the sketch follows the equations
    start = 0
    for chunk in (text if end < 0 else text[:end]).split("|"):
        m = _LEFT.match(chunk)
        if m and key_of(m.group(1)) == key:
            at = start + m.start(1)
            return text.count("\n", 0, at) + 1
        start += len(chunk) + 1
    return None
