"""Vensim's pure built-ins mapped onto our catalog (sdmodels.expr.FUNCTIONS): the ones
that are ours under another name or argument order, and the ones written out as
expressions (MODULO with the dividend's sign, QUANTUM, the hyperbolic and inverse
trigonometric functions, XPULSE, ...). Functions that need the importer's state (lookups,
macros, vectors, subscripts) stay in abstract.py and vensim_vectors.py."""
from __future__ import annotations

import math

from sdmodels.expr import Binary, Call, Const, Expr, TimeStep, Unary

SIMPLE = {"abs", "exp", "sin", "cos", "tan", "arctan", "sqrt", "ln", "integer", "modulo",
          "min", "max", "if_then_else", "step", "xidz", "zidz", "random_uniform",
          "random_normal", "random_exponential", "log10", "floor", "ceil", "round"}
BIG = 1e300


def pure(fn: str, args: list[Expr]) -> Expr | None:
    """`fn` (pysd's key, e.g. 'pulse_train') applied to mapped arguments; None if not pure.

    >>> pure("power", [Const(2.0), Const(3.0)]).op
    '^'
    >>> pure("get_data_at_time", []) is None
    True
    """
    if fn == "modulo":      # Vensim and XMILE: the sign of the dividend (fmod)
        return Binary("-", args[0], Binary("*", args[1], Call("integer", (
            Binary("/", args[0], args[1]),))))
    if fn == "if_then_else" and isinstance(args[0], Const):   # decided at import
        return args[1] if args[0].value else args[2]
    if fn in SIMPLE:
        return Call(fn, tuple(args))
    if fn in DERIVED:
        return DERIVED[fn](*args)
    if fn == "quantum":
        return Call("if_then_else", (Binary("<=", args[1], Const(0.0)), args[0], Binary(
            "*", args[1], Call("integer", (Binary("/", args[0], args[1]),)))))
    if fn == "log":
        return Call("log", (args[0], args[1])) if len(args) == 2 else Call("log10", tuple(args))
    if fn == "power":
        return Binary("^", args[0], args[1])
    if fn == "pi":
        return Const(math.pi)
    if fn == "pulse":
        return Call("pulse", tuple(args))
    if fn == "pulse_train":    # pysd order: start, interval, width, end
        return Call("pulse_train", (args[0], args[2], args[1], args[3]))
    if fn == "ramp":
        return Call("ramp", tuple(args))
    if fn == "xramp":
        return Call("ramp", (args[0], args[1]))
    if fn == "xpulse":
        return Binary("*", Binary("/", args[1], TimeStep()),
                      Call("pulse", (args[0], Const(0.0))))
    if fn == "xpulse_train":
        return Binary("*", Binary("/", args[2], TimeStep()),
                      Call("pulse_train", (args[0], Const(0.0), args[1], Const(BIG))))
    return None


DERIVED = {
    "arcsin": lambda x: Call("arctan", (Binary("/", x, Call("sqrt", (
        Binary("-", Const(1.0), Binary("*", x, x)),))),)),
    "arccos": lambda x: Binary("-", Const(math.pi / 2), DERIVED["arcsin"](x)),
    "sinh": lambda x: Binary("/", Binary("-", Call("exp", (x,)), Call("exp", (Unary("-", x),))),
                             Const(2.0)),
    "cosh": lambda x: Binary("/", Binary("+", Call("exp", (x,)), Call("exp", (Unary("-", x),))),
                             Const(2.0)),
    "tanh": lambda x: Binary("/", DERIVED["sinh"](x), DERIVED["cosh"](x)),
}
