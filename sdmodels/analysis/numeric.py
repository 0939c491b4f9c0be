"""One numpy evaluator of the IR's expression trees, for the analyses that replay a run.

Polarity from behaviour, stability (the Jacobian) and Loops That Matter all re-evaluate a
variable's equation over many times at once with some inputs changed. They share this
evaluator, so a built-in means the same thing in all three and the same as in the engine
(``step`` and ``pulse`` with the engine's time tolerance, ``xidz`` below 1e-6, ``round``
half up, ``log`` with one argument base 10, ``erlang_b`` by sdmodels.queueing's recursion).
Subclasses say only how a reference reads its values (`Numeric.read`) and may take other
node types (`Numeric.other`).

>>> import numpy as np
>>> from sdmodels.parse import parse_equation
>>> class Series(Numeric):          # every reference reads [1, 3]
...     def read(self, expr, binding):
...         return np.array([1.0, 3.0])
>>> times = np.array([0.0, 1.0])
>>> Series(None, times, 1.0).run(parse_equation("step(x, 1) + max(x, 2)"))
array([2., 6.])
"""
from __future__ import annotations

import numpy as np

from sdmodels.errors import ModelError
from sdmodels.expr import (Binary, Call, Const, Expr, Index, LookupCall, Reduce, Ref, Time,
                           TimeStep, Unary)
from sdmodels.queueing import numpy_ops, recursion

UNARY = {"abs": np.abs, "exp": np.exp, "ln": np.log, "sqrt": np.sqrt, "floor": np.floor,
         "ceil": np.ceil, "integer": np.trunc, "sin": np.sin, "cos": np.cos, "tan": np.tan,
         "arctan": np.arctan, "log10": np.log10, "round": lambda x: np.floor(x + 0.5)}
COMPARE = {"<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal,
           "=": np.equal, "<>": np.not_equal}
FOLD = {"sum": np.sum, "prod": np.prod, "min": np.min, "max": np.max, "mean": np.mean}


class Unsupported(ModelError):
    """An expression the replay cannot evaluate (random draws, array built-ins, ...);
    `what` names it."""

    def __init__(self, what: str, host: str = ""):
        self.what = what
        where = f"'{host}': " if host else ""
        super().__init__(f"{where}{what} cannot be re-evaluated over a recorded run (random "
                         "draws and array built-ins are not replayed)")


class Numeric:
    """Evaluates expression trees with numpy over `times` (the last axis of every value).

    `ir` gives lookup tables and dimensions (None when the expressions use neither);
    `binding` names the element of each dimension being evaluated (for arrayed
    equations); `host` is the variable whose equation it is, for messages.
    """

    def __init__(self, ir, times: np.ndarray, dt: float, host: str = ""):
        self.ir, self.t, self.dt, self.host = ir, times, dt, host
        self.teps = dt * 1e-6

    def read(self, expr: Ref | Index, binding: dict[str, str]):
        """The values of a reference (one element of an arrayed variable)."""
        raise NotImplementedError

    def other(self, expr: Expr, binding: dict[str, str]):
        """Node types only a subclass knows; by default none."""
        raise Unsupported(type(expr).__name__, self.host)

    def run(self, expr: Expr, binding: dict[str, str] | None = None):
        """The value of `expr` at every time (a float where it does not depend on any)."""
        binding = binding or {}
        go = lambda x: self.run(x, binding)  # noqa: E731
        if isinstance(expr, Const):
            return expr.value
        if isinstance(expr, (Ref, Index)):
            return self.read(expr, binding)
        if isinstance(expr, Time):
            return self.t
        if isinstance(expr, TimeStep):
            return self.dt
        if isinstance(expr, Unary):
            v = go(expr.operand)
            return -v if expr.op == "-" else np.where(np.asarray(v) == 0.0, 1.0, 0.0)
        if isinstance(expr, Binary):
            return binary(expr.op, go(expr.left), go(expr.right))
        if isinstance(expr, Call):
            return self.call(expr.fn, [go(a) for a in expr.args])
        if isinstance(expr, LookupCall):
            return lookup(self.ir.variables[expr.table], go(expr.arg))
        if isinstance(expr, Reduce):
            parts = [self.run(expr.operand, {**binding, expr.dim: el})
                     for el in self.ir.dims[expr.dim].elements]
            return FOLD[expr.op](np.broadcast_arrays(*parts), axis=0)
        return self.other(expr, binding)

    def call(self, fn: str, a: list):
        """A built-in function of already evaluated arguments."""
        t, teps, dt = self.t, self.teps, self.dt
        if fn in UNARY:
            return UNARY[fn](a[0])
        if fn == "modulo":
            return np.mod(a[0], a[1])
        if fn in ("min", "max"):
            return (np.minimum if fn == "min" else np.maximum)(a[0], a[1])
        if fn == "if_then_else":
            return np.where(np.asarray(a[0]) != 0.0, a[1], a[2])
        if fn == "step":
            return np.where(t + teps >= a[1], a[0], 0.0)
        if fn == "pulse":
            return np.where((t + teps >= a[0]) & (t + teps < a[0] + np.maximum(a[1], dt)),
                            1.0, 0.0)
        if fn == "pulse_train":
            start, width, interval, end = a
            width = np.maximum(width, dt)
            phase = np.mod(t + teps - start, np.where(np.asarray(interval) > 0, interval, 1.0))
            on = np.where(np.asarray(interval) > 0, phase < width, t + teps < start + width)
            return np.where((t + teps < start) | (t - teps > end), 0.0, np.where(on, 1.0, 0.0))
        if fn == "ramp":
            slope, start = a[0], a[1]
            span = t - start if len(a) < 3 else np.minimum(t, a[2]) - start
            return np.where(t <= start, 0.0, slope * span)
        if fn in ("xidz", "zidz"):
            other = a[2] if fn == "xidz" else 0.0
            return np.where(np.abs(a[1]) < 1e-6, other, np.divide(a[0], a[1]))
        if fn == "log":
            return np.log10(a[0]) if len(a) == 1 else np.log(a[0]) / np.log(a[1])
        if fn == "erlang_b":
            return recursion(a[0], a[1], numpy_ops())
        raise Unsupported(fn, self.host)


def binary(op: str, a, b):
    """A binary operator on numpy values; comparisons and logic give 1.0 or 0.0."""
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if op == "/":
        return np.divide(a, b)
    if op == "^":
        return np.power(a, b)
    if op == "and":
        return np.where((np.asarray(a) != 0.0) & (np.asarray(b) != 0.0), 1.0, 0.0)
    if op == "or":
        return np.where((np.asarray(a) != 0.0) | (np.asarray(b) != 0.0), 1.0, 0.0)
    return np.where(COMPARE[op](a, b), 1.0, 0.0)


def lookup(table, x):
    """A lookup table at `x`: linear between points, flat or extrapolated outside."""
    xs, ys = np.asarray(table.xs), np.asarray(table.ys)
    x = np.asarray(x, dtype=float)
    if len(xs) == 1:
        return np.full_like(x, ys[0])
    out = np.interp(x, xs, ys)
    if table.extrapolate:
        lo, hi = x < xs[0], x > xs[-1]
        out = np.where(lo, ys[0] + (ys[1] - ys[0]) * (x - xs[0]) / (xs[1] - xs[0]), out)
        out = np.where(hi, ys[-1] + (ys[-1] - ys[-2]) * (x - xs[-1]) / (xs[-1] - xs[-2]), out)
    return out
