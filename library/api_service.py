"""API service: the reference's Hands-On Exercise architecture, its six loops and five fixes.

Reference: "Hands-On Exercise" (Users -> CDN -> Load Balancer -> API pods (HPA on CPU, checked
every 15 s, cooldown 30 s) -> Redis cache (TTL 1 h, no jitter) -> PostgreSQL (pool of 50);
retries 3 x 1 s fixed delay; rate limit 1000 req/s per user; no circuit breaker), its
Expected Findings and its five fixes. Composed from the library's parts as modules:
`retry_storm` is the API tier (clients with the retry policy, the API pods' queue; built
without its breaker part, "Circuit Breaker: None", and without a retry budget, which the
exercise does not have), Redis is the cache part (library/parts/cache.py) and PostgreSQL
the pool and database parts (library/parts/pool.py, database.py: HikariCP's wait timeout,
M/M/c waits, a database that slows with concurrency; no statement timeout). Each is built
without the options the exercise does not use (`cache(flush=False, expire_fills=False,
coalescing=False, early_refresh=False)`, `database(query_timeout=False)`,
`retry_storm.build(budget=False)`): the same numbers with those options off, and a third of
the loops (they multiply every path round the system; 16,357 loops in all). Around them, in
this module:

- the CDN serves part of the users' requests; the rest reach the API pods;
- the rate limiter (the token-bucket part, library/parts/ratelimit.py) runs in the pods: a
  "user" (the web front end's backend, 90 % of the API traffic) may send 1000 req/s, first
  attempts and retries alike; the excess gets a 429, which the client retries like any
  failure ("retries count against the rate limit");
- Redis holds "Hot keys" read by half of the requests; the other half miss 1 % of the time.
  The hot keys were all filled at 10:00 and expire at 11:00 (t = 600 s, the clock starts at
  10:50; the cache part's "Synchronized fill time" -3000 s), together without jitter or
  spread over TTL +- jitter with it; the run (30 min) is shorter than a key's shortest life
  (TTL - jitter), so the keys refilled in it do not expire in it. A missing key is refilled
  by the reads whose query passes the breaker and comes back within the request timeout
  ("Fills in time", from the pool's late and failed shares); the hot key's query is an
  expensive one (0.5 s), so the herd's queries overload the database, none comes back in
  time, the key stays missing and the herd stays: the cache stampede;
- an optional circuit breaker on the database, the breaker part (library/parts/breaker.py:
  resilience4j's semantics and defaults, the exercise's 30 s open and 3 half-open requests),
  fails misses fast instead of queueing them;
- the HPA on CPU, the HPA part (library/parts/hpa.py `hpa_controller(kind="pod")`:
  metrics-server's 15 s CPU window and scrape, every 15 s ceil(ready pods x CPU / 70 %),
  tolerance 0.1, unready pods counted at 0 % CPU, stabilization windows (the exercise's
  "cooldown 30 s" is the scale-down window), Kubernetes' default scale-up and scale-down
  rate policies); pods ready 60 s after they are asked for.

Fixes (`fixed`, each a parameter): TTL jitter +-600 s, exponential backoff with jitter (base
1 s, max 30 s), a circuit breaker on the database (threshold, 30 s, 3 half-open requests),
HPA stabilization 300 s down / 60 s up, and a 5 s pool connection timeout.

Example::

    from library import api_service
    from sdmodels import run
    df = run(api_service.build(), scenario="trigger")
    df[api_service.KEY_OUTPUTS].iloc[::120]
"""
from __future__ import annotations


from sdmodels import Model, delay_fixed, maximum, minimum

from library import retry_storm
from library.parts import breaker
from library.parts._wiring import conversion, part_parameters
from library.parts.cache import cache
from library.parts.database import database
from library.parts.pool import connection_pool
from library.parts.hpa import hpa_controller
from library.parts.ratelimit import rate_limiter

EX = "reference Hands-On Exercise"
FIX = "reference Hands-On Exercise fix"

