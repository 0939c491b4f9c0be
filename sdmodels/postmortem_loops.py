"""The postmortem's sections on the named loops that did not lead: those that passed a change
round but never led (`never_led`), and those that never drove anything (`never_drove`), each
with where it was cut or held (`pinned`).

Why a section of their own: a reader of a postmortem looks for the loops the model names, and
a named loop absent from the take-over table needs its reason stated, or the reader cannot
tell "it never acted" from "the analysis missed it".
"""
from __future__ import annotations

import html

import pandas as pd

from sdmodels.analysis.dominance_result import Dominance

SILENT = 1e-6          # a named loop whose |relative score| never passes this never drove


def acted(d: Dominance, variable: str, order: pd.DataFrame) -> list[tuple]:
    """[(loop, times it scored, first, peak share, when)] for the named loops that moved
    `variable` but never led the named ones (`order` is `takeover_order(d, variable)`)."""
    from sdmodels.analysis.phases import named_shares
    shares = named_shares(d, variable)
    out = []
    for loop in d.loops:
        if not loop.name or loop.name in set(order["name"]) or loop.name not in shares:
            continue
        scored = shares[loop.name][d.relative[loop.id].abs() > SILENT]
        if not scored.empty:
            out.append((loop, len(scored), float(scored.index[0]), float(scored.max()),
                        float(scored.idxmax())))
    return out


def takeover_table(d: Dominance, variable: str, order: pd.DataFrame, fmt=str,
                   time_units: str = "") -> str:
    """HTML: the named loops that moved `variable` in the order they took over (`order` is
    `takeover_order(d, variable)`), with those that acted without leading in their place
    in the story (when they first passed a change round); '' when none acted.

    Why: the reader wants the story's order of loops; a loop that acted but never led
    (held at its controller's limit, say) still has its place in it.
    """
    e = html.escape
    rows = [(r["first"], r["name"], f"{r['led']:g} {time_units}".strip(), r["peak"])
            for _, r in order.iterrows()]
    rows += [(first, loop.name, "never (held, see below)" if bounded(d, loop)
              or pinned(d, loop) else "never (see below)", peak)
             for loop, _n, first, peak, _at in acted(d, variable, order)]
    if not rows:
        return ""
    return ("<h2>The named loops, in the order they took over</h2><p>Among the loops the "
            "model names, when each first had the largest share of the change (or, for one "
            "that never had it, first passed a change all the way round), for how long it "
            "led in all, and its largest share:</p><table><tr><th>first led</th><th>loop</th>"
            "<th>led for</th><th>peak share</th></tr>"
            + "".join(f"<tr><td>{fmt(t)}</td><td>{e(name)}</td><td>{e(led)}</td>"
                      f"<td>{e(percent(peak))}</td></tr>" for t, name, led, peak in sorted(rows))
            + "</table>")


def never_led(d: Dominance, variable: str, order: pd.DataFrame, fmt=str) -> str:
    """HTML naming the named loops that moved `variable` but never led the named ones
    (`order` is `takeover_order(d, variable)`): how often they scored, their largest share,
    and where they were held (at a bound, or still).

    Why: a loop that passed a change round once is neither in the take-over table nor
    silent, and the reader would not learn that it acted at all.
    """
    e = html.escape
    items = []
    for loop, times, first, peak, at in acted(d, variable, order):
        still = pinned(d, loop, fmt)
        items.append(f"<li><b>{e(loop.name)}</b> ({e(loop.id)}): passed a change all the way "
                     f"round at {times} reported time(s), first at {fmt(first)}; "
                     f"its largest share among the named loops was {e(percent(peak))} "
                     f"(at {fmt(at)}).{bounded(d, loop, fmt)}"
                     + (f" Held still: {still[2:]}." if still else "") + "</li>")
    if not items:
        return ""
    return (f"<h2>Named loops that moved {e(variable)} but never led</h2><ul>"
            + "".join(items) + "</ul>")


def percent(share: float) -> str:
    """A share as a whole percentage, '< 1%' for a small one that rounds to 0.

    >>> percent(0.004), percent(0.25)
    ('< 1%', '25%')
    """
    return "< 1%" if 0 < share < 0.005 else f"{share:.0%}"


def never_drove(d: Dominance, fmt=str) -> str:
    """The named loops that never scored, each with the links that never passed a change
    on and what their effect did meanwhile."""
    from sdmodels.analysis.phases import still_links
    e = html.escape
    silent = [l for l in d.loops if l.name and not d.relative[l.id].abs().max() > SILENT]
    if not silent:
        return ""
    items = []
    for loop in silent:
        cuts = []
        for a, b in still_links(d, loop)[:3]:
            name = d.ir.display(b)
            held = ""
            if name in d.variables:
                v = d.variables[name]
                held = (f" (it stayed at {v.iloc[0]:.4g})" if v.min() == v.max() else
                        f" (it ranged {v.min():.4g} to {v.max():.4g})")
            cuts.append(f"{e(d.ir.display(a))} \u2192 {e(name)}{held}")
        why = ("never changed: " + "; ".join(cuts) + "." + bounded(d, loop, fmt)).rstrip(".") \
            if cuts else (
            "each link changed, but no change ever passed all the way round it (followed "
            "back in time through its samplers and pipelines)" + pinned(d, loop, fmt))
        items.append(f"<li><b>{e(loop.name)}</b> ({e(loop.id)}): {why}.</li>")
    return ("<h2>Named loops that never drove anything</h2><p>A loop scores only while "
            "every one of its links passes a change on. These named loops never did in "
            "this run; the links that cut them:</p><ul>" + "".join(items) + "</ul>")


