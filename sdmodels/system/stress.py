"""Stress runs: one scenario run and its labels, and a fix judged by runs before and after.

`run_scenario` runs a composed model under one of its generated scenarios (the interpreter:
a handful of runs does not pay for a compile); `labels_of` labels the watched series against
the scenario's own stress window (`stress_window`). `evaluate` composes a fixed description,
runs it where the fix's target loops ran away, and builds its before/after rows: the labels,
peaks, seconds beyond half the old rise, the HPA's undone changes, the shortest stress that
leaves a loop stuck (`tipping`), and whether each loop is broken (`_broken`'s rule).
"""
from __future__ import annotations

import numpy as np

from sdmodels.system.checklist import TRIGGER, reversals, series_label
from sdmodels.system.fixes import Fix, apply
from sdmodels.system.tipping import STUCK, stuck_after

RUNAWAY = ("collapsed", "oscillating", "growth")


def run_scenario(model, scenario: str, watched):
    """One run of `scenario` ("baseline": the model as built), `watched` kept, as a frame."""
    from sdmodels.simulate import simulate
    return simulate(model, scenario=None if scenario == "baseline" else scenario,
                    engine="interpreter", outputs=watched).to_pandas()


def stress_window(model, scenario: str) -> tuple[float, float]:
    """When the scenario's stress acts (library.compose.scenarios: from "Stress start" for
    "Stress duration"; a lasting stress past the run's end), the trigger its labels read."""
    params = dict(model.scenarios[scenario].params) if scenario in model.scenarios else {}
    start = params.get("Stress start", TRIGGER[0])
    return start, start + params.get("Stress duration", TRIGGER[1] - TRIGGER[0])


def labels_of(frame, names, trigger=None) -> dict:
    """name -> `series_label` of each of `names` in the run, read against `trigger`."""
    t = frame.index.to_numpy(dtype=float)
    return {n: series_label(t, frame[n].to_numpy(), trigger or TRIGGER) for n in names
            if n in frame}


def reversals_in(frame, name: str, risk: dict) -> list:
    """An HPA's changes undone within the time it takes to see its own action."""
    if name not in frame:
        return []
    return reversals(frame.index.to_numpy(dtype=float), frame[name].to_numpy(), risk["delay"])


def evaluate(fix: Fix, spec, findings, scenarios, watched, runs=None):
    """Compose the fixed description, run it where its loops ran away; a before/after row.
    `runs` (scenario -> the unfixed run) lets it measure how long each loop ran away."""
    from library.compose import compose
    targets = [f for f in findings if f.match.key in fix.targets]
    where = [s for s in scenarios[1:] if any(f.runs_away(s) for f in targets)] or \
        [targets[0].answers.failure_modes["worst"]]
    frames, loops, olds = {}, [], {}
    if fix.horizon:          # a timer longer than the stress runs (a TTL): both run past it
        where = [fix.scenario if fix.scenario in scenarios else "baseline"]
        olds[where[0]] = run_scenario(compose(spec, stop=fix.horizon).model, where[0], watched)
    fixed = compose(apply(spec, fix), stop=fix.horizon)     # None: the description's own
    for s in where[:2]:
        frames[s] = run_scenario(fixed.model, s, watched)
        # a fix with its own trigger (a TTL's next expiry) is read from a minute before it:
        # the stress that set the timers (a flush an hour earlier) is the same in both runs
        new, prior = (_since(frames[s], fix.trigger), _since(olds.get(s), fix.trigger))
        for f in findings:
            window = fix.trigger or stress_window(fixed.model, s)
            after = labels_of(new, [f.primary], window).get(f.primary)
            before = labels_of(prior, [f.primary], window).get(f.primary) if s in olds \
                else f.outputs[s].get(f.primary)
            if after is None or before is None:
                continue
            flips = _flips(f, s, new, prior)
            old = prior if s in olds else (runs or {}).get(s)
            if old is not None:         # seconds beyond half its rise, before and after
                held = _held(old, f.primary, before), _held(new, f.primary, before)
                before, after = dict(before, held=held[0]), dict(after, held=held[1])
            loops.append({"loop": f.match.key, "scenario": s, "targeted": f in targets,
                          "before": before["label"], "after": after["label"],
                          "peak_before": before["peak"], "peak_after": after["peak"],
                          "end_before": before["end"], "end_after": after["end"],
                          "held_before": before.get("held"),
                          "held_after": after.get("held"),
                          "broken": _broken(before, after), **flips})
            if flips.get("reversals_before"):   # an HPA undoing its changes: still after?
                # (a scale-down to where the unfixed run ends is no collapse: it settles)
                loops[-1]["broken"] = not flips["reversals_after"] and (
                    after["label"] not in RUNAWAY or after["end"] == before["end"])
    if not fix.horizon:
        _stuck_rows(loops, targets, fixed.model)
    # a balancing loop proposed for its configuration alone (no run showed it running away)
    # has nothing to break here: its rows say so instead of crediting the fix
    unshown = [f.match.key for f in targets if f.match.expected != "R"
               and not any(f.runs_away(s) for s in scenarios[1:])]
    # a reinforcing one that only rose and recovered in every stress run: a fix can still
    # shorten or lower that excursion (credited by its rows), but if it does not, the runs
    # show nothing either way (the report says so rather than "breaks none")
    calm = [f.match.key for f in targets if f.match.expected == "R"
            and not any(f.runs_away(s) for s in scenarios[1:])]
    for r in loops:
        if r["loop"] in unshown:
            r["broken"] = None
    breaks = [k for k in fix.targets if any(r["loop"] == k for r in loops)
              and all(r["broken"] is not False for r in loops if r["loop"] == k)
              and any(r["broken"] for r in loops if r["loop"] == k)]
    frames.update({("before", s): frame for s, frame in olds.items()})
    return ({"fix": fix.name, "why": fix.why, "diff": fix.diff(), "targets": list(fix.targets),
             "scenarios": list(where[:2]), "loops": loops, "breaks": breaks,
             "unshown": unshown, "calm": calm,
             "trigger": list(fix.trigger) if fix.trigger else None},
            frames)


