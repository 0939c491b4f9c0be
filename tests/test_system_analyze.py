"""`sdm analyze`: loops recognised by component roles, the checklist, combinations, fixes,
and the report files. Expected values come from the descriptions themselves (retry waits,
timeouts, HPA sync period and start-up) and from the reference's Expected Findings."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from sdmodels.cli import main
from sdmodels.system import SystemDescriptionError, analyze
from sdmodels.system.analyze import recognised
from sdmodels.system.checklist import config_delays, delays
from sdmodels.system.fixes import Change, Fix, apply, fixes_for
from tests.hands_on_variants import hands_on_text, threaded, without_cache

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture(scope="module")
def chain():
    return recognised(EXAMPLES / "service_chain.yaml")


@pytest.fixture(scope="module")
def pipeline():
    return recognised(EXAMPLES / "queue_workers.yaml")


@pytest.fixture(scope="module")
def hands(tmp_path_factory):
    text = threaded(without_cache(hands_on_text()))     # behind Tomcat's threads
    a = analyze(text)
    out = tmp_path_factory.mktemp("report") / "hands"
    a.write(out)
    return a, out


def test_service_chain_has_one_reinforcing_retry_storm_per_hop(chain):
    storms = [m for m in chain.matches if m.pattern == "retry storm"]
    calls = chain.spec.calls
    hops = sorted((calls[m.subject["call"]].source, calls[m.subject["call"]].target)
                  for m in storms)
    assert hops == [("gateway", "orders"), ("inventory", "db"), ("orders", "inventory")]
    for m in storms:
        call = calls[m.subject["call"]]
        assert chain.polarity(m) == "R"
        # the caller's retries and the callee alone: not the loop up through the caller's
        # caller (its give-ups hide failures from the hop above: B), which a retry rate
        # without a budget stood in for before (issue 14)
        assert set(m.components) == {call.source, call.target}
        found = {d.what: d for d in config_delays(m, chain.spec)}
        wait = found["retry wait, fixed"]
        assert wait.seconds == pytest.approx(0.1) and wait.fixed
        assert found[f"timeout of {call.source} -> {call.target}"].seconds == \
            pytest.approx(call.config["timeout"])
        assert delays(m, chain.spec, ())["total_seconds"] == \
            pytest.approx(call.config["timeout"] + 0.1)


def test_only_a_call_with_a_retry_budget_gets_a_token_bucket(chain):
    from library.compose import compose
    from sdmodels.ir import build

    def buckets(ir):
        return sorted(v.split(".")[0] for v in ir.variables if v.endswith(".retry_tokens"))

    assert buckets(chain.ir) == []              # no call of service_chain has retryBudget
    fix = next(f for f in fixes_for(
        next(m for m in chain.matches if m.key == "retry storm: orders -> inventory"),
        chain.spec) if f.name == "retry budget")
    fixed = build(compose(apply(chain.spec, fix)).model)
    assert buckets(fixed) == ["orders_to_inventory_retries"]


def test_service_chain_pool_exhaustion_runs_through_the_database(chain):
    pool = [m for m in chain.matches if m.pattern == "connection pool exhaustion"]
    assert len(pool) == 1 and chain.polarity(pool[0]) == "R"
    assert pool[0].components[0] == "db"
    roles = {role for _, role, _ in pool[0].anchors}
    assert "connections" in roles


def test_queue_workers_hpa_on_queue_depth_is_balancing_with_sync_and_startup(pipeline):
    hpa = [m for m in pipeline.matches if m.pattern == "HPA scaling"]
    assert len(hpa) == 1 and pipeline.polarity(hpa[0]) == "B"
    assert hpa[0].components == ("workers",)
    metric = pipeline.composition.nodes["workers"].roles["hpa metric"]
    assert metric == pipeline.composition.nodes["workers"].roles["backlog"]   # queue depth
    answer = delays(hpa[0], pipeline.spec, ())
    items = {d["what"]: d["seconds"] for d in answer["items"]}
    assert items["HPA sync period"] == 15 and items["pod start-up"] == 30
    assert answer["total_seconds"] == 45                   # 15 s sync + 30 s start-up + 0 s window
    assert answer["evaluation_period"] == 15 and answer["faster_than_delay"]
    storm = [m for m in pipeline.matches if m.pattern == "retry storm"]
    assert len(storm) == 1 and pipeline.polarity(storm[0]) == "R"
    wait = [d for d in config_delays(storm[0], pipeline.spec) if "retry wait" in d.what][0]
    assert not wait.fixed and "jitter" in wait.what


def test_hands_on_without_cache_loops_types_and_delays(hands):
    a, _ = hands
    types = {f.match.pattern: f.polarity for f in a.findings}
    assert types == {"retry storm": "R", "connection pool exhaustion": "R",
                     "rate-limit retry amplification": "R", "HPA scaling": "B",
                     "rate limiting": "B"}
    storm = a.by_pattern("retry storm")[0]
    wait = [d for d in storm.answers.delays["items"] if d["what"].startswith("retry wait")][0]
    assert wait["seconds"] == 1 and wait["fixed"]                   # 1 s fixed, no jitter
    assert "retry wait, fixed: 1 s" in storm.answers.synchronization["unjittered"]
    hpa = a.by_pattern("HPA scaling")[0].answers
    assert hpa.delays["total_seconds"] == 15 + 60                  # sync + pod start-up
    assert hpa.stability["stabilization_windows"] == {"scaleUp": 0, "scaleDown": 30}
    metrics = {m["metric"] for f in a.findings for m in f.answers.observability["metrics"]}
    assert {"hikaricp_connections_active", "resilience4j_retry_calls_total",
            "kube_horizontalpodautoscaler_status_desired_replicas"} <= metrics
    assert len(a.loops) > len(a.findings) and a.notices          # capped enumeration, noted
    limiting = a.by_pattern("rate limiting")[0].answers.delays   # only its own 1 s period:
    assert limiting["total_seconds"] == 1 and not limiting["faster_than_delay"]
    assert "nothing else delaying its effect" in limiting["verdict"]   # not "the 0 s of delay"


def test_hands_on_without_cache_dangerous_combinations(hands):
    a, _ = hands
    together = [c for c in a.combinations if c["kind"] == "reinforcing together"]
    assert any({"retry storm: users -> cdn", "connection pool exhaustion: db"} <= set(
        c["loops"]) for c in together)
    assert any(set(c["loops"]) == {"HPA scaling: api", "retry storm: users -> cdn"}
               for c in a.combinations)
    for c in a.combinations:             # each shown in a stress run where both act
        assert c["scenario"] != "baseline" and all(
            label != "steady" for label in c["labels"].values())


def test_hands_on_without_cache_the_database_holds_the_api_threads(hands):
    """Without its cache the exercise's database takes all 800 req/s: overloaded with no
    stress at all. Its pool of 50 at 50 ms x the USL slowdown at 50 in flight (1 + 0.02 x 49
    + 0.0005 x 50 x 49 = 3.205) hands out 50 / 0.160 = 312 connections a second, and the
    requests waiting for one hold the API's request threads: the API serves what the pool
    serves, with 312 x 50 ms = 15.6 threads free (Little's law), so 200 - 15.6 = 184.4 wait
    on the description's 4 pods and 100 - 15.6 = 84.4 on the 2 the HPA keeps (the threads
    waiting use no CPU: 15.6 %, under its 70 % target, so it never scales up, in the surges
    either). The users' retries (1,884 req/s at baseline) are the API's queue timing out.
    A retry budget cuts the surge's retry peak by far more than 2/3 (6,718 -> 240 req/s),
    and a breaker on users -> cdn too, but neither is credited as breaking the storm: the
    retries were at 1,884 req/s before the surge and end far below that, and `analyze`
    counts a loop broken only if it ends no further from where it was. A 5 s
    connectionTimeout changes nothing: the threads bound the waiting callers (184.4) and
    the head of the queue waits 184.4 / 312 = 0.6 s."""
    a, _ = hands
    usl = 1 + 0.02 * 49 + 0.0005 * 50 * 49
    rate = 50 / (0.05 * usl)
    pool = a.by_pattern("connection pool exhaustion")[0]
    run = a.runs["baseline"]
    assert pool.label("baseline") != "steady"
    assert run[pool.primary].loc[10:29].to_numpy() == pytest.approx(200 - rate * 0.05, rel=1e-3)
    assert run[pool.primary].loc[40:].to_numpy() == pytest.approx(100 - rate * 0.05, rel=1e-3)
    rows = {r["fix"]: r for r in a.fixes}
    assert {"retry budget", "circuit breaker on users -> cdn",
            "connection pool with timeout"} <= \
        set(rows)

    def target(name, loop="retry storm: users -> cdn"):
        return [x for x in rows[name]["loops"] if x["loop"] == loop][0]
    budget, breaker = target("retry budget"), target("circuit breaker on users -> cdn")
    assert budget["scenario"] == "traffic surge"
    assert budget["peak_after"] < budget["peak_before"] / 3        # retries cut by 2/3+
    assert breaker["peak_after"] < breaker["peak_before"] / 3
    assert not budget["broken"] and not breaker["broken"]          # (they end far lower)
    timeout = target("connection pool with timeout", "connection pool exhaustion: db")
    assert timeout["peak_after"] == pytest.approx(timeout["peak_before"])
    assert timeout["peak_before"] == pytest.approx(200 - rate * 0.05, rel=1e-3)
    assert rows["connection pool with timeout"]["breaks"] == []
    assert "+ calls[0].retry.retryBudget: {percentCanRetry: 10%}" in rows["retry budget"]["diff"]
    assert "- components.db.pool.connectionTimeout: 30s" in \
        rows["connection pool with timeout"]["diff"]


def test_hands_on_without_cache_the_hpa_sees_no_cpu_behind_a_saturated_pool(hands):
    """The exercise's HPA on CPU, without the cache: the API serves only the 312 req/s the
    pool hands out (above), 312 x 50 ms = 15.6 busy threads; the threads waiting for a
    connection use no CPU, so the CPU is 15.6 / 200 = 7.8 % on 4 pods, the HPA takes them
    to ceil(4 x 7.8 / 70) = 1 -> minReplicas 2 at 30 s (15.6 % of 2) and keeps them there in
    every scenario, the user surge included: more pods would only add threads to wait.
    Nothing undone, so its oscillation risk is not shown here (it is with the cache)."""
    a, _ = hands
    hpa = a.by_pattern("HPA scaling")[0]
    assert hpa.risk["shown_in"] == []
    for name, frame in a.runs.items():
        assert frame[hpa.primary].loc[31:].max() == 2, name
    from library.compose import compose
    from sdmodels import simulate
    run = simulate(compose(a.spec).model, scenario="user surge", engine="interpreter",
                   outputs=["api HPA metric"]).to_pandas()
    rate = 50 / (0.05 * (1 + 0.02 * 49 + 0.0005 * 50 * 49))
    assert run.iloc[:, 0].loc[10:29].to_numpy() == pytest.approx(100 * rate * 0.05 / 200,
                                                                 rel=1e-3)
    assert run.iloc[:, 0].loc[40:].to_numpy() == pytest.approx(100 * rate * 0.05 / 100,
                                                               rel=1e-3)


def test_report_files_say_what_was_found(hands):
    a, out = hands
    md = (out / "report.md").read_text()
    for f in a.findings:
        assert f"### {f.match.key}" in md
    # one count, said once (was "2001 loops in the composed model (2001 loops in ...)")
    assert f"The composed model: {len(a.loops)} loops in '{a.spec.name}'" in md
    assert "## Dangerous combinations" in md and "```diff" in md
    assert "| s beyond half the old rise |" in md
    data = json.loads((out / "report.json").read_text())
    assert [f["type"] for f in data["findings"]] == [f.polarity for f in a.findings]
    assert data["findings"][0]["delays"]["items"][1]["seconds"] == 1
    page = (out / "report.html").read_text()
    assert "data:image/svg+xml;base64," in page and "data:image/png;base64," in page
    assert not re.search(r'src="(?!data:)', page)                  # nothing to fetch
    assert "<table>" in page and "hikaricp_connections_active" in page
    svg = (out / "cld.svg").read_text()
    # the retry storm's elements (no "Retries allowed": no call of hands_on has a budget)
    assert svg.lstrip().startswith("<?xml") and "Retries issued" in svg
    assert "Retries wanted" in svg and "Retries allowed" not in svg
    assert (out / "fix1.png").read_bytes()[:4] == b"\x89PNG"


def test_a_fix_is_applied_to_a_copy_of_the_description(chain):
    fix = Fix("t", (Change(("calls", 1, "retry", "maxAttempts"), "3", "5", 5.0),), (), "")
    fixed = apply(chain.spec, fix)
    assert fixed.calls[1].config["retry"]["maxAttempts"] == 5
    assert chain.spec.calls[1].config["retry"]["maxAttempts"] == 3


def test_a_description_with_errors_lists_them_all_and_writes_nothing(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("system: x\ncomponents:\n  users: {kind: trafic, rate: 1/s}\n"
                   "  api: {kind: service, serviceTime: 50}\ncalls:\n  - {from: users, to: ap}\n")
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["analyze", str(bad), "-o", str(out), "--quiet"])
    assert result.exit_code == 2
    assert "problems" in result.output and "trafic" in result.output
    assert "serviceTime" in result.output and "'ap'" in result.output
    assert not out.exists()
    with pytest.raises(SystemDescriptionError):
        analyze(str(bad))


def test_analyze_refuses_a_file_for_its_folder_and_a_file_that_is_no_description(tmp_path):
    """Both before any run (an analysis takes a minute): -o naming a file, or a folder below
    a file, and a system argument that is not .yaml/.yml/.toml (it was read as YAML, and
    README.md got a YAML syntax error)."""
    taken = tmp_path / "report.html"
    taken.write_text("mine")
    for out in (taken, taken / "sub"):
        result = CliRunner().invoke(main, ["analyze", str(EXAMPLES / "hands_on.yaml"), "-o",
                                           str(out), "--quiet"])
        assert result.exit_code == 2 and "is a file, not a folder" in result.output
    assert taken.read_text() == "mine"
    notes = tmp_path / "notes.md"
    notes.write_text("# not a system\n")
    result = CliRunner().invoke(main, ["analyze", str(notes), "-o", str(tmp_path / "o")])
    assert result.exit_code == 2 and "not a system description" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.md", "report.html"]


@pytest.fixture(scope="module")
def hands_on():
    return analyze(EXAMPLES / "hands_on.yaml")


def test_hands_on_expected_findings(hands_on):
    """The reference's Expected Findings for the Hands-On Exercise (final acceptance)."""
    a = hands_on
    types = {f.match.pattern: f.polarity for f in a.findings}
    for name in ("retry storm", "cache stampede", "connection pool exhaustion",
                 "rate-limit retry amplification"):
        assert types[name] == "R"
    assert types["HPA scaling"] == "B" and types["rate limiting"] == "B"
    ttl = [d for d in a.by_pattern("cache stampede")[0].answers.delays["items"]
           if d["what"].startswith("TTL")][0]
    assert ttl["seconds"] == 3600 and ttl["fixed"]                 # exactly 1 h, synchronized
    assert a.by_pattern("HPA scaling")[0].answers.delays["total_seconds"] >= 15 + 60
    together = [set(c["loops"]) for c in a.combinations if c["kind"] == "reinforcing together"]
    assert any({"cache stampede: cache", "retry storm: users -> cdn",
                "connection pool exhaustion: db"} <= g for g in together)
    names = {r["fix"] for r in a.fixes}
    assert {"jittered TTL", "exponential backoff with jitter", "HPA stabilization windows",
            "connection pool with timeout"} <= names
    assert any(n.startswith("circuit breaker on") and n.endswith("db") for n in names)
    ttl_fix = {r["fix"]: r for r in a.fixes}["jittered TTL"]
    assert set(ttl_fix["breaks"]) == set(ttl_fix["targets"])
    # read at the keys' next expiry (an hour after the flush that set them all at once): the
    # 1,000 keys expire in one instant before, over 1,200 s after, about one at a time, so
    # the misses' peak falls by about the number of keys (by 100x at least here)
    row = [r for r in ttl_fix["loops"] if r["targeted"]][0]
    assert row["peak_after"] < row["peak_before"] / 100 and row["held_after"] == 0
    pool = a.by_pattern("connection pool exhaustion")[0]       # requests wait for a
    assert pool.label("flush during slowdown") != "steady"     # connection only when both:
    assert pool.label("cache flush") == "steady"               # a flush refills at once,
    assert pool.label("dependency slowdown") == "steady"       # the cache shields a slow db


