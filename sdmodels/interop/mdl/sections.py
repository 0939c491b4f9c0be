"""The layout of a .mdl file: encoding, equations, macros, groups, the sketch.

A .mdl file is `{UTF-8}`, then entries `equation ~ units ~ comment |` (a fourth field such
as `~ :SUPPLEMENTARY` may follow the comment), group headers `****...*` `.name` `****...*~
comment |` between them, macros `:MACRO: NAME(in1, in2 : out1) ... :END OF MACRO:`
anywhere between entries, and after `\\\\\\---///` the sketch. Entries are found with one
left-to-right scan: `|` and `~` inside a quoted name or an `{inline comment}` of the
equation do not count.

>>> layout = split_file('{UTF-8}\\nx = 1 {one} ~ m ~ doc |\\n****\\n.G\\n****~ group |\\n')
>>> [(e.equation_text(layout.text), e.units, e.doc) for e in layout.main]
[('x = 1 {one} ', 'm', 'doc')]
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import NamedTuple

from sdmodels.interop.mdl.lexer import Source, comment_end

# an entry's text is read in runs: a regular expression that consumes a run of characters
# needs one test per character, one that searches for one of several alternatives starts
# a match at each (several times slower, and a file is mostly comments)
_EQUATION_RUN = re.compile(r'[^"{~|]*')
_QUOTED = re.compile(r'"[^"\\\n]*(?:\\.[^"\\\n]*)*"')
_FIELD_RUN = re.compile(r"[^~|]*")
_MACRO = re.compile(r":\s*MACRO\s*:", re.I)
_END_MACRO = re.compile(r":\s*END\s+OF\s+MACRO\s*:", re.I)
_BLANK = re.compile(r"\s*")
_ENCODING = re.compile(rb"\s*\{([A-Za-z0-9_\-]+)\}")
_HEADER = re.compile(r"\s*\{[^}\n]*\}")


class Entry(NamedTuple):
    """One `equation ~ units ~ comment |` entry, the equation kept as offsets into the file.

    A named tuple (immutable, like Token): a file has thousands of entries, and a frozen
    dataclass is several times slower to make."""
    start: int
    end: int
    units: str = ""
    doc: str = ""

    def equation_text(self, text: str) -> str:
        return text[self.start:self.end]


@dataclass
class MacroText:
    """A macro's header (name, inputs, outputs) and its entries."""
    name: str
    params: list[str]
    returns: list[str]
    pos: int
    entries: list[Entry] = field(default_factory=list)


@dataclass
class Layout:
    """The equations part of a .mdl file split into the main entries and the macros."""
    text: str
    main: list[Entry]
    macros: list[MacroText]
    sketch: str


def read_text(path) -> str:
    """The file's text in the encoding its `{...}` header names.

    Without a known header: UTF-8 if the bytes are UTF-8, else Windows-1252 (older Vensim
    files on Windows), so that accented names survive."""
    raw = path.read_bytes()
    if raw.startswith(b"\xef\xbb\xbf"):     # a UTF-8 byte-order mark (Notepad's)
        raw = raw[3:]
    m = _ENCODING.match(raw)
    if b"\r" in raw and (m is None or _plain_newlines(m.group(1))):
        # line ends unified on the bytes: a tenth of the time on the text
        raw = raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    try:
        text = raw.decode(m.group(1).decode("ascii") if m else "utf-8")
    except (LookupError, UnicodeDecodeError):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("cp1252", errors="replace")
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def _plain_newlines(encoding: bytes) -> bool:
    """Whether CR and LF are the bytes 13 and 10 in `encoding`, never inside a character
    (UTF-8, cp1252, Latin-1, Shift-JIS...; not UTF-16); an unknown name: True (its file
    is read as UTF-8 or cp1252)."""
    try:
        return "\r\n".encode(encoding.decode("ascii")) == b"\r\n"
    except (LookupError, UnicodeError):
        return True


def collapse(text: str) -> str:
    """Whitespace runs as one space, line continuations removed (pysd's cleaning).

    str.split() splits at what the regular expression \\s matches (both are str.isspace)."""
    return " ".join(text.replace("\\\n", " ").split())


