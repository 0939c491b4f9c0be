"""XMILE / Stella import with our own safe reader (defusedxml + our equation parser).

The file is parsed with defusedxml (no entity expansion, no external entities), whatever its
XML namespace (XMILE 1.0 and the older Stella namespace alike). Equations go through a small
extension of `sdmodels.parse` for XMILE syntax: `IF c THEN a ELSE b`, `x MOD y`, `a[*]`,
Stella's built-ins (SMTH1, DELAY, PULSE, SAFEDIV, INIT, ...). Where our reader refuses a
construct, pysd's XMILE translator is tried (after the same defusedxml check) before giving up.
"""
from __future__ import annotations

import itertools
import math
import re
from dataclasses import replace
from pathlib import Path

from sdmodels.elements import Aux, Constant, Flow, Lookup, PerElement, Stock, canonical
from sdmodels.errors import EquationSyntaxError, ImportModelError, LimitError, ModelError
from sdmodels.interop import xmile_numbers as num
from sdmodels.interop.mdl_text import warn_time_unit
from sdmodels.expr import (STATEFUL, Binary, Call, Const, Delay1, Delay3, DelayFixed, DelayN,
                           Expr, LookupCall, Ref, Smooth, Smooth3, SmoothN, TimeStep, Trend, Unary)
from sdmodels.model import Model
from sdmodels.interop import xmile_arrays, xmile_builtins, xmile_conveyor, xmile_oven
from sdmodels.interop.xmile_parse import XmileParser, _fmod
from sdmodels.interop.xmile_xml import _child, _children, _listed, _safe_root, _tag, _text

CONTROL = {"initial_time", "final_time", "time_step", "saveper", "starttime", "stoptime"}
# XMILE's stateful built-ins (lower case) and the kinds they read as
_STATEFUL = {"smth1": Smooth, "smth3": Smooth3, "smthn": SmoothN, "delay": DelayFixed,
             "delay1": Delay1, "delay3": Delay3, "delayn": DelayN, "trend": Trend}
class Refused(Exception):
    """Our reader does not handle this construct."""


class RefusedSyntax(Refused):
    """An equation our parser cannot read: pysd's translator is tried, and if it fails too,
    its grammar's message on the same text is left out (it says the same, less clearly)."""


def _name(text: str) -> str:
    """A display name from an XMILE name: quotes, '_' and escaped newlines become spaces."""
    return " ".join(text.strip().strip('"').replace("\\n", " ").replace("_", " ").split())


