"""`sdm loops` and `sdm diagram`: the feedback loops of a model, and its diagrams."""
from __future__ import annotations

from pathlib import Path

import click

from sdmodels.cli.common import atomic_path, emit, parse_assignments


def loops_text(model: str, *, fmt: str, independent: bool, max_loops: int, behaviour: bool,
               sets: dict[str, float], scenario: str | None) -> str:
    """The loop set of MODEL in one of table, csv, json, markdown."""
    import warnings

    from sdmodels.analysis import find_loops
    from sdmodels.ir import build
    from sdmodels.sources import load_model
    from sdmodels.simulate import check_parameters, check_scenario
    ir = build(load_model(model))
    check_scenario(ir, scenario)        # also when --no-behaviour runs nothing
    check_parameters(ir, sets)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")          # notices are printed with the table
        loops = find_loops(ir, method="independent" if independent else "all",
                           max_loops=max_loops, behaviour=behaviour, params=sets or None,
                           scenario=scenario)
    if fmt == "json":
        return loops.to_json()
    if fmt == "csv":
        from sdmodels.files import csv_safe
        return csv_safe(loops.to_pandas()).to_csv(index=False).rstrip("\n")
    if fmt == "markdown":
        return loops.to_markdown()
    return loops.to_table()


def write_diagram(model: str, output: str, *, kind: str, loops: tuple[str, ...],
                  only_loops: bool, modules: bool, behaviour: bool, dominant: int = 0,
                  scenario: str | None = None, auto_layout: bool = False) -> str:
    """Draw MODEL to OUTPUT (.svg, .png, .pdf, .dot); return a one-line summary.

    `dominant` > 0 draws only the loops named plus that many loops with the largest mean
    relative loop score in a run of `scenario` (an overview of a big model). A Vensim
    .mdl file with a sketch is drawn at its sketch's positions unless `auto_layout`."""
    from sdmodels.ir import build
    from sdmodels.render import FORMATS, to_graphviz
    from sdmodels.sources import load_model
    suffix = Path(output).suffix.lower().lstrip(".")
    if suffix not in FORMATS:
        raise click.BadParameter(f"'{output}': the diagram file must end in "
                                 f"{', '.join('.' + f for f in FORMATS)}", param_hint="-o")
    ir = build(load_model(model))
    from sdmodels.simulate import check_scenario
    check_scenario(ir, scenario)
    loop_set = None
    if dominant:
        import warnings

        from sdmodels.analysis import find_loops
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            loop_set = find_loops(ir, behaviour=behaviour, scenario=scenario)
            strongest = loop_set.dominance(ir, scenario=scenario).summary()["loop"]
        loops = tuple(loops) + tuple(x for x in strongest[:dominant] if x not in loops)
        only_loops = True
    positions = None
    if Path(model).suffix.lower() == ".mdl" and not auto_layout:
        from sdmodels.interop import read_sketch
        positions = read_sketch(model)
    try:
        diagram = to_graphviz(ir, kind=kind, loops=loops, only_loops=only_loops,
                              modules=modules, behaviour=behaviour, loop_set=loop_set,
                              positions=positions)
    except KeyError as exc:
        raise click.BadParameter(str(exc.args[0]), param_hint="--loop") from None
    data = diagram.pipe(suffix)
    with atomic_path(output) as tmp:
        tmp.write_bytes(data)
    return f"wrote {output} ({kind}, {suffix})"


def register(main: click.Group) -> None:
    @main.command("loops")
    @click.argument("model")
    @click.option("--format", "fmt", type=click.Choice(["table", "csv", "json", "markdown"]),
                  default="table", show_default=True)
    @click.option("--independent", is_flag=True,
                  help="Only the shortest independent loop set (Oliva 2004): fast on large models.")
    @click.option("--max-loops", type=click.IntRange(min=1), default=5000, show_default=True,
                  help="Stop enumerating after this many loops (with a notice).")
    @click.option("--no-behaviour", is_flag=True,
                  help="Sign links from the equations only, without a simulated run.")
    @click.option("--set", "sets", multiple=True, metavar="NAME=VALUE",
                  help="Set a constant for the run that checks link polarity (repeatable).")
    @click.option("--scenario", default=None, help="A named scenario of the model.")
    @click.option("-o", "--output", default=None, help="Write to this file instead of stdout.")
    def loops_command(model, fmt, independent, max_loops, no_behaviour, sets, scenario, output):
        """List the feedback loops of MODEL (a library name, a .py file, or a model file)."""
        text = loops_text(model, fmt=fmt, independent=independent, max_loops=max_loops,
                          behaviour=not no_behaviour, sets=parse_assignments(sets),
                          scenario=scenario)
        emit(text, output)

    @main.command("diagram")
    @click.argument("model")
    @click.option("--kind", type=click.Choice(["cld", "sfd"]), default="cld", show_default=True,
                  help="Causal loop diagram or stock-and-flow diagram.")
    @click.option("--loop", "loops", multiple=True, metavar="ID",
                  help="Highlight this loop (id like R1 or its name; repeatable).")
    @click.option("--only-loops", is_flag=True,
                  help="Draw only the loops' variables (the --loop ones, or every loop).")
    @click.option("--no-modules", is_flag=True, help="Do not group variables by module.")
    @click.option("--no-behaviour", is_flag=True,
                  help="Sign links from the equations only, without a simulated run.")
    @click.option("--dominant", type=click.IntRange(min=0), default=0, metavar="N",
                  help="Overview: draw only the N loops that drove a run most (Loops That "
                       "Matter), with any --loop ones.")
    @click.option("--scenario", default=None, help="The scenario run for --dominant.")
    @click.option("--auto-layout", is_flag=True,
                  help="Lay a Vensim .mdl model out automatically instead of at the "
                       "positions of its sketch.")
    @click.option("-o", "--output", required=True, metavar="FILE.svg|.png|.pdf|.dot")
    def diagram_command(model, kind, loops, only_loops, no_modules, no_behaviour, dominant,
                        scenario, auto_layout, output):
        """Draw MODEL as a diagram (format from the -o suffix)."""
        click.echo(write_diagram(model, output, kind=kind, loops=loops, only_loops=only_loops,
                                 modules=not no_modules, behaviour=not no_behaviour,
                                 dominant=dominant, scenario=scenario,
                                 auto_layout=auto_layout))
