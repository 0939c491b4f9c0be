"""Vensim built-ins written out in our IR at import time, each with Vensim's semantics.

Sources (Vensim's reference, vensim.com/documentation/):
- LOOKUP FORWARD / BACKWARD / EXTRAPOLATE (fn_lookup_forward.html, fn_lookup_backward.html,
  fn_lookup_extrapolate.html): the next y, the previous y, or linear extrapolation beyond
  the ends, instead of interpolation with the ends held.
- LOOKUP AREA(lookup, start, end) (fn_lookup_area.html): the area under the lookup (ends
  held) from start to end.
- VECTOR LOOKUP(vec, x, xmin, xmax, mode) (fn_vector_lookup.html): a lookup whose y values
  are the elements of vec, evenly spaced from xmin to xmax; modes 0 (lookup), 1 (LOOKUP
  AREA from xmin), 2 (backward), 3 (extrapolate), 4 (forward), 5 (LOOKUP INVERT), 7 (the
  area with the end segments extrapolated, negative left of xmin), 8 (LOOKUP INVERT with
  extrapolation: the smallest x at which the extrapolated table gives y), and the slope modes
  6 (LOOKUP SLOPE, 0 outside) and 9 (LOOKUP SLOPE with extrapolation: the end segments'
  slopes outside).
- LOOKUP SLOPE(lookup, x, m) (fn_lookup_slope.html): the slope at x, the mean of the two
  segments' at a point of the table; outside it 0 (m = 0), the nearest segment's (1) or :NA:
  (-1).
- LOOKUP INVERT(lookup, y) (fn_lookup_invert.html): the smallest x at which the lookup
  gives y; :NA: when y lies outside its y values.
- VECTOR ELM MAP(vec, offset) (fn_vector_elm_map.html): the element `offset` places after
  the one named, counted over the whole variable in subscript order; :NA: outside it.
- NPV(stream, rate, init, factor) (fn_npv.html): the equivalent equations given there,
  NPV = (accum + stream * TIME STEP * df) * factor, accum = INTEG(stream * df, init),
  df = INTEG(-df * rate / (1 + rate * TIME STEP), 1); NPVE (fn_npve.html) the same with df
  starting at 1 / (1 + rate * TIME STEP).
- SINTEG(rate, initial, min, max, quant, spec, thresh) (fn_sinteg.html): an integral kept
  within [min, max], a multiple of quant, and snapped to spec within thresh (:NA: = off).
- DELAY MATERIAL(x, t, init, missing) and DELAY INFORMATION(x, t, init) (22300.html,
  fn_delay_material.html): pipeline delays that differ in what a changing delay time does
  (conserve x, or discard / hold inputs); with a delay time fixed for the run both are DELAY
  FIXED; with a varying one both are vensim_delays.varying_delay (fn_delay_information.html:
  a decreasing delay time discards inputs for more recent ones, an increasing one holds).

>>> step = _step_sum(Const(1.5), (0.0, 1.0, 2.0), (1.0, 1.0, 2.0), forward=True)
>>> step.right.left           # the one step (y 1 -> 2) counts once x has passed x = 1
Binary(op='>', left=Const(value=1.5), right=Const(value=1.0))
"""
from __future__ import annotations

from sdmodels.elements import Flow, Stock, canonical
from sdmodels.expr import Binary, Call, Const, DelayFixed, Expr, LookupCall, Ref, TimeStep
from sdmodels.interop.vensim_data import (get_data_at_time, get_data_between_times,
                                          get_data_extreme, get_data_mean, get_data_median,
                                          get_data_summary)
from sdmodels.interop.vensim_delays import delayp
from sdmodels.interop.vensim_functions import REFUSED, refused

NA = -2.0 ** 109


def _step_sum(x: Expr, xs, ys, *, forward: bool, reach: str = ">=") -> Expr:
    """y0 plus each step y[i] - y[i-1] once x has passed x[i-1] (forward) or reached x[i]
    (`reach` ">" for: passed x[i])."""
    out: Expr = Const(float(ys[0]))
    for i in range(1, len(xs)):
        if ys[i] == ys[i - 1]:
            continue
        passed = Binary(">", x, Const(float(xs[i - 1]))) if forward else \
            Binary(reach, x, Const(float(xs[i])))
        out = Binary("+", out, Binary("*", passed, Const(float(ys[i] - ys[i - 1]))))
    return out


