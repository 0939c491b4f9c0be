"""Little's law on the thread-per-request services of a composed system: a notice where the
threads could not hold the calls below.

A thread-per-request server (Tomcat, Spring MVC) keeps a request's thread from the moment a
worker takes it until the answer goes back: through its own service and through every
synchronous call below it. So at throughput X with service time s and time D in its calls
below, X (s + D) threads are held (Little's law), and the server is saturated when that
reaches its threads, whatever its CPU does (M. Nygard, *Release It!*, 2nd ed., 2018,
"Blocked Threads").

The composed service part holds a thread only while its request waits for a database
connection (`library.compose.calls`); a call to another service, and the query itself, take
none: there it serves like an async server whose workers are its CPU. Where X (s + D) at
the baseline already exceeds the threads, the two readings part before any stress, and
`analyze` says so rather than let the run stand for a thread-per-request server.

>>> needed(throughput=300.0, latency=0.074, backlog=0.0)
22.2
"""
from __future__ import annotations


def needed(*, throughput: float, latency: float, backlog: float) -> float:
    """Threads held at `throughput` (req/s) when a request's `latency` (s) includes its
    queue wait (`backlog` / `throughput`), which holds no thread: X (latency - wait)."""
    return round(throughput * latency - backlog, 6)


def columns(spec, composition) -> dict[str, tuple[str, str, str, str]]:
    """For each thread-per-request service with calls below: the variables `notices` reads
    (throughput, latency, backlog, request threads), to add to a baseline run's outputs."""
    return {n: (node.roles["throughput"], node.roles["latency"], node.roles["backlog"],
                node.threads.name)
            for n, node in composition.nodes.items()
            if n in spec.components and spec.components[n].kind == "service"
            and spec.components[n].config["concurrency"] == "threadPerRequest"
            and any(call.source == n for call in spec.calls)}


def notices(spec, composition, baseline=None) -> list[str]:
    """One sentence per thread-per-request service with calls below whose baseline holds
    more threads (by Little's law) than it has. `baseline`: a baseline run holding the
    `columns` (name -> series), else one is run here."""
    wanted = columns(spec, composition)
    if not wanted:
        return []
    if baseline is None:
        from sdmodels.ir import build
        from sdmodels.simulate import simulate
        ids = list(dict.fromkeys(v for cols in wanted.values() for v in cols))
        run, ir = simulate(composition.model, engine="interpreter", outputs=ids), \
            build(composition.model)
        baseline = {v: run[ir.display(v)][0] for v in ids}
    last = {v: float(baseline[v][-1]) for cols in wanted.values() for v in cols}
    out = []
    for n, (x, latency, backlog, threads) in wanted.items():
        at = {k: last[k] for k in (x, latency, backlog, threads)}
        held = needed(throughput=at[x], latency=at[latency], backlog=at[backlog])
        if held > at[threads] * (1 + 1e-6):
            per_pod = spec.components[n].config["workersPerPod"]
            out.append(
                f"{n} is thread-per-request with {at[threads]:g} request threads, but at the "
                f"baseline {at[x]:.4g} req/s x {held / at[x] * 1000:.3g} ms (its service and "
                f"its calls below) hold {held:.3g} (Little's law). The model holds a thread "
                "only while a request waits for a database connection, not through a call "
                f"to another service or a query: these runs show {n} as an async server "
                f"with {per_pod:g} workers a pod. A thread-per-request {n} with "
                f"{per_pod:g} threads a pod would be saturated before any stress; write "
                "concurrency: async if that is what it is")
    return out
