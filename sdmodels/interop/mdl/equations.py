"""One .mdl entry -> an abstract component or subscript range (mdl/structures.py).

The left-hand side decides the kind, as in Vensim:
`x = e` (`==` unchangeable), `x[A, B] :EXCEPT: [a1] = e`, `x(...)` a lookup definition,
`x :INTERPOLATE: := e` / `x := e` data, `x` or `x :RAW:` alone a data variable filled
from outside, `D: a1, (a2-a5) -> E, (F: f1, f2)` a subscript range, `D <-> E` an
equivalence, `x :THE CONDITION: ...` and `x :TEST INPUT: ...` reality checks.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from sdmodels.errors import VensimSyntaxError
from sdmodels.interop.mdl import structures as ae
from sdmodels.interop.mdl.lexer import Source, tokenize
from sdmodels.interop.mdl.parser import ExpressionParser, number, plain_lookup_table
from sdmodels.interop.mdl.sections import Entry, collapse
from sdmodels.interop.mdl.structures import (
    AbstractComponent, AbstractConstraint, AbstractData, AbstractLookup,
    AbstractSubscriptRange, AbstractTestInput, AbstractUnchangeableConstant)

_TABLE = re.compile(r"[\s\d.eE+\-,;]+")
_DIGIT = re.compile(r"\d")
DATA_KEYWORDS = {":INTERPOLATE:", ":RAW:", ":HOLD BACKWARD:", ":LOOK FORWARD:"}


@dataclass
class Parsed:
    """What one entry defines: `name` and a pysd abstract object (`kind` says which list)."""
    kind: str        # component, subscript, constraint, test_input
    name: str
    value: object
    units: str = ""
    limits: tuple | None = None
    doc: str = ""
    output_calls: tuple = ()


def parse_entry(entry: Entry, source: Source) -> Parsed:
    """The abstract object one entry defines; VensimSyntaxError names line and column."""
    text = source.text
    table, end = _number_table(text, entry)
    lookup = _plain_lookup(text, entry, source) if table is None else None
    if lookup is not None:
        parsed = lookup
    else:
        parsed = _tokens(text, entry, table, end, source)
    units, limits = _units(entry.units)
    parsed.units, parsed.limits, parsed.doc = units, limits, entry.doc
    return parsed


def _tokens(text: str, entry: Entry, table, end: int, source: Source) -> Parsed:
    """The entry read from its tokens (left-hand side first)."""
    toks = tokenize(text, entry.start, end, source=source)
    first = toks[0]
    if first.kind not in ("name", "quoted"):
        raise source.error(first.pos, "expected the name of a variable or subscript range")
    lhs = _Lhs(toks, source, first.text)
    lhs.table = table
    parsed = lhs.parse()
    parsed.output_calls = tuple(lhs.output_calls)
    return parsed


def _plain_lookup(text: str, entry: Entry, source: Source) -> Parsed | None:
    """`name ( (x,y), ... )`, a lookup definition in its plain form, read without tokens
    (parser.plain_lookup_table); None for anything else, which the tokens read."""
    paren = text.find("(", entry.start, entry.end)
    if paren < 0 or text.find("=", entry.start, paren) >= 0:
        return None
    try:    # the file's Source: a failed try finds the line ends once per file, not per try
        head = tokenize(text, entry.start, paren + 1, source=source)
    except VensimSyntaxError:
        return None
    if len(head) != 3 or head[0].kind != "name":
        return None
    ast = plain_lookup_table(text, paren, entry.end)
    return None if ast is None else \
        Parsed("component", head[0].text, AbstractLookup(subscripts=([], []), ast=ast))


def _number_table(text: str, entry: Entry):
    """`x[A, B] = 1, 2; 3, 4;` read without tokens (data tables can be megabytes long).

    Returns (value, offset of the '=' + 1) or (None, entry.end) when the right-hand side
    is not a plain number list."""
    eq = text.find("=", entry.start, entry.end)
    if eq < 0 or text[eq - 1] in ":<>=" or text[eq + 1:eq + 2] == "=" or \
            not _TABLE.fullmatch(text, eq + 1, entry.end) or \
            not _DIGIT.search(text, eq + 1, entry.end):
        return None, entry.end
    rows = [r for r in text[eq + 1:entry.end].split(";")]
    if len(rows) > 1 and not rows[-1].strip():
        rows.pop()
    try:
        values = [[number(x.replace(" ", "").replace("\t", "").replace("\n", ""))
                   for x in row.split(",")] for row in rows]
    except ValueError:
        return None, entry.end
    if len(values) == 1 and len(values[0]) == 1:
        return values[0][0], eq + 1
    if len({len(r) for r in values}) != 1:
        return None, entry.end      # the token path reports the ragged rows
    return np.squeeze(np.array(values, dtype=float)), eq + 1


def _units(text: str) -> tuple[str, tuple | None]:
    """pysd's split of 'Month [0,?,1]' into units and limits (None for '?')."""
    if not text:
        return "", None
    if not text.endswith("]") or "[" not in text:
        return text, None
    units, lims = text.rsplit("[", 1)
    out = []
    for x in lims.strip("]").split(","):
        try:
            out.append(None if x.strip() == "?" else float(x))
        except ValueError:
            return text, None
    return units.strip(), tuple(out)


