"""Traffic source: a constant rate plus a ramp, a spike, a daily cycle and a replayed series.

Rate(t) = max(0, base x (1 + amplitude x cos(2 pi (t - peak time) / period))
               + RAMP(slope, start, end) + spike height x PULSE(spike start, duration)
               + replay weight x series(t))
Each component is off at its default (slope 0, height 0, amplitude 0, weight 0), so the part
is a constant source until told otherwise. A replayed series is a lookup over time (clamped
at its ends), given as ``traffic(series=[(t, rate), ...])``: a day of real traffic, an
incident's load curve.
"""
from __future__ import annotations

import math

from sdmodels import Model, maximum, pulse, ramp
from sdmodels.expr import Call
from sdmodels.operators import Function


INPUTS = {
    "Base rate": (100.0, "req/s", "assumption: steady demand"),
    "Ramp slope": (0.0, "req/s/s", "off by default: growth of the rate per second"),
    "Ramp start": (0.0, "s", "when the ramp begins"),
    "Ramp end": (1e9, "s", "when the ramp stops growing (default: never)"),
    "Spike height": (0.0, "req/s", "off by default: extra rate during the spike"),
    "Spike start": (60.0, "s", "when the spike begins"),
    "Spike duration": (10.0, "s", "how long the spike lasts"),
    "Diurnal amplitude": (0.0, "1", "off by default: daily swing as a share of the base rate"),
    "Diurnal period": (86400.0, "s", "one day"),
    "Diurnal peak time": (0.0, "s", "time of the daily peak"),
    "Replay weight": (0.0, "1", "off by default: 1 adds the replayed series"),
}


def traffic(series=None, **overrides) -> Model:
    """Requests per second: constant, ramp, spike, diurnal cycle and a replayed series."""
    m = Model("traffic", stop=600, dt=0.5, time_units="second",
              doc="demand as a function of time")
    p = m.inputs(INPUTS, overrides)
    points = list(series) if series is not None else [(0.0, 0.0), (1.0, 0.0)]
    replay = m.lookup("Replayed series", points, units="req/s",
                      doc="recorded request rate over time (clamped at its ends)")
    phase = 2 * math.pi * (m.time - p["Diurnal peak time"]) / p["Diurnal period"]
    daily = p["Base rate"] * (1 + p["Diurnal amplitude"] * Call(Function.COS, (phase,)))
    m.output(m.aux("Rate", maximum(0, daily + ramp(p["Ramp slope"], p["Ramp start"],
                                                   p["Ramp end"])
                                   + p["Spike height"] * pulse(p["Spike start"],
                                                               p["Spike duration"])
                                   + p["Replay weight"] * replay(m.time)),
                   units="req/s", doc="requests per second"))
    return m


PARTS = (traffic,)
