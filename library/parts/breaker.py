"""Circuit breaker: closed / open / half-open, a discrete controller on its own clock.

Semantics and defaults of resilience4j's CircuitBreaker (resilience4j.readme.io,
"CircuitBreaker"): failureRateThreshold 50 %, a COUNT_BASED slidingWindowSize of 100 calls,
minimumNumberOfCalls 100, waitDurationInOpenState 60 s, permittedNumberOfCallsInHalfOpenState
10, maxWaitDurationInHalfOpenState 0 (half-open until the trial calls are made),
slowCallRateThreshold 100 %, slowCallDurationThreshold 60 s. Envoy's
outlier detection (envoyproxy.io, "Outlier detection") is the other reference: an ejected
host stays out for base_ejection_time (30 s) times the number of ejections, success-rate
ejection needs success_rate_request_volume (100) requests in the interval (10 s) - the same
"minimum volume, then judge" shape.

- **Closed.** Calls pass. The failure rate is taken over a window of the last "Sliding window
  size" calls; the fluid model keeps it as an exponentially weighted count (each call
  weighs in, older calls fade by exp(-calls / N)), updated per step exactly for constant
  inputs. It trips when, at a tick of its clock, at least "Minimum number of calls" calls
  were recorded since the last state change (read off the window: filled from empty, it
  holds N (1 - exp(-n / N)) after n calls) and the failure rate is >= the threshold.
- **Slow calls.** resilience4j "considers a call as slow when the call duration is greater
  than slowCallDurationThreshold" and opens "when the percentage of slow calls is equal or
  greater than" slowCallRateThreshold, as for failures: the breaker opens when the failure
  rate OR the slow-call rate reaches its threshold, over the same sliding window, once the
  minimum number of calls was recorded (resilience4j.readme.io "CircuitBreaker", section
  "Failure rate and slow call rate thresholds"; Apache Camel's "Resilience4j Configuration"
  lists the defaults 100 and 60 s). A slow call counts whether it succeeds or fails. The
  part does not invent a latency curve: "Slow call fraction" (the share of calls slower than
  "Slow call duration threshold") is wired by the caller from the callee's own latency
  model (e.g. the connection pool's M/M/c response-time tail, `library.parts.pool
  .slower_than`). The part counts slow calls when built with `slow_calls=True` (its inputs
  `SLOW_CALLS` and one window counter more, so more loops through the breaker); without
  it, it is the failure-rate breaker alone, as the library models use it. With the
  defaults (100 %, 60 s) a breaker opens on slow calls only when every call of the window
  took over a minute.
- **Open.** Every call is rejected at once ("Rejected calls", not sent) until the wait
  duration has passed (a time stamp, so the duration does not depend on the step).
- **Half-open.** "Permitted calls in half-open state" trial calls pass (at the call rate, at
  most that many per tick of the clock, so the step does not shape them); each fails with
  the downstream's failure fraction (and is slow with its slow fraction) at the time it is
  made. When all were made, the breaker judges them (as resilience4j does, on the last
  trial call, not on the clock; calls so sparse that a step does not end on the last trial
  let less than a step's calls more through): failure rate or slow-call rate >= its
  threshold re-opens (for another wait), else it closes with an empty window. Without calls it stays half-open (nothing to judge), and a
  closed breaker without calls records nothing, so it never trips on a stale ratio.
- **Clock.** Trips and ends of the wait happen at ticks every "Evaluation period"; the four
  states (mode, end of the wait, and two counters that hold the window when closed and the
  trial calls when half-open; a third counter for slow calls) are discrete (one-step pipelines, `library/parts/_wiring.held`),
  updated once per step from the step's own values, so Euler and RK4 move the breaker alike.
- **Per caller instance.** "Instances" callers each hold a breaker and see Calls / Instances.
  In this fluid model they see the same failure fraction and move in step: the aggregate
  behaves like one breaker whose minimum call volume takes Instances times longer to reach
  and which lets Instances x permitted calls through when half-open.
"""
from __future__ import annotations

import math

