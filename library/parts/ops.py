"""Operations parts: the alert pipeline of an on-call team and the capacity budget cycle.

`alert_pipeline`: alert rules fire noise; the on-call reads up to an attention capacity and
tires under sustained overload; missed incidents bring post-mortems that add rules; fixes
are symptom-based alerting, alert review and alert-to-incident ratio tracking (reference
Part 3.5, "The Alert Storm"). Time in days.

- Real problems arrive at "Incident rate" (wired), each raising one meaningful alert;
  "Noise alert rules" each fire "Noise alerts per rule" a day with no user impact.
- The on-call cannot tell noise from a meaningful alert before reading it, so the share of
  meaningful alerts read is the share of all alerts read; overload builds "Alert fatigue"
  over "Fatigue time" (muted notifications). Meaningful alerts not read are incidents missed.
- Every missed incident's post-mortem adds "Rules added per missed incident" rules after
  "Post-mortem delay" (Erlang-3); cause-based rules add noise (1 - "Symptom-based
  alerting"), and so do the rules wired into "New rules" (a monitoring project).
- "Alert review" deletes "Review deletion fraction" of the rules every "Review interval";
  "Ratio tracking" measures the alert-to-incident ratio and tunes away the excess over
  "Tuning time" (and post-mortems add no alerts while it is above target).

`capacity_budget`: the provisioned capacity of a service against its "Demand" (wired),
under routine planning, post-mortem over-provisioning and yearly budget cuts (reference
Part 3.6, "The Capacity Planning Spiral"). Time in months, capacity in multiples of normal.

- Routine planning provisions "Planning buffer" over the monthly-average demand.
- An outage (demand above capacity) is remembered for "Post-mortem window"; the post-mortem
  buys "Post-mortem safety factor" x the peak that broke it ("20x normal, just in case").
- Finance reviews once every "Budget cycle" at "Budget review month" (a discrete controller:
  sampled at the review, held until the next) and cuts "Budget cut fraction" when the
  utilization it sees is under "Utilization floor"; the cut takes "Cut implementation time".
- Fixes: "Autoscaling" (capacity follows demand at a target utilization, without lag at this
  time scale), "Load testing" (plan to the forecast peak plus a margin; cuts stop there),
  "Cost attributed to revenue" (finance judges capacity by the peak it serves).
"""
from __future__ import annotations

from sdmodels import (Model, delay3, if_then_else, maximum, minimum, modulo, rolling_max,
                      sample_hold, smooth, xidz, zidz)

from library.parts._wiring import conversion


ALERT_REF = "reference Part 3.5"
CAP_REF = "reference Part 3.6"

#: name -> (default, units, source)
ALERTS = {
    "Incident rate": (5.0, "incidents/day", ALERT_REF + ": 'Normal: 5 alerts/day, All meaningful' "
                      "(one meaningful alert per real issue)"),
    "New rules": (0.0, "rules/day", "wired: rules added from outside (a monitoring project)"),
    "Noise alerts per rule": (1.0, "alerts/day/rule", "assumption: a cause-based rule fires about "
                              "once a day without user impact (rules = noise alerts/day)"),
    "Initial noise rules": (0.0, "rules", ALERT_REF + ": normally all alerts are meaningful"),
    "Attention capacity": (20.0, "alerts/day", "assumption within Part 3.5: 5 a day are all read, "
                           "of 50 'most' are ignored, so between 5 and 25"),
    "Fatigue time": (14.0, "day", "assumption: alert fatigue builds over two on-call weeks"),
    "Rules added per missed incident": (2.0, "rules/incident", "assumption: a post-mortem's 'add "
                                        "more monitoring' action items (Part 3.5)"),
    "Post-mortem delay": (7.0, "day", "assumption: post-mortem within a week, then the alert "
                          "ships (Part 2.3: human response and deployment delays)"),
    "Symptom-based alerting": (0.0, "0..1", ALERT_REF + " fix: 'Alert on symptoms, not causes'"),
    "Alert review": (0.0, "0/1", ALERT_REF + " fix: 'Regular alert review: Delete alerts nobody "
                     "acts on'"),
    "Review interval": (7.0, "day", "assumption: weekly, at the on-call hand-over"),
    "Review deletion fraction": (0.5, "1", "assumption: half of the unactionable rules found are "
                                 "deleted at each review"),
    "Ratio tracking": (0.0, "0/1", ALERT_REF + " fix: 'On-call feedback: Track alert-to-incident "
                       "ratio'"),
    "Target alert-to-incident ratio": (2.0, "alerts/incident", "assumption: Part 3.5's healthy "
                                       "state is 1 (every alert meaningful); tolerate 2"),
    "Ratio measurement window": (7.0, "day", "assumption: a weekly on-call report"),
    "Tuning time": (14.0, "day", "assumption: a flagged noisy rule is tuned or deleted within two "
                    "weeks"),
}


