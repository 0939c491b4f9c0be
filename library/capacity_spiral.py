"""Capacity planning spiral: outages cause over-provisioning, cost pressure cuts it back.

From the reference's Part 3.6 ("The Capacity Planning Spiral"), with the delays of Part 2 (a
balancing loop with a long delay overshoots both ways) and the fixes of Part 3.6 / Part 4
(load testing, autoscaling, cost attribution; checklist: "what is the total delay around the
loop?"). Time is in months; capacity and demand are in multiples of the normal demand at
launch ("x normal", the reference's unit).

Composed of the `ops.capacity_budget` part (library/parts/ops.py: routine planning,
post-mortem over-provisioning, the yearly budget review as a discrete controller, and the
fixes) fed by the demand, the only thing driven by the clock: "Normal demand" grows by
"Demand growth" a year and a Black Friday peak of "Peak multiplier" x normal comes every 12
months at "Peak month" (a Gaussian bump "Peak width" months wide). An outage (demand above
capacity) brings a post-mortem that buys "Post-mortem safety factor" x the peak that broke
it ("20x normal, just in case"); at each budget review finance cuts "Budget cut fraction" of
capacity if the utilization it sees is under "Utilization floor".

The spiral is the two balancing loops (post-mortem over-provisioning, cost cutting) acting
through long, unequal delays: an outage moves capacity up within weeks, the budget takes it
down months later, growth brings the next peak above it. With a safety factor F, a cut c and
growth g per year, the outage recurs after the first whole number of years n with
((1 + g) / (1 - c))^n > F (cut at every review): the reference's F = 2, c = 50 %, g = 20 %
give n = 1, an outage every year ("Loop repeats").

Fixes (switches of the same model, 0 = off, 1 = on):

- "Autoscaling": capacity follows demand at "Autoscaling target utilization" (the reference's
  HPA target of 70 %); autoscaling acts in minutes, far below this model's time step, so it
  is modelled without lag (the `hpa_autoscaler` model covers its own dynamics).
- "Load testing": the real limit is known, so post-mortems and routine planning provision to
  the forecast peak (last 12 months' peak x (1 + growth)) plus "Load test margin" instead of
  a guess, and budget cuts stop at that level. With autoscaling on as well, the tested peak
  is the autoscaler's to reach, so the fixed fleet is no longer held at peak size.
- "Cost attributed to revenue": finance judges capacity by the peak traffic it serves (the
  forecast peak over capacity) instead of the monthly average, so peak capacity is not cut.

Example::

    from library import capacity_spiral
    from sdmodels import run
    df = run(capacity_spiral.build(), scenario="trigger")
    df["Outage time"].iloc[-1]
"""
from __future__ import annotations

from sdmodels import Model, exp, ln, modulo

from library.parts._wiring import conversion, expose, part_parameters
from library.parts.ops import BUDGET, MONTHS_PER_YEAR, capacity_budget

#: the model's own parameters; the part's inputs it does not wire come from the part's
#: table (defaults, units and sources written once)
PARAMETERS = {
    "Launch normal demand": (1.0, "x normal", "Part 3.6: the unit, 'normal' traffic at launch"),
    "Peak multiplier": (10.0, "1", "Part 3.6: Black Friday, 'Traffic: 10x normal'"),
    "Peak month": (10.9, "month", "Part 3.6: 'Year 2, Month 11: pre-holiday traffic'; Black "
                   "Friday is late November (time 0 = 1 January of year 1)"),
    "Peak width": (0.1, "month", "assumption: about 3 days (Black Friday to Cyber Monday)"),
    **part_parameters(BUDGET, skip=("Demand",)),
}

FIXES = {"Autoscaling": 1.0, "Load testing": 1.0, "Cost attributed to revenue": 1.0}

KEY_OUTPUTS = ["Demand", "Provisioned capacity", "Outage time", "Utilization"]


def build(**overrides) -> Model:
    """The capacity-planning-spiral model; overrides replace parameter defaults by display name.

    >>> from library.capacity_spiral import build
    >>> sorted(build().scenarios)[:3]
    ['autoscaling only', 'baseline', 'cost attribution only']
    """
    m = Model("capacity_spiral", start=0, stop=120, dt=1 / 64, saveper=1 / 16,
              time_units="month", doc="Part 3.6: the capacity planning spiral")
    c = m.parameters(PARAMETERS, overrides)
    year = conversion(m, "One year", "year", "the growth a year brings is "
                      "1 + growth x 1 year")
    months = conversion(m, "Year length", "month", "a year on the model's month clock",
                        value=MONTHS_PER_YEAR)
    normal = m.aux("Normal demand", c["Launch normal demand"] * exp(
        m.time / months * ln(1 + c["Demand growth"] * year)), units="x normal")
    phase = m.aux("Months from peak", modulo(m.time - c["Peak month"] + 6, 12) - 6,
                  units="month")
    bump = exp(-(phase / c["Peak width"]) ** 2)
    demand = m.aux("Demand", normal * (1 + (c["Peak multiplier"] - 1) * bump), units="x normal")
    fleet = m.module("fleet", capacity_budget(), display="Fleet")
    fleet.connect("Demand", demand)
    for name in set(BUDGET) & set(PARAMETERS):
        fleet.connect(name, c[name])
    expose(m, fleet, ["Perceived demand", "Forecast peak", "Provisioned capacity",
                      "Autoscaled capacity", "Total capacity", "Unserved demand", "Outage",
                      "Outage peak", "Outage time", "Utilization", "Utilization seen by finance",
                      "Cut requested", "Approved cut", "Capacity cost"])

    m.add_scenario("baseline", {"Peak multiplier": 1.0},
                   doc="steady growth, no holiday peak: routine planning keeps up")
    m.add_scenario("trigger", {"Peak multiplier": 10.0},
                   doc="the reference's story: a 10x Black Friday every year, no fixes")
    m.add_scenario("fixed", {"Peak multiplier": 10.0, **FIXES},
                   doc="the same peaks with autoscaling, load testing and cost attribution")
    m.add_scenario("autoscaling only", {"Peak multiplier": 10.0, "Autoscaling": 1.0})
    m.add_scenario("load testing only", {"Peak multiplier": 10.0, "Load testing": 1.0})
    m.add_scenario("cost attribution only", {"Peak multiplier": 10.0,
                                             "Cost attributed to revenue": 1.0})
    return m
