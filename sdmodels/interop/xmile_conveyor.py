"""XMILE / Stella conveyors: the stock's outflow replays its inflows one transit time later.

Stella ("Conveyor Computation", iseesystems.com/resources/help/.../Conveyors.htm): material
put on a conveyor during one DT (all inflows lumped) leaves it when the transit time has
passed; the initial content is spread evenly along the belt. With a transit time fixed for
the run and no leakage, the conveyor's outflow is therefore DELAY FIXED(inflows, transit
time, initial content / transit time), and the conveyor itself an ordinary stock of those
flows. Leakage, capacity, inflow limits, varying transit times, arrays and queues (and
ovens) are refused by name.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from sdmodels.elements import Flow, canonical
from sdmodels.expr import Binary, Const, Expr, Ref, Stateful
from sdmodels.interop.xmile_xml import _child, _children, _tag, _text

_REFUSED_OPTIONS = ("capacity", "in_limit", "sample", "arrest", "discrete")


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


def apply(model, conveyors: list[Conveyor], flow_nodes: dict) -> None:
    """Give each conveyor's outflow its pipeline equation (leak flows refused)."""
    Refused = NoFallback   # noqa: N806
    for c in conveyors:
        for out in c.outflows:
            node = flow_nodes.get(out)
            if node is not None and _child(node, "leak") is not None:
                raise Refused(f"conveyor '{c.display}': leakage flow '{node.get('name')}' is "
                              "not supported")
        if len(c.outflows) != 1:
            raise Refused(f"conveyor '{c.display}' needs exactly one outflow "
                          f"(it has {len(c.outflows)})")
        if not _static(c.transit):
            raise Refused(f"conveyor '{c.display}': a transit time that changes during the "
                          "run is not supported")
        total: Expr = Const(0.0)
        for f in c.inflows:
            total = Binary("+", total, Ref(f))
        flow = model.elements[c.outflows[0]]
        out = Stateful("delay_fixed", (total, c.transit, Binary("/", c.initial, c.transit)))
        model.elements[flow.id] = replace(flow, equation=out) if isinstance(flow, Flow) else flow


def _static(expr: Expr) -> bool:
    from sdmodels.expr import walk
    from sdmodels.expr import Time
    return not any(isinstance(n, Time) for n in walk(expr))


def flow_nodes(nodes) -> dict:
    """Flow nodes by canonical id (to see their <leak/> marks)."""
    from sdmodels.interop.xmile import _name
    return {canonical(_name(n.get("name", ""))): n for n in nodes if _tag(n) == "flow"}
