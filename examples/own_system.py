"""Build your own system from parts: users retrying against an API with a cache and a pool.

library/README.md ("Build your own system") shows this file; `sdm loops examples/own_system.py`
lists its loops and `sdm run examples/own_system.py --scenario "db slow"` runs it.
"""
from sdmodels import Model, pulse

from library.parts.cache import cache
from library.parts.database import database
from library.parts.pool import connection_pool
from library.parts.retry import retry_client
from library.parts.server import server_pool
from library.parts.traffic import traffic


def build(**overrides) -> Model:
    m = Model("own system", stop=300, dt=0.01, saveper=1, time_units="second")
    slow = m.constant("DB slowdown", overrides.get("DB slowdown", 1.0), units="1")
    users = m.module("users", traffic(**{"Base rate": 400}))
    client = m.module("client", retry_client(**{"Max retries": 3, "Backoff base": 1}))
    api = m.module("api", server_pool(Workers=40, **{"Service time": 0.05, "Timeout": 1}))
    redis = m.module("cache", cache(Keys=200, TTL=5))
    pool = m.module("pool", connection_pool(**{"Pool size": 5, "Client timeout": 1}))
    db = m.module("db", database(**{"Base query time": 0.02}))
    client.connect("Demand", users.out["Rate"])
    client.connect("Failure fraction", api.out["Failure fraction"])
    api.connect("Arrivals", client.out["Attempts"])
    api.connect("Downstream latency", pool.out["Request latency"] * (1 - redis.out["Hit ratio"]))
    api.connect("Downstream failure fraction", pool.out["Failure share"])
    redis.connect("Requests", api.out["Throughput"])
    redis.connect("Fill time", pool.out["Request latency"])
    redis.connect("Fill success share", 1 - pool.out["Failure share"])
    pool.connect("Arrivals", redis.out["Misses"])
    pool.connect("Hold time", db.out["Hold time"])
    db.connect("Queries in flight", pool.out["Connections in use"])
    db.connect("Slowdown factor", 1 + (slow - 1) * pulse(60, 60))
    m.add_scenario("db slow", {"DB slowdown": 10.0}, doc="queries 10x slower for a minute")
    return m
