"""Compose a system description into a model assembled from the library's parts.

`compose(spec)` reads a validated `sdmodels.system.SystemSpec` (components and the calls
between them) and returns a `Composition`: a `Model` in which every component is one or
more modules of `library.parts`, wired through their ports, with stress scenarios generated
from the description, and the role of each element (which component it belongs to, what it
means: "retries", "latency", "cache misses", ...) for loop recognition.

Wiring rules (one place, `library/compose/calls.py`):
- a call A -> B sends what A passes on (a service's started requests, a CDN's misses, a
  limiter's admitted requests) to B; B's arrivals are the sum over its callers;
- with `retry`, a retry client sits on the call (its attempts go to B, B's failures decide
  its retries); with `circuitBreaker`, a breaker sits between the retries and B
  (resilience4j's usual order Retry(CircuitBreaker(call))), counting B's failures and,
  when B is a database, its calls slower than slowCallDurationThreshold (the pool's
  response-time tail); a timeout bounds B's wait;
- A sees B's latency and failures: a component's downstream latency is the sum over its
  callees (sequential calls), its downstream failure 1 - prod(1 - f).

>>> from sdmodels.system import load_system
>>> spec = load_system('''
... system: shop
... components:
...   users: {kind: traffic, rate: 100/s}
...   api: {kind: service, serviceTime: 50ms, replicas: 2, workersPerPod: 5}
... calls:
...   - {from: users, to: api, timeout: 1s}
... ''')
>>> composition = compose(spec)
>>> sorted(composition.model.scenarios)
['baseline', 'pod loss', 'traffic surge']
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from sdmodels import Model
from sdmodels.errors import ModelError
from sdmodels.system import SystemSpec, load_system

from library.compose import alerting
from library.compose.calls import wire_calls
from library.compose.kinds import KINDS as PARTS_KINDS, Node
from library.compose.scenarios import STRESS, add_scenarios

HORIZON, STEP, SAVE = 600.0, 0.01, 1.0
#: with an on-call, runs last an hour at least (the Delay Inventory's human response is
#: 300-3600 s), and long enough to see 10 minutes of the slowest rule's action
ON_CALL_HORIZON, AFTER_ACTION = 3600.0, 600.0
KINDS = {**PARTS_KINDS, "alerting": alerting.Alerting}


@dataclass(frozen=True)
class Composition:
    """A composed system: its model, its description, and what each component became."""
    spec: SystemSpec
    model: Model
    nodes: Mapping[str, Node]
    roles: Mapping[str, tuple[str, str]] = field(default_factory=dict)   # element id -> (component, role)

    def component_of(self, element_id: str) -> str | None:
        """The component an element belongs to (None for the system's own elements)."""
        hit = self.roles.get(element_id)
        if hit:
            return hit[0]
        prefix = element_id.split(".", 1)[0]
        for node in self.nodes.values():
            if prefix in node.prefixes:
                return node.name
        return None


def horizon(spec: SystemSpec) -> float:
    """The run length of a composed system: 600 s, or with alerting an hour, or longer
    when its slowest rule acts later than 10 minutes before the hour's end.

    >>> from sdmodels.system import load_system
    >>> horizon(load_system("examples/service_chain.yaml"))
    600.0
    >>> horizon(load_system("examples/on_call.yaml"))
    3600.0
    """
    rules = [alerting.chain_seconds(c.config, r) for c in spec.of_kind("alerting")
             for r in c.config["rules"]]
    if not rules:
        return HORIZON
    return max(ON_CALL_HORIZON, STRESS["Stress start"][0] + max(rules) + AFTER_ACTION)


def compose(spec_or_path, *, stop: float | None = None, dt: float = STEP) -> Composition:
    """The model of a system description (a SystemSpec, a path, or YAML text); `stop`
    defaults to `horizon(spec)`."""
    spec = spec_or_path if isinstance(spec_or_path, SystemSpec) else load_system(spec_or_path)
    stop = horizon(spec) if stop is None else stop
    m = Model(spec.name, start=0, stop=stop, dt=dt, saveper=SAVE, time_units="second",
              doc=spec.description or f"system '{spec.name}' composed from its description")
    stress = m.parameters(STRESS)
    missing = sorted({c.kind for c in spec.components.values()} - set(KINDS))
    if missing:
        raise ModelError(f"system '{spec.name}': components of kind {', '.join(missing)} cannot "
                         f"be composed yet (composable: {', '.join(KINDS)})")
    on_call = alerting.plan(m, spec, stress)       # rollbacks: before the databases
    nodes = {name: KINDS[c.kind].build(m, c, spec, on_call.stress_for(c, stress))
             for name, c in spec.components.items()}
    wire_calls(m, spec, nodes)
    on_call.wire(m, spec, nodes)                  # rules: on the wired metrics
    add_scenarios(m, spec, nodes)
    roles = {eid: (node.name, role) for node in nodes.values() for role, eid in node.roles.items()}
    return Composition(spec, m, nodes, roles)


def build(path, **overrides) -> Model:
    """The composed model of a description file (for `sdm run/loops/diagram SYSTEM.yaml`)."""
    model = compose(path).model
    if overrides:
        raise ModelError("a composed system takes its settings from the description; edit "
                         f"the file instead of passing {sorted(overrides)}")
    return model
