"""A database (or any dependency) that slows down with the queries running on it.

The slowdown follows Gunther's Universal Scalability Law (Gunther, *Guerrilla Capacity
Planning*, 2007): with N queries in flight a query takes

    base x (1 + sigma (N - 1) + kappa N (N - 1))

(sigma: contention, kappa: coherency), so throughput N / time peaks at
N* = sqrt((1 - sigma) / kappa) and falls beyond it. Fitted to Robert Haas's pgbench
throughputs of PostgreSQL 9.1 (1..80 clients, tabulated in Gunther's "PostgreSQL Scalability
Analysis Deconstructed", 2012) the law gives sigma ~ 0.04 and kappa ~ 0.001; the defaults here
(0.02, 0.0005: peak at 44 queries) are half of that, a database with twice the headroom.
Queries in flight are bounded by the connections that feed them (`library.parts.pool`), so
the database never sees more than its max_connections. The database takes "Response time"
to feel a change of load (its queues and caches settle), which also breaks the algebraic
loop load -> query time -> hold time -> load.
"""
from __future__ import annotations

from sdmodels import Model, exp, if_then_else, maximum, minimum, smooth, sqrt

from library.parts._wiring import conversion


USL = "Gunther 2007, Universal Scalability Law"

#: name -> (default, units, source)
DATABASE = {
    "Queries in flight": (5.0, "connections", "wired from the pool's connections in use"),
    "Base query time": (0.010, "s", "reference Part 3.3: normal query time 10 ms"),
    "Contention": (0.02, "1", USL + " sigma; half the PostgreSQL 9.1 pgbench fit (0.04)"),
    "Coherency": (0.0005, "1", USL + " kappa; half the PostgreSQL 9.1 pgbench fit (0.001)"),
    "Response time": (1.0, "s", "assumption: the slowdown follows the load within ~1 s"),
    "Slowdown factor": (1.0, "1", "an outside multiplier of query time (a lock, a missing "
                        "index); 1 = none"),
    "Query timeout": (0.0, "s", "PostgreSQL statement_timeout default 0 (off)"),
    "Initial load": (0.0, "connections", "the queries in flight it starts at; 0 = idle "
                     "(a composed system wires where its start settles: `settled_load`)"),
}


def database(*, query_timeout: bool = True, **overrides) -> Model:
    """A database whose query time grows with concurrency (USL); a query timeout cuts it.

    `query_timeout=False` builds one without a statement timeout (no "Query timeout" input
    and no "Killed share" output; "Hold time" is the query time): the numbers of a timeout
    left at 0, without its paths from the query time into the failures.
    """
    m = Model("database", stop=60, dt=0.02, time_units="second",
              doc="query time under concurrency (Universal Scalability Law)")
    c = m.inputs({k: v for k, v in DATABASE.items() if query_timeout or k != "Query timeout"},
                 overrides)
    load = m.aux("DB load", smooth(c["Queries in flight"], c["Response time"],
                                   c["Initial load"]),
                 units="connections", doc="concurrent queries as the database feels them")
    n = load / conversion(m, "Connection unit", "connections", "USL's N is a count: "
                          "N = connections in use / 1 connection")
    usl = m.aux("DB slowdown", 1 + c["Contention"] * maximum(0, n - 1)
                + c["Coherency"] * n * maximum(0, n - 1), units="1",
                doc="Universal Scalability Law: time per query relative to one alone")
    qtime = m.aux("Query time", c["Base query time"] * usl * c["Slowdown factor"], units="s")
    if query_timeout:
        qt = c["Query timeout"]
        m.output(m.aux("Hold time", if_then_else(qt > 0, qtime * (1 - exp(-qt / qtime)),
                                                 qtime), units="s", doc="mean time a "
                       "connection is held (exponential query times cut at the query timeout)"))
        m.output(m.aux("Killed share", if_then_else(qt > 0, exp(-qt / qtime), 0), units="1",
                       doc="queries the query timeout kills"))
    else:
        m.output(m.aux("Hold time", qtime, units="s",
                       doc="mean time a connection is held: the query time"))
    m.output(qtime)
    m.output(load)
    m.output(usl)
    return m


def settled_load(x, sigma, kappa, most):
    """The queries in flight N that x queries in flight at the base time settle at once each
    takes its USL time, N = x (1 + sigma (N - 1) + kappa N (N - 1)): the smaller root (the
    stable one), N = x below one query, and `most` (the connections that feed the database)
    where the root is above it or there is none (past the USL's peak the database cannot
    keep up: the queries pile up to whatever bounds them).

    Written as 2 x (1 - sigma) / (b + sqrt(b^2 - 4 kappa x^2 (1 - sigma))), b = 1 - sigma x +
    kappa x, which has no cancellation and holds at kappa = 0 (N = x (1 - sigma) / b).

    >>> from sdmodels import Model, run
    >>> m = Model("usl", stop=1, dt=1)
    >>> n = m.aux("N", settled_load(m.constant("x", 4.5), 0.02, 0.0005, 50))
    >>> round(float(run(m)["N"].iloc[0]), 4)      # 4.5 x (1 + 0.02 x 3.893 + 0.0005 x 4.893 x 3.893)
    4.8933
    """
    b = 1 - sigma * x + kappa * x
    disc = b * b - 4 * kappa * x * x * (1 - sigma)
    root = 2 * x * (1 - sigma) / maximum(b + sqrt(maximum(0, disc)), 1e-12)
    settled = if_then_else(b > 0, if_then_else(disc >= 0, minimum(root, most), most), most)
    return if_then_else(x > 1, settled, x)


PARTS = [database]
