"""Retry storm: timeouts trigger retries, retries add load, load causes more timeouts.

From the reference's Part 3.1 ("The Retry Storm"), its Part 4 fixes (exponential backoff with
jitter, retry budgets, circuit breakers: Principles 3 and 4) and the hands-on exercise's retry
policy (3 retries, 1 s fixed delay; fix: exponential, base 1 s, max 30 s, jitter; circuit
breaker with a 30 s open time and 3 half-open requests).

Composed from four parts (library/parts), wired by their ports:

- `traffic`: "Arrival rate" first attempts, plus "Load spike" during the trigger;
- `retry_client` ("Clients"): attempt generations, a retry "Timeout" + backoff after a
  failure (fixed or exponential; without "Jitter" a pipeline delay that keeps the retries of
  a burst together, with it full jitter, an Erlang-3 spread), "Max retries", and a retry
  budget as a token bucket (10 % of requests, Finagle RetryBudget / gRPC retry throttling);
- `circuit_breaker` ("Breaker"): resilience4j's closed / open / half-open controller
  (failure rate over the last 100 calls, at least 100 calls, open "Breaker open duration",
  "Half-open trials" trial calls judged by their real outcome);
- `server_pool` ("Server"): c = "Capacity" x "Base latency" workers (62.5 with the defaults),
  M/M/c waiting below saturation (Erlang C), fluid overload above it, a bounded queue, and
  timeouts: a request whose wait exceeds the timeout still costs a worker but yields no
  goodput. That wasted work is what sustains the storm: once every attempt times out,
  offered load is (R + 1) x arrivals.

Metastability (Bronson et al., HotOS 2021): with capacity mu and R retries the bad state
sustains itself when (R + 1) x lambda > mu, so for mu / (R + 1) < lambda < mu a short trigger
leaves the system collapsed. With a retry budget b (retries at most b x first attempts) the
band shrinks to mu / (1 + b) < lambda < mu. A circuit breaker sheds load while open, so the
backlog drains and the system recovers.

Example::

    from library import retry_storm
    from sdmodels import run
    df = run(retry_storm.build(), scenario="trigger")
    df[["Offered load", "Goodput"]].max()
"""
from __future__ import annotations

from sdmodels import Model, pulse

from library.parts._wiring import conversion, part_parameters
from library.parts.breaker import INPUTS as BREAKER_INPUTS, circuit_breaker
from library.parts.retry import retry_client
from library.parts.server import server_pool
from library.parts.traffic import traffic

#: the breaker part's inputs -> this model's parameter names (the part's defaults and
#: sources: resilience4j's, except where the reference has its own value)
BREAKER = {"Enabled": "Circuit breaker on", "Failure rate threshold": "Breaker failure threshold",
           "Minimum number of calls": "Breaker minimum calls",
           "Sliding window size": "Breaker window",
           "Wait duration in open state": "Breaker open duration",
           "Permitted calls in half-open state": "Half-open trials"}