#: the database breaker's inputs (library/parts/breaker.py) -> this model's parameter names
DB_BREAKER = {name: "DB breaker " + name[0].lower() + name[1:] for name in breaker.INPUTS}
DB_BREAKER["Enabled"] = "DB breaker on"

#: name -> (default, units, source)
PARAMETERS = {
    "User requests": (2000.0, "req/s", "assumption: users' requests at the CDN"),
    "CDN hit ratio": (0.5, "1", "assumption: half the requests are static or edge-cached"),
    "Front-end share": (0.9, "1", "assumption: the web front end's backend is one 'user' "
                        "sending 90 % of the API traffic: 900 req/s, near its limit"),
    "Rate limit": (1000.0, "req/s", EX + ": 'Rate Limit: 1000 req/s per user'"),
    "Pod capacity": (100.0, "req/s/pod", "assumption: requests one API pod serves at 100 % CPU"),
    "Handler latency": (0.02, "s", "assumption: API handler time without the database"),
    "Request timeout": (1.0, "s", "assumption: client timeout 1 s (as retry_storm)"),
    "Max retries": (3.0, "retries", EX + ": '3 retries'"),
    "Retry delay": (1.0, "s", EX + ": '1s fixed delay'; fix: exponential, base 1 s"),
    "Exponential backoff": (0.0, "0/1", FIX + " 2: 'type: exponential'"),
    "Max backoff": (30.0, "s", FIX + " 2: 'max: 30s'"),
    "Retry jitter": (0.0, "0/1", FIX + " 2: 'jitter: 0.5' (retries spread, Erlang-3)"),
    "Hot keys": (100.0, "keys", "assumption: the entries the home and product pages read"),
    "Hot key share": (0.5, "1", "assumption: half of the API requests read a hot key"),
    "Cold miss ratio": (0.01, "1", "assumption: 99 % hit ratio on the other requests"),
    "TTL": (3600.0, "s", EX + ": 'TTL: 1 hour'"),
    "Synchronized fill": (0.0, "1", "share of the hot keys filled together at 10:00; "
                          "trigger: 1 = every hot key expires at 11:00; 0 = keys of all ages "
                          "(steady state)"),
    "Expiry time": (600.0, "s", "trigger timing: 11:00, an hour after the 10:00 fill "
                    "(t = 0 is 10:50)"),
    "TTL jitter": (0.0, "s", FIX + " 1: 'ttl=3600 + random(-600, 600)'"),
    "Hot query time": (0.5, "s", "assumption: the hot key caches an expensive query, the "
                       "reference's slow query at 500 ms"),
    "Cold query time": (0.05, "s", "reference: the query 'normally took 50ms'"),
    "Pool size": (50.0, "connections", EX + ": 'connection pool: 50'"),
    "Connection timeout": (30.0, "s", "HikariCP connectionTimeout default 30 s (exercise: "
                           "'likely long'); " + FIX + " 5: 'connection_timeout: 5s'"),
    "Max waiting requests": (2000.0, "queries", "assumption: 10 pods x Tomcat maxThreads "
                             "default 200 (a request waiting for a connection blocks a "
                             "request thread), as in connection_pool"),
    **part_parameters(breaker.INPUTS, names=DB_BREAKER, skip=("Calls", "Failure fraction"),
                      story={"Enabled": (0.0, EX + ": 'Circuit Breaker: None'; fix 3: 1"),
                             "Wait duration in open state": (30.0, FIX + " 3: 'timeout: 30s'"),
                             "Permitted calls in half-open state": (
                                 3.0, FIX + " 3: 'half_open_requests: 3'")}),
    "Initial pods": (15.0, "pods", "assumption: 1000 req/s at 67 % CPU, inside the 0.1 "
                     "tolerance of the 70 % target"),
    "Min pods": (3.0, "pods", "reference Part 4.1 HPA YAML: minReplicas 3"),
    "Max pods": (50.0, "pods", "assumption: maxReplicas"),
    "Target CPU": (0.7, "1", "reference Part 4.1 HPA YAML: averageUtilization 70"),
    "HPA sync period": (15.0, "s", EX + ": 'check every 15s' (Kubernetes default)"),
    "HPA tolerance": (0.1, "1", "Kubernetes HPA default tolerance (0.1)"),
    "Scale-up window": (0.0, "s", "Kubernetes default 0; " + FIX + " 4: 60 s"),
    "Scale-down window": (30.0, "s", EX + ": 'cooldown 30s'; " + FIX + " 4: 300 s"),
    "Pod startup time": (60.0, "s", EX + ": 'pod startup (60s+)'"),
}

