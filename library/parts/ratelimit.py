"""Rate limiter (token bucket) and load balancer with readiness gating.

Rate limiter: a bucket of at most "Burst" tokens refilled at "Rate" tokens/s; a request
takes a token or is rejected with a 429 (the token-bucket algorithm of Envoy's local rate
limit filter, token_bucket {max_tokens, tokens_per_fill, fill_interval}, and of nginx's
limit_req with burst). In the fluid model the admitted rate is min(requests, rate + tokens /
dt): a full bucket passes a burst of "Burst" requests at once, an empty one passes "Rate".
Retries sent through the limiter take tokens like first attempts: wire a retry client's
"Attempts" here and the "Rejected share" back as a failure, and retries count against the
limit.

Load balancer: traffic goes only to pods that are ready and hold a connection to what they
need (Kubernetes removes a pod that fails its readiness probe from the Service's endpoints;
kubernetes.io, "Configure Liveness, Readiness and Startup Probes"). Pods that are running but
not ready get nothing; with no serving pod the requests fail (503).
"""
from __future__ import annotations

from sdmodels import Model, maximum, minimum


LIMITER_INPUTS = {
    "Requests": (100.0, "req/s", "wired by the caller: requests arriving at the limiter"),
    "Rate": (1000.0, "req/s", "reference hands-on exercise: 'Rate Limit: 1000 req/s per user'"),
    "Burst": (100.0, "req", "assumption: a bucket of 0.1 s of the rate"),
}

BALANCER_INPUTS = {
    "Requests": (100.0, "req/s", "wired by the caller: requests to spread over the pods"),
    "Ready pods": (10.0, "pod", "wired from the pods: pods passing their readiness probe"),
    "Connected pods": (10.0, "pod", "wired from the pool: pods holding a connection"),
}


def rate_limiter(**overrides) -> Model:
    """A token-bucket rate limiter: admitted requests and 429 rejections."""
    m = Model("rate_limiter", stop=60, dt=0.01, time_units="second",
              doc="token bucket: rate, burst, 429s")
    p = m.inputs(LIMITER_INPUTS, overrides)
    dt, req = m.dt_expr, p["Requests"]
    tokens = m.stock("Tokens", initial=p["Burst"], units="req", non_negative=True)
    admitted = m.aux("Admitted", minimum(req, p["Rate"] + tokens / dt), units="req/s")
    m.flow("Token use", admitted, out_of=tokens, units="req/s")
    m.flow("Token refill", minimum(p["Rate"], (p["Burst"] - tokens) / dt + admitted),
           into=tokens, units="req/s")
    m.aux("Rejected", req - admitted, units="req/s", doc="429 Too Many Requests")
    m.aux("Rejected share", (req - admitted) / maximum(req, 1e-9), units="1")
    for name in ("Admitted", "Rejected", "Rejected share"):
        m.output(name)
    return m


def load_balancer(**overrides) -> Model:
    """A load balancer that sends traffic only to ready pods holding a connection."""
    m = Model("load_balancer", stop=60, dt=0.5, time_units="second",
              doc="readiness-gated load balancing")
    p = m.inputs(BALANCER_INPUTS, overrides)
    serving = m.aux("Serving pods", maximum(0, minimum(p["Ready pods"], p["Connected pods"])),
                    units="pod", doc="ready pods with a connection: the Service's endpoints")
    has = serving > 0
    m.aux("Routed", p["Requests"] * has, units="req/s")
    m.aux("Unroutable", p["Requests"] * (1 - has), units="req/s",
          doc="requests with no endpoint to go to (503)")
    m.aux("Requests per pod", p["Requests"] / maximum(serving, 1e-9) * has, units="req/s/pod")
    for name in ("Serving pods", "Routed", "Unroutable", "Requests per pod"):
        m.output(name)
    return m


PARTS = (rate_limiter, load_balancer)
