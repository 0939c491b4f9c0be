"""The sketch (views) of a .mdl file: where each variable sits, for diagram layouts.

After `\\\\\\---///` come views (`*View 1`), each a list of objects, one a line. A variable
is `10,id,name,x,y,width,height,shape,bits,...`; an odd `bits` marks the variable's own
box, an even one a shadow (a copy of a variable defined elsewhere). The sketch ends at
`///---\\\\\\`, where Vensim's settings begin.

>>> text = '''\\\\\\\\\\\\---/// Sketch information - do not modify anything except names
... V300  Do not put anything below this section - it will be ignored
... *View 1
... 10,1,Teacup Temperature,307,235,40,20,3,3,0,0,0,0,0,0
... 10,2,"Heat, Loss",408,251,49,8,40,3,0,0,-1,0,0,0
... 10,3,Teacup Temperature,100,100,40,20,3,2,0,0,0,0,0,0
... ///---\\\\\\\\\\\\'''
>>> sketch_positions(text)
{'Teacup Temperature': (307.0, 235.0), 'Heat, Loss': (408.0, 251.0)}
"""
from __future__ import annotations

import re
from pathlib import Path

_VARIABLE = re.compile(r'10,\d+,("(?:[^"\\]|\\.)*"|[^,]*),(-?\d+(?:\.\d*)?),(-?\d+(?:\.\d*)?),'
                       r'-?\d+,-?\d+,-?\d+,(-?\d+)')
_END = re.compile(r"^///---\\\\\\", re.M)


def read_sketch(path, *, view: str | None = None) -> dict[str, tuple[float, float]]:
    """{display name: (x, y)} of the variables drawn in a .mdl file's views.

    A variable's own box wins over its shadows; with several boxes the first view's.
    `view` restricts to one view by name ('View 1'). A file without sketch gives {}.
    """
    from sdmodels.interop.mdl.sections import read_text, sketch_start
    text = read_text(Path(path))
    at = sketch_start(text)
    return sketch_positions(text[at:], view=view) if at < len(text) else {}


def sketch_views(text: str) -> dict[str, list[tuple[str, float, float, bool]]]:
    """Per view name: (name, x, y, is_shadow) for every variable object, in file order."""
    end = _END.search(text)
    text = text[:end.start()] if end else text
    views: dict[str, list] = {}
    current = views.setdefault("View 1", [])
    for line in text.splitlines():
        if line.startswith("*"):
            current = views.setdefault(line[1:].strip(), [])
            continue
        m = _VARIABLE.match(line)
        if m is None:
            continue
        name = m.group(1)
        if name.startswith('"') and name.endswith('"') and len(name) > 1:
            name = name[1:-1].replace('\\"', '"')
        name = " ".join(name.replace("\\n", " ").split())
        current.append((name, float(m.group(2)), float(m.group(3)), int(m.group(4)) % 2 == 0))
    return {k: v for k, v in views.items() if v}


def sketch_positions(text: str, *, view: str | None = None) -> dict[str, tuple[float, float]]:
    """{name: (x, y)} from sketch text; own boxes before shadows, first view first."""
    views = sketch_views(text)
    if view is not None:
        views = {view: views.get(view, [])}
    out: dict[str, tuple[float, float]] = {}
    shadows: dict[str, tuple[float, float]] = {}
    for objects in views.values():
        for name, x, y, shadow in objects:
            (shadows if shadow else out).setdefault(name, (x, y))
    for name, xy in shadows.items():
        out.setdefault(name, xy)
    return out
