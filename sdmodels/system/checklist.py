"""The reference's Feedback Loop Analysis Checklist, answered for one recognised loop.

Six sections, as in the reference (Part 4.2): identification, delays, stability, failure
modes, synchronization, observability. Delays come from the description (retry waits and
timeouts, HPA sync period and pod start-up, TTLs, open-state waits) and from the stateful
functions on the loop's links; stability from the eigenvalues of the model linearised at
the baseline's operating point (`sdmodels.analysis.stability`), the mode in which the
loop's stocks take part most, cross-checked against the period the runs show
(`sdmodels.sweep.labels.classify`); failure modes from the stress runs.

>>> metric_name("hpa replicas")
'kube_horizontalpodautoscaler_status_desired_replicas'
"""
from __future__ import annotations

import math

from dataclasses import dataclass, field

import numpy as np

from sdmodels.analysis.stability import NEUTRAL, SUB_STEP

#: a loop's share of a mode's eigenvector below which it takes no part in it (and the
#: margin within which two modes' shares are tied: eigenvectors to rounding)
PARTICIPATES = 1e-9

#: role -> the metric people scrape for it (Micrometer/Spring Boot, HikariCP, resilience4j,
#: kube-state-metrics, redis_exporter names)
METRICS = {
    "latency": "http_server_requests_seconds",
    "timeouts": 'http_client_requests_seconds_count{outcome="TIMEOUT"}',
    "backlog": "tomcat_threads_busy_threads",
    "utilization": "container_cpu_usage_seconds_total",
    "retries": "resilience4j_retry_calls_total",
    "connections": "hikaricp_connections_active",
    "waiting": "hikaricp_connections_pending",
    "query time": "pg_stat_statements_mean_exec_time_seconds",
    "hpa replicas": "kube_horizontalpodautoscaler_status_desired_replicas",
    "hpa metric": "kube_horizontalpodautoscaler_status_current_metrics",
    "ready pods": "kube_deployment_status_replicas_ready",
    "pods": "kube_deployment_status_replicas_available",
    "rejected share": 'http_server_requests_seconds_count{status="429"}',
    "rejections": 'http_server_requests_seconds_count{status="429"}',
    "admitted": "resilience4j_ratelimiter_available_permissions",
    "breaker": "resilience4j_circuitbreaker_state",
    "cache misses": "redis_keyspace_misses_total",
    "hit ratio": "redis_keyspace_hits_total",
    "evictions": 'kube_pod_container_status_last_terminated_reason{reason="OOMKilled"}',
    "memory": "container_memory_working_set_bytes",
    "firing": 'ALERTS{alertstate="firing"}',
    "paged": "alertmanager_notifications_total",
}
TRIGGER = (60.0, 120.0)        # the stress window of library.compose.scenarios
#: a series that moves less than this x max(1, its largest magnitude) is rounding, not
#: behaviour: a billionth of one unit (request, pod, second) at least. Doubles carry ~1e-16
#: of a value; a run of ~1e5 steps that sums and cancels flows collects at most ~1e-11, so
#: the floor is ~100x above that, and ~1e-6 below the 3-6 digits a scraped metric shows
NEGLIGIBLE = 1e-9


def metric_name(role: str) -> str:
    """The scraped metric that shows an element of this role."""
    base = role.split(" to ")[0]
    return METRICS.get(role) or METRICS.get(base) or METRICS.get(
        role.split(" ")[0], "(no standard metric: export it)")


@dataclass(frozen=True)
class Delay:
    """One delay around a loop: what, how long (s), whether it is a fixed (synchronized) one."""
    what: str
    seconds: float
    fixed: bool = False
    period: bool = False           # a controller's evaluation period


@dataclass
class Answers:
    """The checklist for one loop (plain values, for the report and JSON)."""
    identification: dict = field(default_factory=dict)
    delays: dict = field(default_factory=dict)
    stability: dict = field(default_factory=dict)
    failure_modes: dict = field(default_factory=dict)   # "scenarios": scenario -> variable
    # -> label; "worst": the scenario it did worst in; "stuck_after": scenario -> the
    # shortest stress that leaves it stuck (`tipping`)
    synchronization: dict = field(default_factory=dict)
    observability: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in ("identification", "delays", "stability",
                                              "failure_modes", "synchronization",
                                              "observability")}


def _call(spec, source: str, target: str | None = None):
    for call in spec.calls:
        if call.source == source and (target is None or call.target == target):
            return call
    return None