TRIGGER = {"Synchronized fill": 1.0}
FIXES = {"TTL jitter": 600.0, "Exponential backoff": 1.0, "Retry jitter": 1.0,
         "DB breaker on": 1.0, "Scale-up window": 60.0, "Scale-down window": 300.0,
         "Connection timeout": 5.0}

#: the HPA part's inputs (library/parts/hpa.py) -> this model's parameter names
HPA_PORTS = {"Sync period": "HPA sync period", "Tolerance": "HPA tolerance",
             "minReplicas": "Min pods", "maxReplicas": "Max pods",
             "Initial replicas": "Initial pods",
             "scaleUp stabilizationWindowSeconds": "Scale-up window",
             "scaleDown stabilizationWindowSeconds": "Scale-down window"}

KEY_OUTPUTS = ["API requests", "Offered load", "Goodput", "Cached hot keys",
               "DB connections in use", "DB latency", "API pods", "Rate-limited attempts"]


def build(**overrides) -> Model:
    """The API-service model; keyword overrides replace parameters' defaults by name."""
    m = Model("api_service", start=0, stop=1800, dt=0.05, saveper=5, time_units="second",
              doc="Users -> CDN -> LB -> API pods (HPA) -> Redis -> PostgreSQL (pool 50)")
    c = m.parameters(PARAMETERS, overrides)
    api = "API / "

    demand = m.aux("API requests", c["User requests"] * (1 - c["CDN hit ratio"]), units="req/s",
                   doc="requests the CDN passes to the load balancer")

    # -- the HPA (the part, on CPU) asks for pods; they are ready a start-up time later ---
    hpa = m.module("hpa", hpa_controller(kind="pod"), display="HPA")
    spec = hpa.out["Spec replicas"]
    pods = m.aux("API pods", minimum(spec, delay_fixed(spec, c["Pod startup time"],
                                                       c["Initial pods"])),
                 units="pods", doc="new pods serve after the start-up time; removal is at once")
    capacity = m.aux("API capacity", pods * c["Pod capacity"], units="req/s")
    # the API tier: clients with the retry policy, pods' queue (its downstream inputs, the
    # cache and the database, are connected below)
    tier = m.module("api", retry_storm.build(breaker=False, budget=False), display="API", inputs={
        "Arrival rate": demand,
        "Capacity": capacity,
        "Base latency": c["Handler latency"],
        "Timeout": c["Request timeout"],
        "Max retries": c["Max retries"],
        "Backoff base": c["Retry delay"],
        "Exponential backoff": c["Exponential backoff"],
        "Max backoff": c["Max backoff"],
        "Jitter": c["Retry jitter"],
    })
    cpu = m.aux("CPU utilization", tier.out["Throughput"] / capacity, units="1")
    per_metric = conversion(m, "CPU metric unit", "metric", "the HPA reads CPU utilization "
                            "as a share of the pods' request (1 = 100 %)")
    hpa.connect("Metric", cpu * per_metric).connect("Ready pods", pods)
    hpa.connect("Target", c["Target CPU"] * per_metric)
    for port, name in HPA_PORTS.items():
        hpa.connect(port, c[name])

    # -- Redis (the cache part): the hot keys, their 10:00 fill expiring at 11:00 ---------
    # (the run is shorter than a key's shortest life, TTL - jitter: fills of the run do not
    # expire within it, and nothing flushes Redis)
    lean = {"flush": False, "expire_fills": False, "coalescing": False, "early_refresh": False}
    redis = m.module("redis", cache(**lean), display="Redis", inputs={
        "Keys": c["Hot keys"], "TTL": c["TTL"], "TTL jitter": c["TTL jitter"] / c["TTL"],
        "Synchronized fill": c["Synchronized fill"],
        "Synchronized fill time": c["Expiry time"] - c["TTL"]})
    m.aux("Cached hot keys", redis.out["Cached keys"], units="keys")
    m.aux("Missing hot keys", redis.out["Missing keys"], units="keys")
    miss_share = m.aux("Miss share", c["Hot key share"] * (1 - redis.out["Hit ratio"])
                       + (1 - c["Hot key share"]) * c["Cold miss ratio"], units="1",
                       doc="share of the API requests that go to the database")

    # -- rate limiter (the token-bucket part, in the pods): the front end's attempts above
    # 1000 req/s get a 429; its retries take tokens like first attempts ---------------------
    fe = m.aux("Front-end attempts", c["Front-end share"] * tier.out["Offered load"],
               units="req/s")
    limiter = m.module("rate_limiter", rate_limiter(), display="Rate limiter", inputs={
        "Requests": fe, "Rate": c["Rate limit"]})
    m.aux("Rate-limited attempts", limiter.out["Rejected"], units="req/s",
          doc="429 Too Many Requests")
    rl_share = m.aux("Rate-limited share", c["Front-end share"] * limiter.out[
        "Rejected share"], units="1", doc="share of all attempts refused: the front end's "
        "share of the attempts times the share of them refused")
    admitted = m.aux("Admitted requests", tier.out["Throughput"] * (1 - rl_share),
                     units="req/s", doc="requests served past the rate limiter")

    redis.connect("Requests", admitted * c["Hot key share"])       # the hot keys' reads

    # -- circuit breaker on the database (resilience4j semantics, the part's defaults) -----
    per_miss = conversion(m, "Queries per miss", "queries/req",
                          "a request that misses the cache sends one query to the database")
    wanted = m.aux("DB queries wanted", redis.out["Misses"] + admitted * (1 - c[
        "Hot key share"]) * c["Cold miss ratio"] * per_miss, units="queries/s",
        doc="the hot keys' misses and the other requests' cold misses")
    per_call = conversion(m, "Queries per breaker call", "queries/req",
                          "each query to the DB is one call through its breaker")
    cb = m.module("db_breaker", breaker.circuit_breaker(), display="DB breaker", inputs={
        "Calls": m.aux("DB breaker calls", wanted / per_call, units="req/s",
                       doc="the queries wanted, as calls offered to the breaker"),
        **{part: c[name] for part, name in DB_BREAKER.items()
                            if part not in ("Calls", "Failure fraction")}})
    pass_share = m.aux("DB breaker pass share", cb["Admission fraction"], units="1")
    sent = m.aux("DB queries sent", cb["Permitted calls"] * per_call, units="queries/s")
    m.aux("DB breaker state", cb["Breaker state"], units="1",
          doc="0 closed, 0.5 half-open, 1 open")
    hot = m.aux("Hot query share", 1 - (1 - c["Hot key share"]) * c["Cold miss ratio"]
                / maximum(miss_share, 1e-9),
                units="1", doc="share of the database queries that are for hot keys")

    # -- PostgreSQL behind its pool (the pool and database parts) ------------------------
    pool = m.module("pool", connection_pool(), display="Pool", inputs={
        "Arrivals": sent, "Pool size": c["Pool size"], "Client timeout": c["Request timeout"],
        "Acquire timeout": c["Connection timeout"], "Max waiting": c["Max waiting requests"]})
    db = m.module("db", database(query_timeout=False), display="DB", inputs={
        "Queries in flight": pool.out["Connections in use"],
        "Base query time": hot * c["Hot query time"] + (1 - hot) * c["Cold query time"]})
    pool.connect("Hold time", db.out["Hold time"])
    pool.connect("Failed share", 0.0)            # no statement timeout: no query is killed
    db_latency = m.aux("DB latency", pool.out["Request latency"], units="s",
                       doc="connection wait + query, as the API pod sees it")
    m.aux("DB connections in use", pool.out["Connections in use"], units="connections")
    cb.connect("Failure fraction", pool.out["Failure share"])
    redis.connect("Fill time", minimum(db_latency, c["Request timeout"]))
    redis.connect("Fill success share", m.aux(
        "Fills in time", pass_share * (1 - pool.out["Failure share"]), units="1",
        doc="share of a missing key's queries that pass the breaker and come back in time"))

    # -- what the API tier waits for downstream ---------------------------------------------
    down_fail = 1 - (1 - rl_share) * (1 - miss_share * (1 - (1 - pool.out[
        "Fail-fast share"]) * pass_share))
    tier.connect("Downstream latency", miss_share * db_latency)
    tier.connect("Downstream failure fraction", down_fail)
    m.aux("Offered load", tier.out["Offered load"], units="req/s")
    m.aux("Goodput", tier.out["Goodput"], units="req/s")

    _name_loops(m, api)
    m.add_scenario("baseline", {}, doc="hot keys of all ages: a few misses, ~10 queries/s")
    m.add_scenario("trigger", dict(TRIGGER), doc="the 10:00 fill expires at 11:00 at once: "
                   "stampede, pool exhaustion and retries; the site stays down")
    m.add_scenario("fixed", {**TRIGGER, **FIXES}, doc="same fill with the exercise's five fixes")
    m.add_scenario("TTL jitter only", {**TRIGGER, "TTL jitter": 600.0})
    m.add_scenario("backoff only", {**TRIGGER, "Exponential backoff": 1.0, "Retry jitter": 1.0})
    m.add_scenario("breaker only", {**TRIGGER, "DB breaker on": 1.0})
    m.add_scenario("connection timeout only", {**TRIGGER, "Connection timeout": 5.0})
    return m


