"""Write an `Analysis`: report.md, report.html (self-contained), report.json, the CLD, plots.

Everything is rendered in memory first and written into a fresh temporary directory next
to DIR, which then replaces DIR's files one by one (`os.replace`): an error before the end
leaves nothing behind. The HTML inlines its images as data URIs, so it reads offline.
"""
from __future__ import annotations

import base64
import html
import io
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

from sdmodels.files import can_make_dir, cannot_write
from sdmodels.system.checklist import NEGLIGIBLE
from sdmodels.system.tipping import LADDER, sentence


def _table(header, rows) -> list[str]:
    cell = lambda x: str(x).replace("|", "\\|").replace("\n", " ")  # noqa: E731
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + [
        "| " + " | ".join(cell(c) for c in r) + " |" for r in rows]


def _fmt(x) -> str:
    """A figure to 4 digits; rounding residue (below checklist.NEGLIGIBLE) shown as 0.

    >>> _fmt(283.4129), _fmt(8.882e-13), _fmt(None)
    ('283.4', '0', 'None')
    """
    if isinstance(x, float) and abs(x) < NEGLIGIBLE:
        return "0"
    return f"{x:.4g}" if isinstance(x, float) else str(x)


def to_markdown(a, images: dict[str, str]) -> str:
    """The report as Markdown; `images` maps a caption to a file name."""
    spec, out = a.spec, []
    out += [f"# Feedback-loop analysis: {spec.name}", "", spec.description or "", "",
            f"The composed model: {a.loops.summary()}; "
            f"{len(a.findings)} match a known pattern, "
            f"{sum(f.dangerous for f in a.findings)} dangerous.", ""]
    out += [f"> {n}" for n in a.notices] + [""]
    out += ["## Recognised loops", ""]
    out += _table(["loop", "type", "expected", "total delay (s)", "components", "worst stress",
                   "label there"], [
        [f.match.key, f.polarity, f.match.expected, _fmt(f.answers.delays["total_seconds"]),
         ", ".join(f.match.components), f.answers.failure_modes["worst"],
         f.label(f.answers.failure_modes["worst"])] for f in a.findings])
    for f in a.findings:
        ans = f.answers
        out += ["", f"### {f.match.key} ({f.polarity}{', dangerous' if f.dangerous else ''})",
                "", f"**Identification.** {ans.identification['behaviour']}. Elements: "
                + " -> ".join(ans.identification["elements"]) + ".", "",
                "**Delays.** " + "; ".join(f"{d['what']} {d['seconds']:g} s"
                                           + (" (fixed)" if d["fixed"] else "")
                                           for d in ans.delays["items"])
                + f"; total {ans.delays['total_seconds']:g} s. {ans.delays['verdict']}.", ""]
        st = ans.stability
        lin = st["linearised"]
        text = lin.get("note") or (
            f"linearised mode: time constant {_fmt(lin['time_constant'])} s, "
            + (f"period {_fmt(lin['period'])} s, " if lin["period"] else "no oscillation, ")
            + f"damping ratio {lin['damping_ratio']:.3g}")
        if "measured_period" in st:
            text += f"; period measured in the runs {st['measured_period']:.3g} s"
        elif "swing_period" in st:
            text += (f"; the runs swing with a period of about {st['swing_period']:.3g} s "
                     "(too few turns in the horizon to call it an oscillation)")
        if "stabilization_windows" in st:
            w = st["stabilization_windows"]
            text += (f"; stabilization windows up {w['scaleUp']:g} s, down {w['scaleDown']:g} s"
                     f" ({st['damping']})")
        out += [f"**Stability.** Can oscillate: {'yes' if st['can_oscillate'] else 'no'}; "
                + text + "."]
        if "configuration_risk" in st:
            out += ["", _risk(st["configuration_risk"])]
        out += ["", "**Failure modes.**", ""]
        runs = ans.failure_modes["scenarios"]
        names = list(next(iter(runs.values())).keys())
        out += _table(["variable", *runs], [[n, *(runs[s].get(n, "") for s in runs)]
                                            for n in names])
        out += _stuck(ans.failure_modes["stuck_after"])
        sync = ans.synchronization
        out += ["", "**Synchronization.** " + ("; ".join(sync["unjittered"]) or "no fixed timers")
                + f". {sync['what_correlates']}.", "", "**Observability.**", ""]
        out += _table(["variable", "metric"], [[m["variable"], f"`{m['metric']}`"]
                                               for m in ans.observability["metrics"]])
        rules = ans.observability.get("alert_rules") or []
        out += ["", "Alert rules watching it: " + ("; ".join(
            f"{r['alert']} ({r['metric']} of {r['component']} > {r['threshold']:g} for "
            f"{r['for']:g} s: {r['action']})" for r in rules) or "none") + "."]
    out += _modes(a.modes)
    out += ["", "## Dangerous combinations", ""]
    out += _table(["kind", "loops", "shared components", "shown in"], [
        [c["kind"], " + ".join(c["loops"]), ", ".join(c["shared"]), c["scenario"] or
         "the configuration (no stress run moved both)"]
        for c in a.combinations]) if a.combinations else ["None found."]
    out += ["", "## Fixes", ""]
    for r in a.fixes:
        out += [f"### {r['fix']}", "", r["why"] + ".", "", "```diff", r["diff"], "```", "",
                "Breaks: " + (", ".join(r["breaks"]) or "none of its target loops under "
                              "these stresses") + ".", ""]
        if r.get("unshown"):
            out += [f"Proposed for the configuration of {', '.join(r['unshown'])}: no stress "
                    "run showed it running away, so there is nothing here for the fix to "
                    "break.", ""]
        calm = [k for k in r.get("calm", ()) if k not in r["breaks"]]
        if calm:
            out += [f"Dangerous by its configuration, {', '.join(calm)} only rose and "
                    "recovered by itself in every stress run here: these runs cannot show "
                    "this fix breaking it; the rows show what the fix changes there.", ""]
        out += _fix_table(r["loops"]) + _stuck_rows(r["loops"])
        twin = r.get("if_closed")
        if twin:
            out += ["", f"If the clients of {twin['component']} waited for their answers (its "
                    f"closed twin: {twin['population']:g} clients thinking "
                    f"{twin['thinkTime']:g} s between requests of "
                    f"{twin['response_time'] * 1000:.0f} ms, the same rate at baseline, "
                    f"{twin['peakPopulation']:g} in the surge): breaks "
                    f"{', '.join(twin['breaks']) or 'none of its target loops'}.", ""]
            out += _fix_table(twin["loops"])
        if any(x.get("reversals_before") for x in r["loops"]):
            out += ["", "A controller's row labels its output (an HPA's replicas): "
                    "\"collapsed\" there means it stayed at another level after the stress "
                    "(a scale-down window holding the pods), not a failure; its verdict counts "
                    "the changes it undid within its own delay."]
        out.append("")
    out += ["## Figures", ""] + [f"![{cap}]({name})" for cap, name in images.items()]
    return "\n".join(out) + "\n"


