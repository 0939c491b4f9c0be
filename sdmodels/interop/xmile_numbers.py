"""Numbers and sizes read from an XMILE file, checked before they are used.

A time setting or graphical-function point that is not a number, a stop time that makes
more steps than the limit allows, or a `<dim size>` past the array limit is one clear
`ImportModelError`/`LimitError` naming the file, instead of a ValueError or a 9 GB list.

>>> number("m.xmile", "1e3", "<stop>")
1000.0
>>> number("m.xmile", "soon", "<stop>")
Traceback (most recent call last):
...
sdmodels.errors.ImportModelError: m.xmile: <stop> is 'soon', not a number; write a number such as 100
"""
from __future__ import annotations

import math

from sdmodels.errors import ImportModelError
from sdmodels.limits import check_count, current_limits
from sdmodels.interop.xmile_xml import _child, _children, _tag


def number(path, text, what: str) -> float:
    """`text` as a finite float, or ImportModelError naming the file and the setting."""
    try:
        value = float(str(text).strip())
    except (TypeError, ValueError):
        raise ImportModelError(f"{path}: {what} is {str(text).strip()[:40]!r}, not a number; "
                               "write a number such as 100") from None
    if not math.isfinite(value):
        raise ImportModelError(f"{path}: {what} is {text!r}; it must be a finite number")
    return value


def numbers(path, text: str, sep: str, what: str) -> tuple[float, ...]:
    """A separated list of numbers (graphical-function points), each checked."""
    return tuple(number(path, v, what) for v in text.replace(sep or ",", " ").split())


def time_settings(path, start: float, stop: float, dt: float) -> None:
    """ImportModelError unless dt > 0 and stop > start; LimitError past max_time_steps."""
    if not dt > 0 or not stop > start:
        raise ImportModelError(f"{path}: <sim_specs> needs dt > 0 and stop > start (got start "
                               f"{start:g}, stop {stop:g}, dt {dt:g}); fix them in the file")
    check_count(f"time steps ({start:g} to {stop:g} by {dt:g})", (stop - start) / dt,
                "max_time_steps", where=str(path))


def dim_size(path, name: str, text) -> int:
    """The element count of `<dim name size=...>`, checked against max_array_elements."""
    size = number(path, text, f"the size of dimension '{name}'")
    if size < 1 or size != int(size):
        raise ImportModelError(f"{path}: dimension '{name}' has size {text!r}; it must be a "
                               "whole number of at least 1")
    check_count(f"elements in dimension '{name}'", size, "max_array_elements",
                where=str(path))
    return int(size)


def dim_checked(path, name, elements: list) -> tuple[str, list]:
    """(name, elements) of a <dim>, or ImportModelError if it has no name, no elements or
    repeats one."""
    if not name or not str(name).strip():
        raise ImportModelError(f"{path}: a <dim> has no name; give it a name attribute")
    if not elements or any(not e for e in elements):
        raise ImportModelError(f"{path}: dimension '{name}' has no elements (or one without "
                               "a name); give <elem name=...> children or size=N")
    if len(set(elements)) != len(elements):
        twice = sorted({e for e in elements if elements.count(e) > 1})
        raise ImportModelError(f"{path}: dimension '{name}' lists {', '.join(twice)} twice")
    return name, elements


def check_arrays(path, root, sizes: dict[str, int]) -> None:
    """LimitError if the cells of all arrayed variables exceed max_array_elements."""
    limit = current_limits().max_array_elements
    total = 0
    for node in root.iter():
        if not isinstance(node.tag, str) or _tag(node) not in ("aux", "flow", "stock", "gf"):
            continue
        dims = _child(node, "dimensions")
        if dims is None:
            continue
        cells = math.prod(sizes.get(d.get("name"), 1) for d in _children(dims, "dim"))
        total += cells
        if total > limit:
            check_count("cells of arrayed variables", total, "max_array_elements",
                        where=f"{path}: at variable '{node.get('name')}'")


VARIABLE_TAGS = ("aux", "flow", "stock", "gf", "module")


def check_names(path, root) -> None:
    """ImportModelError for a variable without a name, or two with one name in a <model>."""
    from sdmodels.elements import canonical
    for model in (n for n in root.iter() if isinstance(n.tag, str) and _tag(n) == "model"):
        variables = _child(model, "variables")
        seen: dict[str, str] = {}
        for node in (variables if variables is not None else model):
            if not isinstance(node.tag, str) or _tag(node) not in VARIABLE_TAGS:
                continue
            name = node.get("name")
            where = f"model '{model.get('name')}'" if model.get("name") else "the main model"
            if not name or not name.strip():
                raise ImportModelError(f"{path}: a <{_tag(node)}> in {where} has no name; "
                                       "give it a name attribute")
            key = canonical(name.strip().strip('"').replace("_", " ").replace("\\n", " "))
            if key in seen and _tag(node) != "module":
                raise ImportModelError(f"{path}: {where} defines '{name}' twice (as "
                                       f"<{seen[key]}> and <{_tag(node)}>); rename one")
            seen[key] = _tag(node)
