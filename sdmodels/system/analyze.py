"""From a system description to its loops, the checklist, dangerous combinations and fixes.

`analyze(path_or_text)` validates and composes the description, finds every loop of the
composed model (capped, with a notice), recognises the reference's patterns by component
roles (`patterns`), runs every stress scenario once (the interpreter), linearises the
baseline, answers the checklist per recognised loop (`checklist`), finds the dangerous
combinations, and simulates each fix (`fixes`) under the scenarios in which its loops ran
away (for an HPA whose cooldown is shorter than its delay: the runs in which it undid one of
its changes within that delay, `checklist.reversals`). `sdmodels.system.report` writes the
result.

>>> a = analyze("examples/service_chain.yaml")     # a minute of runs: # doctest: +SKIP
>>> [f.match.key for f in a.findings if f.polarity == "R"][:1]   # doctest: +SKIP
['retry storm: gateway -> orders']
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field, replace

import numpy as np

from sdmodels.system.checklist import (TRIGGER, Answers, delays, identification, loop_mode,
                                       observability, reversals, series_label, stability,
                                       synchronization)
from sdmodels.system.fixes import Fix, apply, fixes_for, merged
from sdmodels.system.patterns import BY_NAME, Match, recognise
from sdmodels.system.tipping import STUCK, stuck_after

MAX_LOOPS = 2000
ACTING = ("collapsed", "oscillating", "growth", "overshoot", "recovered")
RUNAWAY = ("collapsed", "oscillating", "growth")
CONTROLLERS = ("HPA scaling", "circuit breaker")     # balancing loops that act on a clock


@dataclass
class Finding:
    """A recognised loop with its type, its link delays and its checklist answers."""
    match: Match
    polarity: str
    loop_id: str | None
    answers: Answers
    outputs: dict                           # scenario -> {variable: label dict}
    dangerous: bool = False
    loop: object = None                     # the matched cycle as a sdmodels Loop

    @property
    def primary(self) -> str:
        return next(iter(self.answers.observability["metrics"]))["variable"]

    def label(self, scenario: str) -> str:
        return self.outputs.get(scenario, {}).get(self.primary, {}).get("label", "?")

    @property
    def risk(self) -> dict | None:
        """The configuration risk of its loop (`checklist.config_risk`), if any."""
        return self.answers.stability.get("configuration_risk")

    def runs_away(self, scenario: str) -> bool:
        """Its primary variable collapsed, oscillated or grew in a run, or the run showed
        its configuration risk (an HPA undoing its own changes within its delay)."""
        return self.label(scenario) in RUNAWAY or bool(
            (self.risk or {}).get("reversals", {}).get(scenario))

    def moved(self, scenario: str) -> str:
        """How the loop was set in motion in a run: the first label other than steady among
        its watched variables (primary first), else 'steady'."""
        labels = [v["label"] for v in self.outputs.get(scenario, {}).values()]
        return next((x for x in labels if x != "steady"), "steady")


@dataclass
class Analysis:
    """What `analyze` found: loops, recognised findings, combinations, fixes and their runs."""
    spec: object
    composition: object
    loops: object                           # sdmodels.analysis.LoopSet (capped)
    findings: list[Finding]
    combinations: list[dict]
    fixes: list[dict]
    runs: dict                              # scenario -> pandas DataFrame of watched outputs
    fixed_runs: dict = field(default_factory=dict)   # (fix name, scenario) -> DataFrame
    notices: list[str] = field(default_factory=list)
    polarities: dict = field(default_factory=dict)   # link polarities of the composed model
    modes: dict = field(default_factory=dict)        # the baseline's modes that matter

    def by_pattern(self, name: str) -> list[Finding]:
        return [f for f in self.findings if f.match.pattern == name]

    def evaluate(self, fix: Fix) -> dict:
        """The fix's before/after row under this analysis's own stress runs."""
        watched = _watched(self.composition, [f.match for f in self.findings])
        return evaluate(fix, self.spec, self.findings, list(self.runs), watched, self.runs)[0]

    def write(self, out_dir):
        """Write report.md/.html/.json, the CLD and the before/after plots into out_dir."""
        from sdmodels.system.report import write
        return write(self, out_dir)


def _progress(total: int, enabled: bool):
    try:
        from tqdm import tqdm
    except ImportError:              # pragma: no cover - tqdm comes with the test extra
        tqdm = None
    if not enabled or tqdm is None:
        class Quiet:
            total = 0

            def update(self, n=1): ...

            def refresh(self): ...
            def set_description(self, text): ...
            def close(self): ...
        return Quiet()
    return tqdm(total=total, unit="step", leave=False)


def _watched(composition, matches) -> list[str]:
    out = []
    for m in matches:
        extra = [m.subject["primary"]] if "primary" in m.subject else []
        for comp, role, _ in extra + list(m.anchors):
            out.append(composition.nodes[comp].roles[role])
        for comp in m.components:
            lat = composition.nodes[comp].roles.get("latency")
            if lat:
                out.append(lat)
    return list(dict.fromkeys(out))


def _run(model, scenario, watched):
    from sdmodels.simulate import simulate
    return simulate(model, scenario=None if scenario == "baseline" else scenario,
                    engine="interpreter", outputs=watched).to_pandas()


def stress_window(model, scenario: str) -> tuple[float, float]:
    """When the scenario's stress acts (library.compose.scenarios: from "Stress start" for
    "Stress duration"; a lasting stress past the run's end), the trigger its labels read."""
    params = dict(model.scenarios[scenario].params) if scenario in model.scenarios else {}
    start = params.get("Stress start", TRIGGER[0])
    return start, start + params.get("Stress duration", TRIGGER[1] - TRIGGER[0])