def _ramp_sum(x: Expr, xs: list[Expr], ys: list[Expr]) -> Expr:
    """Linear interpolation through (xs, ys), ends held, written as a sum of clamped ramps."""
    out = ys[0]
    for i in range(1, len(xs)):
        share = Binary("/", Binary("-", x, xs[i - 1]), Binary("-", xs[i], xs[i - 1]))
        clamped = Call("min", (Call("max", (share, Const(0.0))), Const(1.0)))
        out = Binary("+", out, Binary("*", clamped, Binary("-", ys[i], ys[i - 1])))
    return out


def _extrapolated(x: Expr, xs: list[Expr], ys: list[Expr], inside: Expr) -> Expr:
    """`inside` between the ends, the end segments' lines beyond them."""
    def line(a, b):
        slope = Binary("/", Binary("-", ys[b], ys[a]), Binary("-", xs[b], xs[a]))
        return Binary("+", ys[a], Binary("*", Binary("-", x, xs[a]), slope))
    if len(xs) < 2:
        return inside
    return Call("if_then_else", (Binary("<", x, xs[0]), line(0, 1), Call(
        "if_then_else", (Binary(">", x, xs[-1]), line(-2, -1), inside))))


def lookup_mode(importer, fn: str, args_ast, binding, initial) -> Expr:
    """LOOKUP FORWARD / BACKWARD / EXTRAPOLATE / INVERT(lookup, x) on a lookup of the model."""
    ref, x_ast = args_ast
    x, table = _table_at(importer, fn.upper().replace("_", " "), ref, x_ast, binding, initial)
    if fn == "lookup_extrapolate":
        xs = [Const(v) for v in table.xs]
        ys = [Const(v) for v in table.ys]
        return _extrapolated(x, xs, ys, _cell_call(importer, ref, binding, x))
    if fn == "lookup_invert":
        return _invert(x, table.xs, table.ys)
    return _step_sum(x, table.xs, table.ys, forward=fn == "lookup_forward")


def _c(v) -> Expr:
    return v if isinstance(v, Expr) else Const(float(v))


def _area_to(x: Expr, xs, ys, *, extrapolate: bool = False) -> Expr:
    """The area under the table from its first x to x: its end values held beyond it, or
    (`extrapolate`) its end segments' lines continued (then negative left of the start)."""
    xs, ys = [_c(v) for v in xs], [_c(v) for v in ys]

    def end(k, a, b, d):      # area from xs[k] over a signed distance d beyond that end
        out = Binary("*", ys[k], d)
        if extrapolate and len(xs) > 1:
            slope = Binary("/", Binary("-", ys[b], ys[a]), Binary("-", xs[b], xs[a]))
            out = Binary("+", out, Binary("*", Binary("*", Const(0.5), slope),
                                          Binary("*", d, d)))
        return out
    out = end(0, 0, 1, Call("min", (Binary("-", x, xs[0]), Const(0.0))))
    for i in range(1, len(xs)):
        if isinstance(xs[i], Const) and isinstance(xs[i - 1], Const) and \
                xs[i].value <= xs[i - 1].value:
            continue
        width = Binary("-", xs[i], xs[i - 1])
        length = Call("min", (Call("max", (Binary("-", x, xs[i - 1]), Const(0.0))), width))
        rise = Binary("/", Binary("-", ys[i], ys[i - 1]), Binary("*", Const(2.0), width))
        out = Binary("+", out, Binary("+", Binary("*", ys[i - 1], length),
                                      Binary("*", rise, Binary("*", length, length))))
    beyond = Call("max", (Binary("-", x, xs[-1]), Const(0.0)))
    return Binary("+", out, end(-1, -2, -1, beyond))


def _invert(y: Expr, xs, ys) -> Expr:
    """LOOKUP INVERT (fn_lookup_invert.html): the smallest x whose interpolated value is y;
    :NA: when y lies outside the table's y values."""
    xs, ys = [_c(v) for v in xs], [_c(v) for v in ys]
    out: Expr = Const(NA)
    for i in range(len(xs) - 1, 0, -1):
        lo, hi = Call("min", (ys[i - 1], ys[i])), Call("max", (ys[i - 1], ys[i]))
        inside = Binary("*", Binary(">=", y, lo), Binary("<=", y, hi))
        share = Call("zidz", (Binary("-", y, ys[i - 1]), Binary("-", ys[i], ys[i - 1])))
        at = Binary("+", xs[i - 1], Binary("*", share, Binary("-", xs[i], xs[i - 1])))
        out = Call("if_then_else", (inside, at, out))
    if len(xs) == 1:
        out = Call("if_then_else", (Binary("=", y, ys[0]), xs[0], out))
    return out