def test_hands_on_hpa_timing_fix_breaks_the_autoscaler_oscillation(hands_on):
    """Fix 4 (HPA timing), shown in simulation. The exercise's HPA (CPU, every 15 s, 30 s
    cooldown) runs the description's 4 pods at 800 / 4000 = 20 % CPU and takes them down to
    ceil(4 x 20 / 70) = 2 at the first sync past its 30 s window (t = 30 s). The user surge
    (3x traffic from 3x users, each under the 1000 req/s per-user limit) meets 2 pods:
    2,400 req/s on 2,000 of capacity, 100 % CPU, so the HPA adds a pod at the second sync
    after the surge starts (60 + 2 x 15 = 90 s: one scrape, then the sync), 60 s after it
    removed two: a change undone within the 15 s sync + 60 s start-up it takes to see its own
    action (reference: "Cooldown too short (30s), may oscillate"). That pod is ready at
    90 + 60 = 150 s, after the surge ended (120 s), and the next sync removes it (165 s, 75 s
    after it was asked for). The windows fix (scale-down 300 s, scale-up 60 s) keeps the 4
    pods through the surge: 2,400 / 4,000 = 60 % CPU (within ceil(4 x 60 / 70) = 4), nothing
    undone, and no retry storm at all (dangerous combination 2 gone)."""
    from sdmodels.system.report import to_markdown
    hpa = hands_on.by_pattern("HPA scaling")[0]
    risk = hpa.risk
    assert risk["risk"] == "autoscaler oscillation"
    assert (risk["seconds"], risk["delay"]) == (30, 15 + 60)
    sync, startup, window, start, end = 15, 60, 30, 60, 120
    up = start + 2 * sync
    assert risk["reversals"]["user surge"] == [(window, up), (up, up + startup + sync)]
    assert up + startup > end                         # the added pod is ready after the surge
    assert risk["shown_in"] == ["user surge", "pod loss"]
    row = {r["fix"]: r for r in hands_on.fixes}["HPA stabilization windows"]
    assert row["scenarios"] == ["user surge", "pod loss"]
    assert row["breaks"] == ["HPA scaling: api"] and row["unshown"] == []
    targeted = [x for x in row["loops"] if x["targeted"]]
    assert len(targeted) == 2
    for x in targeted:
        assert len(x["reversals_before"]) == 2 and x["reversals_after"] == [] and x["broken"]
    storm = [x for x in row["loops"] if x["loop"] == "retry storm: users -> cdn"
             and x["scenario"] == "user surge"][0]
    assert storm["peak_before"] > 1000 and storm["peak_after"] < 1e-6 * storm["peak_before"]
    fixed = hands_on.fixed_runs[("HPA stabilization windows", "user surge")]
    assert fixed[hpa.primary].loc[:300].min() == 4           # held through the surge
    md = to_markdown(hands_on, {})
    assert "**Configuration risk: autoscaler oscillation.**" in md
    assert "user surge (changes undone within 75 s: 30 s -> 90 s, 90 s -> 165 s)" in md
    assert "(2 changes undone before, 0 after)" in md
    assert md.count("A controller's row labels its output") == 1   # said under fix 4 only


