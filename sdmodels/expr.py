"""Expression trees: the only form an equation takes inside sdmodels.

Nodes are small frozen dataclasses. Operator overloading on them builds trees in the
Python DSL; `sdmodels.parse.parse_equation` builds the same trees from equation text.
Nothing here is ever turned into text and `eval`-ed.

>>> from sdmodels.expr import Ref
>>> x = Ref("Teacup Temperature")
>>> (x - 70) / 10
Binary(op='/', left=Binary(op='-', left=Ref(name='Teacup Temperature'), right=Const(value=70.0)), right=Const(value=10.0))
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, fields
from typing import Callable, ClassVar, Iterator, Union

from sdmodels.operators import BinaryOp, Closed, Function, ReduceOp, StatefulKind, UnaryOp

Number = Union[int, float]


class Expr:
    """Base of every expression node; arithmetic on it builds bigger trees."""

    __slots__ = ()

    # arithmetic -----------------------------------------------------------
    def __add__(self, other): return binary(BinaryOp.ADD, self, as_expr(other))
    def __radd__(self, other): return binary(BinaryOp.ADD, as_expr(other), self)
    def __sub__(self, other): return binary(BinaryOp.SUB, self, as_expr(other))
    def __rsub__(self, other): return binary(BinaryOp.SUB, as_expr(other), self)
    def __mul__(self, other): return binary(BinaryOp.MUL, self, as_expr(other))
    def __rmul__(self, other): return binary(BinaryOp.MUL, as_expr(other), self)
    def __truediv__(self, other): return binary(BinaryOp.DIV, self, as_expr(other))
    def __rtruediv__(self, other): return binary(BinaryOp.DIV, as_expr(other), self)
    def __pow__(self, other): return binary(BinaryOp.POW, self, as_expr(other))
    def __rpow__(self, other): return binary(BinaryOp.POW, as_expr(other), self)
    def __mod__(self, other): return Call(Function.MODULO, (self, as_expr(other)))
    def __neg__(self): return Unary(UnaryOp.NEG, self)
    def __pos__(self): return self
    def __abs__(self): return Call(Function.ABS, (self,))
    def __round__(self, ndigits=None): return Call(Function.ROUND, (self,))
    def __floor__(self): return Call(Function.FLOOR, (self,))
    def __ceil__(self): return Call(Function.CEIL, (self,))

    # comparisons (== stays structural equality; use .eq / .ne) ------------
    def __lt__(self, other): return binary(BinaryOp.LT, self, as_expr(other))
    def __le__(self, other): return binary(BinaryOp.LE, self, as_expr(other))
    def __gt__(self, other): return binary(BinaryOp.GT, self, as_expr(other))
    def __ge__(self, other): return binary(BinaryOp.GE, self, as_expr(other))
    def eq(self, other) -> "Binary": return binary(BinaryOp.EQ, self, as_expr(other))
    def ne(self, other) -> "Binary": return binary(BinaryOp.NE, self, as_expr(other))
    def __and__(self, other): return binary(BinaryOp.AND, self, as_expr(other))
    def __or__(self, other): return binary(BinaryOp.OR, self, as_expr(other))
    def __invert__(self): return Unary(UnaryOp.NOT, self)

    def __bool__(self):
        raise TypeError(
            "an sdmodels expression has no truth value while the model is being built; "
            "use if_then_else(cond, a, b), minimum(a, b) or maximum(a, b) instead of "
            "Python's if/min/max")

    def __getitem__(self, elements) -> "Index":
        if not isinstance(elements, tuple):
            elements = (elements,)
        return Index(self, tuple(str(e) for e in elements))

    def children(self) -> tuple["Expr", ...]:
        """The direct sub-expressions of this node (the common node classes answer directly:
        trees are walked often, and this generic field walk was build's largest cost)."""
        values = [getattr(self, name) for name in _field_names(type(self))]
        return tuple(v for v in values if isinstance(v, Expr)) + tuple(
            a for v in values if isinstance(v, tuple) for a in v if isinstance(a, Expr))


@functools.cache
def _field_names(cls) -> tuple[str, ...]:
    """A node class's field names (dataclasses.fields is slow, and trees are walked often)."""
    return tuple(f.name for f in fields(cls))


def _close(node: Expr, field: str, names: type[Closed]) -> None:
    """Check a node's name field against its closed set and store it as the member (a
    name outside the set is a ModelError here, before any generator sees the node)."""
    value = getattr(node, field)
    if type(value) is not names:
        object.__setattr__(node, field, names.of(value, f"{type(node).__name__}.{field}"))


@dataclass(frozen=True)
class Const(Expr):
    value: float

    def children(self) -> tuple:
        return ()


@dataclass(frozen=True)
class Ref(Expr):
    """A reference to a model element by name (display name or canonical id)."""
    name: str

    def children(self) -> tuple:
        return ()


@dataclass(frozen=True)
class Index(Expr):
    """Pick elements of an arrayed reference: ``Memory["pod3"]``."""
    target: Expr
    elements: tuple[str, ...]

    def children(self) -> tuple:
        return (self.target,)


@dataclass(frozen=True)
class Unary(Expr):
    op: UnaryOp          # '-' or 'not'
    operand: Expr

    def __post_init__(self):
        _close(self, "op", UnaryOp)

    def children(self) -> tuple:
        return (self.operand,)


@dataclass(frozen=True)
class Binary(Expr):
    op: BinaryOp         # + - * / ^ < <= > >= = <> and or
    left: Expr
    right: Expr

    def __post_init__(self):
        _close(self, "op", BinaryOp)

    def children(self) -> tuple:
        return (self.left, self.right)


@dataclass(frozen=True)
class Call(Expr):
    """A pure built-in function (see FUNCTIONS)."""
    fn: Function
    args: tuple[Expr, ...]

    def __post_init__(self):
        _close(self, "fn", Function)

    def children(self) -> tuple:
        return tuple([a for a in self.args if isinstance(a, Expr)])


@dataclass(frozen=True)
class LookupCall(Expr):
    """Evaluate a graphical function (lookup element) at ``arg``."""
    table: str
    arg: Expr

    def children(self) -> tuple:
        return (self.arg,)


@dataclass(frozen=True)
class Stateful(Expr):
    """A function with memory (delays, smooths, samplers): one subclass per kind, which
    `build` expands into internal elements (sdmodels/expand.py)."""
    args: tuple[Expr, ...]
    fn: ClassVar[StatefulKind]              # catalog name; also names the internal elements
    params: ClassVar[tuple[str, ...]] = ()  # argument names, in order
    optional: ClassVar[int] = 1             # how many trailing arguments may be left out

    def children(self) -> tuple:
        return tuple([a for a in self.args if isinstance(a, Expr)])

    @classmethod
    def arity(cls) -> tuple[int, int]:
        """The fewest and most arguments this kind takes."""
        return len(cls.params) - cls.optional, len(cls.params)

    def arg(self, name: str, default: "Expr | None" = None) -> "Expr | None":
        """The argument called `name`, or `default` when it was left out."""
        i = self.params.index(name)
        return self.args[i] if i < len(self.args) else default


@dataclass(frozen=True)
class MaterialDelay(Stateful):
    """DELAY1/3/N: a chain of `order` stocks that conserves what flows through it."""
    order: ClassVar[int | None] = None      # None: given as the argument 'order'
    params: ClassVar[tuple[str, ...]] = ("input", "delay_time", "initial")


@dataclass(frozen=True)
class Delay1(MaterialDelay):
    fn, order = StatefulKind.DELAY1, 1


@dataclass(frozen=True)
class Delay3(MaterialDelay):
    fn, order = StatefulKind.DELAY3, 3


@dataclass(frozen=True)
class DelayN(MaterialDelay):
    fn, params = StatefulKind.DELAYN, ("input", "delay_time", "order", "initial")


@dataclass(frozen=True)
class Smoothing(Stateful):
    """SMOOTH/3/N: a chain of `order` first-order exponential adjustments."""
    order: ClassVar[int | None] = None
    params: ClassVar[tuple[str, ...]] = ("input", "smooth_time", "initial")


@dataclass(frozen=True)
class Smooth(Smoothing):
    fn, order = StatefulKind.SMOOTH, 1


@dataclass(frozen=True)
class Smooth3(Smoothing):
    fn, order = StatefulKind.SMOOTH3, 3


@dataclass(frozen=True)
class SmoothN(Smoothing):
    fn, params = StatefulKind.SMOOTHN, ("input", "smooth_time", "order", "initial")


@dataclass(frozen=True)
class Trend(Stateful):
    """TREND: the fractional rate of change of the input against its smoothed value."""
    fn, params = StatefulKind.TREND, ("input", "average_time", "initial_trend")


@dataclass(frozen=True)
class DelayFixed(Stateful):
    """DELAY FIXED: a pipeline that replays its input intact after the delay time."""
    fn, params = StatefulKind.DELAY_FIXED, ("input", "delay_time", "initial")


@dataclass(frozen=True)
class SampleHold(Stateful):
    """The input sampled every period and held in between."""
    fn, params = StatefulKind.SAMPLE_HOLD, ("input", "period", "first")


@dataclass(frozen=True)
class SampleIfTrue(Stateful):
    """Vensim's SAMPLE IF TRUE: the input at every step where the condition holds, else the
    value it had (`initial` before the first); an input that reads the host reads that value."""
    fn, params, optional = StatefulKind.SAMPLE_IF_TRUE, ("condition", "input", "initial"), 0


@dataclass(frozen=True)
class RollingExtreme(Stateful):
    """The largest or smallest input over a trailing window."""
    op: ClassVar[str] = ""
    params: ClassVar[tuple[str, ...]] = ("input", "window")
    optional: ClassVar[int] = 0


@dataclass(frozen=True)
class RollingMax(RollingExtreme):
    fn, op = StatefulKind.ROLLING_MAX, "max"


@dataclass(frozen=True)
class RollingMin(RollingExtreme):
    fn, op = StatefulKind.ROLLING_MIN, "min"


@dataclass(frozen=True)
class Reduce(Expr):
    """Reduce an arrayed expression over one dimension: sum, prod, min, max, mean."""
    op: ReduceOp
    operand: Expr
    dim: str

    def __post_init__(self):
        _close(self, "op", ReduceOp)

    def children(self) -> tuple:
        return (self.operand,)


@dataclass(frozen=True)
class Time(Expr):
    """The simulation clock."""

    def children(self) -> tuple:
        return ()


@dataclass(frozen=True)
class TimeStep(Expr):
    """The integration step dt."""

    def children(self) -> tuple:
        return ()


def as_expr(value) -> Expr:
    """Wrap numbers as `Const`; pass expressions through; reject anything else."""
    if isinstance(value, Expr):
        return value
    if isinstance(value, bool):
        return Const(1.0 if value else 0.0)
    if isinstance(value, (int, float)) or hasattr(value, "__float__"):
        return Const(float(value))
    if isinstance(value, str):
        from sdmodels.parse import parse_equation
        return parse_equation(value)
    raise TypeError(f"cannot use {type(value).__name__} {value!r} in an equation; "
                    "give a number, an element handle, or equation text")


# ---------------------------------------------------------------------------
# The catalog of pure built-ins: name -> (min args, max args). Aliases map the
# spellings of Vensim / XMILE / the DSL onto one name.
FUNCTIONS: dict[str, tuple[int, int]] = {
    "abs": (1, 1), "exp": (1, 1), "ln": (1, 1), "log": (1, 2), "log10": (1, 1),
    "sqrt": (1, 1), "floor": (1, 1), "ceil": (1, 1), "round": (1, 1), "integer": (1, 1),
    "sin": (1, 1), "cos": (1, 1), "tan": (1, 1), "arctan": (1, 1),
    "modulo": (2, 2), "min": (2, 2), "max": (2, 2), "if_then_else": (3, 3),
    "step": (2, 2), "pulse": (2, 2), "pulse_train": (4, 4), "ramp": (2, 3),
    "xidz": (3, 3), "zidz": (2, 2),
    "random_uniform": (2, 3), "random_normal": (2, 5), "random_exponential": (1, 2),
    "erlang_b": (2, 2),
}
# Array built-ins, one element at a time: name -> (leading scalar arguments, vectors). The
# arguments after the scalars are the vectors laid end to end, all of one length; the
# compiled helpers of the same names are in sdmodels/_vectors.py.
VECTOR_FUNCTIONS: dict[str, tuple[int, int]] = {
    "allocate_by_priority": (3, 2),   # element, width, supply | request, priority
    "allocate_available": (2, 4),     # element, available | request, kind, priority, width
    "vector_sort_order": (2, 1),      # element, direction | values
    "vector_rank": (2, 1),            # element, direction | values
    "vector_reorder": (1, 1),         # index | values
    "vector_select": (2, 2),          # missing, action | selection, values
}
# The stateful kinds by catalog name (the names users type, after ALIASES).
STATEFUL: dict[str, type[Stateful]] = {kind.fn: kind for kind in (
    Delay1, Delay3, DelayN, DelayFixed, Smooth, Smooth3, SmoothN, Trend, SampleHold,
    SampleIfTrue, RollingMax, RollingMin)}
REDUCTIONS = tuple(ReduceOp)
ALIASES = {
    "if then else": "if_then_else", "minimum": "min", "maximum": "max", "mod": "modulo",
    "delay fixed": "delay_fixed", "pulse train": "pulse_train", "random uniform": "random_uniform",
    "random normal": "random_normal", "random exponential": "random_exponential",
    "delay": "delay1", "delay1i": "delay1", "delay3i": "delay3", "smoothi": "smooth",
    "smooth3i": "smooth3", "delay n": "delayn", "smooth n": "smoothn", "int": "integer",
    "safediv": "xidz", "sample and hold": "sample_hold", "sample if true": "sample_if_true",
}


def canonical_function(name: str) -> str:
    """Map a function spelling ('IF THEN ELSE', 'Delay Fixed') to its catalog name."""
    key = " ".join(name.replace("_", " ").lower().split())
    key = ALIASES.get(key, key)
    return key.replace(" ", "_")


def binary(op: BinaryOp, left: Expr, right: Expr) -> Binary:
    """Binary(op, left, right) for an `op` already a BinaryOp member (taken from another
    node): the node without the constructor's check, twice as fast (trees are rebuilt node
    by node when modules are renamed and names resolved).

    >>> binary(BinaryOp.ADD, Ref("a"), Const(1.0)) == Ref("a") + 1
    True
    """
    node = _new(Binary)
    fields = node.__dict__
    fields["op"], fields["left"], fields["right"] = op, left, right
    return node


_new = object.__new__


def walk(expr: Expr) -> Iterator[Expr]:
    """Yield every node of the tree, parents before children."""
    stack = [expr]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(node.children()))