def _invert_extrapolated(y: Expr, xs, ys) -> Expr:
    """VECTOR LOOKUP mode 8, LOOKUP INVERT with extrapolation: the smallest x at which the
    table with its end segments' lines continued gives y (a flat end segment reaches no y
    beyond it; :NA: when no x gives y)."""
    xs, ys = [_c(v) for v in xs], [_c(v) for v in ys]

    def beyond(k, a, b):       # how far past xs[k] the end line through a, b reaches y
        slope = Binary("/", Binary("-", ys[b], ys[a]), Binary("-", xs[b], xs[a]))
        return Call("zidz", (Binary("-", y, ys[k]), slope))
    left, right = beyond(0, 0, 1), beyond(-1, -2, -1)
    inside = _invert(y, xs, ys)
    out = Call("if_then_else", (Binary("*", Binary("=", inside, Const(NA)),
                                       Binary(">", right, Const(0.0))),
                                Binary("+", xs[-1], right), inside))
    return Call("if_then_else", (Binary("<", left, Const(0.0)), Binary("+", xs[0], left), out))


# LOOKUP SLOPE's third argument and VECTOR LOOKUP's slope modes: what x outside the lookup's
# x range gives (fn_lookup_slope.html): 0, the slope of the nearest segment, or :NA:.
SLOPE_OUTSIDE = {0: "zero", 1: "extend", -1: "na"}


def _slope(x: Expr, xs, ys, outside: str) -> Expr:
    """LOOKUP SLOPE (fn_lookup_slope.html): the slope of the segment x lies on; at a point of
    the table the mean of the slopes before and after it (at an end point the one segment's;
    :NA: where two points share that x); beyond the ends 0, the end segment's slope or :NA:
    as `outside` says.

    The reference's examples (LOOKUP SLOPE at -1, 0.5, 1 and 1.5 giving NA / 0 / 1, 1, .75,
    .5) fit its rule on the table ((0,0),(1,1),(2,1.5)), not on the one printed with them
    ((0,1),(1,1),(2,3)); tests/test_interop_vensim_builtins.py checks all six on the former.
    """
    xs, ys = [_c(v) for v in xs], [_c(v) for v in ys]
    if len(xs) < 2:
        inside: Expr = Const(0.0)
        first = last = Const(0.0)
    else:
        def same(a, b):
            return isinstance(a, Const) and isinstance(b, Const) and a.value == b.value
        seg = [None if same(xs[i], xs[i - 1]) else Binary(
            "/", Binary("-", ys[i], ys[i - 1]), Binary("-", xs[i], xs[i - 1]))
            for i in range(1, len(xs))]
        first = next((s for s in seg if s is not None), Const(0.0))
        last = next((s for s in reversed(seg) if s is not None), Const(0.0))
        inside = last
        for i in range(len(xs) - 2, 0, -1):       # the open segment x lies on
            if seg[i - 1] is not None:
                inside = Call("if_then_else", (Binary("<", x, xs[i]), seg[i - 1], inside))
        for k in range(len(xs) - 1, -1, -1):       # x on a point of the table
            around = [seg[j] for j in (k - 1, k) if 0 <= j < len(seg)]
            if None in around:
                at: Expr = Const(NA)
            elif len(around) == 1:
                at = around[0]
            else:
                at = Binary("/", Binary("+", around[0], around[1]), Const(2.0))
            inside = Call("if_then_else", (Binary("=", x, xs[k]), at, inside))
    left, right = {"zero": (Const(0.0), Const(0.0)), "extend": (first, last),
                   "na": (Const(NA), Const(NA))}[outside]
    return Call("if_then_else", (Binary("<", x, xs[0]), left, Call(
        "if_then_else", (Binary(">", x, xs[-1]), right, inside))))


def lookup_slope(importer, _fn, args_ast, binding, initial) -> Expr:
    """LOOKUP SLOPE(lookup, x, m) with m (0, 1 or -1) known at import."""
    from sdmodels.interop.abstract import Unsupported
    from sdmodels.interop.vensim_delays import constant_ast
    if len(args_ast) != 3:
        raise Unsupported("LOOKUP SLOPE", f"takes three arguments (lookup, x, mode), not "
                          f"{len(args_ast)}")
    mode = importer._static(args_ast[2], {}) if constant_ast(importer, args_ast[2]) else None
    if mode is None or round(mode) not in SLOPE_OUTSIDE:
        raise Unsupported("LOOKUP SLOPE", "the mode must be a number known at import: 0 (0 "
                          "outside the lookup), 1 (the end segment's slope) or -1 (:NA:)")
    x, table = _table_at(importer, "LOOKUP SLOPE", args_ast[0], args_ast[1], binding, initial)
    return _slope(x, table.xs, table.ys, SLOPE_OUTSIDE[round(mode)])


