"""Vensim external data read at import time: GET XLS/DIRECT CONSTANTS, LOOKUPS, DATA, SUBSCRIPT.

The spreadsheets and text files are read once, by pysd's own readers (pysd.py_backend.external:
ExtConstant, ExtLookup, ExtData, ExtSubscript, on openpyxl/xlrd/pandas), and the numbers land
in our IR: constants become numbers, GET LOOKUPS become `Lookup` elements (one per subscript
cell), and a data series becomes a function of time with Vensim's interpolation:

* interpolate     linear between points, the end values held outside (a `Lookup` on Time)
* hold backward   the last point at or before t (a step function)
* look forward    the first point at or after t (a step function)
* raw             the value at the points themselves; held in between like hold backward

Files are named relative to the model file and must stay inside the model's folder tree
(after symlinks are followed), whether the model names them by a relative or an absolute path:
a model file from elsewhere must not read the user's other files. Other folders are read only
when the user allows them: `import_model(path, data_dirs=[...])`, `--allow-data-dir DIR` on
the command line, or SDMODELS_ALLOW_DATA_DIRS (folders separated by the path separator).

>>> cell_name("lookup function", ("A", "Row1"))
'lookup function[A, Row1]'
"""
from __future__ import annotations

import contextlib
import io
import os
import warnings
from pathlib import Path

import numpy as np

from sdmodels.elements import Lookup, canonical
from sdmodels.expr import Binary, Call, Const, Expr, LookupCall, Time
from sdmodels.limits import ALLOW_DATA_DIRS_ENV

EXTERNAL_KINDS = {"GetConstantsStructure": "GET CONSTANTS", "GetDataStructure": "GET DATA",
                  "GetLookupsStructure": "GET LOOKUPS", "DataStructure": "DATA"}
INDEX_EPS = 1e-7     # time rounding, in units of the gap between two data points


def is_external(comp) -> bool:
    """True if a component's equation reads data from outside the model file."""
    return type(comp.ast).__name__ in EXTERNAL_KINDS


def _unsupported(construct: str, why: str):
    from sdmodels.interop.abstract import Unsupported
    return Unsupported(construct, why)


ALLOW_ENV = ALLOW_DATA_DIRS_ENV


def allowed_dirs(model_path, extra=()) -> tuple[Path, ...]:
    """The folders a model may read data from: its own, `extra`, and SDMODELS_ALLOW_DATA_DIRS.

    >>> allowed_dirs("/models/m.mdl", ["/data"])[:2]
    (PosixPath('/models'), PosixPath('/data'))
    """
    env = [d for d in os.environ.get(ALLOW_ENV, "").split(os.pathsep) if d.strip()]
    dirs = [Path(model_path).resolve().parent] + [Path(d).expanduser().resolve()
                                                  for d in (*extra, *env)]
    return tuple(dict.fromkeys(dirs))


def data_file(importer, name: str, what: str) -> Path:
    """The data file `name` of the model, resolved and checked to stay in an allowed folder."""
    text = str(name).strip()
    if text.startswith("?"):
        text = _indirect(importer, text, what)
    dirs = allowed_dirs(importer.path, getattr(importer, "data_dirs", ()))
    root = dirs[0]
    path = (root / Path(text).expanduser()).resolve()     # an absolute `text` replaces root
    if not any(path.is_relative_to(d) for d in dirs):
        raise _unsupported(what, f"file '{text}' lies outside the model's folder {root}, and "
                           "sdmodels reads data only from there (and below) unless you allow "
                           "another folder: copy the file under the model's folder, or allow "
                           f"its folder with --allow-data-dir {path.parent} (Python: "
                           f"import_model(..., data_dirs=['{path.parent}']))")
    if not path.is_file():
        raise _unsupported(what, f"file '{text}' not found (looked for {path})")
    return path


