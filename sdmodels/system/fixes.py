"""Fixes for dangerous loops, as changes to the description, and what each one breaks.

A `Fix` is a list of `Change`s (a field of a component or of a call, before and after, in
the description's own units) that `apply` makes to a `SystemSpec`. The fixes are the
reference's (Part 3 "Breaking the loop", Part 4, the Hands-On's five): exponential backoff
with jitter, a retry budget, a circuit breaker, HPA stabilization windows, a pool
connectionTimeout, a jittered TTL. `evaluate` composes the fixed description and runs it
under the stress scenarios in which the loops it targets ran away.

>>> Change(("calls", 0, "retry", "waitDuration"), "1s", "2s").line()
'calls[0].retry.waitDuration: 1s -> 2s'
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, replace
from types import MappingProxyType


@dataclass(frozen=True)
class Change:
    """One field of the description set to a new value (`value` in seconds/plain numbers)."""
    path: tuple                     # ("calls", i, "retry", field) or ("components", name, ...)
    before: str
    after: str
    value: object = None

    @property
    def where(self) -> str:
        head = f"{self.path[0]}[{self.path[1]}]" if self.path[0] == "calls" else \
            f"{self.path[0]}.{self.path[1]}"
        return ".".join([head, *map(str, self.path[2:])])

    def line(self) -> str:
        return f"{self.where}: {self.before} -> {self.after}"


@dataclass(frozen=True)
class Fix:
    """A named fix: its changes, the loops (match keys) it is meant to break, and why."""
    name: str
    changes: tuple[Change, ...]
    targets: tuple[str, ...]
    why: str
    horizon: float | None = None            # run this long (a TTL beyond the stress runs)
    trigger: tuple[float, float] | None = None   # when the loop is set off, if not the stress
    scenario: str | None = None             # the one scenario that shows it (with horizon)
    open_caller: str | None = None          # an open traffic component whose retries it
    #                                         changes (sdmodels.system.workload: its closed twin)

    def diff(self) -> str:
        """The fix as a diff of the description (- before / + after per field)."""
        out = []
        for c in self.changes:
            out += [f"- {c.where}: {c.before}", f"+ {c.where}: {c.after}"]
        return "\n".join(out)


def apply(spec, fix: Fix):
    """The description with the fix's changes made (a new SystemSpec)."""
    components = {n: dict(c.config) for n, c in spec.components.items()}
    calls = [dict(c.config) for c in spec.calls]
    for change in fix.changes:
        root = calls[change.path[1]] if change.path[0] == "calls" else \
            components[change.path[1]]
        *inner, last = change.path[2:]
        for key in inner:
            if root.get(key) is None:
                root[key] = {}
            root[key] = copy.deepcopy(dict(root[key]))
            root = root[key]
        root[last] = change.value
    return replace(spec, components=MappingProxyType({
        n: replace(c, config=MappingProxyType(components[n]))
        for n, c in spec.components.items()}), calls=tuple(
        replace(c, config=MappingProxyType(calls[i])) for i, c in enumerate(spec.calls)))


def _s(seconds: float) -> str:
    return f"{seconds:g}s"


def _call_index(spec, source, target=None) -> int | None:
    for i, c in enumerate(spec.calls):
        if c.source == source and (target is None or c.target == target):
            return i
    return None


def _retry_fixes(spec, i: int, key: str) -> list[Fix]:
    r, call = spec.calls[i].config["retry"], spec.calls[i]
    where = ("calls", i, "retry")
    out = []
    if not (r["enableExponentialBackoff"] and r["enableRandomizedWait"]):
        fixed = dict(r, enableExponentialBackoff=True, enableRandomizedWait=True)
        out.append(Fix("exponential backoff with jitter", (
            Change(where + ("enableExponentialBackoff",), str(r["enableExponentialBackoff"])
                   .lower(), "true", True),
            Change(where + ("enableRandomizedWait",), str(r["enableRandomizedWait"]).lower(),
                   "true", True),
            ), (key,),
            f"the retries of {call.source} wait 1x, 2x, 4x the base, spread at random: the "
            "retries of a burst no longer arrive together (the fixed wait's synchronization "
            "is gone) and a short spike is spread out. " + _backoff_cuts(spec, i, r, fixed),
            open_caller=_open_traffic(spec, call.source)))
    if r["retryBudget"] is None:
        out.append(Fix("retry budget", (Change(where + ("retryBudget",), "none",
                                               "{percentCanRetry: 10%}", {
                                                   "percentCanRetry": 0.1,
                                                   "minRetriesPerSec": 10.0}),), (key,),
                       "retries may add at most 10 % to the requests (Finagle RetryBudget): "
                       "the amplification is capped at 1.1x instead of maxAttempts x"))
    if call.config["circuitBreaker"] is None:
        out.append(_breaker(spec, i, key))
    return out


