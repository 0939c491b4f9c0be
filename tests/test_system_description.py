"""System descriptions: the examples read, and bad descriptions list every problem at once."""
from pathlib import Path

import pytest

from sdmodels.system import SystemDescriptionError, load_system
from sdmodels.system.quantities import QuantityError, duration, rate

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_hands_on_example_reads_the_exercise_numbers():
    spec = load_system(EXAMPLES / "hands_on.yaml")
    api, cache, db = (spec.components[n].config for n in ("api", "cache", "db"))
    assert spec.components["cache"].kind == "cache"
    assert cache["ttl"] == 3600.0 and cache["ttlJitter"] == 0.0          # 1 h, no jitter
    assert db["pool"]["maximumPoolSize"] == 50.0                          # pool of 50
    assert db["pool"]["connectionTimeout"] == 0.0           # pg.Pool default: wait forever
    assert api["concurrency"] == "async"                    # a Node.js API (the fix's pool)
    assert api["hpa"]["syncPeriod"] == 15.0                               # every 15 s
    assert api["hpa"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 30.0
    assert api["hpa"]["behavior"]["scaleUp"]["stabilizationWindowSeconds"] == 0.0
    assert spec.components["limiter"].config["limitForPeriod"] == 1000.0
    (first,) = [c for c in spec.calls if c.source == "users"]
    assert first.config["retry"]["maxAttempts"] == 4.0                    # 3 retries
    assert first.config["retry"]["waitDuration"] == 1.0                   # 1 s fixed
    assert first.config["retry"]["enableRandomizedWait"] is False
    assert first.config["circuitBreaker"] is None                         # none


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_every_example_reads(path):
    spec = load_system(path)
    assert spec.calls and any(c.kind == "traffic" for c in spec.components.values())


BAD = """\
system: broken
components:
  users: {kind: traffic, rate: 100}
  api:
    kind: servise
  cache:
    kind: cache
    ttl: 1 hour
    ttlJiter: 5s
  web:
    kind: service
    serviceTime: 20ms
    hpa: {minReplicas: 5, maxReplicas: 2}
calls:
  - {from: users, to: web}
  - {from: web, to: cach, timeout: 2}
"""


def test_every_problem_is_listed_once_with_line_column_and_a_hint():
    with pytest.raises(SystemDescriptionError) as info:
        load_system(BAD)
    found = {(p.line, p.path): p.message for p in info.value.problems}
    assert len(info.value.problems) == 7, str(info.value)
    assert "per unit of time" in found[(3, "components.users.rate")]
    assert "Did you mean 'service'?" in found[(5, "components.api.kind")]
    assert "Kinds: traffic" in found[(5, "components.api.kind")]
    assert "write it with a unit" in found[(8, "components.cache.ttl")]
    assert "Did you mean 'ttlJitter'?" in found[(9, "components.cache.ttlJiter")]
    assert "minReplicas (5) is above maxReplicas (2)" in found[(13, "components.web.hpa")]
    assert "Did you mean 'cache'?" in found[(16, "calls[1].to")]
    assert "write it with a unit" in found[(16, "calls[1].timeout")]
    message = str(info.value)
    assert message.startswith("<text>: 7 problems in the system description:")
    assert "line 9, column 5: components.cache.ttlJiter: unknown field." in message


def test_a_yaml_syntax_error_has_its_position():
    with pytest.raises(SystemDescriptionError,
                       match=r"line 3, column 7: \(document\): mapping values are not allowed"):
        load_system("system: x\ncomponents:\n  a: b: c\n")


def test_required_fields_and_duplicates_are_reported():
    text = ("system: s\ncomponents:\n  u: {kind: traffic, rate: 5/s}\n"
            "  c: {kind: cache, keys: 5, keys: 6}\ncalls: []\n")
    with pytest.raises(SystemDescriptionError) as info:
        load_system(text)
    messages = [str(p) for p in info.value.problems]
    assert any("components.c.ttl: is required" in m for m in messages)
    assert any("components.c.keys: appears twice (first on line 4)" in m for m in messages)


def test_a_component_nobody_calls_and_a_queue_without_consumer_are_listed(tmp_path):
    """A component no call reaches takes no requests (a call forgotten or misspelt), and a
    queue relays its messages to a consumer: both are problems at the component's line,
    listed with the others, and `sdm analyze` writes nothing (before, the queue without a
    consumer reached the linearisation: "has no stock: there is nothing to linearise")."""
    from click.testing import CliRunner
    from sdmodels.cli import main
    text = ("system: s\ncomponents:\n  u: {kind: traffic, rate: 5/s}\n"
            "  q: {kind: queue}\n  db: {kind: database}\n"
            "calls:\n  - {from: u, to: q}\n")
    with pytest.raises(SystemDescriptionError) as info:
        load_system(text)
    assert [(p.line, p.path) for p in info.value.problems] == [
        (4, "components.q"), (5, "components.db")]
    queue, db = (p.message for p in info.value.problems)
    assert queue.startswith("q (queue) has no consumer: add a call from q to the service")
    assert db.startswith("no call reaches db (database): add one to calls")
    path = tmp_path / "s.yaml"
    path.write_text(text)
    result = CliRunner().invoke(main, ["analyze", str(path), "-o", str(tmp_path / "out")])
    assert result.exit_code == 2 and "2 problems in the system description" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.yaml"]


def test_a_misspelt_field_checked_against_another_is_reported_not_a_crash():
    # minReplicas is compared with maxReplicas; with maxReplicas misspelt the comparison
    # raised KeyError (a traceback from `sdm analyze`) instead of listing the misspelling
    text = (EXAMPLES / "hands_on.yaml").read_text().replace("maxReplicas:", "maxReplica:")
    with pytest.raises(SystemDescriptionError) as info:
        load_system(text)
    messages = [str(p) for p in info.value.problems]
    assert any("maxReplica: unknown field. Did you mean 'maxReplicas'?" in m for m in messages)
    assert any("maxReplicas: is required" in m for m in messages)


@pytest.mark.parametrize("field", ["ttl", "limitRefreshPeriod", "queryTime", "syncPeriod"])
def test_a_period_of_zero_is_refused_not_divided_by(field):
    # ttl: 0s and limitRefreshPeriod: 0s raised ZeroDivisionError while composing
    text = (EXAMPLES / "hands_on.yaml").read_text()
    lines = [line if line.strip().split(":")[0] != field
             else line.split(":")[0] + ": 0s" for line in text.splitlines()]
    assert lines != text.splitlines()
    with pytest.raises(SystemDescriptionError, match=rf"{field}: '0s' must be longer than 0"):
        load_system("\n".join(lines))


def test_a_min_replicas_out_of_range_is_listed_not_compared():
    text = (EXAMPLES / "hands_on.yaml").read_text().replace("minReplicas: 2", "minReplicas: 0")
    with pytest.raises(SystemDescriptionError, match=r"minReplicas: 0 is outside 1 to inf"):
        load_system(text)


@pytest.mark.parametrize("text, seconds", [("50ms", 0.05), ("1s", 1), ("2m", 120),
                                           ("1h", 3600), ("1.5 s", 1.5), ("1d", 86400)])
def test_durations(text, seconds):
    assert duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["5", "five seconds", "1 hour", "", "-"])
