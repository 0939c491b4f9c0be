"""XMILE / Stella ovens, written out as ordinary stocks, flows and auxiliaries.

Stella's help ("Oven Computation", iseesystems.com/resources/help/v3/Content/08-Reference/
05-Computational_Details/Ovens.htm) defines an oven as a batch process with one inflow and
one outflow: it fills until its capacity is reached or its fill time (rounded to DT, "specified
when the oven begins filling") is used up; it then cooks for the cook time (rounded to DT,
"specified when the oven starts processing"), admitting nothing; it releases everything; it
stays empty for the clean time (rounded to DT, the value "when the oven finishes processing");
while "arrest if" holds, "no new material comes on or goes out, and no processing or cleaning
gets done", and the time left is not counted down. Capacity or fill time may be left blank.
Stella's older manual (Ovens, "Outflow Dialog Operations") adds: "When Cook time has expired,
the Oven will spit out its entire contents in an instant. At all other times the Oven's
outflow will be zero."

What a DT of an oven does is not written down; these are our rules, each one a DT-level
reading of that text (docs/XMILE_STOCKS.md lists them with their reasons):

1. States, as OSTATE names four: idle (door open, empty), filling (door open), cooking (door
   closed) and cleaning (door closed, empty). The door is open in a DT when the oven is idle
   or filling at its start (decisions are taken at the start of a DT, from the values at that
   time, as the conveyor admits its slat and Euler computes every flow).
2. Filling begins in the first DT whose inflow is admitted (an idle oven waits for material;
   its fill time is read then). An oven that starts with content starts filling at once.
3. While the door is open the inflow admitted is the one requested, cut so that the oven
   holds no more than its capacity at the end of the DT: min(requested, (capacity - content)
   / DT), never below 0. What is cut stays upstream (the inflow's value is the admitted one).
4. The door closes at the end of the DT in which the capacity is reached, or at the end of
   the round(fill time / DT)-th DT of filling (at least one), whichever comes first.
5. Cooking lasts N = round(cook time / DT) DTs (at least one), the cook time read in its first
   DT. The whole content leaves through the outflow in the last of them, content / DT for
   one DT, as a conveyor's slat leaves in the DT its transit time runs out (DELAY FIXED: what
   came in at t leaves at t + T): the batch is in the oven at N saved times.
6. Cleaning lasts round(clean time / DT) DTs after the release (none when blank or 0), the
   clean time read in the release DT; then the door opens (idle). With no clean time the
   oven admits material in the DT right after the release.
7. In a DT where "arrest if" is not 0 the inflow and outflow are 0 and the state and the
   time left stay as they are.

The state is two internal stocks (phase, DTs left), each reset every DT by a flow of (new -
old) / DT, read back rounded, as SAMPLE IF TRUE is imported (vensim_builtins.sample_if_true):
both engines run it with the opcodes they have. Like every per-DT construct, it is meant for
Euler integration (Stella recommends Euler for ovens).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from functools import reduce

from sdmodels.elements import Aux, Flow, Stock, canonical
from sdmodels.expr import Binary, Call, Const, Expr, Ref, TimeStep
from sdmodels.interop.xmile_conveyor import NoFallback, batched_stocks
from sdmodels.interop.xmile_xml import _child, _children, _tag

IDLE, FILLING, COOKING, CLEANING = 0.0, 1.0, 2.0, 3.0
# the <oven> options, named as the conveyor's are (<capacity>, <arrest>) with the help page's
# parameter names; an option we do not know is refused by name, never ignored
OPTIONS = ("cook_time", "capacity", "fill_time", "clean_time", "arrest")


@dataclass(frozen=True)
class Oven:
    """An oven stock read from the file: its parameters (None when left blank)."""
    stock: str
    display: str
    initial: Expr
    inflow: str
    outflow: str
    cook_time: Expr
    capacity: Expr | None = None
    fill_time: Expr | None = None
    clean_time: Expr | None = None
    arrest: Expr | None = None


def read(reader, node, display: str, dims, initial: Expr) -> Oven:
    """The oven of a stock node, or NoFallback naming what is not handled."""
    from sdmodels.interop.xmile import _name
    block = _child(node, "oven")
    if dims:
        raise NoFallback(f"oven '{display}': arrayed ovens are not supported")
    given = {}
    for option in block:
        tag = _tag(option)
        if tag not in OPTIONS:
            raise NoFallback(f"oven '{display}': <{tag}> is not supported (an oven reads "
                             f"{', '.join(f'<{o}>' for o in OPTIONS)})")
        if (option.text or "").strip():     # Stella: capacity or fill time may be left blank
            given[tag] = reader.parse(option.text, display)
    if "cook_time" not in given:
        raise NoFallback(f"oven '{display}' has no <cook_time>: add how long a batch cooks")
    flows = {kind: [canonical(_name(f.text)) for f in _children(node, kind)]
             for kind in ("inflow", "outflow")}
    if len(flows["inflow"]) != 1 or len(flows["outflow"]) != 1:
        raise NoFallback(f"oven '{display}' needs exactly one inflow and one outflow, as in "
                         f"Stella (it has {len(flows['inflow'])} and {len(flows['outflow'])})")
    return Oven(canonical(display), display, initial, flows["inflow"][0],
                flows["outflow"][0], **given)


def _b(op: str, a: Expr, b) -> Expr:
    return Binary(op, a, b if isinstance(b, Expr) else Const(float(b)))


def _if(cond: Expr, then: Expr, other: Expr) -> Expr:
    return Call("if_then_else", (cond, then, other))


def _dts(time: Expr) -> Expr:
    """A time as a whole number of DTs, at least one."""
    return Call("max", (Const(1.0), Call("round", (_b("/", time, TimeStep()),))))


def _any(terms: list[Expr]) -> Expr:
    """True when one of the terms is (false when there are none)."""
    return reduce(lambda a, b: Binary("or", a, b), terms) if terms else Const(0.0)


def apply(model, ovens: list[Oven], nodes) -> None:
    """Write each oven's inflow, outflow and state as stocks, flows and auxiliaries."""
    batched = batched_stocks(nodes)
    for o in ovens:
        for fid in (o.inflow, o.outflow):
            if not isinstance(model.elements.get(fid), Flow):
                raise NoFallback(f"oven '{o.display}': its flow '{fid}' is not a flow of the "
                                 "model")
        source = model.elements[o.inflow].out_of
        if source in batched:
            raise NoFallback(f"oven '{o.display}' is fed by {batched[source]} '{source}': "
                             "how Stella holds back a batch that a closed oven does not admit "
                             "is not documented; not supported (an oven fed by an ordinary "
                             "stock or from outside the model is)")
        _build(model, o)