def _modes(summary: dict) -> list[str]:
    """The linearised baseline's modes that matter, and how many were left out."""
    if not summary:
        return []
    out = ["", f"## Linearised modes (baseline at t = {summary['time']:g} s)", ""]
    rows = [[f"{m['eigenvalue'][0]:.4g} {m['eigenvalue'][1]:+.4g}i", m["kind"],
             _fmt(m["time_constant"]) if m["time_constant"] else "-",
             _fmt(m["period"]) if m["period"] else "-", f"{m['damping_ratio']:.3g}"]
            for m in summary["modes"]]
    out += _table(["eigenvalue (1/s)", "mode", "time constant (s)", "period (s)",
                   "damping ratio"], rows) if rows else ["No mode slower than the step."]
    out += ["", f"Slowest first, of {summary['states']} states"
            + (f"; {summary['more']} faster ones not shown" if summary["more"] else "")
            + f". Left out: {summary['faster_than_step']} modes faster than the "
            f"{summary['step']:g} s step (fluid relaxations that settle within about two "
            f"steps, which no run can show) and {summary['neutral']} neutral ones "
            "(integrators held by discrete controllers between ticks)."]
    return out


def _inline(text: str) -> str:
    """Escape, then **bold** and `code` of the Markdown we write."""
    out = html.escape(text.replace("\\|", "|"))
    out = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", out)
    return re.sub(r"`(.+?)`", r"<code>\1</code>", out)