from sdmodels import Model, canonical, exp, if_then_else, maximum, minimum
from sdmodels.expr import Ref

from library.parts._wiring import held

R4J = "resilience4j CircuitBreaker default"

INPUTS = {
    "Calls": (100.0, "req/s", "wired by the caller: calls offered to the breaker"),
    "Failure fraction": (0.0, "1", "wired from downstream: share of permitted calls failing"),
    "Enabled": (1.0, "0/1", "1 = the breaker acts; 0 = every call passes"),
    "Instances": (1.0, "1", "callers that each hold a breaker (1 = one for the group)"),
    "Failure rate threshold": (0.5, "1", R4J + " failureRateThreshold 50"),
    "Sliding window size": (100.0, "calls", R4J + " slidingWindowSize 100 (COUNT_BASED)"),
    "Minimum number of calls": (100.0, "calls", R4J + " minimumNumberOfCalls 100"),
    "Wait duration in open state": (60.0, "s", R4J + " waitDurationInOpenState 60 s"),
    "Permitted calls in half-open state": (10.0, "calls", R4J + " "
                                           "permittedNumberOfCallsInHalfOpenState 10"),
    "Evaluation period": (0.1, "s", "assumption: resilience4j judges on every call; the "
                          "model's clock ticks every 0.1 s (a multiple of the steps used)"),
}
#: the inputs of slow-call detection (`circuit_breaker(slow_calls=True)`)
SLOW_CALLS = {
    "Slow call fraction": (0.0, "1", "wired from the callee's latency model: share of "
                           "permitted calls slower than the slow-call duration threshold"),
    "Slow call rate threshold": (1.0, "1", R4J + " slowCallRateThreshold 100"),
    "Slow call duration threshold": (60.0, "s", R4J + " slowCallDurationThreshold 60 s (read "
                                     "by the caller to wire 'Slow call fraction')"),
}


def _state(m, name, initial, units, doc=""):
    """A discrete state whose next value is the element 'Next <name>' (defined later)."""
    return held(m, name, Ref(canonical(f"Next {name}")), initial, units=units, doc=doc)


