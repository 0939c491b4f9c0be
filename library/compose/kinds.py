"""What each component kind of a system description becomes: modules of parts, and its node.

A `Node` says, for the call wiring, where a component's requests arrive, what it sends on
to each callee, what its callers see (latency, failure fraction), where its callees'
latency and failures go, and which of its elements play which role (for loop recognition
and for the metrics a person would watch). Each kind is a class with one `build` method.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from sdmodels import Model, if_then_else, maximum, minimum, pulse, smooth
from sdmodels.expr import Expr
from sdmodels.model import ModuleHandle

from library.parts._wiring import conversion
from library.parts.cache import cache
from library.parts.edge import cdn
from library.parts.hpa import hpa_controller
from library.parts.pods import pod_lifecycle
from library.parts.pool import connection_pool, slower_than
from library.parts.database import database, settled_load
from library.parts.ratelimit import load_balancer, rate_limiter
from library.parts.server import server_pool
from library.parts.traffic import closed_clients, traffic


@dataclass
class Port:
    """An input of a module, to be connected once. `per_request` converts requests into the
    port's own units (one database query per request) through a visible auxiliary."""
    handle: ModuleHandle
    name: str
    per_request: tuple | None = None         # (model, units): 1 of these per request

    def connect(self, source) -> None:
        if self.per_request is not None:
            m, units = self.per_request
            each = units.split("/")[0]
            one = conversion(m, f"{self.handle.display} {each} per request", f"{each}/req",
                             f"one {each.rstrip('s')} per request")
            source = m.aux(f"{self.handle.display} {self.name.lower()}", source * one,
                           units=units, doc=f"one {each.rstrip('s')} per request")
        self.handle.connect(self.name, source)


@dataclass
class Node:
    """One component as the call wiring sees it."""
    name: str
    kind: str
    prefixes: set[str] = field(default_factory=set)
    inbound: Port | None = None              # callers' requests arrive here
    outbound: Expr | None = None             # what it sends to each callee
    latency: Expr | None = None              # response time its callers see (None: its
    failure: Expr | None = None              # callees' alone, combined with own_failure)
    own_failure: Expr | None = None          # failures of its own (429s, unroutable)
    downstream_latency: Port | None = None   # its callees' latency goes here
    downstream_failure: Port | None = None
    timeout: Port | None = None              # its callers' timeout
    pods: Expr | None = None                 # serving pods (load balancers route to them)
    pods_in: tuple[Port, ...] = ()           # a load balancer's ready / connected pods
    queue_limit: tuple | None = None         # (port, default) of a service's queue bound
    max_length: float | None = None          # a broker queue's bound (its consumer's queue)
    takes_downstream: object = None          # f(latency, failure): a kind that sets its own
                                             # latency and failure from its callees'
    takes_answers: object = None             # f(succeeded, failed, latency, timeout): a
                                             # closed workload waits for its call's answers
    threads: Expr | None = None              # a service's request threads (pods x per pod)
    blocking: bool = True                    # a request waiting below holds a thread
    workers: Port | None = None              # ...those free to serve: threads less blocked
    waiting: Expr | None = None              # a pool's requests waiting for a connection
    max_waiting: Port | None = None          # ...at most its callers' threads
    slower_than: object = None               # f(seconds): share of its calls slower than
                                             # that, from its latency model (a breaker's
                                             # slow calls); None: no latency distribution
    hpa: ModuleHandle | None = None          # a service's HPA (an on-call's scale-out)
    roles: dict[str, str] = field(default_factory=dict)   # role -> element id

    def role(self, name: str, ref) -> None:
        self.roles[name] = ref.name


def setting(m: Model, owner: str, key: str, value: float, units: str):
    """A number of the description as a constant of the model ('<owner> <key>'), not a
    number written into an equation: a slider in the workbench, and a save that changes
    only such numbers keeps the model's structure, so its compiled kernel too."""
    return m.constant(f"{owner} {key}", value, units=units,
                      doc=f"{key} of {owner}, from the system description")


