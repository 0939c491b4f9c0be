"""A TOML system description as the YAML node tree the reader walks, with lines and columns.

`tomllib` (the standard library) parses the values, and reports a syntax error with its
line and column, but keeps no position of what it parsed; the reader's problems need one
for every field. `positions` scans the text for where each key and value is written: table
headers (``[components.api.hpa]``), array-of-tables headers (``[[calls]]``), ``key = value``
lines with dotted keys, and the keys of inline tables and arrays (``retry = {maxAttempts =
4}``, ``rules = [{alert = "x"}]``). `nodes` then builds PyYAML nodes from tomllib's values
with those positions; a value whose place the scan did not find takes its closest parent's.

>>> root = nodes('system = "shop"\\n[components.api]\\nkind = "service"\\nreplicas = 3\\n')
>>> api = dict((k.value, v) for k, v in dict((k.value, v) for k, v in root.value)[
...     "components"].value)["api"]
>>> [(k.value, v.value, v.start_mark.line + 1, v.start_mark.column + 1) for k, v in api.value]
[('kind', 'service', 3, 8), ('replicas', '3', 4, 12)]
"""
from __future__ import annotations

import datetime
import math
import re
import tomllib

import yaml

TAG = "tag:yaml.org,2002:"
_BARE = re.compile(r"[A-Za-z0-9_-]+")
_SCALAR_END = re.compile(r"[,\]}\s#]")


class TomlSyntaxError(ValueError):
    """tomllib's error, with its line and column as numbers."""

    def __init__(self, message: str, line: int, column: int):
        super().__init__(message)
        self.line, self.column = line, column