def _open_traffic(spec, name: str) -> str | None:
    """`name` if it is a traffic component with a rate (an open workload), else None."""
    c = spec.components[name]
    return name if c.kind == "traffic" and c.config["population"] is None else None


def _backoff_cuts(spec, i: int, before, after) -> str:
    """Whether backoff cuts the attempts of call `i`'s caller: not from an open workload
    (requests arrive whatever happens to the earlier ones), yes from a closed one (a client
    is blocked through its timeouts and sleeps), by how much when every attempt fails."""
    caller = spec.components[spec.calls[i].source]
    if caller.kind != "traffic" or caller.config["population"] is None:
        workload = (f"{caller.name} is an open workload (rate: {caller.config['rate']:g}/s)"
                    if caller.kind == "traffic" else f"{caller.name}'s requests arrive "
                    "from its callers whatever happens to them (an open workload)")
        return (f"But {workload}: under a sustained overload every request is still tried "
                "maxAttempts times, only later, so the retries are as many (M. Brooker, "
                "'What is Backoff For?', 2022; Schroeder, Wierman, Harchol-Balter, 'Open "
                "versus closed', 2006): the retry budget or a breaker cuts them")
    from library.compose.calls import retry_jitter
    from library.parts.retry import GENERATIONS, mean_waits
    timeout, think = spec.calls[i].config["timeout"], caller.config["thinkTime"] or 0.0
    retries = int(min(GENERATIONS - 1, before["maxAttempts"] - 1))

    def cycle(r) -> float:
        return (retries + 1) * timeout + think + sum(mean_waits(
            retries, r["waitDuration"], r["exponentialMaxWaitDuration"],
            exponential=r["enableExponentialBackoff"], jitter=retry_jitter(r),
            multiplier=r["exponentialBackoffMultiplier"]))
    old, new = cycle(before), cycle(after)
    return (f"And {caller.name} is a closed workload (population "
            f"{caller.config['population']:g}, thinkTime {think:g}s): a client is blocked "
            "through its timeouts and backoff sleeps, so when every attempt fails each one "
            f"sends {retries + 1} attempts per {old:.3g} s before, per {new:.3g} s after "
            f"({retries + 1} x {timeout:g} s timeouts + the mean waits + the think time): "
            f"{1 - old / new:.0%} fewer attempts (Brooker 2022: backoff cuts the load of a "
            "closed system). When only some attempts fail (a rate limiter's 429s), fewer "
            "clients are blocked and the cut is smaller")


FLUSH_AT = 60.0      # library.compose.scenarios: stresses start one minute in
#: the reference's fix 3 (failure_threshold 5, timeout 30s, half_open_requests 3) in
#: resilience4j's fields; slow calls at resilience4j's defaults (100 %, 60 s) unless the
#: callee's latency can tell them (`_slow_calls`)
BREAKER = {"failureRateThreshold": 50.0, "slidingWindowSize": 20.0, "minimumNumberOfCalls": 5.0,
           "waitDurationInOpenState": 30.0, "permittedNumberOfCallsInHalfOpenState": 3.0,
           "slowCallRateThreshold": 100.0, "slowCallDurationThreshold": 60.0}
#: the reference's fix 5, "Connection pool with timeout" (max_connections 50: the pool the
#: exercise already has), in HikariCP's fields
POOL_FIX = {"connectionTimeout": 5.0, "idleTimeout": 60.0}
SLOW_RATE = 50.0     # % of slow calls that opens it: the same bar as its failure rate


def _slow_calls(spec, i: int) -> dict:
    """Slow-call settings for a breaker on call `i`: on a call to a database (whose pool
    gives a response-time distribution), calls slower than the shortest timeout of the
    retrying callers count as slow (an answer later than that comes after the client gave
    up and retried: it holds a connection for nothing), and half of them slow opens it;
    elsewhere resilience4j's defaults."""
    call = spec.calls[i]
    if spec.components[call.target].kind != "database":
        return {}
    patience = min([c.config["timeout"] for c in spec.calls if c.config["retry"] is not None]
                   + [call.config["timeout"]])
    return {"slowCallRateThreshold": SLOW_RATE, "slowCallDurationThreshold": patience}


