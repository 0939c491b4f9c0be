"""XMILE / Stella conveyors and queues, written out as ordinary stocks and flows.

Conveyors (Stella, "Conveyor Computation", iseesystems.com/resources/help/.../Conveyors.htm):
material put on during one DT (all inflows lumped, a "slat") leaves when the transit time T
has passed; the initial content is spread evenly along the belt. With a leakage flow (marked
`<leak/>`, its equation the leak fraction f) each slat loses f of what entered, evenly over
its transit (linear leakage): f / (T / DT) of it per DT. With T and f fixed for the run:

* exits  = DELAY FIXED(inflows, T, r0), what entered T ago; the outflow is (1 - f) * exits
* leak   = f / T * O, O = INTEG(inflows - exits, r0 * T) the entered amounts still on the belt
* r0     = content0 / (T - f * (T - DT) / 2): the initial slats, each already short of the
  share it leaked since it entered, add up to the initial content
* T is the transit time rounded to whole DTs (the belt's slats; material is placed by the
  nearest slat)

which is pysimlin's conveyor to 1e-9 (tests/test_interop_xmile_conveyor.py).

Queues (Stella, "Queue Computation" .../Queues.htm: "the Queue 'wants' to flow everything
through its outflows"; its flows are constrained only by an inflow-limited or capacity-limited
conveyor or an oven downstream): with outflows into ordinary stocks (or out of the model), the
first outflow, highest in priority, takes the queue's content and this DT's inflows,
queue / DT + inflows, and the others are left nothing, as in pysimlin.

Refused by name: capacity, inflow limits, sampling, arrest, discrete conveyors, exponential
leakage and leak zones, varying transit times or leak fractions, arrays, a queue feeding a
conveyor or an oven (Stella admits its batches by discrete rules; pysimlin requires such a
conveyor to be discrete). Ovens: sdmodels/interop/xmile_oven.py.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from sdmodels.elements import Aux, Flow, Stock, canonical
from sdmodels.expr import Binary, Call, Const, DelayFixed, Expr, Ref, Stateful, TimeStep
from sdmodels.interop.xmile_xml import _child, _children, _tag, _text

_REFUSED_OPTIONS = ("capacity", "in_limit", "sample", "arrest", "discrete", "exponential_leak")
_REFUSED_LEAK = ("leak_integers", "leak_start", "leak_end")


class NoFallback(Exception):
    """A construct refused without handing the file to pysd's XMILE translator, which would
    read a conveyor or queue as a plain stock and give wrong numbers without a word."""


@dataclass(frozen=True)
class Conveyor:
    """A conveyor stock read from the file: what its main outflow becomes."""
    stock: str
    display: str
    transit: Expr
    initial: Expr
    inflows: tuple[str, ...]
    outflows: tuple[str, ...]


def read(reader, node, display: str, dims, initial: Expr) -> Conveyor:
    """The conveyor of a stock node, or Refused naming what is not handled."""
    from sdmodels.interop.xmile import _name
    Refused = NoFallback   # noqa: N806
    conv = _child(node, "conveyor")
    if dims:
        raise Refused(f"conveyor '{display}': arrayed conveyors are not supported")
    for option in _REFUSED_OPTIONS:
        if _child(conv, option) is not None:
            raise Refused(f"conveyor '{display}': <{option}> is not supported (only a "
                          "transit time without leakage)")
    length = _text(conv, "len", None)
    if length is None:
        raise Refused(f"conveyor '{display}' has no <len> (transit time)")
    names = lambda kind: tuple(canonical(_name(f.text)) for f in _children(node, kind))  # noqa
    return Conveyor(canonical(display), display, reader.parse(length, display), initial,
                    names("inflow"), names("outflow"))


@dataclass(frozen=True)
class Queue:
    """A queue stock read from the file."""
    stock: str
    display: str
    inflows: tuple[str, ...]
    outflows: tuple[str, ...]


def read_queue(node, display: str, dims) -> Queue:
    """The queue of a stock node."""
    from sdmodels.interop.xmile import _name
    if dims:
        raise NoFallback(f"queue '{display}': arrayed queues are not supported")
    names = lambda kind: tuple(canonical(_name(f.text)) for f in _children(node, kind))  # noqa
    return Queue(canonical(display), display, names("inflow"), names("outflow"))


def _sum(names) -> Expr:
    total: Expr = Const(0.0)
    for f in names:
        total = Binary("+", total, Ref(f))
    return total


def _set_equation(model, fid: str, equation: Expr) -> None:
    flow = model.elements[fid]
    if isinstance(flow, Flow):
        model.elements[fid] = replace(flow, equation=equation)


def batched_stocks(nodes) -> dict[str, str]:
    """The ovens and conveyors of a model's nodes: id -> 'oven' or 'conveyor'."""
    from sdmodels.interop.xmile import _name
    return {canonical(_name(n.get("name", ""))): kind for n in nodes for kind in
            ("oven", "conveyor") if _tag(n) == "stock" and _child(n, kind) is not None}


