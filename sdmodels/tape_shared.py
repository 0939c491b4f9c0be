"""Work the tape does once instead of again and again: repeated subtrees, constant equations.

`invariant(ir)`: the auxiliaries whose value cannot change during a run (they read only
constants, lookups and dt: no time, no state, no random draw). sdmodels/tape.py computes them
with the start values and leaves them out of every step (the kernel recomputes them; the
same operations give the same value).

`shared(expr)`: the subexpressions that occur more than once in one equation.

Equations repeat whole subtrees: the Erlang B recursion written out (sdmodels/queueing.py
`expanded`, what an export writes for `erlang_b`; the library's server part wrote it so
until the built-in) reads the server count `floor(max(servers, 0))` and the level offset
built from it in each of its 64 levels, so as a tree it took 3,483 of black_friday's 4,561
instructions a step. `sdmodels/tape.py` computes each subtree found here
once, before the equation, into a register the equation then reads.

The values stay the kernel's, bit for bit: a shared subtree is the same operations on the
same operands, so computing it once gives the same float. Only pure subtrees are shared (no
random draws, whose order and count must match the kernel's), and nothing inside a reduction
(`sum(x[d] * y)` evaluates its operand once per element, under another binding). A shared
subtree is computed even where the equation would skip it (a branch not taken); it draws
nothing and writes nothing but its register, so only time is spent.

>>> from sdmodels.expr import Ref, Call
>>> n = Call("floor", (Ref("servers"),))
>>> [str(k) for k in shared((n + 1) * (n + 2), Keys())] == [str(n)]
True

`across(equations)`: in long runs, the pure subtrees a stage would compute in more than one
equation, each computed once a stage into a register of its own. The rule counts what the
stage computes: an equation computes a subtree it holds outside the subtrees picked already
(a picked one is computed once, in the first equation that holds it), so an inner subtree
is picked too where an equation also uses it outside the picked one around it. The
connection pool (library/parts/pool.py) reads its utilisation `rho` inside the M/M/c term
`busy = rho ** ...` (both equations that read `busy` share it) and again in the service
rate `servers (1 - rho) / hold`: `rho` is computed once, not in each. `live` keeps of an
equation's repeats only those it still computes more than once: not one used only inside
a register written already (a subtree picked by an earlier equation, a hoisted one; that
was dead code) or only inside another repeat (computed there, once).

>>> rho = Call("min", (Ref("a") * Ref("b"), Ref("c")))
>>> busy = rho ** Ref("d")
>>> eqs = [(0, busy + 1, {}), (1, busy * (Ref("d") - rho), {})]
>>> across(eqs, Keys(), {"a", "b", "c", "d"}, lambda e: False)[1] == [rho, busy]
True
"""
from __future__ import annotations

from sdmodels.elements import Aux, Constant, PerElement, SampleHold
from sdmodels.expr import (Binary, Call, Const, Expr, Index, Reduce, Ref, Time, TimeStep,
                           _field_names, references, walk)

LEAVES = (Const, Ref, Index, Time, TimeStep)      # already a register on the tape
_CHILDLESS = {Const, Ref, Time, TimeStep}         # leaves without sub-expressions (classes)
_LEAF_TYPES = {*_CHILDLESS, Index}                # LEAVES as a set of classes (a fast test)
RANDOM = {"random_uniform", "random_normal", "random_exponential"}
CLOCKED = RANDOM | {"step", "pulse", "pulse_train", "ramp"}     # read the time (or draw)


def invariant(ir) -> set[str]:
    """Ids of the auxiliaries constant over a run (see the module doc), in any order.

    >>> from sdmodels import Model, build
    >>> m = Model("m", stop=1)
    >>> c = m.constant("c", 2)
    >>> s = m.stock("s", initial=1)
    >>> _ = m.aux("twice", c * 2), m.aux("later", m.aux("twice c", c * 2) + s)
    >>> sorted(invariant(build(m)))
    ['twice', 'twice_c']
    """
    found: set[str] = {vid for vid, var in ir.variables.items() if isinstance(var, Constant)}
    for vid in ir.eval_order:          # an auxiliary comes after what it reads
        var = ir.variables[vid]
        if type(var) is not Aux or var.initial is not None:
            continue
        equations = _equations(var.equation)
        if all(_reads_only(e, found) for e in equations):
            found.add(vid)
    return found - {vid for vid, var in ir.variables.items() if isinstance(var, Constant)}


