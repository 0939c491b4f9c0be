"""Import Vensim (.mdl) and XMILE (.xmile/.stmx/.xml/.itmx) models; export XMILE.

`import_model(path)` returns a `Model` built from the file; everything downstream (build,
run, sweeps, loops, diagrams) treats it like a model written in the DSL.
`to_xmile(model)` writes an XMILE document; `read_sketch(path)` gives the positions of the
variables in a .mdl file's views (for diagram layouts).
"""
from __future__ import annotations

import importlib
from pathlib import Path

#: loaded when first used: reading an .mdl needs neither the XMILE reader nor the writer
_LAZY = {"to_xmile": "sdmodels.interop.export", "read_sketch": "sdmodels.interop.mdl",
         "import_vensim": "sdmodels.interop.vensim", "import_xmile": "sdmodels.interop.xmile"}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def import_model(path, *, data_files=(), data_dirs=()):
    """A `Model` from a Vensim or XMILE file; ImportModelError names what cannot be read.

    `data_files` (Vensim): .tab/.csv files filling DATA variables that have no equation.
    `data_dirs` (Vensim): folders besides the model's own from which GET DATA/CONSTANTS/
    LOOKUPS may read; without it, a model reads only files in its folder and below.

    >>> from pathlib import Path
    >>> import tempfile, textwrap
    >>> text = textwrap.dedent('''
    ...     Stock = INTEG(-Stock / 2, 10) ~ ~ |
    ...     INITIAL TIME = 0 ~ ~ |
    ...     FINAL TIME = 4 ~ ~ |
    ...     TIME STEP = 1 ~ ~ |
    ...     SAVEPER = TIME STEP ~ ~ |''')
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = Path(d) / "decay.mdl"
    ...     _ = p.write_text(text)
    ...     m = import_model(p)
    >>> (m.start, m.stop, m.dt, sorted(m.elements))
    (0.0, 4.0, 1.0, ['stock', 'stock~net'])
    """
    from sdmodels.errors import ImportModelError, ModelError
    from sdmodels.sources import MODEL_FILE_SUFFIXES, existing_file
    try:
        path = existing_file(path, "model file")
    except ModelError as exc:       # a missing file or a folder: no OSError from inside
        raise ImportModelError(str(exc)) from None
    suffix = path.suffix.lower()
    if suffix not in MODEL_FILE_SUFFIXES:
        raise ImportModelError(f"{path}: a '{suffix or 'suffix-less'}' file is no model file; "
                               f"give a Vensim .mdl or an XMILE file "
                               f"({', '.join(s for s in MODEL_FILE_SUFFIXES if s != '.mdl')})")
    if suffix == ".mdl":
        from sdmodels.interop.vensim import import_vensim
        return import_vensim(path, data_files=data_files, data_dirs=data_dirs)
    from sdmodels.interop.xmile import import_xmile
    return import_xmile(path)


__all__ = ["import_model", "import_vensim", "import_xmile", "read_sketch", "to_xmile"]