def _labels(frame, names, trigger=None) -> dict:
    t = frame.index.to_numpy(dtype=float)
    return {n: series_label(t, frame[n].to_numpy(), trigger or TRIGGER) for n in names
            if n in frame}


def _loop_polarity(match: Match, polarities) -> str:
    signs = [polarities.get(e) for e in match.edges]
    if any(s is None or s.polarity not in ("+", "-") for s in signs):
        return "U"
    return "B" if sum(s.polarity == "-" for s in signs) % 2 else "R"


@dataclass(frozen=True)
class Recognised:
    """A composed description, its causal graph, link polarities and recognised loops."""
    spec: object
    composition: object
    ir: object
    graph: object
    polarities: dict
    matches: list

    def polarity(self, match: Match) -> str:
        return _loop_polarity(match, self.polarities)


def recognised(path_or_text) -> Recognised:
    """Compose a description and recognise its loops; links the equations cannot sign are
    signed from one run of the traffic-surge scenario (where the loops act)."""
    from library.compose import compose
    from sdmodels.analysis import causal_graph, link_polarities
    from sdmodels.ir import build
    from sdmodels.system import SystemSpec, load_system
    spec = path_or_text if isinstance(path_or_text, SystemSpec) else load_system(path_or_text)
    composition = compose(spec)
    ir = build(composition.model)
    graph = causal_graph(ir)
    stress = "traffic surge" if "traffic surge" in composition.model.scenarios else None
    polarities = link_polarities(ir, behaviour=True, scenario=stress)
    return Recognised(spec, composition, ir, graph, polarities,
                      recognise(composition, graph, polarities))