def test_hands_on_hpa_and_retry_storm_act_together_in_the_user_surge(hands_on):
    """Dangerous combination 2 (HPA oscillation + retry storm), shown by a run: in the user
    surge the per-user limit (3 users x 1000 req/s) lets the surge's 2,400 req/s through to
    2 pods that serve 2,000: the API times out, the users retry (up to 3 times, 1 s apart) and
    the HPA scales up, both in the same run."""
    combo = [c for c in hands_on.combinations
             if set(c["loops"]) == {"HPA scaling: api", "retry storm: users -> cdn"}]
    assert len(combo) == 1 and combo[0]["shown"] and combo[0]["scenario"] == "user surge"
    assert all(label != "steady" for label in combo[0]["labels"].values())
    run = hands_on.runs["user surge"]
    hpa = hands_on.by_pattern("HPA scaling")[0].primary
    retries = hands_on.by_pattern("retry storm")[0].primary
    assert run[hpa].loc[60:120].max() == 3 and run[retries].loc[60:120].max() > 1000
    assert run[retries].loc[:59].max() < 1e-6


def test_hands_on_pool_connection_timeout_breaks_the_death_spiral(hands_on):
    """Fix 5 as the reference writes it: connectionTimeout 5 s and idleTimeout 60 s (its
    max_connections 50 is the exercise's pool already), on the example's async API and a
    pool that waits forever (pg.Pool's default). In the cache flush during the slowdown the
    queue for a connection grows as long as more queries arrive than the pool hands out,
    past the 15 s the cache waits for the database, after which no fill is answered in time:
    it is still growing when the run ends (end = peak: the reference's 'wait time 10,000ms+').
    With 5 s it levels at the last 5 s of queries and is gone with the stress; the stampede
    and the retry storm end with it (tests/test_system_pool_timeout.py has the closed forms;
    tests/test_system_threads.py the same fix behind threads, where it never fires)."""
    row = {r["fix"]: r for r in hands_on.fixes}["connection pool with timeout"]
    assert row["scenarios"] == ["flush during slowdown"]
    assert row["breaks"] == ["connection pool exhaustion: db"]
    loops = {x["loop"]: x for x in row["loops"]}
    pool = loops["connection pool exhaustion: db"]
    assert pool["before"] == "collapsed" and pool["end_before"] == pool["peak_before"]
    assert pool["peak_after"] < pool["peak_before"] / 100 and pool["held_after"] == 0
    assert pool["end_after"] < 1e-6 and pool["broken"]
    for other in ("cache stampede: cache", "retry storm: users -> cdn"):
        assert loops[other]["before"] == "collapsed" and loops[other]["broken"]
    assert "api wait without a thread (async)" in row["why"]
    assert "- components.db.pool.connectionTimeout: 0s (wait forever)\n+ components.db.pool." \
        "connectionTimeout: 5s" in row["diff"]
    assert "- components.db.pool.idleTimeout: 600s\n+ components.db.pool.idleTimeout: 60s" \
        in row["diff"]
    assert "a saturated pool has none idle" in row["why"]


