"""The closed sets of names an expression node may carry: operators, functions, reductions
and stateful kinds, each a `StrEnum`.

An expression node checks its name against these when it is built, so a name outside them
never reaches a generator: the code each consumer writes for a name comes from its own
`CodeTable` (name -> code or opcode), never from the name's text. Members compare, hash,
print and serialise as their text (``BinaryOp.ADD == "+"``), so the catalog, reports and
JSON read as before.

>>> BinaryOp("+"), BinaryOp.ADD == "+", f"{Function.IF_THEN_ELSE}"
('+', True, 'if_then_else')
>>> BinaryOp.of("**", "Binary")
Traceback (most recent call last):
...
sdmodels.errors.ModelError: Binary: '**' is not an operator sdmodels knows; use one of +, -, *, /, ^, <, <=, >, >=, =, <>, and, or
"""
from __future__ import annotations

from enum import StrEnum
from typing import Mapping

from sdmodels.errors import ModelError


class Closed(StrEnum):
    """A closed set of names that behaves as its text (equality, hashing, str, repr)."""

    def __repr__(self) -> str:
        return repr(self.value)

    @classmethod
    def of(cls, value, where: str) -> "Closed":
        """`value` as a member, or a ModelError that names `where` and the allowed values."""
        if type(value) is cls:
            return value
        try:
            return cls(value)
        except ValueError:
            noun = _NOUNS.get(cls.__name__, "a name")
            raise ModelError(f"{where}: {value!r} is not {noun} sdmodels knows; use one of "
                             f"{', '.join(m.value for m in cls)}") from None


#: how an error message calls a member of each set
_NOUNS = {"BinaryOp": "an operator", "UnaryOp": "a prefix operator", "Function": "a function",
          "ReduceOp": "a reduction", "StatefulKind": "a stateful function"}


class BinaryOp(Closed):
    """The infix operators: arithmetic, comparison and logic."""
    ADD, SUB, MUL, DIV, POW = "+", "-", "*", "/", "^"
    LT, LE, GT, GE, EQ, NE = "<", "<=", ">", ">=", "=", "<>"
    AND, OR = "and", "or"


class UnaryOp(Closed):
    """The prefix operators."""
    NEG, NOT = "-", "not"


class Function(Closed):
    """The pure built-in functions (arities in sdmodels.expr.FUNCTIONS and VECTOR_FUNCTIONS)."""
    ABS, EXP, LN, LOG, LOG10 = "abs", "exp", "ln", "log", "log10"
    SQRT, FLOOR, CEIL, ROUND, INTEGER = "sqrt", "floor", "ceil", "round", "integer"
    SIN, COS, TAN, ARCTAN = "sin", "cos", "tan", "arctan"
    MODULO, MIN, MAX, IF_THEN_ELSE = "modulo", "min", "max", "if_then_else"
    STEP, PULSE, PULSE_TRAIN, RAMP = "step", "pulse", "pulse_train", "ramp"
    XIDZ, ZIDZ = "xidz", "zidz"
    RANDOM_UNIFORM, RANDOM_NORMAL = "random_uniform", "random_normal"
    RANDOM_EXPONENTIAL = "random_exponential"
    ALLOCATE_BY_PRIORITY, ALLOCATE_AVAILABLE = "allocate_by_priority", "allocate_available"
    VECTOR_SORT_ORDER, VECTOR_RANK = "vector_sort_order", "vector_rank"
    VECTOR_REORDER, VECTOR_SELECT = "vector_reorder", "vector_select"
    ERLANG_B = "erlang_b"


class ReduceOp(Closed):
    """How an arrayed expression is reduced over one dimension."""
    SUM, PROD, MIN, MAX, MEAN = "sum", "prod", "min", "max", "mean"


class StatefulKind(Closed):
    """The functions with memory (delays, smooths, samplers, rolling windows), by catalog
    name: the kind of each `sdmodels.expr.Stateful` subclass and of each expanded delay."""
    DELAY1, DELAY3, DELAYN, DELAY_FIXED = "delay1", "delay3", "delayn", "delay_fixed"
    SMOOTH, SMOOTH3, SMOOTHN, TREND = "smooth", "smooth3", "smoothn", "trend"
    SAMPLE_HOLD, ROLLING_MAX, ROLLING_MIN = "sample_hold", "rolling_max", "rolling_min"
    SAMPLE_IF_TRUE = "sample_if_true"


class CodeTable(dict):
    """One consumer's code (text or opcode) for each member of a `Closed` set.

    A key outside the table is a ModelError, not a KeyError: a node that went around its
    constructor's check still cannot bring its own text into generated code.

    >>> table = CodeTable(UnaryOp, {"-": "(-{0})", "not": "(1.0 if {0} == 0.0 else 0.0)"})
    >>> table[UnaryOp.NEG].format("x")
    '(-x)'
    >>> table["~"]
    Traceback (most recent call last):
    ...
    sdmodels.errors.ModelError: '~' is not a UnaryOp this generator writes; use one of -, not
    """

    def __init__(self, names: type[Closed], code: Mapping, *, complete: bool = True):
        super().__init__({names(key): value for key, value in code.items()})
        self.names = names
        missing = [m.value for m in names if m not in self]
        if complete and missing:
            raise ModelError(f"no code for {names.__name__} {', '.join(missing)}")

    def __missing__(self, key):
        raise ModelError(f"{key!r} is not a {self.names.__name__} this generator writes; use "
                         f"one of {', '.join(str(k) for k in self)}")


#: a numba kernel's Python text of each operator ({0}, {1}: the operands' code)
PYTHON_UNARY = CodeTable(UnaryOp, {"-": "(-{0})", "not": "(1.0 if {0} == 0.0 else 0.0)"})
PYTHON_BINARY = CodeTable(BinaryOp, {
    **{o: f"({{0}} {o} {{1}})" for o in "+-*/"},
    "^": "({0} ** {1})",
    **{o: f"(1.0 if ({{0}} != 0.0 {o} {{1}} != 0.0) else 0.0)" for o in ("and", "or")},
    **{o: f"(1.0 if {{0}} {py} {{1}} else 0.0)" for o, py in (
        ("<", "<"), ("<=", "<="), (">", ">"), (">=", ">="), ("=", "=="), ("<>", "!="))}})
