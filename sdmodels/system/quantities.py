"""Quantities written with their unit in a system description: durations, rates, fractions.

>>> duration("50ms"), duration("1h"), duration("1.5 s")
(0.05, 3600.0, 1.5)
>>> rate("1000/s"), rate("60000 req/min"), fraction("30%")
(1000.0, 1000.0, 0.3)
>>> memory("512Mi"), memory("1Gi"), memory("100M")      # in MiB, as Kubernetes writes them
(512.0, 1024.0, 95.367431640625)
"""
from __future__ import annotations

import re

SECONDS = {"ms": 1e-3, "s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0,
           "d": 86400.0}
_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_DURATION = re.compile(rf"\s*({_NUMBER})\s*(ms|sec|s|min|m|h|d)\s*")
_RATE = re.compile(rf"\s*({_NUMBER})\s*(?:[a-z]+\s*)?/\s*(ms|sec|s|min|m|h|d)\s*")


_MEMORY = re.compile(rf"\s*({_NUMBER})\s*(Ki|Mi|Gi|Ti|k|K|M|G|T)\s*")
MIB = {"Ki": 2 ** -10, "Mi": 1.0, "Gi": 2 ** 10, "Ti": 2 ** 20, "k": 1e3 / 2 ** 20,
       "K": 1e3 / 2 ** 20, "M": 1e6 / 2 ** 20, "G": 1e9 / 2 ** 20, "T": 1e12 / 2 ** 20}


class QuantityError(ValueError):
    """A value that does not read as the quantity expected; the message says how to write it."""


def duration(value) -> float:
    """Seconds from '50ms', '1s', '2m', '1h', '1d' (a bare number is ambiguous: refused)."""
    if isinstance(value, str):
        match = _DURATION.fullmatch(value)
        if match:
            return float(match.group(1)) * SECONDS[match.group(2)]
    raise QuantityError(f"{value!r} is not a duration; write it with a unit, like 30s, 50ms, "
                        "2m or 1h")


def rate(value) -> float:
    """Events per second from '1000/s', '1000 req/s', '60000/min'."""
    if isinstance(value, str):
        match = _RATE.fullmatch(value)
        if match:
            return float(match.group(1)) / SECONDS[match.group(2)]
    raise QuantityError(f"{value!r} is not a rate; write it per unit of time, like 1000/s, "
                        "500 req/s or 60000/min")


def fraction(value) -> float:
    """A fraction in [0, 1] from 0.3 or '30%'."""
    number = value
    if isinstance(value, str) and value.strip().endswith("%"):
        try:
            number = float(value.strip()[:-1]) / 100
        except ValueError:
            number = None
    if isinstance(number, bool) or not isinstance(number, (int, float)) or not 0 <= number <= 1:
        raise QuantityError(f"{value!r} is not a fraction; write a number from 0 to 1, or a "
                            "percentage like 30%")
    return float(number)


def memory(value) -> float:
    """MiB from a Kubernetes memory quantity: '512Mi', '1Gi', '100M' (a bare number, bytes in
    Kubernetes, is refused as ambiguous)."""
    if isinstance(value, str):
        match = _MEMORY.fullmatch(value)
        if match:
            return float(match.group(1)) * MIB[match.group(2)]
    raise QuantityError(f"{value!r} is not a memory size; write it as Kubernetes does, like "
                        "512Mi, 1Gi or 100M")