def bounded(d: Dominance, loop, fmt=str, *, most: int = 2) -> str:
    """HTML, one or two sentences: where the loop was held at a bound from outside it
    (`phases.capped_links`: a MIN/MAX or a rate limit at its cap), the most often held
    first; '' when it never was.

    Why: LTM scores a link by the change it passes on, and a link held at a bound passes
    none, so a loop that keeps pushing its controller past a cap scores 0 the whole time
    it does. It is not idle: it holds the bound binding. The reader should learn that,
    and which bound, rather than only that the loop never led.
    """
    from sdmodels.analysis.phases import capped_links
    e = html.escape
    said = []
    for c in capped_links(d, loop)[:most]:
        push = (f", with {e(c.cause)} up to {c.beyond:.3g} times {e(c.bound)}"
                if c.beyond > 1 else f", with {e(c.cause)} down to {c.beyond:.3g} times "
                f"{e(c.bound)}")
        x = d.variables[c.effect]
        went = (x.loc[c.first], x.loc[c.last:].iloc[1:].head(1).sum()
                if len(x.loc[c.last:]) > 1 else x.iloc[-1])
        said.append(f"from {fmt(c.first)} to {fmt(c.last)}, {e(c.effect)} followed "
                    f"{e(c.bound)} instead of {e(c.cause)} at {c.times} of the {c.moves} "
                    f"reported times it moved{push} ({e(c.effect)} went from "
                    f"{went[0]:.4g} to {went[-1]:.4g} meanwhile)")
    if not said:
        return ""
    return (" It was held at a bound: " + "; ".join(said) + ". A link held at a bound "
            "passes none of its cause's change on, so Loops That Matter scores the loop 0 "
            "while the bound holds, however far the loop pushes past it: the loop keeps its "
            "controller at the limit rather than driving the change.")


def quiet_phase(d: Dominance, variable: str, start: float, end: float, fmt=str) -> str:
    """HTML for a phase in which no loop through `variable` passed a change on: that
    flows held steady when the variable did, else how far it still moved and which named
    loops were held at a bound meanwhile (`phases.capped_links`).

    Why: a controller held at its rate limit keeps moving the variable while every loop
    through it scores 0; "nothing changes" would then contradict the chart above it.
    """
    from sdmodels.analysis.phases import capped_links
    e = html.escape
    x = d.variables[variable].loc[start:end]
    scale = max(float(d.variables[variable].abs().max()), 1e-12)   # the whole run's
    if x.empty or float(x.max() - x.min()) <= 1e-3 * scale:
        return ("no loop is changing anything: every flow holds steady (an equilibrium, a "
                "stock pinned at a limit, or a discrete controller waiting for its next "
                "decision)")
    text = f"no loop through {e(variable)} passes a change on, yet it "
    if abs(x.iloc[-1] - x.iloc[0]) < 0.5 * float(x.max() - x.min()):
        text += f"moved between {x.min():.4g} and {x.max():.4g}"      # there and back
    else:
        near = x.index[(x - x.iloc[-1]).abs().to_numpy() <= 0.01 * scale]
        text += (f"went from {x.iloc[0]:.4g} to {x.iloc[-1]:.4g} (within 1% of that from "
                 f"{fmt(near[0])})")
    held = [(l, c) for l in d.loops if l.name for c in capped_links(d, l)
            if c.first <= end and c.last >= start]
    if not held:
        return (text + ": moved by what the loops through it do not score (an input from "
                "outside them, a discrete element's jump, a loop held at a limit)")
    return text + ", moved by a controller held at its limit: " + "; ".join(
        f"{e(l.name)} kept {e(c.effect)} at {e(c.bound)} from {fmt(c.first)} to "
        f"{fmt(c.last)}" for l, c in held) + " (see the named loops below)"


def pinned(d: Dominance, loop, fmt=str, *, share: float = 0.25, most: int = 3) -> str:
    """HTML: the loop's variables that moved and then held still to the end for at least
    `share` of the run, longest held first (at most `most`), with their value and whether
    it is the run's extreme; '' when none did.

    Why: a loop whose links each moved at some time, but never together, is usually held
    at a limit after one outside push (a timeout fraction at 1, a queue at its bound): it
    keeps the state rather than changing it, and LTM, which explains change, gives it no
    score. The reader should learn where it is held, not only that it never scored.
    """
    from sdmodels.analysis.phases import held_still
    e = html.escape
    held = held_still(d.variables, [d.ir.display(v) for v in loop.variables],
                      share=share)[:most]
    if not held:
        return ""
    said = []
    for name, since, value, extreme in held:
        where = f" (its {extreme} in the run)" if extreme else ""
        said.append(f"{e(name)} held at {value:.4g} from {fmt(since)}{where}")
    return ("; " + "; ".join(said) + ": a variable held still passes no change on, so the "
            "loop holds the state there instead of driving change")
