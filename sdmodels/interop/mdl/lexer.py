"""Tokens of Vensim equation text, each with its offset in the file.

One compiled regular expression, applied left to right: no recursion, so a 10 MB equation
costs memory in proportion to its tokens and nothing else. Whitespace, `\\` line
continuations and `{inline comments}` are skipped; names keep Vensim's rules (letters, digits,
spaces, `_`, `$`, `'`; anything else in double quotes).

>>> [(t.kind, t.text) for t in tokenize("Stock A[DimA] * -2e3 {a comment} :AND: 'x'")]
[('name', 'Stock A'), ('op', '['), ('name', 'DimA'), ('op', ']'), ('op', '*'), ('op', '-'), \
('number', '2e3'), ('keyword', ':AND:'), ('string', 'x'), ('end', '')]
"""
from __future__ import annotations

import re
from typing import NamedTuple

from sdmodels.errors import VensimSyntaxError

# Vensim's :KEYWORDS: that can stand inside an equation or on its left-hand side.
KEYWORDS = ("AND", "OR", "NOT", "NA", "EXCEPT", "INTERPOLATE", "RAW", "HOLD BACKWARD",
            "LOOK FORWARD", "THE CONDITION", "TEST INPUT", "IMPLIES", "MACRO", "END OF MACRO",
            "IS")
_KEYWORD = "|".join(k.replace(" ", r"\s+") for k in KEYWORDS)
_TOKEN = re.compile(rf"""
    [\s\\]*                      # whitespace and line continuations before the token (a
                                 # character set: one test a character, where the group
                                 # (?:\s|\\)* took a repeat of the matcher for each)
    (?:(?P<space>$)
  | (?P<comment>\{{)
  | (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<quoted>"[^"\\]*(?:\\.[^"\\]*)*")
  | (?P<string>'[^']*')
  | (?P<keyword>:\s*(?:{_KEYWORD})\s*:)
  | (?P<name>[^\W\d][\w$']*(?:(?:\s|\\(?=\s))+[\w$'][\w$']*)*)
  | (?P<op><->|->|:=|==|<=|>=|<>|[-+*/^()\[\],;=<>!:]))
""", re.VERBOSE | re.IGNORECASE)
_SPACES = re.compile(r"[\s\\]+")
_BRACE = re.compile(r"[{}]")


def comment_end(text: str, pos: int, end: int) -> int:
    """The offset after the `}` closing the comment that opens at `pos` (comments nest:
    `{ ... 8784 {leap year} ... }`), or -1 when it is never closed."""
    depth = 0
    for m in _BRACE.finditer(text, pos, end):
        depth += 1 if m.group() == "{" else -1
        if depth == 0:
            return m.end()
    return -1


class Token(NamedTuple):
    """One token: kind (number, name, quoted, string, keyword, op, end), text, file offset.

    A named tuple: a file has tens of thousands of tokens, and a tuple is made three times
    faster than a frozen dataclass."""
    kind: str
    text: str
    pos: int


class Source:
    """The text of a .mdl file with a map from offsets to lines, for error messages."""

    def __init__(self, text: str, path: str = "<text>"):
        self.text, self.path = text, path

    def line_col(self, pos: int) -> tuple[int, int]:
        """1-based line and column of offset `pos` (counted when an error needs them: the
        reader tries some entries a fast way first and takes a failed try back)."""
        line = self.text.count("\n", 0, pos)
        start = self.text.rfind("\n", 0, pos) + 1
        return line + 1, pos - start + 1

    def error(self, pos: int, why: str, *, variable: str = "") -> VensimSyntaxError:
        """A VensimSyntaxError at `pos`: file:line:column, the variable, why, a caret line."""
        line, col = self.line_col(pos)
        start = pos - col + 1
        end = self.text.find("\n", pos)
        end = len(self.text) if end < 0 else end
        lo = max(start, pos - 60)       # a window around the column: lines can be megabytes
        hi = min(end, pos + 60)
        shown = self.text[lo:hi].replace("\t", " ").replace("\r", " ")
        where = f" (variable '{variable}')" if variable else ""
        return VensimSyntaxError(f"{self.path}:{line}:{col}: {why}{where}\n  {shown}\n"
                                 f"  {' ' * (pos - lo)}^")


def clean_name(text: str) -> str:
    """A name as written, with runs of whitespace and line continuations as one space."""
    if text.isprintable() and "  " not in text and "\\" not in text:
        return text.strip()      # no whitespace but single spaces: nothing to collapse
    return _SPACES.sub(" ", text).strip()


def tokenize(text: str, start: int = 0, end: int | None = None, *,
             source: Source | None = None, variable: str = "") -> list[Token]:
    """The tokens of text[start:end]; offsets stay those of the whole text."""
    end = len(text) if end is None else end
    out: list[Token] = []
    append, new = out.append, tuple.__new__     # a Token made without its Python __new__
    pos = start
    match = _TOKEN.match
    while pos < end:
        m = match(text, pos, end)
        if m is None:
            blank = _SPACES.match(text, pos, end)     # the error is at the character itself
            pos = blank.end() if blank else pos
            src = source or Source(text)
            ch = text[pos]
            why = {'"': "a quoted name that is never closed (missing '\"')",
                   "'": "a text literal that is never closed (missing \"'\")"}.get(
                ch, f"unexpected character {ch!r}")
            raise src.error(pos, why, variable=variable)
        kind = m.lastgroup
        if kind == "name":
            append(new(Token, ("name", clean_name(m.group(kind)), m.start(kind))))
        elif kind == "op" or kind == "number" or kind == "quoted":
            append(new(Token, (kind, m.group(kind), m.start(kind))))
        elif kind == "comment":
            pos = m.start(kind)
            close = comment_end(text, pos, end)
            if close < 0:
                raise (source or Source(text)).error(pos, "a comment '{' that is never closed",
                                                     variable=variable)
            pos = close
            continue
        elif kind == "keyword":
            append(new(Token, ("keyword", ":" + clean_name(m.group(kind)[1:-1]).upper() + ":",
                               m.start(kind))))
        elif kind == "string":
            append(new(Token, ("string", m.group(kind)[1:-1], m.start(kind))))
        pos = m.end()
    append(new(Token, ("end", "", end)))
    return out
