"""A small recursive-descent parser: equation text -> expression tree.

Names may contain spaces (Vensim style) or be quoted; function names are matched
case-insensitively against the catalog in `sdmodels.expr`. Errors point at the column.

>>> parse_equation("(Teacup Temperature - Room Temperature) / Characteristic Time")
Binary(op='/', left=Binary(op='-', left=Ref(name='Teacup Temperature'), right=Ref(name='Room Temperature')), right=Ref(name='Characteristic Time'))
>>> parse_equation("IF THEN ELSE(Time > 5, 1, 0)")
Call(fn='if_then_else', args=(Binary(op='>', left=Time(), right=Const(value=5.0)), Const(value=1.0), Const(value=0.0)))
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from sdmodels.errors import EquationSyntaxError, LimitError
from sdmodels.expr import (FUNCTIONS, REDUCTIONS, STATEFUL, Binary, Call, Const, Expr, Index,
                           ALIASES, LookupCall, Reduce, Ref, Time, TimeStep, Unary,
                           canonical_function, transform)
from sdmodels.limits import check_count, check_expression, current_limits
from sdmodels.operators import BinaryOp, Function, ReduceOp, UnaryOp

_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<quoted>"(?:[^"\\]|\\.)*")
  | (?P<word>[A-Za-z_\u00c0-\uffff][A-Za-z0-9_$'\u00c0-\uffff]*)
  | (?P<op>:AND:|:OR:|:NOT:|<=|>=|<>|!=|==|&&|\|\||[-+*/^()<>=,\[\]!])
""", re.VERBOSE)
_GAP = re.compile(r"[ \t]+")
_KEYWORDS = {"and": "and", "or": "or", "not": "not", ":and:": "and", ":or:": "or",
             ":not:": "not", "&&": "and", "||": "or"}
# function names that hold a keyword ('SAMPLE AND HOLD'): read whole when a '(' follows
_KEYWORD_FUNCTIONS = re.compile("|".join(
    r"[ \t]+".join(map(re.escape, name.split())) + r"(?=\s*\()"
    for name in sorted(ALIASES, key=len, reverse=True)
    if any(word in _KEYWORDS for word in name.split())), re.I)
_COMPARE = {"=": BinaryOp.EQ, "==": BinaryOp.EQ, "<>": BinaryOp.NE, "!=": BinaryOp.NE,
            "<": BinaryOp.LT, "<=": BinaryOp.LE, ">": BinaryOp.GT, ">=": BinaryOp.GE}
_REDUCERS = {"sum": ReduceOp.SUM, "prod": ReduceOp.PROD, "vmin": ReduceOp.MIN,
             "vmax": ReduceOp.MAX, "mean": ReduceOp.MEAN}


@dataclass(frozen=True)
class _Tok:
    kind: str   # number, name, op, end
    text: str
    col: int


def _tokenize(text: str) -> list[_Tok]:
    toks, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise _error(text, pos, f"unexpected character {text[pos]!r}")
        kind = m.lastgroup
        if kind == "word":
            # join words separated by single spaces into one name, stopping at keywords
            word = m.group()
            whole = _KEYWORD_FUNCTIONS.match(text, pos)
            if whole:
                toks.append(_Tok("name", " ".join(whole.group().split()), pos))
                pos = whole.end()
                continue
            if word.lower() in _KEYWORDS:
                toks.append(_Tok("op", word.lower(), pos))
            else:
                end = m.end()
                while True:
                    nxt = _next_word(text, end)
                    if nxt is None or nxt[0].lower() in _KEYWORDS:
                        break
                    end = nxt[1]
                toks.append(_Tok("name", " ".join(text[pos:end].split()), pos))
                pos = end
                continue
        elif kind == "quoted":
            toks.append(_Tok("name", m.group()[1:-1].replace('\\"', '"'), pos))
        elif kind == "number":
            toks.append(_Tok("number", m.group(), pos))
        elif kind == "op":
            op = m.group()
            toks.append(_Tok("op", _KEYWORDS.get(op.lower(), op.lower()), pos))
        pos = m.end()
    toks.append(_Tok("end", "", len(text)))
    return toks