def _stuck_rows(rows, targets, model) -> None:
    """On the rows of a targeted reinforcing loop stuck before the fix: the shortest stress
    that leaves it stuck before and after ("stuck_before", "stuck_after"; None: the fixed
    system is not stuck even after the whole stress). Not in the baseline, which has no
    stress to shorten."""
    loops = {f.match.key: f for f in targets if f.match.expected == "R"}
    for s in dict.fromkeys(r["scenario"] for r in rows if r["scenario"] != "baseline"):
        mine = [r for r in rows if r["scenario"] == s and r["loop"] in loops
                and r["before"] == STUCK]
        still = [loops[r["loop"]].primary for r in mine if r["after"] == STUCK]
        found = stuck_after(model, s, still, stress_window(model, s)) if still else {}
        for r in mine:
            f = loops[r["loop"]]
            r["stuck_before"] = f.answers.failure_modes["stuck_after"].get(
                s, {}).get("seconds")
            r["stuck_after"] = found.get(f.primary)


def _since(frame, trigger, lead: float = 60.0):
    """The run from `lead` seconds before the trigger on (all of it without a trigger)."""
    if frame is None or trigger is None:
        return frame
    return frame.loc[trigger[0] - lead:]


def _flips(f, scenario, after, before=None) -> dict:
    """For a loop with a configuration risk: its reversals in the run before the fix and
    in the fixed run (empty for other loops)."""
    risk = f.risk
    if risk is None or "reversals" not in risk:
        return {}
    old = reversals_in(before, f.primary, risk) if before is not None else \
        risk["reversals"].get(scenario, [])
    return {"reversals_before": old, "reversals_after": reversals_in(after, f.primary, risk)}


def _held(frame, name: str, before: dict) -> float | None:
    """Seconds a loop's variable spends beyond half its rise in the unfixed run (from its
    value before the trigger towards its peak): how long the loop ran away."""
    if name not in frame:
        return None
    rise = before["peak"] - before["before"]
    if not rise > 1e-9 * max(1.0, abs(before["peak"])):
        return None
    t = frame.index.to_numpy(dtype=float)
    step = float(np.median(np.diff(t))) if len(t) > 1 else 0.0
    return float(np.count_nonzero(frame[name].to_numpy() > before["before"] + rise / 2) * step)


def _broken(before: dict, after: dict) -> bool | None:
    """The loop stopped running away (never when it rose higher and for longer than before):
    no longer collapsed/oscillating/growing, no longer
    swinging (turning points that give a period), beyond half its old rise for at most a
    third as long (and not running away, ending no further off), or its peak came down by
    at least a third and it ends no further off than before (or than a third of the old
    peak); None when it did not run before."""
    if before["label"] == "steady":
        return None
    held = before.get("held"), after.get("held")
    if held[0] is not None and held[1] is not None and held[1] > held[0] and \
            after["peak"] > before["peak"] * 1.01:
        return False                    # higher and for longer: worse, whatever its shape
    if before["label"] in RUNAWAY and after["label"] not in RUNAWAY:
        return True
    if before.get("period") and not after.get("period"):
        return True                     # it swung back and forth before, not after
    if held[0] and held[1] is not None and held[1] <= held[0] / 3 and after["label"] not in \
            RUNAWAY and abs(after["end"] - before["before"]) <= abs(before["end"] -
                                                                     before["before"]) + 1e-9:
        return True                     # it ran away for a third of the time or less
    rise = abs(before["peak"] - before["before"])
    if rise <= 1e-9 * max(1.0, abs(before["peak"])):
        # already at its peak before the trigger (running away from the start): it is
        # broken only if the fixed run's peak is a third lower, not by rising no further
        return bool(after["peak"] < before["peak"] * 2 / 3 and after["label"] not in RUNAWAY)
    base = max(rise, 1e-12)
    end = max(abs(before["end"] - before["before"]), base / 3)
    return bool(after["peak"] - before["before"] < base * 2 / 3 and
                abs(after["end"] - before["before"]) <= end and np.isfinite(after["peak"]))
