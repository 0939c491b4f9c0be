"""A .mdl file -> pysd's AbstractModel, read by sdmodels' own lexer and parser.

The result has the class names (our own dataclasses, `structures.py`) and the content
pysd's translator gives
(`VensimFile(path).parse(); .get_abstract_model()`), so sdmodels/interop/abstract.py maps
either. Beyond pysd's grammar it reads inline `{comments}`, data variables with no equation,
macros after a group header, `NAME$` inside macros (the model's NAME), lookups written as
x values then y values, and macros with several outputs: `F(a, b : o1, o2)` defines o1 and
o2; each output is read from a copy of the macro whose own variable is that output
(sections named 'f:o1'), so the mapping sees only one-output macros.

>>> import tempfile, textwrap
>>> from pathlib import Path
>>> text = textwrap.dedent('''
...     x = 1 {an inline comment} + 2 ~ ~ |
...     INITIAL TIME = 0 ~ ~ |''')
>>> with tempfile.TemporaryDirectory() as d:
...     p = Path(d) / "m.mdl"
...     _ = p.write_text(text)
...     model = read_abstract(p)
>>> model.sections[0].elements[0].components[0].ast
ArithmeticStructure(operators=['+'], arguments=(1, 2))
"""
from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
from sdmodels.interop.mdl import structures as ae
from sdmodels.interop.mdl.equations import parse_entry
from sdmodels.interop.mdl.lexer import Source
from sdmodels.interop.mdl.structures import (
    AbstractComponent, AbstractControlElement, AbstractElement, AbstractModel, AbstractSection)
from sdmodels.interop.mdl.sections import MacroText, read_text, split_file

CONTROL = ("initial_time", "final_time", "time_step", "saveper")


def read_abstract(path) -> AbstractModel:
    """The AbstractModel of a .mdl file; VensimSyntaxError (line, column) when it breaks."""
    path = Path(path)
    text = read_text(path)
    source = Source(text, str(path))
    layout = split_file(text, source)
    macros = [_section(m.name, "macro", m.params, m.returns, m.entries, source,
                       path.parent.joinpath(_file_name(m.name)).with_suffix(".py"), macro=m)
              for m in layout.macros]
    main = _section("__main__", "main", [], [], layout.main, source, path.with_suffix(".py"))
    extra = _output_sections(main, macros, source)
    return AbstractModel(original_path=path, sections=(main, *macros, *extra))


def _file_name(name: str) -> str:
    return re.sub(r"[\W]+", "", name.replace(" ", "_")).lstrip("0123456789")


def _section(name, kind, params, returns, entries, source: Source, path: Path, *,
             macro: MacroText | None = None) -> AbstractSection:
    subscripts, components, constraints, tests, calls = [], [], [], [], []
    by_kind = {"subscript": subscripts, "component": components, "constraint": constraints,
               "test_input": tests}
    for entry in entries:
        parsed = parse_entry(entry, source)
        by_kind[parsed.kind].append(parsed)
        if parsed.output_calls:
            calls += [(parsed.name, *c) for c in parsed.output_calls]
    merged: dict[str, AbstractElement] = {}
    for p in components:
        key = p.name.lower().replace(" ", "_")
        if key not in merged:
            cls = AbstractControlElement if key in CONTROL else AbstractElement
            merged[key] = cls(name=p.name, components=[])
        element = merged[key]
        if p.units:
            element.units = p.units
        if p.limits:
            element.limits = p.limits
        if p.doc:
            element.documentation = p.doc
        element.components.append(p.value)
    elements = list(merged.values())
    if macro is not None:
        local = {_key(e.name) for e in elements} | {_key(p) for p in params}
        elements = [_map_refs(e, lambda r: _outer(r, local)) for e in elements]
    section = AbstractSection(
        name=name, path=path, type=kind, params=params, returns=returns,
        subscripts=[p.value for p in subscripts], elements=elements,
        constraints=[p.value for p in constraints], test_inputs=[p.value for p in tests],
        split=False, views_dict=None)
    section.output_calls = calls     # read by _output_sections
    return section


def _delayp_pipeline(main: AbstractSection, variable: str, args, pipeline: str) -> None:
    """The element `pipeline` of `variable = DELAYP(args : pipeline)`, with the subscripts of
    the equation of `variable` that makes the call (fn_delayp.html: pipeline = LV1 + LV2 + LV3,
    one per element of a subscripted DELAYP); several equations add one component each."""
    host = next(e for e in main.elements if _key(e.name) == _key(variable))
    calling = [c.subscripts for c in host.components if _calls(c.ast, args)]
    element = next((e for e in main.elements if e.name == pipeline), None)
    if element is None:
        element = AbstractElement(name=pipeline, components=[],
                                  documentation=f"pipeline of the DELAYP of '{variable}'")
        main.elements.append(element)
    element.components.append(AbstractComponent(
        subscripts=calling[0] if calling else ([], []), ast=ae.CallStructure(
            ae.ReferenceStructure("delayp_pipeline"), (*args, variable))))


def _calls(node, args) -> bool:
    """Whether an abstract tree holds DELAYP's call with these very arguments."""
    if isinstance(node, ae.CallStructure) and node.arguments is args:
        return True
    if dataclasses.is_dataclass(node) and not isinstance(node, type):
        return any(_calls(getattr(node, f.name), args) for f in dataclasses.fields(node))
    return isinstance(node, (tuple, list)) and any(_calls(x, args) for x in node)


