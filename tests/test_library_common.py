"""Checks every library model must pass, whatever models exist (found by library_models()).

Each model: build() returns a Model, a docstring naming the reference part, scenarios
baseline / trigger / fixed (teacup, an example and not a failure model, is exempt from that
and from citing the reference), every scenario runs through `sdm run NAME --scenario S`
with finite values, `sdm list` lists it, its named loops are real loops of the model, and
library/README.md has a `## NAME` section whose parameter table names exactly its constants.
"""
import importlib
import re
from pathlib import Path
import warnings

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from sdmodels import Model, ModelWarning, build
from sdmodels.analysis import find_loops
from sdmodels.cli import main
from sdmodels.elements import canonical
from sdmodels.sources import library_models

#: examples in the library that are not failure models: no trigger/fixed, no reference part
EXAMPLES = {"teacup"}
REQUIRED_SCENARIOS = {"baseline", "trigger", "fixed"}
README = Path(__file__).resolve().parent.parent / "library" / "README.md"
MODELS = sorted(library_models())


def _module(name):
    return importlib.import_module(f"library.{name}")


def _scenario_cases():
    return [(name, s) for name in MODELS for s in _module(name).build().scenarios]


def test_the_library_has_failure_models():
    # the check below would pass vacuously on an empty library
    assert set(MODELS) - EXAMPLES, "library_models() found no failure models"
    assert "teacup" in MODELS


@pytest.mark.parametrize("name", MODELS)
def test_build_docstring_and_scenarios(name):
    module = _module(name)
    model = module.build()
    assert isinstance(model, Model)
    doc = (module.__doc__ or "").strip()
    assert doc, f"library/{name}.py has no module docstring"
    assert model.constants(), f"{name} has no parameters"
    if name in EXAMPLES:
        return
    # "Part 3.5 ..." for the loops; the opening Black Friday story has no part number
    assert re.search(r"\bPart \d|\breference\b", doc), \
        f"{name}'s docstring does not say where in the reference it comes from"
    missing = REQUIRED_SCENARIOS - set(model.scenarios)
    assert not missing, f"{name} lacks scenarios {sorted(missing)}"
    # the fixed scenario must change something relative to the trigger (fixes are switches)
    trigger = dict(model.scenarios["trigger"].params)
    fixed = dict(model.scenarios["fixed"].params)
    assert fixed != trigger, f"{name}: 'fixed' sets the same parameters as 'trigger'"


@pytest.mark.parametrize("name", MODELS)
def test_named_loops_are_loops_of_the_model(name):
    model = _module(name).build()
    assert model.loop_names, f"{name} names no feedback loop"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ModelWarning)     # the cap: named loops come anyway
        loops = find_loops(model, behaviour=False)
    named = {l.name for l in loops if l.name}    # listed whatever the cap (named_cycles)
    for loop in model.loop_names:
        assert loop.name in named, (f"{name}: loop name '{loop.name}' matches no loop; "
                                    f"notices: {loops.notices}")


@pytest.mark.parametrize("name, scenario", _scenario_cases())
def test_every_scenario_runs_from_the_cli(name, scenario, tmp_path):
    out = tmp_path / "run.csv"
    result = CliRunner().invoke(main, ["run", name, "--scenario", scenario, "-o", str(out)])
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out)
    assert len(frame) > 1
    values = frame.select_dtypes("number").to_numpy()
    assert values.size and np.all(np.isfinite(values)), f"{name}/{scenario}: non-finite values"
    # the run really applied the scenario: its parameters hold in the written series
    ir = build(_module(name).build())
    for param, value in ir.scenarios[scenario].params:
        display = ir.variables[ir.id_of(param)].display
        if display in frame.columns:
            assert np.allclose(frame[display], value), f"{name}/{scenario}: {display}"


def test_sdm_list_lists_every_model():
    result = CliRunner().invoke(main, ["list"])
    assert result.exit_code == 0, result.output
    listed = {line.split()[0] for line in result.output.splitlines() if line.strip()}
    assert listed == set(MODELS)


def readme_sections() -> dict[str, str]:
    """README text under each `## name` heading, up to the next `## ` heading."""
    text = README.read_text(encoding="utf-8")
    parts = re.split(r"^## +(.+?)\s*$", text, flags=re.M)
    return {canonical(parts[i].strip("` ")): parts[i + 1] for i in range(1, len(parts), 2)}


def parameter_table(section: str) -> list[str]:
    """First-column cells of the first table in `section` headed `| Parameter |`."""
    rows, inside = [], False
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")] \
            if line.strip().startswith("|") else None
        if cells is None:
            if inside:
                break
            continue
        if not inside:
            inside = cells[0].lower() == "parameter"
            continue
        if set(cells[0]) <= set("-: "):
            continue
        rows.append(cells[0].strip("`\"' "))
    return rows


@pytest.mark.parametrize("name", MODELS)
def test_readme_section_names_exactly_the_constants(name):
    sections = readme_sections()
    assert canonical(name) in sections, f"library/README.md has no '## {name}' section"
    listed = parameter_table(sections[canonical(name)])
    assert listed, f"README section '{name}' has no '| Parameter | ...' table"
    constants = {canonical(c) for c in _module(name).build().constants()}
    table = [canonical(c) for c in listed]
    assert len(table) == len(set(table)), f"README '{name}' lists a parameter twice"
    assert set(table) == constants, (
        f"README '{name}': missing {sorted(constants - set(table))}, "
        f"not constants {sorted(set(table) - constants)}")
