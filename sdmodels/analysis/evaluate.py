"""Re-evaluate equations over a recorded run: numpy over the time axis.

Loops That Matter asks, for every link x -> z, what z's equation gives when only x has
moved on by one step. `Trace` is a run recorded at every step with every slot (internal
stocks of delays and smooths included); `Trace.evaluate` computes one slot's equation for
all times at once from any table of input values, with the same semantics as the
compiled kernel (non-negative flows, outflows cut back by their stock, lookups, step,
pulse, ramp, ...). Re-evaluating a variable from the recorded inputs gives back its
recorded series, which is what the tests check on the library models.

>>> from sdmodels import Model
>>> m = Model("decay", stop=2, dt=0.5)
>>> s = m.stock("Amount", initial=100)
>>> _ = m.flow("Outflow", s / m.constant("Lifetime", 2), out_of=s)
>>> trace = record(m)
>>> trace.evaluate(trace.slot("outflow")).tolist()
[50.0, 37.5, 28.125, 21.09375, 15.8203125]
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from sdmodels.elements import Aux, Constant, Flow, Lookup, PerElement, canonical
from sdmodels.errors import ModelError
from sdmodels.expr import (Binary, Call, Const, Expr, Index, LookupCall, Reduce, Ref, Time,
                           TimeStep, Unary)
from sdmodels.ir import ModelIR, build, index_binding

_UNARY = {"abs": np.abs, "exp": np.exp, "ln": np.log, "sqrt": np.sqrt, "floor": np.floor,
          "ceil": np.ceil, "integer": np.trunc, "sin": np.sin, "cos": np.cos, "tan": np.tan,
          "arctan": np.arctan, "log10": np.log10, "round": lambda x: np.floor(x + 0.5)}
_COMPARE = {"<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal,
            "=": np.equal, "<>": np.not_equal}


@dataclass(frozen=True)
class Trace:
    """One run recorded at every step: `values[time, slot]` for every slot of the model."""
    ir: ModelIR
    times: np.ndarray
    dt: float
    slots: tuple                        # compile.Slot, in column order
    values: np.ndarray
    scenario: str | None = None
    params: dict = field(default_factory=dict)

    @cached_property
    def index(self) -> dict[tuple[str, tuple[str, ...]], int]:
        """(variable id, element key) -> column."""
        return {(s.var, s.key): k for k, s in enumerate(self.slots)}

    @cached_property
    def columns_of(self) -> dict[str, list[int]]:
        """Variable id -> its columns (one per array element)."""
        out: dict[str, list[int]] = {}
        for k, s in enumerate(self.slots):
            out.setdefault(s.var, []).append(k)
        return out

    def slot(self, name: str, key: tuple[str, ...] = ()) -> int:
        """The column of a variable (display name or id), one element of it if arrayed."""
        return self.index[(self.ir.id_of(name), tuple(key))]

    def series(self, name: str) -> np.ndarray:
        """The recorded values of a variable: (times,) or (times, elements)."""
        cols = self.columns_of[self.ir.id_of(name)]
        return self.values[:, cols[0]] if len(cols) == 1 else self.values[:, cols]

    def equation(self, column: int) -> tuple[Expr, dict[str, str]] | None:
        """The expression a column is computed from each step, and its dimension binding."""
        s = self.slots[column]
        var = self.ir.variables[s.var]
        if not isinstance(var, (Aux, Flow)):
            return None
        eq = var.equation
        expr = eq.as_dict()[s.key] if isinstance(eq, PerElement) else eq
        return expr, dict(zip(var.dims, s.key))

    def evaluate(self, column: int, *, rows: slice | np.ndarray = slice(None),
                 override: dict[int, np.ndarray] | None = None) -> np.ndarray:
        """Column `column` computed from the recorded `rows`, with `override` columns
        replaced (column -> values for those rows): "z with only x moved on"."""
        env = _Env(self.values, rows, override or {})
        times = self.times[rows]
        expr, binding = self.equation(column)
        var = self.ir.variables[self.slots[column].var]
        with np.errstate(all="ignore"):
            out = _Eval(self, env, times, var.display).run(expr, binding)
            out = np.broadcast_to(np.asarray(out, dtype=float), times.shape).copy()
            if isinstance(var, Flow):
                if var.non_negative:
                    out = np.maximum(0.0, out)
                if var.out_of is not None:
                    out = self._cut_back(var, self.slots[column].key, out, env)
        return out

    def _cut_back(self, flow: Flow, key, out: np.ndarray, env: "_Env") -> np.ndarray:
        stock = self.ir.variables[canonical(flow.out_of)]
        if not stock.limit_outflows:
            return out
        col = lambda v: env[self.index[(v, key)]]  # noqa: E731
        room = col(stock.id) / self.dt
        for f in stock.inflows:
            room = room + col(f)
        for f in stock.outflows[:stock.outflows.index(flow.id)]:
            room = room - col(f)
        return np.minimum(out, np.maximum(0.0, room))

    def references(self, column: int) -> set[int]:
        """The columns a column's equation reads (its direct inputs)."""
        found = self.equation(column)
        if found is None:
            return set()
        expr, binding = found
        out: set[int] = set()
        _Eval(self, None, self.times[:1], "").refs(expr, binding, out)
        var = self.ir.variables[self.slots[column].var]
        if isinstance(var, Flow) and var.out_of is not None:
            stock = self.ir.variables[canonical(var.out_of)]
            if stock.limit_outflows:
                key = self.slots[column].key
                out |= {self.index[(v, key)] for v in (stock.id, *stock.inflows,
                        *stock.outflows[:stock.outflows.index(var.id)])}
        return out


