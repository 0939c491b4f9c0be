"""The expression half of the tape writer: registers, and expression trees as instructions.

sdmodels/tape.py writes a model's statements (start values, each stage, pipelines) with it.
An expression's value is left in a register: a slot or constant register when it is one,
else temporaries from `top` up, which a statement releases when it is written. Evaluation
order is the kernel's (sdmodels/compile.py): conditionals evaluate one branch, `and`/`or`
short-circuit, an argument the kernel reads twice is read twice when it draws random numbers.

>>> from sdmodels import Model, build
>>> from sdmodels.compile import _Generator
>>> m = Model("m", stop=1)
>>> _ = m.aux("x", m.constant("c", 2) * 3)
>>> w = ExpressionWriter(_Generator(build(m), "euler"), invariant=set(), fixed=0)
>>> w.operand(build(m).variables["x"].equation, {}, None) == w.first_temp
True
"""
from __future__ import annotations

import math

from sdmodels import _opcodes as op
from sdmodels.compile import _Generator
from sdmodels.elements import Aux, Constant, Flow, Stock
from sdmodels.errors import ModelError
from sdmodels.expr import (VECTOR_FUNCTIONS, Binary, Call, Const, Expr, Index, LookupCall,
                           Reduce, Ref, Time, TimeStep, Unary, walk)
from sdmodels.operators import BinaryOp, CodeTable, Function, ReduceOp, UnaryOp
from sdmodels.tape_shared import _LEAF_TYPES, CLOCKED, LEAVES, Keys

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
_REDUCE_KIND = {"sum": "+", "prod": "*", "min": "min", "max": "max"}   # REDUCE's ARITH kinds
_RANDOM = {Function.RANDOM_UNIFORM, Function.RANDOM_NORMAL, Function.RANDOM_EXPONENTIAL}
_MIN_MAX = {"min", "max"}
_NOT_PLAIN = {"and", "or", "^"}                       # Binary ops into() writes its own way
_COMPOUND = {Binary, Call, Unary, LookupCall, Reduce}   # exact classes: never a leaf
_REDUCE = CodeTable(ReduceOp, {"sum": op.ADD, "mean": op.ADD, "prod": op.MUL, "min": op.MIN,
                               "max": op.MAX})


