"""Hypothesis strategies and checks shared by tests/test_hardening_fuzz.py and benchmarks/fuzz.py.

Generated inputs must give a result or an sdmodels error (SDModelsError), never another
exception, and never take long: the limits of `sdmodels.limits` bound every size. Needs the
`hypothesis` package (the `test` extra).
"""
from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

from hypothesis import strategies as st

from sdmodels.errors import SDModelsError

NAMES = st.sampled_from(["x", "Stock", "Room Temperature", "a b", "é", "TIME", "dt", "Pool",
                         '"quoted name"', "x1", "_y", "IF", "THEN", "sum", "MAX"])
NUMBERS = st.one_of(st.integers(-10**6, 10**6).map(str), st.floats(allow_nan=False,
                    allow_infinity=False).map(repr), st.sampled_from(
                    ["1e308", "1e999", ".5", "5.", "0x10", "1_000", "-0", "1e-400"]))
OPERATORS = st.sampled_from(["+", "-", "*", "/", "^", "<", ">", "<=", ">=", "=", "<>", ":AND:",
                             ":OR:", " and ", " or ", " MOD ", ",", "!"])
FUNCTIONS = st.sampled_from(["MAX", "MIN", "IF THEN ELSE", "SMOOTH", "DELAY1", "SUM", "ABS",
                             "XIDZ", "STEP", "PULSE", "LOOKUP", "nosuch", "INTEG", "RAMP"])


@st.composite
def equations(draw, depth: int = 0):
    """Equation-like text: mostly well-formed, sometimes broken at a random place."""
    kind = draw(st.integers(0, 6 if depth < 4 else 1))
    if kind == 0:
        return draw(NUMBERS)
    if kind == 1:
        name = draw(NAMES)
        if draw(st.booleans()):
            name += "[" + ",".join(draw(st.lists(NAMES, min_size=1, max_size=2))) + "]"
        return name
    if kind in (2, 3):
        return draw(equations(depth + 1)) + draw(OPERATORS) + draw(equations(depth + 1))
    if kind == 4:
        return "(" + draw(equations(depth + 1)) + ")"
    if kind == 5:
        args = draw(st.lists(equations(depth + 1), min_size=0, max_size=3))
        return draw(FUNCTIONS) + "(" + ", ".join(args) + ")"
    return draw(st.sampled_from(["-", "+", "not ", ":NOT: "])) + draw(equations(depth + 1))


def mangled(text_strategy):
    """Text from `text_strategy`, sometimes cut, repeated or salted with random characters."""
    @st.composite
    def build(draw):
        text = draw(text_strategy)
        how = draw(st.integers(0, 4))
        if how == 1 and text:
            text = text[:draw(st.integers(0, len(text)))]
        elif how == 2:
            at = draw(st.integers(0, len(text)))
            text = text[:at] + draw(st.text(max_size=8)) + text[at:]
        elif how == 3:
            text = text * draw(st.integers(2, 40))
        elif how == 4:
            text = draw(st.sampled_from(["(" * 80, ")" * 5, "-" * 120, "[" * 30,
                                         "\x00", "\ufeff", "💥", "\\"])) + text
        return text
    return build()


def check_equation(text: str) -> None:
    """Parse `text`: a tree or an SDModelsError, nothing else."""
    from sdmodels.parse import parse_equation
    try:
        parse_equation(text)
    except SDModelsError:
        pass


VENSIM_TEMPLATE = "{{UTF-8}}\n{body}\nINITIAL TIME = 0 ~ ~ |\nFINAL TIME = 3 ~ ~ |\n" \
                  "TIME STEP = 1 ~ ~ |\nSAVEPER = 1 ~ ~ |\n"


@st.composite
def vensim_texts(draw):
    """Small .mdl texts: generated equations, subscripts, lookups, INTEG, sometimes broken."""
    lines = []
    for i in range(draw(st.integers(1, 4))):
        kind = draw(st.integers(0, 4))
        rhs = draw(equations())
        if kind == 0:
            lines.append(f"v{i} = {rhs} ~ ~ |")
        elif kind == 1:
            lines.append(f"s{i} = INTEG({rhs}, {draw(NUMBERS)}) ~ ~ |")
        elif kind == 2:
            lines.append(f"D{i}: (e1-e{draw(st.integers(0, 5))}) ~ ~ |\nw{i}[D{i}] = {rhs} ~ ~ |")
        elif kind == 3:
            pts = ",".join(f"({draw(NUMBERS)},{draw(NUMBERS)})" for _ in range(2))
            lines.append(f"t{i}([(0,0)-(1,1)],{pts}) ~ ~ |")
        else:
            lines.append(draw(st.text(max_size=40)) + " ~ ~ |")
    return VENSIM_TEMPLATE.format(body="\n".join(lines))


XMILE_TEMPLATE = """<?xml version="1.0" encoding="utf-8"?>
<xmile version="1.0" xmlns="http://docs.oasis-open.org/xmile/ns/XMILE/v1.0">
<header><name>fuzz</name></header>
<sim_specs><start>{start}</start><stop>{stop}</stop><dt>{dt}</dt></sim_specs>
{dims}<model><variables>
{variables}
</variables></model></xmile>"""


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@st.composite
def xmile_texts(draw):
    """Small XMILE documents: generated settings, dims, stocks, flows, auxes and gfs."""
    small = st.one_of(NUMBERS, st.sampled_from(["0", "1", "10", "0.25", "x", ""]))
    dims = ""
    if draw(st.booleans()):
        dims = (f'<dimensions><dim name="D" size="{draw(small)}"/>'
                '<dim name="E"><elem name="a"/><elem name="b"/></dim></dimensions>\n')
    variables = []
    for i in range(draw(st.integers(1, 4))):
        tag = draw(st.sampled_from(["aux", "stock", "flow"]))
        eqn = _xml_escape(draw(mangled(equations())))
        extra = ""
        if tag == "stock" and draw(st.booleans()):
            extra = f"<inflow>v{draw(st.integers(0, 3))}</inflow>"
        if tag == "aux" and draw(st.booleans()):
            extra = (f'<gf><xscale min="{draw(small)}" max="{draw(small)}"/>'
                     f"<ypts>{draw(small)},{draw(small)}</ypts></gf>")
        if dims and draw(st.booleans()):
            extra += '<dimensions><dim name="D"/></dimensions>'
        variables.append(f'<{tag} name="v{i}"><eqn>{eqn}</eqn>{extra}</{tag}>')
    text = XMILE_TEMPLATE.format(start=draw(small), stop=draw(small), dt=draw(small), dims=dims,
                                 variables="\n".join(variables))
    if draw(st.integers(0, 5)) == 0:       # broken XML now and then
        text = text[:draw(st.integers(0, len(text)))]
    return text


def check_model_file(text: str, suffix: str, *, run: bool = False) -> None:
    """Import a model file holding `text` (and build it): a model or an SDModelsError."""
    from sdmodels.interop import import_model
    from sdmodels.ir import build
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"fuzz{suffix}"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                ir = build(import_model(path))
                if run:
                    from sdmodels.simulate import simulate
                    simulate(ir)
            except SDModelsError:
                pass