def _key(name: str) -> str:
    return re.sub(r"[\s_]+", "_", name.strip().strip('"').lower())


def _outer(reference: str, local: set[str]) -> str:
    """Inside a macro, `NAME$` names the model's NAME unless the macro defines NAME$."""
    key = _key(reference)
    if key.endswith("$") and key not in local:
        return reference[:-1].rstrip("_ ")
    return reference


def _map_refs(node, fn):
    """A copy of an abstract tree with every ReferenceStructure's name passed through fn."""
    if isinstance(node, ae.ReferenceStructure):
        return dataclasses.replace(node, reference=fn(node.reference))
    if dataclasses.is_dataclass(node) and not isinstance(node, type):
        changes = {f.name: _map_refs(getattr(node, f.name), fn)
                   for f in dataclasses.fields(node) if f.init}
        return dataclasses.replace(node, **changes)
    if isinstance(node, tuple):
        return tuple(_map_refs(x, fn) for x in node)
    if isinstance(node, list):
        return [_map_refs(x, fn) for x in node]
    return node


def _output_sections(main: AbstractSection, macros: list[AbstractSection],
                     source: Source) -> list[AbstractSection]:
    """For `y = F(a : o1)`: element o1 reads copy 'f:out1' of F, y reads copy 'f:f'."""
    calls = main.output_calls
    if not calls:
        return []
    by_key = {_key(m.name): m for m in macros}
    extra: dict[str, AbstractSection] = {}
    names = {_key(e.name) for e in main.elements}
    for variable, fn, args, outs, pos in calls:
        macro = by_key.get(_key(fn))
        if macro is None and _key(fn) == "delayp" and len(outs) == 1:   # DELAYP(x, t : pipe)
            if _key(outs[0]) in names:
                raise source.error(pos, f"'{outs[0]}' is DELAYP's pipeline output and also "
                                   "has its own equation", variable=variable)
            _delayp_pipeline(main, variable, args, outs[0])
            continue
        if macro is None:
            raise source.error(pos, f"'{fn}' is called with outputs after ':' but is not a "
                               "macro defined in the file", variable=variable)
        if len(outs) != len(macro.returns):
            raise source.error(pos, f"macro '{macro.name}' has {len(macro.returns)} extra "
                               f"outputs ({', '.join(macro.returns) or 'none'}), the call "
                               f"names {len(outs)}", variable=variable)
        for var in [macro.name, *macro.returns]:
            copy_name = f"{_key(macro.name)}:{_key(var)}"
            if copy_name not in extra:
                extra[copy_name] = _output_copy(macro, var, copy_name)
        for out, ret in zip(outs, macro.returns):
            if _key(out) in names:
                raise source.error(pos, f"'{out}' is an output of this macro call and also "
                                   "has its own equation", variable=variable)
            names.add(_key(out))
            call = ae.CallStructure(ae.ReferenceStructure(f"{_key(macro.name)}:{_key(ret)}"),
                                    args)
            main.elements.append(AbstractElement(
                name=out, components=[AbstractComponent(subscripts=([], []), ast=call)],
                documentation=f"output '{ret}' of macro {macro.name} called by '{variable}'"))
    return list(extra.values())


def _output_copy(macro: AbstractSection, var: str, copy_name: str) -> AbstractSection:
    """The macro with `var` renamed `copy_name`, so that `var` is the copy's own value."""
    old = _key(var)
    rename = lambda r: copy_name if _key(r) == old else r  # noqa: E731
    elements = []
    for e in macro.elements:
        e = _map_refs(e, rename)
        if _key(e.name) == old:
            e = dataclasses.replace(e, name=copy_name)
        elements.append(e)
    return dataclasses.replace(macro, name=copy_name, returns=[], elements=elements)


def same_abstract(a, b, *, path: str = "model") -> str | None:
    """Where two abstract trees differ ('sections[0].elements[3]...'), or None if equal.

    Floats compare with nan equal to nan; numpy arrays by value."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        same = np.shape(a) == np.shape(b) and np.allclose(
            np.asarray(a, float), np.asarray(b, float), equal_nan=True, rtol=0, atol=0)
        return None if same else path
    if isinstance(a, float) and isinstance(b, float) and np.isnan(a) and np.isnan(b):
        return None
    if dataclasses.is_dataclass(a) and not isinstance(a, type):
        if type(a).__name__ != type(b).__name__:
            return f"{path}: {type(a).__name__} vs {type(b).__name__}"
        for f in dataclasses.fields(a):
            if f.name in ("path", "original_path"):
                continue
            where = same_abstract(getattr(a, f.name), getattr(b, f.name),
                                  path=f"{path}.{f.name}")
            if where:
                return where
        return None
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        if len(a) != len(b):
            return f"{path}: {len(a)} vs {len(b)} items"
        for i, (x, y) in enumerate(zip(a, b)):
            where = same_abstract(x, y, path=f"{path}[{i}]")
            if where:
                return where
        return None
    if isinstance(a, (int, float, np.number)) and isinstance(b, (int, float, np.number)):
        return None if a == b else f"{path}: {a!r} vs {b!r}"
    return None if a == b else f"{path}: {a!r} vs {b!r}"
