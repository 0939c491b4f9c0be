"""XMILE arrays as xmutil writes Vensim's: equations that only make sense element by element.

xmutil keeps three Vensim habits that XMILE's whole-array equations cannot express, and the
reader writes such an equation out once per element of the variable (a `PerElement`):

* a dimension name used as a number (`IF DimA = Selected A THEN 1 ELSE 0`): the element's
  position in the dimension, counted from 1, as Vensim reads it;
* a subrange (declared as its own dimension, its elements a subset of the parent's) naming
  the element of a variable arrayed over the parent (`y[SubA] = c[SubA]` with c over DimA);
* LOOKUP(table[DimA], x) on a graphical function given one <gf> per element: each
  element's table is its own `Lookup`, named 'table[A1]'.

>>> from sdmodels.expr import Index, Ref
>>> cell_table("c", ("a1",))
'c[a1]'
"""
from __future__ import annotations

import itertools

from sdmodels.elements import Lookup, PerElement, canonical
from sdmodels.expr import Const, Expr, Index, LookupCall, Ref, transform, walk
from sdmodels.interop.xmile_xml import _children


def cell_table(name: str, combo) -> str:
    """The id of one element's table of an arrayed graphical function."""
    return canonical(f"{name}[{', '.join(combo)}]")


def cell_lookups(reader, node, display: str) -> list[Lookup] | None:
    """One Lookup per <element> of an aux whose elements carry their own <gf>; else None."""
    from sdmodels.interop.xmile_xml import _child
    items = _children(node, "element")
    if not items or not all(_child(it, "gf") is not None for it in items):
        return None
    out = []
    for it in items:
        combo = tuple(k.strip() for k in it.get("subscript", "").split(","))
        xs, ys = reader.graph(_child(it, "gf"))
        out.append(Lookup(id=cell_table(display, combo),
                          display=f"{display}[{', '.join(combo)}]", xs=xs, ys=ys))
    return out


def lookup_of_cell(reader, table: Expr, x: Expr) -> Expr | None:
    """LOOKUP(table[...], x) on an arrayed graphical function: the element's table, or a
    call naming the dimensions still to be replaced by `per_element`."""
    if not (isinstance(table, Index) and isinstance(table.target, Ref) and
            canonical(table.target.name) in reader.cell_tables):
        return None
    return LookupCall(f"{table.target.name}[{', '.join(table.elements)}]", x)


def needs_cells(reader, expr: Expr, dims) -> bool:
    """True when `expr` (of a variable arrayed over `dims`) must be written per element."""
    own = {canonical(d) for d in dims}
    for n in walk(expr):
        if isinstance(n, Ref) and canonical(n.name) in own and \
                canonical(n.name) not in reader.var_dims:
            return True
        if isinstance(n, LookupCall) and "[" in n.table:
            return True
        if isinstance(n, Index) and isinstance(n.target, Ref):
            target = reader.var_dims.get(canonical(n.target.name), ())
            if any(canonical(e) in own and i < len(target) and canonical(target[i]) !=
                   canonical(e) for i, e in enumerate(n.elements) if isinstance(e, str)):
                return True
    return False


def per_element(reader, expr: Expr, dims, model) -> PerElement:
    """`expr` written out for each element of `dims` (see the module docstring)."""
    names = [model.dims[d].elements for d in dims]
    items = []
    for combo in itertools.product(*names):
        at = {canonical(d): (e, names[i].index(e) + 1) for i, (d, e) in
              enumerate(zip(dims, combo))}

        def put(n, at=at):
            if isinstance(n, Ref) and canonical(n.name) in at and \
                    canonical(n.name) not in reader.var_dims:
                return Const(float(at[canonical(n.name)][1]))
            if isinstance(n, Index):
                return Index(n.target, tuple(at[canonical(e)][0] if isinstance(e, str) and
                                             canonical(e) in at else e for e in n.elements))
            if isinstance(n, LookupCall) and "[" in n.table:
                name, _, rest = n.table.partition("[")
                elems = [e.strip() for e in rest.rstrip("]").split(",")]
                return LookupCall(cell_table(name, [at[canonical(e)][0] if canonical(e) in at
                                                    else e for e in elems]), n.arg)
            return None
        items.append((combo, transform(expr, put)))
    return PerElement(tuple(items))
