"""XMILE export: `to_xmile(model) -> str`, an XMILE 1.0 document Stella-compatible tools open.

Stocks, flows, auxiliaries, constants, graphical functions, arrays (dimensions and
per-element equations) and the XMILE built-ins for delays and smooths (DELAY1, DELAY3,
DELAYN, DELAY, SMTH1, SMTH3, SMTHN, TREND). Modules are written flattened (their elements
keep their prefix in the name). Samplers are written as a held stock reset at each sampling
instant (plain XMILE).

Choices made so that every engine reads the file (sdmodels, pysd, pysimlin/Stella):

* Rolling windows (rolling_max / rolling_min) have no XMILE built-in. They are written as
  vendor-specific functions in our own namespace, the way XMILE lets a vendor extend the
  function set: `sdmodels.ROLLING_MAX(input, window)` / `sdmodels.ROLLING_MIN(...)` (and
  an arrayed `sdmodels.SAMPLE_IF_TRUE(condition, input, initial)`; a scalar one is a held
  stock, as sample_hold is). Our
  reader reads them back; other engines refuse the unknown function by name.
* Arrayed auxiliaries and flows are written element by element (<element subscript="a">),
  every reference in them subscripted with concrete elements: pysd's XMILE translation
  mis-types an apply-to-all MAX(array, number) (a TypeError at start). A stock's common
  initial value stays one apply-to-all <eqn>, the only form pysd reads for stocks.
* Repeated long parts of an equation, and parts nested too deep, are written once as
  auxiliaries of their own (export_shared.py): readers limit an equation's length and nesting.
* erlang_b(servers, load) is written as the expression tree of its recursion (64 levels,
  sdmodels/queueing.py): no reader knows the function; the tree gives the same values.
* Reductions over a dimension are written element by element (SUM(x[*]) as
  `x[a] + x[b] + ...`, MIN/MAX nested), because pysd's XMILE grammar does not parse `[*]`.
* floor, ceil, round and modulo apply INT to non-negative values only (Stella's INT is
  floor, pysd and Vensim-made XMILE read it as truncation; they agree there).
* A non-negative stock is <non_negative/>: Stella cuts back its outflows, pysd holds it at
  0, pysimlin ignores the flag. Which of the first two sdmodels does is marked on the stock
  by our vendor element <sdmodels:limit_outflows/> (the others skip elements they do not
  know), so our reader reads it back as it was.
* A stock whose start value differs by element reads it from an arrayed auxiliary
  ("<stock> initial") in its one apply-to-all <eqn>: pysd reads no other form for stocks.
* DELAY's delay time is written as MAX(delay, DT) unless it is DT or a number of at least DT: our
  pipelines hold at least one step, and pysimlin's DELAY gives NaN
  for a delay of 0 (eviction_cascade's first back-off stage).
* DT is written as the sim-spec time step (a number), because pysd's XMILE translator has
  no DT built-in. The file then assumes the time step it declares.

>>> from sdmodels import Model
>>> m = Model("decay", stop=4)
>>> s = m.stock("Amount", initial=100)
>>> _ = m.flow("Outflow", s / 2, out_of=s)
>>> text = to_xmile(m)
>>> "<outflow>Outflow</outflow>" in text and "<eqn>Amount / 2.0</eqn>" in text
True
"""
from __future__ import annotations

import dataclasses
import itertools
import re
from xml.sax.saxutils import escape, quoteattr

from sdmodels.elements import (Aux, Constant, Flow, Lookup, PerElement, Stock)
from sdmodels.errors import ModelError
from sdmodels.interop.export_shared import share
from sdmodels.interop.vensim_subscripts import balanced
from sdmodels.expr import (Binary, Call, Const, Delay1, Delay3, DelayFixed, DelayN, Expr, Index,
                           LookupCall, Reduce, Ref, RollingExtreme, SampleHold, SampleIfTrue,
                           Smooth, Smooth3, SmoothN, Stateful, Time, TimeStep, Trend, Unary,
                           transform, walk)
from sdmodels.operators import BinaryOp, CodeTable