def _retry_delays(call) -> list[Delay]:
    r = call.config["retry"]
    out = [Delay(f"timeout of {call.source} -> {call.target}", call.config["timeout"], True)]
    if r is None:
        return out
    fixed = not r["enableExponentialBackoff"] and not r["enableRandomizedWait"]
    how = "fixed" if fixed else ("exponential" if r["enableExponentialBackoff"] else "") + (
        " with jitter" if r["enableRandomizedWait"] else "")
    out.append(Delay(f"retry wait, {how.strip()}", r["waitDuration"], fixed))
    return out


def config_delays(match, spec) -> list[Delay]:
    """The delays around a recognised loop, from the description's settings."""
    s, comps = match.subject, spec.components
    if match.pattern in ("retry storm", "circuit breaker"):
        call = spec.calls[s["call"]]
        out = _retry_delays(call)
        if call.config["circuitBreaker"] is not None and match.pattern == "circuit breaker":
            out.append(Delay("open-state wait", call.config["circuitBreaker"][
                "waitDurationInOpenState"], True))
        return out
    if match.pattern == "connection pool exhaustion":
        out = [_connection_wait(spec, s["database"])]
        call = _call(spec, s["caller"]) if s.get("caller") else None
        return out + (_retry_delays(call)[1:] if call else [])
    if match.pattern == "cache stampede":
        c = comps[s["cache"]].config
        return [Delay(f"TTL {'without' if not c['ttlJitter'] else 'with'} jitter", c["ttl"],
                      not c["ttlJitter"])]
    if match.pattern == "rate-limit retry amplification":
        call = _call(spec, s["caller"])
        refresh = comps[s["limiter"]].config["limitRefreshPeriod"]
        return _retry_delays(call)[1:] + [Delay("limitRefreshPeriod", refresh, True, True)]
    if match.pattern == "rate limiting":
        return [Delay("limitRefreshPeriod", comps[s["limiter"]].config["limitRefreshPeriod"],
                      True, True)]
    if match.pattern == "HPA scaling":
        c = comps[s["service"]].config
        hpa = c["hpa"]
        return [Delay("HPA sync period", hpa["syncPeriod"], True, True),
                Delay("pod start-up", c["startupTime"]),
                Delay("scale-up stabilization window", hpa["behavior"]["scaleUp"][
                    "stabilizationWindowSeconds"])]
    if match.pattern == "alert response":
        return alert_delays(spec.components[s["alerting"]].config, s["alert"], spec)
    if match.pattern == "eviction cascade":
        from library.compose.kinds import OOM_TIME
        from library.parts.pods import BACKOFF
        return [Delay("OOM kill at the memory limit", OOM_TIME),
                Delay("CrashLoopBackOff, first restart", BACKOFF[1], True),
                Delay("pod start-up", comps[s["service"]].config["startupTime"])]
    return []


def _connection_wait(spec, database: str) -> Delay:
    """How long a caller can wait for a connection before it fails: the pool's
    connectionTimeout (0: wait forever, node-postgres' default) or the timeout of the calls
    into the database, whichever ends first (the reference: "Delay: query timeout (likely
    long)").

    >>> from types import SimpleNamespace as NS
    >>> spec = NS(components={"db": NS(config={"pool": {"connectionTimeout": 0.0}})},
    ...           calls=[NS(target="db", config={"timeout": 15.0})])
    >>> _connection_wait(spec, "db")
    Delay(what='wait for a connection (connectionTimeout 0: forever; the calls into db time out at 15 s)', seconds=15.0, fixed=True, period=False)
    """
    pool = spec.components[database].config["pool"]["connectionTimeout"]
    calls = [c.config["timeout"] for c in spec.calls if c.target == database]
    call = min(calls) if calls else math.inf
    if pool and pool <= call:
        return Delay(f"pool connectionTimeout {pool:g} s", pool, True)
    bound = f"connectionTimeout {pool:g} s" if pool else "connectionTimeout 0: forever"
    return Delay(f"wait for a connection ({bound}; the calls into {database} time out at "
                 f"{call:g} s)", call if calls else pool, True)