def test_hands_on_database_breaker_opens_on_slow_calls_and_breaks_the_pool_loop(hands_on):
    """Fix 3 (circuit breaker on cache -> db) in the flush during the slowdown, on the
    example's async API: it counts slow calls (resilience4j slowCallDurationThreshold: the
    users' 1 s timeout, after which an answer is wasted; slowCallRateThreshold 50 %), read
    off the pool's response-time tail, so it opens as the queue builds, long before the
    15 s waits that would fail a call: the queue that grew without end peaks at a few
    seconds of queries and is gone with the stress. Its price, said in its text: while it
    is open every miss fails and the cache cannot refill. (Behind threads, where failures
    alone never open it: tests/test_system_threads.py.)"""
    row = [r for r in hands_on.fixes if r["fix"] == "circuit breaker on cache -> db"][0]
    assert row["breaks"] == ["connection pool exhaustion: db"]
    assert "slowCallRateThreshold: 50, slowCallDurationThreshold: 1s" in row["diff"]
    assert "the cache cannot refill" in row["why"]
    loops = {x["loop"]: x for x in row["loops"] if x["scenario"] == "flush during slowdown"}
    pool = loops["connection pool exhaustion: db"]
    assert pool["before"] == "collapsed" and pool["peak_after"] < pool["peak_before"] / 100
    assert pool["held_after"] == 0 and pool["end_after"] < 1e-6 and pool["broken"]


