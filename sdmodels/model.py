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
import dataclasses
import functools
import math
from numbers import Real
from collections.abc import Iterable, Mapping   # typing's aliases: isinstance 3x slower

import numpy as np

from sdmodels.elements import (Aux, Constant, Dim, Element, Flow, Lookup, NamedLoop, PerElement,
                               Scenario, Stock, canonical, make, with_fields)
from sdmodels.errors import (DuplicateNameError, ModelError, UnknownNameError, did_you_mean,
                             not_a_model)
from sdmodels.expr import Binary, Const, Expr, LookupCall, Ref, as_expr, binary, map_children
from sdmodels.ports import Port, units_match
from sdmodels.limits import check_count, over_limit


class LookupHandle(Ref):
    """A lookup element: call it on an expression to read the graphical function."""

    def __call__(self, x) -> LookupCall:
        return LookupCall(self.name, as_expr(x))


class ModuleHandle:
    """A sub-model included under a prefix: ``handle["Name"]`` refers to any of its elements,
    ``handle.out["Name"]`` to a declared output port, ``handle.connect(...)`` wires an input."""

    def __init__(self, parent: "Model", prefix: str, display: str, submodel: "Model",
                 ids: Iterable[str]):
        self.prefix, self.display, self._ids = prefix, display, frozenset(ids)
        self._parent, self._sub = parent, submodel
        self._inputs: dict[str, Port] | None = None

    @property
    def out(self) -> "_Outputs":
        """Its output ports by name: ``handle.out["Name"]`` (made on access: kept on the
        handle it would form a cycle, and a dropped handle with its sub-model would wait for
        the cyclic collector instead of being freed at once)."""
        return _Outputs(self)

    def __getitem__(self, name: str) -> Ref:
        full = f"{self.prefix}.{canonical(name)}"
        if full not in self._ids:
            inner = sorted(i[len(self.prefix) + 1:] for i in self._ids)
            raise UnknownNameError(f"module '{self.display}' has no element '{name}'."
                                   f"{did_you_mean(canonical(name), inner)}")
        return Ref(full)

    @property
    def inputs(self) -> dict[str, Port]:
        """The declared input ports by display name (every constant if none is declared);
        found once (each `connect` asks: a sub-model's every element, for one without ports)."""
        if self._inputs is None:
            ports = self._sub.input_ports or {
                e.id: Port(e.id, e.display, e.units, e.doc)
                for e in self._sub.elements.values() if isinstance(e, Constant)}
            self._inputs = {p.display: p for p in ports.values()}
        return dict(self._inputs)

    @property
    def outputs(self) -> dict[str, Port]:
        """The declared output ports by display name."""
        return {p.display: p for p in self._sub.output_ports.values()}

    def unconnected(self) -> list[str]:
        """Input ports still at their default value (not wired to anything)."""
        return [name for name, port in self.inputs.items()
                if isinstance(self._parent.elements[f"{self.prefix}.{port.id}"], Constant)]

    def connect(self, name: str, source) -> "ModuleHandle":
        """Wire input port `name` to `source` (a handle, an expression, a number or text).

        An input can be wired once; a source whose declared units differ from the port's is
        an error that names both. Returns the handle, so connections can be chained."""
        port = self._port(name)
        full = f"{self.prefix}.{port.id}"
        current = self._parent.elements[full]
        if not isinstance(current, Constant):
            raise ModelError(f"input '{port.display}' of module '{self.display}' is already "
                             f"connected (to {current.equation}); connect each input once")
        expr = as_expr(source)
        if isinstance(source, Ref) and source.name in self._parent.elements:
            other = self._parent.elements[source.name]
            if not units_match(other.units, port.units):
                raise ModelError(
                    f"cannot connect '{other.display}' ({other.units}) to input "
                    f"'{current.display}' ({port.units}) of module '{self.display}': the units "
                    "differ; convert the value in an auxiliary, or fix the declared units")
        self._parent.elements[full] = Aux(id=full, display=current.display, dims=current.dims,
                                          units=current.units, doc=current.doc,
                                          module=current.module, equation=expr)
        return self

    def _port(self, name: str) -> Port:
        return _find_port(self.inputs, name, f"module '{self.display}': '{name}' is not an "
                          f"input of model '{self._sub.name}'.", "Inputs")

    def __repr__(self) -> str:
        return f"ModuleHandle({self.prefix!r})"