class ExpressionWriter:
    """Registers and expression code of one tape (the statements are sdmodels/tape.py's).

    Registers: slots (state x), RK4 stage stocks y and values z, time / dt / time epsilon,
    `fixed` more registers the statements own (sample-hold clocks), temporaries, constants.
    """

    def __init__(self, gen: _Generator, *, invariant: set[str], fixed: int):
        self.gen, self.ir = gen, gen.ir
        n = self.n = len(gen.slots)
        self.is_stock, self.is_value = [False] * n, [False] * n
        self.invariant = invariant                # computed once, with the start values
        for vid, slots in gen._of_var.items():    # each variable's slots, in order
            kind = type(gen.ir.variables[vid])
            if kind is Stock or (kind in (Aux, Flow) and vid not in invariant):
                marks = self.is_stock if kind is Stock else self.is_value
                for i in slots:
                    marks[i] = True
        self.treg = 3 * n                         # time; dt and time epsilon follow
        self.top = self.first_temp = 3 * n + 3 + fixed
        self.max_top = self.top
        self.consts: dict[float | str, int] = {}
        self.code: list[int] = []                 # rows of 5 (op, dst, a, b, c), flat
        self.extra: list[int] = []
        self.stage = 1
        self.pure: dict[int, bool] = {}
        self.lookup_ids = {name: i for i, name in enumerate(gen.lookup_at)}
        self.scalar_slot = {vid: slots[0] for vid, slots in gen._of_var.items()   # var -> slot
                            if not gen.ir.variables[vid].dims}
        self.keys = Keys()
        self._key_of = self.keys._by_id           # id(node) -> its key, once known
        self.shared: dict[int, int] = {}          # subtree key -> register (one equation)
        self.step_regs: dict[tuple, int] = {}     # (subtree key, binding) -> register (stage)
        # subtrees that read only constants (hoisted: computed once a run, after the start)
        self.fixed_names = invariant | {vid for vid, var in gen.ir.variables.items()
                                        if isinstance(var, Constant)}
        self.hoisting = False                     # on once the start values are written
        self.alias: dict[int, int] = {}           # slot of `x = y` -> y's slot (in the steps)
        self.aliasing = False
        self.hoisted: dict[tuple, int] = {}       # (subtree key, binding) -> register
        self.hoists: list[tuple] = []             # (expr, binding, host, register) to compute
        self._fixed_memo: dict[int, bool] = {}     # id(node) -> fixed(node)
        self._kept: list[Expr] = []               # the nodes memoised by id, kept alive
        self._per_slot: dict[tuple[str, int], tuple] = {}   # see per_slot

    def per_slot(self, var, equation) -> list | tuple:
        """(slot, binding, expression) for every element of `var`, as _Generator.per_slot
        gives them (a scalar's one slot found directly: most of a model's variables)."""
        slot = self.scalar_slot.get(var.id)
        if slot is not None and isinstance(equation, Expr):
            return ((slot, {}, equation),)
        # an arrayed variable's list, made once: the start, every stage and the alias search
        # ask again (the bindings are only read)
        key = (var.id, id(equation))
        found = self._per_slot.get(key)
        if found is None or found[0] is not equation:
            found = self._per_slot[key] = (equation, self.gen.per_slot(var, equation))
        return found[1]

    # -- registers -------------------------------------------------------------
    def const(self, value: float) -> int:
        """The register of a constant, as a negative placeholder until the layout is known."""
        return self._placeholder(repr(float(value)))

    def _placeholder(self, key) -> int:
        """A register after the temporaries: a constant (key its repr) or a hoisted value."""
        if key not in self.consts:
            self.consts[key] = -1 - len(self.consts)
        return self.consts[key]

    def temp(self) -> int:
        top = self.top
        self.top = top + 1
        if top >= self.max_top:
            self.max_top = top + 1
        return top

    def reg(self, slot: int) -> int:
        """Where a slot's value lives in the current stage (the kernel's x, y, z names)."""
        if self.aliasing:
            slot = self.alias.get(slot, slot)
        if self.stage > 1:
            if self.is_stock[slot]:
                return self.n + slot
            if self.is_value[slot]:
                return 2 * self.n + slot
        return slot

    def emit(self, code: int, dst: int = 0, a: int = 0, b: int = 0, c: int = 0) -> int:
        self.code += (code, dst, a, b, c)
        return len(self.code) // 5 - 1

    def label(self) -> int:
        return len(self.code) // 5

    def patch(self, at: int, target: int) -> None:
        """Point the jump at `at` to `target`."""
        kind = self.code[5 * at]
        self.code[5 * at + (2 if kind == op.JMP else 3 if kind in (op.JZ, op.JNZ) else 4)] = target

    # -- expressions -----------------------------------------------------------
    def operand(self, expr: Expr, binding, host) -> int:
        """A register holding the value of `expr` (a slot or constant itself where it can)."""
        cls = type(expr)
        if cls is Const:                          # ready()'s first answers, without the call
            reg = self.consts.get(repr(float(expr.value)))
            if reg is not None:
                return reg
        elif cls is Ref and self.stage == 1:
            slot = self.scalar_slot.get(expr.name)
            if slot is not None:
                return self.alias.get(slot, slot) if self.aliasing else slot
        reg = self.ready(expr, binding, host)
        if reg is not None:
            return reg
        dst = self.top                            # a temporary (temp(), inline)
        self.top = dst + 1
        if dst >= self.max_top:
            self.max_top = dst + 1
        self._write(expr, dst, binding, host)     # not ready: into() would ask again
        return dst

    def ready(self, expr: Expr, binding, host) -> int | None:
        """The register already holding `expr` (a slot, constant, time, a subtree shared in
        this equation or hoisted), or None when it takes code."""
        cls = type(expr)
        if cls is Ref:
            slot = self.scalar_slot.get(expr.name)     # most references: no binding to apply
            if slot is None:
                slot = self.gen.slot_for(expr, binding, host)
            if self.stage != 1:
                return self.reg(slot)
            return self.alias.get(slot, slot) if self.aliasing else slot    # reg(), inline
        if cls is Const:
            key = repr(float(expr.value))               # const(), inline
            reg = self.consts.get(key)
            return reg if reg is not None else self._placeholder(key)
        if cls not in _COMPOUND:                       # a leaf (or a class of its own)
            if isinstance(expr, Const):
                return self.const(expr.value)
            if isinstance(expr, (Ref, Index)):
                return self.reg(self.gen.slot_for(expr, binding, host))
            if isinstance(expr, Time):
                return self.treg
            if isinstance(expr, TimeStep):
                return self.treg + 1
        if self.shared:
            key = self._key_of.get(id(expr))         # keys(), its memo read inline
            reg = self.shared.get(self.keys(expr) if key is None else key)
            if reg is not None:
                return reg
        if self.step_regs:
            reg = self.step_regs.get((self.keys(expr), tuple(binding.items()) if binding else ()))
            if reg is not None:
                return reg
        if not self.hoisting or self._fixed_memo.get(id(expr)) is False:
            return None
        return self.hoisted_reg(expr, binding, host)

    def hoisted_reg(self, expr: Expr, binding, host) -> int | None:
        """The register computed once a run for a subtree that reads only constants (and
        auxiliaries of constants, lookups, dt): the same operations on the same values as
        in every step, so the same number. None for any other subtree."""
        if not self.fixed(expr):
            return None
        key = (self.keys(expr), tuple(binding.items()))
        reg = self.hoisted.get(key)
        if reg is None:
            reg = self.hoisted[key] = self._placeholder(("hoisted", len(self.hoisted)))
            self.hoists.append((expr, dict(binding), host, reg))
        return reg

    def fixed(self, node: Expr) -> bool:
        """Whether `node` reads only constants, their auxiliaries, lookups and dt (no time,
        state, random draw or reduction); memoised by node (the nodes are kept alive)."""
        hit = self._fixed_memo.get(id(node))
        if hit is not None:
            return hit
        if isinstance(node, (Const, TimeStep)):
            value = True
        elif isinstance(node, (Time, Reduce)) or (isinstance(node, Call) and node.fn in CLOCKED):
            value = False
        elif isinstance(node, Ref):
            value = node.name in self.fixed_names
        else:
            value = True
            memo = self._fixed_memo
            for c in node.children():
                hit = memo.get(id(c))
                if not (self.fixed(c) if hit is None else hit):
                    value = False
                    break
        self._fixed_memo[id(node)] = value
        self._kept.append(node)
        return value

    def again(self, expr: Expr, reg: int, binding, host) -> int:
        """`expr` read a second time: the same register unless it draws random numbers."""
        key = id(expr)
        if key not in self.pure:         # keyed by id: keep the node, so the id stays its own
            self.pure[key] = not any(isinstance(n, Call) and n.fn in _RANDOM for n in walk(expr))
            self._kept.append(expr)
        return reg if self.pure[key] else self.operand(expr, binding, host)

    def into(self, expr: Expr, dst: int, binding, host) -> None:
        """Emit code that leaves the value of `expr` in register `dst`."""
        if type(expr) in _LEAF_TYPES:            # a copy (_write's first case, directly)
            self.emit(op.MOV, dst, self.ready(expr, binding, host))
            return
        if not isinstance(expr, LEAVES):
            reg = self.ready(expr, binding, host)
            if reg is not None:
                self.emit(op.MOV, dst, reg)
                return
        self._write(expr, dst, binding, host)

    def _write(self, expr: Expr, dst: int, binding, host) -> None:
        """into() once `expr` is known to take code (or is a leaf)."""
        mark = self.top
        cls = type(expr)
        if cls is Binary and expr.op not in _NOT_PLAIN:     # most nodes
            self.binary(expr.op, expr.left, expr.right, dst, binding, host)
            self.top = mark
            return
        if cls is Call:                                     # the next most
            self.call(expr, dst, binding, host)
            self.top = mark
            return
        e = lambda x: self.operand(x, binding, host)  # noqa: E731
        if isinstance(expr, (Const, Ref, Index, Time, TimeStep)):
            self.emit(op.MOV, dst, e(expr))
        elif isinstance(expr, Unary):
            self.emit(_UNARY[expr.op], dst, e(expr.operand))
        elif isinstance(expr, Binary) and expr.op in ("and", "or"):
            jump = self.jump_unless(expr.left, binding, host) if expr.op == "and" else \
                self.emit(op.JNZ, 0, e(expr.left))
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
            self.binary(expr.op, expr.left, expr.right, dst, binding, host)
        elif isinstance(expr, Call):
            self.call(expr, dst, binding, host)
        elif isinstance(expr, LookupCall):
            self.emit(op.LOOKUP, dst, e(expr.arg), self.lookup_id(expr.table))
        elif isinstance(expr, Reduce):
            self.reduce(expr, dst, binding, host)
        else:
            raise ModelError(f"'{host.display}': cannot compile {type(expr).__name__}")
        self.top = mark

    def binary(self, name: BinaryOp | Function, left: Expr, right: Expr, dst: int, binding, host) -> None:
        """dst = left <name> right; for + - * / min max, an operand of the same kinds is
        computed in the same instruction (op.FUSED: one dispatch instead of two, no temp).
        Operands are evaluated in the kernel's order, left first."""
        outer = op.ARITH.get(name)
        ready = [None, None]        # an operand found ready here is not looked up again
        for side, inner, other in ((0, left, right), (1, right, left)) if outer is not None \
                else ():
            cls = type(inner)
            if cls is not Binary and cls is not Call:
                continue                                # a leaf, mostly: nothing to fuse
            parts = self._arith(inner)
            if parts is None:
                continue
            ready[side] = self.ready(inner, binding, host)
            if ready[side] is not None:
                continue
            c = self.operand(other, binding, host) if side else None
            x = self.operand(parts[1], binding, host)
            y = self.operand(parts[2], binding, host)
            if not side:
                c = self.operand(other, binding, host)
            self.emit(op.FUSED + side * 36 + outer * 6 + parts[0], dst, x, y, c)
            return
        a = self.operand(left, binding, host) if ready[0] is None else ready[0]
        code = _BINARY_CALLS[name] if isinstance(name, Function) else _BINARY[name]
        self.emit(code, dst, a, self.operand(right, binding, host) if ready[1] is None
                  else ready[1])

    @staticmethod
    def _arith(node: Expr) -> tuple[int, Expr, Expr] | None:
        """(fused-op index, left, right) of a + - * / or two-argument min / max node."""
        if type(node) is Binary and node.op in op.ARITH:
            return op.ARITH[node.op], node.left, node.right
        if type(node) is Call and node.fn in ("min", "max") and len(node.args) == 2:
            return op.ARITH[node.fn], node.args[0], node.args[1]
        return None

    def lookup_id(self, table: str) -> int:
        return self.lookup_ids[table]

    def jump_unless(self, cond: Expr, binding, host) -> int:
        """Emit a jump taken when `cond` is 0 (its target patched later); returns its row.
        A comparison of registers jumps on the comparison itself (one instruction, and the
        same test: a NaN compares false either way)."""
        if isinstance(cond, Binary) and cond.op in op.JUMP_UNLESS and \
                self.ready(cond, binding, host) is None:
            a = self.operand(cond.left, binding, host)
            return self.emit(op.JUMP_UNLESS[cond.op], 0, a, self.operand(cond.right, binding, host))
        return self.emit(op.JZ, 0, self.operand(cond, binding, host))

    def branch(self, jump: int, then, other, dst: int) -> None:
        """dst = then() if the jump at row `jump` is not taken, else other(); each a callable
        emitting into dst."""
        then(dst)
        done = self.emit(op.JMP)
        self.patch(jump, self.label())
        other(dst)
        self.patch(done, self.label())

    def call(self, expr: Call, dst: int, binding, host) -> None:
        fn, args = expr.fn, expr.args
        if fn in _MIN_MAX:                       # the most common call: no closures made
            self.binary(fn, args[0], args[1], dst, binding, host)
            return
        if fn == "if_then_else":
            self.if_then_else(args, dst, binding, host)
            return
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
        elif fn == "step":
            at = e(args[1])
            height = self.ready(args[0], binding, host)
            if height is not None:
                self.emit(op.STEP, dst, at, height)
            else:
                self.branch(self._unless_time_ge(at), put(args[0]), zero, dst)
        elif fn == "pulse":
            self.pulse(args, dst, binding, host)
        elif fn in ("xidz", "zidz"):
            den = e(args[1])
            size = self.temp()
            self.emit(op.ABS, size, den)
            jump = self.emit(op.JNLT, 0, size, self.const(1e-6))

            def divide(d):
                num = e(args[0])
                self.emit(op.DIV, d, num, self.again(args[1], den, binding, host))
            self.branch(jump, put(args[2]) if fn == "xidz" else zero, divide, dst)
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
        elif fn == "erlang_b":          # a compiled loop, through VECTOR's call (no vector)
            servers = e(args[0])
            self.emit(op.VECTOR, dst, op.VECTOR_IDS[fn], self.pack([2, servers, e(args[1]), 0, 0]))
        else:
            raise ModelError(f"'{host.display}': function {fn!r} is not supported by the "
                             "compiler")

    def if_then_else(self, args, dst: int, binding, host) -> None:
        """One branch evaluated, as the kernel does; a select when both are registers."""
        then, other = (self.ready(a, binding, host) for a in args[1:3])
        if then is not None and other is not None:
            self.emit(op.SELECT, dst, self.operand(args[0], binding, host), then, other)
            return
        put = lambda x: (lambda d: self.into(x, d, binding, host))  # noqa: E731
        self.branch(self.jump_unless(args[0], binding, host), put(args[1]), put(args[2]), dst)

    def _unless_time_ge(self, at: int) -> int:
        """A jump taken unless t + teps >= R[at], as the kernel's step and pulse compare."""
        return self.emit(op.JNDUE, 0, at)

    def pulse(self, args, dst: int, binding, host) -> None:
        """(1 if t + teps >= start and t + teps < start + max(width, dt) else 0)."""
        e = lambda x: self.operand(x, binding, host)  # noqa: E731
        start = e(args[0])
        first = self._unless_time_ge(start)
        end = self.temp()
        again = self.again(args[0], start, binding, host)
        self.emit(op.MAX, end, e(args[1]), self.treg + 1)
        self.emit(op.ADD, end, again, end)
        now = self.temp()
        self.emit(op.ADD, now, self.treg, self.treg + 2)
        second = self.emit(op.JNLT, 0, now, end)
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
        parts = [self.ready(expr.operand, {**binding, expr.dim: e}, host) for e in elements[1:]]
        if expr.op != "mean" and all(p is not None for p in parts):
            # every part a register: one instruction, the same chain left to right
            self.emit(op.REDUCE, dst, self.pack([len(elements), first, *parts]),
                      op.ARITH[_REDUCE_KIND[expr.op]])
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
