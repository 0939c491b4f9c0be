"""The `alerting` kind: rules on a composed system's metrics, the page, the on-call's action.

Expected times are hand calculations from the pipeline Prometheus and Alertmanager run
(docs/SYSTEMS.md, "Alerting"): a threshold crossed at t is scraped at the next scrape tick
ceil(t / scrapeInterval) x scrapeInterval (evaluated at that tick too: both at multiples of
1 min), the alert fires `for` later, pages `groupWait` after that, and the on-call acts
`responseTime` after the page. Runs are saved every second, so a time read off a run is
within 1 s (the save step) of the event.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from library.compose import compose, horizon
from sdmodels.simulate import simulate
from sdmodels.system import SystemDescriptionError, load_system
from sdmodels.system.analyze import recognised
from sdmodels.system.checklist import delays, observability

SAVE = 1.0          # s: library.compose's save step, the resolution of a time read off a run

SMALL = """
system: small
components:
  users: {kind: traffic, rate: 200/s}
  api: {kind: service, replicas: 4, workersPerPod: 10, serviceTime: 20ms}
  db: {kind: database, queryTime: 10ms, pool: {maximumPoolSize: 10, connectionTimeout: 1s}}
  alerts:
    kind: alerting
    responseTime: 10m
    rules:
      - {alert: DbPoolPending, component: db, metric: connections_pending, threshold: 5,
         for: 5m, action: rollback}
calls:
  - {from: users, to: api, timeout: 2s}
  - {from: api, to: db, timeout: 1s}
"""
SCRAPE, FOR, GROUP_WAIT, RESPONSE = 60.0, 300.0, 30.0, 600.0     # as in SMALL (defaults:
# Prometheus scrape_interval/evaluation_interval 1m, Alertmanager group_wait 30s)


def first(frame, name, above=0.5):
    """The first saved time at which a series is above `above` (None: never)."""
    hits = np.flatnonzero(frame[name].to_numpy() > above)
    return float(frame.index[hits[0]]) if len(hits) else None


@pytest.fixture(scope="module")
def small():
    c = compose(SMALL)
    roles, db = c.nodes["alerts"].roles, c.nodes["db"].roles
    names = [roles[f"{k} DbPoolPending"] for k in ("metric", "firing", "paged", "mitigated")]
    names += [db["query time"], db["waiting"]]
    run = {s: simulate(c.model, scenario=s, engine="interpreter", outputs=names).to_pandas()
           for s in ("baseline", "lasting slowdown")}
    ir = c.model
    display = {n: ir.elements[n].display for n in names}
    return c, {s: f.rename(columns={v: k for k, v in display.items()}) for s, f in run.items()}


def test_the_alert_fires_pages_and_is_acted_on_at_the_hand_calculated_times(small):
    c, runs = small
    run = runs["lasting slowdown"]
    metric = c.nodes["alerts"].roles["metric DbPoolPending"]
    crossed = first(run, metric, above=5.0)           # the 5x slowdown starts at 60 s
    assert crossed is not None and 60 < crossed <= 61
    scraped = math.ceil(crossed / SCRAPE) * SCRAPE    # 120 s: the first scrape that sees it
    fires, pages = scraped + FOR, scraped + FOR + GROUP_WAIT
    acts = pages + RESPONSE
    roles = c.nodes["alerts"].roles
    assert first(run, roles["firing DbPoolPending"]) == pytest.approx(fires, abs=SAVE)
    assert first(run, roles["paged DbPoolPending"]) == pytest.approx(pages, abs=SAVE)
    assert first(run, roles["mitigated DbPoolPending"]) == pytest.approx(acts, abs=SAVE)
    assert (fires, pages, acts) == (420.0, 450.0, 1050.0)
    assert first(runs["baseline"], roles["firing DbPoolPending"]) is None   # never crossed


def test_the_rollback_ends_the_slowdown_and_the_alert_resolves(small):
    c, runs = small
    run, base = runs["lasting slowdown"], runs["baseline"]
    query, waiting = c.nodes["db"].roles["query time"], c.nodes["db"].roles["waiting"]
    firing = c.nodes["alerts"].roles["firing DbPoolPending"]
    normal = base[query].iloc[-1]
    assert run[query].loc[1000.0] > 4 * normal        # 5x slower until the rollback...
    assert run[waiting].loc[1000.0] > 5.0
    assert run[query].iloc[-1] == pytest.approx(normal, rel=1e-6)   # ...as before after it
    assert run[waiting].iloc[-1] == pytest.approx(0.0, abs=1e-6)
    # resolved at the first scrape + evaluation after the pool empties (within 2 min)
    assert run[firing].loc[1050.0 + 2 * SCRAPE:].max() == 0.0
    assert run[firing].loc[1000.0] == 1.0


def test_analyze_names_the_alert_response_loop_with_its_delay():
    r = recognised(SMALL)
    match = next(m for m in r.matches if m.pattern == "alert response")
    assert match.key == "alert response: DbPoolPending"
    assert r.polarity(match) == "B"
    assert set(match.components) == {"alerts", "db"}
    answer = delays(match, r.spec, [])
    assert answer["total_seconds"] == SCRAPE + SCRAPE + FOR + GROUP_WAIT + RESPONSE  # 1050
    assert answer["evaluation_period"] == SCRAPE
    pool = next(m for m in r.matches if m.pattern == "connection pool exhaustion")
    rules = observability(pool, r.composition, r.ir)["alert_rules"]
    assert [x["alert"] for x in rules] == ["DbPoolPending"]     # it watches that loop


SCALING = """
system: scaling
components:
  users: {kind: traffic, rate: 100/s, peak: 500/s}
  api:
    kind: service
    replicas: 2
    workersPerPod: 10
    serviceTime: 50ms
    startupTime: 30s
    hpa: {minReplicas: 2, maxReplicas: 12, metrics: [{type: Resource,
          resource: {target: {averageUtilization: 100}}}]}
  alerts:
    kind: alerting
    responseTime: 5m
    rules:
      - {alert: ApiSlow, component: api, metric: cpu, threshold: 0.9, action: scale_out}