#: name -> (default, units, source)
PARAMETERS = {
    "Arrival rate": (1000.0, "req/s", "Part 3.1: 1000 req/s from the clients"),
    "Capacity": (1250.0, "req/s", "assumption: the server runs at 80 % at 1000 req/s "
                 "(Part 3.1: 'everything fine' at 1000 req/s)"),
    "Base latency": (0.05, "s", "Part 3.1: normal latency 50 ms (the service time)"),
    "Downstream latency": (0.0, "s", "input for composition: time spent below this server"),
    "Downstream failure fraction": (0.0, "1", "input for composition: failures below it"),
    "Queue limit": (10000.0, "requests", "assumption: the server queues at most 8 s of work "
                    "at 1250 req/s and rejects the rest"),
    "Timeout": (1.0, "s", "assumption: 1 s client timeout (Part 3.1: 500 ms latency is "
                "fine, 2 s is not)"),
    "Max retries": (3.0, "retries", "hands-on exercise: 3 retries (at most 5 modelled)"),
    "Backoff base": (1.0, "s", "hands-on exercise: 1 s fixed delay; fix: base 1 s"),
    "Exponential backoff": (0.0, "0/1", "Part 4 Principle 4 / exercise fix: delay doubles"),
    "Max backoff": (30.0, "s", "hands-on exercise fix: max 30 s"),
    "Jitter": (0.0, "0/1", "Part 4 Principle 4: 0 = synchronized (pipeline), 1 = full "
               "jitter, 2 = equal jitter (spread)"),
    "Retry budget on": (0.0, "0/1", "Part 3.1 'retry budgets'"),
    "Retry budget": (0.1, "retries/request", "Google SRE book, 'Handling Overload': per-client "
                     "retry budget of 10 % of requests"),
    "Retry budget size": (10.0, "tokens", "gRPC retryThrottling maxTokens example 10"),
    **part_parameters(BREAKER_INPUTS, names=BREAKER, skip=(
        "Calls", "Failure fraction", "Instances", "Evaluation period"), story={
        "Enabled": (0.0, "Part 4 Principle 3 ('Circuit Breaker: None' in the exercise)"),
        "Wait duration in open state": (30.0, "Part 4 Principle 3: recovery_timeout=30; "
                                        "exercise: timeout 30s"),
        "Permitted calls in half-open state": (3.0, "hands-on exercise fix: "
                                               "half_open_requests: 3")}),
    "Capacity drop": (0.0, "1", "trigger: fraction of capacity lost during the trigger"),
    "Load spike": (0.0, "req/s", "trigger: extra arrivals during the trigger"),
    "Trigger start": (60.0, "s", "trigger timing"),
    "Trigger duration": (10.0, "s", "trigger timing: a short event (failover, GC pause)"),
}

TRIGGER = {"Capacity drop": 0.9, "Trigger duration": 10.0}
FIXES = {"Exponential backoff": 1.0, "Jitter": 1.0, "Retry budget on": 1.0,
         "Circuit breaker on": 1.0}

KEY_OUTPUTS = ["Offered load", "Throughput", "Goodput", "Backlog", "Latency", "Breaker state"]


BREAKER_PARAMETERS = tuple(BREAKER.values())
BUDGET_PARAMETERS = ("Retry budget on", "Retry budget", "Retry budget size")


