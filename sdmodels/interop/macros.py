"""Vensim macros (:MACRO: ... :END OF MACRO:) expanded into the calling model.

Every call of a macro gets its own copy of the macro's equations, with names prefixed by the
calling variable and the call's number ('macro output~expression macro1~intermediate'), so a
macro holding a stock keeps one stock per call site, as in Vensim. The macro's parameters are
replaced by the caller's argument expressions; the call's value is the macro's own variable
(the one named like the macro).

>>> from sdmodels.interop import import_model
>>> import tempfile, textwrap
>>> from pathlib import Path
>>> text = textwrap.dedent('''
...     :MACRO: DOUBLE(x)
...     DOUBLE = 2 * x ~ ~ |
...     :END OF MACRO:
...     y = DOUBLE(Time) + DOUBLE(3) ~ ~ |
...     INITIAL TIME = 0 ~ ~ |
...     FINAL TIME = 1 ~ ~ |
...     TIME STEP = 1 ~ ~ |''')
>>> with tempfile.TemporaryDirectory() as d:
...     p = Path(d) / "double.mdl"
...     _ = p.write_text(text)
...     m = import_model(p)
>>> sorted(e for e in m.elements if "double" in e)
['y~double1~double', 'y~double2~double']
"""
from __future__ import annotations

from sdmodels.expr import Expr, Ref


class _Sink:
    """Stands in for the Model while a macro copy is built: elements go to the host's extras."""

    def __init__(self, extra: list):
        self.extra, self.dims = extra, {}

    def _insert(self, element) -> None:
        self.extra.append(element)


def expand(host, fn: str, args: list[Expr]) -> Expr:
    """One copy of macro `fn` for this call site; returns a reference to its output."""
    from sdmodels.interop.abstract import AbstractImporter, Unsupported, key_of
    section = host.macros[fn]
    if section.returns:
        raise Unsupported("macro", f"macro '{section.name}' has extra outputs "
                          f"({', '.join(section.returns)}); only its main output is supported")
    if len(args) != len(section.params):
        raise Unsupported("macro", f"macro '{section.name}' takes {len(section.params)} "
                          f"arguments ({', '.join(section.params)}), the call gives {len(args)}")
    host.counter += 1
    prefix = f"{host.current}~{section.name}{host.counter}~"

    class _Copy(AbstractImporter):
        def __init__(self):     # shares the host's ranges, macros and extras
            self.path, self.name = host.path, host.name
            self.macros, self.subs, self.range_names = host.macros, host.subs, host.range_names
            self.section = section
            self.elements = {key_of(e.name): e for e in section.elements}
            self.display = {k: prefix + " ".join(e.name.strip().strip('"').split())
                            for k, e in self.elements.items()}
            self.params = {key_of(p): a for p, a in zip(section.params, args)}
            self.dims_of, self.lookup_ids = {}, set()
            self.extra, self.current, self.counter = host.extra, "", 0

        def _times(self):
            return host._times()

        def reference(self, ast, binding):
            key = key_of(ast.reference)
            if key in self.params and key not in self.elements and ast.subscripts is None:
                return self.params[key]
            if key not in self.elements and key in host.elements:   # NAME$: the model's NAME
                return host.reference(ast, binding)
            return super().reference(ast, binding)

    copy = _Copy()
    out = key_of(section.name)
    if out not in copy.elements:
        raise Unsupported("macro", f"macro '{section.name}' defines no variable named like "
                          "itself, so its value is unknown")
    sink = _Sink(host.extra)
    from sdmodels.interop.abstract_static import is_lookup_def
    for key, element in copy.elements.items():
        copy.dims_of[key] = copy._dims(element)
        if copy.dims_of[key]:
            raise Unsupported("macro", f"subscripted variable '{element.name}' inside macro "
                              f"'{section.name}' is not supported")
        if any(is_lookup_def(c) for c in element.components):
            copy.lookup_ids.add(key)
    saved = host.current
    for key, element in copy.elements.items():
        copy.current = copy.display[key]
        copy._element(sink, key, element)
    host.current = saved
    return Ref(copy.display[out])
