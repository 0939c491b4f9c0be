"""Vensim equation text -> pysd's abstract expression structures (as mdl/structures.py).

Builds exactly the structures pysd's own translator builds (ArithmeticStructure with flat
operator lists, LogicStructure, CallStructure, the special structures of INTEG, DELAY,
SMOOTH ... from pysd's table), so sdmodels/interop/abstract.py maps both alike. Operators
are read by precedence climbing without recursion; only parentheses and call arguments
recurse, and their nesting is limited (MAX_DEPTH), so no input can exhaust the stack.

Precedence, lowest first: :OR: :AND:, :NOT:, comparisons, + -, * /, unary - +, ^.
`^` groups from the right, and binds tighter than a unary minus: `-a^2` is `-(a^2)` and
`-3^2` is -9, as Vensim computes them (SDEverywhere issue #569 records Vensim's results).

>>> from sdmodels.interop.mdl.lexer import Source, tokenize
>>> p = ExpressionParser(tokenize("-a^2 + 3"), Source("-a^2 + 3"), "x")
>>> p.parse_all()
ArithmeticStructure(operators=['+'], arguments=(ArithmeticStructure(operators=['negative'], \
arguments=(ArithmeticStructure(operators=['^'], arguments=(ReferenceStructure(reference='a', \
subscripts=None), 2)),)), 3))
"""
from __future__ import annotations

import math
import re

import numpy as np
from sdmodels.interop.mdl import structures as ae
from sdmodels.interop.mdl.lexer import Source, Token
from sdmodels.interop.mdl.structures import SPECIAL   # INTEG, DELAY1, SMOOTH, GET XLS ...

MAX_DEPTH = 200
# binary operators: precedence, structure, flattening tag
_BINARY = {":OR:": (1, "logic"), ":AND:": (1, "logic"),
           "=": (3, "cmp"), "<>": (3, "cmp"), "<": (3, "cmp"), "<=": (3, "cmp"),
           ">": (3, "cmp"), ">=": (3, "cmp"),
           "+": (4, "add"), "-": (4, "add"), "*": (5, "mul"), "/": (5, "mul"),
           "^": (7, "pow")}
_PREFIX = {":NOT:": 2, "-": 6, "+": 6}
_INT = re.compile(r"[+-]?\d+")


class _Chain:
    """An operator list being built (a + b - c ...): appended in place, frozen by _done."""
    __slots__ = ("cls", "ops", "args", "reverse")

    def __init__(self, cls, ops, args, reverse):
        self.cls, self.ops, self.args, self.reverse = cls, ops, args, reverse


def _done(value):
    if not isinstance(value, _Chain):
        return value
    if value.reverse:
        return value.cls(value.ops[::-1], tuple(value.args[::-1]))
    return value.cls(value.ops, tuple(value.args))


def number(text: str):
    """A numeral as pysd reads it: int without '.' or exponent, else float (sign allowed)."""
    return int(text) if _INT.fullmatch(text) else float(text)


_NUM = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
_POINT = rf"\(\s*({_NUM})\s*,\s*({_NUM})\s*\)"
_PLAIN_TABLE = re.compile(rf"""\(\s*
    (?:\[\s*{_POINT}\s*-\s*{_POINT}(?:\s*,\s*{_POINT})*\s*\]\s*,?\s*)?   # [(x0,y0)-(x1,y1),...]
    ((?:{_POINT}\s*,?\s*)+)\)\s*$""", re.VERBOSE)
_POINTS = re.compile(_POINT)


_NO_LIMITS = ((math.nan, math.nan), (math.nan, math.nan))


def lookup_structure(points: list, limits=_NO_LIMITS) -> ae.LookupsStructure:
    """A lookup's points (sorted by x, stable) and its [(xmin,ymin)-(xmax,ymax)] limits
    (two corners). Plain floats and Python's stable sort (the numbers are never NaN): a
    file holds dozens of tables, and numpy's fixed cost per small array was most of it."""
    values = sorted(((float(x), float(y)) for x, y in points), key=_first)
    return ae.LookupsStructure(x=tuple(v[0] for v in values), y=tuple(v[1] for v in values),
                               x_limits=(float(limits[0][0]), float(limits[1][0])),
                               y_limits=(float(limits[0][1]), float(limits[1][1])),
                               type="interpolate")


def _first(point: tuple) -> float:
    return point[0]


