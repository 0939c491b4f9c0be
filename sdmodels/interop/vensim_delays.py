"""Vensim's DELAY N at import: order reduced to fit the time step, per-stage delay times.

Two behaviours of Vensim's DELAY N (as pysd reproduces them and the suite's delays and
delay_pipeline cases measure) that our DSL's `delayn` does not have:

* The order is fixed at the start, and lowered while order * TIME STEP exceeds the delay
  time (a stage cannot hold material for less than one step): DELAY N(x, 1.25, i, 3) with
  TIME STEP 0.5 behaves as order 2.
* When the delay time varies, each stage keeps the delay time it had when its material
  entered: stage k (0-based) drains with the delay time of k steps ago, and the output is
  the last stage over the delay time of the previous step. We build that with one-step lags
  (a stock L with inflow (u - L) / TIME STEP holds u of the previous step under Euler).

DELAYP(input, delay time : pipeline) (fn_delayp.html) is a third-order delay that also
defines `pipeline`, the material in transit: the reference's equivalent equations, three
stocks LV1..LV3 each starting at DL * input (DL = delay time / 3), flows input -> LV1 -> LV2
-> LV3 -> out at LVk / DL, DELAYP = LV3 / DL and pipeline = LV1 + LV2 + LV3. The reader turns
`: pipeline` into an element `pipeline = delayp_pipeline(input, delay time, 'variable')` with
the subscripts of the calling equation; both read the same three stocks, made by whichever is
imported first, one set per element when the variable is subscripted.

DELAY MATERIAL(input, delay time, initial, missing) with a delay time that changes
(fn_delay_material.html: DELAY FIXED whose delay time may vary; inputs that come due at one
step add up, a step nothing comes due at gives `missing`): each input leaves after the delay
time it entered with, k = max(1, floor(delay time / TIME STEP + 0.5)) steps (the rule of
DELAY FIXED's pipeline). Two ring buffers keyed by the step an input is due at
(elements.Schedule: the engine puts each input k slots ahead of the slot it reads now) add up
the amounts and count the inputs due; the output is the amount, or `missing` when it counts
none. The first k0 steps also give `initial` (the pipeline DELAY FIXED starts with). A buffer
has a slot per step of the run, fewer when vensim_bounds finds the delay time's largest value
at import; an input due after the run is never seen.

DELAY INFORMATION(input, delay time, initial) with a delay time that changes
(fn_delay_information.html: "If delay time is decreasing some values of the input will be
discarded and replaced by more recent inputs. If delay time is increasing existing values
will be held"; 22300.html: "discarding inputs if T decreases and holding inputs if T
increases"; mgu09_material_and_information_delays.html: it never leaves the input's range):
the same schedule, each input due k steps after it entered, but at a step the output is the
most recent input that has come due, and it holds its last value while none newer has. Two
buffers keep the last input due at each step and the step it entered (a later input due at
the same step replaces it), two stocks the output held and its entry step; until the first
input is due the output is `initial`.

Everything else is ordinary stocks and flows.
"""
from __future__ import annotations

from sdmodels.elements import Aux, Flow, Schedule, Stock, canonical
from sdmodels.expr import Binary, Call, Const, DelayN, Expr, Ref, Time, TimeStep


def fitted_order(order: int, delay_time: float | None, dt: float | None) -> int:
    """The order Vensim uses: lowered while order * dt > delay time (never below 1).

    >>> fitted_order(3, 1.25, 0.5), fitted_order(3, 1.5, 0.5), fitted_order(2, None, 1.0)
    (2, 3, 2)
    """
    if delay_time is None or not dt:
        return order
    while order > 1 and order * dt > delay_time + 1e-12:
        order -= 1
    return order


def constant_ast(importer, ast, seen=frozenset()) -> bool:
    """True when a pysd abstract expression is a number or arithmetic of constants only."""
    import numbers
    if isinstance(ast, numbers.Number):
        return True
    kind = type(ast).__name__
    if kind == "ArithmeticStructure":
        return all(constant_ast(importer, a, seen) for a in ast.arguments)
    if kind == "ReferenceStructure" and not getattr(ast, "subscripts", None):
        from sdmodels.interop.abstract import key_of
        key = key_of(ast.reference)
        element = importer.elements.get(key)
        if key in seen or element is None or len(element.components) != 1:
            return False
        return constant_ast(importer, element.components[0].ast, seen | {key})
    return False