def map_children(expr: Expr, fn: Callable[[Expr], Expr]) -> Expr:
    """A copy of `expr` with `fn` applied to each direct sub-expression (`expr` itself when
    `fn` returns every child unchanged: a shared subtree stays shared)."""
    cls = type(expr)
    if cls is Binary:       # most nodes: no field walk (module renaming, resolution, localize)
        left, right = fn(expr.left), fn(expr.right)
        if left is expr.left and right is expr.right:
            return expr
        return binary(expr.op, left, right)
    if cls is Call:         # the next most: the same without the field walk
        args = expr.args
        new = tuple([fn(a) if isinstance(a, Expr) else a for a in args])
        for x, y in zip(new, args):
            if x is not y:
                break
        else:
            return expr
        node = _new(Call)
        node.__dict__["fn"], node.__dict__["args"] = expr.fn, new
        return node
    kids = {}
    for name, value in expr.__dict__.items():      # the fields, in order
        if isinstance(value, Expr):
            new = fn(value)
            if new is not value:
                kids[name] = new
        elif isinstance(value, tuple) and any(isinstance(a, Expr) for a in value):
            new = tuple([fn(a) if isinstance(a, Expr) else a for a in value])
            if any(x is not y for x, y in zip(new, value)):
                kids[name] = new
    if not kids:
        return expr
    node = _new(cls)        # a copy with the new children (its other fields checked already)
    node.__dict__.update(expr.__dict__)
    node.__dict__.update(kids)
    return node


