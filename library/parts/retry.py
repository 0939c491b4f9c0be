"""Retry client: attempt generations, backoff with jitter, max attempts, a token-bucket budget.

- **Generations.** Generation 1 is the first attempt, generation k + 1 the retry of a failed
  generation-k attempt, sent while k <= "Max retries" (up to 5 retries modelled). An attempt
  fails with the "Failure fraction" the downstream reports for attempts sent now (timeouts,
  errors, 429s of a rate limiter: a limiter wired between the client and the server counts
  retries against the limit, since the client sends them like first attempts); a "Shed
  fraction" is refused without a retry (an open breaker's CallNotPermittedException, which
  retry policies usually ignore).
- **Backoff.** A failure is known "Failure delay" after sending (the timeout), then the
  client sleeps backoff b_k = min("Max backoff", base x m^(k-1)) with "Exponential backoff"
  (m the "Backoff multiplier", resilience4j's exponentialBackoffMultiplier, 2 by default),
  else the base. Jitter (AWS Architecture Blog, M. Brooker, "Exponential Backoff And
  Jitter", 2015): 0 = none, a pipeline delay (DELAY FIXED) that keeps the retries of a burst
  together; 1 = full jitter, sleep uniform on [0, b]; 2 = equal jitter, b / 2 + uniform on
  [0, b / 2]; 3 = resilience4j's randomized wait, uniform on [b (1 - f), b (1 + f)] with f
  the "Jitter factor" (randomizedWaitFactor; IntervalFunction.ofRandomized), whose mean is
  b. The uniform part is an Erlang-3 delay (DELAY3) with its mean and variance (the
  uniform's coefficient of variation is 1 / sqrt(3), an Erlang-3's too): it spreads a burst.
- **Retry budget** (a token bucket). Every request deposits "Retry budget ratio" tokens,
  every retry spends one, the bucket holds at most "Retry budget size": Finagle's RetryBudget
  (twitter.github.io/finagle, "Retries": percentCanRetry of requests, deposits per request,
  withdrawals per retry) and gRPC's retry throttling (gRFC A6: maxTokens, tokenRatio). So
  over any interval, retries <= ratio x requests + bucket size. A retry without a token is
  not sent (the request fails).
"""
from __future__ import annotations

from sdmodels import (Dim, Model, canonical, delay3, delay_fixed, if_then_else, maximum,
                      minimum, sum_over)
from sdmodels.expr import Ref

from library.parts._wiring import conversion


GENERATIONS = 6     # first attempt + up to 5 retries

INPUTS = {
    "Demand": (100.0, "req/s", "wired by the caller: requests the users make (first attempts)"),
    "Failure fraction": (0.0, "1", "wired from downstream: share of attempts that fail"),
    "Shed fraction": (0.0, "1", "wired from a breaker: share refused without a retry"),
    "Failure delay": (1.0, "s", "assumption: a failure is known at the 1 s client timeout"),
    "Max retries": (3.0, "retries", "reference hands-on exercise: 3 retries (at most 5)"),
    "Backoff base": (1.0, "s", "reference hands-on exercise: 1 s fixed delay"),
    "Exponential backoff": (0.0, "0/1", "reference Part 4 Principle 4: delay doubles"),
    "Backoff multiplier": (2.0, "1", "resilience4j Retry exponentialBackoffMultiplier "
                           "default 2 (the delay doubles)"),
    "Max backoff": (30.0, "s", "reference hands-on exercise fix: max 30 s"),
    "Jitter": (0.0, "0/1", "0 none, 1 full, 2 equal (AWS 'Exponential Backoff And Jitter'), "
               "3 b x (1 +/- factor) (resilience4j randomized wait)"),
    "Jitter factor": (0.5, "1", "resilience4j Retry randomizedWaitFactor default 0.5 (with "
                      "Jitter 3)"),
    "Retry budget on": (0.0, "0/1", "1 = retries need a token (Finagle RetryBudget)"),
    "Retry budget ratio": (0.1, "retries/req", "Google SRE book 'Handling Overload': retries "
                           "at most 10 % of requests (gRPC retryThrottling tokenRatio 0.1)"),
    "Retry budget size": (10.0, "tokens", "gRPC retryThrottling maxTokens example 10"),
}


BUDGET = ("Retry budget on", "Retry budget ratio", "Retry budget size")


def mean_waits(retries: int, base: float, max_backoff: float, *, exponential: bool,
               jitter: float, multiplier: float = 2.0) -> list[float]:
    """The mean sleep before each retry, as `retry_client` models it (before the timeout):
    b_k = min(max, base x multiplier^(k-1)) with exponential backoff, else the base; jitter 0 and 3
    (resilience4j's, symmetric) keep the mean b_k, 1 (full) sleeps b_k / 2 on average,
    2 (equal) 3 b_k / 4.

    >>> mean_waits(3, 1.0, 30.0, exponential=True, jitter=2.0)
    [0.75, 1.5, 3.0]
    """
    share = {0.0: 1.0, 1.0: 0.5, 2.0: 0.75, 3.0: 1.0}[float(jitter)]
    return [min(max_backoff, base * (multiplier ** (k - 1) if exponential else 1.0)) * share
            for k in range(1, retries + 1)]