class XmileReader:
    """Reads one XMILE document into a Model."""

    def __init__(self, path: Path):
        self.path = path
        try:
            self.root = _safe_root(path)
        except Exception as exc:   # defusedxml refuses entities; ParseError for bad XML
            raise ImportModelError(f"{path}: not a readable XMILE file ({type(exc).__name__}: "
                                   f"{exc})") from None
        self.fixed: dict[str, float] = {}
        self.extra = []
        self.counter = 0
        self.dim_sizes: dict[str, int] = {}
        self.cell_tables: set[str] = set()    # arrayed graphical functions, one per element
        self.gf_nodes: dict = {}                # graphical functions by id (LOOKUP FORWARD)
        self.current = ""
        self.lookups: set[str] = set()
        self.var_dims: dict[str, tuple[str, ...]] = {}
        self.sub_names: dict[str, str] = {}

    def read(self) -> Model:
        root = self.root
        if _child(root, "macro") is not None:
            raise Refused("macro: XMILE macros are not supported")
        models = _children(root, "model")
        if not models:
            raise ImportModelError(f"{self.path}: the file has no <model>, so it is no XMILE "
                                   "model (one holds <xmile><model><variables>...); check "
                                   "that it is the file you meant")  # pysd would fail too
        self.models = {m.get("name"): m for m in models if m.get("name")}
        specs = _child(root, "sim_specs")
        if specs is None:
            raise ImportModelError(f"{self.path}: no <sim_specs> (start, stop, dt); add them")
        start = num.number(self.path, _text(specs, "start", "0"), "<start>")
        stop = num.number(self.path, _text(specs, "stop", "10"), "<stop>")
        dt_node = _child(specs, "dt")
        dt = num.number(self.path, dt_node.text, "<dt>") if dt_node is not None else 1.0
        if dt_node is not None and dt_node.get("reciprocal", "").lower() == "true":
            dt = 1.0 / dt if dt else 0.0
        num.time_settings(self.path, start, stop, dt)
        warn_time_unit(self.path, specs.get("time_units"), "time_units of <sim_specs>")
        save = None
        for k, v in specs.attrib.items():
            if k.rsplit("}", 1)[-1] in ("save_interval", "saveper"):
                save = num.number(self.path, v, "save_interval")
        self.fixed = {"starttime": start, "stoptime": stop, "initial_time": start,
                      "final_time": stop, "saveper": save or dt}
        name = _text(_child(root, "header") or root, "name", self.path.stem) or self.path.stem
        # Stella's non-negative stocks cut back their outflows; other vendors' files (pysd,
        # sdCloud) hold the stock at 0 and leave the flow as written, and so do we for them
        vendor = _text(_child(root, "header") or root, "vendor", "") or ""
        self.stella = "isee" in vendor.lower()
        model = Model(name, start=start, stop=stop, dt=dt, saveper=max(save or dt, dt),
                      time_units=specs.get("time_units") or "time")
        dims_node = _child(root, "dimensions")
        sizes = self.dim_sizes = {}
        for d in (_children(dims_node, "dim") if dims_node is not None else []):
            elems = [el.get("name") for el in _children(d, "elem")]
            if not elems and d.get("size"):
                elems = [str(i) for i in range(1, num.dim_size(self.path, d.get("name"),
                                                               d.get("size")) + 1)]
            model.dim(*num.dim_checked(self.path, d.get("name"), elems))
            sizes[d.get("name")] = len(elems)
            self.sub_names[canonical(d.get("name"))] = d.get("name")
            self.sub_names.update({canonical(e): e for e in elems})
        num.check_arrays(self.path, root, sizes)
        num.check_names(self.path, root)
        self.behavior = _child(root, "behavior")
        self.specs = dict(start=start, stop=stop, dt=dt, saveper=max(save or dt, dt))
        main = next((m for m in models if not m.get("name")), models[0])
        self.top = model
        return self.fill(main, model, {}, ())

    def fill(self, m, model: Model, inputs: dict, within: tuple[str, ...]) -> Model:
        """Read the variables of <model> node `m` into `model`. `inputs` maps the ids of
        this instance's connected input variables to their outer expressions (their own
        equations are placeholders); <module> children become `Model.module` calls."""
        saved = (self.extra, self.lookups, self.var_dims)
        self.extra, self.lookups, self.var_dims = [], set(), {}
        try:
            self._fill(m, model, inputs, within)
        finally:
            self.extra, self.lookups, self.var_dims = saved
        return model

    def _fill(self, m, model: Model, inputs: dict, within: tuple[str, ...]) -> None:
        behavior = self.behavior
        variables = _child(m, "variables")
        nodes = list(variables) if variables is not None else [
            c for c in m if _tag(c) in ("aux", "flow", "stock", "gf", "module")]
        for node in nodes:
            if _tag(node) == "module":
                self.module(node, model, within)
        flows_to = {}
        for node in nodes:
            if _tag(node) == "stock":
                for kind in ("inflow", "outflow"):
                    for f in _children(node, kind):
                        flows_to.setdefault(canonical(_name(f.text)), {}).setdefault(
                            kind, []).append(canonical(_name(node.get("name"))))
        for node in nodes:
            if _tag(node) in ("aux", "flow", "stock"):
                dn = _child(node, "dimensions")
                if dn is not None:
                    names = tuple(d.get("name") for d in _children(dn, "dim"))
                    if None in names:
                        raise Refused(f"variable '{_name(node.get('name'))}': a <dim> of its "
                                      "<dimensions> has no name= (write <dim name=\"...\"/>)")
                    self.var_dims[canonical(_name(node.get("name")))] = names
        conveyors, queues, ovens = [], [], []
        driven = xmile_oven.driven_flows(nodes)   # computed by their stock: no eqn needed
        called = set()   # names used as LOOKUP(name, x): tables even when they have an eqn
        for node in nodes:
            for text in [_text(node, "eqn", "") or ""] + [
                    _text(it, "eqn", "") or "" for it in _children(node, "element")]:
                called.update(canonical(_name(n)) for n in re.findall(
                    r"(?i)\bLOOKUP(?:_FORWARD|_BACKWARD)?\s*\(\s*([^,()\[]+?)\s*(?:\[[^\]]*\])?\s*,", text))
        for node in nodes:
            if _tag(node) in ("gf",) or (_tag(node) == "aux" and _child(node, "gf") is not None
                                         and (not (_text(node, "eqn") or "").strip()
                                              or canonical(_name(node.get("name"))) in called)):
                self.lookups.add(canonical(node.get("name")))
                self.gf_nodes[canonical(_name(node.get("name")))] = node
        for node in nodes:
            kind = _tag(node)
            if kind not in ("aux", "flow", "stock", "gf"):
                continue
            display = _name(node.get("name"))
            self.current = display
            if canonical(display) in CONTROL:
                continue
            dims = self.var_dims.get(canonical(display), ())
            for d in dims:
                if d not in model.dims:
                    raise Refused(f"variable '{display}' uses dimension '{d}', not declared")
            units, doc = _text(node, "units", "") or "", _text(node, "doc", "") or ""
            eid = canonical(display)
            if eid in inputs:   # a connected module input: a placeholder the outer model sets
                model._insert(Constant(id=eid, display=display, values=(0.0,), units=units,
                                       doc=doc))
                continue
            cells = xmile_arrays.cell_lookups(self, node, display) if eid in called else None
            if cells:     # a graphical function per element, read by LOOKUP(name[e], x)
                self.cell_tables.add(eid)
                for table in cells:
                    model._insert(table)
                continue
            if eid in self.lookups:
                xs, ys = self.graph(_child(node, "gf") if kind != "gf" else node)
                model._insert(Lookup(id=eid, display=display, xs=xs, ys=ys, units=units, doc=doc))
                continue
            items = _children(node, "element")
            eqns = _children(node, "eqn")
            listed = _listed(eqns[0].text or "") if dims and len(eqns) == 1 else []
            if dims and not items and (len(eqns) > 1 or len(listed) > 1):
                # one bare <eqn> per element, or one <eqn> listing them ('1, 2, 3'), in order
                keys = list(itertools.product(*(model.dims[d].elements for d in dims)))
                texts = [e.text or "" for e in eqns] if len(eqns) > 1 else listed
                if len(keys) != len(texts):
                    raise Refused(f"variable '{display}' has {len(texts)} equations for "
                                  f"{len(keys)} elements")
                expr = PerElement(tuple((k, self.parse(t, display))
                                        for k, t in zip(keys, texts)))
            elif dims and items:
                per = []
                for it in items:
                    key = tuple(k.strip() for k in it.get("subscript", "").split(","))
                    per.append((key, self.parse(_text(it, "eqn", "") or "", display)))
                expr = PerElement(tuple(per))
            else:
                text = _text(node, "eqn", "") or ""
                expr = Const(0.0) if not text.strip() and eid in driven else \
                    self.parse(text, display)
                if dims and xmile_arrays.needs_cells(self, expr, dims):
                    expr = xmile_arrays.per_element(self, expr, dims, model)
            gf = _child(node, "gf")
            if gf is not None:
                xs, ys = self.graph(gf)
                lid = f"{eid}~graph"
                self.extra.append(Lookup(id=lid, display=f"{display} (graph)", xs=xs, ys=ys,
                                         origin=eid))
                expr = LookupCall(lid, expr)
            nonneg = _non_negative(node, kind, behavior)
            common = dict(id=eid, display=display, units=units, doc=doc, dims=dims)
            if kind == "stock":
                if _child(node, "oven") is not None:
                    ovens.append(xmile_oven.read(self, node, display, dims, _initial(expr)))
                if _child(node, "queue") is not None:
                    queues.append(xmile_conveyor.read_queue(node, display, dims))
                if _child(node, "conveyor") is not None:
                    conveyors.append(xmile_conveyor.read(self, node, display, dims,
                                                         _initial(expr)))
                model._insert(Stock(**common, initial=_initial(expr), non_negative=nonneg,
                                    limit_outflows=nonneg and (self.stella or _child(
                                        node, "limit_outflows") is not None)))
            elif kind in ("flow", "aux") and eid in flows_to:
                ins, outs = flows_to[eid].get("inflow", []), flows_to[eid].get("outflow", [])
                model._insert(Flow(**common, equation=expr, into=ins[0] if ins else None,
                                   out_of=outs[0] if outs else None, non_negative=nonneg))
                # a flow listed by several stocks moves each of them: one copy per extra stock
                for k, (end, stock) in enumerate([("into", x) for x in ins[1:]] +
                                                 [("out_of", x) for x in outs[1:]]):
                    self.extra.append(Flow(id=f"{eid}~to{k + 1}", display=f"{display} (copy "
                                           f"{k + 1})", equation=Ref(eid), dims=dims,
                                           origin=eid, **{end: stock}))
            else:
                start = self.init_eqn(node, items if dims else (), display)
                values = _constant_values(expr, dims, model)
                if values is not None and kind == "aux" and start is None:
                    model._insert(Constant(**common, values=values))
                else:
                    model._insert(Aux(**common, equation=expr, initial=start))
        xmile_conveyor.apply(model, conveyors, xmile_conveyor.flow_nodes(nodes))
        xmile_conveyor.apply_queues(model, queues, nodes)
        xmile_oven.apply(model, ovens, nodes)
        for element in self.extra:
            model._insert(element)

    def module(self, node, model: Model, within: tuple[str, ...]) -> None:
        """<module name=.. model=..> with its <connect to=input from=outer/>: one instance of
        the named <model>, included as `Model.module`. Its elements get ids 'name.x' and
        displays 'name.x' (Stella's own labels); `a.b` in outer equations reads them."""
        name = _name(node.get("name", ""))
        mname = node.get("model") or node.get("name", "")
        sub_node = self.models.get(mname)
        if sub_node is None or mname in within:
            why = "is not in the file" if sub_node is None else "includes itself"
            raise Refused(f"module '{name}': model '{mname}' {why}")
        pid = canonical(name)
        inputs = {}
        for c in _children(node, "connect"):
            to, frm = c.get("to", ""), c.get("from", "")
            if canonical(to).startswith(pid + "."):   # Stella 10+ writes to="module.input"
                to = to[len(pid) + 1:]
            inputs[canonical(_name(to))] = Ref(canonical(_name(frm.lstrip("."))))
        sub = Model(mname, **self.specs)
        for d in self.top.dims.values():
            sub._register_dim(d)
        self.fill(sub_node, sub, inputs, within + (mname,))
        missing = sorted(set(inputs) - set(sub.elements))
        if missing:
            raise Refused(f"module '{name}': <connect to='{missing[0]}'> names no variable of "
                          f"model '{mname}'")
        model.module(name, sub, inputs=inputs, display=name)
        for eid, inner in sub.elements.items():
            full = f"{pid}.{eid}"
            model.elements[full] = replace(model.elements[full],
                                           display=f"{name}.{inner.display}")

    def init_eqn(self, node, items, display: str):
        """An aux's <init_eqn> (Vensim's ACTIVE INITIAL as xmutil/simlin write it): the start
        value; an element without one starts from its <eqn>. None when there is none."""
        if items:
            if not any(_child(it, "init_eqn") is not None for it in items):
                return None
            return PerElement(tuple(
                (tuple(k.strip() for k in it.get("subscript", "").split(",")),
                 self.parse(_text(it, "init_eqn", None) or _text(it, "eqn", "") or "", display))
                for it in items))
        text = _text(node, "init_eqn", None)
        return None if text is None or not text.strip() else self.parse(text, display)

    def parse(self, text: str, where: str) -> Expr:
        if not text.strip() or "???" in text:
            raise Refused(f"variable '{where}' has no usable equation ({text.strip()!r})")
        try:
            return XmileParser(text, self, canonical(where)).parse()
        except EquationSyntaxError as exc:
            raise RefusedSyntax(f"variable '{where}': {exc}") from None

    def graph(self, gf) -> tuple[tuple[float, ...], tuple[float, ...]]:
        def pts(name):
            node = _child(gf, name)
            if node is None or not node.text:
                return None
            sep = node.get("sep", ",")
            return num.numbers(self.path, node.text, sep, f"a point of the graphical function "
                               f"of '{self.current}'")
        ys = pts("ypts")
        xs = pts("xpts")
        if ys is None:
            raise Refused(f"graphical function of '{self.current}' has no ypts")
        if xs is None:
            sc = _child(gf, "xscale")
            if sc is None:
                raise Refused(f"graphical function of '{self.current}' has neither xpts nor "
                              "xscale")
            lo, hi = (num.number(self.path, sc.get(k), f"xscale {k} of '{self.current}'")
                      for k in ("min", "max"))
            n = len(ys)
            xs = tuple(lo + (hi - lo) * i / (n - 1) for i in range(n)) if n > 1 else (lo,)
        if gf.get("type", "continuous") not in ("continuous", ""):
            raise Refused(f"graphical function of '{self.current}' has type "
                          f"'{gf.get('type')}'; only continuous is supported")
        return xs, ys

    # -- built-ins ------------------------------------------------------------------
    def function(self, fn: str, a: list[Expr], host: str) -> Expr | None:
        n = len(a)
        simple = {"abs": "abs", "exp": "exp", "ln": "ln", "log10": "log10", "sqrt": "sqrt",
                  "sin": "sin", "cos": "cos", "tan": "tan", "arctan": "arctan",
                  "int": "integer", "integer": "integer", "step": "step"}
        if fn in simple and n == (2 if fn == "step" else 1):
            return Call(simple[fn], tuple(a))
        if fn in ("min", "max") and n == 2:
            return Call(fn, tuple(a))
        if fn in ("sum", "prod", "mean", "min", "max") and n == 1:
            return xmile_builtins.reduce(self, fn, a[0])
        if fn == "arcsin" and n == 1:
            return Call("arctan", (Binary("/", a[0], Call("sqrt", (
                Binary("-", Const(1.0), Binary("*", a[0], a[0])),))),))
        if fn == "arccos" and n == 1:
            return Binary("-", Const(math.pi / 2), self.function("arcsin", a, host))
        if fn == "mod" and n == 2:
            return _fmod(a[0], a[1])
        if fn == "if_then_else" and n == 3:
            return Call("if_then_else", tuple(a))
        if fn == "safediv":
            return Call("zidz", tuple(a)) if n == 2 else Call("xidz", tuple(a))
        if fn == "ramp" and n in (2, 3):
            return Call("ramp", tuple(a))
        if fn == "pulse" and n in (2, 3):
            start = a[1]
            if n == 2:
                return Binary("*", Binary("/", a[0], TimeStep()), Call("pulse", (start, Const(0.0))))
            return Binary("*", Binary("/", a[0], TimeStep()), Call("pulse_train", (
                start, Const(0.0), a[2], Const(1e300))))
        kind = _STATEFUL.get(fn)
        if kind is not None and kind.arity()[0] <= n <= kind.arity()[1]:
            return kind(tuple(a))
        if fn == "init" and n == 1:
            return self.hold(a[0], host)
        if fn in ("sdmodels.rolling_max", "sdmodels.rolling_min") and n == 2 or \
                fn == "sdmodels.sample_if_true" and n == 3:
            return STATEFUL[fn.split(".", 1)[1]](tuple(a))   # our vendor extension (export.py)
        if fn in self.lookups and n == 1:
            return LookupCall(fn, a[0])
        if fn in ("lookup",) and n == 2 and isinstance(a[0], Ref):
            return LookupCall(a[0].name, a[1])
        if fn in ("lookup",) and n == 2:
            return xmile_arrays.lookup_of_cell(self, a[0], a[1])
        return xmile_builtins.extra(self, fn, a, host)

    def hold(self, value: Expr, host: str) -> Expr:
        self.counter += 1
        sid = f"{host}~init{self.counter}"
        self.extra.append(Stock(id=sid, display=f"{self.current} (initial value)",
                                initial=value, origin=host))
        return Ref(sid)


