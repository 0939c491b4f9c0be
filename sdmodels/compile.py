"""compile(ir) -> Kernel: numba code generated from the validated IR tree.

Arrays are flattened: every element of an arrayed variable becomes one scalar slot, so the
kernel is plain scalar code looping over runs (outer) and steps (inner). Parameters are
passed in as a (runs, n_params) array and never baked into the code, so a new parameter set
or sweep never recompiles. The generated source is keyed by its own hash and cached in
memory and on disk (verified against the hash on load; numba's cache in the same private
directory, see kernel_cache), so a second process does not pay the
compile again. Only numbers and slot indices from the IR reach the source text; no name,
string or equation text from a user or a model file does.
"""
from __future__ import annotations

import functools
import hashlib
import itertools
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from sdmodels.elements import (Aux, Constant, canonical, DelayLine, Element, Flow, Lookup, PerElement,
                               Rolling, SampleHold, Stock)
from sdmodels.errors import DimensionError, ModelError
from sdmodels.expr import (VECTOR_FUNCTIONS, Binary, Call, Const, Expr, Index, LookupCall, Reduce,
                           Ref, Time, TimeStep, Unary)
from sdmodels.operators import PYTHON_BINARY, PYTHON_UNARY
from sdmodels._deep import deep_call
from sdmodels.builtins_code import builtin_code
from sdmodels.tape_shared import LEAVES, Keys, shared

if TYPE_CHECKING:
    from sdmodels.ir import ModelIR
from sdmodels.kernel_cache import load_kernel, secure_subdir

METHODS = ("euler", "rk4")
SCALAR_SLOTS = 64       # up to this many values, kernels use scalar locals; beyond, arrays
_MEMORY_CACHE: dict[str, object] = {}


def cache_dir() -> Path:
    """Where generated kernels live ($SDMODELS_CACHE_DIR to move it; private, see kernel_cache)."""
    return secure_subdir("kernels")


@dataclass(frozen=True)
class Slot:
    """One scalar of the flattened model: a variable, or one element of an arrayed one."""
    index: int
    var: str
    key: tuple[str, ...]
    label: str            # display name, with [elements] for arrays


class SlotTable:
    """What a prepared model (compiled Kernel or interpreted Program) offers `simulate`."""

    @cached_property
    def parameter_columns(self) -> dict[str, list[int]]:
        """Each settable name (canonical id, display, 'Name[elem]') -> its parameter column(s)."""
        out: dict[str, list[int]] = {}
        for col, slot_index in enumerate(self.param_slots):
            slot = self.slots[slot_index]
            var = self.ir.variables[slot.var]
            for key in {var.id, canonical(var.display)}:
                out.setdefault(key, []).append(col)
            if slot.key:
                out.setdefault(canonical(slot.label), []).append(col)
        return out

    @cached_property
    def output_index(self) -> tuple[dict[str, list[int]], dict[str, int]]:
        """({variable id: its slots}, {canonical slot label: slot}): the names `outputs` may
        use, built once (a workbench slider names its plotted outputs on every run)."""
        by_var: dict[str, list[int]] = {}
        for s in self.slots:
            by_var.setdefault(s.var, []).append(s.index)
        return by_var, {canonical(s.label): s.index for s in self.slots}

    @cached_property
    def default_outputs(self) -> np.ndarray:
        """Slots saved when no outputs are named: every variable the modeller declared."""
        return np.array([s.index for s in self.slots if not self.ir.variables[s.var].internal],
                        dtype=np.int64)


@dataclass(frozen=True)
class Kernel(SlotTable):
    """A compiled model: call `simulate` with it; holds the slot table and default params."""
    ir: ModelIR
    method: str
    slots: tuple[Slot, ...]
    param_slots: tuple[int, ...]          # slot index of each parameter column
    defaults: np.ndarray                  # default parameter values, one per column
    lookup_xs: np.ndarray
    lookup_ys: np.ndarray
    check_order: np.ndarray               # slots searched, in order, for a non-finite value
    source_hash: str
    _module: object = field(repr=False, compare=False)

    @property
    def function(self):
        """The compiled numba function (nogil: callers may run slices of runs in threads)."""
        return self._module.kernel

    def __call__(self, P, start, dt, n_steps, save_steps, save_slots, out, seeds, status):
        """Advance every run in P (runs x params) and write saved values into `out`.

        The first call compiles the numba function; numba's SSA pass recurses once per
        branch between a definition and its use, so a kernel with hundreds of samplers
        (eviction_cascade's per-pod decisions) can exceed Python's recursion limit there:
        `deep_call` retries such a call with a deep stack (nothing was written before).
        """
        deep_call(self._module.kernel, P, self._param_slot_array, self.check_order,
                  self.lookup_xs, self.lookup_ys, start, dt, n_steps, save_steps,
                  save_slots, out, seeds, status)

    @cached_property
    def _param_slot_array(self) -> np.ndarray:
        return np.asarray(self.param_slots, dtype=np.int64)


