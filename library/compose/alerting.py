"""The `alerting` kind: Prometheus rules on the composed system's metrics, Alertmanager's
page, and the on-call who answers it with a mitigation: a balancing loop, in seconds.

Each rule of an alerting component watches one metric of one component (the names of
`sdmodels.system.schema.ALERT_METRICS`: a service's latency, error ratio or queue depth, a
database's connections pending, ...) and goes through what Prometheus and Alertmanager do
with it (reference Part 2.3, "The Delay Inventory": metric collection, aggregation, alert
threshold, human response):

- Prometheus scrapes the metric every `scrapeInterval` (the sample is held in between);
- it evaluates the rule's expr (metric > threshold) every `evaluationInterval`; the alert
  is pending while the expr holds and fires at the first evaluation at which it has held
  for `for` (a new expr false resets it, as Prometheus drops a pending alert);
- Alertmanager sends the first notification of a new group `groupWait` after it fires;
- the on-call acts `responseTime` after the page (page -> wake -> investigate -> act) and
  applies the rule's `action`, which stays done (a latch: a rollback is not undone when the
  alert resolves): `rollback` ends the dependency slowdown of a database (the Black Friday
  story's slow query, and Part 3.1's "never recovers without external intervention"),
  `scale_out` raises a service's HPA minReplicas to its maxReplicas (the pods still start
  through the HPA's sync period and their start-up time).

So: failures -> alert fires -> page -> response -> mitigation -> fewer failures (B), with the
Delay Inventory's delays on its links. Rollbacks must exist before the databases are built
(their slowdown reads them), the rules' metrics only once the calls are wired: `plan`
creates every rule's "mitigated" latch first and `OnCall.wire` the rest. Attention split over
many pages (the alert storm) is not modelled here: the reference gives it in days
(`library.alert_storm`, `library.parts.ops.alert_pipeline`), not within the hour of a run.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field

from sdmodels import delay_fixed, maximum, sample_hold
from sdmodels.expr import Ref

from library.compose.kinds import Node, setting

#: ALERT_METRICS name -> (the node role that holds it, or None for the node's failure
#: fraction, which the call wiring sets), with its units
METRIC_ROLES = {
    "latency": ("latency", "s"), "queue_depth": ("backlog", "req"),
    "cpu": ("utilization", "1"), "timeout_ratio": ("timeouts", "1"),
    "connections_pending": ("waiting", "queries"), "connections_active": ("connections", "conn"),
    "misses": ("cache misses", "req/s"), "error_ratio": (None, "1"),
}


class Alerting:
    """An alerting component: a node with no requests of its own; its rules are wired by
    `OnCall.wire` once every other component is."""

    @staticmethod
    def build(m, component, spec, stress) -> Node:
        return Node(component.name, "alerting")


def chain_seconds(config, rule) -> float:
    """Seconds from a metric crossing its threshold to the on-call's action, at most: a
    scrape and an evaluation interval, `for`, group wait, response time.

    >>> chain_seconds({"scrapeInterval": 60.0, "evaluationInterval": 60.0,
    ...                "groupWait": 30.0, "responseTime": 900.0}, {"for": 300.0})
    1350.0
    """
    return (config["scrapeInterval"] + config["evaluationInterval"] + rule["for"] +
            config["groupWait"] + config["responseTime"])


@dataclass
class OnCall:
    """The alerting components of a description: each rule's latch, made before anything
    else is built, and the slowdown each database sees once rolled back."""
    mitigated: dict = field(default_factory=dict)     # (alerting, alert) -> stock
    slowdown: dict = field(default_factory=dict)      # database -> its slowdown factor

    def stress_for(self, component, stress):
        """The stress switches a component is built with: a database someone can roll
        back sees the slowdown end when they do."""
        if component.name not in self.slowdown:
            return stress
        return {**stress, "Slowdown factor": self.slowdown[component.name]}

    def wire(self, m, spec, nodes) -> None:
        """Every rule's pipeline, from its metric to its action (see the module doc)."""
        for alerting in spec.of_kind("alerting"):
            node, c = nodes[alerting.name], alerting.config
            timing = {key: setting(m, node.name, key, c[key], "s") for key in TIMING}
            for rule in c["rules"]:
                done = self.mitigated[alerting.name, rule["alert"]]
                _pipeline(m, node, timing, rule, nodes, done)
        for service, latches in self.acting_on(spec, "scale_out").items():
            _scale_out(m, spec, nodes[service], latches)

    def acting_on(self, spec, action: str) -> dict:
        """component -> the latches of the rules whose `action` acts on it."""
        out: dict[str, list] = {}
        for (name, alert), done in self.mitigated.items():
            rule = _rule(spec, name, alert)
            if rule["action"] == action:
                out.setdefault(_target(rule), []).append(done)
        return out