def transform(expr: Expr, fn: Callable[[Expr], Expr | None]) -> Expr:
    """Rebuild a tree bottom-up; ``fn(node)`` may return a replacement or None to keep it."""
    node = map_children(expr, lambda child: transform(child, fn))
    out = fn(node)
    return node if out is None else out


def references(expr: Expr) -> set[str]:
    """Names of all elements an expression refers to (lookup tables included)."""
    cls = type(expr)
    if cls is Ref:          # a whole equation that names one value (many per-element ones)
        return {expr.name}
    if cls is Const:
        return set()
    names = set()
    seen = set()            # ids of the inner nodes walked: an object held twice, once
    stack = [expr]          # one loop, no generator: build asks for every equation
    while stack:
        node = stack.pop()
        cls = type(node)
        if cls is Ref:
            names.add(node.name)
        elif cls is not Const and id(node) not in seen:
            seen.add(id(node))
            if isinstance(node, Ref):
                names.add(node.name)
            elif isinstance(node, LookupCall):
                names.add(node.table)
            stack.extend(node.children())
    return names


# ---------------------------------------------------------------------------
# DSL helpers: functions a modeller calls on handles.
def _call(fn: Function):
    def make(*args) -> Expr:
        node = _new(Call)           # Call(fn, args): `fn` a member already, no check to run
        node.__dict__["fn"], node.__dict__["args"] = fn, tuple([as_expr(a) for a in args])
        return node
    make.__name__ = fn.value
    make.__doc__ = f"Built-in `{fn}` as an expression node."
    return make