def alert_pipeline(**overrides) -> Model:
    """Alert rules, noise, the on-call's attention and fatigue, post-mortems, review."""
    m = Model("alerts", stop=180, dt=0.25, time_units="day",
              doc="alerts an on-call team reads, misses and adds rules for")
    c = m.inputs(ALERTS, overrides)
    cause_share = 1 - c["Symptom-based alerting"]
    rules = m.stock("Noise alert rules", initial=c["Initial noise rules"], units="rules",
                    non_negative=True)
    per_incident = conversion(m, "Alerts per incident", "alerts/incident",
                              "every incident raises one meaningful alert")
    meaningful = m.aux("Meaningful alerts", c["Incident rate"] * per_incident,
                       units="alerts/day")
    noise = m.aux("Noise alerts", rules * c["Noise alerts per rule"], units="alerts/day")
    alerts = m.aux("Alerts per day", meaningful + noise, units="alerts/day")
    # the on-call's attention
    overload = m.aux("Overload", maximum(0, 1 - xidz(c["Attention capacity"], alerts, 1)),
                     units="1", doc="share of alerts beyond what the on-call can read")
    fatigue = m.aux("Alert fatigue", smooth(overload, c["Fatigue time"], 0), units="1",
                    doc="share of notifications muted after sustained overload")
    read = m.aux("Alerts read", minimum(alerts, c["Attention capacity"]) * (1 - fatigue),
                 units="alerts/day")
    m.aux("Alerts ignored", alerts - read, units="alerts/day")
    share_read = m.aux("Share of alerts read", xidz(read, alerts, 1), units="1")
    missed = m.aux("Incidents missed", c["Incident rate"] - meaningful * share_read / per_incident,
                   units="incidents/day")
    # on-call feedback: the alert-to-incident ratio
    ratio = m.aux("Alert-to-incident ratio",
                  xidz(smooth(alerts, c["Ratio measurement window"]), c["Incident rate"], 1),
                  units="alerts/incident")
    excess = m.aux("Excess noise share", c["Ratio tracking"] *
                   maximum(0, 1 - zidz(c["Target alert-to-incident ratio"], ratio)), units="1",
                   doc="the share of alerts above target, as the tracked ratio shows it")
    # "add more monitoring"
    over_target = c["Ratio tracking"] * (ratio > c["Target alert-to-incident ratio"])
    added = m.aux("Monitoring added", delay3(missed * c["Rules added per missed incident"] *
                                             (1 - over_target), c["Post-mortem delay"], 0),
                  units="rules/day", doc="post-mortem action items shipped as new alert rules")
    m.flow("New noise rules", added * cause_share, into=rules, units="rules/day")
    m.flow("Rules from outside", c["New rules"] * cause_share, into=rules, units="rules/day")
    m.flow("Review deletions", c["Alert review"] * rules * c["Review deletion fraction"] /
           c["Review interval"], out_of=rules, units="rules/day")
    m.flow("Noise tuned", excess * rules / c["Tuning time"], out_of=rules, units="rules/day")
    m.stock("Total incidents missed", initial=0, units="incidents")
    m.flow("Missing", missed, into="Total incidents missed", units="incidents/day")

    m.name_loop("Add more monitoring", [rules, alerts, missed, added])
    m.name_loop("Alert fatigue", [fatigue, missed, added, rules])
    m.name_loop("Alert review", [rules, "Review deletions"])
    m.name_loop("Ratio tracking", [rules, ratio, "Noise tuned"])
    for name in ("Alerts per day", "Meaningful alerts", "Noise alerts", "Alerts read",
                 "Alerts ignored", "Share of alerts read", "Alert fatigue", "Overload",
                 "Incidents missed", "Total incidents missed", "Alert-to-incident ratio",
                 "Noise alert rules", "Monitoring added"):
        m.output(name)
    return m


