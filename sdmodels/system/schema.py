"""The schema of a system description: field types, and the fields of every component kind.

Field names follow the configuration people already write: Kubernetes `autoscaling/v2`
(HorizontalPodAutoscaler `minReplicas`, `metrics`, `behavior`), resilience4j (Retry,
CircuitBreaker, RateLimiter), HikariCP (`maximumPoolSize`, `connectionTimeout`), Redis
(`ttl`), Finagle's RetryBudget (`percentCanRetry`). Each default says where it comes from.
A field type turns a YAML value into a number or a nested mapping, or raises FieldProblem
with a message that says how to write it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from sdmodels.system import quantities

REQUIRED = object()


class FieldProblem(ValueError):
    """A value that does not fit its field; `node` is the YAML node to point at, if deeper."""

    def __init__(self, message: str, node=None):
        super().__init__(message)
        self.node = node


@dataclass(frozen=True)
class Field:
    """One field: its type, default (or REQUIRED, or None for optional) and its source."""
    type: Any
    default: Any = REQUIRED
    source: str = ""


@dataclass(frozen=True)
class Quantity:
    """A value written with its unit, read by one of `sdmodels.system.quantities`;
    `positive` for a period or a time the model divides by (0 would be a division by 0)."""
    reader: Callable[[Any], float]
    positive: bool = False

    def read(self, value):
        number = self.reader(value)
        if self.positive and not number > 0:
            raise quantities.QuantityError(f"{value!r} must be longer than 0")
        return number


DURATION = Quantity(quantities.duration)
PERIOD = Quantity(quantities.duration, positive=True)
RATE = Quantity(quantities.rate)
FRACTION = Quantity(quantities.fraction)
MEMORY = Quantity(quantities.memory)


@dataclass(frozen=True)
class Number:
    """A plain number in [low, high]; `integer` for counts."""
    low: float = 0.0
    high: float = float("inf")
    integer: bool = False

    def read(self, value):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise quantities.QuantityError(f"{value!r} is not a number")
        if self.integer and value != int(value):
            raise quantities.QuantityError(f"{value!r} is not a whole number")
        if not self.low <= value <= self.high:
            raise quantities.QuantityError(f"{value!r} is outside {self.low:g} to {self.high:g}")
        return float(value)


@dataclass(frozen=True)
class Flag:
    def read(self, value):
        if not isinstance(value, bool):
            raise quantities.QuantityError(f"{value!r} is not true or false")
        return value


@dataclass(frozen=True)
class Choice:
    values: tuple[str, ...]

    def read(self, value):
        if value not in self.values:
            raise quantities.QuantityError(f"{value!r} is not one of {', '.join(self.values)}")
        return value


@dataclass(frozen=True)
class Section:
    """A nested mapping with its own fields."""
    fields: Mapping[str, Field] = field(default_factory=dict)


@dataclass(frozen=True)
class ListOf:
    """A list of nested mappings of one section."""
    section: Section


def count(default, source, low=0.0):
    return Field(Number(low=low, integer=True), default, source)


# --------------------------------------------------------------------------- sections
SCALING_POLICY = Section({
    "type": Field(Choice(("Pods", "Percent")), REQUIRED, "Kubernetes HPAScalingPolicy"),
    "value": count(REQUIRED, "Kubernetes HPAScalingPolicy", low=1),
    "periodSeconds": count(15, "Kubernetes HPAScalingPolicy", low=1),
})


def _scaling_rules(window: int, window_source: str) -> Section:
    return Section({
        "stabilizationWindowSeconds": count(window, window_source),
        "selectPolicy": Field(Choice(("Max", "Min", "Disabled")), "Max",
                              "Kubernetes HPAScalingRules default Max"),
        "policies": Field(ListOf(SCALING_POLICY), None,
                          "Kubernetes defaults: up 100 % or 4 pods per 15 s; down 100 % per 15 s"),
    })


METRIC = Section({
    "type": Field(Choice(("Resource", "External")), REQUIRED, "Kubernetes MetricSpec"),
    "resource": Field(Section({
        "name": Field(Choice(("cpu",)), "cpu", "Kubernetes ResourceMetricSource"),
        "target": Field(Section({
            "type": Field(Choice(("Utilization",)), "Utilization", "Kubernetes MetricTarget"),
            "averageUtilization": count(80, "Kubernetes: 80 % CPU when no metric is given",
                                        low=1)}), {}, "Kubernetes MetricTarget"),
    }), None, "Kubernetes ResourceMetricSource"),
    "external": Field(Section({
        "metric": Field(Section({"name": Field(Choice(("queue_depth", "latency")), REQUIRED,
                                               "sdmodels: the metrics a part exposes")}),
                        REQUIRED, "Kubernetes ExternalMetricSource"),
        "target": Field(Section({
            "type": Field(Choice(("AverageValue", "Value")), "AverageValue",
                          "Kubernetes MetricTarget"),
            "averageValue": Field(Number(low=0), REQUIRED, "Kubernetes MetricTarget")}),
            REQUIRED, "Kubernetes MetricTarget"),
    }), None, "Kubernetes ExternalMetricSource"),
})

HPA = Section({
    "minReplicas": count(1, "Kubernetes HPA default minReplicas 1", low=1),
    "maxReplicas": count(REQUIRED, "Kubernetes HPA: required", low=1),
    "metrics": Field(ListOf(METRIC), None, "Kubernetes: CPU at 80 % when none is given"),
    "syncPeriod": Field(PERIOD, 15.0, "kube-controller-manager "
                        "--horizontal-pod-autoscaler-sync-period default 15s"),
    "tolerance": Field(FRACTION, 0.1, "kube-controller-manager "
                       "--horizontal-pod-autoscaler-tolerance default 0.1"),
    "behavior": Field(Section({
        "scaleUp": Field(_scaling_rules(0, "Kubernetes default scale-up window 0 s"), {},
                         "Kubernetes HPA behavior"),
        "scaleDown": Field(_scaling_rules(300, "Kubernetes default scale-down window 300 s"),
                           {}, "Kubernetes HPA behavior"),
    }), {}, "Kubernetes HPA behavior"),
})

#: the first attempt and up to 5 retries: library/parts/retry.py's GENERATIONS (a test holds
#: the two equal; the schema does not import the library)
MAX_ATTEMPTS = 6

RETRY = Section({
    "maxAttempts": Field(Number(low=1, high=MAX_ATTEMPTS, integer=True), 3,
                         "resilience4j Retry default maxAttempts 3 (the first attempt "
                         "included; sdmodels models the first and up to 5 retries)"),
    "waitDuration": Field(DURATION, 0.5, "resilience4j Retry default waitDuration 500ms"),
    "enableExponentialBackoff": Field(Flag(), False, "resilience4j Retry default"),
    "exponentialBackoffMultiplier": Field(Number(low=1), 2.0, "resilience4j Retry default 2"),
    "exponentialMaxWaitDuration": Field(DURATION, 30.0, "assumption: 30 s, the reference's "
                                        "Part 4 fix"),
    "enableRandomizedWait": Field(Flag(), False, "resilience4j Retry default (no jitter)"),
    "randomizedWaitFactor": Field(FRACTION, 0.5, "resilience4j Retry default 0.5"),
    "retryBudget": Field(Section({
        "percentCanRetry": Field(FRACTION, 0.2, "Finagle RetryBudget default 20 %"),
        "minRetriesPerSec": count(10, "Finagle RetryBudget default 10"),
    }), None, "Finagle RetryBudget (none by default)"),
})

CIRCUIT_BREAKER = Section({
    "failureRateThreshold": Field(Number(low=1, high=100), 50.0,
                                  "resilience4j CircuitBreaker default 50 %"),
    "slidingWindowSize": count(100, "resilience4j CircuitBreaker default 100 calls", low=1),
    "minimumNumberOfCalls": count(100, "resilience4j CircuitBreaker default 100", low=1),
    "waitDurationInOpenState": Field(DURATION, 60.0, "resilience4j default 60s"),
    "permittedNumberOfCallsInHalfOpenState": count(10, "resilience4j default 10", low=1),
    "slowCallRateThreshold": Field(Number(low=1, high=100), 100.0,
                                   "resilience4j CircuitBreaker default 100 %"),
    "slowCallDurationThreshold": Field(DURATION, 60.0, "resilience4j CircuitBreaker default "
                                       "60s (a call slower than this counts as slow)"),
})

RESOURCES = Section({
    "limits": Field(Section({
        "memory": Field(MEMORY, REQUIRED, "Kubernetes container resources.limits.memory"),
    }), REQUIRED, "Kubernetes container resources.limits"),
    "baseMemory": Field(MEMORY, REQUIRED, "the description: a pod's memory when idle"),
    "memoryPerRequest": Field(MEMORY, REQUIRED, "the description: memory each request in "
                              "flight holds"),
})

POOL = Section({
    "maximumPoolSize": count(10, "HikariCP default maximumPoolSize 10", low=1),
    "connectionTimeout": Field(DURATION, 30.0, "HikariCP default connectionTimeout 30s; 0 = "
                               "wait forever (node-postgres pg.Pool connectionTimeoutMillis "
                               "default 0)"),
    "idleTimeout": Field(DURATION, 600.0, "HikariCP default idleTimeout 10min; it retires "
                         "idle connections only above minimumIdle (default maximumPoolSize), "
                         "and the pool keeps its connections open: it changes no run"),
    "scope": Field(Choice(("total", "per_pod")), "total",
                   "sdmodels: one pool for the service, or one in every pod (HikariCP's case)"),
})

#: kind -> the metrics an alert rule can watch on a component of that kind: name -> (what
#: it is, the series people scrape for it); `library.compose.alerting` reads them
ALERT_METRICS = {
    "service": {
        "latency": ("mean response time, s", "http_server_requests_seconds"),
        "error_ratio": ("share of requests failing (errors and timeouts)",
                        'http_server_requests_seconds_count{outcome!="SUCCESS"}'),
        "timeout_ratio": ("share of requests timing out",
                          'http_client_requests_seconds_count{outcome="TIMEOUT"}'),
        "queue_depth": ("requests queued for a worker", "executor_queued_tasks"),
        "cpu": ("busy share of the workers, 0 to 1", "container_cpu_usage_seconds_total"),
    },
    "database": {
        "latency": ("mean time to a result, the wait for a connection included, s",
                    "hikaricp_connections_acquire_seconds + hikaricp_connections_usage_seconds"),
        "error_ratio": ("share of queries failing (connection timeouts, killed queries)",
                        "hikaricp_connections_timeout_total"),
        "connections_pending": ("requests waiting for a connection",
                                "hikaricp_connections_pending"),
        "connections_active": ("connections in use", "hikaricp_connections_active"),
    },
    "rate_limiter": {
        "error_ratio": ("share of requests rejected with 429",
                        'http_server_requests_seconds_count{status="429"}'),
    },
    "cache": {
        "misses": ("misses and refreshes sent to the store, req/s",
                   "redis_keyspace_misses_total"),
    },
}

#: what the on-call does when a rule pages them -> the kind of component it acts on
ALERT_ACTIONS = {
    "rollback": "database",     # ends the dependency slowdown (Black Friday: a slow query)
    "scale_out": "service",     # raises the service's HPA minReplicas to maxReplicas
}

ALERT_RULE = Section({
    "alert": Field(str, REQUIRED, "Prometheus alerting rule: alert (its name)"),
    "component": Field(str, REQUIRED, "the description: whose metric the rule watches"),
    "metric": Field(str, REQUIRED, "sdmodels: a metric of the component (see the list below)"),
    "threshold": Field(Number(low=0), REQUIRED, "the rule's expr: metric > threshold"),
    "for": Field(DURATION, 0.0, "Prometheus alerting rule `for` default 0s (fires at the "
                 "first evaluation that finds the expr true)"),
    "action": Field(Choice(tuple(ALERT_ACTIONS)), REQUIRED, "the rule's runbook: what the "
                    "on-call does when it pages them"),
    "target": Field(str, None, "the component the action acts on (default: the rule's "
                    "component)"),
})

# --------------------------------------------------------------------------- kinds
KINDS: dict[str, Section] = {
    "traffic": Section({
        "rate": Field(RATE, None, "the description: arrivals per second, whatever happens "
                      "to them (an open workload); or give population (a closed one)"),
        "pattern": Field(Choice(("constant", "ramp", "spike", "diurnal")), "constant",
                         "sdmodels traffic part"),
        "peak": Field(RATE, None, "the description: the surge scenario's height (3x rate "
                      "if not given)"),
        "users": count(1, "the description: distinct clients (per-user rate limits)", low=1),
        "population": Field(Number(low=1, integer=True), None, "the description: a closed "
                            "workload of this many concurrent clients (virtual users, a "
                            "client's worker threads), each waiting for its request, retries "
                            "and backoff sleeps included, before its next (Locust users, k6 "
                            "vus, JMeter threads)"),
        "thinkTime": Field(DURATION, None, "the description: a closed client's pause between "
                           "a request's end and its next (0s if not given: a worker that "
                           "sends its next request at once)"),
        "peakPopulation": Field(Number(low=1, integer=True), None, "the description: a closed "
                                "workload's population in the surge scenario (3x population "
                                "if not given)"),
    }),
    "cdn": Section({
        "hitRatio": Field(FRACTION, 0.0, "assumption: an API behind a CDN is not cached"),
    }),
    "load_balancer": Section({
        "readinessGating": Field(Flag(), True, "Kubernetes Services route to ready pods only"),
    }),
    "service": Section({
        "replicas": count(3, "the description: pods at the start", low=1),
        "workersPerPod": count(200, "Tomcat maxThreads default 200", low=1),
        "concurrency": Field(Choice(("threadPerRequest", "async")), "threadPerRequest",
                             "Tomcat / Spring MVC: a request waiting for a database connection "
                             "blocks one of its threads; async (an event loop: Node.js, "
                             "WebFlux; Go's goroutines): it blocks none, nothing bounds the "
                             "waiting"),
        "serviceTime": Field(PERIOD, REQUIRED, "the description: time one request takes"),
        "queueLimit": count(100, "Tomcat acceptCount default 100"),
        "startupTime": Field(DURATION, 60.0, "reference Part 2: pod startup 60s+"),
        "hpa": Field(HPA, None, "none unless described"),
        "resources": Field(RESOURCES, None, "none unless described: no memory limit, no OOM "
                           "kills"),
    }),
    "cache": Section({
        "engine": Field(Choice(("redis", "memcached", "in_process")), "redis", "description"),
        "ttl": Field(PERIOD, REQUIRED, "the description (Redis EXPIRE)"),
        "ttlJitter": Field(DURATION, 0.0, "reference Hands-On: no jitter"),
        "keys": count(1000, "assumption: hot keys that expire together", low=1),
        "coalescing": Field(Flag(), False, "off unless described"),
        "earlyRefresh": Field(Flag(), False, "off unless described"),
    }),
    "database": Section({
        "engine": Field(Choice(("postgresql", "mysql", "other")), "postgresql", "description"),
        "maxConnections": count(100, "PostgreSQL max_connections default 100", low=1),
        "queryTime": Field(PERIOD, 0.01, "reference Part 3.3: 10 ms queries"),
        "pool": Field(POOL, {}, "HikariCP defaults"),
    }),
    "queue": Section({
        "maxLength": count(100000, "assumption: a bounded broker queue"),
    }),
    "rate_limiter": Section({
        "limitForPeriod": count(REQUIRED, "resilience4j RateLimiter limitForPeriod", low=1),
        "limitRefreshPeriod": Field(PERIOD, 1.0, "resilience4j RateLimiter default 1s"
                                    " (500ns in the library; 1s as the description states)"),
        "per": Field(Choice(("user", "global")), "global", "the description"),
    }),
    "alerting": Section({
        "scrapeInterval": Field(PERIOD, 60.0, "Prometheus global.scrape_interval default 1m"),
        "evaluationInterval": Field(PERIOD, 60.0, "Prometheus global.evaluation_interval "
                                    "default 1m"),
        "groupWait": Field(DURATION, 30.0, "Alertmanager route group_wait default 30s"),
        "responseTime": Field(DURATION, 900.0, "assumption within reference Part 2.3's "
                              "human response 300-3600 s (page -> wake -> investigate): 15 min"),
        "rules": Field(ListOf(ALERT_RULE), REQUIRED, "Prometheus alerting rules"),
    }),
}

CALL = Section({
    "from": Field(str, REQUIRED, "the description"),
    "to": Field(str, REQUIRED, "the description"),
    "timeout": Field(PERIOD, 15.0, "Envoy route timeout default 15s"),
    "retry": Field(RETRY, None, "no retries unless described"),
    "circuitBreaker": Field(CIRCUIT_BREAKER, None, "no circuit breaker unless described"),
})

SYSTEM = Section({
    "system": Field(str, REQUIRED, "the description's name"),
    "description": Field(str, "", ""),
    "components": Field(dict, REQUIRED, "name -> {kind: ..., fields}"),
    "calls": Field(list, REQUIRED, "list of {from, to, ...}"),
})
