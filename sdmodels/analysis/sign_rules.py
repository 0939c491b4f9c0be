"""Sign rules over equation trees: which signs a value can take, and the sign of its slope.

`Structure` reads one IR's equations by monotonicity rules (see `sdmodels.analysis.polarity`
for the rules and how link polarities are assembled from them, the runs and what the
modeller stated); the small sign algebra here is shared with `sdmodels.analysis.terms`.

>>> combine(1, 0), combine(1, -1), scaled(-1, frozenset((0, 1)))
(1, None, -1)
>>> lookup_direction([0, 1, 1, 3])
1
"""
from __future__ import annotations

from typing import Mapping

import numpy as np

from sdmodels.expr import (Binary, Call, Const, Expr, Index, LookupCall, Reduce, Ref, Time,
                           TimeStep, Unary)
from sdmodels.elements import Aux, Constant, Flow, Stock
from sdmodels.ir import ModelIR

from sdmodels.analysis.graph import Through, host_expression
from sdmodels.analysis.intervals import Ranges, signs
from sdmodels.analysis.terms import division_guard, grouped_slope, grouped_value

ANY = frozenset((-1, 0, 1))


def _add(a: int, b: int) -> frozenset:
    if a == 0 or a == b:
        return frozenset((b,))
    if b == 0:
        return frozenset((a,))
    return ANY


def combine(a: int | None, b: int | None) -> int | None:
    """The sign of a sum of two effects."""
    if a == 0:
        return b
    if b == 0 or a == b:
        return a
    return None


def scaled(slope: int | None, signs: frozenset) -> int | None:
    """The sign of an effect multiplied by a factor whose value signs are `signs`."""
    if slope == 0 or signs == {0}:
        return 0
    if slope is None:
        return None
    if signs <= {0, 1}:
        return slope
    if signs <= {-1, 0}:
        return -slope
    return None


def _neg(s: int | None) -> int | None:
    return None if s is None else -s


def lookup_direction(ys) -> int | None:
    """+1 when a lookup never decreases, -1 when it never increases, 0 flat, else None."""
    steps = np.diff(np.asarray(ys, dtype=float))
    if not np.any(steps):
        return 0
    if np.all(steps >= 0):
        return 1
    if np.all(steps <= 0):
        return -1
    return None


