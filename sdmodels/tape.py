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

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from sdmodels import _opcodes as op
from sdmodels.compile import SlotTable, check_method, Slot, _Generator, default_params
from sdmodels.elements import (Aux, DelayLine, Flow, PerElement, Rolling, SampleHold, SampleIfTrue,
                               Schedule, Stock, canonical)
from sdmodels.errors import DimensionError
from sdmodels.expr import Const, Expr, Index, Ref, Time, TimeStep
from sdmodels.ir import ModelIR, build
from sdmodels.tape_expr import ExpressionWriter
from sdmodels.tape_shared import _LEAF_TYPES, across, invariant, live, output_only, repeats


_COPY_FORMS = (Ref, Index, PerElement)      # equations that may only copy a value
_NONE = (None, True)        # _repeats' entry of an expression not searched yet
# Subtrees several equations share are computed once a stage only in runs of at least this
# many stages: finding them costs ~2-4 us an expression node (api_service: ~4 ms) and an
# instruction saved ~2.5 ns a stage (thundering_herd: 11 x 270,000 stages, ~7 ms saved;
# black_friday 25 x 72,000; api_service's 28 x 36,000 and eviction_cascade's 20 x 12,000
# did not pay for the search in benchmarks/latency.py)
ACROSS_STAGES = 50_000


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
        """The instructions, one (op, dst, a, b, c) row each (sdmodels/_opcodes.py)."""
        return self.arrays["code"]

    def __call__(self, P, start, dt, n_steps, save_steps, save_slots, out, seeds, status):
        """Advance every run in P (runs x params) and write saved values into `out`."""
        from sdmodels._aot import interpreter
        a = self.arrays
        interpreter()(P, self._param_slot_array, a["check"], a["lx"], a["ly"], a["loff"],
                      a["llen"], a["lext"], a["code"], a["extra"], a["seg"], a["r0"], a["treg"],
                      a["n"], a["stocks"], a["fptr"], a["fidx"], a["fsgn"], a["nonneg"],
                      a["bkind"], self.method == "rk4", float(start), float(dt), int(n_steps),
                      save_steps, a["saved"][save_slots], out, seeds, status)

    @cached_property
    def _param_slot_array(self) -> np.ndarray:
        return np.asarray(self.param_slots, dtype=np.int64)


def prepare(model, *, method: str = "euler") -> Program:
    """Write the instruction tape of a Model or ModelIR for 'euler' or 'rk4' (no compile)."""
    ir = build(model)
    check_method(ir, method)
    gen = _Generator(ir, method)
    writer = _TapeWriter(gen)
    return Program(ir, method, tuple(gen.slots), tuple(gen.param_slots), default_params(gen),
                   writer.arrays())