def _indirect(importer, text: str, what: str) -> str:
    """'?name': the file the model's own settings block maps it to (lines `30:?name=file`
    after the sketch, as Vensim saves them)."""
    import re
    model = Path(importer.path).read_text(encoding="utf-8", errors="replace")
    settings = model.split(":L\x7f<%^E!@")[-1] if ":L\x7f<%^E!@" in model else model
    for line in settings.splitlines():
        m = re.match(r"\s*30:(\?[^=]+)=(.+?)\s*$", line)
        if m and m.group(1).strip().lower() == text.lower():
            return m.group(2)
    raise _unsupported(what, f"indirect file reference '{text}' is not named in the model's "
                       "settings (a line '30:" + text + "=FILE'); write the file name instead")


def _describe(ast) -> str:
    kind = EXTERNAL_KINDS.get(type(ast).__name__, type(ast).__name__)
    where = [f"file '{getattr(ast, 'file', '?')}'", f"sheet '{getattr(ast, 'tab', '?')}'"]
    for attr in ("time_row_or_col", "x_row_or_col"):
        if getattr(ast, attr, None) is not None:
            where.append(f"series '{getattr(ast, attr)}'")
    where.append(f"cell '{getattr(ast, 'cell', '?')}'")
    return f"GET {kind.split()[-1]} ({', '.join(where)})"


def _read(importer, ast, coords: dict, make):
    """Run one of pysd's readers, turning its errors into Unsupported with the place named."""
    from pysd.py_backend.external import Excels
    what = _describe(ast)
    path = data_file(importer, ast.file, what)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            reader = make(str(path.relative_to(path.parent)), path.parent, coords)
            reader.initialize()
            return reader.data
    except Exception as exc:   # pysd raises ValueError/KeyError/... with multi-line text
        lines = [s.strip() for s in str(exc).splitlines() if s.strip()]
        reason = " ".join(lines[1:] or lines)[:300] or type(exc).__name__
        raise _unsupported("external data", f"{what}: {reason}") from None
    finally:
        Excels.clean()


def _coords(importer, comp, dims) -> dict:
    return {d: list(importer.subs.values(s)) for s, d in zip(comp.subscripts[0], dims)}


def _pick(data, coords: dict, combo: tuple) -> np.ndarray:
    """The values of `data` (a float or DataArray) at the cell `combo` (one leading axis kept)."""
    if not coords:
        return np.asarray(getattr(data, "values", data), dtype=float)
    sel = {d: combo[i] for i, d in enumerate(coords)}
    return np.asarray(data.sel(sel).values, dtype=float)


def external_cells(importer, comp, dims, display: str) -> list:
    """(combo, binding, value) for every cell an external component defines.

    Values are floats (constants) or expressions of Time (data series).
    """
    from pysd.py_backend.external import ExtConstant, ExtData
    ast = comp.ast
    kind = type(ast).__name__
    if kind == "DataStructure":
        return _data_from_files(importer, comp, dims, display, cells=importer._cells(comp, dims))
    if kind == "GetLookupsStructure":
        raise _unsupported("GET LOOKUPS", "used outside a lookup definition")
    coords = _coords(importer, comp, dims)
    cells = importer._cells(comp, dims)
    out = []
    if kind == "GetConstantsStructure":
        data = _read(importer, ast, coords, lambda f, root, c: ExtConstant(
            f, ast.tab, ast.cell, c, root, c, canonical(display)))
        for combo, binding in cells:
            value = float(_pick(data, coords, combo))
            if not np.isfinite(value):
                raise _unsupported("external data", f"{_describe(ast)}: no number for "
                                   f"{display}[{', '.join(combo)}]")
            out.append((combo, binding, value))
        return out
    interp = (getattr(comp, "keyword", None) or "interpolate").replace(" ", "_").lower()
    data = _read(importer, ast, coords, lambda f, root, c: ExtData(
        f, ast.tab, ast.time_row_or_col, ast.cell, interp, c, root, c, canonical(display)))
    xs = np.asarray(data.coords[data.dims[0]].values, dtype=float)
    for combo, binding in cells:
        ys = _pick(data, coords, combo)
        name = f"{display}[{', '.join(combo)}]" if combo else display
        out.append((combo, binding, series(importer, name, xs, ys, interp, ast)))
    return out