def _module(m: Model, node: Node, suffix: str, part: Model) -> ModuleHandle:
    prefix = f"{node.name} {suffix}".strip()
    handle = m.module(prefix, part, display=prefix)
    node.prefixes.add(handle.prefix)
    return handle


class Traffic:
    """Users: an open workload (the traffic part: a rate; a surge adds a spike on top of
    it) or a closed one (the closed-clients part: a population that waits for its requests;
    a surge brings more clients). A closed source learns its requests' ends from its call
    (`takes_answers`, wired in library/compose/calls.py)."""

    @staticmethod
    def build(m, component, spec, stress) -> Node:
        c = component.config
        node = Node(component.name, "traffic")
        if c["population"] is not None:
            return _closed(m, node, component, stress)
        part = traffic(**{"Base rate": c["rate"]})
        t = _module(m, node, "", part)
        base = t["Base rate"]
        peak = setting(m, component.name, "peak", c["peak"], "req/s") \
            if c["peak"] is not None else 3 * base
        t.connect("Spike height", stress["Surge on"] * (peak - base))
        t.connect("Spike start", stress["Stress start"])
        t.connect("Spike duration", stress["Stress duration"])
        node.outbound = t.out["Rate"]
        node.role("demand", node.outbound)
        return node


def _closed(m, node: Node, component, stress) -> Node:
    """A closed workload: `population` clients thinking `thinkTime` between requests; in a
    surge the population rises to `peakPopulation` (3x if not given). The clients start in
    their cycle for the part's 50 ms "Initial response time" (the call's own latency at
    t = 0 depends on the requests they send then: a cycle among initial values), so a
    slower system starts with a short burst of requests (none with no think time)."""
    c, name = component.config, component.name
    h = _module(m, node, "", closed_clients(**{"Think time": c["thinkTime"] or 0.0}))
    population = setting(m, name, "population", c["population"], "clients")
    peak = setting(m, name, "peakPopulation", c["peakPopulation"], "clients") \
        if c["peakPopulation"] is not None else 3 * population
    h.connect("Population", population + stress["Surge on"] * (peak - population) * pulse(
        stress["Stress start"], stress["Stress duration"]))
    node.outbound = h.out["Requests"]
    node.role("demand", node.outbound)
    node.role("busy clients", h.out["Busy clients"])

    def takes_answers(succeeded, failed, latency, timeout) -> None:
        for port, source in (("Succeeded", succeeded), ("Failed for good", failed),
                             ("Response time", latency), ("Failure delay", timeout)):
            h.connect(port, source)
    node.takes_answers = takes_answers
    return node


def _surge_ratio(config) -> float:
    """How many times its normal load a traffic component sends in a surge: peak / rate
    (open), peakPopulation / population (closed), 3 when the peak is not given."""
    if config["population"] is not None:
        return (config["peakPopulation"] or 3 * config["population"]) / config["population"]
    return (config["peak"] or 3 * config["rate"]) / config["rate"]


class Cdn:
    @staticmethod
    def build(m, component, spec, stress) -> Node:
        node = Node(component.name, "cdn")
        h = _module(m, node, "", cdn(**{"Hit ratio": component.config["hitRatio"]}))
        _pass_through(node, h, "Requests", "Forwarded")
        return node


class LoadBalancer:
    """Routes to the ready pods of the first service behind it (readiness gating)."""

    @staticmethod
    def build(m, component, spec, stress) -> Node:
        node = Node(component.name, "load_balancer")
        h = _module(m, node, "", load_balancer())
        node.inbound, node.outbound = Port(h, "Requests"), h.out["Routed"]
        node.own_failure = h.out["Unroutable"] / (h.out["Routed"] + h.out["Unroutable"] + 1e-9)
        node.pods_in = (Port(h, "Ready pods"), Port(h, "Connected pods"))
        node.role("unroutable", h.out["Unroutable"])
        return node


