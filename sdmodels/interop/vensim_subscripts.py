"""Vensim subscripts at import time: ranges and mappings, vector reductions written out
element by element, and repeated dimensions (x[dim, dim]) given twin names."""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from sdmodels.expr import Binary, Call, Expr, Index

@dataclass
class _Subs:
    """Subscript ranges: element lists, mappings, and the main dimension of each range."""
    ranges: dict[str, tuple[str, ...]] = field(default_factory=dict)
    mapping: dict[str, list[str]] = field(default_factory=dict)

    def add(self, name, elements, mapping):
        self.ranges[name] = tuple(elements)
        self.mapping[name] = [m if isinstance(m, str) else getattr(m, "name", str(m))
                              for m in (mapping or [])]

    def flatten(self) -> None:
        """A range listed among another's elements stands for its own elements (Vensim)."""
        def expand(name, seen):
            out = []
            for el in self.ranges[name]:
                if el in self.ranges and el != name and el not in seen:
                    out += expand(el, seen | {el})
                else:
                    out.append(el)
            return out
        for name in list(self.ranges):
            self.ranges[name] = tuple(expand(name, {name}))

    def number(self, element: str) -> float:
        """An element's value in Vensim: its position in its family (the first-declared
        among the largest ranges holding it), so A of dim3: A, C, B equals A of dim1: A, B, C."""
        family = max((r for r, v in self.ranges.items() if element in v),
                     key=lambda r: len(self.ranges[r]))   # max keeps the first of a tie
        return float(self.ranges[family].index(element) + 1)

    def main(self, name: str) -> str:
        """The largest declared range holding every element of `name` (itself if none)."""
        elems = set(self.ranges[name])
        best = name
        for other, oelems in self.ranges.items():
            if elems <= set(oelems) and len(oelems) > len(self.ranges[best]):
                best = other
        return best

    def owner(self, element: str) -> str:
        """The main range of an element name."""
        for name, elems in self.ranges.items():
            if element in elems:
                return self.main(name)
        raise KeyError(element)

    def dim_of(self, sub: str) -> str:
        return self.main(sub) if sub in self.ranges else self.owner(sub)

    def values(self, sub: str) -> tuple[str, ...]:
        return self.ranges[sub] if sub in self.ranges else (sub,)

    def resolve(self, sub: str, binding: dict[str, str]) -> str | None:
        """The concrete element a reference subscript stands for under `binding`."""
        if sub not in self.ranges:
            return sub
        if sub in binding:
            return binding[sub]
        for bound, element in binding.items():
            if bound not in self.ranges:
                continue
            if bound in self.mapping.get(sub, ()) or sub in self.mapping.get(bound, ()):
                pos = self.ranges[bound].index(element)
                if pos < len(self.ranges[sub]):
                    return self.ranges[sub][pos]
        for bound, element in binding.items():
            if bound in self.ranges and element in self.ranges[sub] and \
                    self.main(bound) == self.main(sub):
                return element
        return None


@dataclass(frozen=True)
class _Vector(Expr):
    """A reference with a reduced subscript (x[dim!]); expanded by the enclosing reduction."""
    target: Expr
    picked: tuple
    subs: object


def _vector_terms(args: list[Expr]) -> list[tuple[Expr, ...]]:
    """The args written out for every combination of the ranges reduced with `!`."""
    from sdmodels.expr import transform
    vectors = []

    def find(node):
        if isinstance(node, _Vector):
            vectors.append(node)
        return None
    for arg in args:
        transform(arg, find)
    if not vectors:
        return [tuple(args)]
    ranges = []
    for v in vectors:
        for p in v.picked:
            if isinstance(p, tuple) and p[1] not in ranges:
                ranges.append(p[1])
    subs = vectors[0].subs
    terms = []
    for combo in itertools.product(*(subs.values(r) for r in ranges)):
        pick = dict(zip(ranges, combo))

        def fix(node, pick=pick):
            if isinstance(node, _Vector):
                return Index(node.target, tuple(pick[p[1]] if isinstance(p, tuple) else p
                                                for p in node.picked))
            return None
        terms.append(tuple(transform(arg, fix) for arg in args))
    return terms


def _expand_vector(arg: Expr, op: str) -> Expr:
    terms = [t[0] for t in _vector_terms([arg])]
    if op in ("+", "*"):
        out = terms[0]
        for t in terms[1:]:
            out = Binary(op, out, t)
        return out
    out = terms[0]
    for t in terms[1:]:
        out = Call(op, (out, t))
    return out


_TWIN = " (repeated "


def _distinct(dims: tuple[str, ...]) -> tuple[str, ...]:
    """x[dim, dim]: the engine binds by dimension name, so a repeat gets a twin dimension."""
    out: list[str] = []
    for d in dims:
        n = 2
        name = d
        while name in out:
            name, n = f"{d}{_TWIN}{n})", n + 1
        out.append(name)
    return tuple(out)