def nodes(text: str) -> yaml.MappingNode:
    """The description `text` (TOML) as PyYAML nodes that carry their lines and columns."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        line, column = (int(found[1]), int(found[2])) if found else (1, 1)
        raise TomlSyntaxError(re.sub(r"\s*\(at line.*\)$", "", str(exc)), line,
                              column) from None
    try:
        places = positions(text)
    except (ValueError, IndexError):     # text tomllib reads that the scan does not: every
        places = {}                      # value at the start rather than no answer at all
    return _node(data, (), places, _mark(0, 0))


def _mark(line: int, column: int) -> yaml.Mark:
    return yaml.Mark("<toml>", 0, line, column, None, None)


def _node(value, path: tuple, places: dict, parent: yaml.Mark):
    key_mark, mark = places.get(path, (parent, parent))
    if isinstance(value, dict):
        pairs = []
        for k, v in value.items():
            inner = places.get(path + (k,), (mark, mark))
            pairs.append((yaml.ScalarNode(TAG + "str", k, inner[0], inner[0]),
                          _node(v, path + (k,), places, mark)))
        return yaml.MappingNode(TAG + "map", pairs, mark, mark)
    if isinstance(value, list):
        return yaml.SequenceNode(TAG + "seq", [_node(v, path + (i,), places, mark)
                                               for i, v in enumerate(value)], mark, mark)
    if isinstance(value, bool):
        tag, text = "bool", "true" if value else "false"
    elif isinstance(value, int):
        tag, text = "int", str(value)
    elif isinstance(value, float):
        tag, text = "float", (repr(value) if math.isfinite(value) else
                              ".nan" if math.isnan(value) else "-.inf" if value < 0 else ".inf")
    elif isinstance(value, (datetime.date, datetime.time)):
        tag, text = "str", value.isoformat()
    else:
        tag, text = "str", str(value)
    return yaml.ScalarNode(TAG + tag, text, mark, mark)


def positions(text: str) -> dict[tuple, tuple[yaml.Mark, yaml.Mark]]:
    """path -> (mark of its key, mark of its value) for every key the text writes."""
    return _Scanner(text).run()


class _Scanner:
    """Walks TOML text once, keeping the table it is in and the path of each value."""

    def __init__(self, text: str):
        self.text, self.i, self.places = text, 0, {}
        self.tables: dict[tuple, int] = {}          # array of tables -> entries so far

    def mark(self, at: int | None = None) -> yaml.Mark:
        at = self.i if at is None else at
        line = self.text.count("\n", 0, at)
        return _mark(line, at - (self.text.rfind("\n", 0, at) + 1))

    def run(self) -> dict:
        table: tuple = ()
        while self.skip_blank(newlines=True) < len(self.text):
            start = self.i
            if self.text.startswith("[[", self.i):
                self.i += 2
                key = self.key("]]")
                self.i += 2
                n = self.tables.get(key, 0)
                self.tables[key] = n + 1
                table = key + (n,)
                self.places.setdefault(key, (self.mark(start), self.mark(start)))
                self.places[table] = (self.mark(start), self.mark(start))
            elif self.text.startswith("[", self.i):
                self.i += 1
                table = self.key("]")
                self.i += 1
                self.places[table] = (self.mark(start), self.mark(start))
            else:
                self.pair(table)
            self.skip_line()
        return self.places

    def pair(self, table: tuple) -> None:
        at = self.i
        path = table + self.key("=")
        self.i += 1
        self.skip_blank()
        for n in range(len(table) + 1, len(path)):      # a.b.c = 1 makes tables a and a.b
            self.places.setdefault(path[:n], (self.mark(at), self.mark(at)))
        self.places[path] = (self.mark(at), self.mark())
        self.value(path)

    def value(self, path: tuple) -> None:
        c = self.text[self.i:self.i + 1]
        if c == "{":
            self.i += 1
            while self.skip_blank(newlines=True) < len(self.text) and self.text[self.i] != "}":
                self.pair(path)
                self.skip_blank(newlines=True)
                if self.text[self.i:self.i + 1] == ",":
                    self.i += 1
            self.i += 1
        elif c == "[":
            self.i += 1
            n = 0
            while self.skip_blank(newlines=True) < len(self.text) and self.text[self.i] != "]":
                self.places[path + (n,)] = (self.mark(), self.mark())
                self.value(path + (n,))
                n += 1
                self.skip_blank(newlines=True)
                if self.text[self.i:self.i + 1] == ",":
                    self.i += 1
            self.i += 1
        elif c in ('"', "'"):
            self.string()
        else:
            end = _SCALAR_END.search(self.text, self.i)
            self.i = end.start() if end else len(self.text)

    def key(self, stop: str) -> tuple:
        parts = []
        while True:
            self.skip_blank()
            if self.text[self.i:self.i + 1] in ('"', "'"):
                parts.append(self.string())
            else:
                bare = _BARE.match(self.text, self.i)
                if not bare:          # tomllib accepted the text: cannot happen
                    raise ValueError(f"unexpected text at {self.mark()}")
                parts.append(bare.group())
                self.i = bare.end()
            self.skip_blank()
            if self.text[self.i:self.i + 1] != ".":
                return tuple(parts)
            self.i += 1

    def string(self) -> str:
        """Read a string at the cursor (its value for keys; escapes kept, keys rarely have any)."""
        quote = self.text[self.i]
        triple = self.text.startswith(quote * 3, self.i)
        close = quote * 3 if triple else quote
        j = self.i + len(close)
        while True:
            k = self.text.index(close, j)
            if quote == '"' and _escaped(self.text, k):
                j = k + 1
                continue
            break
        while triple and self.text.startswith(quote, k + 3):   # """a"""" ends with a quote
            k += 1
        body = self.text[self.i + len(close):k]
        self.i = k + len(close)
        return body

    def skip_blank(self, *, newlines: bool = False) -> int:
        """Skip spaces and comments (and line ends if asked); returns the cursor."""
        while self.i < len(self.text):
            c = self.text[self.i]
            if c in " \t" or (newlines and c in "\r\n"):
                self.i += 1
            elif c == "#":
                end = self.text.find("\n", self.i)
                self.i = len(self.text) if end < 0 else end
            else:
                break
        return self.i

    def skip_line(self) -> None:
        self.skip_blank()
        end = self.text.find("\n", self.i)
        self.i = len(self.text) if end < 0 else end + 1


def _escaped(text: str, k: int) -> bool:
    """Whether the quote at `k` is escaped (an odd number of backslashes before it)."""
    n = 0
    while k - n - 1 >= 0 and text[k - n - 1] == "\\":
        n += 1
    return n % 2 == 1