def retry_client(*, budget: bool = True, **overrides) -> Model:
    """Clients that retry failed attempts with backoff, jitter and a retry budget.

    `budget=False` builds clients without a retry budget (no token bucket, no "Retry budget
    ..." inputs, every retry wanted is sent): the numbers of a budget that is off, without
    the paths from the retries wanted through the bucket back to the retries sent, which
    multiply the loops of every model around the part.
    """
    m = Model("retry_client", stop=120, dt=0.05, time_units="second",
              doc="attempt generations with backoff, jitter and a token-bucket retry budget")
    p = m.inputs({k: v for k, v in INPUTS.items() if budget or k not in BUDGET}, overrides)
    dt = m.dt_expr
    gen = Dim("attempt", GENERATIONS)
    number = m.aux("Attempt number", {f"attempt{k}": float(k)
                                      for k in range(1, GENERATIONS + 1)},
                   dims=[gen], units="1", doc="1 = first attempt, 2 = first retry, ...")
    backoff = m.aux("Backoff", minimum(p["Max backoff"], p["Backoff base"] * if_then_else(
        p["Exponential backoff"] > 0, p["Backoff multiplier"] ** (number - 1), 1)), dims=[gen],
        units="s",
        doc="sleep before retrying a failed attempt of this generation (before jitter)")
    jitter, factor = p["Jitter"], p["Jitter factor"]
    fixed = if_then_else(jitter.eq(0), backoff, if_then_else(jitter.eq(2), backoff / 2, if_then_else(
        jitter.eq(3), backoff * (1 - factor), 0)))
    spread = m.aux("Jitter mean", if_then_else(jitter.eq(2), backoff / 4, if_then_else(
        jitter.eq(3), backoff * factor, backoff / 2)), dims=[gen], units="s",
        doc="mean of the uniform (random) part of the sleep")
    issued = Ref(canonical("Retries issued"))
    # one auxiliary, read twice below (written inline, each read was a pipeline of its own)
    pipe = m.aux("Retries due", delay_fixed(issued, p["Failure delay"] + fixed, 0), dims=[gen],
                 units="req/s", doc="retries whose timeout and fixed part of the sleep have "
                 "passed (before the jittered part)")
    arriving = m.aux("Retries arriving", if_then_else(jitter > 0, delay3(
        pipe, maximum(spread, 3 * dt), 0), pipe), dims=[gen], units="req/s",
        doc="retries sent now: timeout + backoff after the failure, spread by jitter")
    sent = m.aux("Attempts sent", {f"attempt{k}": p["Demand"] if k == 1
                                   else arriving[f"attempt{k - 1}"]
                                   for k in range(1, GENERATIONS + 1)},
                 dims=[gen], units="req/s")
    attempts = m.aux("Attempts", sum_over(sent, gen), units="req/s",
                     doc="offered load: first attempts + retries")
    shed, fail = p["Shed fraction"], p["Failure fraction"]
    failed = m.aux("Failed attempts", sent * (1 - shed) * fail, dims=[gen], units="req/s",
                   doc="attempts that failed and may be retried")
    retry = conversion(m, "Retry unit", "retries", "one retry: a failed attempt of "
                       "generation k is retried as retry number k")
    wanted = m.aux("Retries wanted", failed * (number * retry <= p["Max retries"]), dims=[gen],
                   units="req/s")
    total = m.aux("Total retries wanted", sum_over(wanted, gen), units="req/s")
    if budget:
        allowed = _budget(m, p, wanted, total, gen)
    else:
        allowed = total
        m.aux("Retries issued", wanted, dims=[gen], units="req/s")
    m.aux("Retry rate", allowed, units="req/s")
    m.aux("Successes", attempts * (1 - shed) * (1 - fail), units="req/s",
          doc="attempts that succeeded")
    m.aux("Given up", sum_over(sent, gen) * shed + sum_over(failed, gen) - allowed,
          units="req/s", doc="requests that end failed: shed, out of attempts or of budget")
    m.aux("Amplification", attempts / maximum(p["Demand"], 1e-9), units="1",
          doc="attempts per request")
    for name in ("Attempts", "Retry rate", "Successes", "Given up", "Amplification",
                 *(("Retry tokens",) if budget else ())):
        m.output(name)
    if budget:
        m.name_loop("Retry budget caps retries", ["Retries allowed", "Retry token spending",
                                                  "Retry tokens"])
    return m


def _budget(m: Model, p, wanted, total, gen):
    """The token bucket: filled per request, emptied per retry. Returns the retries
    allowed (req/s) and defines "Retries issued", the retries wanted scaled to them."""
    dt = m.dt_expr
    tokens = m.stock("Retry tokens", initial=p["Retry budget size"], units="tokens",
                     non_negative=True)
    per_token = conversion(m, "Retries per token", "retries/token", "a token pays for one "
                           "retry (Finagle RetryBudget, gRPC retry throttling)")
    deposit = p["Retry budget ratio"] * p["Demand"] / per_token
    allowed = m.aux("Retries allowed", if_then_else(p["Retry budget on"] > 0, minimum(
        total, (deposit + tokens / dt) * per_token), total), units="req/s")
    m.flow("Retry token spending", allowed / per_token * (p["Retry budget on"] > 0),
           out_of=tokens, units="tokens/s")
    m.flow("Retry token deposits", minimum(deposit, (p["Retry budget size"] - tokens) / dt
                                           + allowed / per_token), into=tokens, units="tokens/s")
    scale = m.aux("Retry budget scale", allowed / maximum(total, 1e-9), units="1")
    m.aux("Retries issued", wanted * scale, dims=[gen], units="req/s")
    return allowed


PARTS = (retry_client,)