#: the alerting component's settings every rule shares
TIMING = ("scrapeInterval", "evaluationInterval", "groupWait", "responseTime")


def plan(m, spec, stress) -> OnCall:
    """The latches of every rule, and the slowdown of every database a rule rolls back."""
    on_call = OnCall()
    for alerting in spec.of_kind("alerting"):
        for rule in alerting.config["rules"]:
            on_call.mitigated[alerting.name, rule["alert"]] = m.stock(
                f"{alerting.name} {rule['alert']} mitigated", initial=0.0, units="1",
                doc=f"1 once the on-call has acted on {rule['alert']} ({rule['action']} "
                f"{_target(rule)}): it stays done")
    for db, done in on_call.acting_on(spec, "rollback").items():
        on_call.slowdown[db] = m.aux(
            f"{db} slowdown until rolled back",
            1 + (stress["Slowdown factor"] - 1) * (1 - _any(done)), units="1",
            doc=f"the dependency slowdown of {db}, ended by the on-call's rollback")
    return on_call


def _rule(spec, alerting: str, alert: str):
    return next(r for r in spec.components[alerting].config["rules"] if r["alert"] == alert)


def _target(rule) -> str:
    return rule["target"] or rule["component"]


def _any(latches):
    """1 once any of the latches is (their maximum)."""
    return functools.reduce(maximum, latches)


def _pipeline(m, node: Node, timing, rule, nodes, done) -> None:
    """scrape -> evaluation -> pending for `for` -> firing -> group wait -> response."""
    name = f"{node.name} {rule['alert']}"
    watched = nodes[rule["component"]]
    role, units = METRIC_ROLES[rule["metric"]]
    source = watched.failure if role is None else Ref(watched.roles[role])
    dt = m.dt_expr
    scrape, every = timing["scrapeInterval"], timing["evaluationInterval"]
    metric = m.aux(f"{name} metric", source, units=units,
                   doc=f"{rule['metric']} of {rule['component']}, as the rule reads it")
    scraped = m.aux(f"{name} scraped", sample_hold(metric, scrape, 0), units=units,
                    doc="the last sample Prometheus scraped (every scrapeInterval)")
    threshold = setting(m, name, "threshold", rule["threshold"], units)
    expr = m.aux(f"{name} expr true", sample_hold(scraped > threshold, every, 0), units="1",
                 doc="1 while the rule's expr (metric > threshold) held at the last evaluation")
    active = m.stock(f"{name} active for", initial=0.0, units="s",
                     doc="how long the alert has been pending or firing")
    m.flow(f"{name} pending time", expr, into=active, units="s/s")
    m.flow(f"{name} reset", (1 - expr) * active / dt, out_of=active, units="s/s",
           doc="an evaluation that finds the expr false drops the alert")
    hold = setting(m, name, "for", rule["for"], "s")
    firing = m.aux(f"{name} firing", sample_hold(expr * (active >= hold - dt / 2), every, 0),
                   units="1", doc="1 while the alert fires (Prometheus ALERTS{alertstate="
                   "\"firing\"}): the expr has held for `for`, at an evaluation")
    paged = _after(m, f"{name} paged", firing, timing["groupWait"],
                   "Alertmanager's first notification, group_wait after the alert fires")
    acted = _after(m, f"{name} on-call acts", paged, timing["responseTime"],
                   "the on-call acts responseTime after the page")
    m.flow(f"{name} mitigating", acted * (1 - done) / dt, into=done, units="1/s",
           doc=f"the on-call's {rule['action']} of {_target(rule)}, once")
    for role, ref in (("metric", metric), ("firing", firing), ("paged", paged),
                      ("mitigated", done)):
        node.roles[f"{role} {rule['alert']}"] = ref.name


def _after(m, name: str, signal, seconds, doc: str):
    """`signal` `seconds` later (a pipeline delay: a 0/1 signal replayed intact; none for
    a setting of 0 s)."""
    if m.elements[seconds.name].values[0] <= 0:
        return m.aux(name, signal, units="1", doc=doc)
    return m.aux(name, delay_fixed(signal, seconds, 0), units="1", doc=doc)


def _scale_out(m, spec, node: Node, latches) -> None:
    """The on-call raises the HPA's minReplicas to maxReplicas (kubectl patch hpa)."""
    hpa = spec.components[node.name].config["hpa"]
    low = setting(m, node.name, "minReplicas", hpa["minReplicas"], "pods")
    high = setting(m, node.name, "maxReplicas", hpa["maxReplicas"], "pods")
    node.hpa.connect("minReplicas", m.aux(
        f"{node.name} minReplicas after scale-out", low + (high - low) * _any(latches),
        units="pods", doc="minReplicas, raised to maxReplicas by the on-call's scale-out"))
    node.roles["scaled out"] = node.hpa["minReplicas"].name