def _name_loops(m: Model, api: str) -> None:
    """The exercise's Expected Findings (retry_storm's module brings "Retry storm")."""
    to_api = retry_storm.path("API", breaker=False)
    retry = [*to_api, "API / Server / Utilization", "API / Server / Throughput", api + "Throughput"]
    m.name_loop("Cache stampede", [
        "Redis / Fills so far", "Redis / Cached keys", "Redis / Missing keys", "Redis / Misses",
        "DB queries wanted", "DB breaker calls", "DB breaker / Calls",
        "DB breaker / Permitted calls", "DB queries sent", "Pool / Query arrivals",
        "Pool / Waiting for connection", "Pool / Backlog wait", "Pool / Late share",
        "Pool / Failure share", "Fills in time", "Redis / Fill success share", "Redis / Fills"])
    m.name_loop("Connection pool exhaustion", [
        "DB / Query time", "DB / Hold time", "Pool / Pool throughput limit", "Pool / Wait time",
        "Pool / Request latency", "DB latency", api + "Downstream latency",
        api + "Server / Downstream latency", api + "Server / Timeout fraction",
        *retry, "Admitted requests", "DB queries wanted", "Pool / Connections acquired", "Pool / Connections in use", "DB / DB load",
        "DB / DB slowdown"])
    m.name_loop("Rate limit retry amplification", [
        "Front-end attempts", "Rate limiter / Requests", "Rate limiter / Rejected share",
        "Rate-limited share", api + "Downstream failure fraction", api + "Server / Downstream failure fraction",
        *to_api[:-3],
        api + "Offered load"])
    m.name_loop("Pool drains", ["Pool / Waiting for connection", "Pool / Connections acquired"])
    m.name_loop("HPA CPU scaling", ["CPU utilization", "HPA / Metric",
                                    "HPA / Metric seen by HPA", "HPA / Raw recommendation",
                                    "HPA / Recorded recommendation", "HPA / HPA decision",
                                    "HPA / Spec replicas", "API pods", "API capacity"])
    m.name_loop("Rate limiting", [
        "Rate limiter / Rejected share", "Rate-limited share", "Admitted requests",
        "DB queries wanted", "Pool / Query arrivals", "Pool / Waiting for connection", "Pool / Wait time",
        "Pool / Request latency", "DB latency", api + "Downstream latency",
        api + "Server / Downstream latency", api + "Server / Timeout fraction",
        *to_api[:-3],
        api + "Offered load", "Front-end attempts", "Rate limiter / Requests"])

