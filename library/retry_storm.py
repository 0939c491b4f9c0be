"""Retry storm: timeouts trigger retries, retries add load, load causes more timeouts.

From the reference's Part 3.1 ("The Retry Storm"), its Part 4 fixes (exponential backoff with
jitter, retry budgets, circuit breakers: Principles 3 and 4) and the hands-on exercise's retry
policy (3 retries, 1 s fixed delay; fix: exponential, base 1 s, max 30 s, jitter; circuit
breaker with a 30 s open time and 3 half-open requests).

Structure (a fluid model, every rate in attempts/s):

- clients send "Arrival rate" first attempts; a failed attempt of generation k (k = 1 is the
  first attempt) is retried as generation k + 1 while k <= "Max retries" (at most 5 retries
  are modelled, the most in the reference's Part 4 code);
- a retry is sent "Timeout" + backoff after the attempt that failed. Without "Jitter" the
  retries go through a pipeline delay (DELAY FIXED) and stay synchronized; with it they go
  through an Erlang-3 delay with the same mean, which spreads them out;
- the server queues attempts in "Backlog" and serves up to "Capacity"; "Latency" is the base
  latency plus the queueing time (Little's law, backlog / capacity);
- an attempt fails when its latency exceeds "Timeout". Latencies in a queue are spread; with
  the exponential sojourn time of an M/M/1 queue the share that times out is
  exp(-Timeout / Latency): 13 % at 500 ms, 61 % at 2 s for a 1 s timeout, close to the
  reference's "200 retries" at 500 ms and "800 + 200" at 2000 ms per 1,000 req/s;
- the server still does the work of attempts whose client gave up ("Throughput" counts all
  served attempts, "Goodput" only those that are still wanted). That wasted work is what
  sustains the storm: once every attempt times out, offered load is (R + 1) x arrivals.

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

from sdmodels import (Dim, Model, canonical, delay3, delay_fixed, exp, if_then_else, maximum, minimum,
                      pulse, rolling_max, sample_hold, sum_over)
from sdmodels.expr import Ref

GENERATIONS = 6   # first attempt + up to 5 retries (the reference's max_retries=5)

#: name -> (default, units, source)
PARAMETERS = {
    "Arrival rate": (1000.0, "req/s", "Part 3.1: 1000 req/s from the clients"),
    "Capacity": (1250.0, "req/s", "assumption: the server runs at 80 % at 1000 req/s "
                 "(Part 3.1: 'everything fine' at 1000 req/s)"),
    "Base latency": (0.05, "s", "Part 3.1: normal latency 50 ms"),
    "Downstream latency": (0.0, "s", "input for composition: time spent below this server"),
    "Downstream failure fraction": (0.0, "1", "input for composition: failures below it"),
    "Queue limit": (10000.0, "requests", "assumption: the server queues at most 8 s of work "
                    "at 1250 req/s and rejects the rest"),
    "Timeout": (1.0, "s", "assumption: 1 s client timeout, so Part 3.1's 500 ms latency "
                "times out 13 % and 2 s 61 %"),
    "Max retries": (3.0, "retries", "hands-on exercise: 3 retries (at most 5 modelled)"),
    "Backoff base": (1.0, "s", "hands-on exercise: 1 s fixed delay; fix: base 1 s"),
    "Exponential backoff": (0.0, "0/1", "Part 4 Principle 4 / exercise fix: delay doubles"),
    "Max backoff": (30.0, "s", "hands-on exercise fix: max 30 s"),
    "Jitter": (0.0, "0/1", "Part 4 Principle 4: 0 = synchronized (pipeline), 1 = spread"),
    "Retry budget on": (0.0, "0/1", "Part 3.1 'retry budgets'"),
    "Retry budget": (0.1, "retries/request", "Google SRE book, 'Handling Overload': per-client "
                     "retry budget of 10 % of requests"),
    "Circuit breaker on": (0.0, "0/1", "Part 4 Principle 3 ('Circuit Breaker: None' in the "
                           "exercise)"),
    "Breaker failure threshold": (0.5, "1", "assumption: open when half the attempts fail"),
    "Breaker evaluation period": (1.0, "s", "assumption: failure ratio checked every second"),
    "Breaker open duration": (30.0, "s", "Part 4 Principle 3: recovery_timeout=30; exercise: "
                              "timeout 30s"),
    "Half-open window": (5.0, "s", "assumption: trial phase after the breaker re-closes"),
    "Half-open trials": (3.0, "req/s", "hands-on exercise fix: half_open_requests: 3"),
    "Capacity drop": (0.0, "1", "trigger: fraction of capacity lost during the trigger"),
    "Load spike": (0.0, "req/s", "trigger: extra arrivals during the trigger"),
    "Trigger start": (60.0, "s", "trigger timing"),
    "Trigger duration": (10.0, "s", "trigger timing: a short event (failover, GC pause)"),
}

TRIGGER = {"Capacity drop": 0.9, "Trigger duration": 10.0}
FIXES = {"Exponential backoff": 1.0, "Jitter": 1.0, "Retry budget on": 1.0,
         "Circuit breaker on": 1.0}

KEY_OUTPUTS = ["Offered load", "Throughput", "Goodput", "Backlog", "Latency", "Breaker state"]


def build(**overrides) -> Model:
    """The retry-storm model; keyword overrides replace parameters' defaults by display name."""
    m = Model("retry_storm", start=0, stop=600, dt=0.05, saveper=0.5, time_units="second",
              doc="Clients retrying timed-out requests against a server with finite capacity")
    c = m.parameters(PARAMETERS, overrides)
    gen = Dim("attempt", GENERATIONS)
    number = m.constant("Attempt number", {f"attempt{k}": k for k in range(1, GENERATIONS + 1)},
                        dims=[gen], units="1", doc="1 = first attempt, 2 = first retry, ...")

    # -- trigger and server --------------------------------------------------------------
    trig = m.aux("Trigger active", pulse(c["Trigger start"], c["Trigger duration"]), units="0/1")
    cap = m.aux("Effective capacity", c["Capacity"] * (1 - c["Capacity drop"] * trig),
                units="req/s")
    demand = m.aux("Demand", c["Arrival rate"] + c["Load spike"] * trig, units="req/s",
                   doc="first attempts the users want to make")
    backlog = m.stock("Backlog", initial=0, units="requests", non_negative=True)
    latency = m.aux("Latency", c["Base latency"] + c["Downstream latency"] + backlog / cap,
                    units="s", doc="base latency + queueing time (Little's law)")
    tmo = m.aux("Timeout fraction", exp(-c["Timeout"] / latency), units="1",
                doc="share of attempts slower than the timeout (exponential sojourn time)")
    fail = m.aux("Failure fraction",
                 1 - (1 - tmo) * (1 - c["Downstream failure fraction"]), units="1")

    # -- circuit breaker: open timer (a stock), sampled failure ratio, half-open window -----
    timer = m.stock("Breaker open time left", initial=0, units="s", non_negative=True)
    seen = m.aux("Failure ratio seen by breaker", sample_hold(fail, c["Breaker evaluation period"]),
                 units="1")
    is_open = m.aux("Breaker open", timer > 0, units="0/1")
    was_open = m.aux("Breaker recently open", rolling_max(is_open, c["Half-open window"]),
                     units="0/1")
    half = m.aux("Breaker half-open", (1 - is_open) * (was_open > 0), units="0/1")
    m.aux("Breaker state", is_open + 0.5 * half, units="1",
          doc="0 closed, 0.5 half-open, 1 open")
    trip = m.aux("Breaker trips", c["Circuit breaker on"] * (seen > c["Breaker failure threshold"])
                 * (1 - is_open), units="0/1")
    m.flow("Breaker opening", trip * c["Breaker open duration"] / m.dt_expr, into=timer,
           units="s/s")
    m.flow("Breaker clock", minimum(timer / m.dt_expr, 1), out_of=timer, units="s/s")
    admit = m.aux("Admission fraction", c["Circuit breaker on"] * (
        if_then_else(is_open > 0, 0, if_then_else(half > 0, minimum(
            1, c["Half-open trials"] / maximum(demand, 1e-9)), 1))) + (1 - c["Circuit breaker on"]),
        units="1", doc="share of attempts the breaker lets through")

    # -- clients: attempt generations, retries with backoff / jitter / budget ---------------
    backoff = m.aux("Backoff delay", minimum(c["Max backoff"], c["Backoff base"] * if_then_else(
        c["Exponential backoff"] > 0, 2 ** (number - 1), 1)), dims=[gen], units="s")
    wait = m.aux("Retry delay", c["Timeout"] + backoff, dims=[gen], units="s",
                 doc="a retry is sent after the timeout plus the backoff")
    issued = Ref(canonical("Retries issued"))       # defined below; names resolve at build
    arriving = m.aux("Retries arriving", (1 - c["Jitter"]) * delay_fixed(issued, wait, 0)
                     + c["Jitter"] * delay3(issued, wait, 0), dims=[gen], units="req/s",
                     doc="retries of each generation reaching the server side: a pipeline "
                     "(synchronized) without jitter, an Erlang-3 spread with it")
    incoming = m.aux("Attempts wanted", {
        f"attempt{k}": demand if k == 1 else arriving[f"attempt{k - 1}"]
        for k in range(1, GENERATIONS + 1)}, dims=[gen], units="req/s")
    sent = m.aux("Attempts sent", incoming * admit, dims=[gen], units="req/s")
    offered = m.aux("Offered load", sum_over(sent, gen), units="req/s",
                    doc="attempts per second reaching the server: first attempts + retries")
    m.aux("Rejected by breaker", sum_over(incoming, gen) * (1 - admit), units="req/s")
    served = m.flow("Throughput", minimum(backlog / m.dt_expr, cap), out_of=backlog,
                    units="req/s", doc="attempts the server completes per second")
    room = m.aux("Queue room", maximum(0, (c["Queue limit"] - backlog) / m.dt_expr + served),
                 units="req/s", doc="arrivals the queue can take this step")
    accepted = m.flow("Arrivals to server", minimum(offered, room), into=backlog, units="req/s")
    refused = m.aux("Queue rejections", offered - accepted, units="req/s",
                    doc="attempts refused at once because the queue is full")
    refused_share = m.aux("Rejected share", refused / maximum(offered, 1e-9), units="1")
    failed = m.aux("Failed attempts", sent * (1 - (1 - fail) * (1 - refused_share)), dims=[gen],
                   units="req/s", doc="timed out, failed downstream, or refused at the queue")
    wanted = m.aux("Retries wanted", failed * (number <= c["Max retries"]), dims=[gen],
                   units="req/s")
    total_wanted = m.aux("Total retries wanted", sum_over(wanted, gen), units="req/s")
    scale = m.aux("Retry budget scale", if_then_else(c["Retry budget on"] > 0, minimum(
        1, c["Retry budget"] * sent["attempt1"] / maximum(total_wanted, 1e-9)), 1), units="1",
        doc="share of wanted retries the budget allows")
    m.aux("Retries issued", wanted * scale, dims=[gen], units="req/s")
    m.aux("Retry rate", total_wanted * scale, units="req/s")

    m.aux("Goodput", served * (1 - fail), units="req/s",
          doc="completed attempts whose client still waits for them")
    m.aux("Amplification", offered / maximum(demand, 1e-9), units="1",
          doc="offered load per first attempt")

    m.name_loop("Retry storm", ["Backlog", "Latency", "Timeout fraction", "Failure fraction",
                                "Failed attempts", "Retries wanted", "Retries issued",
                                "Retries arriving", "Attempts wanted", "Attempts sent",
                                "Offered load", "Arrivals to server"])
    m.name_loop("Queue drains", ["Backlog", "Throughput"])
    m.name_loop("Circuit breaker sheds load", ["Backlog", "Latency", "Timeout fraction",
                                               "Failure fraction", "Failure ratio seen by breaker",
                                               "Breaker trips", "Breaker opening",
                                               "Breaker open time left", "Breaker open",
                                               "Admission fraction", "Attempts sent",
                                               "Offered load", "Arrivals to server"])
    m.name_loop("Retry budget caps retries", ["Retries wanted", "Total retries wanted",
                                              "Retry budget scale", "Retries issued"])
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

