"""Unit consistency: every equation's units, worked out from its tree, against the declared.

`check_units(model)` walks each equation of a model (its own and its modules') with the
units its elements declare, and reports where they do not balance: a sum or comparison of
two different dimensions ("s + req"), a function argument that must be dimensionless
(`exp`, `ln`, trigonometry), an equation whose units differ from the element's, and a flow
whose units are not its stock's per time unit. Units are parsed by pint
(pint.readthedocs.io); the words a model invents ("req", "pods", "msg") become base units
of their own, singular and plural alike, so "pods/s" and "pod/s" agree and "req/s" and
"queries/s" do not. An element without units, a number and a random draw match anything
(numbers in SD equations carry the units their place needs); "1", "0/1", "%" and ratios
such as "x normal" are dimensionless, and "req" is "request". Equations inside expanded delays and smooths are the engine's, not checked;
their output has the units of their input.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from sdmodels.elements import Aux, Constant, Flow, Stock
from sdmodels.expr import (Binary, Call, Const, Expr, Index, LookupCall, Reduce, Ref, Stateful,
                           Time, TimeStep, Unary)

_SAME = {"min", "max", "abs", "floor", "ceil", "round", "integer", "modulo", "minimum",
         "maximum"}
_PURE = {"exp", "ln", "log", "log10", "sin", "cos", "tan", "arcsin", "arccos", "arctan"}
_COMPARE = {"<", "<=", ">", ">=", "=", "<>", "==", "!="}
_LOGIC = {"and", "or"}
_DIMENSIONLESS = {"", "1", "0/1", "dmnl", "dimensionless", "fraction", "%"}
#: the same unit under two names in these models
_ALIASES = {"req": "request", "msg": "message"}
#: pint counts bytes as dimensionless (bit = []); here memory is a dimension of its own
_MEMORY = {"B": 1, "kB": 1e3, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12, "KiB": 2 ** 10,
           "MiB": 2 ** 20, "GiB": 2 ** 30}


@dataclass(frozen=True)
class UnitIssue:
    """One equation whose units do not balance."""
    element: str
    message: str

    def __str__(self) -> str:
        return f"{self.element}: {self.message}"


def check_units(model) -> list[UnitIssue]:
    """Every equation of `model` whose units do not balance, as `UnitIssue`s.

    >>> from sdmodels import Model
    >>> m = Model("m", stop=1, time_units="second")
    >>> s = m.stock("Queue", 0, units="req")
    >>> f = m.flow("In", 5, into=s, units="req/s")
    >>> a = m.aux("Wait", s / f + m.time, units="s")
    >>> b = m.aux("Load", s + m.time, units="req")
    >>> [str(i) for i in check_units(m)]
    ["Load: cannot add or compare request and s ('Queue', time)"]
    """
    from sdmodels.ir import ModelIR, build
    ir = model if isinstance(model, ModelIR) else build(model)
    return _Checker(ir).run()


class _Checker:
    def __init__(self, ir):
        import pint
        self.ir = ir
        self.ureg = pint.UnitRegistry()
        self.outputs = {d.output: d for d in ir.delays}
        self.cache: dict[str, object] = {}
        self.issues: list[UnitIssue] = []
        self.where = ""
        self.ureg.define("memory_B = [memory]")
        for word, size in _MEMORY.items():
            if size != 1:
                self.ureg.define(f"memory_{word} = {size:g} * memory_B")
        self.time = self.parse(ir.time_units) or self.ureg.second

    # -- units of names -------------------------------------------------------------------
    def parse(self, text: str):
        """A pint unit for a units string; None when it says nothing (no units)."""
        text = (text or "").strip()
        text = re.sub(r"\bx normal\b", "1", text)            # a multiple of normal: a ratio
        if text.lower() in _DIMENSIONLESS:
            return self.ureg.dimensionless if text else None
        text = re.sub(r"\b(%s)\b" % "|".join(_MEMORY), r"memory_\1", text)
        for word in set(re.findall(r"[A-Za-z_][A-Za-z_0-9]*", text)):
            self._define(word)
        try:
            return self.ureg.parse_units(text.replace("%", "percent"))
        except Exception:           # noqa: BLE001 - pint raises several kinds; then unknown
            return None

    def _define(self, word: str) -> None:
        if self._known(word):
            return
        if word in _ALIASES:
            self._define(_ALIASES[word])
            self.ureg.define(f"@alias {_ALIASES[word]} = {word}")
            return
        single = word[:-3] + "y" if word.endswith("ies") else \
            word[:-1] if word.endswith("s") and len(word) > 2 else word
        if not self._known(single):
            self.ureg.define(f"{single} = [{single}]")
        if not self._known(word):
            self.ureg.define(f"{word} = {single}")

    def _known(self, word: str) -> bool:
        try:
            self.ureg.parse_units(word)
            return True
        except Exception:           # noqa: BLE001
            return False

    def of(self, var_id: str):
        """The units of an element: declared, or for a delay's output, its input's."""
        if var_id not in self.cache:
            self.cache[var_id] = None                  # a cycle through internals: unknown
            var = self.ir.variables.get(var_id)
            if var is None:
                unit = None
            elif not var.internal:
                unit = self.parse(var.units)
            elif var_id in self.outputs and self.outputs[var_id].kind != "trend":
                unit = self.expr(self.outputs[var_id].input, report=False)
            else:
                unit = None
            self.cache[var_id] = unit
        return self.cache[var_id]

    # -- units of expressions ---------------------------------------------------------------
    def expr(self, e: Expr, report: bool = True):
        """The units of `e` (None: anything), reporting imbalances when `report`."""
        if isinstance(e, Const):
            return None
        if isinstance(e, Ref):
            return self.of(self.id(e.name))
        if isinstance(e, Index):
            return self.expr(e.target, report)
        if isinstance(e, (Time, TimeStep)):
            return self.time
        if isinstance(e, Unary):
            inner = self.expr(e.operand, report)
            return self.ureg.dimensionless if e.op == "not" else inner
        if isinstance(e, Binary):
            return self.binary(e, report)
        if isinstance(e, (Call, Stateful)):
            return self.call(e, report)
        if isinstance(e, Reduce):
            inner = self.expr(e.operand, report)
            return None if e.op == "prod" else inner
        if isinstance(e, LookupCall):
            self.expr(e.arg, report)
            return self.of(self.id(e.table))
        return None

    def id(self, name: str) -> str:
        if name in self.ir.variables:
            return name
        try:
            return self.ir.id_of(name)
        except Exception:           # noqa: BLE001 - build has checked every name
            return name

    def binary(self, e: Binary, report: bool):
        a, b = self.expr(e.left, report), self.expr(e.right, report)
        if e.op in ("+", "-") or e.op in _COMPARE:
            self.same(a, b, e.left, e.right, report)
            return self.ureg.dimensionless if e.op in _COMPARE else (a if a is not None else b)
        if e.op in _LOGIC:
            return self.ureg.dimensionless
        one = self.ureg.dimensionless
        if e.op == "*":
            return None if a is None and b is None else (a or one) * (b or one)
        if e.op == "/":
            return None if a is None and b is None else (a or one) / (b or one)
        if e.op == "^":
            if isinstance(e.right, Const) and a is not None:
                return a ** e.right.value
            self.pure(a, e.left, report, "a power with a variable exponent")
            return a if a is None else one
        return None

    def call(self, e, report: bool):
        fn, args = e.fn.lower(), e.args
        units = [self.expr(a, report) for a in args]
        first = units[0] if units else None
        if fn in _PURE:
            self.pure(first, args[0], report, fn)
            return self.ureg.dimensionless
        if fn == "sqrt":
            return first ** 0.5 if first is not None else None
        if fn in _SAME:
            for u, a in zip(units[1:], args[1:]):
                self.same(first, u, args[0], a, report)
            return next((u for u in units if u is not None), None)
        if fn == "if_then_else":
            self.same(units[1], units[2], args[1], args[2], report)
            return units[1] if units[1] is not None else units[2]
        if fn in ("xidz", "zidz"):
            if first is None and units[1] is None:
                return None
            one = self.ureg.dimensionless
            return (first or one) / (units[1] or one)
        if fn == "step":
            return first
        if fn == "ramp":
            return first * self.time if first is not None else None
        if fn in ("pulse", "pulse_train"):
            return self.ureg.dimensionless
        if fn.startswith(("delay", "smooth", "sample", "rolling")):
            return first
        if fn == "trend":
            return 1 / self.time
        return None

    def differ(self, a, b) -> bool:
        """Two units that are not the same: other dimensions, or a scale (s and min)."""
        if a.dimensionality != b.dimensionality:
            return True
        try:
            return abs((1 * a).to(b).magnitude - 1) > 1e-9
        except Exception:           # noqa: BLE001 - offset units (degF against delta_degF)
            return False

    def same(self, a, b, left, right, report: bool) -> None:
        if report and a is not None and b is not None and self.differ(a, b):
            self.issue(f"cannot add or compare {self.show(a)} and {self.show(b)} "
                       f"({self.name(left)}, {self.name(right)})")

    def pure(self, unit, arg, report: bool, what: str) -> None:
        if report and unit is not None and not unit.dimensionality == {}:
            self.issue(f"{what} of {self.name(arg)} in {self.show(unit)}: it must be "
                       "dimensionless")

    def name(self, e: Expr) -> str:
        if isinstance(e, Ref):
            return repr(self.ir.display(self.id(e.name)))
        if isinstance(e, Const):
            return repr(e.value)
        if isinstance(e, (Time, TimeStep)):
            return "time" if isinstance(e, Time) else "dt"
        return "an expression"

    def show(self, unit) -> str:
        text = f"{unit:~}".replace(" ", "").replace("memory_", "")
        return text or "1"

    def issue(self, message: str) -> None:
        self.issues.append(UnitIssue(self.where, message))

    # -- elements ------------------------------------------------------------------------
    def run(self) -> list[UnitIssue]:
        from sdmodels.ir import expressions
        for var in self.ir.variables.values():
            if var.internal or isinstance(var, Constant):
                continue
            self.where = var.display
            declared = self.parse(var.units)
            for field, e in expressions(var):
                got = self.expr(e)
                if field in ("equation", "initial") and isinstance(var, (Aux, Flow, Stock)) \
                        and declared is not None and got is not None \
                        and self.differ(got, declared):
                    self.issue(f"declared {self.show(declared)}, its equation gives "
                               f"{self.show(got)}")
            if isinstance(var, Flow) and declared is not None:
                stock = var.into or var.out_of
                per = self.of(stock) / self.time if self.of(stock) is not None else None
                if per is not None and self.differ(per, declared):
                    self.issue(f"a flow of {self.ir.display(stock)!r} ({self.show(self.of(stock))}"
                               f") must be in {self.show(per)}, not {self.show(declared)}")
        return self.issues
