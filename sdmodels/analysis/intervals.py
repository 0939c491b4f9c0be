"""Value ranges by interval arithmetic: what values each variable can take, from its equation.

Link polarity needs the sign of the factors around a link (``k * x`` is increasing in x
only when k >= 0). Every variable gets an interval [lo, hi] derived from its equation:
constants from their values (and every scenario's and the run's overrides), lookups from
their y range, stocks from their declaration or from the sign of their net flow, auxiliaries
and flows from their equation's interval over the intervals of what they read. Auxiliaries
read each other in cycles, so the intervals are narrowed together to a fixed point: start
from "any value" and recompute every variable from the others until nothing changes (each
step keeps every interval a sound bound, so the result is sound whenever it stops). A bound
that keeps growing stops at -1, 0 or 1 before infinity (`widen`), and a sum that straddles 0
is narrowed by its factored and case-by-case forms (`sdmodels.analysis.terms`).

>>> from sdmodels import Model, build, maximum, minimum
>>> m = Model("fractions", stop=1)
>>> x = m.stock("X", initial=5, non_negative=True)
>>> _ = m.flow("Drain", x / 4, out_of=x)
>>> share = m.aux("Share", m.constant("A", 2) / (x + 1))
>>> _ = m.aux("Open share", 1 - maximum(0, minimum(1, share)))
>>> r = Ranges(build(m))
>>> r.var("x"), r.var("share"), r.var("open_share")
((0.0, 5.0), (0.3333333333333333, 2.0), (0.0, 0.6666666666666667))
"""
from __future__ import annotations

import math
from typing import Mapping

from sdmodels.elements import Aux, Constant, DelayLine, Flow, Lookup, Rolling, \
    SampleHold, SampleIfTrue, Schedule, Stock, canonical
from sdmodels.expr import (Binary, Call, Const, Expr, Index, LookupCall, Reduce, Ref, Time,
                           TimeStep, Unary)
from sdmodels.ir import ModelIR, expressions

from sdmodels.analysis.graph import Through, _collapse
from sdmodels.analysis.terms import cases, factored, monomials

INF = math.inf
ANY = (-INF, INF)
Interval = tuple[float, float]


def signs(iv: Interval) -> frozenset:
    """Which of {-1, 0, +1} a value in the interval can have."""
    lo, hi = iv
    out = set()
    if lo < 0:
        out.add(-1)
    if lo <= 0 <= hi:
        out.add(0)
    if hi > 0:
        out.add(1)
    return frozenset(out)


def hull(*ivs: Interval) -> Interval:
    return (min(i[0] for i in ivs), max(i[1] for i in ivs))


def _p(a: float, b: float) -> float:
    """A product of bounds where 0 * inf counts as 0 (the bound is reached by the 0)."""
    return 0.0 if a == 0 or b == 0 else a * b


def add(a: Interval, b: Interval) -> Interval:
    lo, hi = a[0] + b[0], a[1] + b[1]
    return (-INF if lo != lo else lo, INF if hi != hi else hi)


def neg(a: Interval) -> Interval:
    return (-a[1], -a[0])


def mul(a: Interval, b: Interval) -> Interval:
    c = [_p(x, y) for x in a for y in b]
    return (min(c), max(c))


def div(a: Interval, b: Interval) -> Interval:
    """a / b over the non-zero values of b (a zero divisor is the engine's error or fallback)."""
    lo, hi = b
    if lo >= 0 and hi > 0:
        inv = (1 / hi, INF if lo == 0 else 1 / lo)
    elif hi <= 0 and lo < 0:
        inv = (-INF if hi == 0 else 1 / hi, 1 / lo)
    else:
        return ANY
    return mul(a, inv)


def power(a: Interval, b: Interval) -> Interval:
    if a[0] > 0:
        corners = []
        for x in a:
            for y in b:
                try:
                    corners.append(x ** y if x != INF else (INF if y > 0 else 0.0 if y < 0 else 1.0))
                except OverflowError:
                    corners.append(INF)
        return (min(corners), max(corners))
    if a[0] >= 0 and b[0] > 0:
        return (0.0, INF if a[1] == INF else max(_safe_pow(a[1], y) for y in b))
    if a[0] >= 0:
        return (0.0, INF)
    return ANY


