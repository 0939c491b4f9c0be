"""CDN / edge cache: answers a share of requests at the edge and forwards the rest.

A CDN in front of an API answers cacheable responses from its edge ("Hit ratio") and
forwards the others to the origin; a caller sees the origin's latency and failures on the
forwarded share only (edge hits are taken as instant and successful: a CDN's own failures are
outside these models).
"""
from __future__ import annotations

from sdmodels import Model


INPUTS = {
    "Requests": (100.0, "req/s", "wired by the caller: requests reaching the edge"),
    "Hit ratio": (0.0, "1", "assumption: API responses are not cached at the edge"),
    "Downstream latency": (0.0, "s", "wired from the origin: its response time"),
    "Downstream failure fraction": (0.0, "1", "wired from the origin: its failures"),
}


def cdn(**overrides) -> Model:
    """An edge cache: hits answered at the edge, misses forwarded to the origin."""
    m = Model("cdn", stop=60, dt=0.01, time_units="second", doc="edge hits and forwarded misses")
    p = m.inputs(INPUTS, overrides)
    miss = 1 - p["Hit ratio"]
    m.output(m.aux("Forwarded", p["Requests"] * miss, units="req/s",
                   doc="requests the edge sends on to the origin"))
    m.output(m.aux("Latency", miss * p["Downstream latency"], units="s",
                   doc="mean response time over hits (instant) and misses"))
    m.output(m.aux("Failure fraction", miss * p["Downstream failure fraction"], units="1"))
    return m


PARTS = (cdn,)
