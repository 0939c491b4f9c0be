"""The Erlang B built-in `erlang_b(servers, load)`: its definition, once, for every consumer.

Erlang B, the probability that an arrival finds all `servers` busy under `load` Erlangs
(M/M/c/c), by the stable recursion B(k) = a B(k-1) / (k + a B(k-1)), written on its
reciprocal R(k) = 1 / B(k) = 1 + (k / a) R(k-1), R(0) = 1 (every term positive: no
cancellation). `recursion` states it once over a set of operations (`Ops`): as expression
nodes it is the tree an export writes out (`expanded`: XMILE and Vensim have no such function),
as numpy functions the analyses' evaluator (sdmodels/analysis/numeric.py), as scalar
functions the workbench's (sdmodels/workbench/values.py). The engine runs the same operations
in the same order as one compiled loop (sdmodels/_vectors.py `erlang_b`; the interpreter and
the kernels call it), so all of them give the same floats.

The recursion runs over `MAX_EXACT` levels, the last at the whole server count
n = floor(max(servers, 0)): level j computes k = n - MAX_EXACT + j and R = 1 + (max(k, 0) / a)
R, so a level at k <= 0 gives R(0) = 1 exactly and the levels past it are the exact
recursion. Above `MAX_EXACT` servers it starts `MAX_EXACT` servers below n from the fluid
estimate R = a / max(a - k0, sqrt(a)); against the exact recursion, Erlang C is then off by
at most 0.002 up to c = 500 and 0.03 at c = 2000 (tests/test_parts_queueing.py). A
fractional server count interpolates B linearly between floor(c) and floor(c) + 1 (exact
at whole counts), B(n + 1) = a B(n) / (n + 1 + a B(n)).

Robust for any servers and load: the load is kept >= `MIN_LOAD` (a smaller one counts as
`MIN_LOAD`, so k / a stays finite), a level multiplies R by at most `MAX_FACTOR` and R is
capped at `MAX_RECIPROCAL` every `CAP_EVERY` levels, so no intermediate overflows when
a << c (R grows like c! / a^c). Up to 64 servers neither bound is ever reached
(R <= 64! / MIN_LOAD^64 ~ 1e281): the recursion is exact there. R only grows with k, so the
bounds change only values with B < ~1e-285. B lies in (0, 1], falls as servers are added and
rises with the load.

>>> round(recursion(10.0, 9.5, SCALAR), 6)      # B(10, 9.5)
0.191379
>>> recursion(0.0, 3.0, SCALAR), recursion(1.0, 1.0, SCALAR)    # no server; B(1, 1) = 1 / 2
(1.0, 0.5)
>>> recursion([1.0, 2.0], 1.0, numpy_ops())          # elementwise: B(2, 1) = 1 / 5
array([0.5, 0.2])
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Callable

MAX_EXACT = 64     # servers computed exactly by the recursion
MIN_LOAD = 1e-3    # Erlangs: the load's floor, so that k / a stays finite as a -> 0
MAX_RECIPROCAL = 1e285   # cap on 1 / B, every CAP_EVERY levels (above 64! / MIN_LOAD^64, the
CAP_EVERY = 2            # largest exact value); between caps R grows at most MAX_FACTOR^2
MAX_FACTOR = 1e10        # k / a per level at most (past it, R reaches the cap within 29 levels)


@dataclass(frozen=True)
class Ops:
    """The operations the recursion is written in: min, max, floor, sqrt, select(c, x, y)."""
    lo: Callable
    hi: Callable
    floor: Callable
    sqrt: Callable
    select: Callable


def recursion(servers, load, ops: Ops):
    """Erlang B(servers, load) written in `ops` (see the module doc); every step is the
    engine's, in its order (sdmodels/_vectors.py `erlang_b` runs the same as a loop)."""
    a = ops.hi(load, MIN_LOAD)
    s = ops.hi(servers, 0.0)
    n = ops.floor(s)
    k0 = ops.hi(0.0, n - MAX_EXACT)
    r = ops.select(k0 > 0, a / ops.hi(a - k0, ops.sqrt(a)), 1.0)
    for j in range(1, MAX_EXACT + 1):
        r = 1.0 + ops.lo(ops.hi(n + float(j - MAX_EXACT), 0.0) / a, MAX_FACTOR) * r
        if j % CAP_EVERY == 0:
            r = ops.lo(r, MAX_RECIPROCAL)
    b = 1.0 / r
    return b + (s - n) * (a * b / (n + 1.0 + a * b) - b)


@functools.cache
def numpy_ops() -> Ops:
    """numpy's operations, elementwise over arrays (numpy imported on first use)."""
    import numpy as np
    return Ops(np.minimum, np.maximum, np.floor, np.sqrt, lambda c, x, y: np.where(c, x, y))


def _floor(x: float) -> float:
    return float(math.floor(x)) if math.isfinite(x) else x


#: Python floats, as the engine computes (Python's min and max, as numba's)
SCALAR = Ops(min, max, _floor, math.sqrt, lambda c, x, y: x if c else y)


def expanded(servers, load):
    """The expression tree of erlang_b(servers, load) (for exports: no reader knows the
    function); the same operations as the built-in, so the same values.

    >>> from sdmodels.expr import Ref, walk
    >>> tree = expanded(Ref("c"), Ref("a"))
    >>> sum(1 for _ in walk(tree)) > 600
    True
    """
    from sdmodels.expr import if_then_else, maximum, minimum, sqrt
    return recursion(servers, load, Ops(minimum, maximum, math.floor, sqrt, if_then_else))