def circuit_breaker(*, slow_calls: bool = False, **overrides) -> Model:
    """A closed / open / half-open circuit breaker (resilience4j semantics and defaults);
    `slow_calls` adds slow-call detection (its inputs `SLOW_CALLS` and a window counter):
    without it the part is the failure-rate breaker alone, with fewer loops."""
    m = Model("circuit_breaker", stop=300, dt=0.05, time_units="second",
              doc="closed / open / half-open breaker judging real trial calls")
    p = m.inputs({**INPUTS, **SLOW_CALLS} if slow_calls else INPUTS, overrides)
    dt, t = m.dt_expr, m.time
    on, thr = p["Enabled"], p["Failure rate threshold"]
    size, permitted = maximum(p["Sliding window size"], 1), p["Permitted calls in half-open state"]
    fail = maximum(0, minimum(1, p["Failure fraction"]))
    # four discrete states; the two counters serve the closed state (the sliding window) and
    # the half-open state (the trial calls) alike, as the window is emptied at every change
    mode = _state(m, "Breaker mode", 0.0, "1", "0 closed, 1 open, 2 half-open")
    until = _state(m, "Open until", -1.0, "s", "end of the current wait in the open state")
    w_calls = _state(m, "Window calls", 0.0, "calls",
                     "closed: weighted calls in the sliding window; half-open: trial calls made")
    w_fail = _state(m, "Window failures", 0.0, "calls",
                    "closed: weighted failures in the window; half-open: trial calls failed")
    counters = [("Window failures", w_fail, fail)]
    if slow_calls:
        w_slow = _state(m, "Window slow calls", 0.0, "calls",
                        "closed: weighted slow calls in the window; half-open: trial calls slow")
        counters.append(("Window slow calls", w_slow,
                         maximum(0, minimum(1, p["Slow call fraction"]))))

    closed, is_open, half = mode.eq(0), mode.eq(1), mode.eq(2)
    per = m.aux("Calls per instance", p["Calls"] / maximum(p["Instances"], 1), units="req/s")
    period = maximum(p["Evaluation period"], dt)
    # half-open: trial calls go at the call rate, at most 'permitted' per tick of the clock,
    # so any step shorter than the clock's period sends them alike (no pulse permitted / dt)
    cap = minimum(1, permitted / period / maximum(per, 1e-9))
    share = closed + half * cap
    # (the state machine reads the counters, the mode and the clock only - not the outputs
    # above - so few paths lead through it from the calls to the admission: few loops)
    m.aux("Failure rate seen", w_fail / maximum(w_calls, 1e-9), units="1",
          doc="failure rate over the sliding window (closed) or of the trial calls")
    if slow_calls:
        m.output(m.aux("Slow call rate seen", w_slow / maximum(w_calls, 1e-9), units="1",
                       doc="slow-call rate over the sliding window (closed) or of the trial "
                       "calls"))
    eps = dt * 1e-6
    tick = m.aux("Breaker clock tick", math.floor((t + eps) / period)
                 > math.floor((t - dt + eps) / period), units="0/1")
    # the window, filled from empty, holds size (1 - exp(-n / size)) after n calls: the
    # minimum number of calls is reached when it holds that much for n = the minimum
    volume = size * (1 - exp(-p["Minimum number of calls"] / size)) * (1 - 1e-9)
    failing = w_fail >= thr * w_calls
    if slow_calls:      # resilience4j: failure rate OR slow-call rate at its threshold
        failing = failing | (w_slow >= p["Slow call rate threshold"] * w_calls)
    # one transition per step, coded 0 none, 1 trip, 2 half-open, 3 re-open, 4 close: every
    # state's next value reads this one element, so the state machine adds few loops
    # (trips and the end of the wait on the clock's ticks; the trial calls are judged when
    # the last of them was made, as resilience4j does, so none beyond them pass)
    event = m.aux("Breaker transition", if_then_else(on > 0, tick * (
        closed * (w_calls >= volume) * failing + 2 * is_open * (t >= until))
        + half * (w_calls >= permitted - 1e-9) * if_then_else(failing, 3, 4),
        4 * (1 - closed)), units="1",
        doc="0 none, 1 trip (closed -> open), 2 open -> half-open, 3 re-open, 4 close")
    # the trial calls stop on the step that judges them
    admit = m.aux("Admission fraction", if_then_else(on > 0, share - half * cap * (event > 0),
                                                     1), units="1",
                  doc="share of calls the breaker lets through")
    m.aux("Breaker trips", event.eq(1), units="0/1")
    m.aux("Next Breaker mode", if_then_else(event.eq(1) | event.eq(3), 1, if_then_else(
        event.eq(2), 2, if_then_else(event.eq(4), 0, mode))), units="1")
    m.aux("Next Open until", if_then_else(event.eq(1) | event.eq(3),
                                          t + p["Wait duration in open state"], until), units="s")
    made = per * if_then_else(on > 0, share, 1) * dt   # calls let through this step
    keep = if_then_else(closed, exp(-made / size), 1)   # the window fades only when closed
    kept = event.eq(0)                             # every state change empties the counters
    m.aux("Next Window calls", kept * (w_calls * keep + if_then_else(
        closed, size * (1 - keep), made)), units="calls")
    for name, counter, share in counters:
        m.aux(f"Next {name}", kept * (counter * keep + if_then_else(
            closed, size * share * (1 - keep), made * share)), units="calls")

    m.aux("Breaker state", is_open + 0.5 * half, units="1",
          doc="0 closed, 0.5 half-open, 1 open")
    m.aux("Permitted calls", p["Calls"] * admit, units="req/s")
    m.aux("Rejected calls", p["Calls"] * (1 - admit), units="req/s",
          doc="calls refused at once (CallNotPermittedException)")
    for name in ("Breaker state", "Admission fraction", "Permitted calls", "Rejected calls",
                 "Failure rate seen", "Breaker trips"):
        m.output(name)
    return m


PARTS = (circuit_breaker,)