class _Lhs(ExpressionParser):
    """Reads the left-hand side, then hands the right-hand side to ExpressionParser."""

    def parse(self) -> Parsed:
        name = self.take().text
        subs: list[str] = []
        excepts: list[list[str]] = []
        if self.at("["):
            subs = self.name_list("[", "]")
            if self.at(":EXCEPT:"):
                self.take()
                excepts.append(self.name_list("[", "]"))
                while self.at(","):
                    self.take()
                    excepts.append(self.name_list("[", "]"))
        key = (subs, excepts)
        t = self.tok
        if self.at("="):
            self.take()
            ast = self.rhs()
            cls = AbstractLookup if isinstance(ast, ae.GetLookupsStructure) else \
                AbstractComponent
            return Parsed("component", name, cls(subscripts=key, ast=ast))
        if self.at("=="):
            self.take()
            return Parsed("component", name,
                          AbstractUnchangeableConstant(subscripts=key, ast=self.rhs()))
        if self.at("("):
            ast = self.lookup_table()
            self.end("after the lookup definition")
            return Parsed("component", name, AbstractLookup(subscripts=key, ast=ast))
        if t.kind == "end" or self.at(":=") or (t.kind == "keyword" and t.text in DATA_KEYWORDS):
            keyword = None
            if t.kind == "keyword":
                keyword = self.take().text[1:-1].lower().replace(" ", "_")
            if self.at(":="):
                self.take()
            ast = ae.DataStructure() if self.tok.kind == "end" else self.rhs()
            return Parsed("component", name,
                          AbstractData(subscripts=key, ast=ast, keyword=keyword))
        if self.at(":THE CONDITION:") or self.at(":TEST INPUT:"):
            kw = self.take()
            expression = collapse(self.src.text[self.tok.pos:self.toks[-1].pos])
            cls, kind = (AbstractConstraint, "constraint") if kw.text == ":THE CONDITION:" \
                else (AbstractTestInput, "test_input")
            return Parsed(kind, name, cls(name=name, subscripts=subs, expression=expression))
        if not subs and self.at(":"):
            self.take()
            return Parsed("subscript", name, self.subscript_range(name))
        if not subs and self.at("<->"):
            self.take()
            other = self.word("expected the name of a subscript range after '<->'")
            self.end("after the equivalent range")
            return Parsed("subscript", name, AbstractSubscriptRange(name, other, []))
        raise self.error(f"expected '=', ':=', '==', '(' or ':' after '{name}'")

    table = None     # a number table read by _number_table

    def rhs(self):
        if self.table is not None:
            return self.table
        return self.parse_all()

    def end(self, what: str) -> None:
        if self.tok.kind != "end":
            raise self.error(f"expected the end of the equation {what}")

    def name_list(self, open_: str, close: str) -> list[str]:
        self.expect(open_, "")
        return self.name_list_until(close)

    def subscript_range(self, name: str) -> AbstractSubscriptRange:
        t = self.tok
        if t.kind == "name" and re.fullmatch(r"GET (XLS|DIRECT) SUBSCRIPT", t.text, re.I):
            self.take()
            self.expect("(", f"after {t.text}")
            args, _outs = self.arguments()
            self.expect(")", f"to close {t.text}")
            if len(args) != 5 or not all(isinstance(a, str) for a in args):
                raise self.src.error(t.pos, f"{t.text} takes 5 texts: file, tab, first "
                                     "cell, last cell, prefix", variable=self.variable)
            elements = dict(zip(("file", "tab", "firstcell", "lastcell", "prefix"), args))
        else:
            elements = []
            while True:
                if self.at("("):
                    elements += self.numbered_range()
                else:
                    elements.append(self.word(f"expected an element of subscript range '{name}'",
                                              ("name", "quoted", "number")))
                if not self.at(","):
                    break
                self.take()
        mapping, detail = [], []
        if self.at("->"):
            self.take()
            while True:
                if self.at("("):         # (Range: e1, e2): the range is what pysd keeps
                    self.take()
                    mapping.append(self.word("expected a subscript range after '('"))
                    self.expect(":", "after the range of a mapping '(Range: e1, e2)'")
                    detail.append((mapping[-1], self.name_list_until(")")))
                else:
                    mapping.append(self.word("expected a subscript range after '->'"))
                    detail.append((mapping[-1], None))
                if not self.at(","):
                    break
                self.take()
        self.end(f"after the elements of subscript range '{name}'")
        out = AbstractSubscriptRange(name=name, subscripts=elements, mapping=mapping)
        # what pysd drops: `-> (DimA: SubA, A3)` maps element by element (D1 -> SubA, D2 -> A3)
        out.mapping_detail = detail
        return out

    def name_list_until(self, close: str) -> list[str]:
        """Names separated by ',' up to `close` (consumed)."""
        names = [self.word("expected a subscript name", ("name", "quoted", "number"))]
        while self.at(","):
            self.take()
            names.append(self.word("expected a subscript name", ("name", "quoted", "number")))
        self.expect(close, "to close the list")
        return names

    def numbered_range(self) -> list[str]:
        """`(A1-A10)`: A1, A2, ..., A10."""
        open_ = self.expect("(", "")
        first = self.tok
        self.take()
        self.expect("-", "between the first and last element of a numbered range")
        last = self.tok
        self.take()
        self.expect(")", "to close the numbered range")
        a = re.fullmatch(r"(.*?)(\d+)", first.text)
        b = re.fullmatch(r"(.*?)(\d+)", last.text)
        if not a or not b or not a.group(1) or a.group(1) != b.group(1) or \
                int(a.group(2)) >= int(b.group(2)):
            raise self.src.error(open_.pos, "a numbered range is written (prefix1-prefixN) with "
                                 "the same prefix and a first number below the last",
                                 variable=self.variable)
        return [a.group(1) + str(i) for i in range(int(a.group(2)), int(b.group(2)) + 1)]