def _safe_pow(x: float, y: float) -> float:
    try:
        return x ** y
    except OverflowError:
        return INF


def _mono(f, a: Interval) -> Interval:
    def g(x):
        try:
            return f(x)
        except (OverflowError, ValueError):
            return INF if x > 0 else -INF
    return (g(a[0]), g(a[1]))


class _Bottom(Exception):
    """A variable not bounded yet during the fixed-point iteration."""


def _join(parts) -> Interval:
    """The hull of the intervals the thunks give, skipping those not known yet."""
    known = []
    for part in parts:
        try:
            known.append(part())
        except _Bottom:
            pass
    if not known:
        raise _Bottom("no part known")
    return hull(*known)


#: where a bound that keeps moving stops before infinity (widening with thresholds,
#: Blanchet et al. 2003): the sign of a quantity and the edges of a fraction
THRESHOLDS = (-1.0, 0.0, 1.0)


def widen(old: Interval, new: Interval) -> Interval:
    """A bound that moved again jumps to the next threshold past it (0 or 1, see
    `THRESHOLDS`), or to infinity past the last one; the growth goes on from there, so a
    bound that crosses a threshold later still ends at infinity: sound at any stop.

    A count that falls from 10 towards its floor of 1 in steps keeps a lower bound of 1,
    or 0 (>= 0 is what link polarity needs), instead of -inf.

    >>> widen((5.0, 10.0), (4.0, 10.0)), widen((0.0, 0.5), (0.0, 0.6)), widen((0.0, 2.0), (-0.1, 3.0))
    ((1.0, 10.0), (0.0, 1.0), (-1.0, inf))
    """
    lo, hi = old
    if new[0] < lo:
        lo = max((t for t in THRESHOLDS if t <= new[0]), default=-INF)
    if new[1] > hi:
        hi = min((t for t in THRESHOLDS if t >= new[1]), default=INF)
    return (lo, hi)


