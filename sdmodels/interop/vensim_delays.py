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
`: pipeline` into an element `pipeline = delayp_pipeline(input, delay time, 'variable')`; both
read the same three stocks, made by whichever is imported first.

DELAY MATERIAL(input, delay time, initial, missing) with a delay time that changes
(fn_delay_material.html: DELAY FIXED whose delay time may vary; inputs that come due at one
step add up, a step nothing comes due at gives `missing`): each input leaves after the delay
time it entered with, k = max(1, floor(delay time / TIME STEP + 0.5)) steps (the rule of
DELAY FIXED's pipeline). One
slot per step of the run holds what comes due that many steps ahead, and one counts how many
inputs do: slot j takes slot j + 1's content each step, plus this step's input when k = j;
the output is slot 1 (or `missing` when it counts none). The first k0 slots start at
`initial` (the pipeline DELAY FIXED starts with); an input due after the run is never seen.

Everything is expressed with ordinary stocks and flows, so the engine is unchanged.
"""
from __future__ import annotations

from sdmodels.elements import Aux, Flow, Stock, canonical
from sdmodels.expr import Binary, Call, Const, DelayN, Expr, Ref, TimeStep


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
    (`delayp_pipeline`, the element the reader adds), from the shared three stages."""
    from sdmodels.interop.abstract import Unsupported, key_of
    host = args_ast[2] if fn == "delayp_pipeline" else importer.current
    if len(args_ast) != (3 if fn == "delayp_pipeline" else 2):
        raise Unsupported("DELAYP", "takes an input and a delay time, then ':' and the name of "
                          "its pipeline: DELAYP(input, delay time : pipeline)")
    if importer.dims_of.get(key_of(host)):
        raise Unsupported("DELAYP", "subscripted (its pipeline output is one variable): write "
                          "DELAY3 and an INTEG for the pipeline, as fn_delayp.html suggests")
    stages, dl = _delayp_stages(importer, str(host), args_ast[:2], binding)
    if fn == "delayp_pipeline":
        return Binary("+", Binary("+", stages[0], stages[1]), stages[2])
    return Binary("/", stages[2], dl)


def _delayp_stages(importer, host: str, args_ast, binding) -> tuple[list[Ref], Expr]:
    """The three stocks of the DELAYP of variable `host` (made once) and DL."""
    made = importer.__dict__.setdefault("delayp_stages", {})
    x, time = (importer.expr(a, binding) for a in args_ast)
    x0, time0 = (importer.expr(a, binding, initial=True) for a in args_ast)
    dl = Binary("/", time, Const(3.0))
    origin = canonical(host)
    stages = [Ref(f"{origin}~delayp.lv{k}") for k in (1, 2, 3)]
    if origin in made:
        return stages, dl
    made[origin] = True
    start = Binary("*", Binary("/", time0, Const(3.0)), x0)
    importer.extra.append(Flow(id=f"{origin}~delayp.in", display=f"{host} (DELAYP inflow)",
                               equation=x, into=stages[0].name, origin=origin))
    for k, stage in enumerate(stages):
        importer.extra.append(Stock(id=stage.name, display=f"{host} (DELAYP stage {k + 1})",
                                    initial=start, origin=origin))
        importer.extra.append(Flow(
            id=f"{stage.name}.out", display=f"{host} (DELAYP outflow {k + 1})",
            equation=Binary("/", stage, dl), out_of=stage.name,
            into=stages[k + 1].name if k < 2 else None, origin=origin))
    return stages, dl


MAX_SLOTS = 400      # DELAY MATERIAL with a varying time: the run's steps it follows at most


def delay_material_varying(importer, args: list[Expr], starts: list[Expr]) -> Expr:
    """DELAY MATERIAL with a varying delay time (module docstring); `args` are input, delay
    time, initial, missing, `starts` the same read at the start."""
    from sdmodels.interop.abstract import Unsupported
    times = importer._times()
    steps = int(round((times["stop"] - times["start"]) / times["dt"]))
    if steps > MAX_SLOTS:
        raise Unsupported("DELAY MATERIAL", f"a delay time that changes during the run is "
                          f"followed one slot per step, at most {MAX_SLOTS}; this run has "
                          f"{steps} steps (a larger TIME STEP, or a constant delay time, "
                          "where it is DELAY FIXED)")
    x, time, _init, missing = args
    importer.counter += 1
    host = canonical(importer.current)
    base, label = f"{host}~material{importer.counter}", importer.current

    def due(delay: Expr) -> Expr:
        return Call("max", (Const(1.0), Call("floor", (Binary(
            "+", Binary("/", delay, TimeStep()), Const(0.5)),))))   # as the pipeline rounds
    importer.extra.append(Aux(id=f"{base}.k", display=f"{label} (steps to leave)",
                              equation=due(time), origin=host))
    k0 = due(starts[1])
    for what, value in (("amount", x), ("count", Const(1.0))):
        ids = [f"{base}.{what}{j}" for j in range(1, steps + 2)]
        for j in range(1, steps + 1):
            filled = Binary("<=", Const(float(j)), k0)
            start = Binary("*", filled, starts[2]) if what == "amount" else filled
            arrives = Binary("*", Binary("=", Ref(f"{base}.k"), Const(float(j))), value)
            after = Ref(ids[j]) if j < steps else Const(0.0)
            importer.extra.append(Stock(id=ids[j - 1], display=f"{label} ({what} due in "
                                        f"{j} steps)", initial=start, origin=host))
            importer.extra.append(Flow(
                id=f"{ids[j - 1]}.step", display=f"{label} ({what} due in {j} steps, shift)",
                equation=Binary("/", Binary("-", Binary("+", after, arrives), Ref(ids[j - 1])),
                                TimeStep()), into=ids[j - 1], origin=host))
    return Call("if_then_else", (Binary(">", Ref(f"{base}.count1"), Const(0.5)),
                                 Ref(f"{base}.amount1"), missing))
