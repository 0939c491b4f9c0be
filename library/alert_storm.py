"""Alert storm: noisy alerts hide real incidents, missed incidents bring more alerts.

From the reference's Part 3.5 ("The Alert Storm"; Part 1's table: "Too many alerts ->
ignored -> more incidents -> more alerts"), with the response delays of Part 2.3 and the fixes
of Part 3.5 and the Common Mistakes table ("Alert on user-facing symptoms only"). Time is in
days.

Structure:

- Real problems arrive at "Incident rate"; each raises one meaningful alert ("Normal: 5
  alerts/day, all meaningful"). "Noise alert rules" each fire "Noise alerts per rule" a day
  with no user impact. "Alerts per day" is the sum.
- The on-call reads up to "Attention capacity" alerts a day and cannot tell a noise alert
  from a meaningful one before reading it, so the share of meaningful alerts read is the
  share of all alerts read. Sustained overload builds "Alert fatigue" over "Fatigue time"
  (muted notifications): a fatigued on-call reads fewer alerts still ("200 alerts/day, all
  ignored"). Meaningful alerts not read are "Incidents missed".
- The trigger is a monitoring project adding "Monitoring project rules" cause-based rules
  ("After 'improving monitoring': 50 alerts/day, mostly noise").
- Every missed incident's post-mortem ends in "add more monitoring": "Rules added per missed
  incident" new rules, shipped after "Post-mortem delay" (an Erlang-3 delay). Cause-based
  rules add noise: that closes the reinforcing loop. Once alerts exceed attention capacity,
  misses grow with alerts and alerts grow with misses: the storm needs no further push.
  Below capacity nothing is missed, so the threshold for a lasting storm is
  "Incident rate" + noise > "Attention capacity" (15 noise rules with the defaults).

Fixes (each a parameter of this model, so they can be turned on one at a time):

- "Symptom-based alerting" (0..1): the share of new rules that alert on user-facing
  symptoms; such a rule fires only when users are hurt, so it adds no noise.
- "Alert review" (0/1): every "Review interval" days the team deletes "Review deletion
  fraction" of the rules nobody acted on (a balancing loop on the noise).
- "Ratio tracking" (0/1): on-call feedback measures the "Alert-to-incident ratio" over
  "Ratio measurement window"; above "Target alert-to-incident ratio" the excess share of
  noisy rules is tuned away over "Tuning time", and post-mortems add no alerts while the
  ratio is above target (it shows the problem is noise, not coverage).

Example::

    from library import alert_storm
    from sdmodels import run
    df = run(alert_storm.build(), scenario="trigger")
    df[["Alerts per day", "Incidents missed"]].iloc[-1]
"""
from __future__ import annotations

from sdmodels import Model, delay3, maximum, minimum, pulse, smooth, xidz, zidz

#: name -> (default, units, source)
PARAMETERS = {
    "Incident rate": (5.0, "incidents/day", "Part 3.5: 'Normal: 5 alerts/day, All "
                      "meaningful' (one meaningful alert per real issue)"),
    "Noise alerts per rule": (1.0, "alerts/day/rule", "assumption: a cause-based rule fires "
                              "about once a day without user impact (rules = noise alerts/day)"),
    "Initial noise rules": (0.0, "rules", "Part 3.5: normally all alerts are meaningful"),
    "Attention capacity": (20.0, "alerts/day", "assumption within Part 3.5: 5 a day are all "
                           "read, of 50 'most' are ignored, so between 5 and 25"),
    "Fatigue time": (14.0, "day", "assumption: alert fatigue builds over two on-call weeks"),
    "Rules added per missed incident": (2.0, "rules/incident", "assumption: a post-mortem's "
                                        "'add more monitoring' action items (Part 3.5)"),
    "Post-mortem delay": (7.0, "day", "assumption: post-mortem within a week, then the alert "
                          "ships (Part 2.3: human response and deployment delays)"),
    "Monitoring project rules": (45.0, "rules", "Part 3.5: 'improving monitoring' takes 5 "
                                 "to 50 alerts/day, mostly noise: 45 noise rules"),
    "Monitoring project day": (30.0, "day", "trigger timing"),
    "Monitoring project duration": (10.0, "day", "trigger timing: rules roll out over ~2 weeks"),
    "Symptom-based alerting": (0.0, "0..1", "Part 3.5 fix: 'Alert on symptoms, not causes'"),
    "Alert review": (0.0, "0/1", "Part 3.5 fix: 'Regular alert review: Delete alerts nobody "
                     "acts on'"),
    "Review interval": (7.0, "day", "assumption: weekly, at the on-call hand-over"),
    "Review deletion fraction": (0.5, "1", "assumption: half of the unactionable rules "
                                 "found are deleted at each review"),
    "Ratio tracking": (0.0, "0/1", "Part 3.5 fix: 'On-call feedback: Track "
                       "alert-to-incident ratio'"),
    "Target alert-to-incident ratio": (2.0, "alerts/incident", "assumption: Part 3.5's "
                                       "healthy state is 1 (every alert meaningful); "
                                       "tolerate 2"),
    "Ratio measurement window": (7.0, "day", "assumption: a weekly on-call report"),
    "Tuning time": (14.0, "day", "assumption: a flagged noisy rule is tuned or deleted "
                    "within two weeks"),
}