def analyze(path_or_text, *, fixes: bool = True, progress: bool = False,
            max_loops: int = MAX_LOOPS, scenarios=None) -> Analysis:
    """Analyse a system description (path, YAML text or SystemSpec): see the module doc.
    `scenarios` limits the stress runs (the baseline always runs)."""
    from sdmodels.analysis import find_loops
    from sdmodels.analysis.loops import _make_loop
    from sdmodels.analysis.stability import linearize, mode_summary
    only = scenarios
    r = recognised(path_or_text)         # a description with errors stops here, before any bar
    bar = _progress(7, progress)         # loops, the runs, linearisation (total set below)
    bar.set_description("loops")
    spec, composition, ir, graph, polarities, matches = (
        r.spec, r.composition, r.ir, r.graph, r.polarities, r.matches)
    stresses = [s for s in composition.model.scenarios if s != "baseline"]
    scenarios = ["baseline", *(s for s in stresses if only is None or s in only)]
    bar.total = 3 + len(scenarios)       # loops, the runs, linearisation, stuck after
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loops = find_loops(ir, polarities=polarities, max_loops=max_loops)
    bar.update()
    watched = _watched(composition, matches)
    runs = {}
    for s in scenarios:
        bar.set_description(f"run {s}")
        runs[s] = _run(composition.model, s, watched)
        bar.update()
    bar.set_description("linearise")
    lin = linearize(composition.model)
    bar.update()
    by_cycle = {frozenset(l.edges): l for l in loops}
    findings, counters = [], {}
    for m in matches:
        loop = by_cycle.get(frozenset(m.edges))
        edge_delays = _edge_delays(ir, graph, m)
        outputs = {s: _labels(runs[s], names_of(m, composition, ir),
                              stress_window(composition.model, s)) for s in scenarios}
        measured = {s: outputs[s][next(iter(outputs[s]))] for s in scenarios if outputs[s]}
        answers = Answers(
            identification=identification(m, _loop_polarity(m, polarities), ir,
                                          BY_NAME[m.pattern]),
            delays=delays(m, spec, edge_delays),
            stability=stability(m, spec, loop_mode(lin, composition, m, ir), measured),
            failure_modes={s: {v: d["label"] for v, d in outputs[s].items()}
                           for s in scenarios},
            synchronization=synchronization(m, spec, edge_delays),
            observability=observability(m, composition, ir))
        pol = answers.identification["type"]
        counters[pol] = counters.get(pol, 0) + 1
        as_loop = _make_loop(ir, graph, list(m.cycle), tuple(polarities[e] for e in m.edges),
                             f"{pol}{counters[pol]}", pol)
        as_loop = replace(as_loop, name=m.key)
        findings.append(Finding(m, pol, loop.id if loop else None, answers, outputs,
                                loop=as_loop))
    for f in findings:
        risk = f.risk
        if risk is not None:        # a risk of the configuration, and whether a run showed it
            risk["reversals"] = {s: _reversals(runs[s], f.primary, risk) for s in scenarios}
            risk["shown_in"] = [s for s in scenarios[1:] if f.runs_away(s)]
        acts = any(f.runs_away(s) for s in scenarios[1:])
        f.dangerous = f.match.expected == "R" or acts or risk is not None
        f.answers.failure_modes["worst"] = _worst(f, scenarios)
    bar.set_description("shortest stress that leaves loops stuck")
    _stuck_after(findings, composition.model, scenarios)
    bar.update()
    combos = combinations(findings, scenarios, composition)
    notices = [n for n in loops.notices if n.startswith("loop enumeration")]
    fix_rows, fixed_runs = [], {}
    if fixes:
        bar.set_description("fixes")
        candidates = merged(fixes_for(f.match, spec) for f in findings if f.dangerous)
        bar.total += len(candidates)
        bar.refresh()
        for fix in candidates:
            bar.set_description(f"fix: {fix.name}")
            row, frames = evaluate(fix, spec, findings, scenarios, watched, runs)
            if fix.open_caller and not row["breaks"]:   # would it, if they waited?
                from sdmodels.system.workload import if_closed
                bar.set_description(f"fix: {fix.name}, closed twin")
                row["if_closed"] = if_closed(fix, spec, composition, scenarios)
            bar.update()
            fix_rows.append(row)
            fixed_runs.update({(fix.name, *((s,) if isinstance(s, str) else s[::-1])): fr
                               for s, fr in frames.items()})
    bar.close()
    return Analysis(spec, composition, loops, findings, combos, fix_rows, runs, fixed_runs,
                    notices, polarities, mode_summary(lin))


def _stuck_after(findings, model, scenarios) -> None:
    """For each reinforcing loop stuck after a stress: the shortest stress that leaves it
    stuck (`tipping`), as its failure modes' "stuck_after" (scenario -> seconds)."""
    for s in scenarios[1:]:
        stuck = [f for f in findings if f.match.expected == "R" and f.label(s) == STUCK]
        if stuck:
            start, end = window = stress_window(model, s)
            found = stuck_after(model, s, [f.primary for f in stuck], window)
            for f in stuck:
                f.answers.failure_modes.setdefault("stuck_after", {})[s] = {
                    "seconds": found[f.primary], "stress": end - start}


def names_of(match: Match, composition, ir) -> list[str]:
    return [r["variable"] for r in observability(match, composition, ir)["metrics"]]


def _edge_delays(ir, graph, match: Match):
    from sdmodels.analysis.loops import LoopDelay
    out = []
    for a, b in match.edges:
        for d in graph.edges[a, b]["delays"]:
            out.append(LoopDelay(ir.display(a), ir.display(b), d.kind, d.order, d.time,
                                 d.time_text))
    return out


def _reversals(frame, name: str, risk: dict) -> list:
    """An HPA's changes undone within the time it takes to see its own action."""
    if name not in frame:
        return []
    return reversals(frame.index.to_numpy(dtype=float), frame[name].to_numpy(), risk["delay"])


def _worst(f: Finding, scenarios) -> str:
    rank = {"collapsed": 0, "oscillating": 1, "growth": 2, "overshoot": 3, "recovered": 4}
    acted = [s for s in scenarios[1:] if f.label(s) in rank]
    return min(acted, key=lambda s: rank[f.label(s)]) if acted else scenarios[0]