NS = "http://docs.oasis-open.org/xmile/ns/XMILE/v1.0"
VENDOR = "sdmodels"   # namespace of our vendor-specific functions: sdmodels.ROLLING_MAX(...)
VENDOR_NS = "urn:sdmodels:xmile"   # and of our vendor-specific elements
# each operator's XMILE text and precedence
CHAIN = 16       # a reduction's elements written as one chain at most (export.reduce)
_BINARY = CodeTable(BinaryOp, {
    "or": ("OR", 1), "and": ("AND", 2), **{o: (o, 3) for o in ("=", "<>", "<", "<=", ">", ">=")},
    "+": ("+", 4), "-": ("-", 4), "*": ("*", 5), "/": ("/", 5), "^": ("^", 7)})
_FN = {"abs": "ABS", "exp": "EXP", "ln": "LN", "log10": "LOG10", "sqrt": "SQRT", "sin": "SIN",
       "cos": "COS", "tan": "TAN", "arctan": "ARCTAN", "min": "MIN", "max": "MAX",
       "step": "STEP"}
_STATEFUL = {Smooth: "SMTH1", Smooth3: "SMTH3", SmoothN: "SMTHN", Delay1: "DELAY1",
             Delay3: "DELAY3", DelayN: "DELAYN", DelayFixed: "DELAY", Trend: "TREND"}


