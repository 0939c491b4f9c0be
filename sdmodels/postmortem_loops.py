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

from sdmodels.analysis.dominance import Dominance

SILENT = 1e-6          # a named loop whose |relative score| never passes this never drove


def never_led(d: Dominance, variable: str, order: pd.DataFrame, fmt=str) -> str:
    """HTML naming the named loops that moved `variable` but never led the named ones
    (`order` is `takeover_order(d, variable)`): how often they scored, their largest share.

    Why: a loop that passed a change round once is neither in the take-over table nor
    silent, and the reader would not learn that it acted at all.
    """
    from sdmodels.analysis.phases import named_shares
    e = html.escape
    shares = named_shares(d, variable)
    items = []
    for loop in d.loops:
        if not loop.name or loop.name in set(order["name"]) or loop.name not in shares:
            continue
        scored = shares[loop.name][d.relative[loop.id].abs() > SILENT]
        if scored.empty:
            continue
        at = scored.idxmax()
        items.append(f"<li><b>{e(loop.name)}</b> ({e(loop.id)}): passed a change all the way "
                     f"round at {len(scored)} reported time(s), first at {fmt(scored.index[0])}; "
                     f"its largest share among the named loops was {percent(scored.max())} "
                     f"(at {fmt(at)}).</li>")
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
        why = ("never changed: " + "; ".join(cuts)) if cuts else (
            "each link changed, but no change ever passed all the way round it (followed "
            "back in time through its samplers and pipelines)" + pinned(d, loop, fmt))
        items.append(f"<li><b>{e(loop.name)}</b> ({e(loop.id)}): {why}.</li>")
    return ("<h2>Named loops that never drove anything</h2><p>A loop scores only while "
            "every one of its links passes a change on. These named loops never did in "
            "this run; the links that cut them:</p><ul>" + "".join(items) + "</ul>")


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
