"""The Python DSL: declare stocks, flows, auxiliaries, constants, lookups and modules.

>>> m = Model("teacup", start=0, stop=30, dt=0.125, time_units="minute")
>>> temp = m.stock("Teacup Temperature", initial=180, units="degF")
>>> room = m.constant("Room Temperature", 70)
>>> tau = m.constant("Characteristic Time", 10)
>>> loss = m.flow("Heat Loss", (temp - room) / tau, out_of=temp)
>>> sorted(m.elements)
['characteristic_time', 'heat_loss', 'room_temperature', 'teacup_temperature']
"""
from __future__ import annotations

import copy
import math
from dataclasses import replace
from typing import Iterable, Mapping

import numpy as np

from sdmodels.elements import (Aux, Constant, Dim, Element, Flow, Lookup, NamedLoop, PerElement,
                               Scenario, Stock, canonical)
from sdmodels.errors import DuplicateNameError, ModelError, UnknownNameError, did_you_mean
from sdmodels.expr import Expr, LookupCall, Ref, as_expr, transform
from sdmodels.limits import check_count


class LookupHandle(Ref):
    """A lookup element: call it on an expression to read the graphical function."""

    def __call__(self, x) -> LookupCall:
        return LookupCall(self.name, as_expr(x))


class ModuleHandle:
    """A sub-model included under a prefix; ``handle["Name"]`` refers to its elements."""

    def __init__(self, prefix: str, display: str, ids: Iterable[str]):
        self.prefix, self.display, self._ids = prefix, display, frozenset(ids)

    def __getitem__(self, name: str) -> Ref:
        full = f"{self.prefix}.{canonical(name)}"
        if full not in self._ids:
            inner = sorted(i[len(self.prefix) + 1:] for i in self._ids)
            raise UnknownNameError(f"module '{self.display}' has no element '{name}'."
                                   f"{did_you_mean(canonical(name), inner)}")
        return Ref(full)

    def __repr__(self) -> str:
        return f"ModuleHandle({self.prefix!r})"