class RateLimiter:
    """A token bucket of limitForPeriod permits refilled every limitRefreshPeriod; a limit
    `per: user` applies to every user (a bucket each), so it admits the active users x the
    limit, with their buckets' burst."""

    @staticmethod
    def build(m, component, spec, stress) -> Node:
        c = component.config
        node = Node(component.name, "rate_limiter")
        rate = c["limitForPeriod"] / c["limitRefreshPeriod"]
        users = _active_users(m, component.name, spec, stress) if c["per"] == "user" else 1.0
        h = _module(m, node, "", rate_limiter())
        h.connect("Rate", setting(m, component.name, "limit", rate, "req/s") * users)
        h.connect("Burst", setting(m, component.name, "limitForPeriod", c["limitForPeriod"],
                                   "req") * users)
        node.inbound, node.outbound = Port(h, "Requests"), h.out["Admitted"]
        node.own_failure = h.out["Rejected share"]
        node.role("rejections", h.out["Rejected"])
        node.role("admitted", h.out["Admitted"])
        node.role("rejected share", h.out["Rejected share"])
        return node


def _active_users(m, name: str, spec, stress):
    """The distinct clients a per-user limit applies to: the traffic components' `users`,
    and in a surge from new users (the "user surge" scenario) as many more as the surge
    adds traffic, each sending at the base per-user rate (so each stays under its limit)."""
    sources = [c.config for c in spec.components.values() if c.kind == "traffic"]
    users = sum(c["users"] for c in sources) or 1.0
    new_users = sum(c["users"] * (_surge_ratio(c) - 1) for c in sources)
    more = stress["Surge from new users"] * stress["Surge on"] * pulse(
        stress["Stress start"], stress["Stress duration"]) * (new_users / users)
    return m.aux(f"{name} active users", users * (1 + more), units="1",
                 doc="distinct clients sending requests (per-user rate limits apply to each)")


class Service:
    """Pods of workers (the server-pool part); with an `hpa`, pods come and go through the
    pod-lifecycle part as the HPA part decides, on the metric the description names."""

    @staticmethod
    def build(m, component, spec, stress) -> Node:
        c = component.config
        node = Node(component.name, "service", blocking=c["concurrency"] == "threadPerRequest")
        server = _module(m, node, "", server_pool(**{"Service time": c["serviceTime"]}))
        # its queue starts where its first arrivals settle it (M/M/c's L_q = C rho / (1 -
        # rho)), at most its limit, not empty: an empty start served less in the first step
        rho = server.out["Arrival utilisation"]
        server.connect("Initial backlog", minimum(
            server.out["Erlang C"] * rho / (1 - rho) * server["Requests per worker"],
            server["Queue limit"]))
        pods_part, metric = None, None
        if c["hpa"] is not None:
            ready, pods_part, metric = _autoscaled(m, node, component, server)
        elif c["resources"] is not None:       # pods that can be OOM-killed have a lifecycle
            pods_part = _pods(m, node, component)
            ready = pods_part.out["Ready pods"]
        else:
            ready = setting(m, component.name, "replicas", c["replicas"], "pod")
        lost = stress["Pods lost"] * pulse(stress["Stress start"], stress["Stress duration"])
        pods = m.aux(f"{component.name} serving pods", ready * (1 - lost), units="pod",
                     doc="ready pods still serving (the pod-loss scenario removes some)")
        per_pod = setting(m, component.name, "workersPerPod", c["workersPerPod"], "1/pod")
        node.threads = m.aux(f"{component.name} request threads", pods * per_pod, units="1",
                             doc="request threads of the serving pods (workersPerPod each)")
        if metric is not None:
            metric(node.threads)
        node.workers = Port(server, "Workers")     # wired: less the threads blocked below
        node.queue_limit = (Port(server, "Queue limit"),
                            pods * setting(m, component.name, "queueLimit", c["queueLimit"],
                                           "req/pod"))
        node.inbound = Port(server, "Arrivals")
        node.outbound = m.aux(
            f"{component.name} calls down", smooth(server.out["Throughput"], maximum(
                server["Service time"], 2 * m.dt_expr)), units="req/s",
            doc="requests calling the services behind it: a request calls them while it is "
            "served, one service time after it leaves the queue (on average), so a backlog "
            "taken by new workers at once reaches them over a service time (two steps at "
            "least), not within a step")
        node.latency, node.failure = server.out["Latency"], server.out["Failure fraction"]
        node.downstream_latency = Port(server, "Downstream latency")
        node.downstream_failure = Port(server, "Downstream failure fraction")
        node.timeout, node.pods = Port(server, "Timeout"), pods
        node.role("pods", pods)
        if c["resources"] is not None:
            _oom_kills(m, node, component, server, pods, pods_part)
        for role, output in (("backlog", "Backlog"), ("latency", "Latency"),
                             ("timeouts", "Timeout fraction"), ("utilization", "Utilization"),
                             ("throughput", "Throughput"), ("goodput", "Goodput")):
            node.role(role, server.out[output])
        return node