def _breaker(spec, i: int, key: str) -> Fix:
    call = spec.calls[i]
    slow = _slow_calls(spec, i)
    text = "{failureRateThreshold: 50, minimumNumberOfCalls: 5, waitDurationInOpenState: " \
        "30s, permittedNumberOfCallsInHalfOpenState: 3" + (
            f", slowCallRateThreshold: {SLOW_RATE:g}, slowCallDurationThreshold: "
            f"{_s(slow['slowCallDurationThreshold'])}" if slow else "") + "}"
    why = (f"when half of the calls to {call.target} fail, {call.source} stops calling for "
           "30 s and then tries 3 calls: the failing dependency gets time to recover")
    if slow:
        why += (f"; and when half of them are slower than "
                f"{_s(slow['slowCallDurationThreshold'])} (the shortest timeout of the retrying "
                "callers: a later answer comes after the client gave up), measured on the "
                "pool's response-time tail. A database behind a full pool answers its queries "
                "late long before it fails them (a caller waits for a connection up to its "
                "timeout, or forever), so a failure rate alone opens it late or never (the "
                "reference's Black Friday Meltdown: 'the circuit breaker finally trips, but "
                "it's too late'); slow calls open it before the pool fills")
    if spec.components[call.source].kind == "cache":
        why += (f"; behind a cache ({call.source}) and without a fallback (serving stale "
                "entries), every miss fails while it is open and the cache cannot refill")
    return Fix(f"circuit breaker on {call.source} -> {call.target}", (Change(
        ("calls", i, "circuitBreaker"), "none", text, dict(BREAKER, **slow)),), (key,), why)


def fixes_for(match, spec) -> list[Fix]:
    """The fixes that break one recognised loop."""
    s, key = match.subject, match.key
    if match.pattern == "retry storm":
        return _retry_fixes(spec, s["call"], key)
    if match.pattern == "rate-limit retry amplification":
        return _retry_fixes(spec, _call_index(spec, s["caller"]), key)[:2]
    if match.pattern == "connection pool exhaustion":
        name, pool = s["database"], spec.components[s["database"]].config["pool"]
        out = []
        where = ("components", name, "pool")
        changes = tuple(Change(where + (field,), _pool_setting(field, pool[field]), _s(value),
                               value) for field, value in POOL_FIX.items()
                        if (pool[field] or float("inf")) > value)
        if changes:
            out.append(Fix("connection pool with timeout", changes, (key,),
                           _pool_timeout_why(spec, name, pool)))
        into = [i for i, c in enumerate(spec.calls) if c.target == name
                and c.config["circuitBreaker"] is None]
        out += [_breaker(spec, i, key) for i in into[:1]]
        return out
    if match.pattern == "HPA scaling":
        name = s["service"]
        b = spec.components[name].config["hpa"]["behavior"]
        where = ("components", name, "hpa", "behavior")
        changes = []
        if b["scaleDown"]["stabilizationWindowSeconds"] < 300:
            changes.append(Change(where + ("scaleDown", "stabilizationWindowSeconds"),
                                  f"{b['scaleDown']['stabilizationWindowSeconds']:g}", "300",
                                  300.0))
        if b["scaleUp"]["stabilizationWindowSeconds"] < 60:
            changes.append(Change(where + ("scaleUp", "stabilizationWindowSeconds"),
                                  f"{b['scaleUp']['stabilizationWindowSeconds']:g}", "60", 60.0))
        if b["scaleDown"]["policies"] is None:
            changes.append(Change(where + ("scaleDown", "policies"), "none (100 % per 15 s)",
                                  "[{type: Percent, value: 10, periodSeconds: 60}]", [
                                      {"type": "Percent", "value": 10.0,
                                       "periodSeconds": 60.0}]))
        return [Fix("HPA stabilization windows", tuple(changes), (key,),
                    "scale up only to the lowest recommendation of the last minute, down to "
                    "the highest of the last 5 minutes and by at most 10 % a minute: no "
                    "reaction to every swing (reference fix 4 and Part 4 Principle 1)")] \
            if changes else []
    if match.pattern == "cache stampede":
        name = s["cache"]
        ttl = spec.components[name].config["ttl"]
        return [Fix("jittered TTL", (Change(("components", name, "ttlJitter"), "0s",
                                            _s(ttl / 6), ttl / 6),), (key,),
                    f"keys expire over {ttl / 3:g} s instead of all at once (reference fix 1: "
                    "3600 +/- 600 s); shown by a flush (every key refilled at once) and a run "
                    "past the keys' next expiry, one TTL later (read from a minute before "
                    "the first key can expire)",
                    horizon=FLUSH_AT + ttl + ttl / 3, scenario="cache flush",
                    trigger=(FLUSH_AT + ttl - ttl / 6, FLUSH_AT + ttl + ttl / 6))]
    return []


