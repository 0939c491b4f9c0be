"""Loop recognition: the feedback patterns of the reference, found by the roles of components.

A composed system (`library.compose.compose`) says which element of which component plays
which role ("retries to db", "latency", "hpa replicas", "connections", ...). Each pattern
is a class that looks for components of the right kinds and roles and asks the causal graph
for the shortest cycle through their role elements (`cycle_through`): a retry storm is a
cycle through a caller's retries and the latency of the first loaded component behind the
call; an HPA loop a cycle through a service's desired replicas and the metric it scales on.
Given the link polarities, "shortest" counts a link the analysis cannot sign as `UNSIGNED`
links: where two routes join the same elements (arrivals reach a queue's timeouts directly,
a partial effect of either sign, and through the backlog, which is signed), the loop named
is the one whose type can be read. Names never come from display strings, so renamed
components are still recognised.

>>> [p.name for p in PATTERNS][:3]
['retry storm', 'connection pool exhaustion', 'cache stampede']
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:                    # networkx loads when a pattern is looked for
    import networkx as nx

LOADED = ("service", "database")        # kinds whose latency rises with their load
LOAD_ROLES = ("timeouts", "backlog", "connections", "waiting", "latency")
UNSIGNED = 1000         # the length of a link of unknown or mixed polarity, for routing


@dataclass(frozen=True)
class Match:
    """One recognised loop: the pattern, the components it crosses, its cycle of element ids."""
    pattern: str
    key: str                                  # unique: "retry storm: gateway -> orders"
    expected: str                             # 'R' or 'B', the reference's type
    cycle: tuple[str, ...]                    # element ids in loop order
    anchors: tuple[tuple[str, str, str], ...]  # (component, role, element id)
    components: tuple[str, ...]               # components the cycle crosses, in order
    subject: dict = field(default_factory=dict, hash=False, compare=False)

    @property
    def edges(self) -> list[tuple[str, str]]:
        v = self.cycle
        return list(zip(v, v[1:] + v[:1]))


def cycle_through(graph: nx.DiGraph, anchors, *, within=None, polarities=None
                  ) -> tuple[str, ...] | None:
    """The shortest simple cycle through every anchor in order (shortest paths chained, each
    avoiding the nodes already used), or None; `within` restricts it to those nodes; with
    `polarities`, a link of no single sign counts as `UNSIGNED` links.

    >>> import networkx as nx
    >>> g = nx.DiGraph([("a", "b"), ("b", "a"), ("a", "c"), ("c", "d"), ("d", "b")])
    >>> cycle_through(g, ["a", "b"])
    ('a', 'b')
    >>> from types import SimpleNamespace as Sign
    >>> signs = {e: Sign(polarity="+") for e in g.edges} | {("a", "b"): Sign(polarity="mixed")}
    >>> cycle_through(g, ["a", "b"], polarities=signs)
    ('a', 'c', 'd', 'b')
    """
    import networkx as nx
    g = graph.subgraph(within) if within is not None else graph
    weight = None
    if polarities is not None:
        def weight(u, v, _data):
            link = polarities.get((u, v))
            return 1 if link is not None and link.polarity in ("+", "-") else UNSIGNED
    if any(a not in g for a in anchors):
        return None
    if len(anchors) == 1:
        a = anchors[0]
        best = None
        for succ in g.successors(a):
            try:
                path = nx.shortest_path(g, succ, a, weight=weight)
            except nx.NetworkXNoPath:
                continue
            if best is None or _length(path, a, weight) < _length(best, a, weight):
                best = path
        return None if best is None else tuple([a] + best[:-1])
    used: list[str] = [anchors[0]]
    for a, b in zip(anchors, anchors[1:] + anchors[:1]):
        closing = b == anchors[0]
        blocked = set(used) - {a, b}
        sub = g.subgraph(n for n in g if n not in blocked)
        try:
            path = nx.shortest_path(sub, a, b, weight=weight)
        except (nx.NetworkXNoPath, nx.NodeNotFound):
            return None
        used += path[1:-1] if closing else path[1:]
    return tuple(used) if len(set(used)) == len(used) else None


def _length(path, start, weight) -> float:
    """The length of the cycle start -> path (which ends at start)."""
    hops = list(zip([start] + path[:-1], path))
    return len(hops) if weight is None else sum(weight(u, v, None) for u, v in hops)


def _without_closed_clients(composition, graph):
    """The causal graph less the elements of closed workloads' clients. A blocked client
    sends nothing new, a balancing loop that closes every loop through the servers a second
    way: retries wanted -> fewer requests given up -> clients busy longer -> fewer new
    requests -> less load. The reference's loops (retries -> load -> failures -> retries)
    are still there; without this the shortest cycle through a retry client would be
    that one, and a retry storm would read as balancing."""
    closed = {node.roles["busy clients"].split(".", 1)[0]
              for node in composition.nodes.values() if "busy clients" in node.roles}
    if not closed:
        return graph
    return graph.subgraph(v for v in graph if v.split(".", 1)[0] not in closed).copy()


class Recogniser:
    """What the patterns need: the composition, its causal graph, the calls downstream."""

    def __init__(self, composition, graph: nx.DiGraph, polarities=None):
        import networkx as nx
        graph = _without_closed_clients(composition, graph)
        self.c, self.graph, self.polarities = composition, graph, polarities
        self.calls = nx.DiGraph()
        self.calls.add_nodes_from(composition.nodes)
        self.calls.add_edges_from((k.source, k.target) for k in composition.spec.calls)
        self.cyclic = {v for scc in nx.strongly_connected_components(graph) if len(scc) > 1
                       for v in scc}

    def role(self, component: str, role: str, *, toward: str | None = None) -> str | None:
        """The element playing `role`, or the nearest element of the same component on a
        cycle when it is a reporting output outside every loop (a retry rate); with
        `toward` (the component a call goes to), the nearest one that sends to it.

        Why `toward`: a retry client's "Retry rate" reports its "Total retries wanted",
        which without a retry budget feeds only the requests it gives up (the failures
        its own caller sees), on the path of the retries sent to the callee only through
        a budget. The nearest element on a cycle is then on the loop up through the
        caller's caller, not on the retry storm; the retries wanted, one step further,
        are sent on to the callee.
        """
        element = self.c.nodes[component].roles.get(role)
        if element not in self.graph:
            return None
        if element in self.cyclic:
            return element
        for step in (self.graph.predecessors, self.graph.successors):
            seen, frontier = {element}, [element]
            while frontier:
                nxt = []
                for v in frontier:
                    for w in sorted(step(v)):
                        if w in seen or self.c.component_of(w) != component:
                            continue
                        if w in self.cyclic and (toward is None or
                                                 self.sends_to(w, component, toward)):
                            return w
                        seen.add(w)
                        nxt.append(w)
                frontier = nxt
        return None

    def sends_to(self, element: str, component: str, target: str) -> bool:
        """Whether `element` reaches an element of `target` through elements of
        `component` and the system's own connectors alone (not up through its callers).

        >>> import networkx as nx
        >>> from types import SimpleNamespace as NS
        >>> r = Recogniser.__new__(Recogniser)
        >>> r.graph = nx.DiGraph([("a.x", "a.y"), ("a.y", "link"), ("link", "b.z"),
        ...                       ("a.w", "c.v"), ("c.v", "b.z")])
        >>> r.c = NS(component_of=lambda v: {"a": "a", "b": "b", "c": "c"}.get(v[0]))
        >>> r.sends_to("a.x", "a", "b"), r.sends_to("a.w", "a", "b")
        (True, False)
        """
        seen, todo = {element}, [element]
        while todo:
            for w in self.graph.successors(todo.pop()):
                owner = self.c.component_of(w)
                if owner == target:
                    return True
                if w not in seen and owner in (component, None):
                    seen.add(w)
                    todo.append(w)
        return False

    def nodes_of(self, *kinds: str):
        return [n for n in self.c.nodes.values() if n.kind in kinds]

    def downstream(self, component: str, kinds=LOADED) -> list[str]:
        """Components reachable from `component` (itself first), nearest first, of `kinds`."""
        import networkx as nx
        order = nx.single_source_shortest_path_length(self.calls, component)
        return [n for n, _ in sorted(order.items(), key=lambda kv: (kv[1], kv[0]))
                if self.c.nodes[n].kind in kinds]

    def upstream_retries(self, component: str) -> list[tuple[str, str, str]]:
        """(caller, 'retries to X', element) of the retrying calls that reach `component`."""
        import networkx as nx
        found = []
        for call in self.c.spec.calls:
            if call.config["retry"] is None:
                continue
            if call.target == component or component in nx.descendants(self.calls, call.target):
                role = f"retries to {call.target}"
                element = self.role(call.source, role, toward=call.target)
                if element:
                    found.append((call.source, role, element))
        return found

    def first_loaded(self, pattern, key: str, anchor, start: str, **subject) -> Match | None:
        """The loop through `anchor` and the load of the nearest loaded component from
        `start` down the calls whose load closes a loop with it."""
        for target in self.downstream(start):
            for role in LOAD_ROLES:
                element = self.role(target, role)
                m = element and self.match(pattern, key, [anchor, (target, role, element)],
                                           loaded=target, **subject)
                if m:
                    return m
        return None

    def match(self, pattern, key: str, anchors, *, within=None, **subject) -> Match | None:
        cycle = cycle_through(self.graph, [e for _, _, e in anchors], within=within,
                              polarities=self.polarities)
        if cycle is None:
            return None
        crossed = []
        for v in cycle:
            comp = self.c.component_of(v)
            if comp and comp not in crossed:
                crossed.append(comp)
        return Match(pattern.name, key, pattern.expected, cycle, tuple(anchors), tuple(crossed),
                     subject)


class RetryStorm:
    """Failure -> retry -> more load -> slower responses -> more failures (R)."""
    name, expected = "retry storm", "R"
    behaviour = ("amplifies any slowdown: every timeout sends the request again, up to "
                 "maxAttempts times, onto the component that is already slow")

    @classmethod
    def find(cls, r: Recogniser):
        for i, call in enumerate(r.c.spec.calls):
            retries = r.role(call.source, f"retries to {call.target}", toward=call.target)
            if call.config["retry"] is None or retries is None:
                continue
            m = r.first_loaded(cls, f"{cls.name}: {call.source} -> {call.target}",
                               (call.source, f"retries to {call.target}", retries),
                               call.target, call=i, caller=call.source)
            if m:
                yield m


class PoolExhaustion:
    """Slow queries hold connections, the pool fills, requests wait and time out, retries
    bring more (R)."""
    name, expected = "connection pool exhaustion", "R"
    behaviour = ("once connections in use reach the pool size, every request waits for a "
                 "connection; waits turn into timeouts and retries that ask for more")

    @classmethod
    def find(cls, r: Recogniser):
        for node in r.nodes_of("database"):
            waiting, busy = r.role(node.name, "waiting"), r.role(node.name, "connections")
            if not waiting or not busy:
                continue
            found = None
            for caller, role, retries in r.upstream_retries(node.name)[::-1]:
                found = r.match(cls, f"{cls.name}: {node.name}", [
                    (node.name, "connections", busy), (caller, role, retries)],
                    database=node.name, caller=caller, primary=(node.name, "waiting", waiting))
                if found:
                    break
            query = r.role(node.name, "query time")
            found = found or (query and r.match(cls, f"{cls.name}: {node.name}", [
                (node.name, "connections", busy), (node.name, "query time", query)],
                database=node.name, primary=(node.name, "waiting", waiting)))
            if found:
                yield found


class CacheStampede:
    """Keys expire together, every miss goes to the database, which slows, so the cache is
    refilled late and misses go on (R)."""
    name, expected = "cache stampede", "R"
    behaviour = ("synchronized expiry sends every request for the expired keys to the "
                 "database at once; a slow database refills the cache late")

    @classmethod
    def find(cls, r: Recogniser):
        for node in r.nodes_of("cache"):
            misses, kept = r.role(node.name, "cache misses"), r.role(node.name, "cached keys")
            m = None
            for target in (r.downstream(node.name) if misses and kept else ()):
                for role in LOAD_ROLES:      # misses load the store; its failures keep
                    element = r.role(target, role)          # entries empty: more misses
                    m = m or (element and r.match(cls, f"{cls.name}: {node.name}", [
                        (node.name, "cache misses", misses), (target, role, element),
                        (node.name, "cached keys", kept)], cache=node.name, loaded=target))
            m = m or (misses and r.first_loaded(cls, f"{cls.name}: {node.name}",
                                                (node.name, "cache misses", misses), node.name,
                                                cache=node.name))
            if m:
                yield m


class RateLimitRetries:
    """Rate limit hit -> 429 -> the client retries -> the retries count against the limit (R)."""
    name, expected = "rate-limit retry amplification", "R"
    behaviour = ("near the limit, every 429 comes back as a retry that takes a token too, "
                 "so a client's own retries keep it over the limit")

    @classmethod
    def find(cls, r: Recogniser):
        for node in r.nodes_of("rate_limiter"):
            share = r.role(node.name, "rejected share")
            for caller, role, retries in (r.upstream_retries(node.name) if share else ()):
                m = r.match(cls, f"{cls.name}: {node.name}", [
                    (node.name, "rejected share", share), (caller, role, retries)],
                    limiter=node.name, caller=caller)
                if m:
                    yield m
                    break


class HpaScaling:
    """High metric -> more pods -> lower metric per pod (B), with the HPA's sync period and
    the pods' start-up on the way."""
    name, expected = "HPA scaling", "B"
    behaviour = ("holds the scaled metric near its target by adding and removing pods; with "
                 "its delays it can overshoot and oscillate")

    @classmethod
    def find(cls, r: Recogniser):
        for node in r.nodes_of("service"):
            desired, metric = r.role(node.name, "hpa replicas"), r.role(node.name, "hpa metric")
            load = r.role(node.name, "hpa load")    # through load over capacity, when it has one
            anchors = [(node.name, "hpa replicas", desired)] + \
                ([(node.name, "hpa load", load)] if load else []) + \
                [(node.name, "hpa metric", metric)]
            m = desired and metric and r.match(cls, f"{cls.name}: {node.name}", anchors,
                                               service=node.name)
            if m:
                yield m