def build(*, breaker: bool = True, budget: bool = True, **overrides) -> Model:
    """The retry-storm model; keyword overrides replace parameters' defaults by display name.

    `breaker=False` composes it without the circuit breaker part (and its parameters), for
    a system that has none, as the hands-on exercise's API tier ('Circuit Breaker: None');
    `budget=False` without a retry budget (and its parameters), `retry_client(budget=False)`.
    """
    m = Model("retry_storm", start=0, stop=600, dt=0.05, saveper=0.5, time_units="second",
              doc="Clients retrying timed-out requests against a server with finite capacity")
    c = m.parameters({k: v for k, v in PARAMETERS.items()
                      if (breaker or k not in BREAKER_PARAMETERS)
                      and (budget or k not in BUDGET_PARAMETERS)}, overrides)
    trig = m.aux("Trigger active", pulse(c["Trigger start"], c["Trigger duration"]), units="0/1")
    demand = m.module("traffic", traffic(), display="Traffic", inputs={
        "Base rate": c["Arrival rate"], "Spike height": c["Load spike"],
        "Spike start": c["Trigger start"], "Spike duration": c["Trigger duration"]})
    client = m.module("clients", retry_client(budget=budget), display="Clients", inputs={
        "Demand": demand.out["Rate"], "Failure delay": c["Timeout"],
        "Max retries": c["Max retries"], "Backoff base": c["Backoff base"],
        "Exponential backoff": c["Exponential backoff"], "Max backoff": c["Max backoff"],
        "Jitter": c["Jitter"]})
    if budget:
        client.connect("Retry budget on", c["Retry budget on"])
        client.connect("Retry budget ratio", c["Retry budget"])
        client.connect("Retry budget size", c["Retry budget size"])
    per_worker = conversion(m, "Requests per worker", "req", "a worker serves one request at "
                            "a time: c = capacity x latency / (1 req per worker)")
    server = m.module("server", server_pool(), display="Server", inputs={
        "Service time": c["Base latency"],
        "Workers": c["Capacity"] * c["Base latency"] / per_worker
        * (1 - c["Capacity drop"] * trig),
        "Queue limit": c["Queue limit"], "Timeout": c["Timeout"],
        "Downstream latency": c["Downstream latency"],
        "Downstream failure fraction": c["Downstream failure fraction"]})
    client.connect("Failure fraction", server.out["Failure fraction"])
    offered, state = client.out["Attempts"], 0.0
    if breaker:
        cb = m.module("breaker", circuit_breaker(), display="Breaker", inputs={
            "Calls": client.out["Attempts"], **{part: c[name] for part, name in BREAKER.items()},
            "Failure fraction": server.out["Served failure fraction"]})
        client.connect("Shed fraction", 1 - cb.out["Admission fraction"])
        offered, state = cb.out["Permitted calls"], cb.out["Breaker state"]
    server.connect("Arrivals", offered)
    # output ports: what a model that includes this one as its service tier reads
    m.output(m.aux("Offered load", offered, units="req/s", doc="attempts reaching the server"))
    m.output(m.aux("Breaker state", state, units="1", doc="0 closed, 0.5 half-open, 1 open"))
    for name in ("Throughput", "Goodput", "Backlog", "Latency"):
        m.output(m.aux(name, server.out[name], units=m.elements[server.out[name].name].units))
    _name_loops(m, breaker)
    m.add_scenario("baseline", {}, doc="1000 req/s against 1250 req/s: latency 50 ms, no retries")
    m.add_scenario("trigger", dict(TRIGGER), doc="capacity drops 90 % for 10 s (a failover); "
                   "retries keep the server overloaded after it is back")
    m.add_scenario("fixed", {**TRIGGER, **FIXES}, doc="same trigger with exponential backoff, "
                   "jitter, a 10 % retry budget and a circuit breaker")
    m.add_scenario("backoff only", {**TRIGGER, "Exponential backoff": 1.0, "Jitter": 1.0},
                   doc="backoff with jitter alone delays retries but does not cut their number")
    m.add_scenario("budget only", {**TRIGGER, "Retry budget on": 1.0})
    m.add_scenario("breaker only", {**TRIGGER, "Circuit breaker on": 1.0})
    return m


#: the retry path from a failure at the server back to its queue, as composed in build()
FAILURE_TO_LOAD = ["Server / Served failure fraction", "Server / Failure fraction",
                   "Clients / Failure fraction", "Clients / Failed attempts",
                   "Clients / Retries wanted", "Clients / Retries issued",
                   "Clients / Retries arriving", "Clients / Attempts sent", "Clients / Attempts",
                   "Breaker / Calls", "Breaker / Permitted calls", "Server / Arrivals",
                   "Server / Arrivals to server", "Server / Backlog"]


def path(prefix: str, names: list[str] | None = None, *, breaker: bool = True) -> list[str]:
    """Names of this model's variables as seen from a model that includes it as `prefix`
    (by default the retry path, FAILURE_TO_LOAD, through the breaker or not).

    >>> path("Payments", ["Server / Backlog"])
    ['Payments / Server / Backlog']
    """
    names = _retry_path(breaker) if names is None else names
    return [f"{prefix} / {n}" for n in names]


def _retry_path(breaker: bool) -> list[str]:
    return [n for n in FAILURE_TO_LOAD if breaker or not n.startswith("Breaker / ")]


def _name_loops(m: Model, breaker: bool) -> None:
    """The loops of Part 3.1 and its fixes, through the parts' variables (the parts bring
    "Queue drains" and "Retry budget caps retries")."""
    m.name_loop("Retry storm", [*_retry_path(breaker), "Server / Queue wait",
                                "Server / Timeout fraction"])
    if breaker:
        m.name_loop("Circuit breaker sheds load", [
            *FAILURE_TO_LOAD[-4:], "Server / Queue wait", "Server / Timeout fraction",
            "Server / Served failure fraction", "Breaker / Failure fraction",
            "Breaker / Next Window failures", "Breaker / Window failures",
            "Breaker / Breaker transition",
            "Breaker / Next Breaker mode", "Breaker / Breaker mode",
            "Breaker / Admission fraction"])
