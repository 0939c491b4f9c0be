"""Checks on a Vensim .mdl text before pysd's parser sees it.

pysd's parser holds a whole equation in memory many times over (a 1 MB line took 3.3 GB)
and expands subscript ranges like (a1-a100000000) itself, so sizes are checked here, on the
text, against `sdmodels.limits`: the length of each equation and the elements of each
subscript range. Binary files are refused with a plain message, and a missing control
section or an unknown time unit is a `ModelWarning` that names the file (`warn_control`).

>>> equations("a = 1 ~ ~ |\\nb = a ~ ~ |\\n\\\\\\\\\\\\---/// Sketch information\\nV 300")
['a = 1 ~ ~ ', '\\nb = a ~ ~ ']
"""
from __future__ import annotations

import re
import warnings
from pathlib import Path

from sdmodels.errors import ImportModelError, ModelWarning
from sdmodels.limits import check_count, current_limits

SKETCH = "\\\\\\---///"      # the line that starts the sketch part
_RANGE = re.compile(r"\(\s*([^()\-,~|]*?)(\d+)\s*-\s*([^()\-,~|]*?)(\d+)\s*\)")
_SUBSCRIPT_DEF = re.compile(r"^\s*[^=~|]+?:(?!=)", re.S)
CONTROL_NAMES = ("initial time", "final time", "time step")
_NOT_CONTROL = bytes(range(32, 256)) + b"\t\n\x0c\r"
TIME_UNITS = {
    "second", "seconds", "sec", "s", "minute", "minutes", "min", "hour", "hours", "hr", "h",
    "day", "days", "d", "week", "weeks", "wk", "month", "months", "mo", "quarter", "quarters",
    "year", "years", "yr", "y", "millisecond", "milliseconds", "ms", "time", "dmnl", "1",
}


def equations(text: str) -> list[str]:
    """The equation blocks of a .mdl text (up to the sketch), split at '|'."""
    at = text.find(SKETCH)      # str.find: a regular expression's search took 1 ms on World3
    body = text if at < 0 else text[:at]
    return [block for block in body.split("|") if block.strip()]


def _subscript_def(eq: str) -> bool:
    """Whether an equation (no '~' or '|' in it) defines a subscript range, `D: a, b`: a ':'
    after its first character, before its first '=' and not the ':' of ':='. What
    _SUBSCRIPT_DEF matches, found with str.find (the expression's lazy scan took 2 ms on
    World3's lookups)."""
    first_eq = eq.find("=")
    end = len(eq) if first_eq < 0 else first_eq - 1
    return end > 1 and eq.find(":", 1, end) >= 0


def _name_of(block: str) -> str:
    head = block.replace("{UTF-8}", "").strip().split("=")[0].split(":")[0].split("(")[0]
    return " ".join(head.split("[")[0].split())[:60] or "?"


def read_text(path: Path) -> str:
    """The text of a .mdl file; ImportModelError if it is binary (not a text model)."""
    data = path.read_bytes()
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ImportModelError(f"{path}: the file is UTF-16 text; the Vensim reader needs UTF-8 "
                               "(or plain ASCII): save it again as UTF-8")
    sample = data[:65536]
    controls = len(sample.translate(None, _NOT_CONTROL))    # bytes < 32 but tab, LF, FF, CR
    if b"\x00" in sample or (sample and controls > len(sample) // 100):
        raise ImportModelError(f"{path}: not a Vensim text model (the file holds binary data: "
                               f"{controls} control bytes in the first {len(sample)}); give "
                               "the .mdl text file Vensim saves, not a .vmf/.vdf/.vpm file")
    return data.decode("utf-8", errors="replace")


def check_text(path: Path, text: str) -> None:
    """Raise LimitError for an over-long equation or subscript range; warn on silent gaps."""
    limits = current_limits()
    blocks = equations(text)
    for block in blocks:
        eq = block.split("~", 1)[0]
        if len(eq) > limits.max_equation_chars:
            check_count("characters in one equation", len(eq), "max_equation_chars",
                        where=f"{path}: variable '{_name_of(block)}'", limits=limits)
        if _subscript_def(eq):
            for m in _RANGE.finditer(eq):
                if int(m.group(4)) < int(m.group(2)):
                    raise ImportModelError(
                        f"{path}: subscript '{_name_of(block)}': range ({m.group(0)[1:-1]}) "
                        f"runs backwards; write ({m.group(1)}{m.group(4)}-{m.group(3)}"
                        f"{m.group(2)})")
                count = int(m.group(4)) - int(m.group(2)) + 1
                check_count(f"elements in range ({m.group(0)[1:-1].strip()})", count,
                            "max_array_elements", where=f"{path}: subscript "
                            f"'{_name_of(block)}'", limits=limits)


def warn_control(path: Path, abstract) -> None:
    """ModelWarnings naming the file: no INITIAL TIME/FINAL TIME/TIME STEP, or an unknown
    time unit on them.

    Read from pysd's abstract model, not the text: a stray '|' in a comment can hide the
    control section from the parser while the text still shows it.
    """
    elements = {" ".join(name.replace("_", " ").split()): e      # every name it reads holds
                for section in abstract.sections[:1] for e in section.elements  # 'time'
                if "time" in (name := str(e.name).lower())}
    units = [str(getattr(elements.get(n), "units", "") or "").split("[")[0].strip()
             for n in ("time step", "final time")]
    warn_time_unit(path, next((u for u in units if u), None),
                   "the units of TIME STEP and FINAL TIME")
    missing = [n.upper() for n in CONTROL_NAMES if n not in elements]
    if missing:
        warnings.warn(f"{path}: no {', '.join(missing)} in the model (its control section is "
                      "missing or incomplete); the run uses start 0, stop 100, dt 1 where they "
                      "are missing. Add them to the model, or give --stop/--dt",
                      ModelWarning, stacklevel=3)


def warn_time_unit(path, unit: str | None, where: str) -> None:
    """A ModelWarning naming the file if `unit` is not a time unit sdmodels knows."""
    if unit and unit.lower() not in TIME_UNITS and unit.lower().rstrip("s") not in TIME_UNITS:
        warnings.warn(f"{path}: time unit '{unit}' is not a unit sdmodels knows ("
                      "second, minute, hour, day, week, month, quarter, year); times are read "
                      f"as plain numbers. Check {where}", ModelWarning, stacklevel=4)


def too_deep(path: Path, where: str) -> str:
    """The message for an equation nested or chained deeper than the parser's stack."""
    return (f"{path}: {where} is nested too deeply to parse (a very long chain like "
            "a+b+c+... or many parentheses inside each other); split it into intermediate "
            "variables")