def test_hands_on_hpa_does_not_hang_on_the_scrape_clock():
    """The surge sends 2,400 req/s at the 1000 req/s limiter; the pods get 1000 req/s, 50 %
    of 2 pods (a 0.7 s burst of the bucket's 1000 tokens moves a 15 s CPU average by ~2 %),
    so the HPA stays at 2 pods whichever second the surge starts. (Read at the scrape
    instant, the burst read 100 % when a scrape fell on it, at 60 s: 3 pods, and deleting
    a ready pod instead of the starting one made it scale again.)"""
    from library.compose import compose
    from sdmodels import simulate
    model = compose(EXAMPLES / "hands_on.yaml").model
    for start in (60.0, 61.0):
        run = simulate(model, scenario="traffic surge", engine="interpreter",
                       params={"Stress start": start},
                       outputs=["api hpa.Spec replicas"]).to_pandas()
        assert run.iloc[:, 0].loc[45:].max() == 2, start


def test_hands_on_backoff_with_jitter_desynchronizes_but_does_not_cut_a_long_overload(
        hands_on):
    """Backoff with jitter breaks the retries' synchronization (the fixed 1 s wait) but, with
    many independent users (an open system), a minute of overload sends as many retries,
    only later (Brooker, "What is Backoff For?", 2022); the retry budget cuts them: at most
    10 % of requests (+ a bucket) may be retried, so its peak falls by far more than 2/3."""
    a = hands_on
    rows = {r["fix"]: r for r in a.fixes}
    storm = a.by_pattern("retry storm")[0]
    assert "retry wait, fixed: 1 s" in storm.answers.synchronization["unjittered"]
    fix = [f for f in fixes_for(storm.match, a.spec)
           if f.name == "exponential backoff with jitter"][0]
    waits = [d for d in config_delays(storm.match, apply(a.spec, fix)) if "retry wait" in d.what]
    assert waits and not any(d.fixed for d in waits)          # no synchronized retries left

    def peaks(name):
        x = [x for x in rows[name]["loops"] if x["loop"] == storm.match.key][0]
        return x["peak_before"], x["peak_after"]
    before, after = peaks("exponential backoff with jitter")
    assert after > before * 2 / 3                 # sustained: about the same retry peak
    before, after = peaks("retry budget")
    assert after < before / 3


