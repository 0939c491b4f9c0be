"""Stress scenarios generated from a system description.

Every composed model has the same stress switches (constants, so a sweep can vary them),
and one scenario per stress that applies to the system: a traffic surge, a slowdown of its
databases, the loss of half the pods of its services, and a cache flush (synchronized expiry)
when it has a cache; with a cache in front of a database, the flush during a slowdown too
(the reference's Hands-On combination: a cache that absorbs a slow database alone, or
refills at once alone, exhausts the pool only when both happen). Each acts from "Stress
start" for "Stress duration".
"""
from __future__ import annotations

#: name -> (default, units, source)
STRESS = {
    "Stress start": (60.0, "s", "sdmodels: stresses begin one minute in"),
    "Stress duration": (60.0, "s", "sdmodels: and last one minute"),
    "Surge on": (0.0, "0/1", "1 = traffic rises to the traffic component's peak (default 3x)"),
    "Surge from new users": (0.0, "0/1", "1 = the surge's extra traffic comes from new users "
                             "at the base per-user rate, so per-user rate limits let it through"),
    "Slowdown factor": (1.0, "1", "query time multiplier of every database during the stress "
                        "(reference Part 3.3: 10 ms -> 50 ms is 5x)"),
    "Pods lost": (0.0, "1", "share of every service's pods lost during the stress"),
    "Cache flush": (0.0, "0/1", "1 = every cache entry expires at once when the stress starts "
                    "(a restart or FLUSHALL: synchronized expiry)"),
}


def add_scenarios(m, spec, nodes) -> None:
    """The stress scenarios that apply to this system (baseline always)."""
    kinds = {node.kind for node in nodes.values()}
    m.add_scenario("baseline", {}, doc="the description as written, steady traffic")
    m.add_scenario("traffic surge", {"Surge on": 1.0},
                   doc="traffic rises to its peak for the stress window")
    if any(c.kind == "rate_limiter" and c.config["per"] == "user"
           for c in spec.components.values()):
        m.add_scenario("user surge", {"Surge on": 1.0, "Surge from new users": 1.0},
                       doc="the surge's traffic comes from new users, each under the "
                       "per-user rate limit: the limiter lets it through to the pods")
    if "database" in kinds:
        m.add_scenario("dependency slowdown", {"Slowdown factor": 5.0},
                       doc="every database's queries take 5x longer for the stress window")
    if "cache" in kinds:
        m.add_scenario("cache flush", {"Cache flush": 1.0},
                       doc="every cache entry expires at once: a synchronized expiry")
    if {"cache", "database"} <= kinds:
        m.add_scenario("flush during slowdown", {"Cache flush": 1.0, "Slowdown factor": 5.0},
                       doc="the reference's dangerous combination: the cache empties while "
                       "the database is slow, so every miss holds a connection 5x longer")
    if "service" in kinds:
        m.add_scenario("pod loss", {"Pods lost": 0.5},
                       doc="half of every service's pods are gone for the stress window")
    _lasting(m, spec)


#: a stress that lasts until someone acts (reference Part 3.1: "Server never recovers
#: without external intervention")
LASTING = 1e9


def _lasting(m, spec) -> None:
    """With an on-call, the stresses their actions end, lasting until they act: a database
    slowdown (rollback), a traffic surge (scale-out)."""
    actions = {rule["action"] for c in spec.components.values() if c.kind == "alerting"
               for rule in c.config["rules"]}
    if "rollback" in actions:
        m.add_scenario("lasting slowdown", {"Slowdown factor": 5.0, "Stress duration": LASTING},
                       doc="every database's queries take 5x longer until the on-call "
                       "rolls back the change that slowed them")
    if "scale_out" in actions:
        m.add_scenario("lasting surge", {"Surge on": 1.0, "Stress duration": LASTING},
                       doc="traffic stays at its peak; the on-call scales out when paged")
