"""to_graphviz: causal-loop and stock-and-flow diagrams, drawn by the real Graphviz.

The DOT text is built here, deterministically (same model, same bytes), and handed to
Graphviz for SVG, PNG or PDF. Causal-loop diagram (CLD): variables as labels (stocks
boxed), + / - at each arrowhead, delayed links marked with a double bar, every loop
marked R or B with its id and name near its centre. Stock-and-flow diagram (SFD): stocks
as boxes, flows as thick arrows through valves, clouds for sources and sinks, information
links thin. Either can highlight some loops (the rest greyed), keep only the loops'
subgraph, and group variables by module.

>>> from sdmodels import Model
>>> m = Model("teacup", stop=10)
>>> t = m.stock("Temperature", initial=180)
>>> _ = m.flow("Heat loss", (t - 70) / 10, out_of=t)
>>> d = to_graphviz(m)
>>> '\u21bb B1' in d.source and d.source == to_graphviz(m).source
True
>>> d.pipe("svg")[:5]
b'<?xml'
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sdmodels.elements import Constant, Flow, Stock, canonical
from sdmodels.errors import SDModelsError
from sdmodels.ir import ModelIR, build
from sdmodels.markers import centre_markers, pin_markers

FORMATS = ("svg", "png", "pdf", "dot")
LOOP_COLORS = ("#c0392b", "#1f5fa8", "#1e8449", "#8e44ad", "#d35400", "#117a65", "#7d6608",
               "#a93226")
GREY = "#c4c4c4"
MARK = {"+": "+", "-": "\u2212", "mixed": "\u00b1", "unknown": "?"}
MAX_MARKERS = 40


@dataclass(frozen=True)
class Diagram:
    """A diagram as DOT text; `save` / `pipe` run Graphviz. Shows inline in Jupyter.

    `markers` pairs each loop marker of a dot layout with its loop's variables: rendering
    lays the diagram out with dot, moves each marker to the centre of its variables and
    draws that (neato -n2), since dot alone ranks a marker outside its loop."""
    source: str
    engine: str = "dot"
    markers: tuple = ()

    def pipe(self, format: str = "svg") -> bytes:  # noqa: A002 - graphviz's word
        """The diagram rendered by Graphviz as bytes (svg, png, pdf) or the DOT text."""
        format = format.lower().lstrip(".")
        if format not in FORMATS:
            raise ValueError(f"unknown diagram format {format!r}; use one of {', '.join(FORMATS)}")
        if format == "dot":
            return self.source.encode()
        import graphviz
        try:
            if self.markers:
                laid = centre_markers(self.source, dict(self.markers))
                return graphviz.Source(laid, engine="neato").pipe(format=format, neato_no_op=2)
            return graphviz.Source(self.source, engine=self.engine).pipe(format=format)
        except graphviz.ExecutableNotFound:
            raise SDModelsError("Graphviz's 'dot' program is not installed; install it with "
                                "'apt-get install graphviz', 'brew install graphviz' or "
                                "'conda install -c conda-forge graphviz'") from None
        except graphviz.CalledProcessError as exc:
            raise SDModelsError(f"Graphviz failed on this diagram: {exc.stderr!r}") from None

    def save(self, path, format: str | None = None) -> Path:  # noqa: A002
        """Write the diagram; the format comes from the suffix unless given. Atomic, with
        the mode the umask gives (like every file sdmodels writes)."""
        from sdmodels.files import atomic_path
        path = Path(path)
        fmt = (format or path.suffix.lstrip(".")).lower()
        if fmt not in FORMATS:
            raise ValueError(f"'{path}': a diagram file must end in "
                             f"{', '.join('.' + f for f in FORMATS)}")
        data = self.pipe(fmt)
        with atomic_path(path) as tmp:
            tmp.write_bytes(data)
        return path

    def _repr_svg_(self) -> str:
        return self.pipe("svg").decode()

    def _repr_html_(self) -> str:
        return self._repr_svg_()

    def __str__(self) -> str:
        return self.source


def _q(text: str) -> str:
    """A DOT double-quoted string."""
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _attrs(**kw) -> str:
    items = [f"{k}={_q(v)}" for k, v in kw.items() if v is not None]
    return f" [{', '.join(items)}]" if items else ""


def _wrap(text: str, width: int = 18) -> str:
    words, lines, line = text.split(), [], ""
    for w in words:
        if line and len(line) + 1 + len(w) > width:
            lines.append(line)
            line = w
        else:
            line = f"{line} {w}".strip()
    return "\n".join(lines + [line])


def to_graphviz(model, *, kind: str = "cld", loops=(), only_loops: bool = False,
                modules: bool = True, loop_set=None, behaviour: bool = True,
                constants: bool | None = None, title: str | None = None,
                polarities: dict | None = None, positions=None, context=()) -> Diagram:
    """A causal-loop (`kind='cld'`) or stock-and-flow (`kind='sfd'`) diagram of a model.

    `loops`: ids or names of loops to highlight (others greyed); `only_loops`: draw only
    those loops (all loops if none named); `modules`: one box per module; `loop_set`: a
    `find_loops` result to reuse; `constants`: show constants (default: SFD yes, CLD no);
    `polarities`: a `link_polarities` result to reuse; `positions`: {name: (x, y)} from a
    sketch (`interop.read_sketch(path)`): those variables are drawn where the modeller put
    them (see `sdmodels.sketch_layout`), the rest around them; `context`: ids of loops
    drawn too with `only_loops`, greyed, around the highlighted ones.
    """
    from sdmodels.sketch_layout import HEAD, pin_nodes, pinned
    from sdmodels.analysis import causal_graph, find_loops, link_polarities
    if kind not in ("cld", "sfd"):
        raise ValueError(f"kind must be 'cld' or 'sfd', got {kind!r}")
    ir = build(model)
    where = pinned(positions or {}, ir)
    modules = modules and not where          # a sketch has no module boxes
    constants = (kind == "sfd") if constants is None else constants
    contracted = causal_graph(ir, constants=constants)
    # the SFD keeps every flow (an importer's net flows too); the CLD links across them
    graph = contracted if kind == "cld" else causal_graph(ir, constants=constants,
                                                           contract=False)
    if polarities is None:       # reuse a `link_polarities` result when given
        polarities = link_polarities(ir, behaviour=behaviour)
    if loop_set is None:
        loop_set = find_loops(ir, polarities=polarities)
    if isinstance(loops, str):
        loops = (loops,)
    chosen = [loop_set[x] for x in loops]
    focus = chosen or (list(loop_set) if only_loops else [])
    focus = focus + [loop_set[x] for x in context if loop_set[x] not in focus]
    colors = {l.id: LOOP_COLORS[k % len(LOOP_COLORS)] for k, l in enumerate(chosen)}
    edge_color: dict[tuple[str, str], str] = {}
    for l in chosen:
        for u, v in l.edges:
            for via in (contracted.edges[u, v]["paths"] if kind == "sfd" else ((),)):
                chain = [u, *via, v]
                for e in zip(chain, chain[1:]):
                    edge_color.setdefault(e, colors[l.id])
    keep = set(graph.nodes)
    if only_loops:
        keep = {v for l in focus for v in l.variables} | {
            v for e in edge_color for v in e} | {
            n for l in focus for e in l.edges if kind == "sfd"
            for via in contracted.edges[e]["paths"] for n in via}
    if kind == "cld" and only_loops and len(focus) == 1:
        return loop_diagram(ir, focus[0], graph=contracted, polarities=polarities, title=title)
    spec = _Spec(ir, graph, polarities, keep, edge_color, bool(chosen), modules)
    engine = "dot"
    if kind == "cld":
        body = spec.cld(focus if only_loops else list(loop_set), colors)
        if spec.has_clusters:    # only dot keeps other variables out of a module's box
            head = ['layout="dot"', 'nodesep="0.6"', 'ranksep="0.6"', 'splines="true"']
        else:
            engine = "neato"
            head = ['layout="neato"', 'overlap="prism"', 'overlap_scaling="2"',
                    'splines="true"', 'sep="+14"', 'esep="+8"', 'start="1"', 'mode="major"']
    else:
        body = spec.sfd()
        head = ['layout="dot"', 'rankdir="LR"', 'nodesep="0.5"', 'ranksep="0.7"',
                'splines="true"']
    if where:
        engine, head, body = "neato", list(HEAD), pin_nodes(body, where)
    label = title if title is not None else f"{ir.name}: " + (
        "causal loop diagram" if kind == "cld" else "stock and flow diagram")
    lines = [f"digraph {_q(ir.name)} {{"]
    lines += [f"  {h};" for h in head]
    lines += [f"  label={_q(label)};", '  labelloc="t";', '  fontname="Helvetica";',
              '  fontsize="16";', '  bgcolor="white";', '  pad="0.3";',
              '  node [fontname="Helvetica", fontsize="12"];',
              '  edge [fontname="Helvetica", fontsize="11"];']
    lines += body
    lines.append("}")
    source = "\n".join(lines) + "\n"
    if engine == "neato" and kind == "cld":
        source = pin_markers(source, where)
    members = tuple((f"loop:{l.id}", l.variables) for l in loop_set
                    if f'"loop:{l.id}" [' in source) if engine == "dot" else ()
    return Diagram(source, engine, members)


def loop_diagram(model, loop, *, graph=None, polarities=None, title: str | None = None,
                 color: str | None = None, note: str = "") -> Diagram:
    """One loop alone, its variables around a circle in loop order (no crossings).

    R or B (with id and name) sits in the centre, + / - at each arrowhead, a double bar on
    delayed links, the module in brackets under each name; constants are left out.
    `loop` is a `Loop` of `find_loops`; `note` is an extra line under the marker.

    >>> from sdmodels import Model, find_loops
    >>> m = Model("teacup", stop=10)
    >>> t = m.stock("Temperature", initial=180)
    >>> _ = m.flow("Heat loss", (t - 70) / 10, out_of=t)
    >>> 'pos="0,0!"' in loop_diagram(m, find_loops(m, behaviour=False)[0]).source
    True
    """
    import math
    from sdmodels.analysis import causal_graph, link_polarities
    ir = build(model)
    graph = causal_graph(ir) if graph is None else graph
    polarities = link_polarities(ir, behaviour=False) if polarities is None else polarities
    ink = color or {"R": "#c0392b", "B": "#1f5fa8", "U": "#7f8c8d"}[loop.polarity]
    n = len(loop.variables)
    radius = max(1.2, 0.42 * n)              # inches: neighbours ~ 0.9 in apart
    lines = [f"digraph {_q(loop.id)} {{", '  layout="neato";', '  splines="curved";',
             '  outputorder="edgesfirst";', '  bgcolor="white";', '  pad="0.3";',
             '  fontname="Helvetica";', '  node [fontname="Helvetica", fontsize="12"];',
             '  edge [fontname="Helvetica", fontsize="11"];']
    if title:
        lines += [f"  label={_q(title)};", '  labelloc="t";', '  fontsize="15";']
    for k, v in enumerate(loop.variables):
        el = ir.variables[v]
        angle = math.pi / 2 - 2 * math.pi * k / n          # clockwise from the top
        text = _wrap(el.display.split(" / ")[-1])
        if el.module:
            text += "\n[" + " / ".join(el.display.split(" / ")[:-1]) + "]"
        lines.append(f"  {_q(v)}" + _attrs(
            label=text, pos=f"{radius * math.cos(angle):.3f},{radius * math.sin(angle):.3f}!",
            shape="box" if isinstance(el, Stock) else "plaintext",
            style="rounded" if isinstance(el, Stock) else None, color="#34495e",
            fontcolor="#111111"))
    kind = {"R": "R  reinforcing", "B": "B  balancing", "U": "U  polarity varies"}
    centre = f"{kind[loop.polarity]}\n{loop.id}" + (
        f"\n{_wrap(loop.name, 18)}" if loop.name else "") + (f"\n{note}" if note else "")
    lines.append('  "loop:centre"' + _attrs(label=centre, pos="0,0!", shape="plaintext",
                                            fontsize="15", fontcolor=ink))
    for a, b in loop.edges:
        pol = polarities.get((a, b))
        style = dict(color=ink, penwidth="2.2", arrowsize="0.9", fontcolor=ink)
        if pol is not None:
            style.update(headlabel=MARK[pol.polarity], labelfontsize="16", labeldistance="1.8",
                         labelangle="-30", labelfontcolor=ink)
        delays = graph.edges[a, b].get("delays") if graph.has_edge(a, b) else ()
        if delays:
            style.update(label="||  " + ", ".join(d.label for d in delays), fontsize="13")
        lines.append(f"  {_q(a)} -> {_q(b)}" + _attrs(**style))
    lines.append("}")
    return Diagram("\n".join(lines) + "\n", "neato")


class _Spec:
    """The pieces both diagram kinds share: nodes in module clusters, link styling."""

    def __init__(self, ir: ModelIR, graph, polarities, keep, edge_color, highlighting, modules):
        self.ir, self.graph, self.pol = ir, graph, polarities
        self.keep, self.edge_color, self.highlighting = keep, edge_color, highlighting
        self.modules = modules
        self.order = [v for v in ir.variables if v in graph and v in keep]

    def node_label(self, vid: str) -> str:
        v = self.ir.variables[vid]
        text = v.display.split(" / ")[-1] if self.modules and v.module else v.display
        return _wrap(text)

    def on_focus(self, vid: str) -> bool:
        return not self.highlighting or any(vid in e for e in self.edge_color)

    def clustered(self, node_lines: dict[str, str], extra: dict[str, list[str]] | None = None
                  ) -> list[str]:
        """Node statements, one cluster per module when asked; `extra` adds statements
        inside a module's cluster (loop markers of loops that stay in that module)."""
        extra = extra or {}
        if not self.modules:
            return [f"  {node_lines[v]}" for v in self.order] + [
                f"  {x}" for m in sorted(extra) for x in extra[m]]
        out, by_module = [], {}
        for v in self.order:
            by_module.setdefault(self.ir.variables[v].module, []).append(v)
        for module in sorted(set(by_module) | set(extra)):
            members = by_module.get(module, [])
            if not module or not members:
                out += [f"  {node_lines[v]}" for v in members]
                out += [f"  {x}" for x in extra.get(module, [])]
                continue
            any_var = self.ir.variables[members[0]]
            depth = module.count(".") + 1
            shown = " / ".join(any_var.display.split(" / ")[:depth])
            out.append(f"  subgraph {_q('cluster_' + module)} {{")
            out += [f"    label={_q(shown)};", '    style="rounded,dashed";',
                    '    color="#7f8c8d";', '    fontcolor="#34495e";']
            out += [f"    {node_lines[v]}" for v in members]
            out += [f"    {x}" for x in extra.get(module, [])]
            out.append("  }")
        return out

    @property
    def has_clusters(self) -> bool:
        return self.modules and any(self.ir.variables[v].module for v in self.order)

    def link_style(self, u: str, v: str, *, thick: bool = False, mark: bool = True) -> dict:
        data = self.graph.edges[u, v]
        pol = self.pol.get((u, v))
        color = self.edge_color.get((u, v), GREY if self.highlighting else "#2c3e50")
        style = dict(color=color, fontcolor=color, penwidth="2.4" if (u, v) in self.edge_color
                     else ("3.5" if thick else "1.1"), arrowsize="0.8")
        if mark and pol is not None:
            style.update(headlabel=MARK[pol.polarity], labelfontsize="15",
                         labeldistance="1.6", labelangle="-35", labelfontcolor=color)
        if data.get("delays"):
            style.update(label="||", fontsize="18")
            style["tooltip"] = "delay: " + ", ".join(d.label for d in data["delays"])
        return style

    # ---------------------------------------------------------------- CLD
    def cld(self, marked, colors) -> list[str]:
        nodes = {}
        for v in self.order:
            el = self.ir.variables[v]
            faded = not self.on_focus(v)
            nodes[v] = f"{_q(v)}" + _attrs(
                label=self.node_label(v), shape="box" if isinstance(el, Stock) else "plaintext",
                style="rounded" if isinstance(el, Stock) else None,
                fontcolor="#9a9a9a" if faded else "#111111",
                color="#9a9a9a" if faded else "#34495e",
                fontsize="11" if isinstance(el, Constant) else None)
        markers: dict[str, list[str]] = {}
        links = []
        # past MAX_MARKERS loops, markers would hide the diagram: keep the named ones
        shown = marked if len(marked) <= MAX_MARKERS else [l for l in marked if l.name]
        for loop in shown:
            if not set(loop.variables) <= self.keep:
                continue
            color = colors.get(loop.id, GREY if self.highlighting else
                               {"R": "#c0392b", "B": "#1f5fa8", "U": "#7f8c8d"}[loop.polarity])
            name = f"\n{_wrap(loop.name, 16)}" if loop.name else ""
            marker = f"loop:{loop.id}"
            mods = {self.ir.variables[v].module for v in loop.variables}
            home = mods.pop() if len(mods) == 1 and self.has_clusters else ""
            markers.setdefault(home, []).append(f"{_q(marker)}" + _attrs(
                label=f"\u21bb {loop.id}{name}", shape="plaintext", fontcolor=color,
                fontsize="13", tooltip=f"{loop.id}: " + " -> ".join(loop.names)))
            if self.has_clusters:     # dot: rank the marker between two opposite members
                first, middle = loop.variables[0], loop.variables[len(loop.variables) // 2]
                links.append(f"  {_q(first)} -> {_q(marker)}" + _attrs(style="invis", weight="0"))
                links.append(f"  {_q(marker)} -> {_q(middle)}" + _attrs(style="invis", weight="0"))
            else:                     # neato: springs to every member pull it to the centre
                links += [f"  {_q(marker)} -> {_q(v)}" + _attrs(style="invis", len="0.6",
                                                                weight="2")
                          for v in loop.variables]
        lines = self.clustered(nodes, markers)
        for u, v in sorted(self.graph.edges):
            if u in self.keep and v in self.keep:
                lines.append(f"  {_q(u)} -> {_q(v)}" + _attrs(**self.link_style(u, v)))
        return lines + links

    # ---------------------------------------------------------------- SFD
    def sfd(self) -> list[str]:
        nodes, extra = {}, []
        for v in self.order:
            el = self.ir.variables[v]
            faded = not self.on_focus(v)
            ink = "#9a9a9a" if faded else "#111111"
            if isinstance(el, Stock):
                nodes[v] = _q(v) + _attrs(label=self.node_label(v), shape="box", style="filled",
                                          fillcolor="#eaf2f8", color=ink, fontcolor=ink,
                                          penwidth="1.6", height="0.7", width="1.4")
            elif isinstance(el, Flow):
                nodes[v] = _q(v) + _attrs(label="", tooltip=el.display, shape="circle",
                                          width="0.22", height="0.22", fixedsize="true",
                                          style="filled", fillcolor="white", color=ink,
                                          fontcolor=ink)
            else:
                nodes[v] = _q(v) + _attrs(label=self.node_label(v), shape="plaintext",
                                          fontcolor=ink,
                                          fontsize="10" if isinstance(el, Constant) else None)
        lines = self.clustered(nodes)
        for v in self.order:
            el = self.ir.variables[v]
            if not isinstance(el, Flow):
                continue
            # `into="Stock name"` keeps the modeller's spelling: compare canonical ids
            out_of, into = (None if x is None else canonical(x) for x in (el.out_of, el.into))
            for side, stock in (("from", out_of), ("to", into)):
                if stock is not None and stock in self.keep:
                    continue
                cloud = f"cloud:{side}:{v}"
                extra.append(f"  {_q(cloud)}" + _attrs(
                    label="", shape="ellipse", style="dashed", width="0.45", height="0.28",
                    color="#7f8c8d"))
            src = out_of if out_of in self.keep else f"cloud:from:{v}"
            dst = into if into in self.keep else f"cloud:to:{v}"
            pipe = dict(color="#34495e", penwidth="4", weight="4")
            out_key, in_key = (out_of, v), (v, into)
            first = dict(pipe, arrowhead="none")
            # the flow's name rides on its outgoing pipe: dot keeps edge labels clear
            second = dict(pipe, arrowhead="normal", arrowsize="1.1", label=self.node_label(v),
                          fontcolor="#9a9a9a" if not self.on_focus(v) else "#111111")
            for part, key in ((first, out_key), (second, in_key)):
                if key in self.edge_color:
                    part.update(color=self.edge_color[key])
                elif self.highlighting:
                    part.update(color=GREY)
            extra.append(f"  {_q(src)} -> {_q(v)}" + _attrs(**first))
            extra.append(f"  {_q(v)} -> {_q(dst)}" + _attrs(**second))
        for u, v in sorted(self.graph.edges):
            if u in self.keep and v in self.keep and "flow" not in self.graph.edges[u, v]:
                style = self.link_style(u, v)
                style.update(style="solid", arrowsize="0.6", constraint="false"
                             if isinstance(self.ir.variables[v], Stock) else None)
                extra.append(f"  {_q(u)} -> {_q(v)}" + _attrs(**style))
        return lines + extra