def test_durations_without_a_unit_are_refused(text):
    with pytest.raises(QuantityError, match="with a unit"):
        duration(text)


def test_rates_per_unit_of_time():
    assert rate("1000/s") == 1000 and rate("60000 req/min") == pytest.approx(1000)
    assert rate("3.6/h") == pytest.approx(0.001)


BREAKER = """\
system: slow
components:
  users: {kind: traffic, rate: 100/s}
  api: {kind: service, serviceTime: 20ms}
  db: {kind: database, queryTime: 10ms}
calls:
  - {from: users, to: api}
  - from: api
    to: db
    circuitBreaker: {slowCallRateThreshold: 50, slowCallDurationThreshold: 2s}
"""


def test_breaker_slow_call_fields_read_with_units_and_resilience4j_defaults():
    spec = load_system(BREAKER)
    cb = spec.calls[1].config["circuitBreaker"]
    assert cb["slowCallRateThreshold"] == 50.0 and cb["slowCallDurationThreshold"] == 2.0
    assert cb["failureRateThreshold"] == 50.0                     # resilience4j defaults
    bad = BREAKER.replace("slowCallDurationThreshold: 2s", "slowCallDurationThresold: 2s") \
        .replace("slowCallRateThreshold: 50", "slowCallRateThreshold: 150")
    with pytest.raises(SystemDescriptionError) as info:
        load_system(bad)
    found = {p.path: p.message for p in info.value.problems}
    assert len(found) == 2, str(info.value)
    assert "Did you mean 'slowCallDurationThreshold'?" in found[
        "calls[1].circuitBreaker.slowCallDurationThresold"]
    assert "150 is outside 1 to 100" in found["calls[1].circuitBreaker.slowCallRateThreshold"]
    with pytest.raises(SystemDescriptionError, match="write it with a unit"):
        load_system(BREAKER.replace("slowCallDurationThreshold: 2s",
                                    "slowCallDurationThreshold: 2"))