class Ranges:
    """The interval of every variable of an IR and of any expression over them.

    `overrides` maps constant names to other values the runs may give them (scenarios
    and `params`); their intervals cover every value. `open_zeros` lets a constant that
    is 0 everywhere (a switch left off) take any non-negative value instead.
    """

    MAX_PASSES = 60
    WIDEN_AFTER = 3
    NARROW_PASSES = 5

    def __init__(self, ir: ModelIR, overrides: Mapping[str, object] | None = None, *,
                 open_zeros: bool = False):
        self.ir = ir
        self.open_zeros = open_zeros
        extra: dict[str, list[float]] = {}
        for scenario in ir.scenarios.values():
            for name, value in scenario.params:
                extra.setdefault(canonical(name), []).append(float(value))
        for name, value in (overrides or {}).items():
            vals = value if hasattr(value, "__len__") and not isinstance(value, str) else [value]
            extra.setdefault(canonical(name), []).extend(float(v) for v in vals)
        self.iv: dict[str, Interval] = {}
        for v in ir.variables.values():
            if isinstance(v, Constant):
                vals = list(v.values) + extra.get(v.id, [])
                self.iv[v.id] = (min(vals), max(vals)) if vals else ANY
                if open_zeros and self.iv[v.id] == (0.0, 0.0):
                    self.iv[v.id] = (0.0, INF)
            else:
                self.iv[v.id] = ANY
        self._factored: dict[Expr, tuple] = {}   # other forms of sums
        self._equations = {v.id: self._collapsed(v) for v in ir.variables.values()
                           if isinstance(v, (Aux, Flow))}
        self._solve()

    def _collapsed(self, element) -> list[Expr]:
        by_output = {d.output: i for i, d in enumerate(self.ir.delays)}
        return [_collapse(self.ir, e, by_output, 0) for key, e in expressions(element)
                if key == "equation"]

    def _solve(self) -> None:
        """Grow from nothing to a bound every value satisfies (widening a bound that keeps
        moving to infinity), then narrow by recomputing; both keep the bounds sound."""
        dynamic = [v for v in self.ir.variables.values() if not isinstance(v, (Constant, Lookup))]
        moves = dict.fromkeys((v.id for v in dynamic), 0)
        for v in dynamic:
            self.iv[v.id] = None
        while not self._grow(dynamic, moves):
            for v in dynamic:             # never bounded (they read only themselves):
                if self.iv[v.id] is None:     # claim nothing and grow the rest again
                    self.iv[v.id] = ANY
        for _ in range(self.NARROW_PASSES):
            changed = False
            for v in dynamic:
                new, old = self._compute(v), self.iv[v.id]
                lo, hi = max(old[0], new[0]), min(old[1], new[1])
                if lo <= hi and (lo, hi) != old:
                    self.iv[v.id] = (lo, hi)
                    changed = True
            if not changed:
                break

    def _grow(self, dynamic, moves) -> bool:
        """Ascend to a bound every computable variable keeps; False if some stay unknown."""
        for _ in range(self.MAX_PASSES):
            changed = False
            for v in dynamic:
                try:
                    new = self._compute(v)
                except _Bottom:
                    continue
                old = self.iv[v.id]
                grown = new if old is None else hull(old, new)
                if grown == old:
                    continue
                moves[v.id] += 1
                if old is not None and moves[v.id] > self.WIDEN_AFTER:
                    grown = widen(old, grown)
                self.iv[v.id] = grown
                changed = True
            if not changed:
                break
        else:
            for v in dynamic:
                self.iv[v.id] = ANY       # no fixed point found: claim nothing
        return all(self.iv[v.id] is not None for v in dynamic)

    def _compute(self, v) -> Interval:
        lo, hi = self._compute_raw(v)
        return (-INF if lo != lo else lo, INF if hi != hi else hi)

    def _compute_raw(self, v) -> Interval:
        if isinstance(v, (Aux, Flow)):
            exprs = self._equations.get(v.id) or []
            if self.open_zeros and exprs == [Const(0.0)]:
                return (0.0, INF)         # a module's switch bound to 0
            out = _join([lambda e=e: self.of(e) for e in exprs]) if exprs else ANY
            if isinstance(v, Flow) and v.non_negative:
                out = (max(out[0], 0.0), max(out[1], 0.0))
            return out
        if isinstance(v, Stock):
            init = _join([lambda e=e: self.of(e) for key, e in expressions(v) if key == "initial"])
            try:
                net = (0.0, 0.0)
                for f in v.inflows:
                    net = add(net, self.var(f))
                for f in v.outflows:
                    net = add(net, neg(self.var(f)))
            except _Bottom:
                net = (0.0, 0.0)          # not known yet: the stock holds its start value
            out = (init[0] if net[0] >= 0 else -INF, init[1] if net[1] <= 0 else INF)
            if v.non_negative:
                out = (max(out[0], 0.0), max(out[1], 0.0))
            return out
        if isinstance(v, Schedule):     # a sum of the inputs due at a step: no bound here
            return ANY
        if isinstance(v, (DelayLine, SampleHold, Rolling)):
            first = v.initial if isinstance(v, (DelayLine, SampleIfTrue)) else \
                getattr(v, "first", None)
            return _join([lambda: self.of(v.input)]
                         + ([lambda: self.of(first)] if first is not None else []))
        return ANY

    def var(self, name: str) -> Interval:
        """The interval of a variable's values."""
        out = self.iv.get(name, ANY)
        if out is None:
            raise _Bottom(name)
        return out

    def of(self, e: Expr) -> Interval:
        """The interval of an expression's values."""
        if isinstance(e, Const):
            return (e.value, e.value)
        if isinstance(e, Ref):
            return self.var(e.name)
        if isinstance(e, Through):
            return self._through(e)
        if isinstance(e, Index):
            return self.of(e.target)
        if isinstance(e, Time):
            return (self.ir.start, self.ir.stop)
        if isinstance(e, TimeStep):
            return (self.ir.dt, self.ir.dt)
        if isinstance(e, Unary):
            return (0.0, 1.0) if e.op == "not" else neg(self.of(e.operand))
        if isinstance(e, Binary):
            return self._binary(e)
        if isinstance(e, Call):
            return self._call(e)
        if isinstance(e, LookupCall):
            return lookup_range(self.ir.variables[e.table], self.of(e.arg))
        if isinstance(e, Reduce):
            inner = self.of(e.operand)
            dim = self.ir.dims.get(e.dim)
            if e.op == "sum":
                n = float(len(dim)) if dim is not None else INF
                return (_p(inner[0], n), _p(inner[1], n)) if dim is not None else (
                    (0.0 if inner[0] >= 0 else -INF), (0.0 if inner[1] <= 0 else INF))
            if e.op == "prod":
                return (0.0, INF) if inner[0] >= 0 else ANY
            return inner
        return ANY

    def _through(self, e: Through) -> Interval:
        info = self.ir.delays[e.delay]
        parts = [lambda: self.of(e.input)]
        el = self.ir.variables.get(info.internals[0]) if info.internals else None
        if isinstance(el, Stock) and info.kind.startswith("delay") and isinstance(el.initial, Binary):
            parts.append(lambda: self.of(el.initial.left))      # init * stage time
        elif isinstance(el, Stock) and isinstance(el.initial, Expr):
            parts.append(lambda: self.of(el.initial))           # smooth: starts at init
        elif isinstance(el, DelayLine) and el.initial is not None:
            parts.append(lambda: self.of(el.initial))
        elif isinstance(el, SampleIfTrue):                       # before the first tick
            parts.append(lambda: self.of(el.initial))
        elif isinstance(el, SampleHold) and el.first is not None:
            parts.append(lambda: self.of(el.first))
        return _join(parts)

    def _binary(self, e: Binary) -> Interval:
        op = e.op
        if op not in ("+", "-", "*", "/", "^"):
            return (0.0, 1.0)
        if op == "-":
            clipped = self._clipped_difference(e.left, e.right)
            if clipped is not None:
                return clipped
        a, b = self.of(e.left), self.of(e.right)
        if op in "+-":
            out = add(a, b if op == "+" else neg(b))
            return self._regrouped(e, out) if out[0] < 0 < out[1] else out
        if op == "*":
            return mul(a, b)
        if op == "/":
            return div(a, b)
        return power(a, b)

    def _regrouped(self, e: Binary, out: Interval) -> Interval:
        """A sum that straddles 0 narrowed by other forms of it (`sdmodels.analysis.terms`):
        factored, ``c + h*k - h*k*d`` as ``c + h*k*(1 - d)``, >= 0 for values in [0, 1]
        where the terms one by one give [-1, 2]; and case by case over the states of a
        coded variable, ``(m = 0) + (m = 2)*k*(1 - d)`` in [0, 1] as m is 0 or 2 or
        neither. Each form is sound, so is the meet of their intervals."""
        if e not in self._factored:
            terms = monomials(e)
            forms: list[tuple[Expr, ...]] = []
            if terms is not None:
                whole = factored(terms)
                if whole != e:
                    forms.append((whole,))
                split = cases(terms)
                if split is not None and e not in split:
                    forms.append(tuple(split))
            self._factored[e] = tuple(forms)
        for form in self._factored[e]:
            other = hull(*(self.of(alt) for alt in form))
            lo, hi = max(out[0], other[0]), min(out[1], other[1])
            if lo <= hi:
                out = (lo, hi)
        return out

    def _definition(self, e: Expr) -> Expr:
        """The equation behind a reference to a scalar auxiliary or flow, else `e` itself."""
        if isinstance(e, Ref):
            exprs = self._equations.get(e.name)
            v = self.ir.variables.get(e.name)
            if exprs and len(exprs) == 1 and not v.dims and not (
                    isinstance(v, Flow) and v.non_negative):
                return exprs[0]
        return e

    def _clipped_difference(self, a: Expr, b: Expr) -> Interval | None:
        """a - min(a, c) = max(0, a - c) and max(a, c) - a = max(0, c - a): what is left
        over ("demand - served") is never negative, which plain intervals cannot see."""
        db, da = self._definition(b), self._definition(a)
        for call, same, flip in ((db, a, False), (da, b, True)):
            if isinstance(call, Call) and call.fn == ("max" if flip else "min"):
                for k in (0, 1):
                    if call.args[k] == same or self._definition(call.args[k]) == \
                            self._definition(same):
                        other = call.args[1 - k]
                        d = self.of(Binary("-", other, same) if flip else Binary("-", same, other))
                        return (max(0.0, d[0]), max(0.0, d[1]))
        return None

    def _call(self, e: Call) -> Interval:
        fn = e.fn
        if fn == "if_then_else":
            return _join([lambda: self.of(e.args[1]), lambda: self.of(e.args[2])])
        a = [self.of(x) for x in e.args]
        if fn in ("min", "max"):
            pick = min if fn == "min" else max
            return (pick(a[0][0], a[1][0]), pick(a[0][1], a[1][1]))
        if fn == "abs":
            lo, hi = a[0]
            return (lo, hi) if lo >= 0 else (-hi, -lo) if hi <= 0 else (0.0, max(-lo, hi))
        if fn == "exp":
            return _mono(math.exp, a[0])
        if fn in ("ln", "log10") or (fn == "log" and len(a) == 1):
            f = math.log if fn != "log10" else math.log10
            lo, hi = a[0]
            return (f(lo) if lo > 0 else -INF, f(hi) if 0 < hi < INF else INF if hi > 0 else -INF)
        if fn == "sqrt":
            return (math.sqrt(max(a[0][0], 0.0)), math.sqrt(max(a[0][1], 0.0)))
        if fn in ("floor", "ceil", "round", "integer"):
            return (math.floor(a[0][0]) if a[0][0] > -INF else -INF,
                    math.ceil(a[0][1]) if a[0][1] < INF else INF)
        if fn in ("sin", "cos"):
            return (-1.0, 1.0)
        if fn == "arctan":
            return _mono(math.atan, a[0])
        if fn == "modulo":
            return (0.0, a[1][1]) if a[1][0] > 0 else ANY
        if fn == "step":
            return hull(a[0], (0.0, 0.0))
        if fn in ("pulse", "pulse_train", "erlang_b"):      # erlang_b: a probability
            return (0.0, 1.0)
        if fn == "ramp":
            span = hull((self.ir.start, self.ir.stop), *a[2:3])
            return hull((0.0, 0.0), mul(a[0], add(span, neg(a[1]))))
        if fn in ("xidz", "zidz"):
            return hull(div(a[0], a[1]), a[2] if fn == "xidz" else (0.0, 0.0))
        if fn in ("random_uniform", "random_normal") and len(a) >= 2:
            return hull(a[0], a[1])
        if fn == "random_exponential":
            return (0.0, INF)
        return ANY


