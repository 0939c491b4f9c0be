"""Open and closed workloads: what a retry fix does if the callers waited for their answers.

Backoff cannot cut the retries of an open workload, whose requests arrive whatever happens
to the earlier ones: under a sustained overload each is still tried maxAttempts times, only
later (M. Brooker, "What is Backoff For?", 2022; Schroeder, Wierman and Harchol-Balter, "Open
versus closed: a cautionary tale", NSDI 2006). It cuts a closed workload's, whose clients
sit through their timeouts and backoff sleeps before they send again. A description does
not always know which its callers are (a rate of users is open; a client's worker threads
are closed), so for a fix that breaks nothing behind an open caller, `if_closed` runs it
again on the system's closed twin (`closed_twin`): the same system with that caller closed
at the same baseline throughput, by the interactive response-time law X = N / (R + Z)
(Denning and Buzen, 1978): N = rate x (Z + R) clients thinking Z = `THINK` between requests
that take the baseline response time R, and the surge's peak likewise. The report shows
both answers.

>>> from sdmodels.system import load_system
>>> twin = closed_twin(load_system("examples/hands_on.yaml"), "users", 0.05)
>>> c = twin.components["users"].config
>>> c["rate"], c["population"], c["thinkTime"], c["peakPopulation"]
(None, 840.0, 1.0, 2520.0)
"""
from __future__ import annotations

from sdmodels.system.fixes import Change, Fix, apply

THINK = 1.0          # s: a person's pause between requests (assumption; the closed test's)


def closed_twin(spec, name: str, response_time: float, think: float = THINK):
    """`spec` with its open traffic component `name` closed at the same baseline rate."""
    c = spec.components[name].config
    rate = c["rate"]
    peak = c["peak"] if c["peak"] is not None else 3 * rate
    cycle = think + response_time
    population, surge = float(round(rate * cycle)), float(round(peak * cycle))
    where = ("components", name)
    return apply(spec, Fix(f"{name} closed", (
        Change(where + ("rate",), f"{rate:g}/s", "none", None),
        Change(where + ("peak",), f"{peak:g}/s", "none", None),
        Change(where + ("population",), "none", f"{population:g}", population),
        Change(where + ("thinkTime",), "none", f"{think:g}s", think),
        Change(where + ("peakPopulation",), "none", f"{surge:g}", surge)), (), ""))


def baseline_response_time(composition, name: str) -> float:
    """The response time component `name`'s requests see at the end of a baseline run."""
    from sdmodels.simulate import simulate
    latency = composition.nodes[name].latency.name
    run = simulate(composition.model, engine="interpreter", outputs=[latency]).to_pandas()
    return float(run.iloc[-1, 0])


def if_closed(fix, spec, composition, scenarios) -> dict:
    """The fix's before/after rows on the closed twin of its open caller: the twin's own
    stress runs find where its loops act, then the fix is run there (`Analysis.evaluate`)."""
    from sdmodels.system.analyze import analyze
    name = fix.open_caller
    response = baseline_response_time(composition, name)
    twin = closed_twin(spec, name, response)
    row = analyze(twin, fixes=False, scenarios=scenarios[1:], max_loops=1).evaluate(fix)
    c = twin.components[name].config
    return {"component": name, "population": c["population"], "thinkTime": c["thinkTime"],
            "peakPopulation": c["peakPopulation"], "response_time": response,
            "breaks": row["breaks"], "scenarios": row["scenarios"],
            "loops": [x for x in row["loops"] if x["targeted"]]}