def test_hands_on_backoff_breaks_the_storm_of_its_closed_twin(hands_on, tmp_path):
    """Fix 2 breaks nothing behind the exercise's open users, so analyze runs it again on
    the system's closed twin: N = 800 req/s x (1 s think + 0.05 s response) = 840 clients
    (the interactive response-time law X = N / (R + Z)), 3x in the surge. There the surge's
    retries settle at 569/s instead of 702/s (tests/test_closed_workload.py derives both
    from the clients' cycle) and stay beyond half the first wave's rise for at most a third
    as long: broken by the report's rule, and the report says so under fix 2's table."""
    row = {r["fix"]: r for r in hands_on.fixes}["exponential backoff with jitter"]
    assert row["breaks"] == []
    twin = row["if_closed"]
    assert twin["response_time"] == pytest.approx(0.05, rel=1e-3)       # the 50 ms service
    assert (twin["population"], twin["thinkTime"], twin["peakPopulation"]) == \
        (840, 1.0, 2520)
    assert twin["breaks"] == ["retry storm: users -> cdn"]
    storm = [x for x in twin["loops"] if x["loop"] == "retry storm: users -> cdn"][0]
    assert storm["scenario"] == "traffic surge" and storm["broken"]
    assert storm["held_after"] <= storm["held_before"] / 3
    assert not any("if_closed" in r for r in hands_on.fixes if r is not row)
    hands_on.write(tmp_path)
    assert "If the clients of users waited for their answers (its closed twin: 840 clients" \
        in (tmp_path / "report.md").read_text()
    assert json.loads((tmp_path / "report.json").read_text())  # the row serialises


def test_hands_on_a_few_seconds_of_flush_during_slowdown_leave_it_stuck(hands_on, tmp_path):
    """Reference Part 3.1: "Server never recovers without external intervention". In the
    flush during the 5x slowdown the pool serves 50 / 0.25 s = 200 queries/s while 800
    misses/s arrive, and pg.Pool waits forever: its queue grows by about 600 a second. A 1 s
    stress leaves about 600, less than the restored pool's second of service (1,000), inside
    the clients' 1 s timeout: it drains. 20 s leave about 12,000, 12 s of service: every
    attempt times out, no fill is answered in time, the misses stay and the queue never
    drains. So the shortest stress that leaves the reinforcing loops stuck is over 1 s and at
    most 20 s. Backoff with jitter leaves it in that range (the retries come later but as
    many, and the queue that tips the system is filled by the misses); the pool timeout and
    the database breaker leave nothing stuck after the whole minute."""
    a = hands_on
    for key in ("retry storm: users -> cdn", "connection pool exhaustion: db",
                "cache stampede: cache"):
        stuck = [f for f in a.findings if f.match.key == key][0] \
            .answers.failure_modes["stuck_after"]["flush during slowdown"]
        assert stuck["stress"] == 60 and 1 < stuck["seconds"] <= 20, key
    rows = {r["fix"]: {x["loop"]: x for x in r["loops"]} for r in a.fixes}
    storm = rows["exponential backoff with jitter"]["retry storm: users -> cdn"]
    assert 1 < storm["stuck_before"] <= 20 and 1 < storm["stuck_after"] <= 20
    for fix in ("connection pool with timeout", "circuit breaker on cache -> db"):
        pool = rows[fix]["connection pool exhaustion: db"]
        assert 1 < pool["stuck_before"] <= 20 and pool["stuck_after"] is None
    a.write(tmp_path)
    text = (tmp_path / "report.md").read_text()
    assert "**Stuck after the stress ended**" in text
    assert "connection pool exhaustion: db in flush during slowdown: " \
        f"{pool['stuck_before']:g} s before, not stuck after the whole stress" in text


def test_docs_systems_field_tables_match_the_schema():
    from sdmodels.system.schema_doc import generated
    text = (EXAMPLES.parent / "docs" / "SYSTEMS.md").read_text()
    assert generated() in text, "regenerate: python -m sdmodels.system.schema_doc"


def test_a_breaker_added_by_a_fix_is_recognised_as_a_balancing_loop(chain):
    from sdmodels.system.fixes import fixes_for
    storm = [m for m in chain.matches if m.key == "retry storm: gateway -> orders"][0]
    fix = [f for f in fixes_for(storm, chain.spec) if f.name.startswith("circuit breaker")][0]
    after = recognised(apply(chain.spec, fix))
    breakers = [m for m in after.matches if m.pattern == "circuit breaker"]
    assert [m.key for m in breakers] == ["circuit breaker: gateway -> orders"]
    assert breakers[0].expected == "B"
    # the breaker's mode is a code (closed 0, open 1, half-open 2); admission reads it through
    # if-then-else branches, which the polarity analysis signs branch by branch, so every
    # link of the loop is signed and an odd number of them is negative: balancing
    signs = [after.polarities[a, b].polarity for a, b in breakers[0].edges]
    assert set(signs) <= {"+", "-"} and signs.count("-") % 2 == 1, signs
    assert ("gateway", "breaker to orders") in {(c, r) for c, r, _ in breakers[0].anchors}


def test_hpa_fix_stops_the_queue_workers_swing(pipeline):
    """Before: 60 pods held for the 300 s scale-down window, then minReplicas (an empty
    queue asks for none) and the backlog rebuilds. After (10 % a minute down): from 60 the
    pods can fall at most to 60 x 0.9^k after k minutes of scale-down."""
    from library.compose import compose
    from sdmodels import simulate
    from sdmodels.system.fixes import fixes_for
    hpa = [m for m in pipeline.matches if m.pattern == "HPA scaling"][0]
    fix = fixes_for(hpa, pipeline.spec)[0]
    assert "+ components.workers.hpa.behavior.scaleDown.policies: [{type: Percent, value: 10, " \
           "periodSeconds: 60}]" in fix.diff()
    outputs = ["workers_hpa.spec_replicas", "workers.backlog"]
    runs = [simulate(compose(spec).model, scenario="traffic surge", engine="interpreter",
                     outputs=outputs).to_pandas() for spec in (pipeline.spec,
                                                               apply(pipeline.spec, fix))]
    before, after = (r.loc[200:] for r in runs)
    replicas, backlog = before.columns
    assert before[replicas].max() == 60 and before[replicas].min() == 2     # max, then min
    assert before[backlog].max() > 1000                                     # it rebuilds
    assert after[replicas].min() >= 60 * 0.9 ** 7     # 400 s: at most 7 steps of -10 %
    assert after[backlog].loc[250:].max() < 1                               # stays drained


