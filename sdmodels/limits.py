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
import math
import os
from dataclasses import dataclass, fields, replace
from typing import Iterator

from sdmodels.errors import LimitError, did_you_mean
from sdmodels.expr import FUNCTIONS, Binary, Call, Const, Ref, Stateful


ALLOW_DATA_DIRS_ENV = "SDMODELS_ALLOW_DATA_DIRS"   # folders models may read data from
DATA_FILES_ENV = "SDMODELS_DATA_FILES"   # .dat/.tab/.csv files for a .mdl's DATA variables


@dataclass(frozen=True, kw_only=True)
class Limits:
    """The limits in force; raise one with `use_limits(...)`, an env variable or a CLI flag."""
    max_array_elements: int = 1_000_000     # cells of all arrayed variables of one model
    max_equation_chars: int = 100_000       # characters of one equation
    max_nesting: int = 50                   # parentheses, calls and prefix signs inside another
    max_expression_depth: int = 200         # depth of an expression tree (a+b+c+... counts)
    max_time_steps: int = 10_000_000        # integration steps of one run
    max_range_values: int = 1_000_000       # values of one range (--vary "X=0:100:1")
    max_sweep_runs: int = 10_000_000        # runs of one sweep
    max_result_bytes: int = 0               # results held in memory at once; 0: half of free

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


class _Env:
    """The limits of the environment, each read when asked: a model's build checks one
    limit for every arrayed variable, and reading all eight variables for each cost 2 ms of
    eviction_cascade's 359 elements."""

    def __getattr__(self, name: str) -> int:
        text = os.environ.get(env_name(name))
        return _positive(text, env_name(name)) if text else getattr(Limits, name)


@contextlib.contextmanager
def use_limits(limits: Limits | None = None, **changes) -> Iterator[Limits]:
    """Run a block with other limits (a `Limits`, or some fields changed from the current)."""
    known = {f.name for f in fields(Limits)}
    for name, given in changes.items():
        if name not in known:
            raise LimitError(f"use_limits: no limit '{name}'.{did_you_mean(name, known)} "
                             f"Limits: {', '.join(sorted(known))}")
        changes[name] = _positive(given, name)
    value = replace(limits or current_limits(), **changes)
    token = _CURRENT.set(value)
    try:
        yield value
    finally:
        _CURRENT.reset(token)


def over_limit(count: float, limit_name: str, *, limits: Limits | None = None) -> bool:
    """Whether `count` exceeds the named limit (then `check_count` says so; a caller that
    checks often asks this first and formats its message only then).

    >>> over_limit(11, "max_array_elements", limits=Limits(max_array_elements=10))
    True
    """
    return count > getattr(limits or _CURRENT.get() or _Env(), limit_name)


def check_count(what: str, count: float, limit_name: str, *, where: str,
                limits: Limits | None = None) -> None:
    """Raise LimitError if `count` (of `what`, found in `where`) exceeds the named limit."""
    limit = getattr(limits or _CURRENT.get() or _Env(), limit_name)
    if count > limit:
        shown = f"{count:,.0f}" if count < 1e18 else f"{count:.3g}"
        raise LimitError(f"{where}: {shown} {what} exceed the limit of {limit:,}; raise it with "
                         f"{flag_name(limit_name)} N (or {env_name(limit_name)}=N) if you mean it")


def check_model_size(model, *, limits: Limits | None = None) -> None:
    """LimitError if a Model's arrays hold more cells, or an equation is deeper, than allowed.

    Called by `build`, so models from the DSL and from every importer are checked.
    """
    from sdmodels.ir import expressions
    limits = limits or current_limits()
    total = sum(math.prod(len(model.dims[d]) for d in element.dims)
                for element in model.elements.values() if getattr(element, "dims", ()))
    check_count("cells of arrayed variables", total, "max_array_elements",
                where=f"model '{model.name}'", limits=limits)
    for element in model.elements.values():
        for _field, expr in expressions(element):
            depth, bad = _walk(expr)
            if bad or depth > limits.max_expression_depth:
                # the message names the variable: made only for an equation that fails
                check_expression(expr, where=f"model '{model.name}', variable "
                                 f"'{element.display}'", limits=limits)


def _walk(expr) -> tuple[int, bool]:
    """(depth, whether a call has a wrong number of arguments) of an expression tree, found
    level by level without recursion (so any depth is safe): build checks every equation
    of a model with it."""
    depth, bad = 0, False
    level = [expr]
    while level:
        depth += 1
        below = []
        for node in level:
            cls = type(node)
            if cls is Ref or cls is Const:
                continue
            if cls is Binary:           # most nodes: no arity to check
                below.append(node.left)
                below.append(node.right)
                continue
            if cls is Call:             # the next most: its arity, as _wrong_arity checks it
                lo, hi = FUNCTIONS.get(node.fn, _ANY)
                if not lo <= len(node.args) <= hi:
                    bad = True
                below += node.children()
                continue
            if not bad and _wrong_arity(node):
                bad = True
            below += node.children()
        # a subtree the tree holds several times (the same object: a DSL handle used
        # again) is walked once a level (Erlang B's recursion: 1,585 nodes, 726 objects)
        level = list({id(node): node for node in below}.values()) if len(below) > 8 else below
    return depth, bad