def _pods(m, node: Node, component) -> ModuleHandle:
    c = component.config
    # pods crash only with a memory limit (OOM kills, below) and are never evicted here:
    # the part is built without the paths it would not use
    return _module(m, node, "pods", pod_lifecycle(
        crashes=c["resources"] is not None, evictions=False, **{
            "Initial pods": c["replicas"], "Desired replicas": c["replicas"],
            "Startup time": c["startupTime"]}))


MEMORY_SPREAD = 0.2    # assumption: pods' memory spreads +/- 20 % around the mean
OOM_TIME = 1.0         # s: the kernel's OOM killer acts within a second of the limit


def _oom_kills(m, node: Node, component, server: ModuleHandle, pods, part: ModuleHandle):
    """Memory per pod from the requests in flight; pods over the limit are OOM-killed (a
    container restart with CrashLoopBackOff, in the pods part), their load moves to the
    survivors: the eviction cascade (reference Part 3.4)."""
    c, r = component.config, component.config["resources"]
    name, limit = component.name, r["limits"]["memory"]
    in_flight = server.out["Backlog"] + server.out["Throughput"] * c["serviceTime"]
    memory = m.aux(f"{name} memory per pod", r["baseMemory"] + r["memoryPerRequest"]
                   * in_flight / maximum(pods, 1e-3), units="MiB",
                   doc="idle memory + memory of the requests in flight (queued or served), "
                   "shared by the serving pods")
    over = m.aux(f"{name} share over the memory limit", maximum(0, minimum(1, (
        memory / limit - (1 - MEMORY_SPREAD)) / (2 * MEMORY_SPREAD))), units="1",
        doc="pods whose memory is above resources.limits.memory (pods spread +/- 20 %)")
    kills = m.aux(f"{name} OOM kill rate", over / OOM_TIME, units="1/s",
                  doc="OOM kills per running pod per second")
    part.connect("Crash rate", kills)
    node.role("memory", memory)
    node.role("evictions", kills)