TRIGGER = {"Monitoring project rules": 45.0}
FIXES = {"Symptom-based alerting": 1.0, "Alert review": 1.0, "Ratio tracking": 1.0}


def build(**overrides) -> Model:
    """The alert-storm model; overrides replace parameter defaults by display name.

    >>> from library.alert_storm import build
    >>> sorted(build().scenarios)[:3]
    ['alert review only', 'baseline', 'fixed']
    """
    m = Model("alert_storm", start=0, stop=180, dt=0.25, time_units="day",
              doc="Part 3.5: the alert storm")
    c = m.parameters(PARAMETERS, overrides)
    cause_share = 1 - c["Symptom-based alerting"]

    rules = m.stock("Noise alert rules", initial=c["Initial noise rules"], units="rules",
                    non_negative=True)
    meaningful = m.aux("Meaningful alerts", c["Incident rate"], units="alerts/day")
    noise = m.aux("Noise alerts", rules * c["Noise alerts per rule"], units="alerts/day")
    alerts = m.aux("Alerts per day", meaningful + noise, units="alerts/day")

    # -- the on-call's attention ----------------------------------------------------------
    overload = m.aux("Overload", maximum(0, 1 - xidz(c["Attention capacity"], alerts, 1)),
                     units="1", doc="share of alerts beyond what the on-call can read")
    fatigue = m.aux("Alert fatigue", smooth(overload, c["Fatigue time"], 0), units="1",
                    doc="share of notifications muted after sustained overload")
    read = m.aux("Alerts read", minimum(alerts, c["Attention capacity"]) * (1 - fatigue),
                 units="alerts/day")
    m.aux("Alerts ignored", alerts - read, units="alerts/day")
    share_read = m.aux("Share of alerts read", xidz(read, alerts, 1), units="1")
    missed = m.aux("Incidents missed", c["Incident rate"] - meaningful * share_read,
                   units="incidents/day")

    # -- on-call feedback: the alert-to-incident ratio ---------------------------------------
    ratio = m.aux("Alert-to-incident ratio",
                  xidz(smooth(alerts, c["Ratio measurement window"]), c["Incident rate"], 1),
                  units="alerts/incident")
    excess = m.aux("Excess noise share", c["Ratio tracking"] *
                   maximum(0, 1 - zidz(c["Target alert-to-incident ratio"], ratio)), units="1",
                   doc="the share of alerts above target, as the tracked ratio shows it")

    # -- "add more monitoring" -----------------------------------------------------------------
    over_target = c["Ratio tracking"] * (ratio > c["Target alert-to-incident ratio"])
    added = m.aux("Monitoring added", delay3(missed * c["Rules added per missed incident"] *
                                             (1 - over_target), c["Post-mortem delay"], 0),
                  units="rules/day", doc="post-mortem action items shipped as new alert rules")
    m.flow("New noise rules", added * cause_share, into=rules, units="rules/day")
    project = pulse(c["Monitoring project day"], c["Monitoring project duration"])
    m.flow("Monitoring project", project * c["Monitoring project rules"] /
           c["Monitoring project duration"] * cause_share, into=rules, units="rules/day")
    m.flow("Review deletions", c["Alert review"] * rules * c["Review deletion fraction"] /
           c["Review interval"], out_of=rules, units="rules/day")
    m.flow("Noise tuned", excess * rules / c["Tuning time"], out_of=rules, units="rules/day")

    m.stock("Total incidents missed", initial=0, units="incidents")
    m.flow("Missing", missed, into="Total incidents missed", units="incidents/day")

    m.name_loop("Add more monitoring", ["Noise alert rules", "Alerts per day",
                                        "Incidents missed", "Monitoring added"])
    m.name_loop("Alert fatigue", ["Alert fatigue", "Incidents missed", "Monitoring added",
                                  "Noise alert rules"])
    m.name_loop("Alert review", ["Noise alert rules", "Review deletions"])
    m.name_loop("Ratio tracking", ["Noise alert rules", "Alert-to-incident ratio",
                                   "Noise tuned"])

    m.add_scenario("baseline", {"Monitoring project rules": 0.0},
                   doc="5 meaningful alerts a day, no monitoring project: all read")
    m.add_scenario("trigger", dict(TRIGGER),
                   doc="the reference's 'improving monitoring': 50 alerts/day, no fixes")
    m.add_scenario("fixed", {**TRIGGER, **FIXES},
                   doc="the same project with symptom alerting, review and ratio tracking")
    m.add_scenario("symptom alerting only", {**TRIGGER, "Symptom-based alerting": 1.0})
    m.add_scenario("alert review only", {**TRIGGER, "Alert review": 1.0})
    m.add_scenario("ratio tracking only", {**TRIGGER, "Ratio tracking": 1.0})
    return m