def to_html(markdown: str, files: dict[str, bytes]) -> str:
    """A self-contained page: headings, tables, code blocks; images as data URIs."""
    body, table, code = [], [], None
    def flush():
        if table:
            rows = [r.strip("|").split(" | ") for r in table if not r.startswith("|---")]
            cells = lambda r, t: "".join(f"<{t}>{_inline(c.strip())}</{t}>" for c in r)  # noqa: E731
            body.append("<table><tr>" + cells(rows[0], "th") + "</tr>" + "".join(
                "<tr>" + cells(r, "td") + "</tr>" for r in rows[1:]) + "</table>")
            table.clear()
    for line in markdown.splitlines():
        if code is not None:
            if line.startswith("```"):
                body.append("<pre>" + html.escape("\n".join(code)) + "</pre>")
                code = None
            else:
                code.append(line)
            continue
        if line.startswith("|"):
            table.append(line)
            continue
        flush()
        if line.startswith("```"):
            code = []
        elif line.startswith("!["):
            cap, name = line[2:].split("](", 1)
            name = name[:-1]
            mime = "image/svg+xml" if name.endswith(".svg") else "image/png"
            data = base64.b64encode(files[name]).decode()
            body.append(f'<figure><img alt="{html.escape(cap)}" src="data:{mime};base64,'
                        f'{data}"><figcaption>{html.escape(cap)}</figcaption></figure>')
        elif line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            body.append(f"<h{level}>{html.escape(line[level:].strip())}</h{level}>")
        elif line.startswith("> "):
            body.append(f"<blockquote>{html.escape(line[2:])}</blockquote>")
        elif line.strip():
            body.append(f"<p>{_inline(line)}</p>")
    flush()
    return ("<!doctype html><html><head><meta charset='utf-8'><title>Feedback-loop analysis"
            "</title><style>body{font-family:sans-serif;max-width:75em;margin:2em auto;"
            "line-height:1.4}table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid"
            " #ccc;padding:.2em .5em;font-size:90%}th{background:#eee}img{max-width:100%}"
            "pre{background:#f6f6f6;padding:.5em}</style></head><body>\n" + "\n".join(body)
            + "\n</body></html>\n")


def to_json(a) -> dict:
    return {"system": a.spec.name, "loops": {"count": len(a.loops), "complete": a.loops.complete,
                                             "counts": a.loops.counts()},
            "notices": a.notices,
            "findings": [{"key": f.match.key, "pattern": f.match.pattern, "type": f.polarity,
                          "loop_id": f.loop_id, "dangerous": f.dangerous,
                          "components": list(f.match.components), **f.answers.to_dict()}
                         for f in a.findings],
            "combinations": a.combinations, "fixes": a.fixes, "modes": a.modes,
            "all_loops": [{"id": l.id, "polarity": l.polarity, "variables": list(l.names)}
                          for l in a.loops]}


def _cld(a) -> bytes:
    from sdmodels.analysis.loops import LoopSet
    from sdmodels.render import to_graphviz
    loops = [f.loop for f in a.findings if f.dangerous and f.loop is not None]
    chosen = LoopSet(a.spec.name, tuple(f.loop for f in a.findings if f.loop is not None))
    return to_graphviz(a.composition.model, loop_set=chosen, loops=[l.id for l in loops],
                       only_loops=True, polarities=a.polarities, title=f"{a.spec.name}: recognised "
                       "loops (dangerous ones in colour)").pipe("svg")


def _plots(a) -> dict[str, bytes]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    out = {}
    keys = {f.match.key: f for f in a.findings}
    for k, r in enumerate(a.fixes):
        if not r["scenarios"]:
            continue
        s, f = r["scenarios"][0], keys[r["targets"][0]]
        before = a.fixed_runs.get((r["fix"], s, "before"), a.runs[s])
        after = a.fixed_runs[(r["fix"], s)]
        fig, ax = plt.subplots(figsize=(7, 3.4))
        ax.plot(before.index, before[f.primary], label="before", color="#c0392b")
        ax.plot(after.index, after[f.primary], label=f"after: {r['fix']}", color="#1e8449")
        ax.axvspan(*(r.get("trigger") or (60, 120)), color="#eee", label="trigger")
        ax.set(title=f"{f.match.key}, {s}", xlabel="time (s)", ylabel=f.primary)
        ax.legend(loc="best", fontsize=8)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=90)
        plt.close(fig)
        out[f"fix{k + 1}.png"] = buf.getvalue()
    for k, c in enumerate(a.combinations):
        if c["scenario"] is None:       # found from the configuration: no run to plot
            continue
        frame = a.runs[c["scenario"]]
        fig, ax = plt.subplots(figsize=(7, 3.4))
        for key in c["loops"]:
            y = frame[keys[key].primary]
            ax.plot(frame.index, y / max(float(y.abs().max()), 1e-12),
                    label=f"{key}: {keys[key].primary}")
        ax.axvspan(60, 120, color="#eee")
        ax.set(title=f"{c['kind']}, {c['scenario']}", xlabel="time (s)",
               ylabel="share of its peak")
        ax.legend(loc="best", fontsize=7)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=90)
        plt.close(fig)
        out[f"combination{k + 1}.png"] = buf.getvalue()
    return out


