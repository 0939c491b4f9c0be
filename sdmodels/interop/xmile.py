"""XMILE import."""
from __future__ import annotations
from pathlib import Path
from sdmodels.errors import ImportModelError
from sdmodels.interop.vensim import from_abstract


def import_xmile(path):
    """Read an XMILE / Stella file into a `Model`."""
    path = Path(path)
    from pysd.translators.xmile.xmile_file import XmileFile
    try:
        xf = XmileFile(path)
        xf.parse()
        abstract = xf.get_abstract_model()
    except Exception as exc:
        raise ImportModelError(f"{path}: the XMILE parser could not read the model ({exc})") from None
    return from_abstract(abstract, path)