def plain_lookup_table(text: str, start: int, end: int) -> ae.LookupsStructure | None:
    """`( [(x0,y0)-(x1,y1)], (x,y), ... )` at text[start:end] read without tokens (World3's
    tables are half its tokens), or None when it is written any other way (comments,
    continuations, x and y lists, GET XLS LOOKUPS...): the token path reads those. The
    same numbers as `ExpressionParser.lookup_table`."""
    m = _PLAIN_TABLE.match(text, start, end)
    if m is None:
        return None
    limits = _NO_LIMITS
    if m.group(1) is not None:
        limits = ((_signed(m.group(1)), _signed(m.group(2))),
                  (_signed(m.group(3)), _signed(m.group(4))))
    points = [(float(x), float(y)) for x, y in _POINTS.findall(m.group(7))]   # as _signed
    return lookup_structure(points, limits)


def _signed(text: str) -> float:
    """A number with at most one sign, as `signed_number` reads it: sign * float (which is
    float(text): negation is exact)."""
    if text[0] in "+-":
        return (-1.0 if text[0] == "-" else 1.0) * float(text[1:])
    return 1.0 * float(text)


def reference_key(name: str) -> str:
    """pysd's reference text: lower case, spaces as underscores (quotes kept)."""
    return name.lower().replace(" ", "_")