def _table_at(importer, what: str, ref, x_ast, binding, initial):
    """(x, the lookup table of the cell `ref` names) for a lookup function's arguments."""
    from sdmodels.interop import external
    from sdmodels.interop.abstract import Unsupported, key_of
    key = key_of(getattr(ref, "reference", ""))
    if key not in importer.lookup_ids:
        raise Unsupported(what, "its first argument must be a lookup defined in the model")
    x = importer.expr(x_ast, binding, initial=initial)
    call = _cell_call(importer, ref, binding, x)
    tables = {t.id: t for t in external.lookup_elements(
        importer, key, importer.elements[key], importer.dims_of.get(key, ()))}
    return x, tables.get(call.table) or tables[canonical(call.table)]


def lookup_area(importer, _fn, args_ast, binding, initial) -> Expr:
    """LOOKUP AREA(lookup, start, end) (fn_lookup_area.html): the area under the lookup,
    end values held beyond its range, from start to end."""
    ref, start_ast, end_ast = args_ast
    start, table = _table_at(importer, "LOOKUP AREA", ref, start_ast, binding, initial)
    end = importer.expr(end_ast, binding, initial=initial)
    return Binary("-", _area_to(end, table.xs, table.ys), _area_to(start, table.xs, table.ys))


def _cell_call(importer, ref, binding, x) -> LookupCall:
    from sdmodels.interop import external

    class _Call:       # lookup_call reads the name from ast.function
        function = ref
    return external.lookup_call(importer, _Call, binding, x)


def vector_lookup(importer, _fn, args_ast, binding, initial) -> Expr:
    """VECTOR LOOKUP(vec[first], x, xmin, xmax, mode) with a mode known at import."""
    from sdmodels.interop.abstract import Unsupported
    e = lambda a: importer.expr(a, binding, initial=initial)  # noqa: E731
    ys = _from_named(importer, args_ast[0], binding, initial)
    x, xmin, xmax, mode = (e(a) for a in args_ast[1:5])
    if not isinstance(mode, Const) or mode.value not in (0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0,
                                                         7.0, 8.0, 9.0):
        raise Unsupported("VECTOR LOOKUP", "the mode must be a whole number from 0 to 9 known "
                          "at import (fn_vector_lookup.html)")
    n = len(ys)
    if n < 2:
        if mode.value in (1.0, 5.0, 7.0, 8.0):
            raise Unsupported("VECTOR LOOKUP", "the area and invert modes need a vector of "
                              "at least two elements")
        return Const(0.0) if mode.value in (6.0, 9.0) else ys[0]    # flat: no slope
    span = Binary("/", Binary("-", xmax, xmin), Const(float(n - 1)))
    xs = [Binary("+", xmin, Binary("*", Const(float(i)), span)) for i in range(n)]
    m = mode.value
    if m in (1.0, 7.0):     # the area from xmin (fn_vector_lookup.html)
        return _area_to(x, xs, ys, extrapolate=m == 7.0)
    if m == 5.0:
        return _invert(x, xs, ys)
    if m in (6.0, 9.0):     # LOOKUP SLOPE, 0 outside / the end segments' slopes continued
        return _slope(x, xs, ys, "zero" if m == 6.0 else "extend")
    if m == 8.0:
        return _invert_extrapolated(x, xs, ys)
    inside = _ramp_sum(x, xs, ys)
    if m == 3.0:
        return _extrapolated(x, xs, ys, inside)
    if m in (2.0, 4.0):
        out = ys[0]
        for i in range(1, n):
            passed = Binary(">", x, xs[i - 1]) if m == 4.0 else Binary(">=", x, xs[i])
            out = Binary("+", out, Binary("*", passed, Binary("-", ys[i], ys[i - 1])))
        return out
    return inside