def output_only(ir, fixed: set[str]) -> set[str]:
    """Ids of the auxiliaries that nothing in the dynamics reads (only saving does).

    No stock, flow, pipeline, sampler or rolling window depends on them, through any chain
    of same-step reads, and they draw no random number (the stream's order is the kernel's):
    sdmodels/tape.py computes them only on the steps that are saved and the last, where the
    check sees them (auxiliaries in `fixed`, computed once a run, are left out). A sampler's
    period is read whenever it is due, though the graph links it as read at the start.

    >>> from sdmodels import Model, build
    >>> m = Model("m", stop=1)
    >>> s = m.stock("s", initial=1)
    >>> _ = m.flow("out", s * m.aux("rate", s / 10), out_of=s)
    >>> _ = m.aux("shown", m.aux("half", s / 2) + 1)
    >>> sorted(output_only(build(m), set()))
    ['half', 'shown']
    """
    waiting = {vid for vid in ir.eval_order if vid not in fixed and _plain(ir.variables[vid])}
    periods = [ref for var in ir.variables.values() if isinstance(var, SampleHold)
               for e in _equations(var.period) for ref in references(e)]   # read when due
    waiting -= _read_by(ir.graph, [vid for vid in ir.variables if vid not in waiting] + periods)
    drawing = [vid for vid in waiting if _draws(ir.variables[vid])]   # the few left only
    return waiting - _read_by(ir.graph, drawing) if drawing else waiting


def _read_by(graph, users: list[str]) -> set[str]:
    """`users` and everything they read in the same step, through any chain (the graph's
    same-step links gathered in one pass: networkx's per-node views cost more)."""
    reads: dict[str, list[str]] = {}
    for ref, readers in graph._succ.items():   # graph.edges(data="instant"), in its order,
        for user, data in readers.items():     # without networkx's view per edge
            if data.get("instant"):
                reads.setdefault(user, []).append(ref)
    needed = set(users)
    stack = list(users)
    while stack:
        for ref in reads.get(stack.pop(), ()):
            if ref not in needed:
                needed.add(ref)
                stack.append(ref)
    return needed


def _plain(var) -> bool:
    """An auxiliary without a start value of its own (one that could be computed late)."""
    return type(var) is Aux and var.initial is None


def _draws(var) -> bool:
    """Whether an auxiliary's equation draws a random number."""
    return any(isinstance(n, Call) and n.fn in RANDOM for e in _equations(var.equation)
               for n in walk(e))


def _equations(value) -> tuple:
    """The expressions of an equation field: one, one per element, or none."""
    if value is None:
        return ()
    return tuple(value.as_dict().values()) if isinstance(value, PerElement) else (value,)


def _reads_only(expr: Expr, found: set[str]) -> bool:
    """Whether `expr` reads only values in `found`, no time and no clocked call (one loop
    over its nodes, left at the first that fails)."""
    stack = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, Ref):
            if node.name not in found:
                return False
        elif isinstance(node, Time) or (isinstance(node, Call) and node.fn in CLOCKED):
            return False
        else:
            stack.extend(node.children())
    return True