def _autoscaled(m, node: Node, component, server: ModuleHandle):
    """Pods and an HPA for a service; returns its ready pods, the pods part, and a function
    of the service's request threads that wires the HPA's metric (CPU is a share of them)."""
    c, hpa = component.config, component.config["hpa"]
    pods = _pods(m, node, component)
    metric = (hpa["metrics"] or [{"type": "Resource", "resource": {
        "name": "cpu", "target": {"averageUtilization": 80.0}}}])[0]
    settings = {"minReplicas": hpa["minReplicas"], "maxReplicas": hpa["maxReplicas"],
                "Initial replicas": c["replicas"], "Sync period": hpa["syncPeriod"],
                "Tolerance": hpa["tolerance"]}
    for direction in ("scaleUp", "scaleDown"):
        rules = hpa["behavior"][direction]
        settings[f"{direction} stabilizationWindowSeconds"] = rules["stabilizationWindowSeconds"]
        settings[f"{direction} selectPolicy"] = SELECT_POLICY[rules["selectPolicy"]]
        for policy in rules["policies"] or ():
            settings[f"{direction} {policy['type']} value"] = policy["value"]
            settings[f"{direction} {policy['type']} periodSeconds"] = policy["periodSeconds"]
        if rules["policies"]:       # the types not listed do not limit
            for kind in ("Pods", "Percent"):
                if all(p["type"] != kind for p in rules["policies"]):
                    settings[f"{direction} {kind} value"] = 0.0
    if metric["type"] == "Resource":
        settings["Target"] = metric["resource"]["target"]["averageUtilization"]
        # CPU: the busy share of all the pods' threads; threads blocked waiting for a
        # database connection (less "Workers" than threads) use none
        external = None
        node.roles["hpa metric"] = server.out["Utilization"].name
        # what a pod more changes: load over capacity (the busy share also moves with the
        # backlog's correction, a link whose sign follows the regime, not the HPA's loop)
        node.roles["hpa load"] = server.out["Arrival utilisation"].name
    else:
        settings["Target"] = metric["external"]["target"]["averageValue"]
        settings["Metric kind"] = 1.0
        external = server.out["Backlog"] if metric["external"]["metric"]["name"] == \
            "queue_depth" else server.out["Latency"]
        node.roles["hpa metric"] = external.name
    # the replica calculator of the metric's kind alone (the other one would be built and
    # never read: paths, and loops, that the model does not use)
    kind = "pod" if external is None else "external"
    controller = _module(m, node, "hpa", hpa_controller(kind=kind, **settings))

    def wire_metric(threads) -> None:
        if external is None:
            source = server.out["Utilization"] * server["Workers"] / threads * 100
        else:       # the queue's requests or the latency's seconds, read as the metric
            unit = "req" if metric["external"]["metric"]["name"] == "queue_depth" else "s"
            source = external / conversion(m, f"{component.name} HPA metric unit",
                                           f"{unit}/metric", f"the HPA reads 1 {unit} as 1")
        controller.connect("Metric", m.aux(f"{component.name} HPA metric", source,
                                           units="metric", doc="what the HPA reads: CPU %, "
                                           "or the external metric"))

    node.hpa = controller       # and what a pod more changes, for an on-call's scale-out
    node.roles["arrival utilisation"] = server.out["Arrival utilisation"].name
    controller.connect("Ready pods", pods.out["Ready pods"])
    pods.connect("Desired replicas", controller.out["Spec replicas"])
    node.role("hpa replicas", controller.out["Spec replicas"])
    node.role("ready pods", pods.out["Ready pods"])
    return pods.out["Ready pods"], pods, wire_metric


SELECT_POLICY = {"Max": 0.0, "Min": 1.0, "Disabled": 2.0}


class Queue:
    """A broker queue: it relays messages to its consumers, whose backlog it bounds and for
    which nobody waits (no timeout: the work is asynchronous)."""

    @staticmethod
    def build(m, component, spec, stress) -> Node:
        node = Node(component.name, "queue", max_length=component.config["maxLength"])
        h = _module(m, node, "", cdn(**{"Hit ratio": 0.0}))
        _pass_through(node, h, "Requests", "Forwarded")
        return node