def _held(row: dict) -> str:
    """Seconds the loop's variable spent beyond half its unfixed rise, before -> after."""
    if row.get("held_before") is None or row.get("held_after") is None:
        return "-"
    return f"{row['held_before']:g} -> {row['held_after']:g}"


def _undone(row: dict) -> str:
    """A fix row's count of an HPA's changes undone within its delay, before and after."""
    if not row.get("reversals_before") and not row.get("reversals_after"):
        return ""
    return (f" ({len(row['reversals_before'])} changes undone before, "
            f"{len(row['reversals_after'])} after)")


def _risk(risk: dict) -> str:
    """The configuration risk's sentence, with what the stress runs showed of it."""
    def how(s):
        undone = risk.get("reversals", {}).get(s)
        return s + (" (changes undone within " + f"{risk['delay']:g} s: " + ", ".join(
            f"{a:g} s -> {b:g} s" for a, b in undone) + ")" if undone else "")
    shown = (f"the simulation shows it in {'; '.join(map(how, risk['shown_in']))}"
             if risk["shown_in"] else
             "the simulation did not show it under the generated scenarios")
    return f"**Configuration risk: {risk['risk']}.** {risk['why']}; {shown}."


def _stuck(found: dict) -> list[str]:
    """The failure modes' sentence on a loop stuck after the stress ended."""
    if not found:
        return []
    return ["", "**Stuck after the stress ended** (a metastable failure: the loop holds the "
            "system down once its trigger has gone): " + "; ".join(
                f"in {s}, {sentence(x['seconds'], x['stress'])}" for s, x in found.items())
            + "."]


def _stuck_rows(loops) -> list[str]:
    """A fix's effect on the shortest stress that leaves a target loop stuck."""
    rows = [x for x in loops if x.get("stuck_before") is not None]
    if not rows:
        return []
    return ["", "Shortest stress that leaves it stuck (of " + ", ".join(
        f"{d:g}" for d in LADDER) + " s and the whole stress): " + "; ".join(
        f"{x['loop']} in {x['scenario']}: {x['stuck_before']:g} s before, " + (
            f"{x['stuck_after']:g} s after" if x["stuck_after"] is not None else
            "not stuck after the whole stress") for x in rows) + "."]


def _fix_table(loops) -> list[str]:
    """A fix's before/after rows, one per loop and scenario."""
    return _table(["loop", "scenario", "before", "after", "peak before", "peak after",
                   "s beyond half the old rise", "broken"], [
        [x["loop"] + (" (target)" if x["targeted"] else ""), x["scenario"], x["before"],
         x["after"], _fmt(x["peak_before"]), _fmt(x["peak_after"]), _held(x),
         {True: "yes", False: "no", None: "did not run away"}[x["broken"]] + _undone(x)]
        for x in loops])


def write(a, out_dir) -> list[Path]:
    """Write every report file of `a` into `out_dir` (nothing if any step fails)."""
    out_dir = Path(out_dir)
    files = {"cld.svg": _cld(a), **_plots(a)}
    images = {"Recognised loops (causal-loop diagram)": "cld.svg"}
    images.update({f"Acting together: {' + '.join(c['loops'])} ({c['scenario']})":
                   f"combination{k + 1}.png" for k, c in enumerate(a.combinations)
                   if c["scenario"] is not None})
    images.update({f"Before/after: {r['fix']}": f"fix{k + 1}.png" for k, r in enumerate(a.fixes)
                   if f"fix{k + 1}.png" in files})
    md = to_markdown(a, images)
    files["report.md"] = md.encode()
    files["report.html"] = to_html(md, files).encode()
    files["report.json"] = json.dumps(to_json(a), indent=2, default=float).encode()
    can_make_dir(out_dir)
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}."))
    except OSError as exc:
        raise cannot_write(out_dir, exc) from None
    try:
        for name, data in files.items():
            (tmp / name).write_bytes(data)
        out_dir.mkdir(exist_ok=True)
        for name in files:
            os.replace(tmp / name, out_dir / name)
    except OSError as exc:
        raise cannot_write(out_dir, exc) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return [out_dir / n for n in files]
