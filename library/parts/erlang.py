"""Erlang B and C as expression trees, for a server count and a load that change during a run.

Erlang B by the stable recursion B(k) = a B(k-1) / (k + a B(k-1)), written on its reciprocal
R(k) = 1 / B(k) = 1 + (k / a) R(k-1), R(0) = 1 (every term positive: no cancellation), so each
level refers to the previous one once and the tree grows linearly. The recursion is unrolled
over `MAX_EXACT` servers in chunks of `CHUNK` levels (one auxiliary each, to keep the generated
expressions shallow); a level past the server count passes its value through. Above
`MAX_EXACT` servers the recursion starts `MAX_EXACT` servers below c from the fluid estimate
R = a / max(a - k0, sqrt(a)); measured against the exact recursion, the waiting probability is
then off by at most 0.002 up to c = 500 and 0.03 at c = 2000 (tests/test_parts_queueing.py).
A fractional c interpolates B linearly between floor(c) and floor(c) + 1 (exact at integers).

Erlang C from B: C = B / (1 - rho (1 - B)), rho = a / c (Cooper, *Introduction to Queueing
Theory*, 1981, sec. 3.5); dB/da = B (c / a - 1 + B) (Jagerman 1974) gives the slope of the
stationary queue length L_q(rho) = C rho / (1 - rho) that the server part needs.
"""
from __future__ import annotations

import math

from sdmodels import Model, if_then_else, maximum, sqrt

MAX_EXACT = 64     # servers computed exactly by the unrolled recursion
CHUNK = 16         # recursion levels per auxiliary


def erlang_b(m: Model, servers, load, *, prefix: str = "Erlang B"):
    """Add the auxiliaries computing Erlang B(servers, load); returns the handle of B.

    >>> from sdmodels import run
    >>> m = Model("erl", stop=1, dt=1)
    >>> b = erlang_b(m, m.constant("c", 10), m.constant("a", 9.5))
    >>> round(float(run(m)["Erlang B"].iloc[0]), 6)   # B(10, 9.5) = 0.19137915...
    0.191379
    """
    a = m.aux(f"{prefix} load", maximum(load, 1e-3), units="1",
              doc="offered load in Erlangs, kept above 0.001 so that k / a stays finite")
    n = m.aux(f"{prefix} whole servers", math.floor(maximum(servers, 0)), units="1")
    k0 = m.aux(f"{prefix} first server", maximum(0, n - MAX_EXACT), units="1",
               doc="where the exact recursion starts (0 up to 64 servers)")
    r = if_then_else(k0 > 0, a / maximum(a - k0, sqrt(a)), 1.0)
    for chunk in range(MAX_EXACT // CHUNK):
        for j in range(chunk * CHUNK + 1, (chunk + 1) * CHUNK + 1):
            k = k0 + j
            on = k <= n
            r = on + (1 - on + on * k / a) * r
        r = m.aux(f"{prefix} reciprocal {chunk + 1}", r, units="1",
                  doc=f"1 / B after {(chunk + 1) * CHUNK} recursion levels")
    b_n = 1 / r
    b_next = a * b_n / (n + 1 + a * b_n)
    frac = maximum(servers, 0) - n
    return m.aux(prefix, b_n + frac * (b_next - b_n), units="1",
                 doc="Erlang B (blocking probability), linear between whole server counts")


def erlang_c_and_slope(m: Model, servers, rho, b, *, prefix: str = "Erlang C"):
    """Add Erlang C and the slope dL_q/drho of the stationary queue length; returns both.

    >>> from sdmodels import run
    >>> m = Model("erl", stop=1, dt=1)
    >>> c, rho = m.constant("c", 10), m.constant("rho", 0.95)
    >>> cc, slope = erlang_c_and_slope(m, c, rho, erlang_b(m, c, c * rho))
    >>> round(float(run(m)["Erlang C"].iloc[0]), 4)   # C(10, 9.5); W_q = C / (c mu - lambda) = 157 ms
    0.8256
    """
    den = 1 - rho + rho * b
    c = m.aux(prefix, b / den, units="1", doc="Erlang C: probability that an arrival waits")
    db = servers * b * (servers / maximum(servers * rho, 1e-3) - 1 + b)      # dB/drho
    dc = (db * den - b * (b - 1 + rho * db)) / (den * den)
    slope = m.aux(f"{prefix} queue slope", dc * rho / (1 - rho) + c / ((1 - rho) * (1 - rho)),
                  units="req", doc="dL_q/drho of the stationary queue L_q = C rho / (1 - rho)")
    return c, slope
