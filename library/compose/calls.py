"""The calls of a system description, wired: requests down, latency and failures back up.

Components are wired callees first (the reverse of a topological order of the call graph),
so that when a caller is wired, what its callees show it (latency, failure fraction) is
final. A call with `retry` gets a retry client (library/parts/retry.py), with its token
bucket only when the call has a `retryBudget` (a bucket that is off adds loops, not
behaviour: service_chain has 4,008 loops without, 56,853 with), one with
`circuitBreaker` a breaker (library/parts/breaker.py) between the retries and the callee.
A callee's arrivals are the sum over its callers, its timeout the shortest of theirs.
A request waiting for a database connection holds a request thread of the service that sent
it (thread-per-request servers block in getConnection()): the service serves with its
threads less its share of the pool's waiting requests, and the pool's waiting requests are
at most its callers' threads (`_block_threads`); an `async` service (an event loop,
goroutines) waits without a thread: it blocks none and leaves the pool's waiting unbounded.
"""
from __future__ import annotations



import networkx as nx

from sdmodels import maximum, minimum
from sdmodels.errors import ModelError
from sdmodels.expr import Const, Expr

from library.compose.kinds import Node, _module, setting
from library.parts._wiring import conversion
from library.parts.breaker import circuit_breaker
from library.parts.retry import GENERATIONS, retry_client

ASYNC = 1e6     # the timeout of work taken from a queue: nobody waits for it
UNBOUNDED = 1e12    # queries: the waiting of a pool whose callers hold no thread to wait


def wire_calls(m, spec, nodes: dict[str, Node]) -> None:
    """Connect every call of `spec` between the modules of `nodes` (see the module doc)."""
    graph = nx.DiGraph()
    graph.add_nodes_from(nodes)
    graph.add_edges_from((c.source, c.target) for c in spec.calls)
    try:
        order = list(reversed(list(nx.topological_sort(graph))))
    except nx.NetworkXUnfeasible:
        cycle = " -> ".join(u for u, _ in nx.find_cycle(graph))
        raise ModelError(f"system '{spec.name}': the calls form a cycle ({cycle}); sdmodels "
                         "composes calls that flow one way (a tree or a DAG)") from None
    arriving: dict[str, list[Expr]] = {name: [] for name in nodes}
    timeouts: dict[str, list] = {name: [] for name in nodes}
    for name in order:
        caller = nodes[name]
        seen = []
        for call in (c for c in spec.calls if c.source == name):
            callee = nodes[call.target]
            if callee.inbound is None:
                raise ModelError(f"system '{spec.name}': {call.target} ({callee.kind}) "
                                 f"takes no requests, so '{name} -> {call.target}' cannot be wired")
            if caller.outbound is None:
                raise ModelError(f"system '{spec.name}': {name} ({caller.kind}) sends no "
                                 f"requests on, so '{name} -> {call.target}' cannot be wired")
            timeout = setting(m, f"{name} to {call.target}", "timeout", call.config["timeout"], "s")
            sent, latency, failure, ends = _call(m, caller, callee, call, timeout)
            if caller.takes_answers is not None:
                if seen:
                    raise ModelError(f"system '{spec.name}': {name} is a closed workload "
                                     "(population), whose clients wait for one call; it "
                                     f"calls {call.target} too. Give it one call")
                caller.takes_answers(*ends, latency, timeout)
            arriving[call.target].append(sent)
            timeouts[call.target].append(Const(ASYNC) if caller.kind == "queue" else timeout)
            seen.append((latency, failure))
        _downstream(m, caller, seen)
        if caller.pods_in:
            _gate(caller, nodes, graph)
    _block_threads(m, nodes, graph)
    for name, node in nodes.items():
        if arriving[name]:
            node.inbound.connect(_sum(arriving[name]))
        if node.timeout is not None and timeouts[name]:
            node.timeout.connect(_shortest(timeouts[name]))
        if node.queue_limit is not None:
            port, default = node.queue_limit
            fed_by = [nodes[c.source].max_length for c in spec.calls if c.target == name]
            port.connect(max(fed_by) if fed_by and None not in fed_by else default)


