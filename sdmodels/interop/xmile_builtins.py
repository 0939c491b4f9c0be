"""XMILE built-ins beyond the arithmetic ones: PREVIOUS, SIZE, Vensim's MODULO, and
reductions over a subrange (`SUM(x[*:SubA])`, as xmutil writes Vensim's `SUM(x[SubA!])`).

XMILE 1.0 (docs.oasis-open.org/xmile/xmile/v1.0, 3.5.6 and 3.5.4):
- PREVIOUS(x, initial): x one DT ago, `initial` at the start; `SELF` names the variable being
  defined, so `PREVIOUS(SELF, 0)` holds its own last value. Written as an internal stock that
  the flow (x - stock) / DT resets to x each step, so the stock at t is x(t - DT).
- SIZE(a): the number of elements of an array or dimension.
- MODULO(a, b): Vensim's name (xmutil keeps it) for the remainder with the dividend's sign;
  NPV(stream, rate, init, factor) and LOOKUP_FORWARD / LOOKUP_BACKWARD(table, x) likewise,
  with Vensim's meaning (vensim_builtins).

>>> from sdmodels.expr import Ref
>>> _self_to(Ref("SELF"), "Stock A")
Ref(name='Stock A')
"""
from __future__ import annotations

from sdmodels.elements import Flow, Stock, canonical
from sdmodels.expr import Binary, Const, Expr, Ref, TimeStep, transform


def _self_to(expr: Expr, current: str) -> Expr:
    """`SELF` replaced by the variable being defined."""
    return transform(expr, lambda n: Ref(current) if isinstance(n, Ref) and
                     canonical(n.name) == "self" else None)


def previous(reader, args: list[Expr], host: str) -> Expr:
    """PREVIOUS(x[, initial]) of the variable `reader.current` (see the module docstring)."""
    value = _self_to(args[0], reader.current)
    start = _self_to(args[1], reader.current) if len(args) > 1 else value
    dims = reader.var_dims.get(canonical(reader.current), ())
    reader.counter += 1
    sid = f"{host}~previous{reader.counter}"
    reader.extra.append(Stock(id=sid, display=f"{reader.current} (previous value)",
                              initial=start, dims=dims, origin=host))
    reader.extra.append(Flow(id=f"{sid}.reset", display=f"{reader.current} (previous reset)",
                             equation=Binary("/", Binary("-", value, Ref(sid)), TimeStep()),
                             into=sid, dims=dims, origin=host))
    return Ref(sid)


def extra(reader, fn: str, args: list[Expr], host: str) -> Expr | None:
    """PREVIOUS, SIZE, MODULO, NPV, LOOKUP FORWARD / BACKWARD; None for any other name."""
    from sdmodels.interop.xmile_parse import _fmod
    if fn == "previous" and len(args) in (1, 2):
        return previous(reader, args, host)
    if fn == "modulo" and len(args) == 2:
        return _fmod(args[0], args[1])
    if fn in ("lookup_forward", "lookup_backward") and len(args) == 2 and \
            isinstance(args[0], Ref) and canonical(args[0].name) in reader.gf_nodes:
        from sdmodels.interop.vensim_builtins import _step_sum    # fn_lookup_forward.html
        from sdmodels.interop.xmile_xml import _child, _tag
        node = reader.gf_nodes[canonical(args[0].name)]
        xs, ys = reader.graph(node if _tag(node) == "gf" else _child(node, "gf"))
        return _step_sum(args[1], xs, ys, forward=fn == "lookup_forward")
    if fn == "npv" and len(args) == 4:       # Vensim's NPV, kept by xmutil (fn_npv.html)
        from sdmodels.interop.vensim_builtins import npv
        return npv(reader, *args)
    if fn == "size" and len(args) == 1 and isinstance(args[0], Ref):
        name = canonical(args[0].name)
        sizes = {canonical(k): v for k, v in reader.dim_sizes.items()}
        if name in sizes:
            return Const(float(sizes[name]))
        dims = reader.var_dims.get(name)
        if dims:
            total = 1
            for d in dims:
                total *= sizes.get(canonical(d), 1)
            return Const(float(total))
    return None


def over_subrange(reader, op: str, arg: Expr) -> Expr:
    """SUM(x[*:SubA]) and friends (xmutil's spelling of Vensim's x[SubA!]): the operand
    written out for each element of the subrange SubA and combined by `op`."""
    from sdmodels.expr import Call, Index, walk
    subs = {e[2:] for n in walk(arg) if isinstance(n, Index) for e in n.elements
            if isinstance(e, str) and e.startswith("*:")}
    if not subs:
        return arg
    if len(subs) > 1:
        raise ValueError(f"{op.upper()} over two subranges at once ({', '.join(sorted(subs))})")
    sub = subs.pop()
    elements = reader.top.dims[sub].elements

    def pick(e):
        return lambda n: Index(n.target, tuple(e if x == "*:" + sub else x
                                               for x in n.elements)) \
            if isinstance(n, Index) and "*:" + sub in n.elements else None
    terms = [transform(arg, pick(e)) for e in elements]
    out = terms[0]
    for t in terms[1:]:
        out = Call(op, (out, t)) if op in ("min", "max") else \
            Binary("*" if op == "prod" else "+", out, t)
    return Binary("/", out, Const(float(len(terms)))) if op == "mean" else out


def reduce(reader, op: str, arg: Expr) -> Expr:
    """SUM(x[*]) and friends: '*' marks the dimension to reduce (one per reduction), as
    does a dimension's own name that the variable being defined is not arrayed over
    (MIN(x[dim1]) in a scalar)."""
    from sdmodels.expr import Index, Reduce
    from sdmodels.interop.xmile import Refused
    found = []
    own = set(reader.var_dims.get(canonical(reader.current), ()))
    try:
        expanded = over_subrange(reader, op, arg)
    except (ValueError, KeyError) as exc:
        raise Refused(f"{op.upper()} in '{reader.current}': {exc}") from None

    def star(node):
        if isinstance(node, Index):
            dims = reader.var_dims.get(canonical(node.target.name), ())
            subs = list(node.elements)
            for i, sub in enumerate(subs):
                if i < len(dims) and (sub == "*" or (sub == dims[i] and sub not in own)):
                    subs[i] = dims[i]
                    found.append(dims[i])
            return Index(node.target, tuple(subs))
        return None
    new = transform(expanded, star)
    if not found and expanded is not arg:      # x[*:SubA] only: already combined
        return new
    if not found:
        raise Refused(f"{op.upper()} of '{reader.current}' has no [*] to reduce over")
    for d in dict.fromkeys(found):
        new = Reduce(op, new, d)
    return new