class Cache:
    """A look-aside cache: hits answered at once, misses (and refreshes) sent to the store
    behind it, whose latency and failures decide whether a fill populates the entry."""

    @staticmethod
    def build(m, component, spec, stress) -> Node:
        c = component.config
        node = Node(component.name, "cache")
        h = _module(m, node, "", cache(**{
            "Keys": c["keys"], "TTL": c["ttl"], "TTL jitter": c["ttlJitter"] / c["ttl"],
            "Request coalescing": float(c["coalescing"]),
            "Early refresh": float(c["earlyRefresh"])}))
        h.connect("Flush time", if_then_else(stress["Cache flush"] > 0, stress["Stress start"],
                                             NEVER))
        node.inbound = Port(h, "Requests")
        node.outbound = m.aux(f"{component.name} miss requests", h.out["Misses"] * conversion(
            m, f"{component.name} requests per miss", "req/query", "a miss (or refresh) asks "
            "the store once"), units="req/s",
                              doc="one request to the store behind the cache per miss or refresh")
        hit = h.out["Hit ratio"]

        def takes_downstream(latency, failure):
            h.connect("Fill time", latency)
            h.connect("Fill success share", 1 - failure)
            node.latency = m.aux(f"{component.name} latency", (1 - hit) * latency, units="s",
                                 doc="hits answered at once, misses wait for the store")
            node.failure = m.aux(f"{component.name} failure fraction", (1 - hit) * failure,
                                 units="1")
        node.takes_downstream = takes_downstream
        node.role("hit ratio", hit)
        node.role("cache misses", h.out["Misses"])
        node.role("cached keys", h.out["Cached keys"])
        return node


NEVER = 1e9


class Database:
    """A connection pool (HikariCP) in front of a database that slows with concurrency."""

    @staticmethod
    def build(m, component, spec, stress) -> Node:
        c, pool = component.config, component.config["pool"]
        node = Node(component.name, "database")
        db = _module(m, node, "", database(**{"Base query time": c["queryTime"]}))
        p = _module(m, node, "pool", connection_pool(**{
            "Pool size": pool["maximumPoolSize"], "Max connections": c["maxConnections"],
            "Acquire timeout": pool["connectionTimeout"] or NEVER}))   # 0: wait forever
        slow = stress["Slowdown factor"] - 1
        db.connect("Slowdown factor", 1 + slow * pulse(stress["Stress start"],
                                                       stress["Stress duration"]))
        db.connect("Queries in flight", p.out["Connections in use"])
        # it starts at the load the first queries settle at, not idle (an idle start read as
        # "growth" of the pool's connections at baseline), at most the pool's connections
        unit = p["Connection unit"]
        db.connect("Initial load", settled_load(
            p["Query arrivals"] * db["Base query time"] * db["Slowdown factor"]
            * p["Connections per query"] / unit, db["Contention"], db["Coherency"],
            p["Usable connections"] / unit) * unit)
        p.connect("Hold time", db.out["Hold time"])
        p.connect("Failed share", db.out["Killed share"])
        node.inbound, node.outbound = Port(p, "Arrivals", (m, "queries/s")), None
        node.latency, node.failure = p.out["Request latency"], p.out["Failure share"]
        node.timeout = Port(p, "Client timeout")
        node.waiting, node.max_waiting = p.out["Waiting for connection"], Port(p, "Max waiting")
        node.slower_than = lambda seconds: slower_than(p, seconds)
        for role, ref in (("connections", p.out["Connections in use"]),
                          ("waiting", p.out["Waiting for connection"]),
                          ("latency", p.out["Request latency"]),
                          ("query time", db.out["Query time"])):
            node.role(role, ref)
        return node


def _pass_through(node: Node, h: ModuleHandle, arrivals: str, sent: str) -> None:
    node.inbound, node.outbound = Port(h, arrivals), h.out[sent]
    node.latency, node.failure = h.out["Latency"], h.out["Failure fraction"]
    node.downstream_latency = Port(h, "Downstream latency")
    node.downstream_failure = Port(h, "Downstream failure fraction")


KINDS = {"traffic": Traffic, "cdn": Cdn, "load_balancer": LoadBalancer,
         "rate_limiter": RateLimiter, "service": Service, "database": Database, "queue": Queue,
         "cache": Cache}