class Keys:
    """Structural keys of expression nodes as small integers (equal trees, equal keys).

    Memoised by node identity (the nodes are kept alive in a list: no tuple per node for
    the garbage collector to track), so a tree that shares objects costs its distinct nodes
    only. Numbers key by repr: 0.0 and -0.0 differ.
    """

    def __init__(self):
        self._by_id: dict[int, int] = {}
        self._alive: list[Expr] = []
        self._interned: dict[tuple, int] = {}

    def __call__(self, node: Expr) -> int:
        by_id = self._by_id
        hit = by_id.get(id(node))
        if hit is not None:
            return hit
        cls = type(node)
        if cls is Binary:
            left, right = by_id.get(id(node.left)), by_id.get(id(node.right))
            parts = ("Binary", node.op, self(node.left) if left is None else left,
                     self(node.right) if right is None else right)
        elif cls is Ref:
            parts = ("Ref", node.name)
        elif cls is Const:
            parts = ("Const", repr(float(node.value)))
        elif cls is Call:
            parts = ("Call", node.fn, tuple([self(a) for a in node.args]))
        else:
            parts = self._parts(node)
        key = self._interned.setdefault(parts, len(self._interned))
        self._by_id[id(node)] = key
        self._alive.append(node)
        return key

    def _parts(self, node: Expr) -> tuple:
        """Any node's key parts: its class name, then each field (subtrees by their keys)."""
        parts: list = [type(node).__name__]
        for name in _field_names(type(node)):
            value = getattr(node, name)
            if isinstance(value, Expr):
                parts.append(self(value))
            elif isinstance(value, tuple):
                parts.append(tuple(self(a) if isinstance(a, Expr) else a for a in value))
            elif isinstance(value, (int, float)):
                parts.append(repr(float(value)))
            else:
                parts.append(value)
        return tuple(parts)


def _may_repeat(expr: Expr, keys: Keys) -> bool:
    """False when no non-leaf subtree of `expr` can occur twice (most equations): a repeated
    subtree holds a repeated bottom node (a node whose children are all leaves), or is one
    object reached twice. Looks at each object once, so shared objects cost nothing more."""
    seen_ids: set[int] = set()
    bottoms: set[int] = set()
    stack = [expr]
    while stack:
        node = stack.pop()
        if type(node) in _LEAF_TYPES or isinstance(node, LEAVES):
            continue
        if id(node) in seen_ids:
            return True
        seen_ids.add(id(node))
        kids = () if isinstance(node, Reduce) else node.children()
        for k in kids:
            if type(k) not in _LEAF_TYPES and not isinstance(k, LEAVES):
                stack.extend(kids)
                break
        else:
            key = keys(node)
            if key in bottoms:
                return True
            bottoms.add(key)
    return False


def shared(expr: Expr, keys: Keys) -> list[Expr]:
    """The pure non-leaf subtrees of `expr` that occur more than once, inner ones first."""
    return repeats(expr, keys)[0]


def repeats(expr: Expr, keys: Keys) -> tuple[list[Expr], tuple | None]:
    """`shared(expr)` and, where it is not empty, `expr` as a `_tree` (for `live`)."""
    if isinstance(expr, LEAVES) or (not isinstance(expr, Reduce) and all(
            isinstance(k, LEAVES) for k in expr.children())):
        return [], None             # at most one non-leaf node (`s / tau`: most equations)
    if not _may_repeat(expr, keys):
        return [], None
    tree = _tree(expr, keys)
    nodes, draws, count = tree[0], tree[3], _occurrences(tree)
    subs = [nodes[k] for k in tree[2]
            if count[k] > 1 and not draws[k] and not isinstance(nodes[k], LEAVES)]
    return subs, tree if subs else None


def _tree(expr: Expr, keys: Keys) -> tuple:
    """`expr` as distinct subtrees: (key -> node, key -> children's keys, keys each after
    its children, key -> whether it draws a random number); the root's key last."""
    nodes: dict[int, Expr] = {}
    children: dict[int, list[int]] = {}
    post: list[int] = []            # distinct subtrees, each after its children
    draws: dict[int, bool] = {}     # whether a subtree draws a random number

    def visit(node: Expr) -> int:   # a node with children (childless leaves: never shared)
        key = keys(node)
        if key not in nodes:
            nodes[key] = node
            if isinstance(node, Reduce):
                kids = []
                draws[key] = any(isinstance(n, Call) and n.fn in RANDOM for n in walk(node))
            else:
                kids = [visit(c) for c in node.children() if type(c) not in _CHILDLESS]
                draws[key] = (isinstance(node, Call) and node.fn in RANDOM) or \
                    True in [draws[c] for c in kids]
            children[key] = kids
            post.append(key)
        return key

    visit(expr)
    del visit       # it refers to itself: a cycle (with the dicts it holds) left to the collector
    return nodes, children, post, draws