class _Outputs:
    """``handle.out["Name"]``: a declared output port of a module, as a reference."""

    def __init__(self, handle: ModuleHandle):
        self._handle = handle

    def __getitem__(self, name: str) -> Ref:
        port = _find_port(self._handle.outputs, name, f"module '{self._handle.display}' has "
                          f"no output '{name}'.", "Outputs")
        return Ref(f"{self._handle.prefix}.{port.id}")


def _find_port(ports: Mapping[str, Port], name: str, problem: str, listing: str) -> Port:
    """The port named `name` (ignoring case, spaces and '_'), or UnknownNameError."""
    port = ports.get(name)      # the display name as declared: no canonical() of every port
    if port is None:
        by_id = {canonical(display): port for display, port in ports.items()}
        port = by_id.get(canonical(name))
    if port is None:
        raise UnknownNameError(f"{problem}{did_you_mean(name, ports)} {listing}: "
                               f"{', '.join(ports) or 'none declared'}")
    return port


class Model:
    """A model under construction. Declarations return handles usable in equations.

    Time settings: `start`, `stop`, `dt` (integration step) and `saveper` (output interval,
    a multiple of dt; default dt).
    """

    def __init__(self, name: str, *, start: float = 0.0, stop: float = 100.0, dt: float = 1.0,
                 saveper: float | None = None, time_units: str = "time", doc: str = ""):
        for setting, value in (("start", start), ("stop", stop), ("dt", dt), ("saveper", saveper)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, Real)):
                raise ModelError(f"model '{name}': {setting} must be a number, not {value!r}")
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
        self.input_ports: dict[str, Port] = {}      # id -> Port, when used as a part
        self.output_ports: dict[str, Port] = {}

    # -- time --------------------------------------------------------------
    def with_time(self, **settings) -> "Model":
        """A copy with other time settings (start, stop, dt, saveper)."""
        other = copy.copy(self)
        other.elements, other.dims = dict(self.elements), dict(self.dims)
        other.scenarios, other.loop_names = dict(self.scenarios), list(self.loop_names)
        other.input_ports, other.output_ports = dict(self.input_ports), dict(self.output_ports)
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
        if not dims and type(value) in (float, int):      # most constants: no numpy
            return self._add(Constant, name, units, doc, dims, values=(float(value),))
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
        values = self._table_values(table, overrides, "parameter")
        return {name: self.constant(name, values[name], units=spec[1] if len(spec) > 1 else "",
                                    doc=spec[2] if len(spec) > 2 else "")
                for name, spec in table.items()}

    def inputs(self, table: Mapping[str, tuple], overrides: Mapping | None = None
               ) -> dict[str, Ref]:
        """Declare input ports from ``{name: (default, units, source)}`` (as `parameters`
        does constants): a part's table of documented defaults, overridable by name.

        >>> m = Model("pool")
        >>> c = m.inputs({"Pool size": (10, "conn", "HikariCP maximumPoolSize")}, {"pool size": 20})
        >>> m.input_ports["pool_size"].source, m.elements["pool_size"].values
        ('HikariCP maximumPoolSize', (20.0,))
        """
        values = self._table_values(table, overrides, "input")
        return {name: self.input(name, values[name], units=units, source=source)
                for name, (_, units, source) in table.items()}

    def _table_values(self, table: Mapping[str, tuple], overrides, role: str) -> dict:
        """Each row's default, replaced by an override given by name (any spelling)."""
        for name, spec in table.items():
            if not isinstance(spec, tuple) or len(spec) != 3:
                raise ModelError(f"model '{self.name}': {role} '{name}' is {spec!r}; give "
                                 f"(default, units, source), e.g. (100, 'connections', "
                                 f"'HikariCP maximumPoolSize')")
        by_id = {canonical(name): name for name in table}
        values = {name: spec[0] for name, spec in table.items()}
        for key, value in (overrides or {}).items():
            if canonical(key) not in by_id:
                raise UnknownNameError(f"model '{self.name}' has no {role} '{key}'."
                                       f"{did_you_mean(key, list(table))} {role.title()}s: "
                                       f"{', '.join(table)}")
            values[by_id[canonical(key)]] = value
        return values

    def lookup(self, name: str, points, *, extrapolate: bool = False, units: str = "",
               doc: str = "") -> LookupHandle:
        """A graphical function from (x, y) points: ``[(0, 1), (1, 0.5)]`` or ``(xs, ys)``."""
        points = list(points)
        if len(points) == 2 and not np.isscalar(points[0]) and len(points[0]) != 2:
            xs, ys = points
        elif all(not np.isscalar(p) and len(p) == 2 for p in points):
            xs, ys = zip(*points) if points else ((), ())
        else:
            raise ModelError(f"lookup '{name}' in model '{self.name}': give (x, y) points, "
                             f"[(0, 1), (1, 0.5)], or two lists (xs, ys), not {points!r}")
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
        """Include `submodel` under `prefix`; `inputs` wire its input ports (or constants) to
        outer expressions, as `connect` on the returned handle does later."""
        if not isinstance(submodel, Model):
            raise not_a_model(f"module '{prefix}'", "a Model (the sub-model)", submodel)
        pid = canonical(prefix)
        display = display or prefix
        for d in submodel.dims.values():
            self._register_dim(d)
        resolve = submodel.resolver()
        renamed: dict[int, Expr] = {}   # id of a node of `submodel` (alive with it) -> renamed
        names: dict[str, str] = {}      # a name as the submodel writes it -> its id here

        def name_of(name: str) -> str:
            done = names.get(name)
            if done is None:
                done = names[name] = f"{pid}.{resolve(name, 'a module element')}"
            return done

        def rename(node: Expr) -> Expr:     # references only; the rest shared or rebuilt
            # a subtree that several equations share (a part's handle used in many places:
            # half of api_service's nodes) is renamed once and stays shared
            cls = type(node)
            if cls is Const:                # a number stays (shared)
                return node
            done = renamed.get(id(node))
            if done is not None:
                return done
            if cls is Binary:               # most nodes
                left, right = rename(node.left), rename(node.right)
                done = node if left is node.left and right is node.right else \
                    binary(node.op, left, right)
            elif cls is Ref or cls is LookupHandle:
                done = cls(name_of(node.name))
            elif cls is LookupCall:
                arg = rename(node.arg)
                done = LookupCall(name_of(node.table), arg)
            elif isinstance(node, Ref):
                done = (LookupHandle if isinstance(node, LookupHandle) else Ref)(
                    name_of(node.name))
            else:
                done = map_children(node, rename)   # the node itself when nothing changes
            renamed[id(node)] = done
            return done

        ids = []
        module_of = {"": pid}
        for eid, element in submodel.elements.items():
            module = module_of.get(element.module)
            if module is None:
                module = module_of[element.module] = f"{pid}.{element.module}"
            new = with_fields(element, id=f"{pid}.{eid}",
                              display=f"{display} / {element.display}", module=module,
                              **_map_equations(element, rename, prefix=pid, resolve=resolve))
            self._insert(new)
            ids.append(new.id)
        del rename      # it refers to itself: a cycle the collector would have to free
        for loop in submodel.loop_names:
            self.loop_names.append(NamedLoop(loop.name, tuple(
                f"{pid}.{resolve(v, 'a loop variable')}" for v in loop.variables)))
        handle = ModuleHandle(self, pid, display, submodel, ids)
        for key, value in (inputs or {}).items():
            handle.connect(key, value)
        return handle

    def input(self, name: str, default, *, units: str = "", source: str = "",
              doc: str = "", dims=()) -> Ref:
        """Declare an input port: a constant with a default (and its source) that a model
        including this one as a module may wire with `ModuleHandle.connect`."""
        ref = self.constant(name, default, units=units, doc=doc or source, dims=dims)
        element = self.elements[ref.name]
        self.input_ports[ref.name] = Port(ref.name, element.display, units, source, doc)
        return ref

    def output(self, handle, *, doc: str = "") -> Ref:
        """Declare an element (a handle or a name) as an output port; returns its handle."""
        eid = self.resolver()(_name_of(handle), "output")
        element = self.elements[eid]
        self.output_ports[eid] = Port(eid, element.display, element.units, "", doc or element.doc)
        return Ref(eid)

    # -- analysis and scenario metadata -------------------------------------
    def name_loop(self, name: str, variables: Iterable) -> None:
        """Name the feedback loop that passes through all of `variables`."""
        if isinstance(variables, str):      # its letters are no loop
            raise ModelError(f"loop '{name}' in model '{self.name}': give the variables it "
                             f"passes through as a list, e.g. [{variables!r}, ...]")
        self.loop_names.append(NamedLoop(name, tuple(_name_of(v) for v in variables)))

    def scenario(self, name: str, doc: str = "", **params) -> None:
        """Declare a named set of parameter overrides (``name=value`` by canonical id)."""
        self.scenarios[name] = Scenario(name, tuple(params.items()), doc)

    def add_scenario(self, name: str, params: Mapping[str, float], doc: str = "") -> None:
        """Declare a scenario with parameters given by display name."""
        if not isinstance(params, Mapping):
            raise ModelError(f"scenario '{name}' of model '{self.name}': give its parameters "
                             f"as a dict {{name: value}}, not {type(params).__name__}")
        self.scenarios[name] = Scenario(name, tuple(params.items()), doc)

    def constants(self) -> list[str]:
        """Display names of all constants (the parameters runs can set)."""
        return [e.display for e in self.elements.values() if isinstance(e, Constant)]

    def resolver(self):
        """A function name -> id that raises UnknownNameError with a suggestion."""
        def resolve(name: str, role: str) -> str:
            if name in self.elements:   # an id already (ids are canonical: canonical(id) == id)
                return name
            key = canonical(name)
            if key in self.elements:
                return key
            shown = [e.display for e in self.elements.values()]    # only when raising
            raise UnknownNameError(f"{role} '{name}' is not defined in model '{self.name}'."
                                   f"{did_you_mean(name, shown)}")
        return resolve

    # -- internals -----------------------------------------------------------
    def _add(self, kind, name: str, units: str, doc: str, dims, **fields) -> Ref:
        if not isinstance(name, str):
            raise ModelError(f"model '{self.name}': an element's name is text, not {name!r}")
        if not name.strip():
            raise ModelError(f"model '{self.name}': every element needs a non-empty name")
        if not isinstance(units, str):      # pint would fail on it in check_units
            raise ModelError(f"'{name}' in model '{self.name}': units are text such as "
                             f"'req/s' or '1', not {units!r}")
        element = make(kind, id=canonical(name), display=" ".join(name.split()),
                       dims=self._dims(dims), units=units, doc=doc, **fields)
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
        if dims == ():
            return ()
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
        if not names:       # a scalar is one cell
            return ()
        cells = math.prod(len(self.dims[d]) for d in names)
        if over_limit(cells, "max_array_elements"):
            check_count(f"cells of one variable over {', '.join(names)}", cells,
                        "max_array_elements", where=f"model '{self.name}'")
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

    def _repr_html_(self) -> str:
        from sdmodels.workbench.display import model_html
        return model_html(self)

    def _repr_markdown_(self) -> str:
        from sdmodels.workbench.display import model_markdown
        return model_markdown(self)


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
    expr_fields, name_fields = _mapped_fields(type(element))
    for key in expr_fields:
        value = getattr(element, key)
        if isinstance(value, Expr):
            out[key] = fn(value)
        elif isinstance(value, PerElement):
            out[key] = PerElement(tuple([(k, fn(e)) for k, e in value.items]))
    for key in name_fields:
        value = getattr(element, key)
        if value is not None:
            out[key] = f"{prefix}.{resolve(value, 'stock')}"
    return out


@functools.cache
def _mapped_fields(kind: type) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The fields of an element class `_map_equations` maps: expressions, stock names."""
    names = {f.name for f in dataclasses.fields(kind)}
    return (tuple(k for k in ("initial", "equation", "input", "delay", "period", "first",
                              "window") if k in names),
            tuple(k for k in ("into", "out_of") if k in names))
