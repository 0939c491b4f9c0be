"""Sweep designs: ranges, grids, samples, replications, files, and validation before any run."""
import re
from pathlib import Path

import numpy as np
import pytest

from sdmodels.sweep import SweepError, SweepSpec, design_table, load_sweep, parse_vary
from sdmodels.sweep.design import Levels, Sampled, parse_range, parse_values
from sdmodels.sweep.runner import prepare, run_sweep


def test_range_is_inclusive_and_grid_is_full_factorial():
    assert parse_range("50:100:5", "x") == tuple(float(v) for v in range(50, 101, 5))
    assert parse_range("0:1:0.1", "x")[-1] == 1.0          # no float drift past stop
    spec = SweepSpec("teacup", factors=parse_vary(["Room Temperature=50:100:5",
                                                    "Characteristic Time=1,2,3"]))
    table = design_table(spec)
    assert len(table) == 11 * 3
    pairs = set(zip(table["Room Temperature"], table["Characteristic Time"]))
    assert len(pairs) == 33                                 # every combination exactly once
    assert table["run"].tolist() == list(range(33))


def test_latin_hypercube_puts_one_draw_in_each_stratum():
    n = 200
    spec = SweepSpec("teacup", factors=parse_vary(["Room Temperature=uniform(40, 80)",
                                                    "Characteristic Time=uniform(5, 15)"]),
                     samples=n, seed=7)
    table = design_table(spec)
    for name, (lo, hi) in {"Room Temperature": (40, 80), "Characteristic Time": (5, 15)}.items():
        strata = np.floor((table[name] - lo) / (hi - lo) * n).astype(int)
        assert sorted(strata) == list(range(n))
    assert design_table(spec).equals(table)                  # same seed, same design


def test_distributions_have_their_textbook_moments():
    n = 4000   # LHS: sample moments converge much faster than 1/sqrt(n); bounds use 1/sqrt(n)
    spec = SweepSpec("teacup", samples=n, seed=3, factors=(
        Sampled("a", "normal", (10.0, 2.0)), Sampled("b", "lognormal", (1.0, 0.5)),
        Sampled("c", "triangular", (1.0, 2.0, 6.0))))
    t = design_table(spec)
    assert abs(t["a"].mean() - 10) < 4 * 2 / np.sqrt(n)
    assert abs(t["a"].std() - 2) < 0.05
    assert abs(np.median(t["b"]) - np.e) < 0.05              # median of lognormal = exp(mu)
    assert abs(t["c"].mean() - 3.0) < 0.05                   # (low + mode + high) / 3
    rnd = design_table(SweepSpec("teacup", samples=n, seed=3, sampler="random",
                                 factors=(Sampled("a", "normal", (10.0, 2.0)),)))
    assert abs(rnd["a"].mean() - 10) < 4 * 2 / np.sqrt(n)


def test_replications_repeat_points_with_their_own_seeds():
    spec = SweepSpec("teacup", factors=parse_vary(["Room Temperature=60,70"]), replications=3,
                     seed=100)
    t = design_table(spec)
    assert t["Room Temperature"].tolist() == [60, 60, 60, 70, 70, 70]
    assert t["replicate"].tolist() == [0, 1, 2, 0, 1, 2]
    assert t["seed"].tolist() == list(range(100, 106))


def test_grid_crossed_with_samples():
    spec = SweepSpec("teacup", samples=5, factors=(Levels("x", (1.0, 2.0)),
                                                   Sampled("y", "uniform", (0.0, 1.0))))
    t = design_table(spec)
    assert len(t) == 10 and t.groupby("x")["y"].nunique().tolist() == [5, 5]


TOML = """
model = "teacup"
scenario = "cold room"
outputs = ["Teacup Temperature"]
[design]
sampler = "lhs"
samples = 4
seed = 1
[vary]
"Room Temperature" = [30, 40]
"Characteristic Time" = {dist = "triangular", low = 5, mode = 8, high = 12}
"Initial Temperature" = "170:190:10"
[metrics]
"Teacup Temperature" = ["final", "time_above=100"]
[labels]
tolerance = 0.01
"""

YAML = """
model: teacup
scenario: cold room
outputs: [Teacup Temperature]
design: {sampler: lhs, samples: 4, seed: 1}
vary:
  Room Temperature: [30, 40]
  Characteristic Time: {dist: triangular, low: 5, mode: 8, high: 12}
  Initial Temperature: "170:190:10"
metrics:
  Teacup Temperature: [final, time_above=100]
labels: {tolerance: 0.01}
"""