def _occurrences(tree: tuple, ready=None) -> dict[int, int]:
    """Occurrences of each subtree of a `_tree` as written out; with `ready` (a test on
    nodes), those an equation computes: none inside a subtree `ready` holds true for (in a
    register already), one inside a pure one it repeats (computed once, into a temporary)."""
    nodes, children, post, draws = tree
    count = {post[-1]: 1}
    for key in reversed(post):      # every parent before its children
        times = count.get(key, 0)
        if ready is not None and times:
            node = nodes[key]
            if ready(node):
                continue
            if times > 1 and not draws[key] and not isinstance(node, LEAVES):
                times = 1
        for child in children[key]:
            count[child] = count.get(child, 0) + times
    return count


def live(tree: tuple, subs: list[Expr], keys: Keys, ready) -> list[Expr]:
    """Of `subs` (`repeats(expr)`, with `tree`), those the tape computes into temporaries:
    the ones an equation computes twice or more when the subtrees `ready` holds true for
    are in registers already (one used only inside those is not computed at all) and a
    repeated one is computed once (one used only inside it is computed there, once: in the
    same instruction where a superinstruction fuses the two).

    >>> from sdmodels.expr import Ref, Call
    >>> n = Call("floor", (Ref("servers"),))
    >>> keys = Keys()
    >>> subs, tree = repeats((n + 1) * (n + 2), keys)
    >>> never, ready = (lambda node: False), (lambda node: keys(node) == keys(n + 1))
    >>> live(tree, subs, keys, ready), live(tree, subs, keys, never)
    ([], [Call(fn='floor', args=(Ref(name='servers'),))])
    >>> m = Call("min", (Ref("s") * Ref("k"), Ref("c")))       # s * k repeated inside m only
    >>> e = (m + 1) * (m + 2)
    >>> subs, tree = repeats(e, keys)
    >>> [str(sub) for sub in subs] == [str(m.args[0]), str(m)]
    True
    >>> live(tree, subs, keys, never) == [m]
    True
    """
    count = _occurrences(tree, ready)
    return [sub for sub in subs if count.get(keys(sub), 0) > 1]