def _pool_setting(field: str, seconds: float) -> str:
    """A pool timeout as the description writes it; 0 is 'wait forever' (node-postgres
    pg.Pool connectionTimeoutMillis 0) or 'never' (HikariCP idleTimeout 0)."""
    return _s(seconds) if seconds else "0s (wait forever)" if field == "connectionTimeout" \
        else "0s (never)"


def _pool_timeout_why(spec, name, pool) -> str:
    """Why a 5 s connectionTimeout helps, and when it can: the numbers of the description.

    It bounds the wait for a connection (HikariCP connectionTimeout), not how long one is
    held (a statement timeout or Tomcat jdbc-pool's removeAbandoned does that). It breaks
    the pool loop where the waiting callers would otherwise pile up and it is below the
    time they wait for the database: then the queue levels at arrivals x 5 s and what the
    pool serves is answered in time (tests/test_system_pool_timeout.py)."""
    import networkx as nx
    from library.compose.calls import calling_services
    from library.parts.pool import POOL
    graph = nx.DiGraph((c.source, c.target) for c in spec.calls)
    graph.add_nodes_from(spec.components)
    callers = calling_services(graph, {n: c.kind for n, c in spec.components.items()}, name)
    patience = min([c.config["timeout"] for c in spec.calls if c.target == name] or [15.0])
    bound = POOL_FIX["connectionTimeout"]
    text = (f"a request waits at most {bound:g} s for a connection and then fails instead of "
            "queueing behind the pool (reference fix 5; HikariCP connectionTimeout bounds the "
            "wait for a connection, not how long one is held: a statement timeout does that). ")
    unbound = [c for c in callers if spec.components[c].config["concurrency"] == "async"]
    if unbound:
        text += (f"No thread bounds the callers waiting for {name}: {', '.join(unbound)} wait "
                 "without a thread (async). Whenever more queries arrive than the pool hands "
                 "out the queue grows, without end if nothing bounds the wait (0, pg.Pool's "
                 f"default); once its head waits {patience:g} s (the timeout of the calls into "
                 f"{name}) every answer comes after its caller left, and the queue outlasts "
                 "the stress. ")
        text += (f"With {bound:g} s it levels at arrivals x {bound:g} s, drains within "
                 f"seconds of the stress, and what is served waited under {patience:g} s: "
                 "answered in time" if bound < patience else
                 f"At {bound:g} s, not below the {patience:g} s its callers wait, it bounds the "
                 "queue but every answer is still late")
    else:
        threads = sum(spec.components[c].config["replicas"] * spec.components[c].config[
            "workersPerPod"] for c in callers) or POOL["Max waiting"][0]
        hold = pool["maximumPoolSize"] * bound / threads
        text += (f"It fires only when the head of the queue would wait longer: with "
                 f"{threads:g} threads waiting (the request threads of "
                 f"{', '.join(callers) or 'its callers, Tomcat maxThreads'} as described) for "
                 f"{pool['maximumPoolSize']:g} connections, when a query holds its connection "
                 f"longer than {pool['maximumPoolSize']:g} x {bound:g} s / {threads:g} = "
                 f"{hold:.3g} s (fewer than {threads / bound:g} connections a second); it cuts "
                 f"the waiting callers only when fewer than {threads / bound:g} queries a second "
                 "arrive. The request threads are the bound on the queue, a bulkhead: it "
                 f"breaks the loop where nothing bounds the waiting (an async caller of {name}) "
                 f"and it is below the {patience:g} s the callers wait for {name}")
        waits = [c.config["timeout"] for c in spec.calls if c.config["retry"] is not None]
        if waits and min(waits) < bound:
            text += (f"; and the retrying callers give up after {min(waits):g} s, so any wait "
                     "longer than that is wasted for them, with or without it")
    return text + (". idleTimeout 60 s closes connections idle for a minute, only above "
                   "minimumIdle (HikariCP: it defaults to maximumPoolSize, a fixed pool), "
                   "and a saturated pool has none idle: it changes nothing under the stress. "
                   "A bound on the wait does not cut the queries that fill the pool; less "
                   "load into it does (a breaker that opens on slow calls)")


def merged(fix_lists) -> list[Fix]:
    """One fix per distinct change set, with the union of the loops it targets."""
    out: dict[tuple, Fix] = {}
    for fixes in fix_lists:
        for f in fixes:
            key = tuple((c.path, c.after) for c in f.changes)
            old = out.get(key)
            out[key] = f if old is None else replace(old, targets=tuple(
                dict.fromkeys(old.targets + f.targets)))
    return list(out.values())
