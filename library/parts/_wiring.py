"""Helpers the parts and the models built from them share: a discrete state, a discrete
transfer, and a module's outputs shown under their own names. (Input ports are declared with
`Model.inputs`.)"""
from __future__ import annotations

from sdmodels import Model, delay_fixed, sample_hold


def held(m: Model, name: str, next_value, initial, *, units: str, doc: str = ""):
    """A discrete state: `name` takes the value `next_value` had one step earlier.

    A pipeline delay of one step (DELAY FIXED, dt) updated once per step from the step's
    first-stage values, so a controller built on it (breaker states, counters, time stamps)
    moves the same way under Euler and RK4: no pulse flows of size stock/dt, which RK4 would
    average into fractions of a transition.
    """
    return m.aux(name, delay_fixed(next_value, m.dt_expr, initial), units=units, doc=doc)


def at_step_start(m: Model, value):
    """`value` as it was at the start of the current step, held through the step's RK4 stages.

    A discrete event moves a whole amount at once: a flow `at_step_start(m, amount) / dt`
    moves exactly `amount` in one step under Euler and RK4 alike. Written as `amount / dt`
    with `amount` read from the stocks at every stage, RK4 would move a weighted mean of
    the stages' amounts (62.5 % of a stock emptied by `stock / dt`), a fraction of an
    OOM kill or of a pod creation that no real system shows.
    """
    return sample_hold(value, m.dt_expr)


def part_parameters(table, *, names=None, story=None, skip=()) -> dict:
    """A model's parameter table taken from a part's input table, so defaults, units and
    sources are written once: `names` renames inputs (part name -> model name), `story`
    gives (default, source) where the model's story has its own value, `skip` leaves out
    the inputs the model wires from its own elements.

    >>> part_parameters({"Timeout": (1.0, "s", "assumption")}, names={"Timeout": "T"},
    ...                 story={"Timeout": (2.0, "the story")})
    {'T': (2.0, 's', 'the story')}
    """
    names, story = names or {}, story or {}
    out = {}
    for name, (default, units, source) in table.items():
        if name not in skip:
            default, source = story.get(name, (default, source))
            out[names.get(name, name)] = (default, units, source)
    return out


def expose(m: Model, handle, names) -> dict:
    """Auxiliaries of `m` that show outputs of a module under their own names (for plots,
    KEY_OUTPUTS and models that include `m` in turn); returns ``{name: handle}``."""
    return {name: m.aux(name, handle.out[name], units=handle.outputs[name].units,
                        doc=f"{handle.display}'s output '{name}'") for name in names}


def conversion(m: Model, name: str, units: str, doc: str, *, value: float = 1.0):
    """A fixed factor that carries units: a conversion between countable units ('queries/req':
    a read sends one query) or a unit amount ('s'). Its value is 1 (100 for '%' per whole), so
    it changes no number, only makes an equation's units say what is converted into what (see
    library/parts/__init__.py). An auxiliary, not a constant: no run or sweep should tune it."""
    return m.aux(name, value, units=units, doc=doc)
