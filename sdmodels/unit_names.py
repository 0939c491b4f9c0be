"""Unit names for the units check: a pint registry with the domain's countable units, and
the reading of the unit strings models declare (sdmodels' own, Vensim's, XMILE's).

As in Vensim, a countable thing is its own unit: "pods", "req" (= request, attempt, call,
retry), "connections", "queries", "alerts", "people"... are base dimensions, and any other
name a model uses ("Widget", "Pollution units") becomes one, singular and plural alike.
"1", "Dmnl", "0/1", "0..1", "x normal" and "Erlang" are dimensionless; "$" is dollars;
"degF"/"degC" are temperature differences.

>>> ureg = unit_registry()
>>> show(parse_units(ureg, "Requests/Second")), show(parse_units(ureg, "Pollution units/Year"))
('req/s', 'pollution_units/year')
"""
from __future__ import annotations

import re

import pint

#: the domain's countable units, each its own base dimension (Vensim treats "people" so)
_DEFINITIONS = (
    "request = [request] = req = reqs = attempt = call = retry = retries",
    "pod = [pod] = _ = replica", "connection = [connection] = conn = conns",
    "query = [query] = _ = queries", "alert = [alert]", "incident = [incident]", "rule = [rule]",
    "key = [key]", "token = [token]", "message = [message] = msg = msgs",
    "user = [user]", "person = [person] = _ = people", "metric = [metric]",
    "dollar = [currency] = USD", "erlang = [] = Erlang",
)
_DIMENSIONLESS = {"", "1", "0/1", "0..1", "dmnl", "dimensionless", "fraction", "ratio",
                  "x normal", "unitless", "none"}
_WORDS = {"dmnl": "dimensionless", "$": "dollar", "%": "percent", "degF": "delta_degF",
          "degC": "delta_degC"}
#: bytes get a dimension of their own (pint counts them as dimensionless)
_MEMORY = {"B": 1, "kB": 1e3, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12, "KiB": 2 ** 10,
           "MiB": 2 ** 20, "GiB": 2 ** 30}
_PREFIXES = {"milli", "micro", "nano", "kilo", "mega", "giga", "tera"}
_SHOWN = {"a": "year", "d": "day"}       # pint's symbols that read badly in a message


class UnitRegistry(pint.UnitRegistry):
    """pint's registry plus the words a model brought (`own`: word -> internal unit name)."""

    def __init__(self):
        super().__init__()
        for line in _DEFINITIONS:
            self.define(line)
        self.define("memory_B = [memory]")       # pint's bytes are dimensionless; not here
        for word, size in _MEMORY.items():
            if size != 1:
                self.define(f"memory_{word} = {size:g} * memory_B")
        self.own: dict[str, str] = {}

    def own_unit(self, name: str) -> str:
        """The internal name of a model's own unit `name`, defined on first use; it is
        spelt `own_...` so that pint never reads it as a prefixed unit ('units': micro-nit)."""
        if name not in self.own:
            self.define(f"own_{name} = [{name}]")
            self.own[name] = f"own_{name}"
        return self.own[name]


def unit_registry() -> UnitRegistry:
    """A fresh registry with the domain's countable units (one per check: no globals)."""
    return UnitRegistry()


def _known(ureg: UnitRegistry, word: str, *, prefixed: bool = True) -> bool:
    """True when pint knows `word` as itself, not by a far-fetched prefix ('units' is not
    micro-nit, 'Rs' not ronna-second): prefixes only in short, unambiguous symbols (ms, kg,
    MB) or spelt out (milliseconds)."""
    if word not in ureg:
        return False
    parses = ureg.parse_unit_name(word)
    if any(not prefix for prefix, _unit, _suffix in parses):
        return True
    return prefixed and len(parses) == 1 and (word.startswith(parses[0][0]) or (
        parses[0][0] in _PREFIXES and len(word.rstrip("s")) <= 3))


def _word(ureg: UnitRegistry, phrase: str) -> str:
    """The registry's name for one unit name of a unit string; an unknown one becomes a unit.

    A name of several words ('Pollution units', Vensim's) is one unit."""
    words = phrase.split()
    word = "_".join(words)
    if word in _MEMORY:
        return f"memory_{word}"
    if word in _WORDS or word.lower() in _WORDS:
        return _WORDS.get(word) or _WORDS[word.lower()]
    title = len(words) > 1 or len(word) > 1 and word[0].isupper() and word[1:].islower()
    if (word.lower() if title else word) in ureg.own:
        return ureg.own[word.lower() if title else word]
    for candidate in ((word.lower(), word) if title else (word,)):
        if _known(ureg, candidate):
            return candidate
    name = word.lower() if title else word
    for other in (name + "s", name + "es", name[:-1], name[:-2]):   # Fox and Foxes: one unit
        if other in ureg.own or len(other) > 2 and _known(ureg, other, prefixed=False):
            return ureg.own.get(other, other)
    return ureg.own_unit(name)


def parse_units(ureg: UnitRegistry, text: str):
    """A pint Unit for a declared unit string; None when empty; ValueError if unreadable.

    >>> ureg = unit_registry()
    >>> parse_units(ureg, "Requests/Second") == parse_units(ureg, "req/s")
    True
    """
    text = re.sub(r"\[[^\]]*\]\s*$", "", text or "").strip()   # Vensim ranges: "Dmnl [0,1]"
    if not text:
        return None
    if text.lower() in _DIMENSIONLESS:
        return ureg.dimensionless
    text = re.sub(r"x\s*normal", "1", text, flags=re.I)
    text = re.sub(r"[A-Za-z_]\w*(?:[ \t]+[A-Za-z_]\w*)*|\$|%", lambda m: _word(ureg, m.group(0)),
                  text)
    try:
        return ureg.parse_units(text)
    except Exception as exc:   # pint raises many kinds; all mean "cannot read"
        raise ValueError(f"cannot read units '{text}': {exc}") from None


def show(unit) -> str:
    """A unit in the short form used in messages ('req/s', '1')."""
    if unit is None:
        return "unknown"
    if isinstance(unit, str):          # the checker's marker for a bare number
        return "1"
    text = format(unit, "~C").replace("own_", "").replace("memory_", "") or "1"
    return re.sub(r"\b(a|d)\b", lambda m: _SHOWN[m.group(1)], text)


def ratio(ureg, a, b) -> float | None:
    """The factor from unit a to unit b, None when the dimensions differ."""
    if a.dimensionality != b.dimensionality:
        return None
    return ureg.Quantity(1.0, a).to(b).magnitude


def same_units(ureg, a, b) -> bool:
    """True when a and b are the same unit (same dimension and scale)."""
    r = ratio(ureg, a, b)
    return r is not None and abs(r - 1.0) < 1e-9