class ExpressionParser:
    """Reads tokens of one equation's right-hand side (or part of it) into structures.

    `output_calls` collects the macro calls with extra outputs, `F(a, b : out1, out2)`.
    """

    def __init__(self, tokens: list[Token], source: Source, variable: str):
        self.toks, self.i, self.src, self.variable = tokens, 0, source, variable
        self.depth = 0
        self.output_calls: list[tuple] = []   # multi-output macro calls: (fn, args, outs, pos)

    # -- token helpers --------------------------------------------------------------
    @property
    def tok(self) -> Token:
        return self.toks[self.i]

    def at(self, text: str) -> bool:
        t = self.toks[self.i]
        return t.text == text and (t.kind == "op" or t.kind == "keyword")

    def take(self) -> Token:
        t = self.toks[self.i]
        if t.kind != "end":
            self.i += 1
        return t

    def expect(self, text: str, what: str) -> Token:
        if not self.at(text):
            raise self.error(f"expected '{text}' {what}")
        return self.take()

    def word(self, why: str, kinds=("name", "quoted")) -> str:
        """The text of the next token, which must be a name (or one of `kinds`)."""
        if self.tok.kind not in kinds:
            raise self.error(why)
        return self.take().text

    def error(self, why: str, tok: Token | None = None):
        tok = tok or self.tok
        found = "the end of the equation" if tok.kind == "end" else f"'{tok.text}'"
        return self.src.error(tok.pos, f"{why}, found {found}", variable=self.variable)

    def parse_all(self):
        """The whole token list as one expression (or a number table)."""
        table = self.number_table()
        if table is not None:
            return table
        value = self.expression()
        if self.tok.kind != "end":
            raise self.error("expected an operator or the end of the equation")
        return value

    # -- expressions ----------------------------------------------------------------
    def expression(self):
        """One expression up to a token that cannot continue it (',' ')' ']' ':' end)."""
        operands: list[tuple] = []      # (value, tag)
        ops: list[tuple] = []           # (text, precedence, is_prefix, token)
        nesting = self.depth            # prefix operators and comparisons nest the result
        compared = False
        while True:
            t = self.toks[self.i]
            if t.kind in ("op", "keyword") and t.text in _PREFIX:
                nesting += 1
                if nesting > MAX_DEPTH:
                    raise self.error(f"expression nested more than {MAX_DEPTH} levels deep")
                ops.append((t.text, _PREFIX[t.text], True, self.take()))
                continue
            operands.append((self.primary(), None))
            t = self.toks[self.i]
            if t.kind not in ("op", "keyword") or t.text not in _BINARY:
                break
            prec = _BINARY[t.text][0]
            if prec == 3:
                if compared:
                    raise self.error("comparisons cannot be chained (a < b < c); join them "
                                     "with :AND:")
                compared = True
            elif prec < 3:
                compared = False
            right = t.text == "^"
            while ops and (ops[-1][1] > prec or (ops[-1][1] == prec and not right)):
                self._reduce(operands, ops.pop())
            ops.append((t.text, prec, False, self.take()))
        while ops:
            self._reduce(operands, ops.pop())
        return _done(operands[0][0])

    @staticmethod
    def _reduce(operands: list, op: tuple) -> None:
        text, _prec, prefix, _tok = op
        if prefix:
            value, _tag = operands.pop()
            value = _done(value)
            if text == "+":
                operands.append((value, None))
            elif text == "-" and isinstance(value, (int, float)) and not isinstance(value, bool):
                operands.append((-value, None))
            elif text == "-":
                operands.append((ae.ArithmeticStructure(["negative"], (value,)), "neg"))
            else:
                operands.append((ae.LogicStructure([":NOT:"], (value,)), "not"))
            return
        right, rtag = operands.pop()
        left, ltag = operands.pop()
        kind = _BINARY[text][1]
        if kind == "pow" and rtag == "pow":      # a ^ (b ^ c): one flat list, built reversed
            right.ops.append(text)
            right.args.append(_done(left))
            operands.append((right, kind))
        elif kind in ("add", "mul", "logic") and ltag == kind:
            left.ops.append(text)
            left.args.append(_done(right))
            operands.append((left, kind))
        elif kind == "cmp":
            operands.append((ae.LogicStructure([text], (_done(left), _done(right))), kind))
        else:
            chain = _Chain(ae.LogicStructure if kind == "logic" else ae.ArithmeticStructure,
                           [text], [_done(left), _done(right)], kind == "pow")
            if chain.reverse:
                chain.args.reverse()
            operands.append((chain, kind))

    def primary(self):
        t = self.toks[self.i]
        if t.kind == "number":
            self.take()
            return number(t.text)
        if t.kind == "string":
            self.take()
            return t.text
        if t.kind == "keyword" and t.text == ":NA:":
            self.take()
            return np.nan
        if self.at("("):
            self.take()
            with self.nested():
                value = self.expression()
            self.expect(")", "to close the parenthesis")
            return value
        if t.kind in ("name", "quoted"):
            return self.reference_or_call()
        raise self.error("expected a number, a name or '('")

    def nested(self):
        """A context that counts one level of nesting (the class is made once, not per use)."""
        return _Depth(self)

    def reference_or_call(self):
        t = self.take()
        name = t.text
        upper = name.upper()
        if upper == "WITH LOOKUP" and self.at("("):
            return self.with_lookup()
        if upper == "TABBED ARRAY" and self.at("("):
            return self.tabbed_array()
        subs = self.subscript_ref() if self.at("[") else None
        ref = ae.ReferenceStructure(reference_key(name), subs)
        if not self.at("("):
            return ref
        self.take()
        with self.nested():
            args, outs = self.arguments()
        self.expect(")", f"to close the arguments of {name}")
        key = ref.reference
        if outs:       # the macro's main output, read from its copy 'NAME:NAME'
            self.output_calls.append((key, args, outs, t.pos))
            return ae.CallStructure(ae.ReferenceStructure(f"{key}:{key}"), args)
        if subs is None and key in SPECIAL:
            try:
                return SPECIAL[key](*args)
            except TypeError:
                raise self.src.error(t.pos, f"{name} cannot take {len(args)} argument"
                                     f"{'s' if len(args) != 1 else ''}",
                                     variable=self.variable) from None
        return ae.CallStructure(ref, args)

    def arguments(self) -> tuple[tuple, list[str]]:
        """Call arguments up to ')'; names after a ':' are a macro call's extra outputs."""
        args: list = []
        outs: list[str] = []
        if self.at(")"):
            return (), outs
        while True:
            args.append(self.expression())
            if self.at(","):
                self.take()
                continue
            break
        if self.at(":"):
            self.take()
            while True:
                outs.append(self.word("expected the name of a macro output after ':'"))
                if not self.at(","):
                    break
                self.take()
        return tuple(args), outs

    def subscript_ref(self) -> ae.SubscriptsReferenceStructure:
        """`[a, b!, "c"]` in a reference: the names as written, '!' kept."""
        self.expect("[", "")
        subs = []
        while True:
            text = self.word("expected a subscript name", ("name", "quoted", "number"))
            if self.at("!"):
                self.take()
                text += "!"
            subs.append(text)
            if self.at(","):
                self.take()
                continue
            self.expect("]", "to close the subscripts")
            return ae.SubscriptsReferenceStructure(subs)

    # -- numbers, lookups -----------------------------------------------------------
    def signed_number(self, what: str) -> float:
        sign = 1.0
        while self.at("-") or self.at("+"):
            if self.take().text == "-":
                sign = -sign
        t = self.tok
        if t.kind != "number":
            raise self.error(f"expected a number {what}")
        self.take()
        return sign * float(t.text)

    def number_table(self):
        """A right-hand side made only of numbers: 1, 2, 3 or a 2-D table 1, 2; 3, 4;"""
        toks, i = self.toks, self.i
        first = i
        rows: list[list] = [[]]
        while toks[i].kind != "end":
            sign = 1
            while toks[i].kind == "op" and toks[i].text in "+-" and toks[i].text:
                sign = -sign if toks[i].text == "-" else sign
                i += 1
            if toks[i].kind != "number":
                return None
            rows[-1].append(sign * number(toks[i].text))
            i += 1
            if toks[i].kind == "op" and toks[i].text == ",":
                i += 1
            elif toks[i].kind == "op" and toks[i].text == ";":
                i += 1
                rows.append([])
            elif toks[i].kind != "end":
                return None
        if rows and not rows[-1]:
            rows.pop()
        count = sum(len(r) for r in rows)
        if count == 0:
            return None
        self.i = len(toks) - 1
        if count == 1 and len(rows) == 1 and not any(
                t.kind == "op" and t.text in ",;" for t in toks[first:]):
            return rows[0][0]
        if len({len(r) for r in rows}) != 1:
            raise self.src.error(toks[first].pos, "the rows of this table have different lengths "
                                 f"({', '.join(str(len(r)) for r in rows)})",
                                 variable=self.variable)
        return np.squeeze(np.array(rows, dtype=float))

    def tabbed_array(self):
        self.expect("(", "")
        values = []
        while not self.at(")"):
            values.append(self.signed_number("in TABBED ARRAY"))
        self.take()
        return np.array(values, dtype=float)

    def with_lookup(self):
        self.expect("(", "after WITH LOOKUP")
        with self.nested():
            argument = self.expression()
        self.expect(",", "between the input and the table of WITH LOOKUP")
        table = self.lookup_table()
        self.expect(")", "to close WITH LOOKUP")
        return ae.InlineLookupsStructure(argument, table)

    def lookup_table(self):
        """`( [(x0,y0)-(x1,y1),...], (x,y), ... )` or `(x1, ..., xn, y1, ..., yn)`."""
        start = self.expect("(", "to open the lookup table")
        t = self.tok
        if t.kind == "name" and re.fullmatch(r"GET (XLS|DIRECT) LOOKUPS", t.text, re.I):
            value = self.reference_or_call()
            self.expect(")", "to close the lookup definition")
            return value
        limits = _NO_LIMITS
        if self.at("["):
            self.take()
            corners = []
            while not self.at("]"):
                if self.tok.kind == "end":
                    raise self.error("expected ']' to close the lookup's range")
                if self.at("("):
                    corners.append(self.point())
                else:
                    self.take()      # '-' between the corners, ',' before reference points
            self.take()
            if len(corners) < 2:
                raise self.error("expected the lookup's range [(xmin,ymin)-(xmax,ymax)]")
            limits = corners[:2]
            if self.at(","):
                self.take()
        points = []
        if self.at("("):
            while self.at("("):
                points.append(self.point())
                if self.at(","):
                    self.take()
        else:
            flat = []
            while not self.at(")"):
                flat.append(self.signed_number("in the lookup's x, y lists"))
                if self.at(","):
                    self.take()
            if len(flat) < 4 or len(flat) % 2:
                raise self.src.error(start.pos, f"a lookup written as x values then y values "
                                     f"needs an even count of at least 4 numbers, it has "
                                     f"{len(flat)}", variable=self.variable)
            half = len(flat) // 2
            points = list(zip(flat[:half], flat[half:]))
        self.expect(")", "to close the lookup table")
        if not points:
            raise self.src.error(start.pos, "the lookup table has no points",
                                 variable=self.variable)
        return lookup_structure(points, limits)

    def point(self) -> tuple[float, float]:
        self.expect("(", "")
        x = self.signed_number("for x")
        self.expect(",", "between x and y")
        y = self.signed_number("for y")
        self.expect(")", "after the point")
        return x, y


class _Depth:
    """One level of nesting of an ExpressionParser: a VensimSyntaxError past MAX_DEPTH."""

    def __init__(self, parser):
        self.parser = parser

    def __enter__(self):
        self.parser.depth += 1
        if self.parser.depth > MAX_DEPTH:
            raise self.parser.error(f"expression nested more than {MAX_DEPTH} levels deep")

    def __exit__(self, *exc):
        self.parser.depth -= 1
