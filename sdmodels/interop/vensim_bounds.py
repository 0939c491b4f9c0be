"""Bounds, found at import, of every value a Vensim expression takes during the run.

DELAY MATERIAL and DELAY INFORMATION with a delay time that changes hold each input until it
is due (sdmodels/interop/vensim_delays.py), one slot per step of the longest delay: the
largest value the delay time reaches, divided by TIME STEP, sizes that memory, whatever the
run's length. `bounds` finds an interval that holds the expression's value at every time of
the run by interval arithmetic on the abstract syntax: numbers, Time (the run's span), TIME
STEP and the other control values, array constants, references to variables (every equation
of the variable, followed through), + - * / and negation, MIN, MAX, ABS, IF THEN ELSE (both branches),
STEP, PULSE, PULSE TRAIN, RAMP, SIN, COS, EXP, SQRT, INTEGER, comparisons and logic (0 or 1),
lookups (their y values: the ends are held) and DELAY FIXED (within the range of its input
and initial value; not SMOOTH, whose Euler step overshoots when TIME STEP exceeds its time).
Anything else (a stock, data, a function not listed) has no bound here: that end of the
interval is infinite (MIN(stock, 10) still has 10 for its largest value), and with no largest
value the caller falls back on the run's length. A bound must never be too small (an input
due beyond the last slot would be lost), so every rule errs wide.

>>> from types import SimpleNamespace as NS
>>> from sdmodels.interop.mdl.structures import (ArithmeticStructure as A, CallStructure as C,
...                                              ReferenceStructure as R)
>>> importer = NS(elements={})
>>> times = {"start": 0.0, "stop": 100.0, "dt": 1.0}
>>> bounds(importer, A(["+"], [15, C(R("step"), (15, 40))]), times)
(15.0, 30.0)
>>> bounds(importer, A(["-"], [R("time"), 10]), times), bounds(importer, R("stock"), times)
((-10.0, 90.0), (-inf, inf))
>>> bounds(importer, C(R("min"), (R("stock"), 10)), times)
(-inf, 10.0)
>>> bounds(importer, C(R("ramp"), (2, 10, 5)), times)     # an end before the start: -10 after
(-10.0, 0.0)
"""
from __future__ import annotations

import math

Interval = tuple[float, float]
UNBOUNDED: Interval = (-math.inf, math.inf)


def bounds(importer, ast, times: dict, seen: frozenset = frozenset()) -> Interval:
    """An interval holding `ast`'s value all through the run; an end not known is infinite."""
    from sdmodels.interop.abstract import CONTROL, key_of
    if isinstance(ast, bool):
        return (float(ast), float(ast))
    if isinstance(ast, (int, float)):
        value = float(ast)
        return (value, value) if math.isfinite(value) else UNBOUNDED    # :NA: reads as nan
    kind = type(ast).__name__
    if kind == "ndarray" and ast.size:     # an array constant, `t[k] = 2, 4`
        low, high = float(ast.min()), float(ast.max())
        return (low, high) if math.isfinite(low) and math.isfinite(high) else UNBOUNDED
    if kind == "ArithmeticStructure":
        return _arithmetic(importer, ast, times, seen)
    if kind == "LogicStructure":
        return (0.0, 1.0)
    if kind == "ReferenceStructure":
        key = key_of(ast.reference)
        if key == "time":
            return (times["start"], times["stop"])
        if key in CONTROL:
            value = times.get(CONTROL[key])
            return UNBOUNDED if value is None else (value, value)
        element = importer.elements.get(key)
        if element is None or key in seen:
            return UNBOUNDED
        return _union(bounds(importer, c.ast, times, seen | {key}) for c in element.components)
    if kind == "CallStructure":
        return _call(importer, ast, times, seen)
    if kind == "InlineLookupsStructure":
        return _lookup_range(ast.lookups)
    if kind == "DelayFixedStructure":   # its initial value, then inputs replayed intact
        return _union(bounds(importer, a, times, seen) for a in (ast.input, ast.initial))
    return UNBOUNDED