def _data_from_files(importer, comp, dims, display, cells) -> list:
    """A DATA variable without equation, read from the .tab/.csv files given at import.

    Vensim fills such a variable from a data file named at run time (pysd: `data_files`);
    sdmodels takes the files at import (`import_model(path, data_files=[...])`).
    """
    from pysd.py_backend.data import TabData
    from sdmodels.interop import vensim_data
    files = getattr(importer, "data_files", ()) or ()
    if vensim_data.has_dat(importer):       # Vensim's own .dat format
        return vensim_data.cells_from_dat(importer, comp, display, cells)
    if not files:
        raise _unsupported("DATA", "the variable has no equation: Vensim fills it from a data "
                           "file named at run time; give it: sdm ... --data-file data.tab, "
                           "or import_model(path, data_files=['data.tab']); or give the "
                           "variable a GET DATA equation")
    paths = [data_file(importer, f, "DATA") for f in files]
    interp = (getattr(comp, "keyword", None) or "interpolate").replace(" ", "_").lower()
    coords = _coords(importer, comp, dims)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reader = TabData(display, canonical(display), coords, interp)
            reader.load_data(paths)
            data = reader.data
    except Exception as exc:
        lines = [s.strip() for s in str(exc).splitlines() if s.strip()]
        raise _unsupported("DATA", f"reading {', '.join(map(str, files))}: "
                           f"{' '.join(lines[1:] or lines)[:300]}") from None
    xs = np.asarray(data.coords[data.dims[0]].values, dtype=float)
    return [(combo, binding, series(importer, cell_name(display, combo), xs,
                                    _pick(data, coords, combo), interp))
            for combo, binding in cells]


def series(importer, name: str, xs, ys, interp: str, ast=None, *, at: Expr | None = None
           ) -> Expr:
    """A data series as a function of Time (or of `at`) with Vensim's interpolation."""
    at = Time() if at is None else at
    keep = np.isfinite(xs) & np.isfinite(ys)
    xs, ys = tuple(float(x) for x in xs[keep]), tuple(float(y) for y in ys[keep])
    if not xs:
        raise _unsupported("external data", f"{_describe(ast)}: no numbers for {name}")
    if any(b <= a for a, b in zip(xs, xs[1:])):
        raise _unsupported("external data", f"{_describe(ast)}: the times of {name} are not "
                           "increasing")
    importer.counter += 1
    lid = f"{canonical(importer.current)}~data{importer.counter}"
    host = canonical(importer.current)
    if interp == "interpolate":
        importer.extra.append(Lookup(id=lid, display=f"{name} (data)", xs=xs, ys=ys,
                                     origin=host))
        return LookupCall(lid, at)
    # steps without branches: t -> point index (piecewise linear), rounded, -> value
    index = tuple(float(i) for i in range(len(xs)))
    importer.extra.append(Lookup(id=f"{lid}.at", display=f"{name} (data point index)",
                                 xs=xs, ys=index, origin=host))
    importer.extra.append(Lookup(id=lid, display=f"{name} (data)", xs=index, ys=ys,
                                 origin=host))
    at = LookupCall(f"{lid}.at", at)
    if interp == "look_forward":
        pick = Call("ceil", (Binary("-", at, Const(INDEX_EPS)),))
    else:       # hold backward; raw is held between its points too
        pick = Call("floor", (Binary("+", at, Const(INDEX_EPS)),))
    return LookupCall(lid, pick)