def combinations(findings: list[Finding], scenarios, composition) -> list[dict]:
    """Reinforcing loops sharing elements and set in motion by the same stress run (one of
    their watched variables leaves its band); a controller's balancing loop moving in the
    same run as a loop through its service, or behind a rate limiter (fighting). A
    controller whose configuration is a risk (`checklist.config_risk`) combines with the
    reinforcing loops through its service even when no run moved both: "shown" False,
    "scenario" None (found from the configuration, not shown by the runs)."""
    out = []
    reinforcing = [f for f in findings if f.match.expected == "R"]
    for s in scenarios[1:]:
        acting = [f for f in reinforcing if f.moved(s) in ACTING]
        group = [f for f in acting if any(g is not f and _share(f, g) for g in acting)]
        if len(group) >= 2 and not any(set(c["loops"]) == {f.match.key for f in group}
                                       for c in out if c["kind"] == "reinforcing together"):
            out.append({"kind": "reinforcing together", "scenario": s,
                        "loops": [f.match.key for f in group],
                        "shared": sorted({c for f in group for c in f.match.components}),
                        "labels": {f.match.key: f.moved(s) for f in group}, "shown": True})
    for b in (f for f in findings if f.match.pattern in CONTROLLERS):
        for other in findings:
            if other is b or not (_share(b, other, components=True) if other.match.expected
                                  == "R" else _upstream(other, b, composition)):
                continue
            acting = [s for s in scenarios[1:] if b.moved(s) in ACTING
                      and other.moved(s) in ACTING]
            risky = b.answers.stability.get("configuration_risk") is not None
            if (acting or (risky and other.match.expected == "R")) and not any(
                    set(c["loops"]) == {b.match.key, other.match.key} for c in out):
                s = acting[0] if acting else None
                out.append({"kind": "balancing loop fights" if other.match.expected == "B"
                            else "balancing loop feeds a reinforcing one",
                            "scenario": s, "loops": [b.match.key, other.match.key],
                            "shared": sorted(set(b.match.components) &
                                             set(other.match.components)),
                            "labels": {b.match.key: b.moved(s), other.match.key:
                                       other.moved(s)} if s else {},
                            "shown": s is not None})
    return out


def _upstream(limiter: Finding, hpa: Finding, composition) -> bool:
    """A rate limiter in front of the service an HPA scales: pods added behind it get
    nothing more to do while the limiter rejects (they fight)."""
    import networkx as nx
    if limiter.match.pattern != "rate limiting" or hpa.match.pattern != "HPA scaling":
        return False
    calls = nx.DiGraph((c.source, c.target) for c in composition.spec.calls)
    a, b = limiter.match.subject["limiter"], hpa.match.subject["service"]
    return a in calls and b in calls and nx.has_path(calls, a, b)


def _share(f: Finding, g: Finding, *, components: bool = False) -> bool:
    if set(f.match.cycle) & set(g.match.cycle):
        return True
    return components and bool(set(f.match.components) & set(g.match.components))


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
        olds[where[0]] = _run(compose(spec, stop=fix.horizon).model, where[0], watched)
    fixed = compose(apply(spec, fix), stop=fix.horizon)     # None: the description's own
    for s in where[:2]:
        frames[s] = _run(fixed.model, s, watched)
        # a fix with its own trigger (a TTL's next expiry) is read from a minute before it:
        # the stress that set the timers (a flush an hour earlier) is the same in both runs
        new, prior = (_since(frames[s], fix.trigger), _since(olds.get(s), fix.trigger))
        for f in findings:
            window = fix.trigger or stress_window(fixed.model, s)
            after = _labels(new, [f.primary], window).get(f.primary)
            before = _labels(prior, [f.primary], window).get(f.primary) if s in olds \
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
    system is not stuck even after the whole stress)."""
    loops = {f.match.key: f for f in targets if f.match.expected == "R"}
    for s in dict.fromkeys(r["scenario"] for r in rows):
        mine = [r for r in rows if r["scenario"] == s and r["loop"] in loops
                and r["before"] == STUCK]
        still = [loops[r["loop"]].primary for r in mine if r["after"] == STUCK]
        found = stuck_after(model, s, still, stress_window(model, s)) if still else {}
        for r in mine:
            f = loops[r["loop"]]
            r["stuck_before"] = f.answers.failure_modes.get("stuck_after", {}).get(
                s, {}).get("seconds")
            r["stuck_after"] = found.get(f.primary)


def _since(frame, trigger, lead: float = 60.0):
    """The run from `lead` seconds before the trigger on (all of it without a trigger)."""
    if frame is None or trigger is None:
        return frame
    return frame.loc[trigger[0] - lead:]


def _flips(f: Finding, scenario, after, before=None) -> dict:
    """For a loop with a configuration risk: its reversals in the run before the fix and
    in the fixed run (empty for other loops)."""
    risk = f.risk
    if risk is None or "reversals" not in risk:
        return {}
    old = _reversals(before, f.primary, risk) if before is not None else \
        risk["reversals"].get(scenario, [])
    return {"reversals_before": old, "reversals_after": _reversals(after, f.primary, risk)}


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
