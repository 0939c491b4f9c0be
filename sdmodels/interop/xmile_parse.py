"""XMILE equation syntax on top of `sdmodels.parse`: names never span spaces, IF/THEN/ELSE,
`x MOD y`, `a[*]` reductions and Stella's built-ins (the reader supplies their meaning)."""
from __future__ import annotations

import math
import re

from sdmodels.elements import canonical
from sdmodels.expr import Binary, Call, Const, Expr, Index, Ref, Time, TimeStep, Unary
from sdmodels.parse import _error, _Parser, _Tok, check_length

_TOKEN = re.compile(r"""
    (?P<space>\s+|\{[^}]*\})
  | (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<quoted>"(?:[^"\\]|\\.)*")
  | (?P<word>[A-Za-z_\u00c0-\uffff][A-Za-z0-9_$'.\u00c0-\uffff]*)
  | (?P<op><=|>=|<>|!=|==|[-+*/^()<>=,\[\]!:])
""", re.VERBOSE)


class XmileParser(_Parser):
    """Our equation parser with XMILE's syntax: names never span spaces, IF/THEN/ELSE."""

    def __init__(self, text: str, reader, host: str):
        check_length(text)
        self.text, self.reader, self.host, self.i = text, reader, host, 0
        self.toks = self._tokens(text)

    @staticmethod
    def _tokens(text):
        toks, pos = [], 0
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if not m:
                raise _error(text, pos, f"unexpected character {text[pos]!r}")
            kind, word = m.lastgroup, m.group()
            if kind == "word":
                low = word.lower()
                toks.append(_Tok("op", low, pos) if low in ("and", "or", "not")
                            else _Tok("name", word, pos))
            elif kind == "quoted":
                toks.append(_Tok("name", word[1:-1].replace('\\"', '"'), pos))
            elif kind != "space":
                toks.append(_Tok(kind if kind == "number" else "op", word, pos))
            pos = m.end()
        toks.append(_Tok("end", "", len(text)))
        return toks

    def term(self) -> Expr:
        left = self.unary()
        while self.tok.text in ("*", "/") or (self.tok.kind == "name" and
                                              self.tok.text.lower() == "mod"):
            op = self.take().text
            right = self.unary()
            left = _fmod(left, right) if op.lower() == "mod" else Binary(op, left, right)
        return left

    def primary(self) -> Expr:
        tok = self.tok
        if tok.kind == "name" and tok.text.lower() == "if":
            self.take()
            cond = self.or_()
            if self.tok.text == "not":   # xmutil writes Vensim's ':NOT: x' as 'x not'
                self.take()
                cond = Unary("not", cond)
            self._word("then")
            a = self.or_()
            self._word("else")
            return Call("if_then_else", (cond, a, self.or_()))
        if tok.kind == "name" and self.toks[self.i + 1].text != "(":
            low = canonical(tok.text)
            if low in ("time",):
                self.take()
                return Time()
            if low in ("dt", "time_step"):
                self.take()
                return TimeStep()
            if low in ("pi",):
                self.take()
                return Const(math.pi)
            if low in self.reader.fixed:
                self.take()
                return Const(self.reader.fixed[low])
            if low in ("inf", "infinity"):
                self.take()
                return Const(1e300)
            self.take()
            ref: Expr = Ref(tok.text)
            if self.tok.text == "[":
                ref = Index(ref, self.subscripts())
            return ref
        return super().primary()

    def subscripts(self):
        self.take("[")
        out = []
        while True:
            tok = self.take()
            if tok.text == "*" and self.tok.text == ":":     # xmutil's x[*:SubA]: over SubA
                self.take()
                sub = self.take().text
                out.append("*:" + self.reader.sub_names.get(canonical(sub), sub))
            else:
                out.append("*" if tok.text == "*" else self.reader.sub_names.get(
                    canonical(tok.text), tok.text))
            if self.tok.text == "]":
                self.take()
                return tuple(out)
            self.take(",")

    def _word(self, word):
        if self.tok.text.lower() != word:
            raise _error(self.text, self.tok.col, f"expected {word.upper()}")
        self.take()

    def call(self, name_tok) -> Expr:
        args = self.arguments()
        fn = canonical(name_tok.text)
        made = self.reader.function(fn, args, self.host)
        if made is not None:
            return made
        raise _error(self.text, name_tok.col, f"unknown function {name_tok.text!r}")


def _fmod(a: Expr, b: Expr) -> Expr:
    return Binary("-", a, Binary("*", b, Call("integer", (Binary("/", a, b),))))