def lookup_range(table: Lookup, arg: Interval = ANY) -> Interval:
    """The values a lookup gives for arguments in `arg` (its y range, or beyond when it
    extrapolates)."""
    xs, ys = list(table.xs), list(table.ys)
    if len(ys) == 1:
        return (ys[0], ys[0])
    lo_x, hi_x = arg
    inside = [y for x, y in zip(xs, ys) if lo_x <= x <= hi_x]
    for x in (lo_x, hi_x):
        if xs[0] <= x <= xs[-1]:
            inside.append(_interp(x, xs, ys))
    if lo_x < xs[0]:
        inside.append(ys[0])
    if hi_x > xs[-1]:
        inside.append(ys[-1])
    out = (min(inside), max(inside)) if inside else (min(ys), max(ys))
    if table.extrapolate:
        left, right = ys[1] - ys[0], ys[-1] - ys[-2]
        lo, hi = out
        if lo_x < xs[0] and left > 0 or hi_x > xs[-1] and right < 0:
            lo = -INF
        if lo_x < xs[0] and left < 0 or hi_x > xs[-1] and right > 0:
            hi = INF
        out = (lo, hi)
    return out


def _interp(x: float, xs: list, ys: list) -> float:
    for k in range(len(xs) - 1):
        if xs[k] <= x <= xs[k + 1]:
            if xs[k + 1] == xs[k]:
                return ys[k]
            return ys[k] + (ys[k + 1] - ys[k]) * (x - xs[k]) / (xs[k + 1] - xs[k])
    return ys[-1]
