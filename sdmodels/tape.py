"""prepare(ir) -> Program: a model as an instruction tape for the shared interpreter.

The first-run path. Writing the tape is one pass over the IR (linear in the model, no numba
compile): the tape is a few numpy arrays that sdmodels/_interpreter.py, compiled once for all
models, executes. Each statement is the kernel's (sdmodels/compile.py) in the same order with
the same operands, so both paths give the same numbers: the slot table, orders and per-element
equations come from compile's _Generator itself. Evaluation order is kept too (conditionals
evaluate one branch, `and`/`or` short-circuit, an argument the kernel reads twice is read
twice when it draws random numbers), so random streams match.

>>> from sdmodels import Model
>>> m = Model("decay", stop=2, dt=0.5)
>>> s = m.stock("Amount", initial=100)
>>> _ = m.flow("Outflow", s / m.constant("Lifetime", 1), out_of=s)
>>> program = prepare(m)
>>> len(program.code) > 0, program.method
(True, 'euler')
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from sdmodels import _opcodes as op
from sdmodels.compile import METHODS, SlotTable, Slot, _Generator, default_params
from sdmodels.elements import (Aux, DelayLine, Flow, Rolling, SampleHold, Stock, canonical)
from sdmodels.errors import DimensionError, ModelError
from sdmodels.expr import (VECTOR_FUNCTIONS, Binary, Call, Const, Expr, Index, LookupCall,
                           Reduce, Ref, Time, TimeStep, Unary, walk)
from sdmodels.ir import ModelIR, build
from sdmodels.operators import BinaryOp, CodeTable, Function, ReduceOp, UnaryOp
from sdmodels.tape_shared import LEAVES, Keys, invariant, shared

_UNARY = CodeTable(UnaryOp, {"-": op.NEG, "not": op.NOT})
_BINARY = CodeTable(BinaryOp, complete=False, code={  # 'and' / 'or' jump (short-circuit)
    "+": op.ADD, "-": op.SUB, "*": op.MUL, "/": op.DIV, "^": op.POW, "<": op.LT, "<=": op.LE,
    ">": op.GT, ">=": op.GE, "=": op.EQ, "<>": op.NE})
_UNARY_CALLS = CodeTable(Function, complete=False, code={
    "abs": op.ABS, "exp": op.EXP, "ln": op.LN, "sqrt": op.SQRT, "floor": op.FLOOR,
    "ceil": op.CEIL, "integer": op.TRUNC, "sin": op.SIN, "cos": op.COS, "tan": op.TAN,
    "arctan": op.ATAN, "log10": op.LOG10, "round": op.ROUND, "random_exponential": op.REXP})
_BINARY_CALLS = CodeTable(Function, complete=False, code={
    "modulo": op.MOD, "min": op.MIN, "max": op.MAX, "random_uniform": op.RUNIF})
_RANDOM = {Function.RANDOM_UNIFORM, Function.RANDOM_NORMAL, Function.RANDOM_EXPONENTIAL}
_REDUCE = CodeTable(ReduceOp, {"sum": op.ADD, "mean": op.ADD, "prod": op.MUL, "min": op.MIN,
                               "max": op.MAX})


@dataclass(frozen=True)
class Program(SlotTable):
    """A model ready for the interpreter: its tape and slot table; call it like a Kernel."""
    ir: ModelIR
    method: str
    slots: tuple[Slot, ...]
    param_slots: tuple[int, ...]
    defaults: np.ndarray
    arrays: dict = field(repr=False, compare=False)     # the tape, as the interpreter takes it

    @property
    def code(self) -> np.ndarray:
        """The instructions, one (op, dst, a, b) row each."""
        return self.arrays["code"]

    def __call__(self, P, start, dt, n_steps, save_steps, save_slots, out, seeds, status):
        """Advance every run in P (runs x params) and write saved values into `out`."""
        from sdmodels._aot import interpreter
        a = self.arrays
        interpreter()(P, self._param_slot_array, a["check"], a["lx"], a["ly"], a["loff"],
                      a["llen"], a["lext"], a["code"], a["extra"], a["seg"], a["r0"], a["treg"],
                      a["n"], a["stocks"], a["fptr"], a["fidx"], a["fsgn"], a["nonneg"],
                      a["bkind"], self.method == "rk4", float(start), float(dt), int(n_steps),
                      save_steps, save_slots, out, seeds, status)

    @cached_property
    def _param_slot_array(self) -> np.ndarray:
        return np.asarray(self.param_slots, dtype=np.int64)


def prepare(model, *, method: str = "euler") -> Program:
    """Write the instruction tape of a Model or ModelIR for 'euler' or 'rk4' (no compile)."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; use one of {', '.join(METHODS)}")
    ir = build(model)
    gen = _Generator(ir, method)
    writer = _TapeWriter(gen)
    return Program(ir, method, tuple(gen.slots), tuple(gen.param_slots), default_params(gen),
                   writer.arrays())


