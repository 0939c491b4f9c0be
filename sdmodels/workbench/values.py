"""Parameters as the workbench shows them: slider ranges, hard limits, and typed values.

A slider's range is derived from the default and the scenarios' values (it is a soft
range: a typed value beyond it is accepted and widens the slider); a hard limit rejects
what the model cannot mean (a negative value for a parameter whose default is >= 0, a
switch other than 0 or 1). Values typed in the page are equation text: they go through
`sdmodels.parse.parse_equation` and are evaluated here over numbers, the other parameters
and a few pure functions; nothing is ever handed to Python's eval.

>>> from sdmodels import Model
>>> m = Model("pool")
>>> c = m.parameters({"Pool size": (100, "connections", "Part 3.3"), "Breaker on": (0, "0/1", "")})
>>> specs = parameter_specs(m)
>>> [(s.name, s.low, s.high, s.step) for s in specs]
[('Pool size', 0.0, 200.0, 1.0), ('Breaker on', 0.0, 1.0, 1.0)]
>>> read_value(specs[0], "2 * 60 + 5", {})
125.0
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping

from sdmodels.elements import Constant, canonical
from sdmodels.errors import ModelError, SDModelsError, UnknownNameError, did_you_mean
from sdmodels.expr import Binary, Call, Const, Expr, Ref, Unary
from sdmodels.ir import build
from sdmodels.queueing import SCALAR, recursion

SWITCH_UNITS = ("0/1", "on/off", "boolean", "bool")
FRACTION_UNITS = ("1", "fraction", "dimensionless", "dmnl", "")

_FUNCTIONS = {"abs": abs, "exp": math.exp, "ln": math.log, "log10": math.log10,
              "sqrt": math.sqrt, "min": min, "max": max, "floor": math.floor,
              "ceil": math.ceil, "round": round,
              "erlang_b": lambda servers, load: recursion(servers, load, SCALAR)}
_BINARY = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b,
           "/": lambda a, b: a / b, "^": lambda a, b: a ** b}


class InvalidValueError(ModelError):
    """A value typed for a parameter that cannot be used (not a number, out of range)."""


@dataclass(frozen=True)
class ParameterSpec:
    """One adjustable parameter: its slider range, hard limits, unit and source."""
    name: str
    id: str
    default: float
    low: float
    high: float
    step: float
    units: str
    source: str
    minimum: float = -math.inf       # hard limits: a value outside is refused
    maximum: float = math.inf
    switch: bool = False             # only 0 (off) or 1 (on)

    def to_dict(self) -> dict:
        d = {k: getattr(self, k) for k in ("name", "id", "default", "low", "high", "step",
                                           "units", "source")}
        d.update(switch=self.switch, minimum=None if math.isinf(self.minimum) else self.minimum,
                 maximum=None if math.isinf(self.maximum) else self.maximum)
        return d


def _nice(x: float) -> float:
    """The 1-2-5 number nearest below x (a readable slider step)."""
    if x <= 0:
        return 1.0
    exp10 = 10 ** math.floor(math.log10(x))
    return max(m for m in (1, 2, 5, 10) if m * exp10 <= x * 1.0000001) * exp10


def _spec(element: Constant, scenario_values: list[float]) -> ParameterSpec:
    default = float(element.values[0])
    units = element.units or ""
    values = [default, *scenario_values]
    # switch units on values that are 0 or 1; a mode written with them (a retry part's
    # "Jitter": 0 none, 1 full, 2 equal) is a number, else its own default is refused
    if units.strip().lower() in SWITCH_UNITS and all(v in (0.0, 1.0) for v in values):
        return ParameterSpec(element.display, element.id, default, 0.0, 1.0, 1.0, units,
                             element.doc, 0.0, 1.0, switch=True)
    top = max(abs(v) for v in values)
    high = 2 * top if top > 0 else 1.0
    if units.strip().lower() in FRACTION_UNITS and 0 < top <= 1 and min(values) >= 0:
        high = 1.0
    nonneg = min(values) >= 0
    low = 0.0 if nonneg else -high
    step = _nice((high - low) / 200)
    if all(float(v).is_integer() for v in values) and step >= 0.5:
        step = max(1.0, round(step))
    return ParameterSpec(element.display, element.id, default, low, high, step, units,
                         element.doc, 0.0 if nonneg else -math.inf, math.inf)


def parameter_specs(model) -> list[ParameterSpec]:
    """A spec for every scalar constant of a model (Model, ModelIR, or a Kernel's ir), in
    the model's order. Arrayed constants are left out: one slider cannot say which element."""
    ir = build(model)
    by_scenario: dict[str, list[float]] = {}
    for scenario in ir.scenarios.values():
        for name, value in scenario.params:
            by_scenario.setdefault(canonical(str(name)), []).append(float(value))
    return [_spec(v, by_scenario.get(v.id, [])) for v in ir.variables.values()
            if isinstance(v, Constant) and not v.dims and not v.internal]


def evaluate_constant(expr: Expr, values: Mapping[str, float],
                      names: Mapping[str, str] | None = None) -> float:
    """The value of a parsed equation made of numbers, parameters (by id in `values`) and a
    few pure functions (abs exp ln log10 sqrt min max floor ceil round erlang_b); `names`
    (id -> display name) words the did-you-mean of a name not found."""
    if isinstance(expr, Const):
        return float(expr.value)
    if isinstance(expr, Ref):
        key = canonical(expr.name)
        if key not in values:
            shown = [(names or {}).get(k, k) for k in values]
            raise UnknownNameError(f"'{expr.name}' is neither a number nor a parameter of "
                                   f"this model (a value is a number or an equation of "
                                   f"parameters).{did_you_mean(expr.name, shown)}")
        return float(values[key])
    if isinstance(expr, Unary) and expr.op == "-":
        return -evaluate_constant(expr.operand, values, names)
    if isinstance(expr, Binary) and expr.op in _BINARY:
        a, b = (evaluate_constant(expr.left, values, names),
                evaluate_constant(expr.right, values, names))
        try:
            return float(_BINARY[expr.op](a, b))
        except (ZeroDivisionError, OverflowError):
            raise InvalidValueError(f"'{expr.op}' of {a:g} and {b:g} has no finite value") from None
    if isinstance(expr, Call) and expr.fn in _FUNCTIONS:
        args = [evaluate_constant(a, values, names) for a in expr.args]
        try:
            return float(_FUNCTIONS[expr.fn](*args))
        except (ValueError, OverflowError, TypeError):
            raise InvalidValueError(f"{expr.fn}({', '.join(f'{a:g}' for a in args)}) has no "
                              "value") from None
    raise InvalidValueError(f"a parameter value can use numbers, other parameters, + - * / ^ and "
                      f"{', '.join(sorted(_FUNCTIONS))}; not {type(expr).__name__.lower()} "
                      "terms (time, lookups, delays)")


def read_value(spec: ParameterSpec, raw, values: Mapping[str, float],
               names: Mapping[str, str] | None = None) -> float:
    """A parameter's value from a number or equation text, checked against its hard limits.

    Text goes through sdmodels' equation parser; `values` (id -> number) resolves names.
    """
    from sdmodels.parse import parse_equation
    if isinstance(raw, bool) or raw is None:
        raise InvalidValueError(f"'{spec.name}': {raw!r} is not a number")
    if isinstance(raw, (int, float)):
        value = float(raw)
    elif isinstance(raw, str):
        text = raw.strip()
        if not text:
            raise InvalidValueError(f"'{spec.name}' is empty: type a number (default "
                              f"{spec.default:g} {spec.units})".rstrip())
        try:
            value = evaluate_constant(parse_equation(text), values, names)
        except SDModelsError as exc:
            raise InvalidValueError(f"'{spec.name}': {exc}") from None
    else:
        raise InvalidValueError(f"'{spec.name}': {type(raw).__name__} is not a number")
    if not math.isfinite(value):
        raise InvalidValueError(f"'{spec.name}' must be a finite number, not {value}")
    if not spec.minimum <= value <= spec.maximum:
        if spec.switch:
            why = "is a switch: 0 (off) or 1 (on)"
        else:
            why = f"must be at least {spec.minimum:g} (its default is {spec.default:g})"
        raise InvalidValueError(f"'{spec.name}' = {value:g} is out of range: it {why}")
    if spec.switch and value not in (0.0, 1.0):
        raise InvalidValueError(f"'{spec.name}' = {value:g}: it is a switch, 0 (off) or 1 (on)")
    return value