def across(equations, keys: Keys, plain: set[str], fixed) -> dict[int, list[Expr]]:
    """The pure subtrees a stage would compute more than once, per equation, inner first.

    `equations`: (id, expression, binding) in evaluation order. A subtree counts when it
    reads only names in `plain` (values written once a stage, before any equation that
    reads them: stocks, auxiliaries and flows; not samplers, windows or pipelines) and draws
    nothing, is not `fixed` (hoisted already) and not inside a reduction. It is picked when
    the stage would compute it in two equations or more: an equation computes a subtree it
    holds outside any picked one, and a picked one is computed once, in the first equation
    that holds it (an equation computes a subtree it repeats once: `shared`). So an inner
    subtree of a picked one is picked too when an equation also uses it elsewhere.
    sdmodels/tape.py computes each picked subtree once a stage, before the first equation
    that holds it, into a register the later ones read; an equation's list holds the picked
    subtrees it holds.

    >>> from sdmodels.expr import Ref, Call
    >>> n = Call("min", (Ref("a") * Ref("b"), Ref("c")))
    >>> eqs = [(0, n + 1, {}), (1, n * 2, {}), (2, Ref("a") * 3, {})]
    >>> found = across(eqs, Keys(), {"a", "b", "c"}, lambda e: False)
    >>> sorted(found), all(subs == [n] for subs in found.values())
    ([0, 1], True)

    `rho` below is inside `busy` (picked: computed once, in equation 0) and also used on
    its own by equation 1, which would compute it a second time: it is picked as well.

    >>> rho = Call("min", (Ref("a") * Ref("b") / Ref("c"), Ref("d")))
    >>> busy = rho ** Ref("c")
    >>> eqs = [(0, busy + 1, {}), (1, busy * (Ref("c") - rho), {})]
    >>> found = across(eqs, Keys(), {"a", "b", "c", "d"}, lambda e: False)
    >>> found == {0: [rho, busy], 1: [rho, busy]}
    True
    """
    ok: dict[int, bool] = {}        # key -> whether the subtree reads only plain names
    below: dict = {}                # entry -> the entries of its non-leaf children
    nodes: dict[int, Expr] = {}     # key -> a subtree with that key
    owners: dict = {}               # entry -> (first equation computing it, more than one)
    found: list[tuple] = []
    for at, (eid, expr, binding) in enumerate(equations):
        where = tuple(binding.items()) if binding else ()
        seen: set = set()
        tops: list = []             # pure subtrees under an impure node (or the root)
        if not isinstance(expr, LEAVES) and _count(expr, where, keys, plain, ok, below, nodes,
                                                   seen, tops):
            tops.append((keys(expr), where) if where else keys(expr))
        for entry in tops:
            hit = owners.get(entry)
            owners[entry] = (at, False) if hit is None else (hit[0], hit[1] or hit[0] != at)
        if tops:
            found.append((eid, seen))
    picked = _picked(owners, below, nodes, fixed)
    result: dict[int, list[Expr]] = {}
    for eid, seen in found:
        if picked.isdisjoint(seen):
            continue                # nothing computed twice with another equation (most)
        mine = sorted(picked.intersection(seen), key=lambda e: e if type(e) is int else e[0])
        result[eid] = [nodes[e if type(e) is int else e[0]] for e in mine]
    return result


def _picked(owners: dict, below: dict, nodes: dict, fixed) -> set:
    """The entries a stage would compute in more than one equation (see `across`), found
    from the outermost subtrees in: a subtree's key is above its children's."""
    picked: set = set()
    for entry in sorted(owners.keys() | below.keys(), reverse=True,
                        key=lambda e: e if type(e) is int else e[0]):
        first, many = owners[entry]
        if many and not fixed(nodes[entry if type(entry) is int else entry[0]]):
            picked.add(entry)
            many = False            # its children: computed once, where it is
        for child in below[entry]:
            hit = owners.get(child)
            owners[child] = (first, many) if hit is None else \
                (min(hit[0], first), hit[1] or many or hit[0] != first)
    return picked


def _count(node: Expr, where: tuple, keys: Keys, plain: set[str], ok: dict, below: dict,
           nodes: dict, seen: set, tops: list) -> bool:
    """Walk each distinct subtree of one equation once (children first), noting each pure
    one's pure children in `below` and the pure children of impure ones in `tops`; returns
    whether `node` reads only `plain` names and draws nothing."""
    key = keys(node)
    entry = (key, where) if where else key
    if entry in seen:
        return ok[key]
    seen.add(entry)
    pure = not isinstance(node, Reduce) and not (isinstance(node, Call) and node.fn in RANDOM)
    kids: list = []
    if not isinstance(node, Reduce):
        for c in node.children():
            cls = type(c)
            if cls is Ref:
                pure = pure and c.name in plain
            elif cls is Index:
                pure = pure and getattr(c.target, "name", None) in plain
            elif not isinstance(c, LEAVES):
                if _count(c, where, keys, plain, ok, below, nodes, seen, tops):
                    kids.append((keys(c), where) if where else keys(c))
                else:
                    pure = False
    ok[key] = pure
    if pure:
        below[entry] = kids
        nodes[key] = node
    else:
        tops.extend(kids)
    return pure