class _Writer:
    def __init__(self, model):
        self.model = model
        self.elements = dict(model.elements)    # and the auxiliaries `share` adds
        self.names: dict[str, str] = {}
        self.extra: list[str] = []
        self.count = 0
        self._used: set[str] = set()
        for eid, e in model.elements.items():
            self.names[eid] = self._unique(e.display)

    def _unique(self, display: str) -> str:
        """An XMILE identifier for a display name, apart from every name given so far."""
        base = re.sub(r"\W+", "_", display.replace(" / ", "__")).strip("_") or "v"
        if base[0].isdigit():
            base = "v_" + base
        name, k = base, 2   # readers fold case and runs of '_' alike: keep names apart
        while re.sub(r"_+", "_", name.lower()) in self._used:
            name, k = f"{base}_{k}", k + 1
        self._used.add(re.sub(r"_+", "_", name.lower()))
        return name

    def add(self, element):
        """Write `element` too (an auxiliary made by the export), under a name of its own."""
        self.elements[element.id] = element
        self.names[element.id] = self._unique(element.display)
        return element

    @staticmethod
    def ref(element) -> Ref:
        return Ref(element.id)

    def name(self, ref: str) -> str:
        from sdmodels.elements import canonical
        key = ref if ref in self.elements else canonical(ref)
        if key not in self.elements:
            raise ModelError(f"export: '{ref}' is not an element of model '{self.model.name}'")
        return self.names[key]

    def dims_of(self, ref: str):
        from sdmodels.elements import canonical
        key = ref if ref in self.elements else canonical(ref)
        return self.elements[key].dims

    @property
    def dt(self) -> str:
        """DT as the sim-spec constant: pysd's XMILE translator has no DT built-in."""
        return repr(float(self.model.dt))

    def expr(self, e: Expr, host: str) -> str:
        return self._e(e, host, {})[0]

    def _e(self, e: Expr, host, bind: dict) -> tuple[str, int]:
        """(text, precedence); `bind` maps a reduced dimension to the element being summed."""
        x = lambda a, p=0: self._wrap(self._e(a, host, bind), p)  # noqa: E731
        if isinstance(e, Const):
            v = e.value
            return (repr(float(v)) if v == v and abs(v) != float("inf") else
                    ("1e300" if v > 0 else "-1e300")), 9
        if isinstance(e, Ref):
            dims = self.dims_of(e.name)
            if any(d in bind for d in dims):
                return f"{self.name(e.name)}[{', '.join(bind.get(d, d) for d in dims)}]", 9
            return self.name(e.name), 9
        if isinstance(e, Index):
            dims = self.dims_of(e.target.name)
            subs = [bind.get(s, s) for s in e.elements]
            for i, d in enumerate(dims):
                if d in bind and len(subs) < len(dims):
                    subs.insert(i, bind[d])
            return f"{self.name(e.target.name)}[{', '.join(subs)}]", 9
        if isinstance(e, Time):
            return "TIME", 9
        if isinstance(e, TimeStep):
            return self.dt, 9
        if isinstance(e, Unary):
            if e.op == "-":
                return f"-{x(e.operand, 6)}", 6
            return f"NOT {x(e.operand, 3)}", 2
        if isinstance(e, Binary):
            op, p = _BINARY[e.op]
            right_p = p + 1 if e.op in ("-", "/", "^") or p == 3 else p
            left_p = p + 1 if e.op == "^" else p
            return f"{x(e.left, left_p)} {op} {x(e.right, right_p)}", p
        if isinstance(e, LookupCall):
            return f"{self.name(e.table)}({x(e.arg)})", 9
        if isinstance(e, Call):
            return self.call(e, [x(a) for a in e.args], host), 9
        if isinstance(e, SampleIfTrue) and not self.dims_of(host):
            return self.sampled_if(e, host), 9
        if isinstance(e, (RollingExtreme, SampleIfTrue)):     # read back by our reader only
            return f"{VENDOR}.{e.fn.upper()}({', '.join(x(a) for a in e.args)})", 9
        if isinstance(e, SampleHold):
            return self.sampler(e, host, [x(a) for a in e.args]), 9
        if isinstance(e, Stateful):
            if type(e) not in _STATEFUL:
                raise ModelError(f"export: '{host}' uses {e.fn}, which XMILE cannot express; "
                                 "replace it or export a model without it")
            args = [x(a) for a in e.args]
            if isinstance(e, DelayFixed) and not isinstance(e.args[1], TimeStep) and not (
                    isinstance(e.args[1], Const) and e.args[1].value >= self.model.dt):
                args[1] = f"MAX({args[1]}, {self.dt})"    # our pipelines hold >= 1 step
            return f"{_STATEFUL[type(e)]}({', '.join(args)})", 9
        if isinstance(e, Reduce):
            return self.reduce(e, host, bind)
        raise ModelError(f"export: '{host}' holds {type(e).__name__}, which XMILE cannot express")

    def reduce(self, e: Reduce, host: str, bind: dict) -> tuple[str, int]:
        """A reduction written out element by element (every engine reads that; pysd's XMILE
        translator has no SUM(x[*])): as a chain up to CHAIN elements, beyond that chains of
        CHAIN combined as a balanced tree, so that no reader meets a chain as long as the
        dimension (a 1,000-element sum is 6 levels of 16-term chains, not 1,000 levels)."""
        parts = [self._e(e.operand, host, {**bind, e.dim: el})
                 for el in self.model.dims[e.dim].elements]
        if len(parts) == 1:
            return parts[0]
        if e.op in ("sum", "mean", "prod"):
            op, p = ("*", 5) if e.op == "prod" else ("+", 4)
            chains = [f" {op} ".join(self._wrap(q, p + 1 if op == "*" else p) for q in
                                     parts[i:i + CHAIN]) for i in range(0, len(parts), CHAIN)]
            total, p = (chains[0], p) if len(chains) == 1 else (
                balanced([f"({c})" for c in chains], lambda a, b: f"({a} {op} {b})"), 9)
            return (total, p) if e.op != "mean" else (f"{self._wrap((total, p), 5)} / "
                                                      f"{len(parts)}", 5)

        def chain(texts: list[str]) -> str:
            out = texts[-1]
            for t in reversed(texts[:-1]):
                out = f"{e.op.upper()}({t}, {out})"
            return out
        chains = [chain([q[0] for q in parts[i:i + CHAIN]]) for i in range(0, len(parts), CHAIN)]
        return balanced(chains, lambda a, b: f"{e.op.upper()}({a}, {b})"), 9

    def sampler(self, e: Stateful, host: str, a: list[str]) -> str:
        """sample_hold as XMILE: a held stock reset to the input at each sampling instant."""
        self.count += 1
        base = re.sub(r"\W+", "_", host).strip("_") + f"_sampled_{self.count}"
        first = a[2] if len(a) > 2 else repr(self.model.start)
        dt = self.dt
        ind = "      "
        if any(isinstance(n, Stateful) for n in walk(e.args[0])):
            # the held stock starts at the input, and a stock's initial value cannot hold a
            # delay or smooth (XMILE engines, pysd and ours refuse it): the input gets an aux
            self.extra += [f"{ind}<aux name={quoteattr(base + '_input')}>",
                           f"{ind}  <eqn>{escape(a[0])}</eqn>", f"{ind}</aux>"]
            a = [base + "_input", *a[1:]]
        phase = f"(TIME - ({first}) + {dt} * 0.001)"
        fires = (f"(TIME >= ({first}) - {dt} * 0.001 AND {phase} - MAX({a[1]}, {dt}) * "
                 f"INT({phase} / MAX({a[1]}, {dt})) < {dt} * 0.999)")
        self._held(base, f"{base}_held", f"{host}: the input sampled every {a[1]}, held between",
                   fires, a[0], a[0])
        return base

    def sampled_if(self, e: SampleIfTrue, host: str) -> str:
        """SAMPLE IF TRUE (a scalar one) as XMILE: the held stock reset to the input where
        the condition holds, as the sampler above; a condition or input naming its host
        reads the held stock, the value so far, as Vensim reads it."""
        from sdmodels.elements import canonical
        self.count += 1
        base = re.sub(r"\W+", "_", host).strip("_") + f"_sampled_{self.count}"
        held = self.add(Stock(id=f"{base}~held", display=f"{base}_held"))
        me = canonical(host)

        def so_far(arg: str) -> str:
            return self.expr(transform(e.arg(arg), lambda n: Ref(held.id) if isinstance(
                n, Ref) and canonical(n.name) == me else None), host)
        self._held(base, self.names[held.id], f"{host}: SAMPLE IF TRUE", so_far("condition"),
                   so_far("input"), self.expr(e.arg("initial"), host))
        return base

    def _held(self, base: str, held: str, doc: str, fires: str, value: str, start: str) -> None:
        """Write `base` = IF fires THEN value ELSE held, and the stock `held` (from `start`)
        that a reset flow keeps at base's last value."""
        ind, dt = "      ", self.dt
        self.extra += [
            f"{ind}<aux name={quoteattr(base)}>", f"{ind}  <doc>{escape(doc)}</doc>",
            f"{ind}  <eqn>{escape(f'IF {fires} THEN {value} ELSE {held}')}</eqn>",
            f"{ind}</aux>",
            f"{ind}<stock name={quoteattr(held)}>",
            f"{ind}  <eqn>{escape(start)}</eqn>", f"{ind}  <inflow>{base}_reset</inflow>",
            f"{ind}</stock>",
            f"{ind}<flow name={quoteattr(base + '_reset')}>",
            f"{ind}  <eqn>{escape(f'({base} - {held}) / {dt}')}</eqn>",
            f"{ind}</flow>"]

    @staticmethod
    def _wrap(pair, p) -> str:
        text, own = pair
        return f"({text})" if own < p else text

    def call(self, e: Call, a: list[str], host: str) -> str:
        fn = e.fn
        if fn in _FN:
            return f"{_FN[fn]}({', '.join(a)})"
        if fn == "if_then_else":
            return f"(IF {a[0]} THEN {a[1]} ELSE {a[2]})"
        if fn in ("floor",):
            return _floor(a[0])
        if fn == "integer":
            return f"(IF {a[0]} < 0 THEN -INT(-({a[0]})) ELSE INT({a[0]}))"
        if fn == "ceil":
            return f"-{_floor(f'-({a[0]})')}"
        if fn == "round":
            return _floor(f"{a[0]} + 0.5")
        if fn == "log":
            return f"LOG10({a[0]})" if len(a) == 1 else f"(LN({a[0]}) / LN({a[1]}))"
        if fn == "modulo":
            return f"(({a[0]}) - ({a[1]}) * {_floor(f'({a[0]}) / ({a[1]})')})"
        if fn == "pulse":
            return (f"(IF TIME >= {a[0]} AND TIME < {a[0]} + MAX({a[1]}, {self.dt}) THEN 1 "
                    "ELSE 0)")
        if fn == "ramp":
            if len(a) == 2:
                return f"RAMP({a[0]}, {a[1]})"
            return (f"(IF TIME <= {a[1]} THEN 0 ELSE IF TIME >= {a[2]} THEN {a[0]} * ({a[2]} - "
                    f"{a[1]}) ELSE {a[0]} * (TIME - {a[1]}))")
        if fn == "xidz":
            return f"(IF ABS({a[1]}) < 1e-6 THEN {a[2]} ELSE {a[0]} / {a[1]})"
        if fn == "zidz":
            return f"(IF ABS({a[1]}) < 1e-6 THEN 0 ELSE {a[0]} / {a[1]})"
        raise ModelError(f"export: '{host}' uses {fn}, which has no XMILE equivalent here")


