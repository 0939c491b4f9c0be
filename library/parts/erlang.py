"""Erlang B and C as expression trees, for a server count and a load that change during a run.

Erlang B by the stable recursion B(k) = a B(k-1) / (k + a B(k-1)), written on its reciprocal
R(k) = 1 / B(k) = 1 + (k / a) R(k-1), R(0) = 1 (every term positive: no cancellation), so each
level refers to the previous one once and the tree grows linearly. The recursion is unrolled
over `MAX_EXACT` levels in one auxiliary (one element rather than a chain keeps the loop
analysis from counting a path per link), the last level at the whole server count n: level j
computes k = n - MAX_EXACT + j and R = 1 + (max(k, 0) / a) R, so a level at k <= 0 gives
R(0) = 1 exactly and the levels past it are the exact recursion (no branch, no switch per
level, and R, k and a appear once per level). Above `MAX_EXACT` servers the recursion starts
`MAX_EXACT` servers below n from the fluid estimate R = a / max(a - k0, sqrt(a)); measured
against the exact recursion, the waiting probability is then off by at most 0.002 up to
c = 500 and 0.03 at c = 2000 (tests/test_parts_queueing.py). A fractional c interpolates B
linearly between floor(c) and floor(c) + 1 (exact at integers).

Robust for any c >= 0 and load: the load a is kept >= `MIN_LOAD`, a level multiplies R by at
most `MAX_FACTOR` and R is capped at `MAX_RECIPROCAL` every `CAP_EVERY` levels, so no
intermediate overflows when a << c (a fast scale-down of the load or many idle servers: R
grows like c! / a^c). Up to 64 servers neither bound is ever reached (R <= 64! / MIN_LOAD^64
~ 1e281): the recursion stays exact there. R only grows with k (B falls as servers are
added), so the bounds change only values with B < ~1e-285 (zero for every use). C is 1 at
and above saturation (a >= c), where the stationary formula no longer applies.

Erlang C from B: C = B / (1 - rho (1 - B)), rho = a / c (Cooper, *Introduction to Queueing
Theory*, 1981, sec. 3.5); dB/da = B (c / a - 1 + B) (Jagerman 1974) gives the slope of the
stationary queue length L_q(rho) = C rho / (1 - rho) that the server part needs.
"""
from __future__ import annotations

import math

from sdmodels import Model, if_then_else, maximum, minimum, sqrt

MAX_EXACT = 64     # servers computed exactly by the unrolled recursion
MIN_LOAD = 1e-3    # Erlangs: the load's floor, so that k / a stays finite as a -> 0
MAX_RECIPROCAL = 1e285   # cap on 1 / B, every CAP_EVERY levels (above 64! / MIN_LOAD^64, the
CAP_EVERY = 2            # largest exact value); between caps R grows at most MAX_FACTOR^2
MAX_FACTOR = 1e10        # k / a per level at most (past it, R reaches the cap within 29 levels)


def erlang_c(m: Model, servers, rho, *, name: str = "Erlang C"):
    """Add Erlang C(servers, servers x rho) to `m` (two auxiliaries); returns its handle.

    >>> from sdmodels import run
    >>> m = Model("erl", stop=1, dt=1)
    >>> c = erlang_c(m, m.constant("c", 10), m.constant("rho", 0.95))
    >>> df = run(m)
    >>> round(1 / float(df["Erlang C reciprocal B"].iloc[0]), 6)   # B(10, 9.5) = 0.191379...
    0.191379
    >>> round(float(df["Erlang C"].iloc[0]), 4)    # W_q = C / (c mu - lambda) = 157 ms
    0.8256
    """
    a = maximum(servers * rho, MIN_LOAD)       # offered load in Erlangs, kept finite in k / a
    n = math.floor(maximum(servers, 0))
    k0 = maximum(0, n - MAX_EXACT)
    r = if_then_else(k0 > 0, a / maximum(a - k0, sqrt(a)), 1.0)
    for j in range(1, MAX_EXACT + 1):
        r = 1 + minimum(maximum(n + (j - MAX_EXACT), 0) / a, MAX_FACTOR) * r
        if j % CAP_EVERY == 0:
            r = minimum(r, MAX_RECIPROCAL)
    r = m.aux(f"{name} reciprocal B", r, units="1", doc="1 / Erlang B at the whole servers")
    b_n = 1 / r
    b = b_n + (maximum(servers, 0) - n) * (a * b_n / (n + 1 + a * b_n) - b_n)
    # b / max(den, b): the formula below saturation (den > b there), 1 at and above it
    return m.aux(name, b / maximum(1 - rho + rho * b, b), units="1",
                 doc="Erlang C: probability that an arrival waits (B linear between whole "
                 "server counts)")


def queue_slope(servers, rho, c):
    """dL_q/drho of the stationary queue L_q = C rho / (1 - rho), from C alone (an expression).

    B comes back from C as B = C (1 - rho) / (1 - rho C), so the slope reads only C and rho
    (one path into it instead of three, which keeps the loop count of a model down).
    """
    b = c * (1 - rho) / (1 - rho * c)
    den = 1 - rho + rho * b
    db = servers * b * (servers / maximum(servers * rho, 1e-3) - 1 + b)      # dB/drho
    dc = (db * den - b * (b - 1 + rho * db)) / (den * den)
    return dc * rho / (1 - rho) + c / ((1 - rho) * (1 - rho))
