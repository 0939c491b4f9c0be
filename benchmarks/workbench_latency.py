"""Slider-to-curves latency of the workbench: server time from a request's arrival to its
rendered JSON response, for library models and World3 (issue 15's target: under 100 ms).

Starts the real server (Starlette + uvicorn) on a free loopback port in this process,
opens each model once (the compile, reported apart: it happens at start-up, not per
slider move), then sends 40 "slider moves" per model (the first parameter stepped around
its default, as a dragged slider does) and prints, per model, the median and worst of:
the server's own time (the `Server-Timing` header), the simulation alone (`run_ms`), and
the round trip seen by an HTTP client on loopback. On a shared machine wall-clock times
grow with the load (printed first); the CPU time the run took on its thread (`run_cpu_ms`)
is what it costs on a quiet machine. For scale, one pysimlin run of World3 is timed in the
same process.

    .venv/bin/python benchmarks/workbench_latency.py [MODEL ...]
"""
from __future__ import annotations

import json
import statistics
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
WORLD3 = ROOT.parent / "shared" / "large-models" / "wrld3-03.mdl"
if not WORLD3.exists():
    WORLD3 = Path("/work/shared/large-models/wrld3-03.mdl")
MODELS = ("retry_storm", "connection_pool", "black_friday", "thundering_herd")
MOVES = 40
TARGET_MS = 100.0


def post(url: str, body: dict) -> tuple[dict, float, float]:
    """(response JSON, server ms from Server-Timing, client round trip ms)."""
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"content-type": "application/json"})
    began = time.perf_counter()
    with urllib.request.urlopen(request) as response:
        data = json.loads(response.read())
        server = float(response.headers["Server-Timing"].split("dur=")[1])
    return data, server, (time.perf_counter() - began) * 1000


def measure(base: str, catalog, key: str) -> dict:
    began = time.perf_counter()
    wb = catalog.get(key)
    opened = time.perf_counter() - began
    p = wb.parameters[0]
    step = p.step or 1.0
    server, sim, cpu, trip = [], [], [], []
    for i in range(MOVES):
        value = max(p.minimum, p.default + step * ((i % 20) - 10))
        data, s, t = post(f"{base}api/model/{key}/run", {"values": {p.name: value}})
        server.append(s)
        sim.append(data["run_ms"])
        cpu.append(data["run_cpu_ms"])
        trip.append(t)
    points = len(data["times"])
    return {"model": key, "open_s": opened, "param": p.name, "points": points,
            "series": len(data["series"]), "server": server, "sim": sim, "cpu": cpu,
            "trip": trip}


def pysimlin_world3_ms() -> float | None:
    try:
        import simlin
    except ImportError:
        return None
    model = simlin.load(str(WORLD3))
    import warnings
    warnings.simplefilter("ignore")          # pysimlin notes that World3 is too big for LTM
    model.run()
    runs = []
    for _ in range(5):
        t = time.perf_counter()
        model.run().results
        runs.append((time.perf_counter() - t) * 1000)
    return min(runs)


def main(argv: list[str]) -> None:
    from sdmodels.workbench.server import Catalog, make_server
    keys = argv or list(MODELS)
    catalog = Catalog(str(WORLD3)) if WORLD3.exists() else Catalog(None)
    if WORLD3.exists() and not argv:
        keys.append(catalog.first)
    server, sock, url = make_server(catalog)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    rows = [measure(url, catalog, key) for key in keys]
    server.should_exit = True
    thread.join(timeout=10)

    med = statistics.median
    import os
    print(f"workbench slider latency, {MOVES} moves per model (ms; target: server < "
          f"{TARGET_MS:.0f} ms); load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"{'model':<18} {'open s':>7} {'points':>7} {'series':>6}  {'server med':>10} "
          f"{'server max':>10} {'sim med':>8} {'sim cpu med':>11} {'round trip med':>14}  verdict")
    for r in rows:
        ok = "ok" if max(r["server"]) < TARGET_MS else (
            "over: machine load (CPU time within)" if med(r["cpu"]) < TARGET_MS else "OVER")
        print(f"{r['model']:<18} {r['open_s']:>7.2f} {r['points']:>7} {r['series']:>6}  "
              f"{med(r['server']):>10.2f} {max(r['server']):>10.2f} {med(r['sim']):>8.2f} "
              f"{med(r['cpu']):>11.2f} {med(r['trip']):>14.2f}  {ok}")
    world3 = next((r for r in rows if r["model"] == catalog.first and WORLD3.exists()), None)
    simlin_ms = pysimlin_world3_ms() if world3 else None
    if simlin_ms:
        print(f"World3: one pysimlin run {simlin_ms:.1f} ms; a workbench slider move "
              f"(server) {med(world3['server']):.2f} ms = "
              f"{simlin_ms / med(world3['server']):.1f}x faster than one pysimlin run")


if __name__ == "__main__":
    main(sys.argv[1:])