def test_slow_calls_need_a_callee_with_a_latency_distribution():
    """A service's fluid part gives a mean latency, not which calls are slow: a slow-call
    rate threshold on a call to it is refused (leaving it at 100 % is fine)."""
    from library.compose import compose
    from sdmodels.errors import ModelError
    to_api = BREAKER.replace("  - {from: users, to: api}\n", "").replace(
        "  - from: api\n    to: db\n", "  - {from: users, to: api, circuitBreaker: "
        "{slowCallRateThreshold: 50}}\n  - from: api\n    to: db\n")
    with pytest.raises(ModelError, match="slowCallRateThreshold needs the response-time "
                       "distribution of api"):
        compose(load_system(to_api))
    compose(load_system(to_api.replace("{slowCallRateThreshold: 50}", "{}")))


def test_the_backoff_multiplier_and_the_attempts_reach_the_model():
    """resilience4j's exponentialBackoffMultiplier was read and then ignored (the delay always
    doubled): with 3, 1 s and a 5 s cap the sleeps are 1, 3, min(9, 5) = 5 s. maxAttempts
    above the first attempt and 5 retries the retry part models is refused, not cut to 6."""
    from library.compose import compose
    from library.parts.retry import GENERATIONS, mean_waits
    from sdmodels import simulate
    from sdmodels.system.schema import MAX_ATTEMPTS
    call = ("{from: users, to: api, retry: {maxAttempts: ATTEMPTS, waitDuration: 1s, "
            "enableExponentialBackoff: true, exponentialBackoffMultiplier: 3, "
            "exponentialMaxWaitDuration: 5s}}")
    text = ("system: s\ncomponents:\n  users: {kind: traffic, rate: 10/s}\n"
            "  api: {kind: service, serviceTime: 10ms}\ncalls:\n  - " + call + "\n")
    run = simulate(compose(load_system(text.replace("ATTEMPTS", "4"))).model,
                   engine="interpreter", stop=0.1).to_pandas()
    sleeps = [run[f"users to api retries / Backoff[attempt{k}]"].iloc[0] for k in (1, 2, 3)]
    assert sleeps == [1.0, 3.0, 5.0]
    assert mean_waits(3, 1.0, 5.0, exponential=True, jitter=0.0, multiplier=3.0) == sleeps
    assert MAX_ATTEMPTS == GENERATIONS
    with pytest.raises(SystemDescriptionError) as info:
        load_system(text.replace("ATTEMPTS", "7"))
    (problem,) = info.value.problems
    assert problem.path == "calls[0].retry.maxAttempts" and "7 is outside 1 to 6" in problem.message


def test_the_same_call_twice_is_a_problem_at_the_second():
    """Two calls between the same pair were composed under one name and failed as a name
    clash inside the model ('defines users to api timeout twice')."""
    text = ("system: s\ncomponents:\n  users: {kind: traffic, rate: 10/s}\n"
            "  api: {kind: service, serviceTime: 10ms}\ncalls:\n"
            "  - {from: users, to: api}\n  - {from: users, to: api, timeout: 2s}\n")
    with pytest.raises(SystemDescriptionError) as info:
        load_system(text)
    (problem,) = info.value.problems
    assert (problem.line, problem.path) == (7, "calls[1]")
    assert problem.message == "users -> api is already calls[0] (line 6): one call per pair; " \
        "merge them"