def alert_delays(config, alert: str, spec) -> list[Delay]:
    """An alert rule's way from its metric to the on-call's action (reference Part 2.3, the
    Delay Inventory), and, for a scale-out, the HPA's sync and the pods' start-up.

    >>> alerting = {"scrapeInterval": 60.0, "evaluationInterval": 60.0, "groupWait": 30.0,
    ...             "responseTime": 900.0, "rules": [{"alert": "PoolFull", "for": 300.0,
    ...                                               "action": "rollback"}]}
    >>> sum(d.seconds for d in alert_delays(alerting, "PoolFull", spec=None))
    1350.0
    """
    rule = next(r for r in config["rules"] if r["alert"] == alert)
    out = [Delay("Prometheus scrape interval (metric collection)", config["scrapeInterval"],
                 True, True),
           Delay("rule evaluation interval (aggregation)", config["evaluationInterval"],
                 True, True),
           # fixed waits, but of one on-call: nothing they could synchronize
           Delay("rule `for` (alert threshold)", rule["for"]),
           Delay("Alertmanager group_wait", config["groupWait"]),
           Delay("on-call response (page -> wake -> investigate)", config["responseTime"])]
    if rule["action"] == "scale_out":
        service = spec.components[rule["target"] or rule["component"]].config
        out += [Delay("HPA sync period", service["hpa"]["syncPeriod"], True, True),
                Delay("pod start-up", service["startupTime"])]
    return out


def alert_rules(composition, elements) -> list[dict]:
    """The alert rules of a composed system that watch any of `elements` (ids).

    >>> from types import SimpleNamespace as NS
    >>> alert_rules(NS(nodes={}, spec=NS(components={})), {"x"})
    []
    """
    out = []
    for node in composition.nodes.values():
        if node.kind != "alerting":
            continue
        for rule in composition.spec.components[node.name].config["rules"]:
            watched = composition.nodes[rule["component"]]
            if _watched_element(watched, rule["metric"]) in elements:
                out.append({"alert": rule["alert"], "component": rule["component"],
                            "metric": rule["metric"], "threshold": rule["threshold"],
                            "for": rule["for"], "action": rule["action"]})
    return out


def _scraped(composition, component: str, role: str) -> str:
    """The scraped metric of a role; an alert rule's "metric <alert>" is the series of the
    metric it watches (`schema.ALERT_METRICS`)."""
    if role.startswith("metric ") and composition.nodes[component].kind == "alerting":
        from sdmodels.system.schema import ALERT_METRICS
        rule = next(r for r in composition.spec.components[component].config["rules"]
                    if r["alert"] == role[len("metric "):])
        kind = composition.spec.components[rule["component"]].kind
        return ALERT_METRICS[kind][rule["metric"]][1]
    return metric_name(role)


def _watched_element(node, metric: str):
    from library.compose.alerting import METRIC_ROLES
    role = METRIC_ROLES[metric][0]
    return getattr(node.failure, "name", None) if role is None else node.roles.get(role)


def identification(match, polarity: str, ir, pattern) -> dict:
    return {"pattern": match.pattern, "type": polarity, "expected type": match.expected,
            "components": list(match.components),
            "elements": [ir.display(v) for v in match.cycle],
            "behaviour": pattern.behaviour}


def delays(match, spec, loop_delays) -> dict:
    """Total delay, the controller period, and whether the loop acts faster than its delay."""
    found = config_delays(match, spec)
    periods = [d.seconds for d in found if d.period]
    rest = sum(d.seconds for d in found if not d.period)
    total = sum(d.seconds for d in found)
    answer = {"total_seconds": total, "items": [
        {"what": d.what, "seconds": d.seconds, "fixed": d.fixed} for d in found],
        "on_links": [d.to_dict() for d in loop_delays]}
    if periods:
        p = min(periods)
        answer["evaluation_period"] = p
        answer["faster_than_delay"] = bool(p < rest)
        answer["verdict"] = (f"evaluated every {p:g} s, faster than the {rest:g} s it takes "
                             "to see its own action: it acts again on stale data" if p < rest
                             else f"evaluated every {p:g} s, not faster than the {rest:g} s "
                             "of delay: it sees the effect of its last action" if rest
                             else f"evaluated every {p:g} s, with nothing else delaying its "
                             "effect: it sees the effect of its last action")
        if match.pattern == "alert response" and p < rest:
            answer["verdict"] = (f"evaluated every {p:g} s, faster than the {rest:g} s it "
                                 "takes to see the on-call's action: the alert keeps firing "
                                 "on the incident it has already paged for; the on-call "
                                 "acts once (Alertmanager repeats a page only after "
                                 "repeat_interval, 4h by default)")
    else:
        answer["verdict"] = (f"acts on every request; the effect comes back after {total:g} s"
                             if total else "acts at once")
    return answer