def first_batched(root) -> str | None:
    """'oven 'x'' (or conveyor, queue) for the first such stock anywhere in the file, else
    None: pysd's XMILE translator, the fallback, would run it as a plain stock."""
    for node in root.iter():
        if _tag(node) == "stock":
            for kind in ("oven", "conveyor", "queue"):
                if _child(node, kind) is not None:
                    return f"{kind} '{node.get('name', '')}'"
    return None


def apply_queues(model, queues: list[Queue], nodes) -> None:
    """Each queue's first outflow takes the queue's content and this DT's inflows; the others,
    lower in priority, find it empty."""
    batched = batched_stocks(nodes)
    for q in queues:
        if not q.outflows:      # nothing leaves: it only accumulates, as a stock does
            continue
        for fid in q.outflows:
            out = model.elements.get(fid)
            if isinstance(out, Flow) and out.into in batched:
                raise NoFallback(f"queue '{q.display}' feeds {batched[out.into]} "
                                 f"'{out.into}', which admits the queue's batches by "
                                 "Stella's discrete rules: not supported (a queue feeding "
                                 "an ordinary stock is)")
        _set_equation(model, q.outflows[0], Binary("+", Binary("/", Ref(q.stock), TimeStep()),
                                                   _sum(q.inflows)))
        for fid in q.outflows[1:]:
            _set_equation(model, fid, Const(0.0))


def apply(model, conveyors: list[Conveyor], flow_nodes: dict) -> None:
    """Give each conveyor's outflow its pipeline equation, and its leakage flow its share."""
    Refused = NoFallback   # noqa: N806
    for c in conveyors:
        leaks = [o for o in c.outflows if flow_nodes.get(o) is not None and
                 _child(flow_nodes[o], "leak") is not None]
        for name in leaks:
            for option in _REFUSED_LEAK:
                if _child(flow_nodes[name], option) is not None:
                    raise Refused(f"conveyor '{c.display}': leakage flow '{name}' has "
                                  f"<{option}>, which is not supported")
        mains = [o for o in c.outflows if o not in leaks]
        if len(mains) != 1 or len(leaks) > 1:
            raise Refused(f"conveyor '{c.display}' needs exactly one outflow and at most one "
                          f"leakage flow (it has {len(mains)} and {len(leaks)})")
        if not _static(c.transit, model):
            raise Refused(f"conveyor '{c.display}': a transit time that changes during the "
                          "run is not supported")
        fraction = model.elements[leaks[0]].equation if leaks else Const(0.0)
        if not _static(fraction, model):
            raise Refused(f"conveyor '{c.display}': a leak fraction that changes during the "
                          "run is not supported")
        # the belt has round(T / DT) slats (Stella places material by the nearest slat)
        t = Binary("*", Call("round", (Binary("/", c.transit, TimeStep()),)), TimeStep())
        rate0 = Binary("/", c.initial, Binary("-", t, Binary("*", fraction, Binary(
            "/", Binary("-", t, TimeStep()), Const(2.0)))))
        exits = DelayFixed((_sum(c.inflows), t, rate0))
        if not leaks:
            _set_equation(model, mains[0], exits)
            continue
        eid, oid = f"{c.stock}~exits", f"{c.stock}~entered"
        model._insert(Aux(id=eid, display=f"{c.display} (leaving, before leakage)",
                          equation=exits, origin=c.stock))
        model._insert(Stock(id=oid, display=f"{c.display} (entered amounts on the belt)",
                            initial=Binary("*", rate0, t), origin=c.stock))
        model._insert(Flow(id=f"{oid}.net", display=f"{c.display} (entered minus leaving)",
                           equation=Binary("-", _sum(c.inflows), Ref(eid)), into=oid,
                           origin=c.stock))
        _set_equation(model, mains[0], Binary("*", Binary("-", Const(1.0), fraction), Ref(eid)))
        _set_equation(model, leaks[0], Binary("*", Binary("/", fraction, t), Ref(oid)))


def _static(expr: Expr, model, seen=frozenset()) -> bool:
    """True when `expr` stays the same through the run: numbers, constants, and auxiliaries
    (or lookups) of those only, no Time, stock, flow or stateful function."""
    from sdmodels.elements import Constant, Lookup, PerElement
    from sdmodels.expr import Index, LookupCall, Time, walk
    for n in walk(expr):
        if isinstance(n, (Time, Stateful)):
            return False
        if isinstance(n, LookupCall) and not isinstance(model.elements.get(canonical(
                n.table)), Lookup):
            return False
        name = n.name if isinstance(n, Ref) else n.target.name \
            if isinstance(n, Index) and isinstance(n.target, Ref) else None
        if name is None or canonical(name) in seen:
            continue
        element = model.elements.get(canonical(name))
        if isinstance(element, Constant):
            continue
        if not isinstance(element, Aux) or element.initial is not None:
            return False
        eqs = [e for _k, e in element.equation.items] if isinstance(
            element.equation, PerElement) else [element.equation]
        if not all(_static(e, model, seen | {canonical(name)}) for e in eqs):
            return False
    return True


def flow_nodes(nodes) -> dict:
    """Flow nodes by canonical id (to see their <leak/> marks)."""
    from sdmodels.interop.xmile import _name
    return {canonical(_name(n.get("name", ""))): n for n in nodes if _tag(n) == "flow"}
