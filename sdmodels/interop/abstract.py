"""Map pysd's abstract model (from its Vensim or XMILE translator) into an sdmodels `Model`.

pysd's translators stop at an `AbstractModel`: typed expression structures, no Python code.
We read those structures into our own expression trees; pysd's code generator and runtime
are never used. Subscripts are resolved here, at import time: every arrayed variable gets one
equation per element in which each reference names concrete elements (subranges, mappings,
:EXCEPT: and vector reductions included), so the engine only sees `Index` by element name.
"""
from __future__ import annotations

import itertools
import math

import numpy as np

from sdmodels.elements import Aux, Constant, Flow, Lookup, PerElement, Stock, canonical
from sdmodels.expr import (Binary, Call, Const, Delay1, Delay3, DelayFixed, Expr, Index,
                           LookupCall, Ref, Smooth, Smooth3, SmoothN, Time, TimeStep, Trend,
                           Unary)
from sdmodels.model import Model
from sdmodels.interop import (abstract_static, external, macros, vensim_builtins,
                              vensim_functions, vensim_vectors)
from sdmodels.interop.abstract_static import (CONTROL, Unsupported, calls, calls_top,
                                              construct_name, is_lookup_def, key_of)
from sdmodels.interop.vensim_subscripts import (_TWIN, _distinct, _expand_vector, _Subs,
                                                _Vector, _vector_terms)