def loop_mode(lin, composition, match, ir) -> dict:
    """The mode of the linearisation in which the stocks of the loop (else those of the
    components it crosses) take part most."""
    by_display = {v.display: v.id for v in ir.variables.values()}
    names = {ir.display(v) for v in match.cycle}
    idx = [k for k, s in enumerate(lin.states) if s.split("[")[0] in names]
    if not idx:
        idx = [k for k, s in enumerate(lin.states) if composition.component_of(
            by_display.get(s.split("[")[0], "")) in match.components]
    if not idx:
        return {"note": "no stock of its own between controller ticks (its state is a "
                "discrete controller's, held in the linearisation)"}
    values, vectors = np.linalg.eig(lin.jacobian)
    weight = np.abs(vectors[idx, :]).sum(axis=0) / np.maximum(
        np.abs(vectors).sum(axis=0), 1e-300)
    weight[np.abs(values) < NEUTRAL] = -1.0     # integrators: no dynamics of their own
    weight[np.abs(values) * ir.dt >= SUB_STEP] = -1.0  # x/dt relaxations: within a step
    if weight.max() < 0:
        return {"note": "its stocks settle within one time step (fluid relaxations): no "
                "slower mode to read; see the period measured in the runs"}
    if weight.max() <= PARTICIPATES:
        return {"note": "its stocks take part in no mode of the linearisation (they "
                "integrate, or a controller holds them between its ticks); see the runs"}
    # of the modes its stocks take part in most (ties: several modes held by the loop's
    # stocks alone), the slowest: the one the loop's behaviour is read on, whatever order
    # the eigenvalues come in (other stocks of the model reorder them)
    top = np.flatnonzero(weight >= weight.max() - PARTICIPATES)
    k = int(top[np.argmin(np.abs(values[top]))])
    lam = complex(values[k])
    period = 2 * np.pi / abs(lam.imag) if abs(lam.imag) > 1e-12 else None
    return {"eigenvalue": [lam.real, abs(lam.imag)],
            "time_constant": (1 / abs(lam.real)) if lam.real else None,
            "period": period, "damping_ratio": (-lam.real / abs(lam)) if abs(lam) else 0.0,
            "participation": float(weight[k]),
            "oscillates": period is not None, "grows": lam.real > 1e-9}


def config_risk(match, spec) -> dict | None:
    """The risk a loop's configuration shows whatever the stress runs do: the reference's
    autoscaler oscillation (Part 2.2; "Tight autoscaler settings ... Stabilization windows")
    for an HPA whose scale-down cooldown (stabilization window) is shorter than the time it
    takes to see its own action, its sync period + pod start-up. Whether the runs showed it
    is added by `sdmodels.system.analyze` ("shown_in")."""
    if match.pattern != "HPA scaling":
        return None
    c = spec.components[match.subject["service"]].config
    hpa = c["hpa"]
    down = hpa["behavior"]["scaleDown"]["stabilizationWindowSeconds"]
    seen = hpa["syncPeriod"] + c["startupTime"]
    if down >= seen:
        return None
    return {"risk": "autoscaler oscillation", "seconds": down, "delay": seen, "why": (
        f"The scale-down cooldown (stabilizationWindowSeconds {down:g} s) is shorter than "
        f"the {seen:g} s it takes to see its own action ({hpa['syncPeriod']:g} s sync + "
        f"{c['startupTime']:g} s pod start-up): it can remove pods on data that predate the "
        "ones it added, and add them again (reference Part 2.2, autoscaler oscillation)")}


def reversals(times, values, within: float) -> list[tuple[float, float]]:
    """Changes of a controller's output undone within `within` seconds: consecutive changes
    of opposite direction (a scale-down then a scale-up, or the reverse) at most `within`
    apart, as (time of the first, time of the second). For an HPA `within` is the time it
    takes to see its own action (sync period + pod start-up): pods removed and needed again
    before a new one could be ready, or added and removed before they could serve.

    >>> reversals([0, 30, 90, 165, 400], [4, 2, 3, 2, 2], 75)
    [(30.0, 90.0), (90.0, 165.0)]
    >>> reversals([0, 30, 435], [4, 4, 2], 75)
    []
    """
    t, x = np.asarray(times, dtype=float), np.asarray(values, dtype=float)
    steps = np.flatnonzero(np.diff(x) != 0) + 1
    out = []
    for a, b in zip(steps[:-1], steps[1:]):
        opposite = np.sign(x[a] - x[a - 1]) != np.sign(x[b] - x[b - 1])
        if opposite and t[b] - t[a] <= within + 1e-9 * max(1.0, within):
            out.append((float(t[a]), float(t[b])))
    return out