#: name -> (default, units, source)
BUDGET = {
    "Demand": (1.0, "x normal", "wired: the demand the capacity serves"),
    "Demand growth": (0.2, "1/year", CAP_REF + ": the peak is 10x normal in year 1 and 12x in "
                      "year 2: 12 / 10 - 1 = 20 % a year"),
    "Planning buffer": (0.05, "1", CAP_REF + ": 'Provisioned: Just enough, Buffer: ~5%'"),
    "Planning time": (1.0, "month", "assumption: monthly capacity review ('scale as needed')"),
    "Demand averaging time": (1.0, "month", "assumption: planners and finance read monthly "
                              "averages (monthly reports and bills)"),
    "Post-mortem safety factor": (2.0, "1", CAP_REF + ": 'Provisioned: 20x normal (just in case)' "
                                  "after a 10x peak"),
    "Post-mortem window": (3.0, "month", "assumption: post-mortem action items close within a "
                           "quarter"),
    "Provisioning time": (1.0, "month", "assumption: post-mortem purchase to capacity in service"),
    "Utilization floor": (0.15, "1", CAP_REF + ": 10 % utilization prompts 'why are we paying for "
                          "this?', 20 % after the cut is accepted; floor between"),
    "Budget cut fraction": (0.5, "1", CAP_REF + ": 'Reduce cloud spend by 50%'"),
    "Budget cycle": (12.0, "month", CAP_REF + ": one budget decision a year (annual budget)"),
    "Budget review month": (6.0, "month", CAP_REF + ": 'Year 2, Month 6: Budget cuts'"),
    "Cut implementation time": (1.0, "month", "assumption: a cut is carried out in a month"),
    "Autoscaling": (0.0, "0/1", CAP_REF + " fix: 'Autoscaling: Match capacity to demand'"),
    "Autoscaling target utilization": (0.7, "1", "Part 4.1 HPA example: averageUtilization 70"),
    "Load testing": (0.0, "0/1", CAP_REF + " fix: 'Load testing: Know your actual limits'"),
    "Load test margin": (0.2, "1", "assumption: 20 % headroom over the tested forecast peak"),
    "Cost attributed to revenue": (0.0, "0/1", CAP_REF + " fix: 'Cost attribution: Show cost vs. "
                                   "revenue at traffic levels'"),
}
MONTHS_PER_YEAR = 12.0