def _stateful(kind: type[Stateful], doc: str):
    def make(*args) -> Expr:
        return kind(tuple(as_expr(a) for a in args))
    make.__name__, make.__doc__ = kind.fn.value, doc
    return make


exp, ln, sqrt = _call(Function.EXP), _call(Function.LN), _call(Function.SQRT)
minimum, maximum, modulo = _call(Function.MIN), _call(Function.MAX), _call(Function.MODULO)
if_then_else, step, pulse, pulse_train, ramp = (
    _call(Function.IF_THEN_ELSE), _call(Function.STEP), _call(Function.PULSE),
    _call(Function.PULSE_TRAIN), _call(Function.RAMP))
xidz, zidz = _call(Function.XIDZ), _call(Function.ZIDZ)
random_uniform, random_normal, random_exponential = (
    _call(Function.RANDOM_UNIFORM), _call(Function.RANDOM_NORMAL),
    _call(Function.RANDOM_EXPONENTIAL))
erlang_b = _call(Function.ERLANG_B)
erlang_b.__doc__ = """erlang_b(servers, load): Erlang B, the probability that all servers are busy.

    M/M/c/c blocking with `load` Erlangs offered (arrival rate x service time); a fractional
    server count interpolates linearly between whole ones, a load below 1e-3 Erlangs counts
    as 1e-3. Dimensionless, in (0, 1]; one compiled loop (definition and bounds:
    sdmodels/queueing.py). Erlang C follows as B / (1 - rho (1 - B)), rho = load / servers.

    >>> from sdmodels import Model, run
    >>> m = Model("erl", stop=1, dt=1)
    >>> _ = m.aux("Blocking", erlang_b(10, 9.5))
    >>> round(float(run(m)["Blocking"].iloc[0]), 6)     # B(10, 9.5)
    0.191379
    """