def stability(match, spec, mode: dict, measured: dict) -> dict:
    answer = {"linearised": mode}
    risk = config_risk(match, spec)
    if risk:
        answer["configuration_risk"] = risk
    if match.pattern == "HPA scaling":
        b = spec.components[match.subject["service"]].config["hpa"]["behavior"]
        answer["stabilization_windows"] = {
            "scaleUp": b["scaleUp"]["stabilizationWindowSeconds"],
            "scaleDown": b["scaleDown"]["stabilizationWindowSeconds"]}
        answer["damping"] = ("scale-down window shorter than the 300 s Kubernetes default: "
                             "little damping" if b["scaleDown"][
                                 "stabilizationWindowSeconds"] < 300 else "default damping")
    answer["measured"] = measured
    periods = [v["period"] for v in measured.values()
               if v.get("period") and v["label"] == "oscillating"]
    answer["can_oscillate"] = bool(mode.get("oscillates") or any(
        v["label"] == "oscillating" for v in measured.values()))
    if periods:
        answer["measured_period"] = float(np.median(periods))
    swings = [v["period"] for v in measured.values() if v.get("period") and v["label"] != "steady"]
    if swings:      # turning points seen, even when too few in the horizon to say oscillating
        answer["swing_period"] = float(np.median(swings))
    return answer


def behaviour_labels(times, Y, trigger=None) -> tuple[list[str], list[float | None]]:
    """The sweep's classify() of every row of `Y` (runs or variables, times), with rounding
    floored: a row that moves by less than `NEGLIGIBLE` is "steady". (labels, periods)

    >>> t = np.linspace(0, 100, 101)
    >>> behaviour_labels(t, [1e-15 * (t > 50), 1e-3 * (t > 50)])[0]
    ['steady', 'step']
    """
    from sdmodels.sweep.labels import classify
    Y = np.nan_to_num(np.atleast_2d(np.asarray(Y, dtype=float)))
    rows = classify(times, Y, trigger=trigger)
    moved = np.ptp(Y, axis=1) > NEGLIGIBLE * np.maximum(1.0, np.abs(Y).max(axis=1))
    labels = [str(label) if m else "steady" for label, m in zip(rows["label"], moved)]
    return labels, [None if np.isnan(p) else float(p) for p in rows["period"]]


def series_label(times, series, trigger=TRIGGER) -> dict:
    """The label of one series with the stress window as its trigger, with its figures."""
    y = np.nan_to_num(np.asarray(series, dtype=float))
    (label,), (period,) = behaviour_labels(times, y[None, :], trigger)
    i0 = int(np.searchsorted(times, trigger[0]))
    return {"label": label, "period": period, "before": float(y[max(i0 - 1, 0)]),
            "peak": float(y.max()), "end": float(y[-1])}


def synchronization(match, spec, loop_delays) -> dict:
    fixed = [d for d in config_delays(match, spec) if d.fixed and not d.period]
    pipes = [d.to_dict() for d in loop_delays if d.kind == "delay_fixed"]
    items = [f"{d.what}: {d.seconds:g} s" for d in fixed]
    return {"unjittered": items, "pipeline_delays_on_links": pipes,
            "can_synchronize": bool(items or pipes),
            "what_correlates": ("the same fixed wait after the same trigger puts every "
                                "instance's action at the same moment" if items else
                                "nothing fixed: waits are spread")}


def observability(match, composition, ir) -> dict:
    """The variables that show the loop (its primary one first) as scraped metrics."""
    rows = []
    for comp, role, _ in ([match.subject["primary"]] if "primary" in match.subject else []) \
            + list(match.anchors):
        if any(r["component"] == comp and r["role"] == role for r in rows):
            continue
        element = composition.nodes[comp].roles.get(role)
        if element:
            rows.append({"component": comp, "role": role, "variable": ir.display(element),
                         "metric": _scraped(composition, comp, role)})
    for comp in match.components:
        for role in ("latency",):
            element = composition.nodes[comp].roles.get(role)
            if element and all(r["variable"] != ir.display(element) for r in rows):
                rows.append({"component": comp, "role": role, "variable": ir.display(element),
                             "metric": metric_name(role)})
    ids = set(match.cycle) | {composition.nodes[r["component"]].roles.get(r["role"])
                              for r in rows}
    return {"metrics": rows, "alert_rules": alert_rules(composition, ids), "runaway_signal": (
        "the loop's first metric keeps rising after the trigger has ended"
        if match.expected == "R" else "the loop's metric swings around its target")}
