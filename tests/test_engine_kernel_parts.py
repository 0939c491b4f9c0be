"""A large model's kernel: values in arrays, equations in part functions compiled one by one
(sdmodels/kernel_layout.py), rolling windows kept in O(1) a step; still the interpreter's
values to 1e-12, its random streams and its failures. A small model is forced into that
layout here (SCALAR_SLOTS 0, parts of a few hundred characters) so that it compiles in
seconds; and a system description saved with other numbers keeps its kernel text."""
import re
from pathlib import Path

import numpy as np
import pytest

import sdmodels.kernel_layout as layout
import sdmodels.kernel_source as source
from sdmodels import Model, build
from sdmodels.kernel_source import _Generator
from test_engine_interpreter import features, same

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture
def large(monkeypatch):
    """Every model laid out as a large one, in parts of at most 400 characters."""
    monkeypatch.setattr(source, "SCALAR_SLOTS", 0)
    monkeypatch.setattr(layout, "PART_CHARS", 400)


def test_a_kernel_in_parts_agrees_with_the_interpreter(large):
    text = _Generator(build(features()), "euler").source()
    calls = re.findall(r"^ +(part\d+)\(", text, flags=re.M)
    assert len(set(calls)) >= 4 and len(calls) == len(set(calls))   # each part called once
    out = same(features(), params={"k": [0.1, 0.5]}, seed=3)       # delays, windows, draws
    assert out.runs == 2 and np.all(np.isfinite(out.data))


def test_a_kernel_in_parts_reports_the_first_failure_alike(large):
    m = Model("blowup", stop=10)
    x = m.stock("X", initial=1)
    m.flow("Growth", "X * X * 1e100", into=x)
    out = same(m, on_failure="mark")
    assert 0 in out.failures and "inf" in out.failures[0]


def test_small_kernels_stay_one_function():
    text = _Generator(build(features()), "euler").source()
    assert text.count("@njit") == 1 and "part0" not in text


def _kernel_text(description: str) -> tuple[str, dict[str, float]]:
    from library.compose import compose
    gen = _Generator(build(compose(description).model), "euler")
    return gen.source(), {gen.ir.variables[gen.slots[i].var].display:
                          gen.ir.variables[gen.slots[i].var].values[0] for i in gen.param_slots}


def test_a_description_saved_with_other_numbers_keeps_its_kernel_text():
    text = (EXAMPLES / "service_chain.yaml").read_text()
    edited = text.replace("replicas: 3", "replicas: 6", 1).replace(
        "workersPerPod: 4", "workersPerPod: 8", 1).replace("rate: 300/s", "rate: 400/s").replace(
        "timeout: 2s", "timeout: 3s")
    (a, before), (b, after) = _kernel_text(text), _kernel_text(edited)
    assert a == b                                 # the same compiled kernel serves both
    assert (before["gateway replicas"], after["gateway replicas"]) == (3, 6)
    assert (before["gateway workersPerPod"], after["gateway workersPerPod"]) == (4, 8)
    assert (before["gateway to orders timeout"], after["gateway to orders timeout"]) == (2, 3)
    assert (before["clients / Base rate"], after["clients / Base rate"]) == (300, 400)
    retried = text.replace("{from: clients, to: gateway, timeout: 3s}",
                           "{from: clients, to: gateway, timeout: 3s, retry: {maxAttempts: 2}}")
    assert retried != text and _kernel_text(retried)[0] != a      # a new structure: new text