@functools.lru_cache(maxsize=1)
def _helpers_digest() -> str:
    """A hash of the compiled helpers' source: numba's cache of a kernel does not notice a
    change in a helper it calls, so a changed helper must give the kernel a new name."""
    from sdmodels import _runtime, _vectors
    text = b"".join(Path(m.__file__).read_bytes() for m in (_runtime, _vectors))
    return hashlib.sha256(text).hexdigest()


def compile(model, *, method: str = "euler") -> Kernel:  # noqa: A001 - the pipeline verb
    """Compile a Model or ModelIR for one integration method ('euler' or 'rk4')."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; use one of {', '.join(METHODS)}")
    from sdmodels.ir import build       # networkx: imported when a model is first built
    ir = build(model)
    gen = _Generator(ir, method)
    source = gen.source()
    digest = hashlib.sha256((source + _helpers_digest()).encode()).hexdigest()[:24]
    module = _MEMORY_CACHE.get(digest) or _load(digest, source)
    _MEMORY_CACHE[digest] = module
    return Kernel(ir, method, tuple(gen.slots), tuple(gen.param_slots), default_params(gen),
                  np.array(gen.lookup_xs, dtype=float), np.array(gen.lookup_ys, dtype=float),
                  np.array(gen.check_order(), dtype=np.int64), digest, module)


def default_params(gen: "_Generator") -> np.ndarray:
    """The default value of each parameter column (the constants' values in the model)."""
    return np.array([gen.ir.variables[gen.slots[i].var].values[_flat_index(gen.ir, gen.slots[i])]
                     for i in gen.param_slots], dtype=float)


def _flat_index(ir: ModelIR, slot: Slot) -> int:
    var = ir.variables[slot.var]
    if not var.dims:
        return 0
    shape = [len(ir.dims[d].elements) for d in var.dims]
    pos = [ir.dims[d].elements.index(k) for d, k in zip(var.dims, slot.key)]
    return int(np.ravel_multi_index(pos, shape))


def _load(digest: str, source: str):
    """The kernel module, from a cache file verified against its digest (kernel_cache)."""
    return load_kernel(source, f"sdmodels_kernel_{digest}")


def _num(value: float) -> str:
    if value != value:
        return "np.nan"
    if value in (float("inf"), float("-inf")):
        return "np.inf" if value > 0 else "-np.inf"
    return repr(float(value))


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
        for var in ir.variables.values():
            if isinstance(var, Lookup):
                self.lookup_at[var.id] = (len(self.lookup_xs), len(var.xs), var.extrapolate)
                self.lookup_xs += var.xs
                self.lookup_ys += var.ys
                continue
            for key in self.keys(var):
                label = var.display + (f"[{','.join(key)}]" if key else "")
                slot = Slot(len(self.slots), var.id, key, label)
                self.index[(var.id, key)] = slot.index
                self.slots.append(slot)
        self.param_slots = [s.index for s in self.slots
                            if isinstance(ir.variables[s.var], Constant)]
        self.stocks = [s.index for s in self.slots if isinstance(ir.variables[s.var], Stock)]
        self.names: dict[int, str] = {}
        self.gathers: dict[tuple[int, ...], str] = {}
        self.scalar = len(self.slots) <= SCALAR_SLOTS

    def keys(self, var: Element) -> list[tuple[str, ...]]:
        return list(itertools.product(*(self.ir.dims[d].elements for d in var.dims)))

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
        fixed: dict[str, str | None] = {}
        target = expr
        if isinstance(expr, Index):
            target = expr.target
            if not isinstance(target, Ref):
                raise ModelError(f"'{host.display}': only names can be subscripted")
            from sdmodels.ir import index_binding
            fixed = index_binding(self.ir.variables[target.name].dims, expr.elements, self.ir.dims,
                                  f"'{host.display}'")
        var = self.ir.variables[target.name]
        key = []
        for d in var.dims:
            element = fixed.get(d) or binding.get(d)
            if element is None:
                raise DimensionError(f"'{host.display}' uses '{var.display}' (over {var.dims}) "
                                     f"where dimension '{d}' is not fixed; subscript it or reduce")
            key.append(element)
        return self.index[(var.id, tuple(key))]

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
        out = []
        per = equation.as_dict() if isinstance(equation, PerElement) else None
        for key in self.keys(var):
            expr = per[key] if per is not None else equation
            out.append((self.index[(var.id, key)], dict(zip(var.dims, key)), expr))
        return out

    def value_lines(self, var: Element, ind: str, *, first_stage: bool) -> list[str]:
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
        elif isinstance(var, SampleHold) and first_stage:
            for slot, binding, expr in self.per_slot(var, var.input):
                period = self.emit(var.period, binding, var)
                lines += [f"{ind}if {self.time} + teps >= nt[{slot}]:",
                          f"{ind}    {self.names[slot]} = {self.emit(expr, binding, var)}",
                          f"{ind}    while nt[{slot}] <= {self.time} + teps:",
                          f"{ind}        nt[{slot}] += max({period}, dt)"]
        elif isinstance(var, Rolling) and first_stage:
            for slot, binding, expr in self.per_slot(var, var.input):
                lines += [f"{ind}rb{slot}[rp[{slot}]] = {self.emit(expr, binding, var)}",
                          f"{ind}rp[{slot}] = (rp[{slot}] + 1) % rb{slot}.shape[0]",
                          f"{ind}rc[{slot}] = min(rc[{slot}] + 1, rb{slot}.shape[0])",
                          f"{ind}{self.names[slot]} = window_extreme(rb{slot}, rc[{slot}], "
                          f"{var.op == 'max'})"]
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

    def init_lines(self, ind: str) -> list[str]:
        lines = []
        for vid in self.ir.init_order:
            var = self.ir.variables[vid]
            if isinstance(var, Stock):
                for slot, binding, expr in self.per_slot(var, var.initial):
                    lines.append(f"{ind}{self.names[slot]} = {self.emit(expr, binding, var)}")
            elif isinstance(var, DelayLine):
                for slot, binding, expr in self.per_slot(var, var.input):
                    start = self.emit(var.initial if var.initial is not None else expr, binding, var)
                    lines += [f"{ind}{self.names[slot]} = {start}",
                              f"{ind}db{slot} = np.full(max(1, int(np.floor("
                              f"{self.emit(var.delay, binding, var)} / dt + 0.5))), "
                              f"{self.names[slot]})"]
            elif isinstance(var, SampleHold):
                for slot, binding, expr in self.per_slot(var, var.input):
                    first = self.emit(var.first, binding, var) if var.first is not None else "start"
                    lines += [f"{ind}{self.names[slot]} = {self.emit(expr, binding, var)}",
                              f"{ind}nt[{slot}] = {first}"]
            elif isinstance(var, Rolling):
                for slot, binding, expr in self.per_slot(var, var.input):
                    window = self.emit(var.window, binding, var)
                    lines += [f"{ind}{self.names[slot]} = {self.emit(expr, binding, var)}",
                              f"{ind}rb{slot} = np.full(int(np.floor({window} / dt + 0.5)) + 1, "
                              f"{self.names[slot]})"]
            elif isinstance(var, Aux) and var.initial is not None:
                for slot, binding, expr in self.per_slot(var, var.initial):
                    lines.append(f"{ind}{self.names[slot]} = {self.emit(expr, binding, var)}")
            else:
                lines += self.value_lines(var, ind, first_stage=True)
        return lines

    def derivative(self, slot: Slot) -> str:
        stock = self.ir.variables[slot.var]
        terms = [f"+ {self.names[self.index[(f, slot.key)]]}" for f in stock.inflows]
        terms += [f"- {self.names[self.index[(f, slot.key)]]}" for f in stock.outflows]
        return " ".join(terms).lstrip("+ ") if terms else "0.0"

    def stage(self, stage: int, ind: str) -> list[str]:
        """Evaluate every per-step variable for stage `stage` (1..4) into its names."""
        lines = []
        for vid in self.ir.eval_order:
            lines += self.value_lines(self.ir.variables[vid], ind, first_stage=stage == 1)
        return lines

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
        state = [s.index for s in self.slots
                 if isinstance(self.ir.variables[s.var], (Stock, DelayLine))]
        step = [self.index[(vid, key)] for vid in self.ir.eval_order
                for key in self.keys(self.ir.variables[vid])]
        return state + step

    def _name(self, array: str, slot: int) -> str:
        return f"{array}{slot}" if self.scalar else f"{array}[{slot}]"

    def source(self) -> str:
        self.set_names(1)
        I2, I3 = " " * 8, " " * 12
        n = len(self.slots)
        x, d = (lambda i: self._name("x", i)), (lambda i: self._name("d", i))
        body = [f"{I2}{a} = np.empty({n})" for a in ("x", "y", "z")]
        body += [f"{I2}d = np.zeros({n})", f"{I2}nt = np.zeros({n})"]
        body += [f"{I2}{a} = np.zeros({n}, dtype=np.int64)" for a in ("dp", "rp", "rc")]
        if self.scalar:
            body += [f"{I2}{x(slot)} = P[r, {col}]" for col, slot in enumerate(self.param_slots)]
        else:
            body += [f"{I2}for c in range(PS.shape[0]):", f"{I2}    x[PS[c]] = P[r, c]"]
        body.append(f"{I2}t = start")
        if self.method == "rk4" and not self.scalar:
            body += [f"{I2}k{i} = np.zeros({n})" for i in (1, 2, 3, 4)]
        body += self.init_lines(I2)
        body += [f"{I2}si = 0",
                 f"{I2}for k in range(n_steps + 1):",
                 f"{I3}t = start + k * dt", f"{I3}th = t + 0.5 * dt", f"{I3}tf = t + dt"]
        body += [f"{I3}{x(s)} = db{s}[dp[{s}]]" for s in self._slots_of(DelayLine)]
        body += self.stage(1, I3)
        # spill scalar locals into x only when a step is saved or has gone non-finite
        spill = [f"{I3}    x[{i}] = x{i}" for i in range(n)] if self.scalar else []
        if self.scalar:
            total = " + ".join(f"x{i}" for i in self.check_order()) or "0.0"
            body += [f"{I3}if not np.isfinite({total}):"] + spill + [f"{I3}    bad = 0"]
        else:
            body += [f"{I3}if True:", f"{I3}    bad = 0"]
        body += [f"{I3}    for c in range(CHECK.shape[0]):",
                 f"{I3}        if not np.isfinite(x[CHECK[c]]):",
                 f"{I3}            status[r, 0] = k",
                 f"{I3}            status[r, 1] = CHECK[c]",
                 f"{I3}            status[r, 2] = 1 if x[CHECK[c]] != x[CHECK[c]] else 2",
                 f"{I3}            bad = 1",
                 f"{I3}            break",
                 f"{I3}    if bad:",
                 f"{I3}        break",
                 f"{I3}if si < n_save and save_steps[si] == k:"] + spill + [
                 f"{I3}    for j in range(save_slots.shape[0]):",
                 f"{I3}        out[r, si, j] = x[save_slots[j]]",
                 f"{I3}    si += 1",
                 f"{I3}if k == n_steps:", f"{I3}    break"]
        stock_slots = [self.slots[i] for i in self.stocks]
        if self.method == "euler":
            body += [f"{I3}{d(s.index)} = {self.derivative(s)}" for s in stock_slots]
        else:
            weights = {1: "0.5 * dt", 2: "0.5 * dt", 3: "dt"}
            for stage in (1, 2, 3, 4):
                self.set_names(stage)
                if stage > 1:
                    body += self.stage(stage, I3)
                body += [f"{I3}{self._name(f'k{stage}', s.index)} = {self.derivative(s)}"
                         for s in stock_slots]
                if stage < 4:
                    body += [f"{I3}{self._name('y', s.index)} = {x(s.index)} + {weights[stage]}"
                             f" * {self._name(f'k{stage}', s.index)}" for s in stock_slots]
            self.set_names(1)
            body += [f"{I3}{d(s.index)} = ({self._name('k1', s.index)} + 2.0 * "
                     f"{self._name('k2', s.index)} + 2.0 * {self._name('k3', s.index)} + "
                     f"{self._name('k4', s.index)}) / 6.0" for s in stock_slots]
        for s in self._slots_of(DelayLine):
            var = self.ir.variables[self.slots[s].var]
            binding = dict(zip(var.dims, self.slots[s].key))
            body += [f"{I3}db{s}[dp[{s}]] = {self.emit(self._input_of(var, s), binding, var)}",
                     f"{I3}dp[{s}] = (dp[{s}] + 1) % db{s}.shape[0]"]
        for s in stock_slots:
            update = f"{x(s.index)} + dt * {d(s.index)}"
            if self.ir.variables[s.var].non_negative:
                update = f"max(0.0, {update})"
            body.append(f"{I3}{x(s.index)} = {update}")
        return "\n".join([
            "# generated by sdmodels.compile from a validated model IR; do not edit",
            "import numpy as np",
            "from sdmodels.kernel_cache import njit",
            "from sdmodels._runtime import lookup, pulse_train, ramp, bounded_normal, window_extreme",
            "from sdmodels._vectors import " + ", ".join(VECTOR_FUNCTIONS),
            *(f"{name} = np.array({list(index)}, dtype=np.int64)"
              for index, name in self.gathers.items()),
            "",
            "@njit(cache=True, nogil=True, error_model='numpy')",
            "def kernel(P, PS, CHECK, LX, LY, start, dt, n_steps, save_steps, save_slots, out, "
            "seeds, status):",
            "    n_save = save_steps.shape[0]",
            "    teps = dt * 1e-6",
            "    for r in range(P.shape[0]):",
            "        np.random.seed(seeds[r])"] + body) + "\n"

    def _slots_of(self, kind) -> list[int]:
        return [s.index for s in self.slots if isinstance(self.ir.variables[s.var], kind)]

    def _input_of(self, var: DelayLine, slot: int) -> Expr:
        if isinstance(var.input, PerElement):
            return var.input.as_dict()[self.slots[slot].key]
        return var.input
