"""What can be read from pysd's abstract structures without mapping them into our IR.

The importer (`sdmodels.interop.abstract`) needs, before and beside the mapping, values
known at the start (time control, delay orders, constant arguments of built-ins) and
whether an equation calls a function; both only read pysd's structures.

>>> key_of('  "Births  Rate" ')
'births_rate'
>>> static_value(3, {}, {}), time_unit({})
(3.0, 'time')
"""
from __future__ import annotations

import dataclasses
import functools
import re

import numpy as np

CONTROL = {"initial_time": "start", "final_time": "stop", "time_step": "dt", "saveper": "saveper"}


@functools.lru_cache(maxsize=8192)     # a model names each variable many times
def key_of(name: str) -> str:
    """The key pysd uses for a reference, normalised like our canonical ids."""
    return re.sub(r"[\s_]+", "_", name.strip().strip('"').lower())


class Unsupported(Exception):
    """A construct we do not import; `construct` and `why` go into the ImportModelError."""

    def __init__(self, construct: str, why: str):
        super().__init__(f"{construct}: {why}")
        self.construct, self.why = construct, why


def time_unit(elements) -> str:
    """The model's time unit: the units of TIME STEP or FINAL TIME ('time' if none)."""
    units = (str(getattr(elements.get(k), "units", "") or "").split("[")[0].strip()
             for k in ("time_step", "final_time"))
    return next((u for u in units if u), "time")


def time_settings(elements) -> dict:
    """start, stop, dt and saveper from the control elements (saveper at least dt)."""
    values = {}
    for key, setting in CONTROL.items():
        element = elements.get(key)
        if element is None:
            continue
        ast = element.components[0].ast
        values[setting] = static_value(ast, values, elements)
        if values[setting] is None and setting != "saveper":
            raise Unsupported("time control", f"'{element.name}' must be a number")
    if "saveper" not in values or values["saveper"] is None:
        values["saveper"] = values.get("dt")
    out = {k: v for k, v in values.items() if v is not None}
    if "dt" in out and "saveper" in out and out["saveper"] < out["dt"]:
        out["saveper"] = out["dt"]
    return out


def static_value(ast, known: dict, elements):
    """The value of an abstract expression at the start (numbers, STEP, IF THEN ELSE,
    comparisons, arithmetic, Time and the control settings in `known`, constants of
    `elements`), or None when it is not known before the run."""
    if isinstance(ast, (int, float)):
        return float(ast)
    name = type(ast).__name__
    if name == "CallStructure" and key_of(ast.function.reference) == "step":
        height, at = (static_value(a, known, elements) for a in ast.arguments)
        t0 = known.get("start", 0.0)
        return None if height is None or at is None else (height if t0 >= at else 0.0)
    if name == "CallStructure" and key_of(ast.function.reference) == "if_then_else":
        cond = static_value(ast.arguments[0], known, elements)   # time control given by an
        if cond is None:                               # expression: its value at the start
            return None
        return static_value(ast.arguments[1 if cond else 2], known, elements)
    if name == "LogicStructure" and len(ast.arguments) == 2:
        a, b = (static_value(x, known, elements) for x in ast.arguments)
        op = ast.operators[0]
        tests = {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b, "=": a == b,
                 "<>": a != b} if a is not None and b is not None else {}
        return float(tests[op]) if op in tests else None
    if name == "ReferenceStructure":
        key = key_of(ast.reference)
        if key == "time":
            return known.get("start", 0.0)
        if key in CONTROL and CONTROL[key] in known:
            return known[CONTROL[key]]
        if key in elements:
            return static_value(elements[key].components[0].ast, known, elements)
    if name == "ArithmeticStructure":
        vals = [static_value(a, known, elements) for a in ast.arguments]
        if any(v is None for v in vals):
            return None
        if ast.operators == ["negative"]:
            return -vals[0]
        out = vals[0]
        try:
            for op, v in zip(ast.operators, vals[1:]):
                out = {"+": lambda: out + v, "-": lambda: out - v, "*": lambda: out * v,
                       "/": lambda: out / v, "^": lambda: out ** v}[op]()
        except (ZeroDivisionError, OverflowError, KeyError):
            return None
        return out
    return None


def calls(ast, function: str) -> bool:
    """Whether a pysd abstract expression calls `function` anywhere inside it."""
    stack = [ast]
    while stack:
        node = stack.pop()
        if isinstance(node, _LEAVES):    # most nodes: numbers and names hold no call
            continue
        if isinstance(node, (list, tuple)):
            stack.extend(node)
        elif type(node).__name__ == "CallStructure" and \
                key_of(getattr(node.function, "reference", "")) == function:
            return True
        elif dataclasses.is_dataclass(node) and not isinstance(node, type):
            stack.extend(getattr(node, name) for name in _field_names(type(node)))
    return False


@functools.lru_cache(maxsize=256)
def _field_names(cls) -> tuple[str, ...]:
    """The field names of a dataclass, found once per class."""
    return tuple(f.name for f in dataclasses.fields(cls))


_LEAVES = (int, float, str, type(None), np.ndarray, np.generic)


def calls_top(ast, function: str) -> bool:
    """Whether a pysd abstract expression is a call of `function` (SINTEG(...) alone)."""
    return type(ast).__name__ == "CallStructure" and \
        key_of(getattr(ast.function, "reference", "")) == function


def is_lookup_def(comp) -> bool:
    """Whether an element's component defines a lookup table (inline or GET LOOKUPS)."""
    return type(comp).__name__ == "AbstractLookup" or type(comp.ast).__name__ == "LookupsStructure"


def construct_name(kind: str) -> str:
    """The Vensim name of a pysd structure, for the message that refuses it."""
    return {"AllocateAvailableStructure": "ALLOCATE AVAILABLE",
            "AllocateByPriorityStructure": "ALLOCATE BY PRIORITY",
            "ForecastStructure": "FORECAST", "DataStructure": "DATA",
            "GetLookupsStructure": "GET LOOKUPS", "GetDataStructure": "GET DATA",
            "GetConstantsStructure": "GET CONSTANTS"}.get(kind, kind)
