"""Input ports from a table: ``{name: (default, units, source)}``, defaults overridable by name.

The parts of this package declare their inputs this way, so that a part's function reads as
its table of documented defaults followed by its equations.

>>> from sdmodels import Model
>>> m = Model("pool")
>>> c = inputs(m, {"Pool size": (10, "conn", "HikariCP maximumPoolSize default")},
...            {"pool_size": 20})
>>> m.input_ports["pool_size"].source, m.elements["pool_size"].values
('HikariCP maximumPoolSize default', (20.0,))
"""
from __future__ import annotations

from typing import Mapping

from sdmodels import Model, canonical
from sdmodels.errors import UnknownNameError, did_you_mean


def inputs(m: Model, table: Mapping[str, tuple], overrides: Mapping | None = None) -> dict:
    """Declare every row of `table` as an input port of `m`; returns ``{name: handle}``."""
    by_id = {canonical(name): name for name in table}
    values = {name: spec[0] for name, spec in table.items()}
    for key, value in (overrides or {}).items():
        if canonical(key) not in by_id:
            raise UnknownNameError(f"part '{m.name}' has no input '{key}'."
                                   f"{did_you_mean(key, list(table))} Inputs: "
                                   f"{', '.join(table)}")
        values[by_id[canonical(key)]] = value
    return {name: m.input(name, values[name], units=units, source=source)
            for name, (_, units, source) in table.items()}


def expose(m: Model, handle, names) -> dict:
    """Auxiliaries of `m` that show outputs of a module under their own names (for plots,
    KEY_OUTPUTS and models that include `m` in turn); returns ``{name: handle}``."""
    return {name: m.aux(name, handle.out[name], units=handle.outputs[name].units,
                        doc=f"{handle.display}'s output '{name}'") for name in names}