def test_toml_and_yaml_files_give_the_same_design(tmp_path):
    (tmp_path / "s.toml").write_text(TOML)
    (tmp_path / "s.yaml").write_text(YAML)
    a, b = load_sweep(tmp_path / "s.toml"), load_sweep(tmp_path / "s.yaml")
    assert a == b
    assert a.labels.tolerance == 0.01 and a.scenario == "cold room"
    assert a.metrics == ("Teacup Temperature:final", "Teacup Temperature:time_above=100")
    assert len(design_table(a)) == 2 * 3 * 4


@pytest.mark.parametrize("flag, message", [
    ("Room Temperature=80:50:5", r"range '80:50:5' is empty"),
    ("Room Temperature=50:80:0", r"range '50:80:0' is empty"),
    ("Room Temperature=normal(10, 0)", r"normal\(10, 0\): sd must be positive"),
    ("Room Temperature=lognormal(1, -1)", r"sigma must be positive"),
    ("Room Temperature=uniform(5, 1)", r"high \(1\) must be greater than low \(5\)"),
    ("Room Temperature=triangular(1, 9, 4)", r"low <= mode <= high"),
    ("Room Temperature=normel(1, 2)", r"unknown distribution 'normel'.*Did you mean 'normal'"),
    ("Room Temperature=normal(1)", r"normal takes 2 numbers \(mean, sd\), got 1"),
    ("Room Temperature=", r"no values given"),
    ("Room Temperature=a,b", r"cannot read 'a,b'"),
    ("no equals sign", r"is not Name=values"),
])
def test_bad_designs_are_one_clear_error(flag, message):
    with pytest.raises(SweepError, match=message):
        parse_vary([flag])


def test_unknown_names_are_all_reported_before_any_run(tmp_path):
    spec = SweepSpec("teacup", factors=parse_vary(["Room Temprature=60,70"]),
                     outputs=("Teacup Temp",), metrics=("Teacup Temperature:peek",),
                     scenario="hot room")
    with pytest.raises(SweepError) as info:
        run_sweep(spec, tmp_path / "out", progress=False)
    text = str(info.value)
    assert re.search(r"parameter 'Room Temprature' is not a constant of model 'teacup'\. "
                     r"Did you mean 'Room Temperature'\?", text)
    assert re.search(r"output 'Teacup Temp' is not a variable.*Did you mean 'Teacup "
                     r"Temperature'", text)
    assert re.search(r"unknown kind 'peek'.*Did you mean 'peak'", text)
    assert re.search(r"no scenario 'hot room'.*Did you mean 'cold room'", text)
    assert not (tmp_path / "out").exists()                 # nothing was started


def test_other_design_problems():
    with pytest.raises(SweepError, match=r"sampled from distributions but samples is not set"):
        design_table(SweepSpec("teacup", factors=parse_vary(["x=uniform(0, 1)"])))
    with pytest.raises(SweepError, match=r"varied twice"):
        design_table(SweepSpec("teacup", factors=parse_vary(["x=1,2", "x=3"])))
    with pytest.raises(SweepError, match=r"recovery.*needs a trigger"):
        prepare(SweepSpec("teacup", metrics=("Teacup Temperature:recovery=5",)))
    with pytest.raises(SweepError, match=r"time_above needs a number"):
        prepare(SweepSpec("teacup", metrics=("Teacup Temperature:time_above",)))
    with pytest.raises(SweepError, match=r"'Heat Loss' is a flow, not a constant"):
        prepare(SweepSpec("teacup", factors=parse_vary(["Heat Loss=1,2"])))


def test_file_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('model = "teacup"\n[varry]\nx = [1]\n')
    with pytest.raises(SweepError, match=r"bad\.toml: unknown setting 'varry'\. Did you mean "
                                         r"'vary'\?"):
        load_sweep(bad)
    bad.write_text('model = "teacup"\n[vary\n')
    with pytest.raises(SweepError, match=r"bad\.toml' could not be read: .*line 2"):
        load_sweep(bad)
    with pytest.raises(SweepError, match=r"does not exist"):
        load_sweep(Path(tmp_path / "missing.toml"))
    assert parse_values("x", {"start": 0, "stop": 1, "num": 3}).values == (0.0, 0.5, 1.0)
