"""Units check: every equation whose units do not balance, found by walking the IR with pint.

Why: a flow in req/s drained from a stock of pods, or a latency in ms added to one in s,
runs without complaint and gives numbers an architect may quote. This check reads the
declared units of every element (the `units=` strings) and the expression trees (never
text), and reports each place where they disagree.

Conventions (Vensim's): a countable thing is its own unit, not a bare number, so "pods",
"req" (= request, attempt, call, retry), "connections", "queries", "alerts", "people" are
base dimensions of their own, and any other word a model uses (Vensim's "Person",
"Widget") becomes a new base unit. "1", "Dmnl", "0/1", "0..1", "x normal" and "Erlang" are
dimensionless; "$" is dollars; "degF"/"degC" are temperature differences. A number in an
equation takes whatever units its neighbour in a sum, min/max or comparison has, and is
dimensionless in a product. An element without declared units is unknown: not an error,
only counted; an expression that uses it is not checked beyond it.

>>> from sdmodels import Model
>>> m = Model("mix", stop=1, time_units="second")
>>> q = m.stock("Queue", initial=0, units="req")
>>> _ = m.flow("Arrivals", q + m.constant("Rate", 5, units="req/s"), into=q, units="req/s")
>>> print(check_units(m).problems[0])
Arrivals: '+' operands: req vs req/s. Hint: the terms of a sum, difference, min/max, modulo, comparison or if-then-else must have the same units; convert one (e.g. multiply by a time constant) or fix a declared unit
"""
from __future__ import annotations

import re
import warnings
from dataclasses import dataclass

import pint

from sdmodels.elements import Aux, Constant, Flow, Lookup, PerElement, Stock
from sdmodels.expr import (Binary, Call, Const, Expr, Index, LookupCall, Reduce, Ref, Time,
                           TimeStep, Unary)

#: the domain's countable units, each its own base dimension (Vensim treats "people" so)
_DEFINITIONS = (
    "request = [request] = req = reqs = attempt = call = retry = retries",
    "pod = [pod] = replica", "connection = [connection] = conn = conns",
    "query = [query] = queries", "alert = [alert]", "incident = [incident]", "rule = [rule]",
    "key = [key]", "token = [token]", "message = [message] = msg = msgs",
    "user = [user]", "person = [person] = people", "metric = [metric]",
    "dollar = [currency] = USD", "erlang = [] = Erlang",
)
_DIMENSIONLESS = {"", "1", "0/1", "0..1", "dmnl", "dimensionless", "fraction", "ratio",
                  "x normal", "unitless", "none"}
_WORDS = {"dmnl": "dimensionless", "$": "dollar", "%": "percent", "degF": "delta_degF",
          "degC": "delta_degC"}
_SAME_HINT = ("the terms of a sum, difference, min/max, modulo, comparison or if-then-else must "
              "have the same units; convert one (e.g. multiply by a time constant) or fix a "
              "declared unit")
_PREFIXES = {"milli", "micro", "nano", "kilo", "mega", "giga", "tera"}
_PLAIN = {"abs", "floor", "ceil", "round", "integer"}
_PURE = {"exp", "ln", "log", "log10", "sin", "cos", "tan", "arctan"}
_SHOWN = {"a": "year", "d": "day"}       # pint's symbols that read badly in a message
_ANY = "any"          # a bare number: takes the units its context needs


@dataclass(frozen=True)
class UnitProblem:
    """One equation whose units do not balance."""
    element: str          # display name
    what: str             # what was compared
    left: str             # units on one side
    right: str            # units on the other
    hint: str

    def __str__(self) -> str:
        return f"{self.element}: {self.what}: {self.left} vs {self.right}. Hint: {self.hint}"


@dataclass(frozen=True)
class UnitsReport:
    """The problems of a model, and how many elements were checked or had no units."""
    model: str
    problems: tuple[UnitProblem, ...]
    checked: int
    unknown: tuple[str, ...]          # elements without declared units
    unparsed: tuple[str, ...] = ()    # declared units the checker could not read

    @property
    def clean(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        state = "clean" if self.clean else f"{len(self.problems)} unit problem(s)"
        extra = f", {len(self.unparsed)} with unreadable units" if self.unparsed else ""
        return (f"{self.model}: {state}; {self.checked} elements checked, "
                f"{len(self.unknown)} without declared units{extra}")

    def to_dict(self) -> dict:
        return {"model": self.model, "clean": self.clean, "checked": self.checked,
                "unknown": list(self.unknown), "unparsed": list(self.unparsed),
                "problems": [p.__dict__ for p in self.problems]}


class UnitRegistry(pint.UnitRegistry):
    """pint's registry plus the words a model brought (`own`: word -> internal unit name)."""

    def __init__(self):
        super().__init__()
        for line in _DEFINITIONS:
            self.define(line)
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
    if unit is _ANY or unit.dimensionless and not str(unit):
        return "1"
    text = format(unit, "~C").replace("own_", "") or "1"
    return re.sub(r"\b(a|d)\b", lambda m: _SHOWN[m.group(1)], text)


def _ratio(ureg, a, b) -> float | None:
    """The factor from unit a to unit b, None when the dimensions differ."""
    if a.dimensionality != b.dimensionality:
        return None
    return ureg.Quantity(1.0, a).to(b).magnitude


def _equal(ureg, a, b) -> bool:
    r = _ratio(ureg, a, b)
    return r is not None and abs(r - 1.0) < 1e-9


class _Checker:
    """Walks one built model; `problems` collects what does not balance."""

    def __init__(self, ir, ureg):
        self.ir, self.ureg = ir, ureg
        self.problems: list[UnitProblem] = []
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
        self.problems.append(UnitProblem(self.host, what, show(a), show(b), hint))

    def same(self, what: str, a, b, hint: str = _SAME_HINT):
        """Units of two operands that must agree; the known one when only one is known."""
        if a is None or a is _ANY:
            return b if a is _ANY or b is not _ANY else a
        if b is None or b is _ANY:
            return a
        if not _equal(self.ureg, a, b):
            self.report(what, a, b, hint)
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
        if a is _ANY and b is _ANY:
            return _ANY
        a = self.ureg.dimensionless if a is _ANY else a
        b = self.ureg.dimensionless if b is _ANY else b
        return a * b if op == "*" else a / b

    def call(self, fn: str, args: list, node: Call):
        u = self.ureg
        if fn in _PLAIN:
            return args[0]
        if fn in _PURE:
            return self.pure(fn, args[0])
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
            return self.same("xidz() quotient vs fallback", self.binary("/", args[0], args[1], node),
                             args[2])
        if fn in ("random_uniform", "random_normal"):
            return self.same(f"{fn}() arguments", args[0], args[1])
        return None

    # ------------------------------------------------------------------ elements
    def declared_vs(self, el, computed, what="equation") -> None:
        want = self.declared.get(el.id)
        if want is not None and computed not in (None, _ANY) and not _equal(self.ureg, computed, want):
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
            if not _equal(self.ureg, rate, want):
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
    return UnitsReport(ir.name, tuple(problems), len(shown), unknown, tuple(checker.unparsed))
