"""Circuit breaker: closed / open / half-open, a discrete controller on its own clock.

Semantics and defaults of resilience4j's CircuitBreaker (resilience4j.readme.io,
"CircuitBreaker"): failureRateThreshold 50 %, a COUNT_BASED slidingWindowSize of 100 calls,
minimumNumberOfCalls 100, waitDurationInOpenState 60 s, permittedNumberOfCallsInHalfOpenState
10, maxWaitDurationInHalfOpenState 0 (half-open until the trial calls are made). Envoy's
outlier detection (envoyproxy.io, "Outlier detection") is the other reference: an ejected
host stays out for base_ejection_time (30 s) times the number of ejections, success-rate
ejection needs success_rate_request_volume (100) requests in the interval (10 s) - the same
"minimum volume, then judge" shape.

- **Closed.** Calls pass. The failure rate is taken over a window of the last "Sliding window
  size" calls; the fluid model keeps it as an exponentially weighted count (each call
  weighs in, older calls fade by exp(-calls / N)), updated per step exactly for constant
  inputs. It trips when, at a tick of its clock, at least "Minimum number of calls" calls
  were recorded since the last state change and the failure rate is >= the threshold.
- **Open.** Every call is rejected at once ("Rejected calls", not sent) until the wait
  duration has passed (a time stamp, so the duration does not depend on the step).
- **Half-open.** "Permitted calls in half-open state" trial calls pass; each fails with the
  downstream's failure fraction at the time it is made. When all were made, the breaker
  judges them: failure rate >= threshold re-opens (for another wait), else it closes with an
  empty window. Without calls it stays half-open (nothing to judge), and a closed breaker
  without calls records nothing, so it never trips on a stale ratio.
- **Clock.** Decisions happen at ticks every "Evaluation period"; states and counters are
  discrete (one-step pipelines, `library/parts/_wiring.held`), updated once per step from
  the step's own values, so Euler and RK4 move the breaker alike.
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


def _state(m, name, initial, units, doc=""):
    """A discrete state whose next value is the element 'Next <name>' (defined later)."""
    return held(m, name, Ref(canonical(f"Next {name}")), initial, units=units, doc=doc)


def circuit_breaker(**overrides) -> Model:
    """A closed / open / half-open circuit breaker (resilience4j semantics and defaults)."""
    m = Model("circuit_breaker", stop=300, dt=0.05, time_units="second",
              doc="closed / open / half-open breaker judging real trial calls")
    p = m.inputs(INPUTS, overrides)
    dt, t = m.dt_expr, m.time
    on, thr = p["Enabled"], p["Failure rate threshold"]
    fail = maximum(0, minimum(1, p["Failure fraction"]))
    mode = _state(m, "Breaker mode", 0.0, "1", "0 closed, 1 open, 2 half-open")
    until = _state(m, "Open until", -1.0, "s", "end of the current wait in the open state")
    seen = _state(m, "Calls since reset", 0.0, "calls", "calls recorded since the last change")
    w_calls = _state(m, "Window calls", 0.0, "calls", "weighted calls in the sliding window")
    w_fail = _state(m, "Window failures", 0.0, "calls", "weighted failures in the window")
    trials = _state(m, "Trial calls", 0.0, "calls", "half-open trial calls made")
    t_fail = _state(m, "Trial failures", 0.0, "calls", "half-open trial calls that failed")

    closed, is_open, half = mode.eq(0), mode.eq(1), mode.eq(2)
    per = m.aux("Calls per instance", p["Calls"] / maximum(p["Instances"], 1), units="req/s")
    permitted = p["Permitted calls in half-open state"]
    trial_rate = minimum(per, maximum(0, permitted - trials) / dt)
    admit = m.aux("Admission fraction", if_then_else(on > 0, closed + half * trial_rate / maximum(
        per, 1e-9), 1), units="1", doc="share of calls the breaker lets through")
    rate = m.aux("Failure rate seen", w_fail / maximum(w_calls, 1e-9), units="1",
                 doc="failure rate over the sliding window (closed state)")
    period = maximum(p["Evaluation period"], dt)
    eps = dt * 1e-6
    tick = m.aux("Breaker clock tick", math.floor((t + eps) / period)
                 > math.floor((t - dt + eps) / period), units="0/1")
    judged = half * tick * (trials >= permitted - 1e-9)
    # one transition per step, coded 0 none, 1 trip, 2 half-open, 3 re-open, 4 close: every
    # state's next value reads this one element, so the state machine adds few loops
    event = m.aux("Breaker transition", if_then_else(on > 0, (
        closed * tick * (seen >= p["Minimum number of calls"]) * (rate >= thr)
        + 2 * is_open * tick * (t >= until)
        + judged * if_then_else(t_fail >= thr * trials, 3, 4)), 4 * (1 - closed)), units="1",
        doc="0 none, 1 trip (closed -> open), 2 open -> half-open, 3 re-open, 4 close")
    opens, close = event.eq(1) | event.eq(3), event.eq(4)
    m.aux("Breaker trips", event.eq(1), units="0/1")
    m.aux("Next Breaker mode", if_then_else(opens, 1, if_then_else(
        event.eq(2), 2, if_then_else(close, 0, mode))), units="1")
    m.aux("Next Open until", if_then_else(opens, t + p["Wait duration in open state"], until),
          units="s")
    made = per * admit * dt                        # calls let through this step, per instance
    keep = exp(-made / maximum(p["Sliding window size"], 1))
    size = p["Sliding window size"]
    kept = 1 - (opens | close)                     # every state change empties the window
    m.aux("Next Calls since reset", kept * (seen + closed * made), units="calls")
    m.aux("Next Window calls", kept * if_then_else(
        closed, w_calls * keep + size * (1 - keep), w_calls), units="calls")
    m.aux("Next Window failures", kept * if_then_else(
        closed, w_fail * keep + size * fail * (1 - keep), w_fail), units="calls")
    fresh = 1 - (event.eq(2) | (event >= 3))       # trials restart: half-open entered, judged
    m.aux("Next Trial calls", fresh * (trials + half * made), units="calls")
    m.aux("Next Trial failures", fresh * (t_fail + half * made * fail), units="calls")

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