_ANY = (0, math.inf)        # the arity of a helper an importer adds: any


def _wrong_arity(node) -> bool:
    """Whether a built-in or stateful call has too few or too many arguments."""
    if not isinstance(node, (Call, Stateful)):
        return False
    lo, hi = (node.arity() if isinstance(node, Stateful) else  # helpers the importers add
              FUNCTIONS.get(node.fn, (0, math.inf)))         # take any number
    return not lo <= len(node.args) <= hi


def _first_wrong_arity(expr):
    """The call check_expression reports: the first with a wrong argument count in the
    order of a depth-first walk (last child first), as it has always been reported."""
    stack = [expr]
    while stack:
        node = stack.pop()
        if _wrong_arity(node):
            return node
        stack.extend(node.children())
    return None


def expression_depth(expr) -> int:
    """The depth of an expression tree, found without recursion (so any depth is safe).

    >>> from sdmodels.parse import parse_equation
    >>> expression_depth(parse_equation("a + b + c"))
    3
    """
    return _walk(expr)[0]


def check_expression(expr, *, where: str, limits: Limits | None = None) -> None:
    """LimitError if `expr` is deeper than max_expression_depth (compilers recurse); a
    ModelError if a built-in is called with a wrong number of arguments (importers)."""
    from sdmodels.errors import ModelError
    limits = limits or current_limits()
    depth, bad = _walk(expr)
    if bad:
        node = _first_wrong_arity(expr)
        lo, hi = node.arity() if isinstance(node, Stateful) else _arity(node.fn)
        want = str(lo) if lo == hi else f"{lo} to {hi}"
        raise ModelError(f"{where}: {node.fn.upper()} takes {want} arguments, got "
                         f"{len(node.args)}")
    if depth > limits.max_expression_depth:
        raise LimitError(
            f"{where}: the equation is {depth} levels deep (a long chain like a+b+c+... counts "
            f"one level per term), over the limit of {limits.max_expression_depth}; split it "
            "into intermediate variables, or raise the limit with --max-expression-depth N "
            "(or SDMODELS_MAX_EXPRESSION_DEPTH=N)")


def _arity(fn) -> tuple[float, float]:
    return FUNCTIONS.get(fn, (0, math.inf))


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


def result_budget(limits: Limits | None = None) -> int:
    """Bytes results may take in memory: max_result_bytes, or half the available memory."""
    limits = limits or current_limits()
    return limits.max_result_bytes or available_memory() // 2


def check_result_size(where: str, *, runs: int, saved: int, outputs: int, copies: int = 1,
                      limits: Limits | None = None) -> None:
    """LimitError if runs x saved times x outputs (x copies held at once) exceed the budget.

    >>> check_result_size("model 'm'", runs=10**6, saved=10**4, outputs=10,
    ...                   limits=Limits(max_result_bytes=2**30))
    Traceback (most recent call last):
    ...
    sdmodels.errors.LimitError: model 'm': 1000000 runs x 10000 saved times x 10 outputs need 745 GiB of memory, more than the 1 GiB allowed (max_result_bytes); save fewer times (saveper), fewer outputs or runs per chunk (--chunk-size), or raise the limit with --max-result-bytes N (or SDMODELS_MAX_RESULT_BYTES=N)
    """
    limits = limits or current_limits()
    need = 8 * runs * saved * outputs * copies
    budget = result_budget(limits)
    if need > budget:
        shown = "" if copies == 1 else f" x {copies} at once"
        raise LimitError(
            f"{where}: {runs} runs x {saved} saved times x {outputs} outputs{shown} need "
            f"{_gib(need)} of memory, more than the {_gib(budget)} allowed ("
            + ("max_result_bytes" if limits.max_result_bytes else "half the available memory")
            + "); save fewer times (saveper), fewer outputs or runs per chunk (--chunk-size), "
            "or raise the limit with --max-result-bytes N (or SDMODELS_MAX_RESULT_BYTES=N)")


def _gib(n: int) -> str:
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.0f} {unit}"
    return f"{n} bytes"


__all__ = ["Limits", "current_limits", "use_limits", "check_count", "check_model_size",
           "check_expression",
           "expression_depth", "available_memory", "result_budget", "check_result_size"]