class _TapeWriter:
    """Emits the tape segments (start, stage 1, RK4 stages 2-4, pipeline writes) of one IR."""

    def __init__(self, gen: _Generator):
        self.gen, self.ir = gen, gen.ir
        n = self.n = len(gen.slots)
        kinds = [type(gen.ir.variables[s.var]) for s in gen.slots]
        self.is_stock = [k is Stock for k in kinds]
        self.invariant = invariant(gen.ir)        # computed once, with the start values
        self.is_value = [k in (Aux, Flow) and s.var not in self.invariant
                         for k, s in zip(kinds, gen.slots)]
        self.treg = 3 * n                         # time; dt and time epsilon follow
        holds = [s for s, k in enumerate(kinds) if k is SampleHold]
        self.clock = {s: 3 * n + 3 + i for i, s in enumerate(holds)}   # next sample time
        self.top = self.first_temp = 3 * n + 3 + len(holds)
        self.max_top = self.top
        self.consts: dict[float | str, int] = {}
        self.code: list[list[int]] = []
        self.extra: list[int] = []
        self.buffers: dict[int, int] = {}         # slot -> buffer id
        self.bkind: list[int] = []
        self.stage = 1
        self.pure: dict[int, bool] = {}
        self.lookup_ids = {name: i for i, name in enumerate(gen.lookup_at)}
        self.keys = Keys()
        self.shared: dict[int, int] = {}          # subtree key -> register (one equation)
        self.segments = [self._segment(self._start), self._segment(self._stage_one),
                         self._segment(self._later_stages), self._segment(self._pipelines)]

    # -- registers -------------------------------------------------------------
    def const(self, value: float) -> int:
        """The register of a constant, as a negative placeholder until the layout is known."""
        key = repr(float(value))
        if key not in self.consts:
            self.consts[key] = -1 - len(self.consts)
        return self.consts[key]

    def temp(self) -> int:
        self.top += 1
        self.max_top = max(self.max_top, self.top)
        return self.top - 1

    def reg(self, slot: int) -> int:
        """Where a slot's value lives in the current stage (the kernel's x, y, z names)."""
        if self.stage > 1 and self.is_stock[slot]:
            return self.n + slot
        if self.stage > 1 and self.is_value[slot]:
            return 2 * self.n + slot
        return slot

    def emit(self, code: int, dst: int = 0, a: int = 0, b: int = 0) -> int:
        self.code.append([code, dst, a, b])
        return len(self.code) - 1

    def label(self) -> int:
        return len(self.code)

    def patch(self, at: int, target: int) -> None:
        """Point the jump at `at` to `target`."""
        row = self.code[at]
        row[2 if row[0] == op.JMP else 3] = target

    # -- expressions -----------------------------------------------------------
    def operand(self, expr: Expr, binding, host) -> int:
        """A register holding the value of `expr` (a slot or constant itself where it can)."""
        if isinstance(expr, Const):
            return self.const(expr.value)
        if isinstance(expr, (Ref, Index)):
            return self.reg(self.gen.slot_for(expr, binding, host))
        if isinstance(expr, Time):
            return self.treg
        if isinstance(expr, TimeStep):
            return self.treg + 1
        if self.shared:
            reg = self.shared.get(self.keys(expr))
            if reg is not None:
                return reg
        dst = self.temp()
        self.into(expr, dst, binding, host)
        return dst

    def again(self, expr: Expr, reg: int, binding, host) -> int:
        """`expr` read a second time: the same register unless it draws random numbers."""
        key = id(expr)
        if key not in self.pure:
            self.pure[key] = not any(isinstance(n, Call) and n.fn in _RANDOM for n in walk(expr))
        return reg if self.pure[key] else self.operand(expr, binding, host)

    def into(self, expr: Expr, dst: int, binding, host) -> None:
        """Emit code that leaves the value of `expr` in register `dst`."""
        if self.shared and not isinstance(expr, LEAVES) and self.keys(expr) in self.shared:
            self.emit(op.MOV, dst, self.shared[self.keys(expr)])
            return
        mark = self.top
        e = lambda x: self.operand(x, binding, host)  # noqa: E731
        if isinstance(expr, (Const, Ref, Index, Time, TimeStep)):
            self.emit(op.MOV, dst, e(expr))
        elif isinstance(expr, Unary):
            self.emit(_UNARY[expr.op], dst, e(expr.operand))
        elif isinstance(expr, Binary) and expr.op in ("and", "or"):
            left = e(expr.left)
            jump = self.emit(op.JZ if expr.op == "and" else op.JNZ, 0, left)
            self.emit(op.NE0, dst, e(expr.right))
            done = self.emit(op.JMP)
            self.patch(jump, self.label())
            self.emit(op.MOV, dst, self.const(0.0 if expr.op == "and" else 1.0))
            self.patch(done, self.label())
        elif isinstance(expr, Binary) and expr.op == "^" and isinstance(expr.left, Const) \
                and math.copysign(1.0, expr.left.value) < 0:
            # the kernel writes (-30.0 ** b), which Python reads as -(30.0 ** b) (and so does
            # Vensim: 30^-30^-c is 30^(-(30^(-c)))): the same here
            self.emit(op.POW, dst, self.const(-expr.left.value), e(expr.right))
            self.emit(op.NEG, dst, dst)
        elif isinstance(expr, Binary):
            a = e(expr.left)
            self.emit(_BINARY[expr.op], dst, a, e(expr.right))
        elif isinstance(expr, Call):
            self.call(expr, dst, binding, host)
        elif isinstance(expr, LookupCall):
            self.emit(op.LOOKUP, dst, e(expr.arg), self.lookup_id(expr.table))
        elif isinstance(expr, Reduce):
            self.reduce(expr, dst, binding, host)
        else:
            raise ModelError(f"'{host.display}': cannot compile {type(expr).__name__}")
        self.top = mark

    def lookup_id(self, table: str) -> int:
        return self.lookup_ids[table]

    def branch(self, cond: int, then, other, dst: int) -> None:
        """dst = then() if R[cond] != 0 else other(); each a callable emitting into dst."""
        jump = self.emit(op.JZ, 0, cond)
        then(dst)
        done = self.emit(op.JMP)
        self.patch(jump, self.label())
        other(dst)
        self.patch(done, self.label())

    def call(self, expr: Call, dst: int, binding, host) -> None:
        fn, args = expr.fn, expr.args
        e = lambda x: self.operand(x, binding, host)  # noqa: E731
        put = lambda x: (lambda d: self.into(x, d, binding, host))  # noqa: E731
        zero = lambda d: self.emit(op.MOV, d, self.const(0.0))  # noqa: E731
        if fn in _UNARY_CALLS:
            self.emit(_UNARY_CALLS[fn], dst, e(args[0]))
        elif fn in _BINARY_CALLS:
            a = e(args[0])
            self.emit(_BINARY_CALLS[fn], dst, a, e(args[1]))
        elif fn == "log":
            if len(args) == 1:
                self.emit(op.LOG10, dst, e(args[0]))
            else:
                a = e(args[0])
                self.emit(op.LOGB, dst, a, e(args[1]))
        elif fn == "if_then_else":
            self.branch(e(args[0]), put(args[1]), put(args[2]), dst)
        elif fn == "step":
            at = e(args[1])
            self.branch(self._time_ge(at), put(args[0]), zero, dst)
        elif fn == "pulse":
            self.pulse(args, dst, binding, host)
        elif fn in ("xidz", "zidz"):
            den = e(args[1])
            small = self.temp()
            self.emit(op.ABS, small, den)
            self.emit(op.LT, small, small, self.const(1e-6))

            def divide(d):
                num = e(args[0])
                self.emit(op.DIV, d, num, self.again(args[1], den, binding, host))
            self.branch(small, put(args[2]) if fn == "xidz" else zero, divide, dst)
        elif fn == "pulse_train":
            regs = [e(a) for a in args[:4]]
            self.emit(op.PULSE_TRAIN, dst, self.pack(regs))
        elif fn == "ramp":
            regs = [e(a) for a in args[:3]] + [self.const(0.0)] * (3 - len(args))
            self.emit(op.RAMP, dst, self.pack(regs + [int(len(args) > 2)]))
        elif fn == "random_normal":
            if len(args) >= 4:
                self.emit(op.BNORM, dst, self.pack([e(a) for a in args[:4]]))
            else:
                a = e(args[0])
                self.emit(op.RNORM, dst, a, e(args[1]))
        elif fn in VECTOR_FUNCTIONS:
            self.vector_call(expr, dst, binding, host)
        else:
            raise ModelError(f"'{host.display}': function {fn!r} is not supported by the "
                             "compiler")

    def _time_ge(self, at: int) -> int:
        """A temp holding (t + teps >= R[at]), as the kernel's step and pulse compare."""
        now, flag = self.temp(), self.temp()
        self.emit(op.ADD, now, self.treg, self.treg + 2)
        self.emit(op.GE, flag, now, at)
        return flag

    def pulse(self, args, dst: int, binding, host) -> None:
        """(1 if t + teps >= start and t + teps < start + max(width, dt) else 0)."""
        e = lambda x: self.operand(x, binding, host)  # noqa: E731
        start = e(args[0])
        first = self.emit(op.JZ, 0, self._time_ge(start))
        end = self.temp()
        again = self.again(args[0], start, binding, host)
        self.emit(op.MAX, end, e(args[1]), self.treg + 1)
        self.emit(op.ADD, end, again, end)
        now = self.temp()
        self.emit(op.ADD, now, self.treg, self.treg + 2)
        self.emit(op.LT, now, now, end)
        second = self.emit(op.JZ, 0, now)
        self.emit(op.MOV, dst, self.const(1.0))
        done = self.emit(op.JMP)
        self.patch(first, self.label())
        self.patch(second, self.label())
        self.emit(op.MOV, dst, self.const(0.0))
        self.patch(done, self.label())

    def pack(self, values: list[int]) -> int:
        """Store argument registers (and counts) in `extra`; returns where they start."""
        at = len(self.extra)
        self.extra.extend(values)
        return at

    def vector_call(self, expr: Call, dst: int, binding, host) -> None:
        lead, count = VECTOR_FUNCTIONS[expr.fn]
        regs = [self.operand(a, binding, host) for a in expr.args]
        size = (len(regs) - lead) // count
        if size == 0 or size * count != len(regs) - lead:
            raise ModelError(f"'{host.display}': {expr.fn} needs {count} vectors of one length")
        at = self.pack([lead, *regs[:lead], count, size, *regs[lead:]])
        self.emit(op.VECTOR, dst, op.VECTOR_IDS[expr.fn], at)

    def reduce(self, expr: Reduce, dst: int, binding, host) -> None:
        """Parts combined left to right, as the kernel's (p1 + p2 + ...) and min(p1, ...)."""
        outer, self.shared = self.shared, {}    # the operand is read under other bindings
        try:
            self._reduce(expr, dst, binding, host)
        finally:
            self.shared = outer

    def _reduce(self, expr: Reduce, dst: int, binding, host) -> None:
        elements = self.ir.dims[expr.dim].elements
        code = _REDUCE[expr.op]
        acc = dst if len(elements) > 1 or expr.op == "mean" else None
        first = self.operand(expr.operand, {**binding, expr.dim: elements[0]}, host)
        if acc is None:
            self.emit(op.MOV, dst, first)
            return
        for i, element in enumerate(elements[1:]):
            mark = self.top
            part = self.operand(expr.operand, {**binding, expr.dim: element}, host)
            self.emit(code, acc, first if i == 0 else acc, part)
            self.top = mark
        if len(elements) == 1:
            self.emit(op.MOV, acc, first)
        if expr.op == "mean":
            self.emit(op.DIV, acc, acc, self.const(len(elements)))

    # -- statements (compile._Generator.value_lines / init_lines, as tape) ------
    def _value(self, var, *, first_stage: bool) -> None:
        gen = self.gen
        if isinstance(var, (Aux, Flow)):
            for slot, binding, expr in gen.per_slot(var, var.equation):
                self._flow_or_aux(var, slot, binding, expr)
        elif isinstance(var, SampleHold) and first_stage:
            for slot, binding, expr in gen.per_slot(var, var.input):
                self._sample(var, slot, binding, expr)
        elif isinstance(var, Rolling) and first_stage:
            for slot, binding, expr in gen.per_slot(var, var.input):
                value = self.operand(expr, binding, var)
                self.emit(op.ROLL, self.reg(slot), value, self.buffers[slot])
                self.top = self.first_temp

    def _flow_or_aux(self, var, slot: int, binding, expr: Expr) -> None:
        dst = self.reg(slot)
        nonneg = isinstance(var, Flow) and var.non_negative
        stock = self.ir.variables[canonical(var.out_of)] if isinstance(var, Flow) and \
            var.out_of is not None else None
        cut = stock is not None and stock.limit_outflows
        self._share(expr, binding, var)
        if not (nonneg or cut):
            self.into(expr, dst, binding, var)
            self.shared = {}
            self.top = self.first_temp
            return
        value = self.operand(expr, binding, var)
        if nonneg:
            target = self.temp() if cut else dst
            self.emit(op.MAX, target, self.const(0.0), value)
            value = target
        if cut:
            key = self.gen.slots[slot].key
            reg = lambda vid: self.reg(self.gen.index[(vid, key)])  # noqa: E731
            room = self.temp()
            self.emit(op.DIV, room, reg(stock.id), self.treg + 1)
            for f in stock.inflows:
                self.emit(op.ADD, room, room, reg(f))
            for f in stock.outflows[:stock.outflows.index(var.id)]:
                self.emit(op.SUB, room, room, reg(f))
            self.emit(op.MAX, room, self.const(0.0), room)
            self.emit(op.MIN, dst, value, room)
        self.shared = {}
        self.top = self.first_temp

    def _share(self, expr: Expr, binding, host) -> None:
        """Compute the subtrees `expr` repeats once each, first (sdmodels/tape_shared.py)."""
        self.shared = {}
        for sub in shared(expr, self.keys):
            reg = self.temp()
            self.into(sub, reg, binding, host)
            self.shared[self.keys(sub)] = reg

    def _sample(self, var: SampleHold, slot: int, binding, expr: Expr) -> None:
        """Sample when t + teps >= the next sample time; then move that time past now."""
        clock = self.clock[slot]
        skip = self.emit(op.JZ, 0, self._time_ge(clock))
        self.into(expr, self.reg(slot), binding, var)
        loop = self.label()
        now = self.temp()
        self.emit(op.ADD, now, self.treg, self.treg + 2)
        self.emit(op.LE, now, clock, now)
        leave = self.emit(op.JZ, 0, now)
        self.emit(op.MAX, now, self.operand(var.period, binding, var), self.treg + 1)
        self.emit(op.ADD, clock, clock, now)
        self.emit(op.JMP, 0, loop)
        self.patch(skip, self.label())
        self.patch(leave, self.label())
        self.top = self.first_temp

    def _buffer(self, slot: int, kind: int, length: Expr, binding, var) -> None:
        self.buffers[slot] = len(self.bkind)
        self.bkind.append(kind)
        self.emit(op.BUF_INIT, slot, self.operand(length, binding, var), self.buffers[slot])

    def _start(self) -> None:
        gen = self.gen
        for vid in self.ir.init_order:
            var = self.ir.variables[vid]
            if isinstance(var, Stock):
                for slot, binding, expr in gen.per_slot(var, var.initial):
                    self.into(expr, slot, binding, var)
            elif isinstance(var, DelayLine):
                for slot, binding, expr in gen.per_slot(var, var.input):
                    self.into(var.initial if var.initial is not None else expr, slot, binding, var)
                    self._buffer(slot, op.BUF_DELAY, var.delay, binding, var)
            elif isinstance(var, SampleHold):
                for slot, binding, expr in gen.per_slot(var, var.input):
                    self.into(expr, slot, binding, var)
                    first = var.first if var.first is not None else Time()
                    self.into(first, self.clock[slot], binding, var)
            elif isinstance(var, Rolling):
                for slot, binding, expr in gen.per_slot(var, var.input):
                    self.into(expr, slot, binding, var)
                    kind = op.BUF_MAX if var.op == "max" else op.BUF_MIN
                    self._buffer(slot, kind, var.window, binding, var)
            elif isinstance(var, Aux) and var.initial is not None:
                for slot, binding, expr in gen.per_slot(var, var.initial):
                    self.into(expr, slot, binding, var)
            else:
                self._value(var, first_stage=True)
            self.top = self.first_temp
        done = set(self.ir.init_order)
        for vid in self.ir.eval_order:
            if vid in self.invariant and vid not in done:
                self._value(self.ir.variables[vid], first_stage=True)

    def _stage_one(self) -> None:
        for slot in self.gen._slots_of(DelayLine):
            self.emit(op.DL_READ, slot, 0, self.buffers[slot])
        for vid in self.ir.eval_order:
            if vid not in self.invariant:
                self._value(self.ir.variables[vid], first_stage=True)

    def _later_stages(self) -> None:
        if self.gen.method != "rk4":
            return
        self.stage = 2
        for vid in self.ir.eval_order:
            if vid not in self.invariant:
                self._value(self.ir.variables[vid], first_stage=False)
        self.stage = 1

    def _pipelines(self) -> None:
        for slot in self.gen._slots_of(DelayLine):
            var = self.ir.variables[self.gen.slots[slot].var]
            binding = dict(zip(var.dims, self.gen.slots[slot].key))
            value = self.operand(self.gen._input_of(var, slot), binding, var)
            self.emit(op.DL_WRITE, 0, value, self.buffers[slot])
            self.top = self.first_temp

    def _segment(self, write) -> tuple[int, int]:
        begin = self.label()
        write()
        return begin, self.label()

    # -- layout ------------------------------------------------------------------
    def arrays(self) -> dict:
        """The tape as arrays; constant placeholders become registers after the temporaries."""
        gen, n = self.gen, self.n
        base = self.max_top
        code = np.array(self.code, dtype=np.int64).reshape(-1, 4)
        extra = np.array(self.extra or [0], dtype=np.int64)
        for arr in (code[:, 1:], extra):
            neg = arr < 0
            arr[neg] = base - 1 - arr[neg]
        r0 = np.zeros(base + len(self.consts))
        for key, placeholder in self.consts.items():
            r0[base - 1 - placeholder] = float(key)
        stocks = [self.gen.slots[i] for i in gen.stocks]
        fptr, fidx, fsgn = [0], [], []
        for s in stocks:
            stock = self.ir.variables[s.var]
            for sign, flows in ((1, stock.inflows), (-1, stock.outflows)):
                for f in flows:
                    if (f, s.key) not in gen.index:
                        raise DimensionError(f"flow '{self.ir.display(f)}' has no element "
                                             f"{s.key} of stock '{stock.display}'")
                    fidx.append(gen.index[(f, s.key)])
                    fsgn.append(sign)
            fptr.append(len(fidx))
        lookups = list(gen.lookup_at.values())
        i64 = lambda v: np.array(v, dtype=np.int64)  # noqa: E731
        return dict(
            code=code, extra=extra, r0=r0, treg=self.treg, n=n,
            seg=i64([x for pair in self.segments for x in pair]),
            check=i64(gen.check_order()), stocks=i64([s.index for s in stocks]),
            fptr=i64(fptr), fidx=i64(fidx), fsgn=i64(fsgn),
            nonneg=i64([self.ir.variables[s.var].non_negative for s in stocks]),
            bkind=i64(self.bkind), lx=np.array(gen.lookup_xs, dtype=float),
            ly=np.array(gen.lookup_ys, dtype=float), loff=i64([lk[0] for lk in lookups]),
            llen=i64([lk[1] for lk in lookups]), lext=i64([int(lk[2]) for lk in lookups]))