class RateLimiting:
    """Too many requests -> the bucket empties -> fewer admitted (B)."""
    name, expected = "rate limiting", "B"
    behaviour = "admits at most the refill rate: the excess is rejected with 429"

    @classmethod
    def find(cls, r: Recogniser):
        for node in r.nodes_of("rate_limiter"):
            admitted = r.role(node.name, "admitted")
            inside = [v for v in r.graph if r.c.component_of(v) == node.name]
            m = admitted and r.match(cls, f"{cls.name}: {node.name}", [
                (node.name, "admitted", admitted)], within=inside, limiter=node.name)
            if m:
                yield m


class CircuitBreaking:
    """Failures rise -> the breaker opens -> calls stop -> failures drop (B)."""
    name, expected = "circuit breaker", "B"
    behaviour = "stops calling a failing dependency for waitDurationInOpenState"

    @classmethod
    def find(cls, r: Recogniser):
        for i, call in enumerate(r.c.spec.calls):
            state = r.role(call.source, f"breaker to {call.target}")
            m = state and r.first_loaded(cls, f"{cls.name}: {call.source} -> {call.target}",
                                         (call.source, f"breaker to {call.target}", state),
                                         call.target, call=i, caller=call.source)
            if m:
                yield m


class EvictionCascade:
    """Pods evicted -> more load per survivor -> more evictions (R)."""
    name, expected = "eviction cascade", "R"
    behaviour = "each eviction loads the survivors more, until the service collapses"

    @classmethod
    def find(cls, r: Recogniser):
        for node in r.nodes_of("service"):
            evictions, pods = r.role(node.name, "evictions"), r.role(node.name, "pods")
            m = evictions and pods and r.match(cls, f"{cls.name}: {node.name}", [
                (node.name, "evictions", evictions), (node.name, "pods", pods)],
                service=node.name)
            if m:
                yield m


