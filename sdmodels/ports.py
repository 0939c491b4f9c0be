"""Ports: the declared inputs and outputs of a model used as a part of another.

A part is an ordinary `Model` that declares some of its constants as input ports
(`Model.input`) and some of its elements as output ports (`Model.output`). Included with
`Model.module`, it returns a `ModuleHandle` whose inputs are wired *after* creation
(`handle.connect("Latency", other.out["Latency"])`), so that two parts that feed each other
(a client and the server it calls) are wired without naming each other's internals. An
input left unconnected keeps its default, which says where it came from (`Port.source`).

Connecting ports whose units differ is an error that names both ports; an empty unit
means "not declared" and matches anything.

>>> from sdmodels import Model
>>> server = Model("server")
>>> arrivals = server.input("Arrivals", 100, units="req/s", source="assumption")
>>> busy = server.output(server.aux("Busy", arrivals * 0.05, units="1"))
>>> top = Model("system")
>>> s = top.module("api", server, display="API")
>>> s.connect("Arrivals", top.constant("Traffic", 200, units="req/s"))
ModuleHandle('api')
>>> sorted(s.outputs), s.out["Busy"].name
(['Busy'], 'api.busy')
"""
from __future__ import annotations

import re
from dataclasses import dataclass

#: spellings of the same unit, after lower-casing (the first of each group is the one shown)
_SYNONYMS = {
    "s": ("second", "seconds", "sec", "secs"),
    "ms": ("millisecond", "milliseconds"),
    "min": ("minute", "minutes"),
    "h": ("hour", "hours", "hr"),
    "req": ("request", "requests", "reqs"),
    "conn": ("connection", "connections", "conns"),
    "pod": ("pods",),
    "1": ("dimensionless", "fraction", "ratio", ""),
}
_CANONICAL = {alias: name for name, aliases in _SYNONYMS.items() for alias in (name, *aliases)}


@dataclass(frozen=True)
class Port:
    """A declared input or output of a part: its element id, units, and where its default
    value comes from (a document, a configuration default, or "assumption: ...")."""
    id: str
    display: str
    units: str = ""
    source: str = ""
    doc: str = ""


def normal_units(units: str) -> str:
    """A unit string in one spelling, for comparison: ``'requests / second' -> 'req/s'``.

    >>> normal_units("Requests / Second"), normal_units("conn"), normal_units("req/s")
    ('req/s', 'conn', 'req/s')
    """
    text = re.sub(r"\s+", "", units.strip().lower())
    return re.sub(r"[a-z]+", lambda m: _CANONICAL.get(m.group(0), m.group(0)), text)


def units_match(a: str, b: str) -> bool:
    """True when two unit strings name the same unit, or either is undeclared ('')."""
    if not a.strip() or not b.strip():
        return True
    return normal_units(a) == normal_units(b)
