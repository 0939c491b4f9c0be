"""Element kinds, as immutable classes shared by the DSL and the IR.

The DSL (`Model`) records declarations with names as the modeller wrote them; `build`
returns copies whose references are resolved to canonical ids, with stateful functions
expanded into internal elements (their `origin` says which element they came from).
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Union

from sdmodels.expr import Expr
from sdmodels.operators import StatefulKind


_SEPARATORS = re.compile(r"[\s_]+")


@functools.lru_cache(maxsize=1 << 16)
def canonical(name: str) -> str:
    """The canonical id of a display name: case-folded, spaces and '_' alike, modules by '.'.

    Remembered (reading and building a model ask for the same names again and again: ~900
    calls for black_friday's first result, ~1 ms uncached).

    >>> canonical("Teacup  Temperature")
    'teacup_temperature'
    >>> canonical("DB / Connections in use")
    'db.connections_in_use'
    """
    if " / " not in name:
        return _SEPARATORS.sub("_", name.strip().lower())
    return ".".join(_SEPARATORS.sub("_", p.strip().lower()) for p in name.split(" / "))


def make(kind: type, **given):
    """kind(**given) for an element class, without running its generated __init__ (3x
    faster: the DSL makes an element per declaration); TypeError for a field it lacks.

    >>> make(Aux, id="a", display="A") == Aux(id="a", display="A")
    True
    """
    defaults = _defaults(kind)
    fields = dict(defaults)
    fields.update(given)
    if len(fields) != len(defaults) or _REQUIRED in fields.values():
        return kind(**given)    # an unknown, missing or made field: the constructor's way
    element = object.__new__(kind)
    element.__dict__.update(fields)
    return element


_REQUIRED = object()


@functools.cache
def _defaults(kind: type) -> dict:
    """Each field of a dataclass, in order, with its default (_REQUIRED for none, or for a
    default made by a factory: each element gets its own)."""
    from dataclasses import MISSING, fields
    return {f.name: f.default if f.default is not MISSING else _REQUIRED for f in fields(kind)}


def with_fields(element, **changes):
    """A copy of an element (or any frozen dataclass without a __post_init__) with `changes`
    to its fields, as dataclasses.replace gives it, without running the generated __init__
    again (4x faster; build copies hundreds of elements). Callers name fields only.

    >>> a = Aux(id="a", display="A", units="s")
    >>> with_fields(a, id="m.a") == Aux(id="m.a", display="A", units="s")
    True
    """
    new = object.__new__(type(element))
    fields = new.__dict__
    fields.update(element.__dict__)
    fields.update(changes)
    return new


@dataclass(frozen=True)
class Dim:
    """A named dimension: ``Dim("pod", 10)`` or ``Dim("zone", ["a", "b", "c"])``.

    >>> Dim("pod", 3).elements
    ('pod1', 'pod2', 'pod3')
    """
    name: str
    elements: tuple[str, ...]

    def __init__(self, name: str, elements):
        if isinstance(elements, int):
            from sdmodels.limits import check_count
            check_count(f"elements in dimension '{name}'", elements, "max_array_elements",
                        where=f"dimension '{name}'")
            if elements < 1:
                raise ValueError(f"dimension {name!r} needs at least one element, got {elements}")
            elements = tuple(f"{name}{i}" for i in range(1, elements + 1))
        if isinstance(elements, str):       # not its letters
            raise ValueError(f"dimension {name!r}: give a count or a list of element names, "
                             f"not the string {elements!r} (for example [{elements!r}])")
        elements = tuple(str(e) for e in elements)
        if len(set(elements)) != len(elements):
            raise ValueError(f"dimension {name!r} repeats an element: {elements}")
        if not elements:
            raise ValueError(f"dimension {name!r} has no elements")
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "elements", elements)

    def __len__(self) -> int:
        return len(self.elements)


@dataclass(frozen=True)
class PerElement:
    """One equation per array element: ``items`` maps element-name tuples to expressions."""
    items: tuple[tuple[tuple[str, ...], Expr], ...]

    def as_dict(self) -> dict[tuple[str, ...], Expr]:
        return dict(self.items)


Equation = Union[Expr, PerElement]


@dataclass(frozen=True)
class Element:
    """What every element has: a canonical id, a display name, dimensions, a module."""
    id: str
    display: str
    dims: tuple[str, ...] = ()
    units: str = ""
    doc: str = ""
    module: str = ""                  # '' for the top model, 'db.pool' inside modules
    origin: str | None = None         # for internal elements: the element they expand

    @property
    def internal(self) -> bool:
        return self.origin is not None


@dataclass(frozen=True)
class Stock(Element):
    initial: Equation = None
    non_negative: bool = False
    # Stella / XMILE: a non-negative stock cuts back its outflows, in order, so that they take
    # no more than it holds plus its inflows (conserving what they carry on); else clamped
    limit_outflows: bool = False
    inflows: tuple[str, ...] = ()     # filled by build
    outflows: tuple[str, ...] = ()


@dataclass(frozen=True)
class Flow(Element):
    equation: Equation = None
    into: str | None = None
    out_of: str | None = None
    non_negative: bool = False


@dataclass(frozen=True)
class Aux(Element):
    """An auxiliary; `initial`, when given, is its value at the start (Vensim ACTIVE INITIAL)."""
    equation: Equation = None
    initial: Equation = None


@dataclass(frozen=True)
class Constant(Element):
    """A parameter: every run may override it. ``values`` is flat, C order over dims."""
    values: tuple[float, ...] = ()


@dataclass(frozen=True)
class Lookup(Element):
    """A graphical function: piecewise linear through (xs, ys)."""
    xs: tuple[float, ...] = ()
    ys: tuple[float, ...] = ()
    extrapolate: bool = False


@dataclass(frozen=True)
class DelayLine(Element):
    """A pipeline (DELAY FIXED): the output replays the input exactly `delay` later."""
    input: Expr = None
    delay: Expr = None
    initial: Expr = None


@dataclass(frozen=True)
class Schedule(DelayLine):
    """A pipeline whose delay may change (Vensim's DELAY MATERIAL / INFORMATION): each input
    is due `steps` steps after it entered, `steps` read as it enters (1 or more; one that falls
    past the buffer is dropped). The value at a step is the sum of the inputs due then, or with
    `latest` the last of them, 0 when none is. `delay` sizes the ring buffer (delay / dt slots:
    the run's length), `initial` is 0."""
    steps: Expr = None
    latest: bool = False


@dataclass(frozen=True)
class SampleHold(Element):
    """A discrete controller's view: the input sampled every `period`, held in between."""
    input: Expr = None
    period: Expr = None
    first: Expr = None


@dataclass(frozen=True)
class SampleIfTrue(SampleHold):
    """A sampler ticked by a condition (Vensim's SAMPLE IF TRUE): the input at every step
    where `condition` holds, else the value it had; `initial` until the first."""
    condition: Expr = None
    initial: Expr = None

    def ticked(self, value: Expr, *, after: float | None = None) -> Expr:
        """What the sampler holds after a step whose input is `value`; with `after` (the
        start time), no tick at the start, whose tick the start values already took."""
        from sdmodels.expr import Binary, Call, Const, Ref, Time
        when = self.condition if after is None else \
            Binary("and", Binary(">", Time(), Const(after)), self.condition)
        return Call("if_then_else", (when, value, Ref(self.id)))


@dataclass(frozen=True)
class Rolling(Element):
    """The max or min of the input over the last `window` time units."""
    op: str = "max"
    input: Expr = None
    window: Expr = None


@dataclass(frozen=True)
class DelayInfo:
    """Where a stateful function was expanded: for loop analysis and diagrams."""
    host: str                        # the element whose equation used the function
    kind: StatefulKind               # delay1, delay3, delayn, delay_fixed, smooth, ...
    order: int | None                # exponential order; None for pipelines and samplers
    time: Expr                       # the delay / averaging / sampling time
    input: Expr
    internals: tuple[str, ...]       # ids of the elements created for it
    output: str                      # the id whose value the host reads

    def __post_init__(self):
        object.__setattr__(self, "kind", StatefulKind.of(self.kind, f"delay in '{self.host}'"))


@dataclass(frozen=True)
class Scenario:
    """A named set of parameter overrides that ships with a model."""
    name: str
    params: tuple[tuple[str, float], ...] = ()
    doc: str = ""


@dataclass(frozen=True)
class NamedLoop:
    """A loop name attached by the variables the loop must contain."""
    name: str
    variables: tuple[str, ...] = field(default_factory=tuple)


STATEFUL_KINDS = (Stock, DelayLine)     # elements whose value at a step is known beforehand