def _non_negative(node, kind: str, behavior) -> bool:
    """<non_negative/> (or 'true'/'false' in it) on the variable, else the <behavior> default
    for all variables or for this kind (<behavior><stock><non_negative/></stock>)."""
    own = _child(node, "non_negative")
    if own is not None:
        return (own.text or "true").strip().lower() != "false"
    if behavior is None:
        return False
    if _child(behavior, "non_negative") is not None:
        return True
    scoped = _child(behavior, kind)
    return scoped is not None and _child(scoped, "non_negative") is not None


def constant_value(expr: Expr) -> float | None:
    """The value of a number or a negated number, else None."""
    if isinstance(expr, Const):
        return expr.value
    if isinstance(expr, Unary) and expr.op == "-" and isinstance(expr.operand, Const):
        return -expr.operand.value
    return None


def _constant_values(expr, dims, model):
    """Flat values when every element is a number, else None."""
    if isinstance(expr, PerElement):
        given = {k: constant_value(e) for k, e in expr.items}
        keys = list(itertools.product(*(model.dims[d].elements for d in dims)))
        if set(given) != set(keys) or any(v is None for v in given.values()):
            return None
        return tuple(given[k] for k in keys)
    value = constant_value(expr)
    if value is None:
        return None
    n = 1
    for d in dims:
        n *= len(model.dims[d].elements)
    return (value,) * n