OOM = """system: oom
components:
  users: {kind: traffic, rate: 300/s, peak: 900/s}
  api:
    kind: service
    replicas: 4
    workersPerPod: 10
    serviceTime: 100ms          # 400 req/s of capacity: 75 % busy at 300 req/s
    startupTime: 10s
    resources: {limits: {memory: 512Mi}, baseMemory: 256Mi, memoryPerRequest: 16Mi}
calls:
  - {from: users, to: api, timeout: 2s}
"""


def _erlang_c(c: int, a: float) -> float:
    """Erlang C by the Erlang B recursion B(k) = a B(k-1) / (k + a B(k-1))."""
    b = 1.0
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    return b / (1 - a / c * (1 - b))


def test_oom_kills_close_the_eviction_cascade():
    """Memory per pod = 256Mi + 16Mi x requests in flight per pod. Baseline: 30 in service
    (300/s x 0.1 s, Little) + the M/M/40 queue L_q = C rho / (1 - rho) over 4 pods: about
    380Mi, under the 410Mi (512Mi - 20 % spread) where kills start: no kill. The surge
    (900/s on 400/s) fills the queue: memory passes the limit, pods are OOM-killed, the
    survivors take their load, and the service falls to at most one ready pod."""
    from library.compose import compose
    from sdmodels import simulate
    r = recognised(OOM)
    cascade = [m for m in r.matches if m.pattern == "eviction cascade"]
    assert [m.key for m in cascade] == ["eviction cascade: api"]
    assert r.polarity(cascade[0]) == "R" and cascade[0].components == ("api",)
    items = {d.what: d.seconds for d in config_delays(cascade[0], r.spec)}
    assert items["pod start-up"] == 10 and items["CrashLoopBackOff, first restart"] == 10
    memory, pods = (r.ir.display(r.composition.nodes["api"].roles[k])
                    for k in ("memory", "pods"))
    runs = {s: simulate(compose(r.spec).model, scenario=s, engine="interpreter",
                        outputs=[memory, pods]).to_pandas() for s in ("baseline", "traffic surge")}
    rho = 300 * 0.1 / 40
    lq = _erlang_c(40, 30.0) * rho / (1 - rho)
    assert runs["baseline"][memory].iloc[-1] == pytest.approx(256 + 16 * (30 + lq) / 4, rel=0.01)
    assert runs["baseline"][pods].min() == pytest.approx(4)
    surge = runs["traffic surge"].loc[60:120]
    assert surge[memory].max() > 512 and surge[pods].min() <= 1


PER_USER = """system: tenants
components:
  users: {kind: traffic, rate: 300/s, users: 2}
  limiter: {kind: rate_limiter, limitForPeriod: 100, limitRefreshPeriod: 1s, per: user}
  api: {kind: service, replicas: 4, workersPerPod: 50, serviceTime: 50ms}
calls:
  - {from: users, to: limiter}
  - {from: limiter, to: api}
"""


def test_a_per_user_limit_admits_each_user_and_the_user_surge_brings_more_users():
    """2 users under a 100 req/s per-user limit: 200 req/s admitted of 300. In the user
    surge the traffic triples (the default peak, 900 req/s) from 3x the users, each at the
    base 150 req/s: 6 x 100 = 600 admitted; in the traffic surge the same 2 users send
    900: still 200. A global limit (per: global) admits 100 whatever the users."""
    from library.compose import compose
    from sdmodels import simulate
    admitted = "limiter / Admitted"
    model = compose(PER_USER, stop=150).model
    assert "user surge" in model.scenarios
    runs = {s: simulate(model, scenario=s, engine="interpreter",
                        outputs=[admitted]).to_pandas()[admitted]
            for s in ("baseline", "user surge", "traffic surge")}
    assert runs["baseline"].loc[10:].to_numpy() == pytest.approx(200)
    assert runs["user surge"].loc[70:110].to_numpy() == pytest.approx(600)
    assert runs["traffic surge"].loc[70:110].to_numpy() == pytest.approx(200)
    plain = compose(PER_USER.replace("per: user", "per: global"), stop=30).model
    assert "user surge" not in plain.scenarios
    run = simulate(plain, engine="interpreter", outputs=[admitted]).to_pandas()[admitted]
    assert run.loc[10:].to_numpy() == pytest.approx(100)