def _flat(importer, ref_ast, binding, initial) -> tuple[list[Expr], int]:
    """Every element of the variable `ref_ast` names, in subscript order, and the position of
    the element named."""
    from sdmodels.interop.abstract import Unsupported, key_of
    import itertools
    key = key_of(ref_ast.reference)
    dims = importer.dims_of.get(key, ())
    if not dims or ref_ast.subscripts is None:
        raise Unsupported("vector function", f"'{ref_ast.reference}' must be subscripted")
    subs = list(ref_ast.subscripts.subscripts)
    named = []
    for s in subs:
        element = importer.subs.resolve(s.rstrip("!"), binding)
        if element is None:
            raise Unsupported("subscript", f"'{s}' in '{ref_ast.reference}' cannot be matched "
                              "to the element being defined")
        named.append(element)
    elems = [importer.subs.ranges[d.split(" (repeated ")[0]] for d in dims]
    combos = list(itertools.product(*elems))
    display = importer.display[key]
    from sdmodels.expr import Index
    values = [Index(Ref(display), combo) for combo in combos]
    return values, combos.index(tuple(named))


def _from_named(importer, ref_ast, binding, initial) -> list[Expr]:
    """The elements of a variable along its last subscript from the one named on."""
    values, start = _flat(importer, ref_ast, binding, initial)
    from sdmodels.interop.abstract import key_of
    dims = importer.dims_of[key_of(ref_ast.reference)]
    last = len(importer.subs.ranges[dims[-1].split(" (repeated ")[0]])
    end = (start // last + 1) * last
    return values[start:end]


def vector_elm_map(importer, _fn, args_ast, binding, initial) -> Expr:
    """VECTOR ELM MAP(vec[named], offset): a fixed offset picks at import, else at run time."""
    values, start = _flat(importer, args_ast[0], binding, initial)
    offset = importer.expr(args_ast[1], binding, initial=initial)
    if isinstance(offset, Const):
        pos = start + int(round(offset.value))
        return values[pos] if 0 <= pos < len(values) else Const(NA)
    return Call("vector_reorder", (Binary("+", Const(float(start)), offset), *values))


def npv(importer, stream: Expr, rate: Expr, init: Expr, factor: Expr, *, end: bool = False
        ) -> Expr:
    """NPV through the two stocks of Vensim's equivalent equations; `end`: NPVE's, whose
    discount factor starts at 1 / (1 + rate * TIME STEP) (values at the end of each step)."""
    step_rate = Binary("+", Const(1.0), Binary("*", rate, TimeStep()))
    df0 = Binary("/", Const(1.0), step_rate) if end else Const(1.0)
    df = _state(importer, "discount factor", df0, lambda s: Binary(
        "/", Binary("*", Binary("*", Const(-1.0), s), rate),
        Binary("+", Const(1.0), Binary("*", rate, TimeStep()))))
    accum = _state(importer, "discounted sum", init, lambda s: Binary("*", stream, df))
    now = Binary("*", Binary("*", stream, TimeStep()), df)
    return Binary("*", Binary("+", accum, now), factor)


def npve(importer, _fn, args_ast, binding, initial) -> Expr:
    """NPVE(stream, rate, init, factor) (fn_npve.html): NPV valued at the end of each step."""
    from sdmodels.interop.abstract import Unsupported
    if len(args_ast) != 4:
        raise Unsupported("NPVE", f"takes four arguments (stream, discount rate, initial "
                          f"value, factor), not {len(args_ast)}")
    return npv(importer, *(importer.expr(a, binding, initial=initial) for a in args_ast),
               end=True)


def _state(importer, what: str, initial: Expr, rate) -> Ref:
    """An internal stock of the variable being imported, with its net flow rate(stock)."""
    importer.counter += 1
    host = canonical(importer.current)
    sid = f"{host}~{what.replace(' ', '_')}{importer.counter}"
    importer.extra.append(Stock(id=sid, display=f"{importer.current} ({what})",
                                initial=initial, origin=host))
    importer.extra.append(Flow(id=f"{sid}.rate", display=f"{importer.current} ({what} rate)",
                               equation=rate(Ref(sid)), into=sid, origin=host))
    return Ref(sid)


def sinteg_step(value: Expr, lo: Expr, hi: Expr, quant: Expr, spec: Expr, thresh: Expr
                ) -> Expr:
    """SINTEG's restrictions on the value the plain integral would take (arguments :NA:
    switch theirs off): snapped to spec within thresh, a multiple of quant, within [lo, hi]."""
    out = value
    if _given(spec) and _given(thresh):
        near = Binary("<", Call("abs", (Binary("-", out, spec),)), thresh)
        out = Call("if_then_else", (near, spec, out))
    if _given(quant):
        out = Binary("*", quant, Call("round", (Binary("/", out, quant),)))
    if _given(lo):
        out = Call("max", (out, lo))
    if _given(hi):
        out = Call("min", (out, hi))
    return out


def sinteg_stock(importer, model, display: str, dims, by_key: dict, units: str, doc: str
                 ) -> None:
    """A SINTEG variable: a stock whose step takes it where SINTEG's restrictions allow
    (with Euler, exactly the restricted value of the plain integral's next value)."""
    from sdmodels.elements import PerElement
    from sdmodels.expr import Index
    from sdmodels.interop.abstract import Unsupported
    flows, inits = {}, {}
    for combo, (binding, ast) in by_key.items():
        if len(getattr(ast, "arguments", ())) != 7:
            raise Unsupported("SINTEG", "needs all seven arguments (rate, initial, min, max, "
                              "quant, spec, thresh), and every element defined by SINTEG")
        args = [importer.expr(a, binding) for a in ast.arguments]
        inits[combo] = importer.expr(ast.arguments[1], binding, initial=True)
        here = Index(Ref(display), combo) if dims else Ref(display)
        step = sinteg_step(Binary("+", here, Binary("*", TimeStep(), args[0])), *args[2:])
        flows[combo] = Binary("/", Binary("-", step, here), TimeStep())
    pick = (lambda v: PerElement(tuple(v.items()))) if dims else (lambda v: v[()])
    sid = canonical(display)
    model._insert(Stock(id=sid, display=display, dims=dims, units=units, doc=doc,
                        initial=pick(inits)))
    importer.extra.append(Flow(id=f"{sid}~net", display=f"{display} (net flow)", dims=dims,
                               equation=pick(flows), into=sid, origin=sid))


def _given(arg: Expr) -> bool:
    return not (isinstance(arg, Const) and arg.value == NA)


def delay_material(importer, fn, args_ast, binding, initial) -> Expr:
    """DELAY MATERIAL / DELAY INFORMATION: with a delay time fixed for the run both are DELAY
    FIXED (they differ only in what a changing delay time does); with a changing one each
    input is scheduled by the delay time it entered with (vensim_delays.varying_delay)."""
    from sdmodels.interop.abstract import Unsupported
    from sdmodels.interop.vensim_delays import constant_ast, varying_delay
    args = [importer.expr(a, binding, initial=initial) for a in args_ast]
    wanted = 4 if fn == "delay_material" else 3
    if len(args) != wanted:
        raise Unsupported(fn.upper().replace("_", " "), f"takes {wanted} arguments (input, "
                          "delay time, initial value" + (", missing value" if wanted == 4
                                                         else "") + f"), not {len(args)}")
    if constant_ast(importer, args_ast[1]):
        return DelayFixed(tuple(args[:3]))
    starts = [importer.expr(a, binding, initial=True) for a in args_ast]
    return varying_delay(importer, fn, args, starts, args_ast[1])


BY_AST = {"lookup_forward": lookup_mode, "lookup_backward": lookup_mode,
          "lookup_area": lookup_area,
          "lookup_extrapolate": lookup_mode, "lookup_invert": lookup_mode,
          "lookup_slope": lookup_slope, "vector_lookup": vector_lookup,
          "vector_elm_map": vector_elm_map, "delay_material": delay_material,
          "delayp": delayp, "delayp:delayp": delayp, "delayp_pipeline": delayp,
          "delay_information": delay_material,
          "get_data_between_times": get_data_between_times,
          "get_data_min": get_data_extreme, "get_data_max": get_data_extreme,
          "get_data_mean": get_data_mean, "get_data_first_time": get_data_summary,
          "get_data_last_time": get_data_summary, "get_data_total_points": get_data_summary,
          "get_data_median": get_data_median, "get_data_at_time": get_data_at_time,
          "npve": npve,
          **{k: refused for k in REFUSED}}


def sample_if_true(importer, cond: Expr, value: Expr, init: Expr, binding=None) -> Expr:
    """SAMPLE IF TRUE: the IR's sampler ticked by `cond` (sdmodels.expr.SampleIfTrue).

    An input that reads the variable itself reads its value so far, the held one
    (fn_sample_if_true.html: the input when cond holds, else the value it had), so
    `x = SAMPLE IF TRUE(c, x + 1, 0)` counts the times c held instead of looping; `build`
    makes that substitution (sdmodels/expand.py), where the sampler's id is known."""
    from sdmodels.expr import SampleIfTrue
    return SampleIfTrue((cond, value, init))
