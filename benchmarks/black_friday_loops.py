"""black_friday: its loop count, the story's times at four steps, and which loops took over.

Issue 10 asks for black_friday as a composition of parts and for results that do not depend
on the step; issue 11 needs few enough loops that `find_loops` lists them all (its default
cap is 5,000) and a `trigger` run whose named loops take over in the reference's order.
This script prints the loop count (and, for comparison, the count with an HPA part that
builds both replica-calculator branches), the `trigger` and `fixed` timelines and end states
at dt, dt/2, dt/4 and RK4, and with --dominance the named loops in the order they first led
the change of the postmortem's variable (Loops That Matter, `sdmodels.analysis.phases`).

Run: PYTHONPATH=. python benchmarks/black_friday_loops.py [--dominance]
Measured 2026-11-30 (2 shared cores, interpreter):

    loops: 3,566 (complete); with both HPA branches 4,980
    trigger (every step): failures > 1 % 10:55:32-33, breakers trip 10:55:43-44,
      pods > 10 from 10:57:45, outage (goodput < 10 % every minute) from 11:00;
      end: 100 pods, goodput 0 of 468 req/s; peak offered 550-591 req/s (a 1 s burst)
    fixed (every step): 8 pods, goodput 190 req/s, breakers never open
    take-over of "Connections asked for": Slow query holds connections from 10:40
      (1,017 s in all), Payment retries load the database from 10:55:37 (15 s);
      Autoscaler grabs connections passes one change round (10:59:44, 1 % of the slow
      query's share then) and never leads: the HPA's later decisions are capped by the
      scale-up policy (double a minute), which passes no change of the metric on; held:
      HPA decision at scaleUp policy limit (not Stabilized recommendation) 10:59:29-11:01:29,
      7 of 11 moves, the recommendation up to 4.6x the limit

History: the previous black_friday wrapped the retry_storm and connection_pool models as
modules (38,111+ loops, more than 100,000 with its payment server's Erlang C paths); the
last session's study composed the story from parts and found the payment `server_pool`'s
parallel paths (x15) and the HPA's branches (x2.4) kept it above the cap, and that a
retry stage of ~8 s never led at a 5 s report. Now the payment pods hold no queue of their
own (the pool bounds the concurrency), the HPA part is built for the pod metric alone
(`hpa_controller(kind="pod")`), the breakers are per caller (50 x resilience4j's 100 calls,
so they trip seconds after the fold, not within one), the model reports every second, and
the retry loop is named through the pool's backlog ("Waiting for connection"), where the
retries act once the pool is full.
"""
from __future__ import annotations

import argparse
import time
import warnings
from unittest import mock

import numpy as np

from sdmodels import build, simulate
from sdmodels.analysis import find_loops

from library import black_friday
from library.parts.hpa import hpa_controller

SETTINGS = (("euler", 1), ("euler", 2), ("euler", 4), ("rk4", 1))
OUTS = ["Traffic", "Goodput", "Pods", "Breaker / Breaker state", "Payment failure fraction",
        "Offered load"]


def clock(t) -> str:
    """Seconds from 10:40 as HH:MM:SS ('-' for None)."""
    if t is None:
        return "-"
    s = 10 * 3600 + 40 * 60 + int(round(t))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


def count_loops() -> None:
    def both_kinds(*, kind=None, **overrides):
        return hpa_controller(**overrides)
    for label, patch in (("as built", None), ("with both HPA branches", both_kinds)):
        with mock.patch.object(black_friday, "hpa_controller", patch or hpa_controller):
            model = black_friday.build()
        start = time.perf_counter()
        loops = find_loops(model, behaviour=False, max_loops=100_000)
        print(f"{label:24s} {len(loops):>7,d} loops{'' if loops.complete else '+'} "
              f"({time.perf_counter() - start:.1f} s)")


def timelines() -> None:
    k = build(black_friday.build())
    for scenario in ("trigger", "fixed"):
        for method, divide in SETTINGS:
            r = simulate(k, scenario=scenario, outputs=OUTS, engine="interpreter",
                         method=method, dt=k.dt / divide, saveper=k.saveper)
            t, x = r.times, {c: r[c][0] for c in OUTS}

            def first(mask):
                return t[np.flatnonzero(mask)[0]] if mask.any() else None
            share = [x["Goodput"][(t >= 60 * m) & (t < 60 * m + 60)].mean()
                     / x["Traffic"][(t >= 60 * m) & (t < 60 * m + 60)].mean() for m in range(60)]
            down = next((60 * m for m in range(60) if max(share[m:]) < 0.1), None)
            print(f"{scenario:8s} {method} dt/{divide}: failures>1% "
                  f"{clock(first(x['Payment failure fraction'] > 0.01))}, trip "
                  f"{clock(first(x['Breaker / Breaker state'] >= 1))}, pods>10 "
                  f"{clock(first(x['Pods'] > 10))}, outage {clock(down)}; end pods "
                  f"{x['Pods'][-1]:.0f}, goodput {x['Goodput'][-1]:.1f} of "
                  f"{x['Traffic'][-1]:.0f} req/s; peak offered {x['Offered load'].max():.0f}")


def takeover() -> None:
    from sdmodels.analysis.dominance import dominance
    from sdmodels.analysis.phases import capped_links, takeover_order
    from sdmodels.postmortem import default_variable
    from sdmodels.postmortem_loops import acted
    ir = build(black_friday.build())
    variable = default_variable("black_friday", ir)
    d = dominance(ir, scenario="trigger")
    order = takeover_order(d, variable)
    print(f"take-over of '{variable}':", "; ".join(
        f"{r['name']} from {clock(r['first'])} for {r['led']:g} s" for _, r in order.iterrows()))
    for loop, times, first, _peak, _at in acted(d, variable, order):
        held = "; ".join(f"{c.effect} at {c.bound} (not {c.cause}) {clock(c.first)}-"
                         f"{clock(c.last)}, {c.times} of {c.moves} moves, cause up to "
                         f"{c.beyond:.3g}x" for c in capped_links(d, loop))
        print(f"  {loop.name}: acted at {times} time(s) from {clock(first)}, never led; "
              f"held: {held or '-'}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dominance", action="store_true", help="also score the loops in trigger")
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    count_loops()
    timelines()
    if args.dominance:
        takeover()


if __name__ == "__main__":
    main()