class _Env:
    """Columns of the record over some rows, a few of them replaced."""

    def __init__(self, values: np.ndarray, rows, override: dict[int, np.ndarray]):
        self.values, self.rows, self.override = values, rows, override

    def __getitem__(self, column: int) -> np.ndarray:
        found = self.override.get(column)
        return self.values[self.rows, column] if found is None else found


class _Eval:
    """Evaluates one expression tree with numpy; `env` rows are times."""

    def __init__(self, trace: Trace, env: np.ndarray, times: np.ndarray, host: str):
        self.trace, self.env, self.t, self.host = trace, env, times, host
        self.teps = trace.dt * 1e-6

    def column(self, expr: Expr, binding: dict[str, str]) -> int:
        ir = self.trace.ir
        fixed: dict[str, str | None] = {}
        target = expr
        if isinstance(expr, Index):
            target = expr.target
            fixed = index_binding(ir.variables[target.name].dims, expr.elements, ir.dims,
                                  f"'{self.host}'")
        var = ir.variables[target.name]
        key = tuple(fixed.get(d) or binding[d] for d in var.dims)
        return self.trace.index[(var.id, key)]

    def refs(self, expr: Expr, binding: dict[str, str], out: set[int]) -> None:
        if isinstance(expr, (Ref, Index)):
            var = self.trace.ir.variables[(expr.target if isinstance(expr, Index) else expr).name]
            if not isinstance(var, Constant):
                out.add(self.column(expr, binding))
            return
        if isinstance(expr, Reduce):
            for el in self.trace.ir.dims[expr.dim].elements:
                self.refs(expr.operand, {**binding, expr.dim: el}, out)
            return
        for child in expr.children():
            self.refs(child, binding, out)

    def run(self, expr: Expr, binding: dict[str, str]):
        go = lambda x: self.run(x, binding)  # noqa: E731
        if isinstance(expr, Const):
            return expr.value
        if isinstance(expr, (Ref, Index)):
            return self.env[self.column(expr, binding)]
        if isinstance(expr, Time):
            return self.t
        if isinstance(expr, TimeStep):
            return self.trace.dt
        if isinstance(expr, Unary):
            v = go(expr.operand)
            return -v if expr.op == "-" else np.where(np.asarray(v) == 0.0, 1.0, 0.0)
        if isinstance(expr, Binary):
            return self.binary(expr.op, go(expr.left), go(expr.right))
        if isinstance(expr, Call):
            return self.call(expr.fn, [go(a) for a in expr.args])
        if isinstance(expr, LookupCall):
            return self.lookup(self.trace.ir.variables[expr.table], go(expr.arg))
        if isinstance(expr, Reduce):
            parts = [self.run(expr.operand, {**binding, expr.dim: el})
                     for el in self.trace.ir.dims[expr.dim].elements]
            fn = {"sum": np.sum, "prod": np.prod, "min": np.min, "max": np.max,
                  "mean": np.mean}[expr.op]
            return fn(np.broadcast_arrays(*parts), axis=0)
        raise ModelError(f"'{self.host}': cannot re-evaluate {type(expr).__name__}")

    @staticmethod
    def binary(op: str, a, b):
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
        return np.where(_COMPARE[op](a, b), 1.0, 0.0)

    def call(self, fn: str, a: list):
        t, teps, dt = self.t, self.teps, self.trace.dt
        if fn in _UNARY:
            return _UNARY[fn](a[0])
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
        raise ModelError(f"'{self.host}': {fn} cannot be re-evaluated over a recorded run "
                         "(random draws and array built-ins are not replayed)")

    @staticmethod
    def lookup(table: Lookup, x):
        xs, ys = np.asarray(table.xs), np.asarray(table.ys)
        x = np.asarray(x, dtype=float)
        if len(xs) == 1:
            return np.full_like(x, ys[0])
        out = np.interp(x, xs, ys)
        if table.extrapolate:
            lo, hi = x < xs[0], x > xs[-1]
            out = np.where(lo, ys[0] + (ys[1] - ys[0]) * (x - xs[0]) / (xs[1] - xs[0]), out)
            out = np.where(hi, ys[-1] + (ys[-1] - ys[-2]) * (x - xs[-1]) / (xs[-1] - xs[-2]),
                           out)
        return out


def record(model, *, scenario: str | None = None, params: dict | None = None,
           dt: float | None = None) -> Trace:
    """Simulate one run keeping every slot at every step (Euler), for re-evaluation.

    The interpreter runs it (one run needs no specialised compile; same results)."""
    from sdmodels.simulate import simulate
    from sdmodels.tape import prepare
    ir = build(model)
    kernel = prepare(ir)
    wanted = [v.id for v in ir.variables.values() if not isinstance(v, Lookup)]
    step = ir.dt if dt is None else float(dt)
    results = simulate(kernel, scenario=scenario, params=params, outputs=wanted, dt=step,
                       saveper=step, engine="interpreter")
    if results.runs != 1:
        raise ModelError("record() takes one run; give one value per parameter")
    by_var: dict[str, list] = {}
    for s in kernel.slots:
        by_var.setdefault(s.var, []).append(s)
    slots = tuple(s for v in wanted for s in by_var.get(v, []))
    return Trace(ir, results.times, step, slots, results.data[0], scenario, dict(params or {}))

