"""Diagrams laid out as the modeller drew them: variables pinned at a sketch's positions.

A Vensim .mdl file keeps where each variable sits in its views (`interop.read_sketch`:
{name: (x, y)} in the sketch's pixels, y downwards). `to_graphviz(..., positions=...)`
hands them here: every variable found in the sketch is pinned there (``pos="x,y!"``, one
sketch pixel = `SCALE` points, y turned upwards as Graphviz wants it) and neato places the
rest (internal variables, clouds, loop markers) around them without moving the pinned ones,
each starting from the centre of its pinned neighbours.

>>> from sdmodels import Model, build
>>> m = Model("tank", stop=5)
>>> _ = m.stock("Water", initial=1)
>>> ir = build(m)
>>> pinned({"Water": (96, 48)}, ir)
{'water': (2.0, -1.0)}
"""
from __future__ import annotations

from typing import Mapping

import re

from sdmodels.elements import canonical

SCALE = 1.5                 # points per sketch pixel: our labels and boxes are larger
_EDGE = re.compile(r'^\s+"((?:[^"\\]|\\.)*)" -> "((?:[^"\\]|\\.)*)"')
# curved splines route around labels that touch (true splines fall back to straight lines)
HEAD = ('layout="neato"', 'overlap="true"', 'splines="curved"', 'mode="major"', 'start="1"')


def pinned(positions: Mapping[str, tuple[float, float]], ir) -> dict[str, tuple[float, float]]:
    """Variable id -> (x, y) in inches, Graphviz's orientation, for the variables of `ir`
    that the sketch places (matched by name, whatever its spelling or case)."""
    out = {}
    for name, (x, y) in positions.items():
        vid = canonical(name)
        if vid in ir.variables:
            out[vid] = (round(x * SCALE / 72, 3), round(-y * SCALE / 72, 3))
    return out


def pin_nodes(lines: list[str], where: Mapping[str, tuple[float, float]]) -> list[str]:
    """DOT statements with a pinned ``pos`` added to the node statements of `where`'s ids,
    and a starting ``pos`` (not pinned) to the others that have pinned neighbours."""
    from sdmodels.markers import _NODE
    near: dict[str, list[tuple[float, float]]] = {}
    for line in lines:
        m = _EDGE.match(line)
        if m:
            a, b = m.group(1), m.group(2)
            for one, other in ((a, b), (b, a)):
                if other in where:
                    near.setdefault(one, []).append(where[other])
    out = []
    for line in lines:
        m = _NODE.match(line)
        name = m.group(2) if m else None
        if name in where:
            x, y = where[name]
            line = f'{m.group(1)}"{name}" [pos="{x:g},{y:g}!", ' + line[m.end():]
        elif name in near:
            pts = near[name]
            x = sum(p[0] for p in pts) / len(pts)
            y = sum(p[1] for p in pts) / len(pts) + 0.4        # a little above them
            line = f'{m.group(1)}"{name}" [pos="{x:.3f},{y:.3f}", ' + line[m.end():]
        out.append(line)
    return out
