"""The figures issue 10 asks for in its closing note, measured from the library as it is.

1. Erlang C: the server part (library/parts/server.py) run to its steady state for a table of
   (c, lambda, mu), against the textbook M/M/c formulas: P(wait) = C(c, a) and the mean wait
   W_q = C(c, a) / (c mu - lambda), a = lambda / mu.
2. The metastable band of retry_storm, by one batch sweep over arrival rate and retries
   (labels as `sdm sweep` gives them): where `recovered` turns into `collapsed`, next to
   the closed form mu / (R + 1) (Bronson et al., HotOS 2021).
3. black_friday's `trigger` and `fixed` end states (pods, goodput) at dt, dt/2, dt/4 and RK4,
   and its `trigger` timeline next to the reference's (first timeouts 10:58, breakers 11:04,
   outage 11:12): when the payment failures pass 1 % and 50 %, the breakers trip, the pods
   pass the 10 the database has connections for, and goodput stays below 10 %.
4. The line counts of the library models' build() functions now and before the parts
   (the commit before library/parts existed, GIT_BEFORE below).

Everything runs on the interpreter (no numba compile); about a minute on a quiet core.

    PYTHONPATH=. .venv/bin/python benchmarks/parts_figures.py [--only erlang,band,bf,timeline,lines]
"""
from __future__ import annotations

import argparse
import ast
import subprocess
import sys
from math import factorial
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

#: the last commit before library/parts (7cf782f "Ports: ..." introduced the ports)
GIT_BEFORE = "7cf782f^"

#: (c workers, lambda req/s, mu req/s per worker)
ERLANG_CASES = [(1, 5, 10), (2, 15, 10), (5, 40, 10), (10, 100, 1 / 0.095), (10, 100, 1 / 0.099),
                (20, 180, 10), (50, 450, 10), (62.5, 1000, 20), (100, 950, 10)]


STOP = 20_000.0


def erlang_c(c: int, a: float) -> float:
    """C(c, a), the probability that an arrival waits in M/M/c (whole c)."""
    top = a ** c / factorial(c) * c / (c - a)
    return top / (sum(a ** k / factorial(k) for k in range(c)) + top)


def erlang_table() -> None:
    from library.parts.server import server_pool
    from sdmodels import simulate

    model = server_pool(Arrivals=1.0, Workers=1.0, **{"Service time": 1.0})
    cs, lams, mus = (np.array(x, float) for x in zip(*ERLANG_CASES))
    # near rho = 1 an M/M/c queue relaxes slowly (~1 / (mu (1 - sqrt rho)^2), 4,000 s at
    # rho 0.99, c 10): run long enough that the backlog is stationary
    r = simulate(model, params={"Arrivals": lams, "Workers": cs, "Service time": 1 / mus},
                 engine="interpreter", outputs=["Erlang C", "Queue wait"], stop=STOP,
                 saveper=STOP / 10)
    print(f"Erlang C: server part at t = {STOP:g} s vs the M/M/c formulas")
    print(f"{'c':>6} {'lambda':>7} {'mu':>7} {'rho':>6} | {'P(wait) model':>13} "
          f"{'formula':>9} | {'W_q model':>10} {'formula':>10} {'rel err':>8}")
    for i, (c, lam, mu) in enumerate(ERLANG_CASES):
        rho = lam / (c * mu)
        p_model, w_model = r["Erlang C"][i, -1], r["Queue wait"][i, -1]
        if float(c).is_integer():
            p = erlang_c(int(c), lam / mu)
            w = p / (c * mu - lam)
            err = f"{abs(w_model - w) / w:8.1e}" if w > 0 else "       -"
            shown = f"{p:9.4f} | {w_model * 1e3:8.3f}ms {w * 1e3:8.3f}ms {err}"
        else:
            shown = f"{'(frac c)':>9} | {w_model * 1e3:8.3f}ms {'-':>10} {'-':>8}"
        print(f"{c:6g} {lam:7g} {mu:7.3f} {rho:6.3f} | {p_model:13.4f} {shown}")
    print()


def metastable_band() -> None:
    from library import retry_storm
    from sdmodels import simulate
    from sdmodels.sweep.labels import classify

    mu = retry_storm.PARAMETERS["Capacity"][0]
    lams = np.arange(200.0, 1250.0, 25.0)
    grid = [(lam, r) for r in (1.0, 2.0, 3.0) for lam in lams]
    lam_v, r_v = (np.array(x) for x in zip(*grid))
    res = simulate(retry_storm.build(), scenario="trigger", engine="interpreter",
                   params={"Arrival rate": lam_v, "Max retries": r_v}, outputs=["Goodput"])
    labels = classify(res.times, res["Goodput"], trigger=(60.0, 70.0))["label"].astype(str)
    print(f"Metastable band of retry_storm (mu = {mu:g} req/s; {len(grid)} runs, trigger 60-70 s)")
    print(f"{'retries':>7} | {'last recovered':>14} {'first collapsed':>15} | mu/(R+1)")
    for retries in (1.0, 2.0, 3.0):
        rows = [(lam, lab) for (lam, r), lab in zip(grid, labels) if r == retries]
        ok = [lam for lam, lab in rows if lab == "recovered"]
        bad = [lam for lam, lab in rows if lab == "collapsed"]
        print(f"{retries:7g} | {max(ok, default=float('nan')):14g} "
              f"{min(bad, default=float('nan')):15g} | {mu / (retries + 1):8.1f}")
    print()