def lookup_elements(importer, key: str, element, dims) -> list[Lookup]:
    """The Lookup elements of a lookup definition, one per subscript cell (hardcoded or GET)."""
    display = importer.display[key]
    units, doc = element.units or "", element.documentation or ""
    out = []
    for comp in element.components:
        ast = comp.ast
        if type(ast).__name__ == "GetLookupsStructure":
            from pysd.py_backend.external import ExtLookup     # pysd only for external data
            coords = _coords(importer, comp, dims)
            data = _read(importer, ast, coords, lambda f, root, c: ExtLookup(
                f, ast.tab, ast.x_row_or_col, ast.cell, c, root, c, canonical(display)))
            xs_all = np.asarray(data.coords[data.dims[0]].values, dtype=float)
            points = [(combo, xs_all, _pick(data, coords, combo))
                      for combo, _b in importer._cells(comp, dims)]
        elif type(ast).__name__ == "LookupsStructure":
            points = [(combo, np.asarray(ast.x, float), np.asarray(ast.y, float))
                      for combo, _b in importer._cells(comp, dims)]
        else:
            raise _unsupported("lookup", f"a lookup defined by {type(ast).__name__}")
        for combo, xs, ys in points:
            keep = np.isfinite(xs) & np.isfinite(ys)
            name = cell_name(display, combo)
            out.append(Lookup(id=canonical(name), display=name, units=units, doc=doc,
                              xs=tuple(float(x) for x in xs[keep]),
                              ys=tuple(float(y) for y in ys[keep])))
    return out


def cell_name(display: str, combo) -> str:
    """The display name of one cell of a subscripted lookup: 'table[A, Row1]'."""
    return f"{display}[{', '.join(combo)}]" if combo else display


def lookup_call(importer, ast, binding, arg: Expr) -> Expr:
    """A call of a (possibly subscripted) lookup: the cell picked by the binding."""
    from sdmodels.interop.abstract import key_of
    fn = key_of(ast.function.reference)
    dims = importer.dims_of.get(fn, ())
    display = importer.display[fn]
    if not dims:
        return LookupCall(display, arg)
    combo = named_cell(importer, ast.function, binding, f"a call of lookup '{display}'")
    return LookupCall(canonical(cell_name(display, combo)), arg)


def named_cell(importer, ref, binding, where: str) -> tuple[str, ...]:
    """The elements a subscripted reference `ref` names for the element being defined."""
    from sdmodels.interop.abstract import key_of
    dims = importer.dims_of.get(key_of(ref.reference), ())
    combo = []
    for s in (list(ref.subscripts.subscripts) if ref.subscripts else list(dims)):
        element = importer.subs.resolve(s, binding)
        if element is None:
            raise _unsupported("subscript", f"'{s}' in {where} cannot be matched to the "
                               "element being defined")
        combo.append(element)
    return tuple(combo)


def subscript_elements(importer, spec: dict) -> list[str]:
    """The elements of a subscript range read by GET XLS/DIRECT SUBSCRIPT."""
    from pysd.py_backend.external import Excels, ExtSubscript
    what = (f"GET SUBSCRIPT (file '{spec.get('file')}', sheet '{spec.get('tab')}', cells "
            f"'{spec.get('firstcell')}'..'{spec.get('lastcell')}')")
    path = data_file(importer, spec["file"], what)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return list(ExtSubscript(path.name, spec["tab"], spec["firstcell"],
                                     spec.get("lastcell") or "", spec.get("prefix") or "",
                                     path.parent).subscript)
    except Exception as exc:
        lines = [s.strip() for s in str(exc).splitlines() if s.strip()]
        raise _unsupported("external data", f"{what}: {' '.join(lines)[:300]}") from None
    finally:
        Excels.clean()


def time_value(importer, args, binding, initial) -> Expr:
    """GET TIME VALUE(relativeto, offset, measure), as pysd implements it: model time only."""
    known = importer._times()
    relative, measure = (importer._static(a, known) for a in (args[0], args[2]))
    offset = importer.expr(args[1], binding, initial=initial)
    if relative == 0 and measure == 0:
        return Binary("+", Time(), offset)
    raise _unsupported("GET TIME VALUE", f"relativeto={relative}, measure={measure}: only the "
                       "current model time (0, offset, 0) is supported, as in pysd")