def capacity_budget(**overrides) -> Model:
    """Provisioned capacity under planning, post-mortems and a yearly budget review."""
    m = Model("capacity", stop=120, dt=1 / 64, time_units="month",
              doc="capacity planning, post-mortem over-provisioning and budget cuts")
    c = m.inputs(BUDGET, overrides)
    demand = c["Demand"]
    seen = m.aux("Perceived demand", smooth(demand, c["Demand averaging time"]),
                 units="x normal", doc="the monthly average planners and finance look at")
    year = conversion(m, "Forecast horizon", "year", "the forecast grows the last peak by "
                      "one year of growth")
    forecast = m.aux("Forecast peak", rolling_max(demand, MONTHS_PER_YEAR) *
                     (1 + c["Demand growth"] * year), units="x normal",
                     doc="last 12 months' peak grown by a year: what a load test plans for")
    requirement = m.aux("Load-tested requirement", forecast * (1 + c["Load test margin"]),
                        units="x normal")
    tested = m.aux("Provisioned for the tested peak", c["Load testing"] * (1 - c["Autoscaling"])
                   * requirement, units="x normal", doc="what load testing says the fixed "
                   "fleet must hold (with autoscaling, the peak is the autoscaler's job)")
    cap = m.stock("Provisioned capacity", initial=(1 + c["Planning buffer"]) * demand,
                  units="x normal", non_negative=True)
    auto = m.aux("Autoscaled capacity", c["Autoscaling"] *
                 maximum(0, demand / c["Autoscaling target utilization"] - cap), units="x normal")
    total = m.aux("Total capacity", cap + auto, units="x normal")
    outage = m.aux("Outage", demand > total, units="0/1")
    m.aux("Unserved demand", maximum(0, demand - total), units="x normal")
    outage_peak = m.aux("Outage peak", rolling_max(outage * demand, c["Post-mortem window"]),
                        units="x normal", doc="the worst peak that broke the system lately")
    # routine planning ("we'll scale as needed") and post-mortem over-provisioning
    planned = m.aux("Planned capacity", maximum((1 + c["Planning buffer"]) * seen, tested),
                    units="x normal")
    m.flow("Routine provisioning", maximum(0, planned - cap) / c["Planning time"], into=cap,
           units="x normal/month")
    pm_target = m.aux("Post-mortem target", if_then_else(
        outage_peak > 0, if_then_else(c["Load testing"] > 0.5, requirement,
                                      c["Post-mortem safety factor"] * outage_peak), 0),
        units="x normal")
    m.flow("Post-mortem provisioning", maximum(0, pm_target - cap) / c["Provisioning time"],
           into=cap, units="x normal/month")
    # cost pressure and budget cuts (a discrete budget cycle)
    util = m.aux("Utilization", seen / cap, units="1")
    cost_view = m.aux("Utilization seen by finance", if_then_else(
        c["Cost attributed to revenue"] > 0.5, forecast / cap, util), units="1")
    wanted = c["Budget cut fraction"] * cap * (cost_view < c["Utilization floor"])
    requested = m.aux("Cut requested", minimum(wanted, maximum(0, cap - tested)),
                      units="x normal")
    approved = m.aux("Approved cut", sample_hold(requested, c["Budget cycle"],
                                                 c["Budget review month"]),
                     units="x normal", doc="decided at the budget review, held until the next")
    in_window = modulo(m.time - c["Budget review month"], c["Budget cycle"]) < \
        c["Cut implementation time"]
    m.flow("Budget cuts", in_window * approved / c["Cut implementation time"], out_of=cap,
           units="x normal/month")
    # what it costs
    m.stock("Outage time", initial=0, units="month")
    m.flow("Outage accrual", outage, into="Outage time", units="month/month")
    m.stock("Capacity cost", initial=0, units="x normal * month",
            doc="capacity paid for, integrated over time")
    m.flow("Capacity spend", total, into="Capacity cost", units="x normal")

    m.name_loop("Routine capacity planning", [cap, "Routine provisioning"])
    m.name_loop("Post-mortem over-provisioning", [cap, outage, outage_peak, pm_target,
                                                  "Post-mortem provisioning"])
    m.name_loop("Cost cutting", [cap, util, requested, approved, "Budget cuts"])
    for name in ("Perceived demand", "Forecast peak", "Provisioned capacity",
                 "Autoscaled capacity", "Total capacity", "Unserved demand", "Outage",
                 "Outage peak", "Outage time", "Utilization", "Utilization seen by finance",
                 "Cut requested", "Approved cut", "Capacity cost"):
        m.output(name)
    return m


PARTS = [alert_pipeline, capacity_budget]
