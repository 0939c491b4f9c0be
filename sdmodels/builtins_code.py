"""The Python (numba) text of each built-in function call in a generated kernel.

`t` is the name of the time in the current stage; `teps` and `dt` are kernel locals; the
helpers named here come from sdmodels/_runtime.py and sdmodels/_vectors.py (the array
built-ins and erlang_b).
"""
from __future__ import annotations

from typing import Callable

from sdmodels.errors import ModelError
from sdmodels.expr import VECTOR_FUNCTIONS
from sdmodels.operators import CodeTable, Function


# fixed-arity built-ins: {0}, {1}, ... are the arguments, {t} the time
_TEMPLATES = CodeTable(Function, complete=False, code={
    **{fn: f"{py}({{0}})" for fn, py in (
        ("abs", "abs"), ("exp", "np.exp"), ("ln", "np.log"), ("sqrt", "np.sqrt"),
        ("floor", "np.floor"), ("ceil", "np.ceil"), ("integer", "np.trunc"), ("sin", "np.sin"),
        ("cos", "np.cos"), ("tan", "np.tan"), ("arctan", "np.arctan"), ("log10", "np.log10"),
        ("random_exponential", "np.random.exponential"))},
    "round": "np.floor({0} + 0.5)",
    "modulo": "np.mod({0}, {1})",
    "min": "min({0}, {1})",
    "max": "max({0}, {1})",
    "if_then_else": "({1} if {0} != 0.0 else {2})",
    "step": "({0} if {t} + teps >= {1} else 0.0)",
    "pulse": "(1.0 if ({t} + teps >= {0} and {t} + teps < {0} + max({1}, dt)) else 0.0)",
    "pulse_train": "pulse_train({t}, {0}, {1}, {2}, {3}, dt, teps)",
    "xidz": "({2} if abs({1}) < 1e-6 else {0} / {1})",
    "zidz": "(0.0 if abs({1}) < 1e-6 else {0} / {1})",
    "random_uniform": "np.random.uniform({0}, {1})",
    "erlang_b": "erlang_b({0}, {1})",
})


def builtin_code(fn: Function, a: list[str], t: str, vector: Callable[[list[str]], str],
                 host: str) -> str | None:
    """Code for `fn` applied to argument code `a`; None if `fn` is not a built-in.

    >>> builtin_code("if_then_else", ["c", "x", "y"], "t", None, "v")
    '(x if c != 0.0 else y)'
    """
    if fn in _TEMPLATES:
        return _TEMPLATES[fn].format(*a, t=t)
    if fn == "log":
        return f"np.log10({a[0]})" if len(a) == 1 else f"(np.log({a[0]}) / np.log({a[1]}))"
    if fn == "ramp":
        end = a[2] if len(a) > 2 else "0.0"
        return f"ramp({t}, {a[0]}, {a[1]}, {end}, {len(a) > 2})"
    if fn == "random_normal":
        return f"bounded_normal({a[0]}, {a[1]}, {a[2]}, {a[3]})" if len(a) >= 4 else \
            f"np.random.normal({a[0]}, {a[1]})"
    if fn in VECTOR_FUNCTIONS:
        lead, count = VECTOR_FUNCTIONS[fn]
        rest = a[lead:]
        size = len(rest) // count
        if size == 0 or size * count != len(rest):
            raise ModelError(f"'{host}': {fn} needs {count} vectors of one length")
        vectors = [vector(rest[i * size:(i + 1) * size]) for i in range(count)]
        return f"{Function(fn).value}({', '.join(a[:lead] + vectors)})"
    return None