def delay_n(importer, x: Expr, time: Expr, init: Expr, order: int, *,
            constant_time: bool) -> Expr:
    """DELAY N as Vensim computes it; a plain `delayn` when the delay time is a constant."""
    if constant_time or order == 1:
        return DelayN((x, time, Const(float(order)), init))
    importer.counter += 1
    host = canonical(importer.current)
    base = f"{host}~delayn{importer.counter}"
    label = importer.current
    extra = importer.extra
    lags: list[Expr] = [time]          # lags[k]: the delay time of k steps ago
    for k in range(1, order):
        sid = f"{base}.lag{k}"
        extra.append(Stock(id=sid, display=f"{label} (delay time {k} steps ago)",
                           initial=time, origin=host))
        extra.append(Flow(id=f"{sid}.in", display=f"{label} (delay time lag {k} update)",
                          equation=Binary("/", Binary("-", lags[-1], Ref(sid)), TimeStep()),
                          into=sid, origin=host))
        lags.append(Ref(sid))
    n = Const(float(order))
    stages = [f"{base}.s{k}" for k in range(order)]
    extra.append(Flow(id=f"{base}.in", display=f"{label} (delay inflow)",
                      equation=Binary("*", n, x), into=stages[0], origin=host))
    for k, sid in enumerate(stages):
        # stage contents are scaled by the order, as in pysd: S = order * material
        extra.append(Stock(id=sid, display=f"{label} (delay stage {k + 1} of {order})",
                           initial=Binary("*", init, time), origin=host))
        extra.append(Flow(id=f"{sid}.out", display=f"{label} (delay outflow {k + 1} of {order})",
                          equation=Binary("*", n, Binary("/", Ref(sid), lags[k])),
                          out_of=sid, into=stages[k + 1] if k + 1 < order else None,
                          origin=host))
    return Binary("/", Ref(stages[-1]), lags[1])


def delayp(importer, fn: str, args_ast, binding, initial) -> Expr:
    """DELAYP's value (`delayp:delayp`, the call with its `: pipeline`) or its pipeline
    (`delayp_pipeline`, the element the reader adds with the caller's subscripts), from the
    three stages of the element at hand (one set per element of a subscripted DELAYP)."""
    from sdmodels.interop.abstract import Unsupported, key_of
    host = args_ast[2] if fn == "delayp_pipeline" else importer.current
    if len(args_ast) != (3 if fn == "delayp_pipeline" else 2):
        raise Unsupported("DELAYP", "takes an input and a delay time, then ':' and the name of "
                          "its pipeline: DELAYP(input, delay time : pipeline)")
    dims = importer.dims_of.get(key_of(host), ())
    cell = tuple((binding or {}).get(d) for d in dims)
    if None in cell:
        raise Unsupported("DELAYP", f"its pipeline '{importer.current}' must have the "
                          f"subscripts of '{host}', which calls it")
    stages, dl = _delayp_stages(importer, str(host), cell, args_ast[:2], binding)
    if fn == "delayp_pipeline":
        return Binary("+", Binary("+", stages[0], stages[1]), stages[2])
    return Binary("/", stages[2], dl)


def _delayp_stages(importer, host: str, cell: tuple, args_ast, binding) -> tuple[list[Ref], Expr]:
    """The three stocks of the DELAYP of variable `host`'s element `cell` (made once), and DL."""
    made = importer.__dict__.setdefault("delayp_stages", set())
    x, time = (importer.expr(a, binding) for a in args_ast)
    x0, time0 = (importer.expr(a, binding, initial=True) for a in args_ast)
    dl = Binary("/", time, Const(3.0))
    origin = canonical(host)
    where = "".join(f".{canonical(str(e))}" for e in cell)
    label = f"{host}[{', '.join(map(str, cell))}]" if cell else host
    stages = [Ref(f"{origin}~delayp{where}.lv{k}") for k in (1, 2, 3)]
    if (origin, cell) in made:
        return stages, dl
    made.add((origin, cell))
    start = Binary("*", Binary("/", time0, Const(3.0)), x0)
    importer.extra.append(Flow(id=f"{origin}~delayp{where}.in", display=f"{label} (DELAYP "
                               "inflow)", equation=x, into=stages[0].name, origin=origin))
    for k, stage in enumerate(stages):
        importer.extra.append(Stock(id=stage.name, display=f"{label} (DELAYP stage {k + 1})",
                                    initial=start, origin=origin))
        importer.extra.append(Flow(
            id=f"{stage.name}.out", display=f"{label} (DELAYP outflow {k + 1})",
            equation=Binary("/", stage, dl), out_of=stage.name,
            into=stages[k + 1].name if k < 2 else None, origin=origin))
    return stages, dl