def _expanded(element):
    """`element` with each erlang_b call written as its expression tree (XMILE and Vensim
    have no such function; the tree computes the same values, sdmodels/queueing.py)."""
    from sdmodels.ir import expressions, map_expressions
    from sdmodels.queueing import expanded

    def expand(node: Expr):
        return expanded(*node.args) if type(node) is Call and node.fn == "erlang_b" else None
    if not any(type(n) is Call and n.fn == "erlang_b"
               for _key, x in expressions(element) for n in walk(x)):
        return element
    return map_expressions(element, lambda _key, x: transform(x, expand))


def _at(eq, key):
    """The equation of one element: its own in a PerElement, else the common one."""
    return eq.as_dict()[key] if isinstance(eq, PerElement) else eq


def _floor(x: str) -> str:
    """floor(x) with INT applied to non-negative values only: Stella's INT is floor, while
    Vensim-made XMILE (xmutil) and pysd read INT as truncation; both agree on x >= 0."""
    return (f"(IF {x} >= 0 THEN INT({x}) ELSE -INT(-({x})) - "
            f"(IF INT(-({x})) = -({x}) THEN 0 ELSE 1))")


def xmile_names(model) -> dict[str, str]:
    """Display name -> the name `to_xmile` writes for it (XMILE names are identifiers)."""
    w = _Writer(model)
    return {model.elements[eid].display: name for eid, name in w.names.items()}