def _initial(expr: Expr) -> Expr:
    """A stock's initial value: INIT(x) inside it is just x."""
    return expr


def import_xmile(path):
    """Read an XMILE / Stella file (.xmile, .stmx, .itmx, .xml) into a `Model`.

    Our reader first; where it refuses a construct (arrays, for now), pysd's XMILE
    translator reads the file (after the same defusedxml safety check).
    """
    path = Path(path)
    reader = XmileReader(path)      # defusedxml check happens here for both paths
    try:
        return reader.read()
    except xmile_conveyor.NoFallback as exc:    # pysd would run it as a plain stock
        raise ImportModelError(f"{path}: {exc}") from None
    except Refused as exc:
        ours, syntax = str(exc), isinstance(exc, RefusedSyntax)
    except (LimitError, ImportModelError) as exc:    # pysd would fail the same way, slower
        raise type(exc)(str(exc) if str(path) in str(exc) else f"{path}: {exc}") from None
    except ModelError as exc:
        ours, syntax = f"variable '{reader.current}': {exc}", False
    batched = xmile_conveyor.first_batched(reader.root)
    if batched is not None:
        raise ImportModelError(f"{path}: {ours} (not handed to pysd's XMILE translator, "
                               f"which would run {batched} as a plain stock)")
    try:
        return _through_pysd(path)
    except ImportModelError as exc:
        if syntax:      # pysd's grammar error on the same text adds only noise
            raise ImportModelError(f"{path}: {ours}") from None
        raise ImportModelError(f"{path}: {ours} (and pysd's XMILE translator: "
                               f"{str(exc).split(': ', 1)[-1]})") from None


def _through_pysd(path: Path):
    import contextlib
    import io
    import warnings
    from pysd.translators.xmile.xmile_file import XmileFile
    from sdmodels.interop.vensim import from_abstract
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            xf = XmileFile(path)
            xf.parse()
            abstract = xf.get_abstract_model()
    except Exception as exc:   # pysd's parser errors are plain exceptions
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ImportModelError(f"{path}: could not parse ({type(exc).__name__}: "
                               f"{first[:200]})") from None
    return from_abstract(abstract, path)