def _call(m, caller: Node, callee: Node, call, timeout):
    """(requests reaching the callee, latency and failure the caller sees, and the
    caller's requests ending (succeeded, failed for good) as their attempts are sent)."""
    cfg, label = call.config, f"to {call.target}"
    demand = caller.outbound
    failure = callee.failure
    sent = demand
    breaker = None
    if cfg["circuitBreaker"] is not None:
        b = cfg["circuitBreaker"]
        breaker = _module(m, caller, f"{label} breaker", circuit_breaker(**_slow_settings(
            callee, call), **{
            "Failure rate threshold": b["failureRateThreshold"] / 100,
            "Sliding window size": b["slidingWindowSize"],
            "Minimum number of calls": b["minimumNumberOfCalls"],
            "Wait duration in open state": b["waitDurationInOpenState"],
            "Permitted calls in half-open state": b["permittedNumberOfCallsInHalfOpenState"]}))
        breaker.connect("Failure fraction", callee.failure)
        if callee.slower_than is not None:
            breaker.connect("Slow call fraction", m.aux(
                f"{caller.name} to {call.target} slow call share",
                callee.slower_than(breaker["Slow call duration threshold"]), units="1",
                doc=f"share of calls to {call.target} slower than the breaker's "
                "slowCallDurationThreshold, from its response-time distribution"))
        caller.roles[f"breaker to {call.target}"] = breaker.out["Admission fraction"].name
    if cfg["retry"] is not None:
        r = cfg["retry"]
        # the token bucket only where the call has a retryBudget: without one it is off,
        # and its paths would multiply the loops of the whole model (issue 14)
        budget = {} if r["retryBudget"] is None else {
            "Retry budget on": 1.0, "Retry budget ratio": r["retryBudget"]["percentCanRetry"]}
        client = _module(m, caller, f"{label} retries", retry_client(
            budget=bool(budget), **{
                "Failure delay": cfg["timeout"],
                "Max retries": min(GENERATIONS - 1, r["maxAttempts"] - 1),
                "Backoff base": r["waitDuration"],
                "Exponential backoff": float(r["enableExponentialBackoff"]),
                "Backoff multiplier": r["exponentialBackoffMultiplier"],
                "Max backoff": r["exponentialMaxWaitDuration"],
                "Jitter": retry_jitter(r), "Jitter factor": r["randomizedWaitFactor"]}, **budget))
        client.connect("Demand", demand)
        sent = client.out["Attempts"]
        caller.roles[f"retries to {call.target}"] = client.out["Retry rate"].name
        if breaker is not None:
            client.connect("Shed fraction", 1 - breaker.out["Admission fraction"])
        client.connect("Failure fraction", callee.failure)
        failure = client.out["Given up"] / maximum(demand, 1e-9)
        ends = client.out["Successes"], client.out["Given up"]
    if breaker is not None:
        breaker.connect("Calls", sent)
        sent = breaker.out["Permitted calls"]
        if cfg["retry"] is None:
            failure = 1 - (1 - callee.failure) * breaker.out["Admission fraction"]
    if cfg["retry"] is None:
        ends = demand * (1 - minimum(1, failure)), demand * minimum(1, failure)
    return sent, minimum(callee.latency, timeout), minimum(1, failure), ends


def _slow_settings(callee: Node, call) -> dict:
    """The breaker's slow-call inputs, for a callee whose latency model gives a response-time
    distribution (a database's pool: its tail at the slowCallDurationThreshold). The fluid
    parts of the other kinds give a mean latency only and cannot say which calls are slow:
    a slow-call rate threshold below 100 % on a call to them is an error, not a guess (at
    100 % the breaker counts failures alone, as before)."""
    b = call.config["circuitBreaker"]
    if callee.slower_than is not None:
        return {"slow_calls": True, "Slow call rate threshold": b["slowCallRateThreshold"] / 100,
                "Slow call duration threshold": b["slowCallDurationThreshold"]}
    if b["slowCallRateThreshold"] < 100:
        raise ModelError(
            f"call '{call.source} -> {call.target}': circuitBreaker.slowCallRateThreshold "
            f"needs the response-time distribution of {call.target}, and a {callee.kind} "
            "gives only its mean latency; put the breaker on a call to a database (its "
            "pool's M/M/c tail), or leave slowCallRateThreshold at 100")
    return {}


def retry_jitter(retry) -> float:
    """resilience4j randomized wait -> the retry client's jitter: 0 none, 3 its own
    (uniform on wait x (1 +/- randomizedWaitFactor), IntervalFunction.ofRandomized)."""
    return 3.0 if retry["enableRandomizedWait"] else 0.0


