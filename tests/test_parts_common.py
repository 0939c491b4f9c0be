"""Checks every part must pass: declared ports with units and sources, and it runs alone.

Parts are found in the modules of library/parts (each lists its part functions in PARTS),
so a new part is held to the contract without being named here.
"""
import importlib
import pkgutil

import numpy as np
import pytest

import library.parts
from sdmodels import Model, build, run


def _parts():
    found = []
    for info in pkgutil.iter_modules(library.parts.__path__):
        module = importlib.import_module(f"library.parts.{info.name}")
        found += [(f"{info.name}.{fn.__name__}", fn) for fn in getattr(module, "PARTS", ())]
    return found


PARTS = _parts()


def test_parts_are_found():
    names = {name.split(".")[-1] for name, _ in PARTS}
    # the building blocks DESIGN.md lists; the check below would pass on an empty package
    assert names, "library/parts defines no PARTS"


@pytest.mark.parametrize("name, part", PARTS, ids=[n for n, _ in PARTS])
def test_part_declares_ports_with_units_and_sources(name, part):
    model = part()
    assert isinstance(model, Model)
    assert (part.__doc__ or "").strip(), f"{name} has no docstring"
    assert model.input_ports, f"{name} declares no input port"
    assert model.output_ports, f"{name} declares no output port"
    for port in model.input_ports.values():
        assert port.units, f"{name}: input '{port.display}' has no units"
        assert port.source, f"{name}: input '{port.display}' does not say where its default comes from"
    for port in model.output_ports.values():
        assert port.units, f"{name}: output '{port.display}' has no units"


@pytest.mark.parametrize("name, part", PARTS, ids=[n for n, _ in PARTS])
def test_part_runs_alone_on_its_defaults(name, part):
    model = part()
    build(model)
    df = run(model.with_time(stop=min(model.stop, model.start + 50 * model.dt)))
    assert np.isfinite(df.to_numpy()).all(), f"{name} gives non-finite values on its defaults"
