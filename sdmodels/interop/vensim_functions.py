"""Vensim's pure built-ins mapped onto our catalog (sdmodels.expr.FUNCTIONS): the ones
that are ours under another name or argument order, and the ones written out as
expressions (MODULO with the dividend's sign, QUANTUM, the hyperbolic and inverse
trigonometric functions, XPULSE, ...). Functions that need the importer's state (lookups,
macros, vectors, subscripts) stay in abstract.py and vensim_vectors.py."""
from __future__ import annotations

import math

from sdmodels.expr import Binary, Call, Const, Expr, Time, TimeStep, Unary

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
    if fn == "random_0_1":     # fn_random.html: the same stream as RANDOM UNIFORM(0, 1, 0)
        return Call("random_uniform", (Const(0.0), Const(1.0), Const(0.0)))
    if fn == "time_base":      # fn_time_base.html: "Same as: (START + Time*SLOPE)"
        return Binary("+", args[0], Binary("*", Time(), args[1]))
    if fn == "xramp":
        return Call("ramp", (args[0], args[1]))
    if fn == "xpulse":
        return Binary("*", Binary("/", args[1], TimeStep()),
                      Call("pulse", (args[0], Const(0.0))))
    if fn == "xpulse_train":
        return Binary("*", Binary("/", args[2], TimeStep()),
                      Call("pulse_train", (args[0], Const(0.0), args[1], Const(BIG))))
    return None


# Lanczos' approximation of the gamma function, g = 7, nine terms (relative error ~1e-15)
_LANCZOS = (0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313,
            -176.61502916214059, 12.507343278686905, -0.13857109526572012,
            9.9843695780195716e-6, 1.5056327351493116e-7)


def gamma_ln(x: Expr) -> Expr:
    """GAMMA LN(x) (fn_gamma_ln.html): ln of the gamma function, written out with Lanczos'
    approximation for y = max(x, 1 - x) >= 0.5 and the reflection formula
    ln(pi / |sin(pi x)|) - ln gamma(1 - x) below 0.5, so no term divides by zero.

    >>> isinstance(gamma_ln(Const(4.0)), Call)    # reflected below 0.5, Lanczos' above
    True
    """
    y = Call("max", (x, Binary("-", Const(1.0), x)))
    z = Binary("-", y, Const(1.0))
    series: Expr = Const(_LANCZOS[0])
    for i, c in enumerate(_LANCZOS[1:], start=1):
        series = Binary("+", series, Binary("/", Const(c), Binary("+", z, Const(float(i)))))
    t = Binary("+", z, Const(7.5))
    at_y = Binary("+", Binary("+", Const(0.5 * math.log(2 * math.pi)), Binary(
        "*", Binary("+", z, Const(0.5)), Call("ln", (t,)))), Binary(
        "-", Call("ln", (series,)), t))
    sine = Call("max", (Call("abs", (Call("sin", (Binary("*", Const(math.pi), x),)),)),
                        Const(1e-300)))
    reflected = Binary("-", Call("ln", (Binary("/", Const(math.pi), sine),)), at_y)
    return Call("if_then_else", (Binary("<", x, Const(0.5)), reflected, at_y))


DERIVED = {
    "gamma_ln": gamma_ln,
    "arcsin": lambda x: Call("arctan", (Binary("/", x, Call("sqrt", (
        Binary("-", Const(1.0), Binary("*", x, x)),))),)),
    "arccos": lambda x: Binary("-", Const(math.pi / 2), DERIVED["arcsin"](x)),
    "sinh": lambda x: Binary("/", Binary("-", Call("exp", (x,)), Call("exp", (Unary("-", x),))),
                             Const(2.0)),
    "cosh": lambda x: Binary("/", Binary("+", Call("exp", (x,)), Call("exp", (Unary("-", x),))),
                             Const(2.0)),
    "tanh": lambda x: Binary("/", DERIVED["sinh"](x), DERIVED["cosh"](x)),
}


_NOT_YET = "not implemented yet"
_NO_REF = ("its reference page could not be found, so there is no rule to check an "
           "implementation against")
# Vensim functions we know and do not import, and why (docs/VENSIM_FUNCTIONS.md): the import
# stops naming the function and the reason instead of "not supported".
REFUSED = {
    "get_data_stdv": f"{_NO_REF} (sample or population deviation)",
    "sstats": f"{_NO_REF} (it is not in Vensim's function summary, 22300.html)",
    "ramp_from_to": _NO_REF, "sshape": _NO_REF,
    "a_function_of": "a sketch placeholder with no equation to run: write the equation",
    "delay_conveyor": f"{_NOT_YET} (a conveyor with leakage)",
    "delay_profile": f"{_NOT_YET} (an arbitrary delay profile)",
    "delay_batch": f"{_NOT_YET} (batching)",
    "shift_if_true": _NOT_YET, "reinitial": _NOT_YET,
    "simultaneous": "simultaneous equations need an iterative solver in the kernel",
    "find_zero": "simultaneous equations need an iterative solver in the kernel",
    "net_present_value": _NOT_YET,
    "depreciate_straightline": _NOT_YET, "depreciate_by_schedule": _NOT_YET,
    "cumulate": _NOT_YET, "cumulatef": _NOT_YET,
    "message": "sdmodels has no run-time messages or run control",
    "alloc_p": _NOT_YET, "marketp": _NOT_YET, "demand_at_price": _NOT_YET,
    "supply_at_price": _NOT_YET, "find_market_price": _NOT_YET,
    **{f"queue_{q}": "discrete queue attributes are not modelled"
       for q in ("fifo", "attrib", "conveyor")},
    **{f"random_{r}": "not implemented; no run could reproduce Vensim's random stream anyway"
       for r in ("beta", "binomial", "gamma", "lookup", "negative_binomial",
                 "pink_noise", "poisson", "triangular", "weibull")},
}


def refused(_importer, fn: str, _args, _binding, _initial):
    """Stop the import at a Vensim function we know and do not import, saying why.

    >>> refused(None, "sstats", (), {}, False)
    Traceback (most recent call last):
    ...
    sdmodels.interop.abstract_static.Unsupported: function SSTATS: its reference page could not \
be found, so there is no rule to check an implementation against (it is not in Vensim's \
function summary, 22300.html)
    """
    from sdmodels.interop.abstract import Unsupported
    raise Unsupported(f"function {fn.upper().replace('_', ' ')}", REFUSED[fn])