delay1 = _stateful(Delay1, "DELAY1(input, delay time[, initial]): first-order material delay.")
delay3 = _stateful(Delay3, "DELAY3(input, delay time[, initial]): third-order (Erlang-3) "
                           "material delay.")
delayn = _stateful(DelayN, "DELAYN(input, delay time, order[, initial]): order-n material delay.")
delay_fixed = _stateful(DelayFixed, "DELAY FIXED(input, delay time[, initial]): pipeline; "
                                    "replays input intact.")
smooth = _stateful(Smooth, "SMOOTH(input, averaging time[, initial]): first-order exponential "
                           "smoothing.")
smooth3 = _stateful(Smooth3, "SMOOTH3(input, averaging time[, initial]): third-order smoothing.")
smoothn = _stateful(SmoothN, "SMOOTHN(input, averaging time, order[, initial]).")
trend = _stateful(Trend, "TREND(input, averaging time[, initial trend]): fractional rate of "
                         "change.")
sample_hold = _stateful(SampleHold, "sample_hold(input, period[, first sample time]): the input "
                                    "sampled every `period` and held in between, as a "
                                    "controller with a sync loop.")
sample_if_true = _stateful(SampleIfTrue, "SAMPLE IF TRUE(condition, input, initial): the "
                                        "input where the condition holds, else the value it "
                                        "had; the variable's own name inside reads the value "
                                        "held so far, as in Vensim.")
rolling_max = _stateful(RollingMax, "rolling_max(input, window): the largest input over the "
                                    "last `window`.")
rolling_min = _stateful(RollingMin, "rolling_min(input, window): the smallest input over the "
                                    "last `window`.")


def _reduce(op: ReduceOp):
    def make(operand, dim) -> Expr:
        name = dim.name if hasattr(dim, "name") else str(dim)
        return Reduce(op, as_expr(operand), name)
    make.__name__ = f"{op}_over"
    make.__doc__ = f"{op} of an arrayed expression over one dimension."
    return make


sum_over, prod_over, min_over, max_over, mean_over = (_reduce(op) for op in ReduceOp)
