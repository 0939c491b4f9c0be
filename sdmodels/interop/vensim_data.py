"""Vensim data variables filled from .dat files, and GET DATA BETWEEN TIMES.

A data variable with no equation (`Values[DimA] ~~|`) takes its series from a data file
named at run time. Besides .tab/.csv (read by pysd's TabData in external.py), Vensim writes
and reads `.dat` files: a variable-name line (`Values[A1]`), then `time<TAB>value` lines
(vensim.com/documentation/ref_data.html; the SDEverywhere test models give theirs in
NAME_spec.json, `externalDatfiles`). A cell the file does not hold is :NA: (Vensim's
-2^109), as Vensim leaves a missing series of a sparse data variable; a variable none of whose
cells any file holds is refused (most likely the wrong file was given).

GET DATA BETWEEN TIMES(data, time, mode) (fn_get_data_between_times.html) reads a data
variable at any time: mode 0 interpolates, 1 looks forward, -1 looks backward; :NA: before
the first or after the last data point. Vensim's own
output of SDEverywhere's getdata model (getdata.dat, data at times 0 1 2 9 10, read at
t +- 0.5 and t +- 1) shows what the two step modes do: the time is first cut down to a whole
number; forward then gives the first point at or after it, backward the last point strictly
before it (the first point's value at or before the first time). GET DATA MIN / MAX(data,
start, end) (fn_get_data_min.html) give the least / greatest data point from start to end;
GET DATA MEAN(data, start, end) the mean of those points (the rule of its sibling
fn_get_data_min.html: points from start to end, :NA: when none); GET DATA FIRST TIME, LAST
TIME and TOTAL POINTS(data) the first and last time with data and the number of points;
GET DATA AT TIME(data, time) the value the variable takes at that time (its own keyword), :NA:
outside its data; GET DATA MEDIAN(data, start, end) the median of the points, bounds known at
import.

>>> import tempfile
>>> from pathlib import Path
>>> with tempfile.TemporaryDirectory() as d:
...     p = Path(d) / "d.dat"
...     _ = p.write_text("x[A1, B2]\\n0\\t1\\n2\\t5\\n")
...     table = read_dat(p)
>>> table[dat_key("X", ("a1", "b2"))]
((0.0, 2.0), (1.0, 5.0))
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from sdmodels.expr import Binary, Call, Const, Expr

NA = -2.0 ** 109
MODES = {0: "interpolate", 1: "look_forward", -1: "hold_backward"}


def dat_key(name: str, combo=()) -> str:
    """One spelling for 'Values[A1,B2]' and ('values', ('a1', 'b2')): case, spaces and
    underscores do not count."""
    def norm(s):
        return re.sub(r"[\s_]+", " ", str(s).strip().strip('"').lower())
    return norm(name) + (f"[{','.join(norm(e) for e in combo)}]" if combo else "")


def dat_blocks(path: Path):
    """(name line, times, values) for each series of a Vensim .dat file, in file order."""
    current, xs, ys = None, [], []
    for line in Path(path).read_text(encoding="utf-8", errors="replace").splitlines():
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) == 2 and current is not None:
            try:
                xs.append(float(parts[0]))
                ys.append(float(parts[1]))
                continue
            except ValueError:
                del xs[len(ys):]
        if current is not None:
            yield current, tuple(xs), tuple(ys)
        current, xs, ys = line.strip(), [], []
    if current is not None:
        yield current, tuple(xs), tuple(ys)


def read_dat(path: Path) -> dict[str, tuple[tuple[float, ...], tuple[float, ...]]]:
    """Every series of a Vensim .dat file: dat_key -> (times, values)."""
    out = {}
    for head, xs, ys in dat_blocks(path):
        name, _, rest = head.partition("[")
        out.setdefault(dat_key(name, rest.rstrip("]").split(",") if rest else ()), (xs, ys))
    return out


def _tables(importer) -> list[dict]:
    """The .dat files given at import, read once per import."""
    from sdmodels.interop.external import data_file
    cached = getattr(importer, "dat_tables", None)
    if cached is None:
        files = [f for f in (getattr(importer, "data_files", ()) or ())
                 if str(f).lower().endswith(".dat")]
        cached = [read_dat(data_file(importer, f, "DATA")) for f in files]
        importer.dat_tables = cached
    return cached


def has_dat(importer) -> bool:
    """True if the import was given .dat data files."""
    return any(str(f).lower().endswith(".dat")
               for f in (getattr(importer, "data_files", ()) or ()))


def dat_series(importer, display: str, combo) -> tuple | None:
    """(times, values) of one cell of a data variable in the .dat files; None if absent."""
    key = dat_key(display, combo)
    for table in _tables(importer):
        if key in table:
            return table[key]
    return None


def cells_from_dat(importer, comp, display: str, cells) -> list:
    """(combo, binding, expression of Time) for each cell of a data variable with no
    equation; a cell no file holds is :NA:."""
    from sdmodels.interop.external import cell_name, series
    from sdmodels.interop.abstract import Unsupported
    interp = (getattr(comp, "keyword", None) or "interpolate").replace(" ", "_").lower()
    if cells and all(dat_series(importer, display, combo) is None for combo, _b in cells):
        files = [str(f) for f in importer.data_files if str(f).lower().endswith(".dat")]
        raise Unsupported("DATA", f"none of the data files given ({', '.join(files)}) holds a "
                          f"series of '{display}'; pass the file that does")
    out = []
    for combo, binding in cells:
        found = dat_series(importer, display, combo)
        if found is None:
            out.append((combo, binding, Const(NA)))
            continue
        xs, ys = (np.asarray(v, dtype=float) for v in found)
        out.append((combo, binding, series(importer, cell_name(display, combo), xs, ys,
                                           interp)))
    return out


def _data_cell(importer, fn: str, ref, binding) -> tuple[str, tuple]:
    """The name of the data variable cell `ref` names, and its (times, values)."""
    from sdmodels.interop.abstract import Unsupported, key_of
    from sdmodels.interop.external import cell_name, named_cell
    what = fn.upper().replace("_", " ")
    key = key_of(getattr(ref, "reference", ""))
    if key not in importer.elements:
        raise Unsupported(what, "its first argument must be a data variable of the model")
    display = importer.display[key]
    combo = named_cell(importer, ref, binding, f"{what} of '{display}'")
    found = dat_series(importer, display, combo) if has_dat(importer) else None
    if found is None or not found[0]:
        raise Unsupported(what, f"no data series for {cell_name(display, combo)} in the .dat "
                          "files given at import (sdm ... --data-file data.dat, or "
                          "import_model(path, data_files=['data.dat']))")
    return cell_name(display, combo), found


def _outside(at: Expr, xs, inside: Expr) -> Expr:
    """:NA: before the first or after the last data point, `inside` between them."""
    out = Binary("+", Binary("<", at, Const(float(xs[0]))),
                 Binary(">", at, Const(float(xs[-1]))))
    return Call("if_then_else", (out, Const(NA), inside))


def get_data_between_times(importer, fn, args_ast, binding, initial) -> Expr:
    """GET DATA BETWEEN TIMES(data[cell], time, mode) on a data variable read from files."""
    from sdmodels.interop.abstract import Unsupported
    from sdmodels.interop.vensim_builtins import _step_sum
    from sdmodels.interop.vensim_delays import constant_ast
    ref, time_ast, mode_ast = args_ast
    mode = importer._static(mode_ast, {}) if constant_ast(importer, mode_ast) else None
    if mode is None or round(mode) not in MODES:
        raise Unsupported("GET DATA BETWEEN TIMES", "the mode must be a number known at "
                          "import: 0 (interpolate), 1 (forward) or -1 (backward)")
    name, (xs, ys) = _data_cell(importer, fn, ref, binding)
    at = importer.expr(time_ast, binding, initial=initial)
    if round(mode) == 0:
        return _value_at(importer, name, xs, ys, "interpolate", at)
    inside = _step_sum(Call("floor", (at,)), xs, ys, forward=round(mode) == 1, reach=">")
    return _outside(at, xs, inside)


def _value_at(importer, name: str, xs, ys, keyword: str, at: Expr) -> Expr:
    """The data series (xs, ys) read at `at` by `keyword`, :NA: outside its points."""
    from sdmodels.interop.external import series
    return _outside(at, xs, series(importer, name, np.asarray(xs, dtype=float),
                                   np.asarray(ys, dtype=float), keyword, at=at))


def get_data_at_time(importer, fn, args_ast, binding, initial) -> Expr:
    """GET DATA AT TIME(data[cell], time) (function_changes.html, Vensim 4.1: "the value for
    the data variable D at time T or :NA: if not available"): the value the variable takes at
    that time by its own keyword (:INTERPOLATE: unless it says :HOLD BACKWARD: / :LOOK
    FORWARD: / :RAW:), :NA: before its first and after its last data point."""
    from sdmodels.interop.abstract import key_of
    ref, time_ast = args_ast
    name, (xs, ys) = _data_cell(importer, fn, ref, binding)
    comps = importer.elements[key_of(ref.reference)].components
    keyword = (getattr(comps[0], "keyword", None) or "interpolate").replace(" ", "_").lower()
    return _value_at(importer, name, xs, ys, keyword,
                     importer.expr(time_ast, binding, initial=initial))


def _in_range(x: float, start: Expr, end: Expr) -> Expr:
    """1 if the data time x lies from start to end (both included), else 0."""
    return Binary("*", Binary(">=", Const(x), start), Binary("<=", Const(x), end))


def get_data_extreme(importer, fn, args_ast, binding, initial) -> Expr:
    """GET DATA MIN / MAX(data[cell], start, end) (fn_get_data_min.html): the least or
    greatest value of the data points from start to end; :NA: when there are none."""
    ref, start_ast, end_ast = args_ast
    _name, (xs, ys) = _data_cell(importer, fn, ref, binding)
    start, end = (importer.expr(a, binding, initial=initial) for a in (start_ast, end_ast))
    pick, none = ("min", 1e300) if fn == "get_data_min" else ("max", -1e300)
    out: Expr = Const(none)
    for x, y in zip(xs, ys):
        inside = _in_range(x, start, end)
        out = Call(pick, (out, Call("if_then_else", (inside, Const(y), Const(none)))))
    return Call("if_then_else", (Binary("=", out, Const(none)), Const(NA), out))


def get_data_mean(importer, fn, args_ast, binding, initial) -> Expr:
    """GET DATA MEAN(data[cell], start, end): the mean of the data points from start to end,
    each point counted once as GET DATA MIN / MAX count them; :NA: when there are none."""
    ref, start_ast, end_ast = args_ast
    _name, (xs, ys) = _data_cell(importer, fn, ref, binding)
    start, end = (importer.expr(a, binding, initial=initial) for a in (start_ast, end_ast))
    count: Expr = Const(0.0)
    total: Expr = Const(0.0)
    for x, y in zip(xs, ys):
        inside = _in_range(x, start, end)
        count = Binary("+", count, inside)
        total = Binary("+", total, Binary("*", inside, Const(y)))
    return Call("if_then_else", (Binary("=", count, Const(0.0)), Const(NA),
                                 Binary("/", total, Call("max", (count, Const(1.0))))))


def get_data_summary(importer, fn, args_ast, binding, initial) -> Expr:
    """GET DATA FIRST TIME / LAST TIME / TOTAL POINTS(data[cell]): the time of the first or
    last data point of the cell, or how many points it has, fixed by the data files."""
    _name, (xs, _ys) = _data_cell(importer, fn, args_ast[0], binding)
    return Const({"get_data_first_time": float(xs[0]), "get_data_last_time": float(xs[-1]),
                  "get_data_total_points": float(len(xs))}[fn])


def get_data_median(importer, fn, args_ast, binding, initial) -> Expr:
    """GET DATA MEDIAN(data[cell], start, end) with start and end known at import: the median
    of the data points from start to end (counted as GET DATA MIN / MAX count them; the mean
    of the middle two when their number is even); :NA: when there are none."""
    from sdmodels.interop.abstract import Unsupported
    from sdmodels.interop.vensim_delays import constant_ast
    ref, start_ast, end_ast = args_ast
    _name, (xs, ys) = _data_cell(importer, fn, ref, binding)
    bounds = [importer._static(a, importer._times()) if constant_ast(importer, a) else None
              for a in (start_ast, end_ast)]
    if None in bounds:
        raise Unsupported("GET DATA MEDIAN", "start and end must be known at import (numbers, "
                          "constants or INITIAL TIME / FINAL TIME), as in its usual place "
                          "inside INITIAL")
    inside = [y for x, y in zip(xs, ys) if bounds[0] <= x <= bounds[1]]
    return Const(float(np.median(inside)) if inside else NA)
