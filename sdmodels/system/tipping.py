"""How short a stress still leaves a loop stuck: the trigger of a metastable failure.

A reinforcing loop can hold a system down after the stress that started it has gone: a retry
storm that keeps the servers overloaded with the retries of its own timeouts, a connection
pool whose queue feeds on requests nobody waits for any more. Bronson, Aghayev, Charapko and
Zhu ("Metastable Failures in Distributed Systems", HotOS 2021) call the loop the *sustaining
effect* and the stress the *trigger*; Huang et al. ("Metastable Failures in the Wild", OSDI
2022) measure how large and how long a trigger must be to tip a system into it.

`stuck_after` measures the second for a model with the composed systems' stress switches: the
scenario's stress is run again, shorter (one batch of runs), and the answer is the shortest
duration after which the variable is still "collapsed" when the run ends (away from where it
was, not coming back; `sdmodels.sweep.labels`). A fix that lengthens it makes the failure
harder to start even where it does not end one that has started.

A backlog that retries a fifth of itself each second and is served at 5/s at most: a stress
of 10/s pushes it past 25, where the retries outgrow the service, after about 3.2 s
(0.64 s to reach 5, then 5 ln(10/6) = 2.55 s), so 1 and 2 s stresses pass and 5 s does not.

>>> from sdmodels import Model, minimum, pulse
>>> m = Model("latch", stop=60, dt=0.05)
>>> start, length = m.constant("Stress start", 10), m.constant("Stress duration", 30)
>>> b = m.stock("Backlog", initial=0)
>>> _ = m.flow("Arrivals", 10 * pulse(start, length) + 0.2 * b, into=b)
>>> _ = m.flow("Served", minimum(b, 5), out_of=b)
>>> stuck_after(m, None, ["Backlog"], (10.0, 40.0))
{'Backlog': 5.0}
"""
from __future__ import annotations

from sdmodels.system.checklist import series_label

#: stress durations tried, seconds: from a blip (a GC pause, a failover) to the scenarios'
#: minute, each about twice the last
LADDER = (1.0, 2.0, 5.0, 10.0, 20.0, 30.0)
STUCK = "collapsed"


def stuck_after(model, scenario: str | None, names, window: tuple[float, float], *,
                ladder=LADDER) -> dict[str, float]:
    """For each of `names`, stuck after `scenario`'s stress acting over `window`: the
    shortest stress of `ladder` (or the whole window) that still leaves it stuck."""
    from sdmodels.simulate import simulate
    start, end = window
    full = end - start
    tried = [d for d in ladder if d < full]
    if not tried or not names:
        return {n: full for n in names}
    res = simulate(model, scenario=scenario, params={"Stress duration": tried},
                   outputs=list(names), engine="interpreter")
    out = {}
    for n in names:
        labels = [series_label(res.times, y, (start, start + d))["label"]
                  for d, y in zip(tried, res[n])]
        out[n] = next((d for d, label in zip(tried, labels) if label == STUCK), full)
    return out


def sentence(seconds: float, full: float) -> str:
    """The finding in words.

    >>> sentence(5.0, 60.0)
    'a stress of 5 s already leaves it stuck (60 s in the scenario)'
    >>> sentence(60.0, 60.0)
    'only the whole 60 s stress leaves it stuck (none of 1, 2, 5, 10, 20, 30 s does)'
    """
    if seconds < full:
        return f"a stress of {seconds:g} s already leaves it stuck ({full:g} s in the scenario)"
    shorter = ", ".join(f"{d:g}" for d in LADDER if d < full)
    return f"only the whole {full:g} s stress leaves it stuck (none of {shorter} s does)"
