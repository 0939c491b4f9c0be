"""The text of a model's kernel: each equation of the IR tree written as numba code.

`_Generator` turns the validated IR into statements over slots (sdmodels/kernel_layout.py
lays them out into the kernel module); the interpreter's tape writer (sdmodels/tape.py) reads
its slot table, evaluation order and per-element equations too, so the two engines agree on
what each slot holds. Only numbers and slot indices from the IR reach the text; no name,
string or equation text from a user or a model file does.

Parameters (constants) are read from the run's parameter row, never written into the text,
so two models that differ only in their parameters' values share one compiled kernel.

>>> from sdmodels import Model, build
>>> m = Model("decay", stop=2, dt=1)
>>> s = m.stock("Amount", initial=100)
>>> _ = m.flow("Outflow", s * 0.5, out_of=s)
>>> gen = _Generator(build(m), "euler")
>>> gen.set_names(1)
>>> gen.emit(s * 0.5, {}, s)
'(x0 * 0.5)'
"""
from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sdmodels.builtins_code import builtin_code
from sdmodels.elements import (Aux, Constant, canonical, DelayLine, Element, Flow, Lookup,
                               PerElement, Rolling, SampleHold, SampleIfTrue, Stock)
from sdmodels.errors import DimensionError, ModelError
from sdmodels.expr import (Binary, Call, Const, Expr, Index, LookupCall, Reduce, Ref, Time,
                           TimeStep, Unary)
from sdmodels.operators import PYTHON_BINARY, PYTHON_UNARY
from sdmodels.tape_shared import LEAVES, Keys, shared

if TYPE_CHECKING:
    from sdmodels.ir import ModelIR

SCALAR_SLOTS = 64       # up to this many values, kernels use scalar locals; beyond, arrays


@dataclass(frozen=True)
class Slot:
    """One scalar of the flattened model: a variable, or one element of an arrayed one."""
    index: int
    var: str
    key: tuple[str, ...]
    label: str            # display name, with [elements] for arrays


_new = object.__new__       # slots made without the dataclass's __init__: a model has one
                            # per element of every variable (1,882 for eviction_cascade)


def _num(value: float) -> str:
    if value != value:
        return "np.nan"
    if value in (float("inf"), float("-inf")):
        return "np.inf" if value > 0 else "-np.inf"
    return repr(float(value))


class Movable(list):
    """Statements of one equation that may move into a part function of the kernel (they
    read and write only the kernel's arrays and the locals they name)."""


