"""Units check: every equation whose units do not balance, found by walking the IR with pint.

Why: a flow in req/s drained from a stock of pods, or a latency in ms added to one in s,
runs without complaint and gives numbers an architect may quote. This check reads the
declared units of every element (the `units=` strings) and the expression trees (never
text), and reports each place where they disagree.

Units are read as Vensim reads them (a countable thing such as "pods" or "req" is its own
unit; see `sdmodels.unit_names`). A number in an equation takes whatever units its
neighbour in a sum, min/max or comparison has, and any units times a dimensionless factor
(`600 * surge_on`), but is dimensionless in a product with a dimensioned one. An element
without declared units is unknown: not an error, only counted; an expression that uses it
is not checked beyond it. Scale counts: req/s is not req/min.

>>> from sdmodels import Model
>>> m = Model("mix", stop=1, time_units="second")
>>> q = m.stock("Queue", initial=0, units="req")
>>> _ = m.flow("Arrivals", q + m.constant("Rate", 5, units="req/s"), into=q, units="req/s")
>>> print(check_units(m).problems[0])
Arrivals: '+' operands: req vs req/s. Hint: the terms of a sum, difference, min/max, modulo, comparison or if-then-else must have the same units; convert one (e.g. multiply by a time constant) or fix a declared unit
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

from sdmodels.unit_names import (UnitRegistry, parse_units, same_units, show,
                                          unit_registry)
from sdmodels.elements import Aux, Constant, Flow, Lookup, PerElement, Stock
from sdmodels.expr import (Binary, Call, Const, Expr, Index, LookupCall, Reduce, Ref, Time,
                           TimeStep, Unary)

_SAME_HINT = ("the terms of a sum, difference, min/max, modulo, comparison or if-then-else must "
              "have the same units; convert one (e.g. multiply by a time constant) or fix a "
              "declared unit")
_PLAIN = {"abs", "floor", "ceil", "round", "integer"}
_PURE = {"exp", "ln", "log", "log10", "sin", "cos", "tan", "arctan"}
_ANY = "any"          # a bare number: takes the units its context needs


@dataclass(frozen=True)
class UnitIssue:
    """One equation whose units do not balance."""
    element: str          # display name
    what: str             # what was compared
    left: str             # units on one side
    right: str            # units on the other
    hint: str

    @property
    def message(self) -> str:
        return f"{self.what}: {self.left} vs {self.right}. Hint: {self.hint}"

    def __str__(self) -> str:
        return f"{self.element}: {self.message}"


@dataclass(frozen=True)
class UnitsReport:
    """The problems of a model, and how many elements were checked or had no units."""
    model: str
    problems: tuple[UnitIssue, ...]
    checked: int
    unknown: tuple[str, ...]          # elements without declared units
    unparsed: tuple[str, ...] = ()    # declared units the checker could not read
    time_unit: bool = True            # False: the model's time unit is unknown, so flows
                                      # were not checked against their stocks

    @property
    def clean(self) -> bool:
        return not self.problems

    def __iter__(self):                 # a report reads as its list of issues
        return iter(self.problems)

    def __len__(self) -> int:
        return len(self.problems)

    def summary(self) -> str:
        state = "clean" if self.clean else f"{len(self.problems)} unit problem(s)"
        extra = f", {len(self.unparsed)} with unreadable units" if self.unparsed else ""
        if not self.time_unit:
            extra += "; flows not checked against stocks (give the model a time unit)"
        return (f"{self.model}: {state}; {self.checked} elements checked, "
                f"{len(self.unknown)} without declared units{extra}")

    def to_dict(self) -> dict:
        return {"model": self.model, "clean": self.clean, "checked": self.checked,
                "unknown": list(self.unknown), "unparsed": list(self.unparsed),
                "time_unit": self.time_unit,
                "problems": [p.__dict__ for p in self.problems]}


class _Checker:
    """Walks one built model; `problems` collects what does not balance."""

    def __init__(self, ir, ureg):
        self.ir, self.ureg = ir, ureg
        self.problems: list[UnitIssue] = []
        self.unparsed: list[str] = []
        self.declared: dict[str, object] = {}
        for vid, el in ir.variables.items():
            try:
                self.declared[vid] = parse_units(ureg, el.units)
            except ValueError:
                self.declared[vid] = None
                self.unparsed.append(f"{el.display} ({el.units})")
        try:
            self.time = parse_units(ureg, ir.time_units) if ir.time_units != "time" else None
        except ValueError:
            self.time = None
        self.delay_input = {d.output: d for d in ir.delays}
        self.host = ""

    def report(self, what: str, a, b, hint: str) -> None:
        self.problems.append(UnitIssue(self.host, what, show(a), show(b), hint))

    def same(self, what: str, a, b, hint: str = _SAME_HINT):
        """Units of two operands that must agree; the known one when only one is known."""
        if a is None or a is _ANY:
            return b if a is _ANY or b is not _ANY else a
        if b is None or b is _ANY:
            return a
        if not same_units(self.ureg, a, b):
            self.report(what, a, b, hint)
            return None                 # reported once here, not again where it is used
        return a

    def pure(self, fn: str, a):
        if a not in (None, _ANY) and not a.dimensionless:
            self.report(f"{fn}() argument vs dimensionless", a, self.ureg.dimensionless,
                        f"{fn}() needs a dimensionless argument; divide it by a reference "
                        "value with the same units")
        return self.ureg.dimensionless

    # ------------------------------------------------------------------ expressions
    def units(self, node: Expr):
        """The units of an expression: a pint Unit, _ANY for numbers, None when unknown."""
        u = self.ureg
        if isinstance(node, Const):
            return _ANY
        if isinstance(node, Ref):
            return self.ref(node.name)
        if isinstance(node, Index):
            return self.units(node.target)
        if isinstance(node, (Time, TimeStep)):
            return self.time
        if isinstance(node, Unary):
            inner = self.units(node.operand)
            return inner if node.op == "-" else u.dimensionless
        if isinstance(node, Binary):
            return self.binary(node.op, self.units(node.left), self.units(node.right), node)
        if isinstance(node, Call):
            return self.call(node.fn, [self.units(a) for a in node.args], node)
        if isinstance(node, LookupCall):
            self.units(node.arg)
            return self.declared.get(node.table)
        if isinstance(node, Reduce):
            inner = self.units(node.operand)
            return None if node.op == "prod" else inner
        for child in node.children():       # vector built-ins and the like: not checked
            self.units(child)
        return None

    def ref(self, vid: str):
        if vid in self.delay_input:              # the output of a delay, smooth or sampler
            info = self.delay_input[vid]
            saved, self.host = self.host, self.ir.variables[info.host].display
            try:
                return self.units(info.input)
            finally:
                self.host = saved
        return self.declared.get(vid)

    def binary(self, op: str, a, b, node: Binary):
        if op in ("+", "-"):
            return self.same(f"'{op}' operands", a, b)
        if op in ("<", "<=", ">", ">=", "=", "<>"):
            self.same(f"'{op}' operands", a, b)
            return self.ureg.dimensionless
        if op in ("and", "or"):
            return self.ureg.dimensionless
        if op == "^":
            if b not in (None, _ANY) and not b.dimensionless:
                self.report("'^' exponent vs dimensionless", b, self.ureg.dimensionless,
                            "an exponent must be a dimensionless number")
            if a is None or a is _ANY:
                return a
            if isinstance(node.right, Const):
                return a ** node.right.value
            return a if a.dimensionless else None
        if a is None or b is None:
            return None
        if _ANY in (a, b) and (a is b or (b if a is _ANY else a).dimensionless):
            return _ANY         # a number times a ratio or switch (600 * surge_on): any units
        a = self.ureg.dimensionless if a is _ANY else a
        b = self.ureg.dimensionless if b is _ANY else b
        return a * b if op == "*" else a / b

    def call(self, fn: str, args: list, node: Call):
        u = self.ureg
        if fn in _PLAIN:
            return args[0]
        if fn in _PURE:
            return self.pure(fn, args[0])
        if fn == "erlang_b":        # a server count and a load in Erlangs: plain numbers
            for a in args:
                self.pure(fn, a)
            return u.dimensionless
        if fn == "sqrt":
            return None if args[0] is None else _ANY if args[0] is _ANY else args[0] ** 0.5
        if fn in ("min", "max", "modulo"):
            return self.same(f"{fn}() arguments", args[0], args[1])
        if fn == "if_then_else":
            return self.same("if-then-else branches", args[1], args[2])
        if fn in ("step", "ramp", "pulse", "pulse_train"):
            for a in args[1 if fn in ("step", "ramp") else 0:]:
                self.same(f"{fn}() time vs model time", a, self.time,
                          f"{fn}()'s times must be in the model's time unit")
            if fn == "ramp":
                return self.binary("*", args[0], self.time, node)
            return args[0] if fn == "step" else u.dimensionless
        if fn == "zidz":
            return self.binary("/", args[0], args[1], node)
        if fn == "xidz":
            quotient = self.binary("/", args[0], args[1], node)
            return self.same("xidz() quotient vs fallback", quotient, args[2])
        if fn in ("random_uniform", "random_normal"):
            return self.same(f"{fn}() arguments", args[0], args[1])
        return None

    # ------------------------------------------------------------------ elements
    def declared_vs(self, el, computed, what="equation") -> None:
        want = self.declared.get(el.id)
        if want is None or computed in (None, _ANY):
            return
        if not same_units(self.ureg, computed, want):
            self.report(f"{what} vs declared units", computed, want,
                        f"the equation's units differ from the declared '{el.units}': fix the "
                        "declaration, or convert in the equation")

    def equations(self, value):
        if isinstance(value, PerElement):
            return [e for _, e in value.items]
        return [] if value is None else [value]

    def element(self, el) -> None:
        self.host = el.display
        if isinstance(el, (Aux, Flow)):
            for expr in self.equations(el.equation):
                self.declared_vs(el, self.units(expr))
        if isinstance(el, (Aux, Stock)):
            for expr in self.equations(el.initial):
                self.declared_vs(el, self.units(expr), "initial value")
        if isinstance(el, Flow):
            self.flow(el)

    def flow(self, el: Flow) -> None:
        rate = self.declared.get(el.id)
        if rate is None:
            computed = [self.units(e) for e in self.equations(el.equation)]
            rate = next((c for c in computed if c not in (None, _ANY)), None)
        for stock_id in (el.into, el.out_of):
            stock = self.declared.get(stock_id) if stock_id else None
            if stock is None or rate is None or self.time is None:
                continue
            want = stock / self.time
            if not same_units(self.ureg, rate, want):
                name = self.ir.variables[stock_id].display
                self.report(f"flow vs stock '{name}' per time unit", rate, want,
                            f"a flow's units are its stock's units per {self.ir.time_units} "
                            f"(the model's time unit): declare it as {show(want)}, or "
                            "convert in the equation")

    def delays(self) -> None:
        for info in self.ir.delays:
            self.host = self.ir.variables[info.host].display
            self.same(f"{info.kind} time vs model time", self.units(info.time), self.time,
                      f"a {info.kind} time must be in the model's time unit "
                      f"({self.ir.time_units})")


def check_units(model, *, ureg: UnitRegistry | None = None) -> UnitsReport:
    """Check the units of every equation of `model` (a Model or built ModelIR).

    Pass `ureg` (from `unit_registry()`) to reuse one registry over many models.
    """
    from sdmodels.ir import build
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ir = build(model)
    checker = _Checker(ir, ureg or unit_registry())
    shown = [el for el in ir.variables.values() if not el.internal]
    for el in shown:
        checker.element(el)
    checker.delays()
    seen, problems = set(), []
    for p in checker.problems:               # a delay's input is read once per use
        if p not in seen:
            seen.add(p)
            problems.append(p)
    unknown = tuple(el.display for el in shown if not el.units.strip()
                    and isinstance(el, (Aux, Flow, Stock, Constant, Lookup)))
    return UnitsReport(ir.name, tuple(problems), len(shown), unknown, tuple(checker.unparsed),
                       checker.time is not None)