def varying_delay(importer, fn: str, args: list[Expr], starts: list[Expr], time_ast) -> Expr:
    """DELAY MATERIAL or DELAY INFORMATION with a delay time that changes (module docstring);
    `args` are input, delay time, initial (and missing), `starts` the same read at the start,
    `time_ast` the delay time's abstract syntax (its largest value sizes the ring buffers)."""
    importer.counter += 1
    host = canonical(importer.current)
    base, label = f"{host}~{fn.split('_')[-1]}{importer.counter}", importer.current
    size = _ring_size(importer, time_ast)
    due = Ref(f"{base}.k")
    importer.extra.append(Aux(id=due.name, display=f"{label} (steps to leave)",
                              equation=_steps(args[1]), origin=host))

    def lane(what: str, value: Expr, latest: bool) -> Ref:
        importer.extra.append(Schedule(
            id=f"{base}.{what}", display=f"{label} ({what} due now)", input=value,
            delay=Const(size * importer._times()["dt"]), initial=Const(0.0), steps=due,
            latest=latest, origin=host))
        return Ref(f"{base}.{what}")
    start = importer._times()["start"]
    step = Call("floor", (Binary("+", Binary("/", Binary("-", Time(), Const(start)),
                                             TimeStep()), Const(0.5)),))   # from 0
    if fn == "delay_material":
        # the first k0 steps give `initial` (the pipeline DELAY FIXED starts with), plus
        # whatever else is due then
        first = Binary("<", step, importer.hold(_steps(starts[1])))
        amount, count = lane("amount", args[0], False), lane("count", Const(1.0), False)
        return Call("if_then_else", (Binary(">", Binary("+", count, first), Const(0.5)),
                                     Binary("+", amount, Binary("*", first,
                                                                importer.hold(starts[2]))),
                                     args[3]))
    value = lane("value", args[0], True)
    entered = lane("entered", Binary("+", step, Const(1.0)), True)   # its step, from 1
    held, mark = f"{base}.held", f"{base}.held_entered"
    newer = Binary(">", entered, Binary("+", Ref(mark), Const(0.5)))
    out = Call("if_then_else", (newer, value, Ref(held)))
    latest = Call("max", (entered, Ref(mark)))
    for sid, what, initial, now in ((held, "held output", starts[2], out),
                                    (mark, "step its input entered", Const(0.0), latest)):
        _step_to(importer, sid, f"{label} ({what})", host, initial, now)
    return out


def _steps(delay: Expr) -> Expr:
    """The steps an input entering now waits: max(1, round(delay / TIME STEP)), the rounding
    of DELAY FIXED's pipeline."""
    return Call("max", (Const(1.0), Call("floor", (Binary(
        "+", Binary("/", delay, TimeStep()), Const(0.5)),))))


def _ring_size(importer, time_ast) -> int:
    """Slots of each ring buffer: the run's steps + 1, or fewer when vensim_bounds finds the
    delay time's largest value at import (its steps + 1, one to spare for rounding, + 1)."""
    import math
    from sdmodels.interop.vensim_bounds import bounds
    times = importer._times()
    dt = times["dt"]
    steps = max(1, int(round((times["stop"] - times["start"]) / dt)))
    largest = bounds(importer, time_ast, times)[1]
    if math.isfinite(largest):
        steps = min(steps, max(1, math.floor(largest / dt + 0.5)) + 1)
    return steps + 1


def _step_to(importer, sid: str, display: str, host: str, initial: Expr, value: Expr) -> None:
    """A stock that takes `value` each step (exact under Euler: its flow is the change / dt)."""
    importer.extra.append(Stock(id=sid, display=display, initial=initial, origin=host))
    importer.extra.append(Flow(id=f"{sid}.step", display=f"{display}, shift",
                               equation=Binary("/", Binary("-", value, Ref(sid)), TimeStep()),
                               into=sid, origin=host))
