"""Re-evaluate equations over a recorded run: numpy over the time axis.

Loops That Matter asks, for every link x -> z, what z's equation gives when only x has
moved on by one step. `Trace` is a run recorded at every step with every slot (internal
stocks of delays and smooths included); `Trace.evaluate` computes one slot's equation for
all times at once from any table of input values, with the shared evaluator
(`sdmodels.analysis.numeric`) and the same semantics as the compiled kernel (non-negative
flows, outflows cut back by their stock, lookups, step, pulse, ramp, ...). Re-evaluating a variable from the recorded inputs gives back its
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
from sdmodels.expr import Expr, Index, Reduce, Ref
from sdmodels.ir import ModelIR, build, index_binding

from sdmodels.analysis.numeric import Numeric


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

    def held_input(self, column: int) -> tuple[Expr, dict[str, str]]:
        """The input expression of a pipeline, sampler or rolling window column (what it
        stores each step), and its dimension binding."""
        s = self.slots[column]
        var = self.ir.variables[s.var]
        expr = var.input.as_dict()[s.key] if isinstance(var.input, PerElement) else var.input
        return expr, dict(zip(var.dims, s.key))

    def evaluate_expr(self, expr: Expr, binding: dict[str, str], host: str = "", *,
                      rows: slice | np.ndarray = slice(None),
                      override: dict[int, np.ndarray] | None = None) -> np.ndarray:
        """Any expression computed from the recorded `rows` (a float per row), with
        `override` columns replaced."""
        env = _Env(self.values, rows, override or {})
        times = self.times[rows]
        with np.errstate(all="ignore"):
            out = _Eval(self, env, times, host).run(expr, binding)
            return np.broadcast_to(np.asarray(out, dtype=float), times.shape).copy()

    def evaluate(self, column: int, *, rows: slice | np.ndarray = slice(None),
                 override: dict[int, np.ndarray] | None = None) -> np.ndarray:
        """Column `column` computed from the recorded `rows`, with `override` columns
        replaced (column -> values for those rows): "z with only x moved on"."""
        env = _Env(self.values, rows, override or {})
        expr, binding = self.equation(column)
        var = self.ir.variables[self.slots[column].var]
        out = self.evaluate_expr(expr, binding, var.display, rows=rows, override=override)
        with np.errstate(all="ignore"):
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


class _Eval(Numeric):
    """The shared evaluator reading a record's columns; `env` rows are times."""

    def __init__(self, trace: Trace, env: _Env | None, times: np.ndarray, host: str):
        super().__init__(trace.ir, times, trace.dt, host)
        self.trace, self.env = trace, env

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

    def read(self, expr, binding):
        return self.env[self.column(expr, binding)]

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

