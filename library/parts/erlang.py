"""Erlang C for a server count and a load that change during a run, from the built-in Erlang B.

B = sdmodels.erlang_b(servers, load): the engine's built-in (sdmodels/queueing.py states it,
sdmodels/_vectors.py runs it as one compiled loop; an export writes it out as its expression
tree). It computes the stable recursion B(k) = a B(k-1) / (k + a B(k-1)) on its reciprocal
R(k) = 1 / B(k) = 1 + (k / a) R(k-1), R(0) = 1 (every term positive: no cancellation), over
`MAX_EXACT` = 64 levels ending at the whole server count: exact up to 64 servers; above, it
starts 64 servers below from the fluid estimate R = a / max(a - k0, sqrt(a)) (the waiting
probability is then off by at most 0.002 up to c = 500 and 0.03 at c = 2000,
tests/test_parts_queueing.py). A fractional c interpolates B linearly between floor(c) and
floor(c) + 1 (exact at integers). Robust for any c >= 0 and load: the load is kept >=
`MIN_LOAD` = 1e-3 Erlangs, a level multiplies R by at most `MAX_FACTOR` and R is capped at
`MAX_RECIPROCAL` every `CAP_EVERY` levels, so nothing overflows when a << c (a fast
scale-down of the load or many idle servers: R grows like c! / a^c); the bounds change only
values with B < ~1e-285. (Until the built-in, these 64 levels were unrolled here into one
expression tree: about 60 % of api_service's step code.) C is 1 at and above saturation
(a >= c), where the stationary formula no longer applies.

Erlang C from B: C = B / (1 - rho (1 - B)), rho = a / c (Cooper, *Introduction to Queueing
Theory*, 1981, sec. 3.5); dB/da = B (c / a - 1 + B) (Jagerman 1974) gives the slope of the
stationary queue length L_q(rho) = C rho / (1 - rho) that the server part needs.
"""
from __future__ import annotations

from sdmodels import Model, erlang_b, maximum
from sdmodels.queueing import MIN_LOAD


def erlang_c(m: Model, servers, rho, *, name: str = "Erlang C"):
    """Add Erlang C(servers, servers x rho) to `m` (one auxiliary); returns its handle.

    >>> from sdmodels import run
    >>> m = Model("erl", stop=1, dt=1)
    >>> c = erlang_c(m, m.constant("c", 10), m.constant("rho", 0.95))
    >>> round(float(run(m)["Erlang C"].iloc[0]), 4)    # W_q = C / (c mu - lambda) = 157 ms
    0.8256
    """
    b = erlang_b(servers, servers * rho)        # the load in Erlangs (kept >= MIN_LOAD)
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
    db = servers * b * (servers / maximum(servers * rho, MIN_LOAD) - 1 + b)      # dB/drho
    dc = (db * den - b * (b - 1 + rho * db)) / (den * den)
    return dc * rho / (1 - rho) + c / ((1 - rho) * (1 - rho))