def split_file(text: str, source: Source | None = None) -> Layout:
    """Entries and macros of the equations part; the sketch part kept as text."""
    source = source or Source(text)
    end = sketch_start(text)
    sketch = text[end:]
    pos = 0
    m = _HEADER.match(text)     # {UTF-8}
    if m:
        pos = m.end()
    main: list[Entry] = []
    macros: list[MacroText] = []
    current: MacroText | None = None
    while True:
        pos = _BLANK.match(text, pos, end).end()     # \s: what str.isspace() holds
        if pos >= end:
            break
        if text.startswith(":", pos):     # both macro marks begin with ':'
            m = _MACRO.match(text, pos)
            if m:
                if current is not None:
                    raise source.error(pos, f"a macro starts inside macro '{current.name}' "
                                       "(missing ':END OF MACRO:')")
                current, pos = _macro_header(text, m.end(), end, source)
                macros.append(current)
                continue
            m = _END_MACRO.match(text, pos)
            if m:
                if current is None:
                    raise source.error(pos, "':END OF MACRO:' without a macro before it")
                current, pos = None, m.end()
                continue
        entry, pos = _entry(text, pos, end, source)
        if entry is not None:
            (current.entries if current else main).append(entry)
    if current is not None:
        raise source.error(current.pos, f"macro '{current.name}' has no ':END OF MACRO:'")
    return Layout(text, main, macros, sketch)


def sketch_start(text: str) -> int:
    """Where the sketch part begins, else len(text): the first run of two or more
    backslashes followed by `---///`, found with str.find (a regular expression's search
    took a hundred times longer on a large file)."""
    at = text.find("\\\\---///")
    if at < 0:
        return len(text)
    while at > 0 and text[at - 1] == "\\":
        at -= 1
    return at


def _entry(text: str, pos: int, end: int, source: Source) -> tuple[Entry | None, int]:
    """One entry from `pos`; None for a group header or trailing text without '|'."""
    start = pos
    while True:
        pos = _EQUATION_RUN.match(text, pos, end).end()
        if pos >= end:
            eq_end, pos, stop = end, end, ""
            break
        char = text[pos]
        if char == "~" or char == "|":
            eq_end, pos, stop = pos, pos + 1, char
            break
        if char == '"':           # a quoted name: '~' and '|' inside it do not count
            quoted = _QUOTED.match(text, pos, end)
            pos = quoted.end() if quoted else pos + 1
        else:                     # an inline comment '{...}': nor inside it
            close = comment_end(text, pos, end)
            pos = close if close > 0 else pos + 1
    fields = []
    while stop == "~":
        at = _FIELD_RUN.match(text, pos, end).end()
        if at >= end:
            fields.append(text[pos:end])
            pos, stop = end, ""
            break
        fields.append(text[pos:at])
        if len(fields) == 3 and text[at] == "~":   # equation ~ units ~ comment ~ flags |
            raise source.error(at, "a fourth '~' in one entry: the '|' that ends the "
                               "equation before it is probably missing")
        pos, stop = at + 1, text[at]
    head = text[start:eq_end].strip()
    if stop != "|":     # text after the last '|': ignored unless it has an entry's fields
        if fields:
            raise source.error(start, "this equation has no '|' at its end")
        return None, end
    if not head or head.startswith("*"):     # a group header: '****' .name '****' ~ text |
        return None, pos
    units = collapse(fields[0]) if fields else ""
    doc = collapse(fields[1]) if len(fields) > 1 else ""
    return Entry(start, eq_end, units, doc), pos


def _macro_header(text: str, pos: int, end: int, source: Source):
    """`NAME(in1, in2 : out1, out2)` after ':MACRO:'."""
    open_ = text.find("(", pos, end)
    close = text.find(")", open_ + 1, end) if open_ >= 0 else -1
    if open_ < 0 or close < 0 or "|" in text[pos:open_]:
        raise source.error(pos, "expected 'NAME(inputs : outputs)' after ':MACRO:'")
    name = collapse(text[pos:open_])
    if not name:
        raise source.error(pos, "the macro has no name")
    inner = text[open_ + 1:close]
    ins, _, outs = inner.partition(":")
    params = [collapse(p) for p in ins.split(",") if p.strip()]
    returns = [collapse(p) for p in outs.split(",") if p.strip()]
    if not params:
        raise source.error(open_ + 1, f"macro '{name}' has no input arguments")
    macro = MacroText(name=name.lower().replace(" ", "_"), params=params, returns=returns,
                      pos=pos)
    return macro, close + 1
