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


def notices(spec, composition) -> list[str]:
    """One sentence per thread-per-request service with calls below whose baseline holds
    more threads (by Little's law) than it has."""
    from sdmodels.simulate import simulate
    names = [n for n, c in spec.components.items() if c.kind == "service"
             and c.config["concurrency"] == "threadPerRequest"
             and any(call.source == n for call in spec.calls)]
    if not names:
        return []
    nodes = {n: composition.nodes[n] for n in names}
    columns = {n: (node.roles["throughput"], node.roles["latency"], node.roles["backlog"],
                   node.threads.name) for n, node in nodes.items()}
    wanted = list(dict.fromkeys(v for cols in columns.values() for v in cols))
    end = simulate(composition.model, engine="interpreter", outputs=wanted).to_pandas()
    last = dict(zip(wanted, end.iloc[-1].to_numpy(dtype=float)))   # columns in that order
    out = []
    for n, (x, latency, backlog, threads) in columns.items():
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
