"""Reading XMILE files as XML, safely: defusedxml (no entity expansion, no external
entities, no DTDs), undeclared Stella prefixes declared, and files that are not well-formed
read in lxml's recovery mode with a warning (as pysd reads them). Small helpers walk the
tree whatever its XML namespace."""
from __future__ import annotations

import re
import warnings
from pathlib import Path

from defusedxml import ElementTree as SafeET

from sdmodels.errors import ModelWarning


def _tag(node) -> str:
    return node.tag.rsplit("}", 1)[-1]


def _child(node, name):
    for c in node:
        if _tag(c) == name:
            return c
    return None


def _children(node, name):
    return [c for c in node if _tag(c) == name]


def _text(node, name, default=None):
    c = _child(node, name)
    return c.text.strip() if c is not None and c.text is not None else default


def _safe_root(path: Path):
    """Parse with defusedxml; declare prefixes Stella files use without declaring them, and
    read a file that is not well-formed in recovery mode (with a warning)."""
    raw = path.read_bytes()
    try:
        return SafeET.fromstring(raw)
    except SafeET.ParseError as exc:
        if "unbound prefix" not in str(exc):
            return _recovered(raw, path, exc)
    text = raw.decode("utf-8", errors="replace")
    declared = set(re.findall(r"xmlns:([\w.-]+)=", text))
    used = set(re.findall(r"</?([A-Za-z_][\w.-]*):[A-Za-z_]", text)) | set(
        re.findall(r"\s([A-Za-z_][\w.-]*):[A-Za-z_][\w.-]*\s*=", text))
    missing = sorted(used - declared - {"xmlns", "xml"})
    extra = "".join(f' xmlns:{p}="urn:sdmodels:undeclared:{p}"' for p in missing)
    text = re.sub(r"(<xmile\b)", lambda m: m.group(1) + extra, text, count=1)
    return SafeET.fromstring(text.encode("utf-8"))


_VARIABLE_TAGS = {"stock", "flow", "aux", "gf", "module", "group"}


def _recovered(raw: bytes, path: Path, error: Exception):
    """A file that is not well-formed (a tag never closed): lxml's recovering parser, as
    pysd uses, with entities, DTDs and the network off; variables it nested inside an
    unclosed one are moved back to their <variables> list. The user is warned with the
    place of the fault, since recovery guesses."""
    from lxml import etree
    parser = etree.XMLParser(recover=True, resolve_entities=False, no_network=True,
                             load_dtd=False, huge_tree=False)
    tree = etree.fromstring(raw, parser)
    if tree is None or b"<!ENTITY" in raw.upper():
        raise error
    root = SafeET.fromstring(etree.tostring(tree))
    for variables in (n for n in root.iter() if _tag(n) == "variables"):
        for var in list(variables):
            parent = {child: holder for holder in var.iter() for child in holder}
            nested = [c for c in var.iter() if c is not var and _tag(c) in _VARIABLE_TAGS]
            for child in nested:
                parent[child].remove(child)
                variables.append(child)
    warnings.warn(f"{path.name}: not well-formed XML ({error}); read in recovery mode, which "
                  "guesses where the unclosed element ends: check the imported model",
                  ModelWarning, stacklevel=3)
    return root


def _listed(text: str) -> list[str]:
    """The parts of '1, 2; 3' split at commas and semicolons outside brackets (a
    Vensim-written XMILE array given as one list)."""
    parts, depth, current = [], 0, ""
    for ch in text:
        depth += ch in "([{"
        depth -= ch in ")]}"
        if ch in ",;" and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    return parts + [current]