def _build(model, o: Oven) -> None:
    s, d = o.stock, o.display

    def aux(key: str, label: str, equation: Expr) -> Ref:
        model._insert(Aux(id=f"{s}~{key}", display=f"{d} ({label})", equation=equation,
                          origin=s))
        return Ref(f"{s}~{key}")

    def state(key: str, label: str, initial: Expr) -> tuple[Ref, Ref]:
        """A stock holding a whole number, and its value read rounded."""
        model._insert(Stock(id=f"{s}~{key}", display=f"{d} ({label})", initial=initial,
                            origin=s))
        return Ref(f"{s}~{key}"), aux(f"{key}_now", f"{label}, this DT",
                                      Call("round", (Ref(f"{s}~{key}"),)))

    content, dt = Ref(s), TimeStep()
    phase_stock, phase = state("phase", "state: 0 idle, 1 filling, 2 cooking, 3 cleaning",
                               _if(_b(">", o.initial, 0), Const(FILLING), Const(IDLE)))
    left_stock, left = state("left", "DTs left in this state, 0 before it is read", Const(0.0))
    running = Const(1.0) if o.arrest is None else aux(
        "running", "not arrested", _b("=", o.arrest, 0))
    inflow = model.elements[o.inflow]
    requested = aux("requested", "inflow requested", inflow.equation)
    admitted = Call("max", (Const(0.0), requested))
    if o.capacity is not None:
        admitted = Call("min", (admitted, _b("/", _b("-", o.capacity, content), dt)))
    door_open = Binary("and", running, _b("<=", phase, FILLING))
    model.elements[o.inflow] = replace(inflow, equation=_if(door_open, admitted, Const(0.0)))
    fresh = _b("=", left, 0)
    filling = Binary("or", _b("=", phase, FILLING), Binary("and", _b("=", phase, IDLE),
                                                          _b(">", Ref(o.inflow), 0)))
    fill_left = Const(0.0) if o.fill_time is None else _if(
        Binary("or", _b("=", phase, IDLE), fresh), _dts(o.fill_time), left)
    ends = []
    if o.capacity is not None:      # full at the end of this DT (to a relative 1e-9)
        room = _b("-", o.capacity, _b("+", content, _b("*", Ref(o.inflow), dt)))
        ends.append(_b("<=", room, _b("*", Const(1e-9), Call("max", (
            Const(1.0), Call("abs", (o.capacity,)))))))
    if o.fill_time is not None:
        ends.append(_b("<=", fill_left, 1))
    closes = aux("closes", "door closes at the end of this DT", Binary(
        "and", filling, _any(ends)))
    cook_left = _if(fresh, _dts(o.cook_time), left)
    releasing = aux("releasing", "releases its batch this DT", Binary(
        "and", running, Binary("and", _b("=", phase, COOKING), _b("<=", cook_left, 1))))
    outflow = model.elements[o.outflow]
    model.elements[o.outflow] = replace(outflow, equation=_if(
        releasing, _b("/", content, dt), Const(0.0)))
    clean = Const(0.0) if o.clean_time is None else Call(
        "max", (Const(0.0), Call("round", (_b("/", o.clean_time, dt),))))
    after = _next_state(phase, left, running=running, closes=closes, filling=filling,
                        fill_left=fill_left, cook_left=cook_left, releasing=releasing,
                        clean=clean)
    for stock, value, key in zip((phase_stock, left_stock), after, ("phase", "left")):
        model._insert(Flow(id=f"{s}~{key}.set", display=f"{d} ({key} update)",
                           equation=_b("/", _b("-", value, stock), dt), into=stock.name,
                           origin=s))