class _Generator:
    """Writes the kernel source for one IR and method."""

    def __init__(self, ir: ModelIR, method: str):
        self.ir, self.method = ir, method
        self.slots: list[Slot] = []
        self.index: dict[tuple[str, tuple[str, ...]], int] = {}
        self.lookup_xs: list[float] = []
        self.lookup_ys: list[float] = []
        self.lookup_at: dict[str, tuple[int, int, bool]] = {}
        self.tree_keys = Keys()
        self.shared: dict[int, str] = {}          # subtree key -> local name (one equation)
        self.param_slots: list[int] = []
        self.stocks: list[int] = []
        self._keys: dict[str, list[tuple[str, ...]]] = {}     # var id -> its element keys
        self._of_var: dict[str, range] = {}       # var id -> its slots (consecutive)
        for var in ir.variables.values():
            if isinstance(var, Lookup):
                self.lookup_at[var.id] = (len(self.lookup_xs), len(var.xs), var.extrapolate)
                self.lookup_xs += var.xs
                self.lookup_ys += var.ys
                continue
            first = len(self.slots)
            kind = self.param_slots if isinstance(var, Constant) else \
                self.stocks if isinstance(var, Stock) else None
            vid, display = var.id, var.display
            for index, key in enumerate(self.keys(var), first):
                label = f"{display}[{','.join(key)}]" if key else display
                slot = _new(Slot)           # Slot(index, vid, key, label), without __init__
                fields = slot.__dict__
                fields["index"], fields["var"], fields["key"], fields["label"] = \
                    index, vid, key, label
                self.index[(vid, key)] = index
                self.slots.append(slot)
                if kind is not None:
                    kind.append(index)
            self._of_var[vid] = range(first, len(self.slots))
        self.names: dict[int, str] = {}
        self.gathers: dict[tuple[int, ...], str] = {}
        self.scalar = len(self.slots) <= SCALAR_SLOTS
        self._fixed_cache: dict[tuple[str, tuple[str, ...]], dict] = {}
        self._plans: dict[tuple, tuple | None] = {}     # see _plan
        self._positions: dict[str, dict[str, int]] = {}     # dimension -> element -> position

    def keys(self, var: Element) -> list[tuple[str, ...]]:
        """The element keys of `var`, in C order (one empty key for a scalar); read only."""
        if not var.dims:
            return [()]
        found = self._keys.get(var.id)
        if found is None:
            found = self._keys[var.id] = list(itertools.product(
                *(self.ir.dims[d].elements for d in var.dims)))
        return found

    # -- expressions ---------------------------------------------------------
    def emit(self, expr: Expr, binding: dict[str, str], host: Element) -> str:
        e = lambda x: self.emit(x, binding, host)  # noqa: E731
        if self.shared and not isinstance(expr, LEAVES):
            name = self.shared.get(self.tree_keys(expr))
            if name is not None:
                return name
        if isinstance(expr, Const):
            return _num(expr.value)
        if isinstance(expr, (Ref, Index)):
            return self.names[self.slot_for(expr, binding, host)]
        if isinstance(expr, Time):
            return self.time
        if isinstance(expr, TimeStep):
            return "dt"
        if isinstance(expr, Unary):
            return PYTHON_UNARY[expr.op].format(e(expr.operand))
        if isinstance(expr, Binary):
            return PYTHON_BINARY[expr.op].format(e(expr.left), e(expr.right))
        if isinstance(expr, Call):
            return self.call(expr, [e(a) for a in expr.args], host)
        if isinstance(expr, LookupCall):
            offset, n, extrapolate = self.lookup_at[expr.table]
            return f"lookup({e(expr.arg)}, LX, LY, {offset}, {n}, {extrapolate})"
        if isinstance(expr, Reduce):
            outer, self.shared = self.shared, {}    # the operand is read under other bindings
            try:
                parts = [self.emit(expr.operand, {**binding, expr.dim: el}, host)
                         for el in self.ir.dims[expr.dim].elements]
            finally:
                self.shared = outer
            if expr.op in ("min", "max"):
                return f"{expr.op}({', '.join(parts)})" if len(parts) > 1 else parts[0]
            joined = (" * " if expr.op == "prod" else " + ").join(parts)
            return f"(({joined}) / {len(parts)})" if expr.op == "mean" else f"({joined})"
        raise ModelError(f"'{host.display}': cannot compile {type(expr).__name__}")

    def slot_for(self, expr: Expr, binding: dict[str, str], host: Element) -> int:
        cls = type(expr)
        if cls is Ref or (cls is Index and type(expr.target) is Ref):
            # the slot by arithmetic (a tape asks for every element of every arrayed
            # equation: 4,310 times for eviction_cascade): the variable's first slot, the
            # subscripts' offsets, and each free dimension's element from the binding
            where = (expr.name, None) if cls is Ref else (expr.target.name, expr.elements)
            plan = self._plans.get(where)
            if plan is None:
                plan = self._plans[where] = self._plan(*where, host)
            if plan is not None:
                slot = plan[0]
                for d, positions, stride in plan[1]:
                    at = positions.get(binding.get(d))
                    if at is None:
                        break           # not fixed, or not an element: the long way says so
                    slot += at * stride
                else:
                    return slot
        fixed: dict[str, str | None] = {}
        target = expr
        if isinstance(expr, Index):
            target = expr.target
            if not isinstance(target, Ref):
                raise ModelError(f"'{host.display}': only names can be subscripted")
            fixed = self._fixed_by(target.name, expr.elements, host)
        var = self.ir.variables[target.name]
        key = []
        for d in var.dims:
            element = fixed.get(d) or binding.get(d)
            if element is None:
                raise DimensionError(f"'{host.display}' uses '{var.display}' (over {var.dims}) "
                                     f"where dimension '{d}' is not fixed; subscript it or reduce")
            key.append(element)
        return self.index[(var.id, tuple(key))]

    def _plan(self, name: str, subscripts: tuple[str, ...] | None, host: Element):
        """(slot of the fixed part, ((dimension, element -> position, stride), ...) of the
        free ones) of a reference to `name` (subscripted or not), or None when a subscript
        is not an element (slot_for's long way raises)."""
        var = self.ir.variables[name]
        fixed = self._fixed_by(name, subscripts, host) if subscripts is not None else {}
        slot, free, stride = self._of_var[var.id].start, [], 1
        for d in reversed(var.dims):                # C order: the last dimension fastest
            elements = self.ir.dims[d].elements
            positions = self._positions.get(d)
            if positions is None:
                positions = self._positions[d] = {e: i for i, e in enumerate(elements) if e}
            element = fixed.get(d)
            if element:
                if element not in positions:
                    return None
                slot += positions[element] * stride
            else:
                free.append((d, positions, stride))
            stride *= len(elements)
        return slot, tuple(reversed(free))

    def _fixed_by(self, name: str, subscripts: tuple[str, ...], host: Element) -> dict:
        """index_binding of a subscripted reference, found once per (name, subscripts): a
        tape asks again for every element of every arrayed equation (4,310 times for
        eviction_cascade). Read only."""
        key = (name, subscripts)
        found = self._fixed_cache.get(key)
        if found is None:
            from sdmodels.ir import index_binding
            found = self._fixed_cache[key] = index_binding(
                self.ir.variables[name].dims, subscripts, self.ir.dims, f"'{host.display}'")
        return found

    def call(self, expr: Call, a: list[str], host: Element) -> str:
        code = builtin_code(expr.fn, a, self.time, self.vector, host.display)
        if code is None:
            raise ModelError(f"'{host.display}': function {expr.fn!r} is not supported by the "
                             "compiler")
        return code

    def cut_back(self, flow: Flow, key: tuple[str, ...], code: str) -> str:
        """An outflow of a stock that limits its outflows takes at most what the stock holds
        plus its inflows, less the outflows before it, over this step."""
        stock = self.ir.variables[canonical(flow.out_of)]
        if not stock.limit_outflows:
            return code
        name = lambda f: self.names[self.index[(f, key)]]  # noqa: E731
        room = [f"{name(stock.id)} / dt"] + [f"+ {name(f)}" for f in stock.inflows]
        room += [f"- {name(f)}" for f in stock.outflows[:stock.outflows.index(flow.id)]]
        return f"min({code}, max(0.0, {' '.join(room)}))"

    def vector(self, items: list[str]) -> str:
        """A vector argument as the pair `array, index` (see sdmodels/_vectors.py): slots of
        one state array with a constant index array (a module global, frozen by numba), or
        else the values built into a small array with the index 0..n-1."""
        found = [re.fullmatch(r"([a-z]\w*)\[(\d+)\]", it) for it in items]
        if all(found) and len({f.group(1) for f in found}) == 1:
            index = tuple(int(f.group(2)) for f in found)
            return f"{found[0].group(1)}, {self.gather(index)}"
        return f"np.array(({', '.join(items)},)), {self.gather(tuple(range(len(items))))}"

    def gather(self, index: tuple[int, ...]) -> str:
        return self.gathers.setdefault(index, f"G{len(self.gathers)}")

    # -- blocks ----------------------------------------------------------------
    def per_slot(self, var: Element, equation) -> list[tuple[int, dict[str, str], Expr]]:
        """(slot, binding, expression) for every element of `var`."""
        if not var.dims and not isinstance(equation, PerElement):
            return [(self.index[(var.id, ())], {}, equation)]
        out = []
        per = equation.as_dict() if isinstance(equation, PerElement) else None
        for slot, key in zip(self._of_var[var.id], self.keys(var)):
            expr = per[key] if per is not None else equation
            out.append((slot, dict(zip(var.dims, key)), expr))
        return out

    def value_lines(self, var: Element, ind: str, *, first_stage: bool,
                    start: bool = False) -> list[str]:
        """Lines computing `var` for the current state (aux, flow, sampler, window)."""
        lines = []
        if isinstance(var, (Aux, Flow)):
            for slot, binding, expr in self.per_slot(var, var.equation):
                lines += self.share(expr, binding, var, ind, slot)
                code = self.emit(expr, binding, var)
                self.shared = {}
                if isinstance(var, Flow) and var.non_negative:
                    code = f"max(0.0, {code})"
                if isinstance(var, Flow) and var.out_of is not None:
                    code = self.cut_back(var, self.slots[slot].key, code)
                lines.append(f"{ind}{self.names[slot]} = {code}")
        elif isinstance(var, SampleIfTrue) and first_stage:
            for slot, binding, expr in self.per_slot(var, var.input):
                ticked = var.ticked(expr, after=None if start else self.ir.start)
                lines.append(f"{ind}{self.names[slot]} = {self.emit(ticked, binding, var)}")
        elif isinstance(var, SampleHold) and first_stage:
            for slot, binding, expr in self.per_slot(var, var.input):
                period = self.emit(var.period, binding, var)
                lines += [f"{ind}if {self.time} + teps >= nt[{slot}]:",
                          f"{ind}    {self.names[slot]} = {self.emit(expr, binding, var)}",
                          f"{ind}    while nt[{slot}] <= {self.time} + teps:",
                          f"{ind}        nt[{slot}] += max({period}, dt)"]
        elif isinstance(var, Rolling) and first_stage:
            for slot, binding, expr in self.per_slot(var, var.input):
                # a monotone deque of the window's candidates (the interpreter's
                # `_roll`: O(1) a step, amortised, not O(window))
                lines += [f"{ind}{self.names[slot]} = roll(rb{slot}, 0, rb{slot}.shape[0], "
                          f"rc[{slot}], rp[{slot}], {self.emit(expr, binding, var)}, "
                          f"{var.op == 'max'}, rq{slot}, rst, {slot})",
                          f"{ind}rc[{slot}] = min(rc[{slot}] + 1, rb{slot}.shape[0])",
                          f"{ind}rp[{slot}] = (rp[{slot}] + 1) % rb{slot}.shape[0]"]
        return lines

    def share(self, expr: Expr, binding, host: Element, ind: str, slot: int) -> list[str]:
        """Lines computing the subtrees `expr` repeats, once each, into locals that the
        equation then reads (sdmodels/tape_shared.py; the same values, a smaller kernel)."""
        self.shared, lines = {}, []
        for i, sub in enumerate(shared(expr, self.tree_keys)):
            name = f"s{slot}_{i}"
            lines.append(f"{ind}{name} = {self.emit(sub, binding, host)}")
            self.shared[self.tree_keys(sub)] = name
        return lines

    def init_lines(self, ind: str) -> list:
        """The start values, in init order: `Movable` blocks, and the lines that make a
        delay's or window's buffer (kernel locals: they stay in the kernel function)."""
        out: list = []

        def value(slot, code):
            out.append(Movable([f"{ind}{self.names[slot]} = {code}"]))
        for vid in self.ir.init_order:
            var = self.ir.variables[vid]
            if isinstance(var, Stock) or (isinstance(var, Aux) and var.initial is not None):
                for slot, binding, expr in self.per_slot(var, var.initial):
                    value(slot, self.emit(expr, binding, var))
            elif isinstance(var, DelayLine):
                for slot, binding, expr in self.per_slot(var, var.input):
                    value(slot, self.emit(var.initial if var.initial is not None else expr,
                                          binding, var))
                    out.append(f"{ind}db{slot} = np.full(max(1, int(np.floor("
                               f"{self.emit(var.delay, binding, var)} / dt + 0.5))), "
                               f"{self.names[slot]})")
            elif isinstance(var, SampleIfTrue):     # `initial`, then this step's sample
                out.append(Movable([f"{ind}{self.names[slot]} = {self.emit(expr, binding, var)}"
                                    for slot, binding, expr in self.per_slot(var, var.initial)]
                                   + self.value_lines(var, ind, first_stage=True,
                                                      start=True)))
            elif isinstance(var, SampleHold):
                for slot, binding, expr in self.per_slot(var, var.input):
                    first = self.emit(var.first, binding, var) if var.first is not None else "start"
                    out.append(Movable([f"{ind}{self.names[slot]} = {self.emit(expr, binding, var)}",
                                        f"{ind}nt[{slot}] = {first}"]))
            elif isinstance(var, Rolling):
                for slot, binding, expr in self.per_slot(var, var.input):
                    window = self.emit(var.window, binding, var)
                    value(slot, self.emit(expr, binding, var))
                    out.append(f"{ind}rb{slot} = np.full(int(np.floor({window} / dt + 0.5)) + 1, "
                               f"{self.names[slot]})")
                    out.append(f"{ind}rq{slot} = np.empty(rb{slot}.shape[0], dtype=np.int64)")
            else:
                out.append(Movable(self.value_lines(var, ind, first_stage=True)))
        return out

    def derivative(self, slot: Slot) -> str:
        stock = self.ir.variables[slot.var]
        terms = [f"+ {self.names[self.index[(f, slot.key)]]}" for f in stock.inflows]
        terms += [f"- {self.names[self.index[(f, slot.key)]]}" for f in stock.outflows]
        return " ".join(terms).lstrip("+ ") if terms else "0.0"

    def stage(self, stage: int, ind: str) -> list[Movable]:
        """Evaluate every per-step variable for stage `stage` (1..4) into its names."""
        return [Movable(self.value_lines(self.ir.variables[vid], ind, first_stage=stage == 1))
                for vid in self.ir.eval_order]

    def set_names(self, stage: int) -> None:
        """Where each slot's value lives during a stage.

        Small models keep values in scalar locals (fastest code); large ones in arrays (`x` at
        stage 1; `y` stocks and `z` per-step values at RK4 stages 2-4), which numba compiles
        many times faster. Locals are spilled into `x` when a step is saved or checked.
        """
        self.names = {}
        for s in self.slots:
            var = self.ir.variables[s.var]
            if stage > 1 and isinstance(var, Stock):
                self.names[s.index] = f"y{s.index}" if self.scalar else f"y[{s.index}]"
            elif stage > 1 and isinstance(var, (Aux, Flow)):
                self.names[s.index] = f"z{s.index}" if self.scalar else f"z[{s.index}]"
            else:
                self.names[s.index] = f"x{s.index}" if self.scalar else f"x[{s.index}]"
        self.time = {1: "t", 2: "th", 3: "th", 4: "tf"}[stage]

    def check_order(self) -> list[int]:
        """Slots in the order a non-finite value is looked for: state first, then each step's."""
        variables = self.ir.variables
        state = [i for vid, slots in self._of_var.items()
                 if isinstance(variables[vid], (Stock, DelayLine)) for i in slots]
        step = [i for vid in self.ir.eval_order for i in self._of_var[vid]]
        return state + step

    def _name(self, array: str, slot: int) -> str:
        return f"{array}{slot}" if self.scalar else f"{array}[{slot}]"

    def source(self) -> str:
        """The kernel module's text (sdmodels/kernel_layout.py lays it out)."""
        from sdmodels.kernel_layout import kernel_module
        return kernel_module(self)

    def _slots_of(self, kind) -> list[int]:
        variables = self.ir.variables
        return [i for vid, slots in self._of_var.items() if isinstance(variables[vid], kind)
                for i in slots]

    def _input_of(self, var: DelayLine, slot: int) -> Expr:
        if isinstance(var.input, PerElement):
            return var.input.as_dict()[self.slots[slot].key]
        return var.input