class AlertResponse:
    """Failures -> the alert fires -> the on-call is paged and acts -> fewer failures (B),
    through the Delay Inventory's delays (reference Part 2.3): scrape, evaluation, `for`,
    group wait, human response."""
    name, expected = "alert response", "B"
    behaviour = ("ends an incident the system cannot end by itself (Part 3.1: 'never recovers "
                 "without external intervention'), once scrape, evaluation, `for`, group "
                 "wait and the on-call's response have passed")

    @classmethod
    def find(cls, r: Recogniser):
        for node in r.nodes_of("alerting"):
            for rule in r.c.spec.components[node.name].config["rules"]:
                alert = rule["alert"]
                firing = r.role(node.name, f"firing {alert}")
                done = r.role(node.name, f"mitigated {alert}")
                # a scale-out acts through load over capacity (as the HPA's loop does), not
                # through the queue bound that grows with the pods too
                target = rule["target"] or rule["component"]
                load = r.role(target, "arrival utilisation") \
                    if rule["action"] == "scale_out" else None
                m = firing and done and r.match(cls, f"{cls.name}: {alert}", [
                    (node.name, f"firing {alert}", firing),
                    (node.name, f"mitigated {alert}", done)] +
                    ([(target, "arrival utilisation", load)] if load else []),
                    alerting=node.name, alert=alert,
                    primary=(node.name, f"metric {alert}", node.roles[f"metric {alert}"]))
                if m:
                    yield m


PATTERNS = (RetryStorm, PoolExhaustion, CacheStampede, RateLimitRetries, HpaScaling,
            RateLimiting, CircuitBreaking, EvictionCascade, AlertResponse)
BY_NAME = {p.name: p for p in PATTERNS}


def recognise(composition, graph: nx.DiGraph, polarities=None) -> list[Match]:
    """Every pattern instance in a composed system, in the order of `PATTERNS` (routed
    through signed links where `polarities` are given)."""
    r = Recogniser(composition, graph, polarities)
    return [m for pattern in PATTERNS for m in pattern.find(r)]