def _next_state(phase: Expr, left: Expr, *, running, closes, filling, fill_left, cook_left,
                releasing, clean) -> tuple[Expr, Expr]:
    """The state after this DT, (phase, DTs left), 0 left meaning "not read yet": arrested,
    as it was; else closing -> cooking, filling on, cooking on or releasing -> cleaning or
    idle, cleaning on or done -> idle."""
    stay = _b("=", running, 0)
    cleaning_on = Binary("and", _b("=", phase, CLEANING), _b(">", left, 1))
    after_cooking = _if(releasing, _if(_b(">", clean, 0), Const(CLEANING), Const(IDLE)),
                        Const(COOKING))
    next_phase = _if(stay, phase, _if(closes, Const(COOKING), _if(filling, Const(FILLING), _if(
        _b("=", phase, COOKING), after_cooking, _if(cleaning_on, Const(CLEANING),
                                                    Const(IDLE))))))
    next_left = _if(stay, left, _if(closes, Const(0.0), _if(
        filling, Call("max", (Const(0.0), _b("-", fill_left, 1))), _if(
            _b("=", phase, COOKING), _if(releasing, clean, _b("-", cook_left, 1)), _if(
                cleaning_on, _b("-", left, 1), Const(0.0))))))
    return next_phase, next_left


def driven_flows(nodes) -> set[str]:
    """The outflows of ovens and conveyors (leakage flows aside, whose equation is their
    fraction), whose values their stock computes: XMILE (4.3) has them carry no equation.

    >>> from defusedxml.ElementTree import fromstring
    >>> nodes = fromstring('<variables><stock name="Oven"><outflow>unloading</outflow>'
    ...                    '<oven><cook_time>2</cook_time></oven></stock>'
    ...                    '<stock name="s"><outflow>drain</outflow></stock></variables>')
    >>> driven_flows(list(nodes))
    {'unloading'}
    """
    from sdmodels.interop.xmile import _name
    leaks = {canonical(_name(n.get("name", ""))) for n in nodes
             if _tag(n) == "flow" and _child(n, "leak") is not None}
    batched = batched_stocks(nodes)
    return {canonical(_name(f.text)) for n in nodes if _tag(n) == "stock" and canonical(
        _name(n.get("name", ""))) in batched for f in _children(n, "outflow")} - leaks