def _downstream(m, node: Node, seen) -> None:
    """Give `node` its callees' latency (summed) and failures (compounded)."""
    latency = _sum([lat for lat, _ in seen]) if seen else Const(0.0)
    failure = Const(0.0)
    for _, f in seen:
        failure = 1 - (1 - failure) * (1 - f)
    if node.takes_downstream is not None:
        node.takes_downstream(latency, failure)
        return
    if node.downstream_latency is not None:
        node.downstream_latency.connect(latency)
        node.downstream_failure.connect(failure)
        return
    own = node.own_failure if node.own_failure is not None else (
        node.failure if node.failure is not None else Const(0.0))   # a leaf's own (database)
    if node.latency is not None:
        latency = node.latency + latency if seen else node.latency
    node.latency = m.aux(f"{node.name} latency", latency, units="s",
                         doc=f"response time callers of {node.name} see (its callees')")
    node.failure = m.aux(f"{node.name} failure fraction", 1 - (1 - own) * (1 - failure),
                         units="1", doc=f"share of requests through {node.name} that fail")


#: kinds a caller's thread waits through (a cache miss waits for its fill; a queue does not)
SYNCHRONOUS = frozenset({"cache", "cdn", "load_balancer", "rate_limiter"})


def calling_services(graph, kinds, name: str) -> list[str]:
    """The services whose request threads wait for `name`'s answer: its callers, and
    their callers through synchronous pass-throughs (a cache in between), not past a queue.
    `graph` is the call graph, `kinds` maps a component to its kind."""
    found, todo, seen = [], list(graph.predecessors(name)), {name}
    while todo:
        caller = todo.pop(0)
        if caller in seen:
            continue
        seen.add(caller)
        if kinds[caller] == "service":
            found.append(caller)
        elif kinds[caller] in SYNCHRONOUS:
            todo += graph.predecessors(caller)
    return sorted(found)


def _block_threads(m, nodes, graph) -> None:
    """Each service's free workers: its request threads less those blocked waiting for a
    connection of a pool it calls (reference Part 3.3, "each waiting request holds a
    request thread"), the pool's waiting requests shared among its calling services in
    proportion to their threads; and each pool's Max waiting: its callers' threads. An
    `async` caller (an event loop, goroutines) blocks no thread while it waits, so nothing
    bounds the waiting of a pool it calls (node-postgres queues every pool.connect())."""
    blocked: dict[str, list[Expr]] = {name: [] for name in nodes}
    kinds = {name: node.kind for name, node in nodes.items()}
    per_query = None
    for name, node in nodes.items():
        callers = calling_services(graph, kinds, name) if node.waiting is not None else []
        if not callers:
            continue
        if per_query is None:
            per_query = conversion(m, "Threads per waiting query", "1/queries", "a request "
                                   "waiting for a connection blocks one request thread")
        threads = _sum([nodes[c].threads for c in callers])
        if all(nodes[c].blocking for c in callers):
            node.max_waiting.connect(m.aux(
                f"{name} callers' threads", threads / per_query, units="queries",
                doc=f"request threads of the services calling {name}: the most that can "
                "wait for a connection"))
        else:
            node.max_waiting.connect(m.constant(
                f"{name} waiting bound", UNBOUNDED, units="queries", doc=f"async callers of "
                f"{name} wait without a thread: nothing bounds the queue but its timeout"))
        for c in (c for c in callers if nodes[c].blocking):
            blocked[c].append(node.waiting * per_query * nodes[c].threads / maximum(threads, 1e-9))
    for name, node in nodes.items():
        if node.workers is None:
            continue
        free = node.threads
        if blocked[name]:
            free = m.aux(f"{name} free threads", maximum(0, node.threads - _sum(blocked[name])),
                         units="1", doc=f"request threads of {name} not blocked waiting for a "
                         "database connection: the workers that serve new requests")
        node.workers.connect(free)


def _gate(balancer: Node, nodes, graph) -> None:
    """A load balancer routes to the ready pods of the first service behind it."""
    for target in nx.bfs_tree(graph, balancer.name):
        if nodes[target].pods is not None:
            for port in balancer.pods_in:
                port.connect(nodes[target].pods)
            return


def _shortest(timeouts: list) -> Expr:
    shortest = timeouts[0]
    for t in timeouts[1:]:
        shortest = minimum(shortest, t)
    return shortest


def _sum(exprs: list[Expr]) -> Expr:
    total = exprs[0]
    for e in exprs[1:]:
        total = total + e
    return total