class _TapeWriter(ExpressionWriter):
    """Emits the tape segments (start, stage 1, RK4 stages 2-4, pipeline writes, hoisted
    subtrees: computed once a run, after the start values; the values only saving reads,
    on the steps saved) of one IR."""

    def __init__(self, gen: _Generator):
        holds = gen._slots_of(SampleHold)
        super().__init__(gen, invariant=invariant(gen.ir), fixed=len(holds))
        self.clock = {s: self.treg + 3 + i for i, s in enumerate(holds)}   # next sample time
        self.buffers: dict[int, int] = {}         # slot -> buffer id
        self._repeats: dict[int, tuple] = {}      # id(expr) -> (expr, its repeats, tree)
        self._live_memo: dict[tuple, list] = {}   # (id(expr), hoisting) -> repeats computed
        self._drained: dict[str, Stock | None] = {}   # flow id -> the stock it drains
        self.bkind: list[int] = []
        self.across: dict[int, list[Expr]] = {}   # slot -> subtrees shared in a stage
        start = self._segment(self._start)
        self.hoisting = True                      # the steps read subtrees of constants
        self.alias = self._aliases()
        self.aliasing = True                      # and `x = y` as y's register
        self.settled: dict[int, float] = {}       # slots whose step equation is a number
        self.lazy = output_only(self.ir, self.invariant)
        self.across = self._across() if self._stages_a_run() >= ACROSS_STAGES else {}
        steps = [self._segment(self._stage_one), self._segment(self._later_stages),
                 self._segment(self._pipelines)]
        lazy = self._segment(self._saved_only)    # written while hoisting, before _hoists
        self.segments = [start, *steps, self._segment(self._hoists), lazy]

    # -- statements (compile._Generator.value_lines / init_lines, as tape) ------
    def _aliases(self) -> dict[int, int]:
        """Auxiliaries and flows that only copy another value (`x = y`, as module wiring and
        delay outputs write them): in the steps their readers read y's register, and saving
        and the stocks' derivatives read it for them (no copy instruction; y is checked for
        NaN before x would be, so failures read the same). A flow kept at 0 or cut back is
        no copy; under RK4 a flow copies only a stage value (the derivatives of a stage read
        its values, not its stocks or pipelines)."""
        gen, alias = self.gen, {}
        for var in self.ir.variables.values():
            if not isinstance(getattr(var, "equation", None), _COPY_FORMS) or \
                    var.id in self.invariant or not self._copies(var):
                continue
            for slot, binding, expr in self.per_slot(var, var.equation):
                if isinstance(expr, (Ref, Index)):
                    alias[slot] = gen.slot_for(expr, binding, var)
        for slot, source in alias.items():
            while source in alias:
                source = alias[source]
            alias[slot] = source
        if gen.method == "rk4":
            alias = {slot: source for slot, source in alias.items()
                     if self.is_value[source] or not isinstance(
                         self.ir.variables[gen.slots[slot].var], Flow)}
        return alias

    def _copies(self, var) -> bool:
        """Whether `var` may be an alias of what its equation reads (see _aliases)."""
        if type(var) is Aux:
            return var.initial is None
        if type(var) is not Flow or var.non_negative:
            return False
        stock = self._drains(var)
        return stock is None or not stock.limit_outflows

    def _value(self, var, *, first_stage: bool, start: bool = False) -> None:
        if isinstance(var, (Aux, Flow)):
            plain = type(var) is Aux
            for slot, binding, expr in self.per_slot(var, var.equation):
                if not self.aliasing:
                    if plain and type(expr) in _LEAF_TYPES:     # a copy: x = y (no shared
                        self.emit(op.MOV, self.reg(slot), self.ready(expr, binding, var))
                    else:                                       # subtree, clamp or cut)
                        self._flow_or_aux(var, slot, binding, expr)
                elif type(expr) is Const and self._copies(var):
                    self.settled[slot] = expr.value     # written once a run (_hoists)
                elif slot not in self.alias:
                    self._flow_or_aux(var, slot, binding, expr)
        elif isinstance(var, SampleIfTrue) and first_stage:
            for slot, binding, expr in self.per_slot(var, var.input):
                held = self.temp()            # the input may read the held value
                self.into(var.ticked(expr, after=None if start else self.ir.start), held,
                          binding, var)
                self.emit(op.MOV, self.reg(slot), held)
                self.top = self.first_temp
        elif isinstance(var, SampleHold) and first_stage:
            for slot, binding, expr in self.per_slot(var, var.input):
                self._sample(var, slot, binding, expr)
        elif isinstance(var, Rolling) and first_stage:
            for slot, binding, expr in self.per_slot(var, var.input):
                value = self.operand(expr, binding, var)
                self.emit(op.ROLL, self.reg(slot), value, self.buffers[slot])
                self.top = self.first_temp

    def _flow_or_aux(self, var, slot: int, binding, expr: Expr) -> None:
        dst = self.reg(slot)
        if type(var) is Aux:                      # most: no clamp, no cut
            nonneg = cut = False
        else:
            nonneg = isinstance(var, Flow) and var.non_negative
            stock = self._drains(var)
            cut = stock is not None and stock.limit_outflows
        if self._repeats.get(id(expr), _NONE)[1] or self.across:
            self._share(expr, binding, var, slot)
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

    def _drains(self, var):
        """The stock a flow drains, or None (found once per flow: every stage asks)."""
        if var.id not in self._drained:
            self._drained[var.id] = self.ir.variables[canonical(var.out_of)] if \
                isinstance(var, Flow) and var.out_of is not None else None
        return self._drained[var.id]

    def _stages_a_run(self) -> float:
        """Stages a run of the model's own horizon evaluates (RK4: four a step)."""
        ir = self.ir
        steps = (ir.stop - ir.start) / ir.dt if ir.dt > 0 else 0.0
        return steps * (4 if self.gen.method == "rk4" else 1)

    def _across(self) -> dict[int, list[Expr]]:
        """Per slot, the subtrees its step equation shares with other equations of a stage
        (tape_shared.across): stocks, auxiliaries and flows are written once a stage."""
        plain = {vid for vid, var in self.ir.variables.items()
                 if type(var) in (Stock, Aux, Flow)} | self.fixed_names
        equations = [(slot, expr, binding) for vid in self.ir.eval_order
                     if vid not in self.invariant and vid not in self.lazy
                     and type(self.ir.variables[vid]) in (Aux, Flow)
                     for slot, binding, expr in self.per_slot(self.ir.variables[vid],
                                                              self.ir.variables[vid].equation)]
        return across(equations, self.keys, plain, self.fixed)

    def _share(self, expr: Expr, binding, host, slot: int) -> None:
        """Compute first the subtrees `expr` repeats (sdmodels/tape_shared.py `repeats`, as
        `live` keeps them: into temporaries) and those it shares with later equations of the
        stage (`across`: into registers of their own, read until the stage ends; computed
        once a stage), inner ones first (a subtree's key is above its children's)."""
        self.shared = {}
        hit = self._repeats.get(id(expr))         # the start and the steps write it alike
        if hit is None:
            hit = self._repeats[id(expr)] = (expr, *repeats(expr, self.keys))
        stage = self.across.get(slot)
        if not hit[1] and not stage:
            return                                # nothing shared (most equations)
        where = tuple(binding.items()) if binding else ()
        subs = hit[1] and self._live(hit, where)
        work = [(self.keys(sub), sub, False) for sub in subs]
        if stage:          # a shared subtree before a repeat of the same: the repeat is ready
            work = sorted([(self.keys(sub), sub, True) for sub in stage] + work,
                          key=lambda item: item[0])
        for key, sub, across in work:
            reg = self.step_regs.get((key, where))
            if reg is not None or (not across and self.hoisting and
                                   self.hoisted_reg(sub, binding, host) is not None):
                continue                          # computed once a stage or a run already
            reg = self._placeholder(("stage", key, where)) if across else self.temp()
            self.into(sub, reg, binding, host)
            if across:
                self.step_regs[(key, where)] = reg
            else:
                self.shared[key] = reg

    def _live(self, hit: tuple, where: tuple) -> list[Expr]:
        """The repeats of an equation (`hit`: expression, repeats, tree) to compute into
        temporaries (tape_shared.live): not those used only inside a subtree in a register
        already (computed earlier in the stage, or hoisted) or inside a repeated one. Kept
        per equation and hoisting while no stage register is written (most equations)."""
        regs, keys, hoisting, fixed = self.step_regs, self.keys, self.hoisting, self.fixed
        if not regs:
            memo = (id(hit[0]), hoisting)
            found = self._live_memo.get(memo)
            if found is None:
                found = self._live_memo[memo] = live(
                    hit[2], hit[1], keys, lambda node: hoisting and fixed(node))
            return found
        return live(hit[2], hit[1], keys,
                    lambda node: (keys(node), where) in regs or (hoisting and fixed(node)))

    def _sample(self, var: SampleHold, slot: int, binding, expr: Expr) -> None:
        """Sample when t + teps >= the next sample time; then move that time past now.

        With its period in a register (not the held value itself), the clock moves first,
        in the instruction that tests it (DUE; the input never reads the clock), and a
        sampler of a register is one instruction (HOLD): module wiring samples every dt."""
        clock, dst = self.clock[slot], self.reg(slot)
        period = self.ready(var.period, binding, var)
        if period is not None and period != dst:
            source = self.ready(expr, binding, var)
            if source is not None:
                self.emit(op.HOLD, dst, source, clock, period)
            else:
                skip = self.emit(op.DUE, clock, period)
                self.into(expr, dst, binding, var)
                self.patch(skip, self.label())
            self.top = self.first_temp
            return
        skip = self._unless_time_ge(clock)
        self.into(expr, dst, binding, var)
        loop = self.label()
        now = self.temp()
        self.emit(op.ADD, now, self.treg, self.treg + 2)
        leave = self.emit(op.JNLE, 0, clock, now)
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
        for vid in self.ir.init_order:
            var = self.ir.variables[vid]
            if isinstance(var, Stock):
                for slot, binding, expr in self.per_slot(var, var.initial):
                    self.into(expr, slot, binding, var)
            elif isinstance(var, DelayLine):
                for slot, binding, expr in self.per_slot(var, var.input):
                    self.into(var.initial if var.initial is not None else expr, slot, binding, var)
                    self._buffer(slot, op.BUF_DELAY, var.delay, binding, var)
            elif isinstance(var, SampleIfTrue):     # `initial`, then this step's sample
                for slot, binding, expr in self.per_slot(var, var.initial):
                    self.into(expr, slot, binding, var)
                self._value(var, first_stage=True, start=True)
            elif isinstance(var, SampleHold):
                for slot, binding, expr in self.per_slot(var, var.input):
                    self.into(expr, slot, binding, var)
                    first = var.first if var.first is not None else Time()
                    self.into(first, self.clock[slot], binding, var)
            elif isinstance(var, Rolling):
                for slot, binding, expr in self.per_slot(var, var.input):
                    self.into(expr, slot, binding, var)
                    kind = op.BUF_MAX if var.op == "max" else op.BUF_MIN
                    self._buffer(slot, kind, var.window, binding, var)
            elif isinstance(var, Aux) and var.initial is not None:
                for slot, binding, expr in self.per_slot(var, var.initial):
                    self.into(expr, slot, binding, var)
            else:
                self._value(var, first_stage=True)
            self.top = self.first_temp
        done = set(self.ir.init_order)
        for vid in self.ir.eval_order:
            if vid in self.invariant and vid not in done:
                self._value(self.ir.variables[vid], first_stage=True)

    def _stage_one(self) -> None:
        self.step_regs = {}
        for slot in self.gen._slots_of(DelayLine):
            if slot not in self.one_step:
                self.emit(op.DL_READ, slot, 0, self.buffers[slot])
        for vid in self.ir.eval_order:
            if vid not in self.invariant and vid not in self.lazy:
                self._value(self.ir.variables[vid], first_stage=True)
        self.step_regs = {}

    def _later_stages(self) -> None:
        if self.gen.method != "rk4":
            return
        self.stage, self.step_regs = 2, {}
        for vid in self.ir.eval_order:
            if vid not in self.invariant and vid not in self.lazy:
                self._value(self.ir.variables[vid], first_stage=False)
        self.stage, self.step_regs = 1, {}

    def _saved_only(self) -> None:
        """The auxiliaries only saving reads (tape_shared.output_only), in evaluation order:
        run after stage 1 on the steps saved and the last, before the check (what they read
        is that step's, as in the kernel; under RK4 no later stage computes them, nothing
        reads a stage's value of them). A NaN in one is found on the next step saved."""
        for vid in self.ir.eval_order:
            if vid in self.lazy:
                self._value(self.ir.variables[vid], first_stage=True)

    @cached_property
    def one_step(self) -> set[int]:
        """Slots of pipelines one step long (DELAY FIXED by dt: module wiring's discrete
        states): a buffer of one value, written at the end of a step and read at the start of
        the next, is the input copied into the slot once every input of the step is read."""
        lines = {slot: self.ir.variables[self.gen.slots[slot].var]
                 for slot in self.gen._slots_of(DelayLine)}
        return {slot for slot, var in lines.items()      # a Schedule keeps its ring buffer
                if type(var) is DelayLine and type(var.delay) is TimeStep}

    def _pipelines(self) -> None:
        """Each input in the kernel's order (random draws keep their order); a buffered one
        written at once, a one-step one kept until all are read, then copied (MOV)."""
        copies = []
        for slot in self.gen._slots_of(DelayLine):
            var = self.ir.variables[self.gen.slots[slot].var]
            binding = dict(zip(var.dims, self.gen.slots[slot].key))
            value = self.operand(self.gen._input_of(var, slot), binding, var)
            if slot not in self.one_step:
                if isinstance(var, Schedule):
                    steps = self.operand(var.steps, binding, var)
                    self.emit(op.DL_SCHEDULE, int(var.latest), value, self.buffers[slot], steps)
                else:
                    self.emit(op.DL_WRITE, 0, value, self.buffers[slot])
                if not copies:
                    self.top = self.first_temp
                continue
            if value in self.one_step:          # this step's value of another one-step slot
                kept = self.temp()
                self.emit(op.MOV, kept, value)
                value = kept
            copies.append((slot, value))
        for slot, value in copies:
            self.emit(op.MOV, slot, value)
        self.top = self.first_temp

    def _hoists(self) -> None:
        """The hoisted subtrees, each into its register (what they read is set by then)."""
        self.hoisting = False
        for expr, binding, host, reg in self.hoists:
            self.into(expr, reg, binding, host)
            self.top = self.first_temp
        for slot, value in self.settled.items():    # an element whose equation is a number
            self.emit(op.MOV, slot, self.const(value))
            if self.gen.method == "rk4":            # and its RK4 stage value
                self.emit(op.MOV, 2 * self.n + slot, self.const(value))

    def _segment(self, write) -> tuple[int, int]:
        begin = self.label()
        write()
        return begin, self.label()

    # -- layout ------------------------------------------------------------------
    def arrays(self) -> dict:
        """The tape as arrays; constant placeholders become registers after the temporaries."""
        gen, n = self.gen, self.n
        base = self.max_top
        code = np.array(self.code, dtype=np.int64).reshape(-1, 5)
        extra = np.array(self.extra or [0], dtype=np.int64)
        for arr in (code[:, 1:], extra):
            neg = arr < 0
            arr[neg] = base - 1 - arr[neg]
        r0 = np.zeros(base + len(self.consts))
        for key, placeholder in self.consts.items():
            if isinstance(key, str):            # a constant (else a hoisted value)
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
                    fidx.append(self.alias.get(gen.index[(f, s.key)], gen.index[(f, s.key)]))
                    fsgn.append(sign)
            fptr.append(len(fidx))
        lookups = list(gen.lookup_at.values())
        i64 = lambda v: np.array(v, dtype=np.int64)  # noqa: E731
        return dict(
            code=code, extra=extra, r0=r0, treg=self.treg, n=n,
            seg=i64([x for pair in self.segments for x in pair]),
            check=i64([s for s in gen.check_order() if s not in self.alias]),
            saved=i64([self.alias.get(s, s) for s in range(n)]),
            stocks=i64([s.index for s in stocks]),
            fptr=i64(fptr), fidx=i64(fidx), fsgn=i64(fsgn),
            nonneg=i64([self.ir.variables[s.var].non_negative for s in stocks]),
            bkind=i64(self.bkind), lx=np.array(gen.lookup_xs, dtype=float),
            ly=np.array(gen.lookup_ys, dtype=float), loff=i64([lk[0] for lk in lookups]),
            llen=i64([lk[1] for lk in lookups]), lext=i64([int(lk[2]) for lk in lookups]))
