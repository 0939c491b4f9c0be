"""Vensim subscripts at import time: ranges and mappings, vector reductions written out
element by element, and repeated dimensions (x[dim, dim]) given twin names."""
from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field

from sdmodels.expr import Binary, Call, Expr, Index

@dataclass
class _Subs:
    """Subscript ranges: element lists, mappings, and the main dimension of each range.

    A mapping entry is a target range name (positional: the i-th element of this range stands
    for the i-th of the target) or (target, entries) where the i-th entry, an element or a
    subrange of the target, lists what the i-th element of this range stands for (Vensim,
    "Mapping of Subscript Ranges", vensim.com/documentation/ref_subscript_mapping.htm).
    """
    ranges: dict[str, tuple[str, ...]] = field(default_factory=dict)
    mapping: dict[str, list] = field(default_factory=dict)
    maps: dict[tuple[str, str], dict[str, tuple[str, ...]]] = field(default_factory=dict)

    def add(self, name, elements, mapping):
        self.ranges[name] = tuple(elements)
        self.mapping[name] = [m if isinstance(m, (str, tuple)) else getattr(m, "name", str(m))
                              for m in (mapping or [])]

    def flatten(self) -> None:
        """A range listed among another's elements stands for its own elements (Vensim);
        then every mapping becomes an element-to-elements table (`maps`)."""
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
        for name, entries in self.mapping.items():
            for entry in entries:
                target, picks = (entry, None) if isinstance(entry, str) else entry
                if target not in self.ranges:
                    continue
                picks = [self.values(p) for p in picks] if picks is not None else \
                    [(t,) for t in self.ranges[target]]
                self.maps[(name, target)] = dict(zip(self.ranges[name], picks))

    def mapped(self, sub: str, bound: str, element: str) -> str | None:
        """The element of range `sub` that a mapping pairs with `element` of range `bound`."""
        for (source, target), table in self.maps.items():
            if source == sub and element in self.ranges[target] and \
                    (target == bound or self.main(target) == self.main(bound)):
                hits = [s for s, picks in table.items() if element in picks]
                if hits:
                    return hits[0]
            if source == bound and element in table and \
                    (target == sub or self.main(target) == self.main(sub)):
                picks = [p for p in table[element] if p in self.ranges[sub]]
                if len(picks) == 1:
                    return picks[0]
        return None

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
            if bound in self.ranges:
                hit = self.mapped(sub, bound, element)
                if hit is not None:
                    return hit
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


def _expand_vector(arg: Expr, op: str, *, host_dims: tuple[str, ...] = ()) -> Expr:
    """SUM / PROD / VMIN / VMAX of `arg` (op + * min max): a reduction over each dimension
    its `!` ranges name when each is the whole dimension of the variable it subscripts (one
    node, whatever the size: SUM(x[Cell!]) over 1,000 cells stays one term), else the terms
    written out, combined as a balanced tree (log2(n) deep, never a chain of n)."""
    from sdmodels.expr import Reduce, transform
    reduced = _whole_dims(arg, host_dims)
    if reduced is not None:
        def bind(node):
            if isinstance(node, _Vector):
                return Index(node.target, tuple(p[2] if isinstance(p, tuple) else p
                                                for p in node.picked))
            return None
        out = transform(arg, bind)
        for dim in reduced:
            out = Reduce({"+": "sum", "*": "prod"}.get(op, op), out, dim)
        return out
    return balanced([t[0] for t in _vector_terms([arg])], lambda a, b: Binary(op, a, b)
                    if op in ("+", "*") else Call(op, (a, b)))


def _whole_dims(arg: Expr, host_dims) -> list[str] | None:
    """The dimensions `arg`'s `!` ranges reduce over when every one is the whole dimension
    at its place (and not one the equation is arrayed over); else None."""
    from sdmodels.expr import transform
    found: list[str] = []
    ok = [True]

    def look(node):
        if isinstance(node, _Vector):
            for p in node.picked:
                if isinstance(p, tuple):
                    ok[0] &= p[1] == p[2] and p[2] not in host_dims
                    found.append(p[2])
        return None
    transform(arg, look)
    return list(dict.fromkeys(found)) if found and ok[0] else None


def balanced(terms: list, pair):
    """`terms` combined two by two as a balanced tree, `pair(a, b)` making one node (an
    expression of the reader, a text of the XMILE export): log2(n) levels, never n.

    >>> balanced(["a", "b", "c", "d", "e"], lambda a, b: f"({a} + {b})")
    '((a + b) + (c + (d + e)))'
    """
    if len(terms) == 1:
        return terms[0]
    half = len(terms) // 2
    return pair(balanced(terms[:half], pair), balanced(terms[half:], pair))


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


_MAPPED_RANGE = re.compile(r"^\s*([^:\[\]=()~]+?)\s*:\s*([^~]*?)->\s*(.+?)\s*$", re.S)
_MAP_ENTRY = re.compile(r"\(\s*([^:()]+?)\s*:\s*([^()]*)\)|([^,()]+)")


def text_mappings(text: str) -> dict[str, list]:
    """Mapping lists of the range definitions in .mdl text, keyed by canonical range name.

    pysd's grammar reads `DimD: D1, D2 -> (DimA: SubA, A1)` as elements D1, D2, SubA, A1
    mapped to DimA; this recovers the list Vensim means: [("DimA", ("SubA", "A1"))].

    >>> text_mappings("DimD: D1, D2 -> (DimA: SubA, A1), DimC ~~|")
    {'dimd': [('DimA', ('SubA', 'A1')), 'DimC']}
    """
    body = re.sub(r"\{[^{}]*\}", " ", text.split("\\\\\\---///")[0])
    out = {}
    for chunk in body.split("|"):
        head = chunk.split("~")[0]
        m = _MAPPED_RANGE.match(head)
        if not m or "<->" in head or re.search(r":(EXCEPT|MACRO|AND|OR|NOT):", head, re.I):
            continue
        entries = []
        for paren_target, paren_list, plain in _MAP_ENTRY.findall(m.group(3)):
            if paren_target:
                entries.append((" ".join(paren_target.split()),
                                tuple(" ".join(e.split()) for e in paren_list.split(","))))
            elif plain.strip():
                entries.append(" ".join(plain.split()))
        out[_key(m.group(1))] = entries
    return out


def _key(name: str) -> str:
    return re.sub(r"[\s_]+", "_", name.strip().strip('"').lower())