def to_xmile(model) -> str:
    """An XMILE 1.0 document for a Model (library model, DSL model or an imported file)."""
    from sdmodels.ir import ModelIR
    if isinstance(model, ModelIR):
        raise ModelError("to_xmile takes the Model (before build), so that delays and smooths "
                         "are written as XMILE built-ins; pass the Model")
    w = _Writer(model)
    inflows: dict[str, list[str]] = {}
    outflows: dict[str, list[str]] = {}
    for e in model.elements.values():
        if isinstance(e, Flow):
            if e.into:
                inflows.setdefault(w.name(e.into), []).append(w.names[e.id])
            if e.out_of:
                outflows.setdefault(w.name(e.out_of), []).append(w.names[e.id])
    save = (f' isee:save_interval="{model.saveper!r}"'
            if getattr(model, "saveper", model.dt) != model.dt else "")
    out = ['<?xml version="1.0" encoding="utf-8"?>',
           f'<xmile version="1.0" xmlns="{NS}" xmlns:isee="http://iseesystems.com/XMILE" '
           f'xmlns:{VENDOR}="{VENDOR_NS}">',
           "  <header>", f"    <name>{escape(model.name)}</name>",
           "    <vendor>sdmodels</vendor>", '    <product version="0.1">sdmodels</product>',
           "  </header>",
           f'  <sim_specs method="Euler" time_units={quoteattr(model.time_units)}{save}>',
           f"    <start>{model.start!r}</start>", f"    <stop>{model.stop!r}</stop>",
           f"    <dt>{model.dt!r}</dt>", "  </sim_specs>"]
    if model.dims:
        out.append("  <dimensions>")
        for d in model.dims.values():
            out.append(f"    <dim name={quoteattr(d.name)}>")
            out += [f"      <elem name={quoteattr(el)}/>" for el in d.elements]
            out.append("    </dim>")
        out.append("  </dimensions>")
    out += ["  <model>", "    <variables>"]
    for e in share(w, [_expanded(e) for e in model.elements.values()]):
        out += _variable(w, e, inflows, outflows)
    out += w.extra
    out += ["    </variables>", "  </model>", "</xmile>"]
    return "\n".join(out) + "\n"


