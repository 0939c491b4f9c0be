"""The "Build your own system" example: the README shows the code that runs, and it behaves
as the README says."""
import importlib.util
from pathlib import Path

import pytest

from sdmodels import run

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "own_system.py"


def _build():
    spec = importlib.util.spec_from_file_location("own_system", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build


def test_the_readme_shows_the_example_as_it_is():
    code = EXAMPLE.read_text()
    body = code[code.index("def build"):].rstrip()
    assert body in (ROOT / "library" / "README.md").read_text()
    assert len(body.splitlines()) <= 30         # issue 10: under 30 lines


def test_a_slow_database_empties_the_cache_and_the_retries_keep_the_api_down():
    model = _build()()
    base = run(model, engine="interpreter")
    slow = run(model, scenario="db slow", engine="interpreter")
    # Poisson reads per key lambda = 400 / 200 = 2/s, TTL 5 s: hit ratio
    # lambda T / (1 + lambda T) = 10/11 (fills take ~15 ms, 0.3 % less)
    assert base["cache / Hit ratio"].iloc[-1] == pytest.approx(10 / 11, rel=0.01)
    assert base["api / Goodput"].iloc[-1] == pytest.approx(400, rel=1e-3)
    # queries 10x slower (60-120 s): 5 connections serve ~25 fills/s < ~36 misses/s
    assert slow["cache / Hit ratio"].loc[100] < 0.05
    assert slow["api / Goodput"].loc[100] < 1
    # 3 retries: every attempt fails, so 4 attempts per request (1,600/s)
    assert slow["client / Attempts"].loc[100] == pytest.approx(1600, rel=0.01)
    # after the database recovers the retries hold the API (800 req/s) overloaded
    # overloaded (800 req/s): its full queue (1,000) waits 1,000 / 800 = 1.25 s, past
    # the 1 s timeout, so every attempt still fails and each request is sent 4 times
    assert slow["api / Queue wait"].loc[250:].min() == pytest.approx(1000 / 800, rel=1e-3)
    assert slow["client / Attempts"].loc[250:].min() == pytest.approx(1600, rel=0.01)
    assert slow["api / Latency"].loc[250:].min() > 1.0
