"""Size limits that keep a hostile or mistaken input from eating the machine.

Every limit has a default, an environment variable and a CLI flag (`sdm --max-... N`).
A check that fails raises `LimitError` naming the value, the limit and how to raise it,
before anything is allocated or run.

>>> Limits().max_array_elements
1000000
>>> with use_limits(max_array_elements=10):
...     current_limits().max_array_elements
10
>>> check_count("elements of dimension 'pod'", 11, "max_array_elements",
...             where="model 'm'", limits=Limits(max_array_elements=10))
Traceback (most recent call last):
...
sdmodels.errors.LimitError: model 'm': 11 elements of dimension 'pod' exceed the limit of 10; raise it with --max-array-elements N (or SDMODELS_MAX_ARRAY_ELEMENTS=N) if you mean it
"""
from __future__ import annotations

import contextlib
import contextvars
import os
from dataclasses import dataclass, fields, replace
from typing import Iterator

from sdmodels.errors import LimitError


@dataclass(frozen=True, kw_only=True)
class Limits:
    """The limits in force; raise one with `use_limits(...)`, an env variable or a CLI flag."""
    max_array_elements: int = 1_000_000     # cells of all arrayed variables of one model
    max_equation_chars: int = 100_000       # characters of one equation
    max_nesting: int = 50                   # parentheses, calls and prefix signs inside another
    max_expression_depth: int = 200         # depth of an expression tree (a+b+c+... counts)
    max_sweep_values: int = 1_000_000       # values of one --vary range, runs of one sweep
    max_sweep_bytes: int = 0                # 0: half the available memory

    @classmethod
    def from_env(cls, environ=None) -> "Limits":
        """Defaults, overridden by SDMODELS_MAX_... variables of `environ` (os.environ)."""
        environ = os.environ if environ is None else environ
        changes = {}
        for f in fields(cls):
            text = environ.get(env_name(f.name))
            if text:
                changes[f.name] = _positive(text, env_name(f.name))
        return cls(**changes)


def env_name(field_name: str) -> str:
    """'max_array_elements' -> 'SDMODELS_MAX_ARRAY_ELEMENTS'."""
    return "SDMODELS_" + field_name.upper()


def flag_name(field_name: str) -> str:
    """'max_array_elements' -> '--max-array-elements'."""
    return "--" + field_name.replace("_", "-")


def _positive(text, what: str) -> int:
    try:
        value = int(float(text))
    except (TypeError, ValueError, OverflowError):
        raise LimitError(f"{what}={text!r} is not a whole number; give e.g. {what}=5000000") \
            from None
    if value < 0:
        raise LimitError(f"{what}={text!r} must not be negative")
    return value


_CURRENT: contextvars.ContextVar[Limits | None] = contextvars.ContextVar("sdmodels_limits",
                                                                         default=None)


def current_limits() -> Limits:
    """The limits set by `use_limits` in this context, else those of the environment."""
    return _CURRENT.get() or Limits.from_env()


@contextlib.contextmanager
def use_limits(limits: Limits | None = None, **changes) -> Iterator[Limits]:
    """Run a block with other limits (a `Limits`, or some fields changed from the current)."""
    value = replace(limits or current_limits(), **changes)
    token = _CURRENT.set(value)
    try:
        yield value
    finally:
        _CURRENT.reset(token)


def check_count(what: str, count: float, limit_name: str, *, where: str,
                limits: Limits | None = None) -> None:
    """Raise LimitError if `count` (of `what`, found in `where`) exceeds the named limit."""
    limit = getattr(limits or current_limits(), limit_name)
    if count > limit:
        shown = f"{count:,.0f}" if count < 1e18 else f"{count:.3g}"
        raise LimitError(f"{where}: {shown} {what} exceed the limit of {limit:,}; raise it with "
                         f"{flag_name(limit_name)} N (or {env_name(limit_name)}=N) if you mean it")


def expression_depth(expr) -> int:
    """The depth of an expression tree, found without recursion (so any depth is safe).

    >>> from sdmodels.parse import parse_equation
    >>> expression_depth(parse_equation("a + b + c"))
    3
    """
    from sdmodels.expr import Expr
    deepest, stack = 0, [(expr, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        for value in vars(node).values():
            items = value if isinstance(value, tuple) else (value,)
            stack.extend((v, depth + 1) for v in items if isinstance(v, Expr))
    return deepest


def check_expression(expr, *, where: str, limits: Limits | None = None) -> None:
    """Raise LimitError if `expr` is deeper than max_expression_depth (compilers recurse)."""
    limits = limits or current_limits()
    depth = expression_depth(expr)
    if depth > limits.max_expression_depth:
        raise LimitError(
            f"{where}: the equation is {depth} levels deep (a long chain like a+b+c+... counts "
            f"one level per term), over the limit of {limits.max_expression_depth}; split it "
            "into intermediate variables, or raise the limit with --max-expression-depth N "
            "(or SDMODELS_MAX_EXPRESSION_DEPTH=N)")


def available_memory() -> int:
    """Bytes of memory available now (MemAvailable on Linux, else psutil, else 4 GiB)."""
    with contextlib.suppress(OSError, ValueError):
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    with contextlib.suppress(Exception):
        import psutil
        return int(psutil.virtual_memory().available)
    return 4 << 30


def sweep_byte_budget(limits: Limits | None = None) -> int:
    """Bytes a sweep's results may take: max_sweep_bytes, or half the available memory."""
    limits = limits or current_limits()
    return limits.max_sweep_bytes or available_memory() // 2


__all__ = ["Limits", "current_limits", "use_limits", "check_count", "check_expression",
           "expression_depth", "available_memory", "sweep_byte_budget"]