def _arithmetic(importer, ast, times, seen) -> Interval:
    args = [bounds(importer, a, times, seen) for a in ast.arguments]
    if ast.operators == ["negative"]:
        return (-args[0][1], -args[0][0])
    if "^" in ast.operators:
        if len(args) != 2 or any(lo != hi or not math.isfinite(lo) for lo, hi in args):
            return UNBOUNDED
        return _apply(lambda a, b: a ** b, args[0][0], args[1][0])
    out = args[0]
    for op, arg in zip(ast.operators, args[1:]):
        out = _binary(op, out, arg)
    return out


def _binary(op: str, a: Interval, b: Interval) -> Interval:
    if op == "+":
        return _sane((a[0] + b[0], a[1] + b[1]))
    if op == "-":
        return _sane((a[0] - b[1], a[1] - b[0]))
    if op == "/":
        if b[0] <= 0.0 <= b[1]:
            return UNBOUNDED
        b = (1.0 / b[1], 1.0 / b[0])
    elif op != "*":
        return UNBOUNDED
    corners = [x * y for x in a for y in b]
    return _sane((min(corners), max(corners)))


def _call(importer, ast, times, seen) -> Interval:
    from sdmodels.interop.abstract import key_of
    name = key_of(ast.function.reference)
    element = importer.elements.get(name)
    if element is not None:       # a lookup called by name: its y values (ends held)
        found = [_lookup_range(c.ast) for c in element.components
                 if type(c.ast).__name__ == "LookupsStructure"]
        return _union(found) if found else UNBOUNDED
    args = [bounds(importer, a, times, seen) for a in ast.arguments]
    if name == "if_then_else":
        return _union(args[1:])
    if name in ("pulse", "pulse_train"):
        return (0.0, 1.0)
    if name in ("sin", "cos"):
        return (-1.0, 1.0)
    if name in ("min", "max") and len(args) == 2:
        pick = min if name == "min" else max
        return (pick(args[0][0], args[1][0]), pick(args[0][1], args[1][1]))
    if name == "abs":
        lo, hi = args[0]
        return (0.0 if lo <= 0.0 <= hi else min(abs(lo), abs(hi)), max(abs(lo), abs(hi)))
    if name in ("exp", "sqrt", "integer") and (name != "sqrt" or args[0][0] >= 0):
        fn = {"exp": math.exp, "sqrt": math.sqrt, "integer": math.trunc}[name]
        return (_apply(fn, args[0][0])[0], _apply(fn, args[0][1])[1])
    if name == "step":
        return (min(0.0, args[0][0]), max(0.0, args[0][1]))
    if name == "ramp":      # slope * (min(Time, end) - start) once Time passes start, else 0
        start, end = args[1], args[2] if len(args) > 2 else (times["stop"], times["stop"])
        since = (min(0.0, end[0] - start[1]), max(0.0, min(end[1], times["stop"]) - start[0]))
        return _binary("*", args[0], since)
    return UNBOUNDED


def _apply(fn, *values) -> Interval:
    """fn(*values) as a point, or unbounded where it overflows or leaves the reals."""
    if not all(math.isfinite(v) for v in values):
        return UNBOUNDED
    try:
        value = fn(*values)
    except (OverflowError, ZeroDivisionError, ValueError):
        return UNBOUNDED
    return UNBOUNDED if isinstance(value, complex) else _sane((float(value), float(value)))


def _lookup_range(lookup) -> Interval:
    ys = [float(y) for y in getattr(lookup, "y", ()) or ()]
    return _sane((min(ys), max(ys))) if ys else UNBOUNDED


def _union(intervals) -> Interval:
    intervals = list(intervals) or [UNBOUNDED]
    return (min(i[0] for i in intervals), max(i[1] for i in intervals))


def _sane(interval: Interval) -> Interval:
    """The interval, or unbounded where its arithmetic gave nan (inf - inf, 0 * inf)."""
    return UNBOUNDED if any(math.isnan(v) for v in interval) else interval