class Model:
    """A model under construction. Declarations return handles usable in equations.

    Time settings: `start`, `stop`, `dt` (integration step) and `saveper` (output interval,
    a multiple of dt; default dt).
    """

    def __init__(self, name: str, *, start: float = 0.0, stop: float = 100.0, dt: float = 1.0,
                 saveper: float | None = None, time_units: str = "time", doc: str = ""):
        if not (dt > 0):
            raise ModelError(f"model '{name}': dt must be positive, got {dt}")
        if not (stop > start):
            raise ModelError(f"model '{name}': stop ({stop}) must be after start ({start})")
        self.name, self.doc, self.time_units = name, doc, time_units
        self.start, self.stop, self.dt = float(start), float(stop), float(dt)
        self.saveper = float(saveper) if saveper is not None else float(dt)
        self.elements: dict[str, Element] = {}
        self.dims: dict[str, Dim] = {}
        self.scenarios: dict[str, Scenario] = {}
        self.loop_names: list[NamedLoop] = []

    # -- time --------------------------------------------------------------
    def with_time(self, **settings) -> "Model":
        """A copy with other time settings (start, stop, dt, saveper)."""
        other = copy.copy(self)
        other.elements, other.dims = dict(self.elements), dict(self.dims)
        other.scenarios, other.loop_names = dict(self.scenarios), list(self.loop_names)
        for key, value in settings.items():
            if key not in ("start", "stop", "dt", "saveper"):
                raise TypeError(f"unknown time setting {key!r}; use start, stop, dt or saveper")
            if value is not None:
                setattr(other, key, float(value))
        return other

    # -- declarations ------------------------------------------------------
    def stock(self, name: str, initial=0.0, *, units: str = "", doc: str = "", dims=(),
              non_negative: bool = False, limit_outflows: bool = False) -> Ref:
        """A stock (level): integrates its inflows minus its outflows.

        non_negative clamps it at 0 (an outflow that goes on into another stock then carries
        more than was there). With limit_outflows as well, its outflows are cut back instead,
        in the order they were declared, so that in a step they take no more than the stock
        holds plus its inflows: Stella's non-negative stocks, which conserve what they pass on.
        Where an inflow depends on one of those outflows in the same step, the stock is
        clamped instead, with a warning. With RK4 the cut applies in every stage, so the
        stock approaches 0 over a few steps instead of reaching it in one."""
        return self._add(Stock, name, units, doc, dims,
                         initial=self._equation(name, initial, dims), non_negative=non_negative,
                         limit_outflows=non_negative and limit_outflows)

    def flow(self, name: str, equation, *, into=None, out_of=None, units: str = "",
             doc: str = "", dims=(), non_negative: bool = False) -> Ref:
        """A flow (rate) into and/or out of stocks (both for a transfer between them)."""
        if into is None and out_of is None:
            raise ModelError(f"flow '{name}' in model '{self.name}' is attached to no stock; "
                             "give into=STOCK and/or out_of=STOCK (or make it an aux)")
        return self._add(Flow, name, units, doc, dims, equation=self._equation(name, equation, dims),
                         into=_name_of(into), out_of=_name_of(out_of), non_negative=non_negative)

    def aux(self, name: str, equation, *, units: str = "", doc: str = "", dims=(),
            initial=None) -> Ref:
        """An auxiliary: a value computed from others at every step.

        `initial` gives it another equation for the start only (Vensim's ACTIVE INITIAL),
        which breaks a cycle that exists only among initial values.
        """
        return self._add(Aux, name, units, doc, dims, equation=self._equation(name, equation, dims),
                         initial=None if initial is None else self._equation(name, initial, dims))

    def constant(self, name: str, value, *, units: str = "", doc: str = "", dims=()) -> Ref:
        """A parameter that every run (and every sweep point) may override."""
        dims = self._dims(dims)
        shape = tuple(len(self.dims[d]) for d in dims)
        if isinstance(value, Mapping):
            flat = np.full(shape, np.nan)
            for key, v in value.items():
                key = key if isinstance(key, tuple) else (key,)
                flat[tuple(self.dims[d].elements.index(str(k)) for d, k in zip(dims, key))] = v
        else:
            try:
                flat = np.broadcast_to(np.asarray(value, dtype=float), shape)
            except (TypeError, ValueError) as exc:
                raise ModelError(f"constant '{name}' in model '{self.name}': value {value!r} "
                                 f"does not fit dimensions {dims} ({exc})") from None
        return self._add(Constant, name, units, doc, dims,
                         values=tuple(float(v) for v in flat.ravel()))

    def parameters(self, table: Mapping[str, tuple], overrides: Mapping | None = None
                   ) -> dict[str, Ref]:
        """Declare constants from ``{name: (default, units, source)}``, with overrides by name.

        Override names match ignoring case, spaces and underscores; an unknown one raises
        UnknownNameError with a suggestion. Returns ``{name: handle}`` in table order.

        >>> m = Model("pool")
        >>> c = m.parameters({"Pool size": (100, "connections", "Part 3.3")}, {"pool_size": 50})
        >>> m.elements["pool_size"].values, m.elements["pool_size"].doc
        ((50.0,), 'Part 3.3')
        """
        by_id = {canonical(name): name for name in table}
        values = {name: spec[0] for name, spec in table.items()}
        for key, value in (overrides or {}).items():
            if canonical(key) not in by_id:
                raise UnknownNameError(f"model '{self.name}' has no parameter '{key}'."
                                       f"{did_you_mean(key, list(table))} Parameters: "
                                       f"{', '.join(table)}")
            values[by_id[canonical(key)]] = value
        return {name: self.constant(name, values[name], units=spec[1] if len(spec) > 1 else "",
                                    doc=spec[2] if len(spec) > 2 else "")
                for name, spec in table.items()}

    def lookup(self, name: str, points, *, extrapolate: bool = False, units: str = "",
               doc: str = "") -> LookupHandle:
        """A graphical function from (x, y) points: ``[(0, 1), (1, 0.5)]`` or ``(xs, ys)``."""
        points = list(points)
        if len(points) == 2 and not np.isscalar(points[0]) and len(points[0]) != 2:
            xs, ys = points
        else:
            xs, ys = zip(*points) if points else ((), ())
        ref = self._add(Lookup, name, units, doc, (), xs=tuple(float(x) for x in xs),
                        ys=tuple(float(y) for y in ys), extrapolate=extrapolate)
        return LookupHandle(ref.name)

    def dim(self, name: str, elements) -> Dim:
        """Declare a dimension (also done implicitly by passing a `Dim` in dims=)."""
        return self._register_dim(Dim(name, elements))

    @property
    def time(self) -> Expr:
        from sdmodels.expr import Time
        return Time()

    @property
    def dt_expr(self) -> Expr:
        from sdmodels.expr import TimeStep
        return TimeStep()

    # -- composition -------------------------------------------------------
    def module(self, prefix: str, submodel: "Model", *, inputs: Mapping | None = None,
               display: str | None = None) -> ModuleHandle:
        """Include `submodel` under `prefix`; `inputs` wire its constants to outer expressions."""
        pid = canonical(prefix)
        display = display or prefix
        inputs = {canonical(k): as_expr(v) for k, v in (inputs or {}).items()}
        for key in inputs:
            element = submodel.elements.get(key)
            if not isinstance(element, Constant):
                raise UnknownNameError(
                    f"module '{display}': input '{key}' is not a constant of model "
                    f"'{submodel.name}'.{did_you_mean(key, submodel.constants())}")
        for d in submodel.dims.values():
            self._register_dim(d)
        resolve = submodel.resolver()

        def rename(expr: Expr) -> Expr:
            def fix(node):
                if isinstance(node, LookupHandle):
                    return LookupHandle(f"{pid}.{resolve(node.name, 'a module element')}")
                if isinstance(node, Ref):
                    return Ref(f"{pid}.{resolve(node.name, 'a module element')}")
                if isinstance(node, LookupCall):
                    return LookupCall(f"{pid}.{resolve(node.table, 'a module element')}", node.arg)
                return None
            return transform(expr, fix)

        ids = []
        for eid, element in submodel.elements.items():
            changes = {"id": f"{pid}.{eid}", "display": f"{display} / {element.display}",
                       "module": f"{pid}.{element.module}" if element.module else pid}
            if eid in inputs:
                new = Aux(**changes, dims=element.dims, units=element.units, doc=element.doc,
                          equation=inputs[eid])
            else:
                new = replace(element, **changes, **_map_equations(element, rename, prefix=pid,
                                                                   resolve=resolve))
            self._insert(new)
            ids.append(new.id)
        for loop in submodel.loop_names:
            self.loop_names.append(NamedLoop(loop.name, tuple(
                f"{pid}.{resolve(v, 'a loop variable')}" for v in loop.variables)))
        return ModuleHandle(pid, display, ids)

    # -- analysis and scenario metadata -------------------------------------
    def name_loop(self, name: str, variables: Iterable) -> None:
        """Name the feedback loop that passes through all of `variables`."""
        self.loop_names.append(NamedLoop(name, tuple(_name_of(v) for v in variables)))

    def scenario(self, name: str, doc: str = "", **params) -> None:
        """Declare a named set of parameter overrides (``name=value`` by canonical id)."""
        self.scenarios[name] = Scenario(name, tuple(params.items()), doc)

    def add_scenario(self, name: str, params: Mapping[str, float], doc: str = "") -> None:
        """Declare a scenario with parameters given by display name."""
        self.scenarios[name] = Scenario(name, tuple(params.items()), doc)

    def constants(self) -> list[str]:
        """Display names of all constants (the parameters runs can set)."""
        return [e.display for e in self.elements.values() if isinstance(e, Constant)]

    def resolver(self):
        """A function name -> id that raises UnknownNameError with a suggestion."""
        displays = {e.display: e for e in self.elements.values()}

        def resolve(name: str, role: str) -> str:
            key = canonical(name)
            if key in self.elements:
                return key
            raise UnknownNameError(f"{role} '{name}' is not defined in model '{self.name}'."
                                   f"{did_you_mean(name, displays)}")
        return resolve

    # -- internals -----------------------------------------------------------
    def _add(self, kind, name: str, units: str, doc: str, dims, **fields) -> Ref:
        if not isinstance(name, str) or not name.strip():
            raise ModelError(f"model '{self.name}': every element needs a non-empty name")
        element = kind(id=canonical(name), display=" ".join(name.split()), dims=self._dims(dims),
                       units=units, doc=doc, **fields)
        self._insert(element)
        return Ref(element.id)

    def _insert(self, element: Element) -> None:
        if element.id in self.elements:
            old = self.elements[element.id]
            raise DuplicateNameError(
                f"model '{self.name}' defines '{element.display}' twice (as "
                f"{type(old).__name__.lower()} '{old.display}' and as "
                f"{type(element).__name__.lower()}); names are compared ignoring case, "
                "spaces and underscores: rename one of them")
        self.elements[element.id] = element

    def _dims(self, dims) -> tuple[str, ...]:
        if isinstance(dims, (Dim, str)):
            dims = (dims,)
        names = []
        for d in dims:
            if isinstance(d, Dim):
                self._register_dim(d)
                names.append(d.name)
            elif d in self.dims:
                names.append(d)
            else:
                raise UnknownNameError(f"dimension '{d}' is not declared in model '{self.name}'."
                                       f"{did_you_mean(d, self.dims)} Pass a Dim object or call "
                                       "model.dim(name, elements) first")
        check_count(f"cells of one variable over {', '.join(names)}",
                    math.prod(len(self.dims[d]) for d in names), "max_array_elements",
                    where=f"model '{self.name}'")
        return tuple(names)

    def _register_dim(self, dim: Dim) -> Dim:
        old = self.dims.get(dim.name)
        if old is not None and old.elements != dim.elements:
            raise ModelError(f"dimension '{dim.name}' is declared twice with different "
                             f"elements: {old.elements} and {dim.elements}")
        self.dims[dim.name] = dim
        return dim

    def _equation(self, name: str, equation, dims):
        if isinstance(equation, Mapping):
            items = []
            for key, value in equation.items():
                key = key if isinstance(key, tuple) else (key,)
                items.append((tuple(str(k) for k in key), as_expr(value)))
            return PerElement(tuple(items))
        try:
            return as_expr(equation)
        except Exception as exc:
            if isinstance(exc, ModelError):
                raise type(exc)(f"in the equation of '{name}' (model '{self.name}'): {exc}") from None
            raise

    def __repr__(self) -> str:
        return f"Model({self.name!r}, {len(self.elements)} elements)"


def _name_of(handle) -> str | None:
    if handle is None:
        return None
    if isinstance(handle, Ref):
        return handle.name
    if isinstance(handle, str):
        return handle
    raise TypeError(f"expected an element handle or a name, got {handle!r}")


def _map_equations(element: Element, fn, *, prefix: str, resolve) -> dict:
    """New field values for `element` with `fn` applied to every expression it holds."""
    out = {}
    for key in ("initial", "equation", "input", "delay", "period", "first", "window"):
        value = getattr(element, key, None)
        if isinstance(value, Expr):
            out[key] = fn(value)
        elif isinstance(value, PerElement):
            out[key] = PerElement(tuple((k, fn(e)) for k, e in value.items))
    for key in ("into", "out_of"):
        value = getattr(element, key, None)
        if value is not None:
            out[key] = f"{prefix}.{resolve(value, 'stock')}"
    return out
