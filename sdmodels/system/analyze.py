"""From a system description to its loops, the checklist, dangerous combinations and fixes.

`analyze(path_or_text)` validates and composes the description, finds every loop of the
composed model (capped, with a notice), recognises the reference's patterns by component
roles (`patterns`), runs every stress scenario once (the interpreter), linearises the
baseline, answers the checklist per recognised loop (`checklist`), finds the dangerous
combinations, measures the shortest stress that leaves each stuck reinforcing loop stuck
(`tipping`), and simulates each fix (`fixes`) under the scenarios in which its loops ran
away (for an HPA whose cooldown is shorter than its delay: the runs in which it undid one of
its changes within that delay, `checklist.reversals`), judged by `stress.evaluate`.
`sdmodels.system.report` writes the result.

>>> a = analyze("examples/service_chain.yaml")     # seconds of runs: # doctest: +SKIP
>>> [f.match.key for f in a.findings if f.polarity == "R"][:1]   # doctest: +SKIP
['retry storm: gateway -> orders']
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field, replace

from sdmodels.system.checklist import (Answers, delays, identification, loop_mode,
                                       observability, stability, synchronization)
from sdmodels.system.fixes import Fix, fixes_for, merged
from sdmodels.system.patterns import BY_NAME, Match, recognise
from sdmodels.system.stress import (RUNAWAY, evaluate, labels_of, reversals_in, run_scenario,
                                    stress_window)
from sdmodels.system.threads import columns as thread_columns
from sdmodels.system.threads import notices as thread_notices
from sdmodels.system.tipping import STUCK, stuck_after

MAX_LOOPS = 2000
ACTING = ("collapsed", "oscillating", "growth", "overshoot", "recovered")
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
    threads = [v for cols in thread_columns(spec, composition).values() for v in cols]
    runs = {}
    for s in scenarios:
        bar.set_description(f"run {s}")
        # the baseline also keeps what the thread notices read (one run, not a second)
        extra = [v for v in threads if v not in watched] if s == "baseline" else []
        runs[s] = run_scenario(composition.model, s, watched + extra)
        bar.update()
    bar.set_description("linearise")
    lin = linearize(composition.model)
    bar.update()
    by_cycle = {frozenset(l.edges): l for l in loops}
    findings, counters = [], {}
    for m in matches:
        loop = by_cycle.get(frozenset(m.edges))
        edge_delays = _edge_delays(ir, graph, m)
        outputs = {s: labels_of(runs[s], names_of(m, composition, ir),
                              stress_window(composition.model, s)) for s in scenarios}
        measured = {s: outputs[s][next(iter(outputs[s]))] for s in scenarios if outputs[s]}
        answers = Answers(
            identification=identification(m, _loop_polarity(m, polarities), ir,
                                          BY_NAME[m.pattern]),
            delays=delays(m, spec, edge_delays),
            stability=stability(m, spec, loop_mode(lin, composition, m, ir), measured),
            failure_modes={"scenarios": {s: {v: d["label"] for v, d in outputs[s].items()}
                                         for s in scenarios}, "stuck_after": {}},
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
            risk["reversals"] = {s: reversals_in(runs[s], f.primary, risk) for s in scenarios}
            risk["shown_in"] = [s for s in scenarios[1:] if f.runs_away(s)]
        acts = any(f.runs_away(s) for s in scenarios[1:])
        f.dangerous = f.match.expected == "R" or acts or risk is not None
        f.answers.failure_modes["worst"] = _worst(f, scenarios)
    bar.set_description("shortest stress that leaves loops stuck")
    _stuck_after(findings, composition.model, scenarios)
    bar.update()
    combos = combinations(findings, scenarios, composition)
    notices = [n for n in loops.notices if n.startswith("loop enumeration")] + \
        thread_notices(spec, composition, {v: runs["baseline"][ir.display(v)].to_numpy()
                                           for v in threads})
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
    stuck (`tipping`), as its failure modes' "stuck_after": scenario -> {"seconds": that,
    "stress": the scenario's whole stress}."""
    for s in scenarios[1:]:
        stuck = [f for f in findings if f.match.expected == "R" and f.label(s) == STUCK]
        if stuck:
            start, end = window = stress_window(model, s)
            found = stuck_after(model, s, [f.primary for f in stuck], window)
            for f in stuck:
                f.answers.failure_modes["stuck_after"][s] = {
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


