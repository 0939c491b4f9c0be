"""Loop markers (R/B with the loop's id) placed inside their loops, whatever the layout.

Graphviz places a marker node like any other: neato pulls it towards its loop with
invisible springs, dot ranks it between two of the loop's variables, so that in either a
marker can end up far from its loop. After a first layout each marker is moved to the
centre of its loop's variables: `pin_markers` pins every node of a neato layout where it
fell and the markers at the centres; `centre_markers` edits dot's laid-out DOT (module
boxes included), which is then drawn as it stands (neato -n2).
"""
from __future__ import annotations

import re

_SPRING = re.compile(r'^  "(loop:[^"]+)" -> "([^"]+)" \[style="invis"')
_NODE = re.compile(r'^(\s+)"((?:[^"\\]|\\.)*)" \[')       # a node statement, not an edge


def pin_markers(source: str, fixed: dict | None = None) -> str:
    """Lay the diagram out once, then pin every node where it fell and each loop marker at
    the centre of its loop's variables, so that R/B sits inside its loop. Unchanged if
    Graphviz is missing or fails (the springs then pull the markers in).

    `fixed` are nodes already pinned (id -> inches): they stay, and the layout's positions
    (which Graphviz may have shifted as a whole) are brought back to their frame."""
    import json

    import graphviz
    members: dict[str, list[str]] = {}
    for line in source.splitlines():
        m = _SPRING.match(line)
        if m:
            members.setdefault(m.group(1), []).append(m.group(2))
    if not members:
        return source
    try:
        layout = json.loads(graphviz.Source(source, engine="neato").pipe(format="json"))
    except (graphviz.ExecutableNotFound, graphviz.CalledProcessError, ValueError):
        return source
    pos = {o["name"]: tuple(float(v) for v in o["pos"].split(","))
           for o in layout.get("objects", []) if "pos" in o}
    anchor = next((n for n in sorted(fixed or {}) if n in pos), None)
    if anchor is not None:
        dx, dy = (pos[anchor][k] - 72 * fixed[anchor][k] for k in (0, 1))
        pos = {n: (x - dx, y - dy) for n, (x, y) in pos.items()}
    pos.update(_centres(members, pos))
    out = []
    for line in source.splitlines():
        if _SPRING.match(line):
            continue
        m = _NODE.match(line)
        if m and m.group(2) in pos and m.group(2) not in (fixed or {}):
            x, y = pos[m.group(2)]
            line = f'{m.group(1)}"{m.group(2)}" [pos="{x / 72:.3f},{y / 72:.3f}!", ' + \
                line[m.end():]
        out.append(line)
    return "\n".join(out) + "\n"


_LAID_NODE = re.compile(r'^\t+("(?:[^"\\]|\\.)*"|[\w.]+)\s*\[([^\]]*)\]', re.M)
_POS = re.compile(r'\bpos="([-\d.e+]+),([-\d.e+]+)"')


def _centres(members: dict, pos: dict) -> dict:
    """Marker -> the centre of its loop's placed variables, markers sharing a centre
    stacked 24 points apart."""
    placed: list[tuple[float, float]] = []
    out = {}
    for marker in sorted(members):
        pts = [pos[v] for v in members[marker] if v in pos]
        if not pts:
            continue
        x, y = sum(p[0] for p in pts) / len(pts), sum(p[1] for p in pts) / len(pts)
        while any(abs(x - a) < 40 and abs(y - b) < 22 for a, b in placed):
            y -= 24
        placed.append((x, y))
        out[marker] = (x, y)
    return out


def centre_markers(source: str, members: dict) -> str:
    """dot's laid-out DOT of `source` with each marker moved to the centre of its loop's
    variables (`members`: marker -> variable ids); to be drawn by neato -n2."""
    import graphviz
    laid = graphviz.Source(source, engine="dot").pipe(format="dot").decode()
    pos = {}
    for m in _LAID_NODE.finditer(laid):
        found = _POS.search(m.group(2))
        if found:
            pos[m.group(1).strip('"')] = (float(found.group(1)), float(found.group(2)))
    moved = _centres(members, pos)

    def move(m: re.Match) -> str:
        name = m.group(1).strip('"')
        if name not in moved:
            return m.group(0)
        x, y = moved[name]
        return m.group(0).replace(_POS.search(m.group(0)).group(0), f'pos="{x:.2f},{y:.2f}"')
    laid = _LAID_NODE.sub(move, laid)
    return laid.replace("layout=dot", "layout=neato", 1)