def _next_word(text: str, end: int) -> tuple[str, int] | None:
    """The word after spaces or tabs at `end` (it continues a name) and where it ends, or
    None. _TOKEN's own word pattern reads it: compiling a second pattern with the same
    character ranges took 7 ms in a fresh process (a 64k-entry table), a tenth of a library
    model's first result. A word-start character that _TOKEN reads as unicode space (such
    as U+3000) is still a word here, as a name continues past it."""
    gap = _GAP.match(text, end)
    if gap is None or gap.end() == len(text):
        return None
    m = _TOKEN.match(text, gap.end())
    if m is not None and m.lastgroup == "word":
        return m.group(), m.end()
    if text[gap.end()] < "\u00c0":      # no word starts here
        return None
    m = re.compile(r"[A-Za-z_\u00c0-\uffff][A-Za-z0-9_$'\u00c0-\uffff]*").match(text, gap.end())
    return None if m is None else (m.group(), m.end())


def _error(text: str, col: int, why: str) -> EquationSyntaxError:
    """The error at column `col`, showing at most 70 characters of a long equation."""
    left = max(0, col - 35) if len(text) > 70 else 0
    shown = text[left:left + 70]
    return EquationSyntaxError(f"{why} at column {col + 1} of equation\n  {shown}\n  "
                               f"{' ' * (col - left)}^")


def check_length(text: str) -> None:
    """LimitError if an equation is longer than max_equation_chars (before it is tokenized)."""
    if len(text) > current_limits().max_equation_chars:
        check_count("characters in one equation", len(text), "max_equation_chars",
                    where=f"equation '{text[:40]}...'")


