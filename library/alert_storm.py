"""Alert storm: noisy alerts hide real incidents, missed incidents bring more alerts.

From the reference's Part 3.5 ("The Alert Storm"; Part 1's table: "Too many alerts ->
ignored -> more incidents -> more alerts"), with the response delays of Part 2.3 and the fixes
of Part 3.5 and the Common Mistakes table ("Alert on user-facing symptoms only"). Time is in
days.

Composed of the `ops.alert_pipeline` part (library/parts/ops.py: rules, noise, the on-call's
attention and fatigue, post-mortems that add rules, review and ratio tracking), fed by the
trigger, a monitoring project adding "Monitoring project rules" cause-based rules
("After 'improving monitoring': 50 alerts/day, mostly noise"). Real problems arrive at
"Incident rate", one meaningful alert each; the on-call reads up to "Attention capacity" a
day and tires under sustained overload; every missed incident's post-mortem adds rules, and
cause-based rules add noise: that closes the reinforcing loop. Once alerts exceed attention
capacity, misses grow with alerts and alerts grow with misses: the storm needs no further
push. Below capacity nothing is missed, so the threshold for a lasting storm is
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

from sdmodels import Model, pulse

from library.parts._wiring import expose, part_parameters
from library.parts.ops import ALERTS, alert_pipeline

#: the model's own parameters; the part's inputs it does not wire come from the part's
#: table (defaults, units and sources written once)
PARAMETERS = {
    "Monitoring project rules": (45.0, "rules", "Part 3.5: 'improving monitoring' takes 5 "
                                 "to 50 alerts/day, mostly noise: 45 noise rules"),
    "Monitoring project day": (30.0, "day", "trigger timing"),
    "Monitoring project duration": (10.0, "day", "trigger timing: rules roll out over ~2 weeks"),
    **part_parameters(ALERTS, skip=("New rules",)),
}

TRIGGER = {"Monitoring project rules": 45.0}
FIXES = {"Symptom-based alerting": 1.0, "Alert review": 1.0, "Ratio tracking": 1.0}


KEY_OUTPUTS = ["Alerts per day", "Incidents missed", "Alert fatigue", "Noise alert rules"]
OUTPUTS = ["Alerts per day", "Meaningful alerts", "Noise alerts", "Alerts read", "Alerts ignored",
           "Share of alerts read", "Alert fatigue", "Overload", "Incidents missed",
           "Total incidents missed", "Alert-to-incident ratio", "Noise alert rules",
           "Monitoring added"]


def build(**overrides) -> Model:
    """The alert-storm model; overrides replace parameter defaults by display name.

    >>> from library.alert_storm import build
    >>> sorted(build().scenarios)[:3]
    ['alert review only', 'baseline', 'fixed']
    """
    m = Model("alert_storm", start=0, stop=180, dt=0.25, time_units="day",
              doc="Part 3.5: the alert storm")
    c = m.parameters(PARAMETERS, overrides)
    team = m.module("on_call", alert_pipeline(), display="On-call")
    for name in set(ALERTS) & set(PARAMETERS):
        team.connect(name, c[name])
    project = pulse(c["Monitoring project day"], c["Monitoring project duration"])
    team.connect("New rules", m.aux("Monitoring project", project * c[
        "Monitoring project rules"] / c["Monitoring project duration"], units="rules/day"))
    expose(m, team, OUTPUTS)

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