def black_friday_ends() -> None:
    from library import black_friday
    from sdmodels import build, simulate

    ir = build(black_friday.build())
    print("black_friday end states (t = 3600 s): pods, goodput req/s")
    print(f"{'scenario':>9} | " + " | ".join(f"{m} dt/{d}" for m, d in SETTINGS))
    for scenario in ("trigger", "fixed"):
        cells = []
        for method, divide in SETTINGS:
            r = simulate(ir, scenario=scenario, method=method, dt=ir.dt / divide,
                         saveper=ir.saveper, outputs=["Pods", "Goodput"], engine="interpreter")
            cells.append(f"{r['Pods'][0, -1]:5.1f} {r['Goodput'][0, -1]:7.1f}")
        print(f"{scenario:>9} | " + " | ".join(cells))
    print()


SETTINGS = (("euler", 1), ("euler", 2), ("euler", 4), ("rk4", 1))


def _clock(seconds: float | None) -> str:
    """black_friday's time (seconds from 10:40) as hh:mm:ss."""
    if seconds is None:
        return "never"
    s = int(round(seconds)) + 10 * 3600 + 40 * 60
    return f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}"


def black_friday_timeline() -> None:
    from library import black_friday
    from sdmodels import build, simulate

    p = {name: value for name, (value, _, _) in black_friday.PARAMETERS.items()}
    r = simulate(build(black_friday.build()), scenario="trigger", engine="interpreter",
                 outputs=["Payment failure fraction", "Breaker / Breaker state", "Pods",
                          "Goodput", "Traffic"])
    t = r.times

    def first(mask):
        idx = np.flatnonzero(mask)
        return float(t[idx[0]]) if idx.size else None

    fail = r["Payment failure fraction"][0]
    minute = [(t >= 60 * k) & (t < 60 * k + 60) for k in range(int(t[-1]) // 60)]
    good = np.array([r["Goodput"][0][w].mean() / r["Traffic"][0][w].mean() for w in minute])
    down = [k for k in range(len(good)) if (good[k:] < 0.1).all()]
    rows = [("failures > 1 % (first timeouts)", first(fail > 0.01), "10:58"),
            ("failures > 50 %", first(fail > 0.5), "-"),
            ("breakers trip", first(r["Breaker / Breaker state"][0] >= 1), "11:04"),
            ("pods past the DB's connections", first(
                r["Pods"][0] > p["DB max connections"] / p["Connections per pod"]), "11:04"),
            ("outage (goodput < 10 % from then on)", 60.0 * down[0] if down else None,
             "11:12")]
    print("black_friday trigger timeline (model vs the reference's story)")
    for label, at, ref in rows:
        print(f"{label:>38}: {_clock(at)}   (reference {ref})")
    print()
    stochastic_tipping(p)


def stochastic_tipping(p: dict) -> None:
    """When random arrivals tip black_friday's database, next to the fluid model's fold.

    The queries running on the database as a birth-death chain (Poisson arrivals lambda,
    exponential work, the USL's throughput X(n) = n / (base S(n)) at n running, at most the
    pool's connections c): the mean first passage from 0 to c (where the pool's queue grows,
    since X(c) < lambda) is sum_k sum_{j<=k} pi_j / (lambda pi_k), pi_j / pi_{j-1} =
    lambda / X(j) (the birth-death first-passage sum, e.g. Karlin & Taylor, *A First Course
    in Stochastic Processes*, 2nd ed., 1975).
    """
    base, sigma, kappa = p["Base query time"], p["DB contention"], p["DB coherency"]
    c = int(p["Initial pods"] * p["Connections per pod"])

    def through(n):
        return n / (base * (1 + sigma * (n - 1) + kappa * n * (n - 1)))

    peak = max(through(n) for n in range(1, c + 1))
    print(f"random arrivals: mean time for the running queries to reach the pool's {c} "
          f"(USL peak {peak:.0f} q/s, {through(c):.0f} q/s at {c}; the fluid model tips at "
          "the peak)")
    for lam in (160.0, 170.0, 180.0, 190.0, 198.0):
        log_pi = np.cumsum([0.0] + [np.log(lam / through(n)) for n in range(1, c + 1)])
        passage = sum(np.exp(log_pi[:k + 1] - log_pi[k]).sum() / lam for k in range(c))
        at = 420 + (lam / p["Normal traffic"] - p["Traffic at 10:47"]) \
            / p["Traffic growth"] * 60
        print(f"  {lam:5.0f} q/s (traffic at {_clock(at)}): {passage:9.1f} s")
    print()


def build_lines(source: str) -> int | None:
    """Lines of the module's `build` function (decorators and docstring included)."""
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef) and node.name == "build":
            return node.end_lineno - node.lineno + 1
    return None


def line_counts() -> None:
    from sdmodels.sources import library_models

    print(f"build() line counts: now vs before the parts ({GIT_BEFORE})")
    for name in sorted(library_models()):
        now = build_lines((ROOT / "library" / f"{name}.py").read_text())
        old = subprocess.run(["git", "-C", str(ROOT), "show", f"{GIT_BEFORE}:library/{name}.py"],
                             capture_output=True, text=True)
        before = build_lines(old.stdout) if old.returncode == 0 else None
        print(f"{name:>18}: {now!s:>4} (before {before if before is not None else 'n/a'})")
    print()


FIGURES = {"erlang": erlang_table, "band": metastable_band, "bf": black_friday_ends,
           "timeline": black_friday_timeline, "lines": line_counts}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(FIGURES),
                        help="comma-separated subset of " + ", ".join(FIGURES))
    for name in parser.parse_args().only.split(","):
        FIGURES[name.strip()]()


if __name__ == "__main__":
    main()