class Structure:
    """Sign reasoning over one IR's equation trees.

    Value signs come from interval arithmetic (`Ranges`) and from sign rules, whichever is
    sharper; where neither can tell, from the values seen in the runs (`observed` per
    variable, `sample` for a sub-expression), when a run was made.
    """

    INCREASING = ("exp", "sqrt", "ln", "log10", "arctan", "floor", "ceil", "round", "integer")

    def __init__(self, ir: ModelIR, observed: Mapping[str, frozenset] | None = None, *,
                 ranges: Ranges | None = None, sample=None, where: tuple = ()):
        self.ir = ir
        self.observed = observed or {}      # value signs seen in a run, used where the
        self._values: dict[str, frozenset] = {}   # declarations prove nothing
        self.ranges = ranges if ranges is not None else Ranges(ir)
        self.sample = sample                # (expr, where) -> signs seen along the runs
        self.where = where                  # ((condition, truth), ...): inside branches
        self._memo: dict[Expr, frozenset] = {}
        self._slopes: dict[tuple[Expr, str], int | None] = {}
        self._regrouping: set[Expr] = set()     # sums being regrouped (no regress)
        self._inside: dict[tuple, Structure] = {}

    def within(self, condition: Expr, truth: bool) -> "Structure":
        """The same reasoning inside one branch of an if_then_else: values sampled from the
        runs count only at the times the branch was taken (nothing changes without runs)."""
        if self.sample is None:
            return self
        key = (condition, truth)
        if key not in self._inside:
            inner = Structure(self.ir, self.observed, ranges=self.ranges, sample=self.sample,
                              where=self.where + (key,))
            inner._values = self._values            # variables' signs are not per branch
            self._inside[key] = inner
        return self._inside[key]

    # value signs: which of {-1, 0, +1} the value can take
    def var_value(self, name: str) -> frozenset:
        if name in self._values:
            return self._values[name]
        v = self.ir.variables.get(name)
        self._values[name] = ANY         # a cycle of auxiliaries proves nothing
        if isinstance(v, Constant) or isinstance(v, Aux) and isinstance(v.equation, Const):
            out = signs(self.ranges.var(name))  # covers scenarios, params, switches
        elif isinstance(v, Stock):
            out = frozenset((0, 1)) if v.non_negative else ANY
        elif isinstance(v, (Aux, Flow)) and not v.internal:
            expr = host_expression(self.ir, v)
            out = self.value(expr) if expr is not None else ANY
            if isinstance(v, Flow) and v.non_negative:
                out = out & {0, 1} or frozenset((0,))
        else:
            out = ANY
        out = (out & signs(self.ranges.var(name))) or out
        if _both(out) and _informative(self.observed.get(name)):
            out = self.observed[name]
        self._values[name] = _not_stuck(out, self.ranges.var(name))
        return self._values[name]

    def value(self, e: Expr) -> frozenset:
        """The signs `e` can take."""
        if e in self._memo:
            return self._memo[e]
        out = self._rule_value(e)
        out = (out & signs(self.ranges.of(e))) or out
        if _both(out) and self.sample is not None and not isinstance(e, (Ref, Const)):
            seen = self.sample(e, self.where)
            if _informative(seen):
                out = seen
        self._memo[e] = out = _not_stuck(out, self.ranges.of(e))
        return out

    def _rule_value(self, e: Expr) -> frozenset:
        out = self._plain_value(e)
        if _both(out) and isinstance(e, Binary) and e.op in "+-":
            out = out & grouped_value(self, e)
        return out

    def _plain_value(self, e: Expr) -> frozenset:
        if isinstance(e, Const):
            return frozenset((int(np.sign(e.value)),))
        if isinstance(e, Ref):
            return self.var_value(e.name)
        if isinstance(e, Through):
            return ANY                   # the interval covers input and start value
        if isinstance(e, Index):
            return self.value(e.target)
        if isinstance(e, TimeStep):
            return frozenset((1,))
        if isinstance(e, Time):
            return frozenset((0, 1)) if self.ir.start >= 0 else ANY
        if isinstance(e, Unary):
            return frozenset((0, 1)) if e.op == "not" else frozenset(-x for x in self.value(e.operand))
        if isinstance(e, Binary):
            if e.op not in "+-*/^":
                return frozenset((0, 1))
            a, b = self.value(e.left), self.value(e.right)
            if e.op == "-":
                b = frozenset(-x for x in b)
            if e.op in "+-":
                return frozenset().union(*(_add(x, y) for x in a for y in b))
            if e.op == "*":
                return frozenset(x * y for x in a for y in b)
            if e.op == "/":
                return frozenset(x * y for x in a for y in b if y != 0) or frozenset((0,))
            return frozenset((1,)) if a == {1} else (frozenset((0, 1)) if a <= {0, 1} else ANY)
        if isinstance(e, Call):
            return self._call_value(e)
        if isinstance(e, LookupCall):
            table = self.ir.variables[e.table]
            return frozenset(int(np.sign(y)) for y in table.ys)
        if isinstance(e, Reduce):
            inner = self.value(e.operand)
            return inner if e.op != "prod" or inner <= {1} else ANY
        return ANY

    def _call_value(self, e: Call) -> frozenset:
        fn = e.fn
        if fn == "exp":
            return frozenset((1,))
        if fn in ("pulse", "pulse_train"):
            return frozenset((0, 1))
        if fn == "erlang_b":        # 1 / R with R <= 1e285 (sdmodels/queueing.py): never 0
            return frozenset((1,))
        args = [self.value(a) for a in e.args]
        if fn in ("sqrt", "abs"):
            return frozenset((0,)) if args[0] == {0} else frozenset((0, 1))
        if fn in ("min", "max"):
            pick = min if fn == "min" else max
            return frozenset(pick(x, y) for x in args[0] for y in args[1])
        if fn == "if_then_else":
            return args[1] | args[2]
        if fn in ("xidz", "zidz"):
            q = frozenset(x * y for x in args[0] for y in args[1] if y != 0) or frozenset((0,))
            return q | (args[2] if fn == "xidz" else frozenset((0,)))
        if fn == "step":
            return args[0] | {0}
        if fn in ("floor", "ceil", "round", "integer"):
            return args[0] | {0}
        return ANY

    # slopes: the sign of d expr / d wrt, or None when the structure cannot tell
    def slope(self, e: Expr, wrt: str) -> int | None:
        key = (e, wrt)
        if key not in self._slopes:
            out = self._rule_slope(e, wrt)
            if out is None and isinstance(e, Binary) and e.op in "+-*":
                out = grouped_slope(self, e, wrt)
            self._slopes[key] = out
        return self._slopes[key]

    def _rule_slope(self, e: Expr, wrt: str) -> int | None:
        s = lambda x: self.slope(x, wrt)  # noqa: E731
        if isinstance(e, Ref):
            return 1 if e.name == wrt else 0
        if isinstance(e, Through):
            return s(e.input)
        if isinstance(e, Index):
            return s(e.target)
        if isinstance(e, (Const, Time, TimeStep)):
            return 0
        if isinstance(e, Unary):
            return _neg(s(e.operand))
        if isinstance(e, Binary):
            sa, sb = s(e.left), s(e.right)
            op = e.op
            if op == "+" or op in ("and", "or"):
                return combine(sa, sb)
            if op == "-":
                b = _beside(e.left, e.right)     # a - min(a, b) = max(0, a - b), or
                if b is not None:                # min(0, a - b) for max: both follow a - b
                    return combine(sa, _neg(s(b)))
                b = _beside(e.right, e.left)     # min(a, b) - a = min(0, b - a), and max
                if b is not None:
                    return combine(s(b), _neg(sb))
                return combine(sa, _neg(sb))
            if op == "*":
                return combine(scaled(sa, self.value(e.right)), scaled(sb, self.value(e.left)))
            if op == "/":
                return combine(scaled(sa, self.value(e.right) - {0}),
                               scaled(_neg(sb), self.value(e.left)))
            if op in (">", ">="):
                return combine(sa, _neg(sb))
            if op in ("<", "<="):
                return combine(_neg(sa), sb)
            if op == "^":
                return self._power(e, sa, sb)
            return 0 if sa == 0 and sb == 0 else None
        if isinstance(e, Call):
            return self._call(e, wrt)
        if isinstance(e, LookupCall):
            inner = s(e.arg)
            if inner == 0:
                return 0
            return scaled(inner, self._direction(e.table, self.ranges.of(e.arg)))
        if isinstance(e, Reduce):
            inner = s(e.operand)
            return inner if e.op != "prod" or inner == 0 else None
        return None

    def _jump(self, e: Call, truth: int | None) -> int | None:
        """The sign of an if_then_else's jump when its condition turns true as the cause
        rises (`truth` +1) or false (-1): then - else at the switch. Each branch being
        continuous, a side of the switch on which then - else keeps one sign gives it; the
        value signs come from intervals, else from the runs on that side."""
        if truth is None:
            return None
        cond, then, other = e.args
        gap = Binary("-", then, other)
        sides = {self.within(cond, t).value(gap) for t in (True, False)}
        one = {frozenset(s - {0}) for s in sides if len(s - {0}) == 1}
        if len(one) != 1:
            return None
        return scaled(truth, next(iter(one)) | {0})

    def _direction(self, table: str, arg=(-np.inf, np.inf)) -> frozenset:
        """How the lookup moves over the arguments it can get (outside its points it is
        flat unless it extrapolates)."""
        t = self.ir.variables[table]
        xs, ys = list(t.xs), list(t.ys)
        lo, hi = arg
        if not t.extrapolate and len(xs) > 1:
            keep = [k for k in range(len(xs) - 1) if xs[k + 1] >= lo and xs[k] <= hi]
            ys = [ys[k] for k in keep] + [ys[keep[-1] + 1]] if keep else ys[:1]
        d = lookup_direction(ys)
        return ANY if d is None else frozenset((d,))

    def _power(self, e: Binary, sa, sb) -> int | None:
        """d(a^b): b a^(b-1) da + a^b ln(a) db, for a > 0 (or a >= 0 with b > 0)."""
        base, exponent = self.ranges.of(e.left), self.ranges.of(e.right)
        by_base = 0 if sa == 0 else None
        if sa != 0 and (base[0] >= 0 or exponent in ((1.0, 1.0), (3.0, 3.0))):
            if exponent == (0.0, 0.0):
                by_base = 0
            elif exponent[0] > 0:
                by_base = sa
            elif exponent[1] < 0 and base[0] >= 0:
                by_base = _neg(sa)
        by_exponent = 0 if sb == 0 else None
        if sb != 0 and base[0] > 0:
            if base == (1.0, 1.0):
                by_exponent = 0
            elif base[0] > 1:
                by_exponent = sb
            elif base[1] < 1:
                by_exponent = _neg(sb)
        if by_base is None or by_exponent is None:
            return None
        return combine(by_base, by_exponent)

    def _call(self, e: Call, wrt: str) -> int | None:
        slopes = [self.slope(a, wrt) for a in e.args]
        fn = e.fn
        if all(x == 0 for x in slopes):
            return 0
        if fn in self.INCREASING or (fn == "log" and len(slopes) == 1):
            return slopes[0]
        if fn == "abs":
            return scaled(slopes[0], self.value(e.args[0]))
        if fn in ("min", "max"):
            return combine(slopes[0], slopes[1])
        if fn == "if_then_else":
            cond, then, other = e.args
            branches = combine(self.within(cond, True).slope(then, wrt),
                               self.within(cond, False).slope(other, wrt))
            if slopes[0] == 0 or division_guard(e, self.ranges):
                return branches
            return combine(branches, self._jump(e, slopes[0]))
        if fn in ("xidz", "zidz"):
            a, b = e.args[0], e.args[1]
            q = combine(scaled(slopes[0], self.value(b) - {0}),
                        scaled(_neg(slopes[1]), self.value(a)))
            return combine(q, slopes[2]) if fn == "xidz" else q
        if fn == "erlang_b":        # blocking falls as servers are added, rises with the load
            return combine(_neg(slopes[0]), slopes[1])
        if fn == "step" and slopes[1] == 0:
            return slopes[0]
        if fn == "ramp" and all(x == 0 for x in slopes[1:]):
            return slopes[0]
        return None


def _beside(a: Expr, m: Expr) -> Expr | None:
    """In a - min(a, b) (or max), the b beside a; else None."""
    if isinstance(m, Call) and m.fn in ("min", "max") and len(m.args) == 2 and a in m.args:
        return m.args[1] if m.args[0] == a else m.args[0]
    return None


def _both(s: frozenset) -> bool:
    return 1 in s and -1 in s


def _not_stuck(out: frozenset, interval) -> frozenset:
    """A value the runs only saw at 0 is not 0 by structure: keep its interval's signs."""
    return signs(interval) if out == {0} and signs(interval) != {0} else out


def _informative(seen) -> bool:
    """Signs seen in the runs say something about a factor unless it stayed at zero (a
    factor that never moved from 0 would make every link through it look absent)."""
    return bool(seen) and seen != {0}