def test_labels_floor_rounding_but_keep_small_real_moves():
    """A series that moves by less than a billionth of max(1, its size) is rounding
    (hands_on's API backlog: 1.1e-15 requests at dt, 5.7e-16 at 2 dt, 0 at dt/2), which the
    sweep's classify() alone calls a step; analyze and the step-independence test share
    one floor (checklist.NEGLIGIBLE), so both call it steady. A millionth is kept."""
    from sdmodels.sweep.labels import classify
    from sdmodels.system.checklist import NEGLIGIBLE, behaviour_labels, series_label
    t = np.linspace(0, 600, 601)
    step = (t > 60).astype(float)
    rows = [1.1e-15 * step, 5.7e-16 * step, 0 * step, 1e-6 * step, 1e3 + 1e-7 * step,
            1e3 + 100 * step]
    assert list(classify(t, np.array(rows))["label"].astype(str))[:2] == ["step", "step"]
    labels, _ = behaviour_labels(t, rows)
    assert labels == ["steady", "steady", "steady", "step", "steady", "step"]
    assert 1e-7 < NEGLIGIBLE * 1e3 < 100                 # the floor scales with the size
    assert series_label(t, rows[0])["label"] == "steady"


def test_loop_mode_reads_the_slowest_of_the_modes_held_by_its_stocks_alone():
    """Two uncoupled first-order stocks of the loop (time constants 1 s and 10 s) both
    take part in their own modes only (participation 1): the loop is read on the 10 s one
    whatever order the eigenvalues come in; a loop whose only stock integrates (eigenvalue
    0) takes part in no mode: a note, not the first mode of the model."""
    from types import SimpleNamespace as NS

    from sdmodels.system.checklist import loop_mode
    names = ["a", "b", "c"]
    ir = NS(variables={n: NS(id=n, display=n) for n in names}, display=lambda v: v, dt=0.01)
    comp = NS(component_of=lambda v: None)
    for order in (["a", "b", "c"], ["c", "b", "a"]):
        rates = {"a": -1.0, "b": -0.1, "c": 0.0}
        lin = NS(states=order, jacobian=np.diag([rates[s] for s in order]))
        mode = loop_mode(lin, comp, NS(cycle=("a", "b"), components=()), ir)
        assert mode["time_constant"] == pytest.approx(10.0)
        assert mode["participation"] == pytest.approx(1.0)
        held = loop_mode(lin, comp, NS(cycle=("c",), components=()), ir)
        assert "no mode" in held["note"]


def test_a_composed_system_starts_settled(chain):
    """The database's felt load (a 1 s smooth) starts at the Universal Scalability Law's
    fixed point N = x (1 + sigma (N - 1) + kappa N (N - 1)) of its first queries, x =
    arrivals x base query time (service_chain: 300 q/s x 15 ms = 4.5 -> 4.893), not idle:
    an idle start rose 3.98 -> 4.89 connections in the first 5 s of every run and read as
    "growth" of the pool at baseline (issue 14's note)."""
    from library.compose import compose
    from sdmodels import simulate
    from sdmodels.system.checklist import series_label
    run = simulate(compose(chain.spec).model, engine="interpreter",
                   outputs=["db.db_load", "db_pool.query_arrivals", "db_pool.connections_in_use",
                            "inventory.backlog", "inventory.throughput"]).to_pandas()
    # the servers' queues start settled too: inventory's 12 workers at 300 x 30 ms = 9
    # Erlangs hold L_q = C rho / (1 - rho) (Erlang C by the B recursion), and serve the
    # 300 req/s from the first step (an empty queue served 265 then)
    b = 1.0
    for k in range(1, 13):
        b = 9 * b / (k + 9 * b)
    c = b / (1 - 0.75 * (1 - b))
    assert run["inventory / Backlog"].iloc[0] == pytest.approx(c * 0.75 / 0.25, rel=1e-9)
    assert run["inventory / Throughput"].to_numpy() == pytest.approx(300, rel=1e-9)
    x = run["db pool / Query arrivals"].iloc[0] * 0.015
    n = run["db / DB load"].iloc[0]
    assert n == pytest.approx(x * (1 + 0.02 * (n - 1) + 0.0005 * n * (n - 1)), rel=1e-12)
    settled = 4.5                                    # at 300 q/s: iterate the fixed point
    for _ in range(100):
        settled = 4.5 * (1 + 0.02 * (settled - 1) + 0.0005 * settled * (settled - 1))
    assert run["db / DB load"].loc[20:].to_numpy() == pytest.approx(settled, rel=1e-6)
    in_use = run["db pool / Connections in use"]
    assert series_label(in_use.index.to_numpy(), in_use.to_numpy())["label"] == "steady"


def test_settled_load_solves_the_usl_fixed_point():
    from library.parts.database import settled_load
    from sdmodels import Model, run
    m = Model("usl", stop=1, dt=1)
    cases = [(0.5, 0.02, 0.0005), (1.0, 0.02, 0.0005), (4.5, 0.02, 0.0005), (8, 0.04, 0.001),
             (10, 0.05, 0.0)]
    for i, (x, sigma, kappa) in enumerate(cases):
        m.aux(f"N{i}", settled_load(m.constant(f"x{i}", x), sigma, kappa, 1e6))
    # past the USL's peak (40 or 60 in flight at the base time: no positive root) and a
    # root above the bound: the bound, the connections that feed the database
    for name, x in (("over", 40.0), ("far over", 60.0), ("capped", 20.0)):
        m.aux(name, settled_load(m.constant(f"x {name}", x), 0.02, 0.0005, 25.0))
    df = run(m)
    for i, (x, sigma, kappa) in enumerate(cases):
        n = float(df[f"N{i}"].iloc[0])
        usl = 1 + sigma * max(0.0, n - 1) + kappa * n * max(0.0, n - 1)
        assert n == pytest.approx(x * usl, rel=1e-12) and n >= x
    assert [float(df[n].iloc[0]) for n in ("over", "far over", "capped")] == [25.0] * 3