class _Parser:
    depth = 0       # nesting of parentheses, calls and prefix operators being parsed

    def __init__(self, text: str):
        check_length(text)
        self.text, self.toks, self.i = text, _tokenize(text), 0

    @property
    def tok(self) -> _Tok:
        return self.toks[self.i]

    def take(self, text: str | None = None) -> _Tok:
        tok = self.tok
        if text is not None and tok.text != text:
            found = tok.text or "the end of the equation"
            raise _error(self.text, tok.col, f"expected {text!r} but found {found!r}")
        self.i += 1
        return tok

    def parse(self) -> Expr:
        if self.tok.kind == "end":
            raise _error(self.text, 0, "empty equation")
        self.max_nesting = current_limits().max_nesting
        expr = self.or_()
        if self.tok.kind != "end":
            raise _error(self.text, self.tok.col, f"unexpected {self.tok.text!r}")
        check_expression(expr, where=f"equation '{_clip(self.text)}'")
        return expr

    def nested(self, parse):
        """Call `parse` one nesting level deeper; LimitError past max_nesting (no RecursionError)."""
        self.depth += 1
        try:
            if self.depth > self.max_nesting:
                raise LimitError(
                    f"equation '{_clip(self.text)}': at column {self.tok.col + 1}, more than "
                    f"{self.max_nesting} parentheses, calls or signs inside each other; split "
                    "the equation, or raise the limit with --max-nesting N (or "
                    "SDMODELS_MAX_NESTING=N)")
            return parse()
        finally:
            self.depth -= 1

    def or_(self) -> Expr:
        left = self.and_()
        while self.tok.text == "or":
            self.take()
            left = Binary(BinaryOp.OR, left, self.and_())
        return left

    def and_(self) -> Expr:
        left = self.not_()
        while self.tok.text == "and":
            self.take()
            left = Binary(BinaryOp.AND, left, self.not_())
        return left

    def not_(self) -> Expr:
        if self.tok.text == "not":
            self.take()
            return Unary(UnaryOp.NOT, self.nested(self.not_))
        return self.compare()

    def compare(self) -> Expr:
        left = self.additive()
        while self.tok.kind == "op" and self.tok.text in _COMPARE:
            op = _COMPARE[self.take().text]
            left = Binary(op, left, self.additive())
        return left

    def additive(self) -> Expr:
        left = self.term()
        while self.tok.text in ("+", "-"):
            op = BinaryOp(self.take().text)
            left = Binary(op, left, self.term())
        return left

    def term(self) -> Expr:
        left = self.unary()
        while self.tok.text in ("*", "/") or (self.tok.kind == "name" and self.tok.text.lower() == "mod"):
            op = self.take().text
            right = self.unary()
            left = Call(Function.MODULO, (left, right)) if op.lower() == "mod" else \
                Binary(BinaryOp(op), left, right)
        return left

    def unary(self) -> Expr:
        return self.nested(self._unary)

    def _unary(self) -> Expr:
        if self.tok.text == "-":
            self.take()
            operand = self.unary()
            return Const(-operand.value) if isinstance(operand, Const) else \
                Unary(UnaryOp.NEG, operand)
        if self.tok.text == "+":
            self.take()
            return self.unary()
        return self.power()

    def power(self) -> Expr:
        base = self.primary()
        if self.tok.text == "^":
            self.take()
            return Binary(BinaryOp.POW, base, self.unary())
        return base

    def primary(self) -> Expr:
        tok = self.tok
        if tok.kind == "number":
            self.take()
            return Const(float(tok.text))
        if tok.text == "(":
            self.take()
            inner = self.or_()
            self.take(")")
            return inner
        if tok.kind == "name":
            self.take()
            if self.tok.text == "(":
                return self.call(tok)
            lowered = tok.text.lower()
            if lowered == "time":
                return Time()
            if lowered in ("time step", "dt"):
                return TimeStep()
            ref: Expr = Ref(tok.text)
            if self.tok.text == "[":
                ref = Index(ref, self.subscripts())
            return ref
        found = tok.text or "the end of the equation"
        raise _error(self.text, tok.col, f"expected a number, a name or '(' but found {found!r}")

    def subscripts(self) -> tuple[str, ...]:
        self.take("[")
        elements = []
        while True:
            name = self.take()
            if name.kind not in ("name", "number"):
                raise _error(self.text, name.col, "expected a subscript element name")
            text = name.text
            if self.tok.text == "!":
                self.take()
                text += "!"
            elements.append(text)
            if self.tok.text == "]":
                self.take()
                return tuple(elements)
            self.take(",")

    def arguments(self) -> list[Expr]:
        """A parenthesised, comma-separated argument list."""
        self.take("(")
        args: list[Expr] = []
        if self.tok.text != ")":
            args.append(self.or_())
            while self.tok.text == ",":
                self.take()
                args.append(self.or_())
        self.take(")")
        return args

    def call(self, name_tok: _Tok) -> Expr:
        args = self.arguments()
        fn = canonical_function(name_tok.text)
        if fn in _REDUCERS and len(args) == 1:
            return _reduction(_REDUCERS[fn], args[0], self.text, name_tok.col)
        if fn in FUNCTIONS or fn in STATEFUL:
            lo, hi = FUNCTIONS[fn] if fn in FUNCTIONS else STATEFUL[fn].arity()
            if not lo <= len(args) <= hi:
                want = str(lo) if lo == hi else f"{lo} to {hi}"
                raise _error(self.text, name_tok.col,
                             f"{name_tok.text} takes {want} arguments, got {len(args)}")
            return Call(Function(fn), tuple(args)) if fn in FUNCTIONS else STATEFUL[fn](tuple(args))
        if len(args) != 1:
            raise _error(self.text, name_tok.col,
                         f"unknown function {name_tok.text!r} (a lookup takes one argument)")
        return LookupCall(name_tok.text, args[0])


def _reduction(op: ReduceOp, arg: Expr, text: str, col: int) -> Expr:
    """SUM(x[dim!]) -> Reduce('sum', x, dim): the '!' marks the dimension to reduce."""
    dims: list[str] = []

    def strip_bang(node: Expr):
        if isinstance(node, Index) and any(e.endswith("!") for e in node.elements):
            dims.extend(e[:-1] for e in node.elements if e.endswith("!"))
            rest = tuple(e for e in node.elements if not e.endswith("!"))
            return Index(node.target, rest) if rest else node.target
        return None

    stripped = transform(arg, strip_bang)
    if len(set(dims)) != 1:
        raise _error(text, col, f"{op.upper()} needs exactly one dimension marked with '!' "
                                "(for example SUM(Load[pod!]))")
    return Reduce(op, stripped, dims[0])


def _clip(text: str, width: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[:width - 3] + "..."


def parse_equation(text: str) -> Expr:
    """Parse equation text into an expression tree (never evaluated as Python)."""
    if not isinstance(text, str):
        raise TypeError(f"equation text must be a string, not {type(text).__name__}")
    return _Parser(text).parse()


__all__ = ["parse_equation", "REDUCTIONS"]
