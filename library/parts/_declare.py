"""Shared helpers of the parts in this package: a table of input ports, a discrete state."""
from __future__ import annotations

from collections.abc import Mapping

from sdmodels import Model, UnknownNameError, canonical, delay_fixed
from sdmodels.errors import did_you_mean


def declare_inputs(m: Model, table: Mapping[str, tuple], overrides: Mapping) -> dict:
    """Declare ``{name: (default, units, source)}`` as input ports, overrides by name.

    >>> m = Model("part")
    >>> c = declare_inputs(m, {"Workers": (10.0, "1", "assumption")}, {"workers": 4})
    >>> m.elements["workers"].values, list(m.input_ports)
    ((4.0,), ['workers'])
    """
    by_id = {canonical(name): name for name in table}
    values = {name: spec[0] for name, spec in table.items()}
    for key, value in overrides.items():
        if canonical(key) not in by_id:
            raise UnknownNameError(f"part '{m.name}' has no input '{key}'."
                                   f"{did_you_mean(key, list(table))} Inputs: {', '.join(table)}")
        values[by_id[canonical(key)]] = value
    return {name: m.input(name, values[name], units=units, source=source)
            for name, (_, units, source) in table.items()}


def held(m: Model, name: str, next_value, initial, *, units: str, doc: str = ""):
    """A discrete state: `name` takes the value `next_value` had one step earlier.

    A pipeline delay of one step (DELAY FIXED, dt) updated once per step from the step's
    first-stage values, so a controller built on it (breaker states, counters, time stamps)
    moves the same way under Euler and RK4: no pulse flows of size stock/dt, which RK4 would
    average into fractions of a transition.
    """
    return m.aux(name, delay_fixed(next_value, m.dt_expr, initial), units=units, doc=doc)