_COMPARE = {"=": "=", "<>": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_LOGIC = {":and:": "and", ":or:": "or", "and": "and", "or": "or"}
NA = -2.0 ** 109    # Vensim's :NA: value (pysd reads it as nan; our engine rejects nan)


class AbstractImporter:
    """One pass over an AbstractModel's main section, building a `Model`."""

    def __init__(self, abstract, *, name: str, path: str):
        self.path, self.name = path, name
        sections = [s for s in abstract.sections if s.type == "main"]
        self.macros = {key_of(s.name): s for s in abstract.sections if s.type != "main"}
        self.section = sections[0]
        self.subs = _Subs()
        for r in self.section.subscripts:
            elems = r.subscripts
            if isinstance(elems, str):      # a copy of another range
                elems = None
            elif isinstance(elems, dict):   # GET XLS/DIRECT SUBSCRIPT
                elems = external.subscript_elements(self, elems)
            self.subs.add(r.name, elems if elems is not None else (), r.mapping)
        for r in self.section.subscripts:
            if isinstance(r.subscripts, str):
                self.subs.ranges[r.name] = self.subs.ranges.get(r.subscripts, ())
        self.subs.flatten()
        self.range_names = {key_of(n): n for n in self.subs.ranges}
        self.elements = {key_of(e.name): e for e in self.section.elements}
        self.display = {k: " ".join(e.name.strip().strip('"').split()) for k, e in self.elements.items()}
        self.dims_of: dict[str, tuple[str, ...]] = {}
        self.lookup_ids: set[str] = set()
        self.extra: list = []
        self.current = ""
        self.counter = 0

    # -- top level --------------------------------------------------------------
    def build(self) -> Model:
        times = self._times()
        model = Model(self.name, **times, time_units=abstract_static.time_unit(self.elements))
        for key, element in self.elements.items():
            if key in CONTROL:
                continue
            self.current = self.display[key]
            self.dims_of[key] = _distinct(self._dims(element))
            for d in self.dims_of[key]:
                if d not in model.dims:
                    try:
                        model.dim(d, self.subs.ranges[d.split(_TWIN)[0]])
                    except ValueError as exc:   # no elements, or one named twice
                        raise Unsupported(f"subscript range '{d}'", str(exc)) from None
            if any(is_lookup_def(c) for c in element.components):
                self.lookup_ids.add(key)
        for key, element in self.elements.items():
            if key in CONTROL:
                continue
            self.current = self.display[key]
            try:
                self._element(model, key, element)
            except Unsupported:
                raise
            except (KeyError, ValueError, TypeError, IndexError) as exc:
                raise Unsupported("equation", f"could not be mapped ({type(exc).__name__}: {exc})")
        for element in self.extra:
            model._insert(element)
        return model

    def _times(self) -> dict:
        """start, stop, dt and saveper (`abstract_static.time_settings`)."""
        return abstract_static.time_settings(self.elements)

    def _static(self, ast, known):
        """The value of `ast` at the start, or None (`abstract_static.static_value`)."""
        return abstract_static.static_value(ast, known, self.elements)

    def _dims(self, element) -> tuple[str, ...]:
        """Per position: the range used if only one, else the smallest range covering all."""
        used: list[list[str]] = []
        cover: list[set[str]] = []
        for comp in element.components:
            for i, sub in enumerate(comp.subscripts[0]):
                if sub not in self.subs.ranges and not any(
                        sub in r for r in self.subs.ranges.values()):
                    raise Unsupported("subscript", f"'{sub}' is not a declared subscript range "
                                      "or element")
                if i >= len(used):
                    used.append([])
                    cover.append(set())
                used[i].append(sub)
                cover[i] |= set(self.subs.values(sub))
        dims = []
        for names, elems in zip(used, cover):
            ranges = {n for n in names if n in self.subs.ranges}
            if len(ranges) == 1 and set(self.subs.ranges[next(iter(ranges))]) == elems:
                dims.append(next(iter(ranges)))
                continue
            fits = [r for r, v in self.subs.ranges.items() if elems <= set(v)]
            if not fits:
                raise Unsupported("subscript", f"no range holds all of {sorted(elems)}")
            dims.append(min(fits, key=lambda r: (len(self.subs.ranges[r]),
                                                 self.subs.main(r) != r)))
        return tuple(dims)

    def _cells(self, comp, dims) -> list[tuple[tuple[str, ...], dict[str, str]]]:
        """The element tuples a component defines, with the binding of each."""
        subs = comp.subscripts[0]
        if not subs:
            return [((), {})]
        excepts = {tuple(e) for e in comp.subscripts[1]}
        out = []
        for combo in itertools.product(*(self.subs.values(s) for s in subs)):
            skip = False
            for ex in comp.subscripts[1]:
                if all(c in self.subs.values(x) for c, x in zip(combo, ex)):
                    skip = True
            if skip or combo in excepts:
                continue
            binding = {}
            for s, c, d in zip(subs, combo, dims):
                binding[d] = c
                if s in self.subs.ranges:
                    binding[s] = c
            out.append((combo, binding))
        return out

    def _element(self, model: Model, key: str, element) -> None:
        dims = self.dims_of[key]
        display = self.display[key]
        comps = element.components
        kinds = {type(c.ast).__name__ for c in comps}
        units, doc = element.units or "", element.documentation or ""
        if key in self.lookup_ids:     # one Lookup per cell, hardcoded or GET LOOKUPS
            for lookup in external.lookup_elements(self, key, element, dims):
                model._insert(lookup)
            return
        cells = []      # (combo, binding, ast)
        for comp in comps:
            if external.is_external(comp):     # read now; floats or expressions of Time
                cells += external.external_cells(self, comp, dims, display)
                continue
            for combo, binding in self._cells(comp, dims):
                cells.append((combo, binding, comp.ast))
        by_key: dict[tuple, tuple] = {}
        for combo, binding, ast in cells:
            if isinstance(ast, np.ndarray):
                flat = np.asarray(ast, dtype=float).ravel()
                combos = [c for c, _b, a in cells if a is ast]
                ast = float(flat[combos.index(combo)]) if flat.size == len(combos) else \
                    float(flat[combos.index(combo) % flat.size])
            by_key[combo] = (binding, ast)
        for combo in itertools.product(*(model.dims[d].elements for d in dims)):
            if combo not in by_key:     # Vensim reads an undefined element as 0
                by_key[combo] = (dict(zip(dims, combo)), 0.0)
        if any(calls_top(a, "sinteg") for _b, a in by_key.values()):
            return vensim_builtins.sinteg_stock(self, model, display, dims, by_key, units, doc)
        if "IntegStructure" in kinds:
            if kinds != {"IntegStructure"}:
                raise Unsupported("stock", "mixes INTEG and other definitions across elements")
            undefined = [c for c, (_b, a) in by_key.items() if not hasattr(a, "flow")]
            if undefined:
                raise Unsupported("stock", f"has no INTEG equation for its element "
                                  f"[{', '.join(undefined[0])}] ({len(undefined)} of "
                                  f"{len(by_key)} left undefined); define every element")
            flows = {c: self.expr(a.flow, b) for c, (b, a) in by_key.items()}
            inits = {c: self.expr(a.initial, b, initial=True) for c, (b, a) in by_key.items()}
            nonneg = any(getattr(a, "non_negative", False) for _b, a in by_key.values())
            sid = canonical(display)
            model._insert(Stock(id=sid, display=display, dims=dims, units=units, doc=doc,
                                initial=_eq(inits, dims), non_negative=nonneg))
            self.extra.append(Flow(id=f"{sid}~net", display=f"{display} (net flow)", dims=dims,
                                   equation=_eq(flows, dims), into=sid, origin=sid))
            return
        if not dims and isinstance(by_key[()][1], (int, float)):    # a scalar: no numpy
            model._insert(Constant(id=canonical(display), display=display, dims=dims,
                                   units=units, doc=doc, values=(float(by_key[()][1]),)))
            return
        if all(isinstance(a, (int, float)) for _b, a in by_key.values()):
            values = np.full([len(model.dims[d].elements) for d in dims] or [], np.nan)
            for combo, (_b, a) in by_key.items():
                pos = tuple(model.dims[d].elements.index(c) for d, c in zip(dims, combo))
                values[pos] = float(a)
            if np.all(np.isfinite(values)) or not dims:
                model._insert(Constant(id=canonical(display), display=display, dims=dims,
                                       units=units, doc=doc,
                                       values=tuple(float(v) for v in np.ravel(values))))
                return
        exprs = {c: self.expr(a, b) for c, (b, a) in by_key.items()}
        if dims and all(isinstance(x, Const) for x in exprs.values()):   # e.g. dim1 = dim2
            values = [exprs[c].value for c in itertools.product(
                *(model.dims[d].elements for d in dims))]
            model._insert(Constant(id=canonical(display), display=display, dims=dims,
                                   units=units, doc=doc, values=tuple(values)))
            return
        initial = None
        if any(calls(a, "active_initial") for _b, a in by_key.values()):
            # ACTIVE INITIAL(active, initial): the start value from `initial` alone
            initial = _eq({c: self.expr(a, b, initial=True) for c, (b, a) in by_key.items()},
                          dims)
        model._insert(Aux(id=canonical(display), display=display, dims=dims, units=units,
                          doc=doc, equation=_eq(exprs, dims), initial=initial))

    # -- expressions ----------------------------------------------------------------
    def expr(self, ast, binding: dict[str, str], *, initial: bool = False) -> Expr:
        e = lambda a: self.expr(a, binding, initial=initial)  # noqa: E731
        if isinstance(ast, Expr):       # already mapped (external data)
            return ast
        if isinstance(ast, bool):
            return Const(1.0 if ast else 0.0)
        if isinstance(ast, (int, float, np.floating, np.integer)):
            return Const(NA if math.isnan(ast) else float(ast))   # :NA: (pysd: nan)
        if isinstance(ast, str):
            raise Unsupported("string", f"text value {ast!r} in an equation")
        kind = type(ast).__name__
        if kind == "ArithmeticStructure":
            args = [e(a) for a in ast.arguments]
            if ast.operators == ["negative"]:
                return Unary("-", args[0])
            if set(ast.operators) == {"^"}:     # Vensim and XMILE: right-associative
                out = args[-1]
                for arg in reversed(args[:-1]):
                    out = Binary("^", arg, out)
                return out
            out = args[0]
            for op, arg in zip(ast.operators, args[1:]):
                out = Binary(op, out, arg)
            return out
        if kind == "LogicStructure":
            ops = [o.lower() for o in ast.operators]
            if ops in (["="], ["<>"]):     # dim1 = dim2: by element numbers, at import
                names = [self.element_named(a, binding) for a in ast.arguments]
                if None not in names:
                    same = self.subs.number(names[0]) == self.subs.number(names[1])
                    return Const(float(same == (ops == ["="])))
            args = [e(a) for a in ast.arguments]
            if ops in ([":not:"], ["not"]):
                return Unary("not", args[0])
            out = args[0]
            for op, arg in zip(ops, args[1:]):
                out = Binary(_COMPARE.get(op) or _LOGIC[op], out, arg)
            return out
        if kind == "ReferenceStructure":
            return self.reference(ast, binding)
        if kind == "CallStructure":
            return self.call(ast, binding, initial)
        if kind == "InitialStructure":
            return e(ast.initial) if initial else self.hold(e(ast.initial))
        if kind == "GameStructure":
            return e(ast.expression)
        if kind == "DelayStructure":
            kind = {1: Delay1, 3: Delay3}[int(ast.order)]
            return kind((e(ast.input), e(ast.delay_time), e(ast.initial)))
        if kind == "DelayNStructure":   # Vensim's semantics: sdmodels/interop/vensim_delays.py
            from sdmodels.interop.vensim_delays import constant_ast, delay_n, fitted_order
            times = self._times()
            start_time = self._static(ast.delay_time, times)
            order = fitted_order(int(self.order(ast.order).value), start_time, times.get("dt"))
            return delay_n(self, e(ast.input), e(ast.delay_time), e(ast.initial), order,
                           constant_time=constant_ast(self, ast.delay_time))
        if kind == "DelayFixedStructure":
            return DelayFixed((e(ast.input), e(ast.delay_time), e(ast.initial)))
        if kind == "SmoothStructure":
            kind = {1: Smooth, 3: Smooth3}[int(ast.order)]
            return kind((e(ast.input), e(ast.smooth_time), e(ast.initial)))
        if kind == "SmoothNStructure":
            return SmoothN((e(ast.input), e(ast.smooth_time), self.order(ast.order),
                            e(ast.initial)))
        if kind == "TrendStructure":
            return Trend((e(ast.input), e(ast.average_time), e(ast.initial_trend)))
        if kind == "ForecastStructure":
            return vensim_vectors.forecast(e(ast.input), e(ast.average_time), e(ast.horizon),
                                           e(ast.initial_trend))
        if kind == "InlineLookupsStructure":
            return LookupCall(self.inline_lookup(ast.lookups), e(ast.argument))
        if kind == "AllocateByPriorityStructure":
            return vensim_vectors.allocate_by_priority(self, ast, binding, initial)
        if kind == "AllocateAvailableStructure":
            return vensim_vectors.allocate_available(self, ast, binding, initial)
        if kind == "SampleIfTrueStructure":
            return vensim_builtins.sample_if_true(self, e(ast.condition), e(ast.input),
                                                  e(ast.initial), binding)
        raise Unsupported(construct_name(kind), "not supported by the importer")

    def element_named(self, ast, binding) -> str | None:
        """The element a bare range or element name stands for here, else None."""
        if type(ast).__name__ != "ReferenceStructure" or ast.subscripts is not None:
            return None
        key = key_of(ast.reference)
        if key in self.elements:
            return None
        if key in self.range_names:
            return self.subs.resolve(self.range_names[key], binding)
        for elems in self.subs.ranges.values():
            for el in elems:
                if key_of(el) == key:
                    return el
        return None

    def order(self, ast) -> Expr:
        """A delay's order, fixed at its value at the start (as Vensim and pysd do)."""
        value = self._static(ast, self._times())
        if value is None:
            raise Unsupported("delay order", "the order must be known at the start of the run")
        return Const(float(round(value)))

    def reference(self, ast, binding) -> Expr:
        key = key_of(ast.reference)
        if key == "time":
            return Time()
        if key == "time_step":
            return TimeStep()
        if key in CONTROL:
            value = self._static(self.elements[key].components[0].ast, {}) if key in \
                self.elements else None
            if value is None:
                raise Unsupported("control variable", f"'{ast.reference}' is not a constant")
            return Const(value)
        if key not in self.elements and key in self.range_names:
            name = self.range_names[key]
            element = self.subs.resolve(name, binding)
            if element is None:
                raise Unsupported("subscript", f"range '{name}' used as a value outside an "
                                  "equation over it")
            return Const(self.subs.number(element))
        if key not in self.elements:
            from sdmodels.errors import did_you_mean
            raise Unsupported("reference", f"'{ast.reference}' is not defined in the model."
                              f"{did_you_mean(str(ast.reference), list(self.display.values()))}")
        target = Ref(self.display[key])
        dims = self.dims_of.get(key, ())
        subs = list(ast.subscripts.subscripts) if ast.subscripts is not None else []
        if not dims:
            if subs:
                raise Unsupported("subscript", f"'{ast.reference}' has no subscripts but is "
                                  f"used with [{', '.join(subs)}]")
            return target
        if not subs:
            subs = list(dims)
        if len(subs) != len(dims):
            raise Unsupported("subscript", f"'{ast.reference}' has {len(dims)} subscripts but "
                              f"is used with {len(subs)}")
        picked = []
        for s in subs:
            bang = s.endswith("!")
            s = s.rstrip("!")
            if bang:      # the range reduced, and the dimension at this place
                picked.append(("!", s, dims[len(picked)]))
                continue
            element = self.subs.resolve(s, binding)
            if element is None:
                raise Unsupported("subscript", f"'{s}' in a reference to '{ast.reference}' "
                                  "cannot be matched to the element being defined")
            picked.append(element)
        if any(isinstance(p, tuple) for p in picked):
            return _Vector(target, tuple(picked), self.subs)
        return Index(target, tuple(picked))

    def call(self, ast, binding, initial) -> Expr:
        fn = key_of(ast.function.reference)
        e = lambda a: self.expr(a, binding, initial=initial)  # noqa: E731
        if fn in self.lookup_ids:
            return external.lookup_call(self, ast, binding, e(ast.arguments[0]))
        if fn in self.macros:
            return macros.expand(self, fn, [e(a) for a in ast.arguments])
        if fn == "get_time_value":
            return external.time_value(self, ast.arguments, binding, initial)
        if fn in ("sum", "prod", "vmin", "vmax", "vmax_xmile", "vmin_xmile"):
            arg = e(ast.arguments[0])
            return _expand_vector(arg, {"sum": "+", "prod": "*"}.get(fn, fn[1:4]),
                                  host_dims=self.dims_of.get(key_of(self.current), ()))
        if fn == "elmcount":
            name = self.range_names.get(key_of(ast.arguments[0].reference))
            if name is None:
                raise Unsupported("ELMCOUNT", "its argument is not a subscript range")
            return Const(float(len(self.subs.ranges[name])))
        if fn == "invert_matrix":
            return vensim_vectors.invert_matrix(self, ast.arguments[0], binding, initial)
        if fn in vensim_builtins.BY_AST:
            return vensim_builtins.BY_AST[fn](self, fn, ast.arguments, binding, initial)
        if fn in ("vector_sort_order", "vector_rank", "vector_reorder"):
            return vensim_vectors.array_function(self, fn, ast.arguments, binding, initial)
        args = [e(a) for a in ast.arguments]
        if fn == "vector_select":
            pairs = _vector_terms(args[:2])
            if isinstance(args[3], Const) and round(args[3].value) not in range(11):
                raise Unsupported("VECTOR SELECT", f"numerical action {args[3].value:g} is "
                                  "not 0-10")
            return Call("vector_select", (args[2], args[3], *(s for s, _x in pairs),
                                          *(x for _s, x in pairs)))
        if fn == "npv" and len(args) == 4:
            return vensim_builtins.npv(self, *args)
        mapped = vensim_functions.pure(fn, args)
        if mapped is not None:
            return mapped
        if fn == "active_initial":     # the start value only in start equations
            return args[1] if initial else args[0]
        raise Unsupported(f"function {ast.function.reference.upper().replace('_', ' ')}",
                          "not supported by the importer")

    def hold(self, value: Expr) -> Expr:
        """INITIAL(x): a stock with no flows whose start value is x."""
        self.counter += 1
        sid = f"{canonical(self.current)}~initial{self.counter}"
        self.extra.append(Stock(id=sid, display=f"{self.current} (initial value {self.counter})",
                                initial=value, origin=canonical(self.current)))
        return Ref(sid)

    def inline_lookup(self, lk) -> str:
        self.counter += 1
        lid = f"{canonical(self.current)}~lookup{self.counter}"
        self.extra.append(Lookup(id=lid, display=f"{self.current} (lookup {self.counter})",
                                 xs=tuple(float(x) for x in lk.x),
                                 ys=tuple(float(y) for y in lk.y), origin=canonical(self.current)))
        return lid


def _eq(values: dict, dims):
    if not dims:
        return values[()]
    return PerElement(tuple(values.items()))