calls:
  - {from: users, to: api, timeout: 2s}
"""


def test_a_scale_out_raises_min_replicas_to_max_and_the_hpa_follows():
    """`for` 0 (the Prometheus default): fires at the first evaluation that sees the
    crossing; the HPA applies minReplicas at its next sync (15 s) once the on-call acts."""
    c = compose(SCALING, stop=600)
    roles, api = c.nodes["alerts"].roles, c.nodes["api"].roles
    names = [roles["metric ApiSlow"], roles["firing ApiSlow"], roles["mitigated ApiSlow"],
             api["scaled out"], api["hpa replicas"]]
    run = simulate(c.model, scenario="lasting surge", engine="interpreter",
                   outputs=names).to_pandas()
    run.columns = names
    crossed = first(run, names[0], above=0.9)     # CPU jumps within the step at 60 s, when
    assert crossed == 60.0                         # the surge starts: the scrape at 60 s
    fires = math.ceil(crossed / SCRAPE) * SCRAPE   # sees it, and the evaluation too
    acts = fires + GROUP_WAIT + 300.0
    assert first(run, names[1]) == pytest.approx(fires, abs=SAVE)
    assert first(run, names[2]) == pytest.approx(acts, abs=SAVE)
    assert run[names[3]].iloc[0] == 2.0 and run[names[3]].iloc[-1] == 12.0
    assert acts <= first(run, names[4], above=11.5) <= acts + 15.0 + SAVE  # next HPA sync
    r = recognised(SCALING)
    loop = next(m for m in r.matches if m.pattern == "alert response")
    assert r.polarity(loop) == "B"         # through load over capacity, as the HPA's loop
    answer = delays(loop, r.spec, [])      # + the HPA's 15 s sync and 30 s pod start-up
    assert answer["total_seconds"] == SCRAPE + SCRAPE + 0 + GROUP_WAIT + 300 + 15 + 30


def test_the_run_lasts_long_enough_to_see_the_action():
    assert horizon(load_system(SMALL)) == 3600.0
    slow = SMALL.replace("responseTime: 10m", "responseTime: 1h")
    assert horizon(load_system(slow)) == 60 + 60 + 60 + 300 + 30 + 3600 + 600


def test_rule_errors_are_listed_together_with_did_you_mean_and_the_allowed_names():
    bad = SMALL.replace("metric: connections_pending", "metric: conections_pending") \
        .replace("for: 5m, action: rollback}", "for: 5m, action: rollback}\n"
                 "      - {alert: ApiScale, component: api, metric: latency, threshold: 1,"
                 " action: scale_out}\n"
                 "      - {alert: DbPoolPending, component: dbb, metric: latency,"
                 " threshold: 1, action: rollback}")
    with pytest.raises(SystemDescriptionError) as info:
        load_system(bad)
    text = str(info.value)
    assert "4 problems" in text
    assert ("line 11, column 55: components.alerts.rules[0].metric: 'conections_pending' is "
            "not a metric of db (database). Did you mean 'connections_pending'? Metrics of a "
            "database: latency, error_ratio, connections_pending, connections_active") in text
    assert "rules[1].action: action 'scale_out' raises the hpa's minReplicas" in text
    assert "rules[2].alert: 'DbPoolPending' appears twice" in text
    assert ("rules[2].component: 'dbb' is not a component. Did you mean 'db'? Components: "
            "users, api, db, alerts") in text
    on_api = SMALL.replace("component: db, metric: connections_pending",
                           "component: api, metric: latency")
    with pytest.raises(SystemDescriptionError, match="action 'rollback' acts on a database, "
                       "and 'api' is a service; name a database in 'target'"):
        load_system(on_api)
    assert load_system(on_api.replace("action: rollback", "action: rollback, target: db"))


def test_on_call_example_rollback_ends_the_outage_the_loops_cannot():
    """examples/on_call.yaml (library README): in the lasting slowdown the pool stays
    saturated (at most payments' 4 x 20 threads wait) until the on-call's rollback at
    120 s (first scrape after the crossing) + 5 min `for` + 30 s + 15 min = 1,350 s; the
    60 s slowdown never pages (it is over before `for` has passed)."""
    from pathlib import Path
    example = Path(__file__).resolve().parents[1] / "examples" / "on_call.yaml"
    r = recognised(example)
    keys = {m.key: r.polarity(m) for m in r.matches}
    assert keys == {"retry storm: payments -> db": "R", "connection pool exhaustion: db": "R",
                    "alert response: DatabasePoolSaturated": "B"}
    alert = next(m for m in r.matches if m.pattern == "alert response")
    assert delays(alert, r.spec, [])["total_seconds"] == 60 + 60 + 300 + 30 + 900
    c = r.composition
    db, roles = c.nodes["db"].roles, c.nodes["alerts"].roles
    names = [db["waiting"], c.nodes["payments"].roles["goodput"],
             roles["firing DatabasePoolSaturated"], roles["mitigated DatabasePoolSaturated"]]
    runs = {s: simulate(c.model, scenario=s, engine="interpreter", outputs=names).to_pandas()
            for s in ("lasting slowdown", "dependency slowdown")}
    for frame in runs.values():
        frame.columns = ["waiting", "goodput", "firing", "mitigated"]
    run = runs["lasting slowdown"]
    assert first(run, "firing") == 420.0 and first(run, "mitigated") == pytest.approx(
        1350.0, abs=SAVE)
    assert run["waiting"].loc[62.0:1349.0].min() > 5.0          # firing all along
    assert run["waiting"].max() == pytest.approx(4 * 20)         # payments' threads
    assert run["waiting"].loc[1356.0:].max() < 1e-6              # rolled back
    assert run["goodput"].iloc[-1] == pytest.approx(300.0)
    assert first(runs["dependency slowdown"], "firing") is None


def test_rules_share_their_component_settings_and_group_wait_0_pages_at_once():
    """Two rules of one alerting component (and two scale-outs of one service) compose;
    with groupWait 0s the page goes out at the evaluation that fires."""
    text = SCALING.replace("responseTime: 5m", "responseTime: 5m\n    groupWait: 0s").replace(
        "action: scale_out}", "action: scale_out}\n      - {alert: ApiQueue, component: api,"
        " metric: queue_depth, threshold: 1000000, action: scale_out}")
    c = compose(text, stop=200)
    roles = c.nodes["alerts"].roles
    names = [roles["firing ApiSlow"], roles["paged ApiSlow"], roles["firing ApiQueue"]]
    run = simulate(c.model, scenario="lasting surge", engine="interpreter",
                   outputs=names).to_pandas()
    run.columns = ["firing", "paged", "queue firing"]
    assert first(run, "firing") == first(run, "paged") == 60.0
    assert first(run, "queue firing") is None           # a million queued: never


def test_a_fix_for_a_loop_no_stress_ran_away_says_the_runs_cannot_show_it(tmp_path):
    """SMALL's pool loop is dangerous by its configuration (a pool of 10), but in every
    stress run it only rises and recovers (the rollback aside, the pool keeps up): its
    fixes' rows cannot say 'broken', and the report says why instead of 'breaks none'."""
    from sdmodels.system import analyze
    a = analyze(SMALL, scenarios=["traffic surge", "dependency slowdown"])
    pool = a.by_pattern("connection pool exhaustion")[0]
    assert not any(pool.runs_away(s) for s in ("traffic surge", "dependency slowdown"))
    rows = [r for r in a.fixes if pool.match.key in r["targets"]]
    assert rows and all(r["calm"] == [pool.match.key] and r["breaks"] == [] for r in rows)
    a.write(tmp_path)
    assert (tmp_path / "report.md").read_text().count(
        "only rose and recovered by itself in every stress run here") == len(rows)