def _variable(w: _Writer, e, inflows, outflows) -> list[str]:
    name = w.names[e.id]
    ind = "      "
    head = []
    if e.doc or e.display != name:
        head.append(f"{ind}  <doc>{escape(e.doc or e.display)}</doc>")
    if e.units:
        head.append(f"{ind}  <units>{escape(e.units)}</units>")
    if e.dims:
        head.append(f"{ind}  <dimensions>" + "".join(f"<dim name={quoteattr(d)}/>" for d in e.dims)
                    + "</dimensions>")
    if isinstance(e, Lookup):
        xs = ",".join(repr(float(v)) for v in e.xs)
        ys = ",".join(repr(float(v)) for v in e.ys)
        kind = ' type="extrapolate"' if e.extrapolate else ""
        return [f"{ind}<gf name={quoteattr(name)}{kind}>", *head,
                f"{ind}  <xpts>{xs}</xpts>", f"{ind}  <ypts>{ys}</ypts>", f"{ind}</gf>"]
    if isinstance(e, Stock) and e.dims and isinstance(e.initial, PerElement):
        # pysd reads a stock's start value only from one apply-to-all <eqn>: the values
        # per element go into an arrayed auxiliary, which that <eqn> names
        start = w.add(Aux(id=f"{e.id}~initial", display=f"{e.display} initial", dims=e.dims,
                          equation=e.initial, units=e.units,
                          doc=f"the start value of {e.display}, element by element"))
        return _variable(w, start, inflows, outflows) + _variable(
            w, dataclasses.replace(e, initial=w.ref(start)), inflows, outflows)
    if isinstance(e, Stock):
        tag, eq = "stock", e.initial
    elif isinstance(e, Flow):
        tag, eq = "flow", e.equation
    elif isinstance(e, Aux):
        tag, eq = "aux", e.equation
    elif isinstance(e, Constant):
        tag = "aux"
        if e.dims:
            keys = list(itertools.product(*(w.model.dims[d].elements for d in e.dims)))
            eq = PerElement(tuple((k, Const(v)) for k, v in zip(keys, e.values)))
        else:
            eq = Const(e.values[0])
    else:
        raise ModelError(f"export: '{e.display}' is a {type(e).__name__}, which XMILE cannot "
                         "express (samplers and rolling windows have no XMILE equivalent)")
    lines = [f"{ind}<{tag} name={quoteattr(name)}>", *head]
    # an auxiliary's start value (Vensim's ACTIVE INITIAL) is its <init_eqn>, as xmutil writes
    tags = (("eqn", eq), ("init_eqn", e.initial if isinstance(e, Aux) else None))
    if e.dims and (isinstance(eq, PerElement) or not isinstance(e, Stock)):
        # element by element, every reference subscripted (see the module doc); a stock's
        # common initial value stays one <eqn>, as pysd reads stocks only that way
        for key in itertools.product(*(w.model.dims[d].elements for d in e.dims)):
            bind = dict(zip(e.dims, key))
            body = "".join(f"<{t}>{escape(w._e(_at(x, key), e.display, bind)[0])}</{t}>"
                           for t, x in tags if x is not None)
            lines.append(f'{ind}  <element subscript={quoteattr(", ".join(key))}>{body}</element>')
    else:
        lines += [f"{ind}  <{t}>{escape(w.expr(x, e.display))}</{t}>"
                  for t, x in tags if x is not None]
    if isinstance(e, Stock):
        lines += [f"{ind}  <inflow>{f}</inflow>" for f in inflows.get(name, [])]
        lines += [f"{ind}  <outflow>{f}</outflow>" for f in outflows.get(name, [])]
    if getattr(e, "non_negative", False):
        lines.append(f"{ind}  <non_negative/>")
    if getattr(e, "limit_outflows", False):
        lines.append(f"{ind}  <{VENDOR}:limit_outflows/>")
    lines.append(f"{ind}</{tag}>")
    return lines
