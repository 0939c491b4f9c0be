"""The silent or misleading cases of issue 13: they now warn, report everything at once, or
give the right label and null."""
import textwrap
import warnings

import numpy as np
import pandas as pd
import pytest

from sdmodels.errors import ModelWarning
from sdmodels.interop import import_model
from sdmodels.sweep.design import SweepError, load_sweep
from sdmodels.sweep.labels import classify

CONTROL = "INITIAL TIME = 0 ~ ~ |\nFINAL TIME = 2 ~ ~ |\nTIME STEP = 1 ~ {unit} ~ |\n"


def test_mdl_without_control_section_warns_and_names_the_file(tmp_path):
    path = tmp_path / "bare.mdl"
    path.write_text("{UTF-8}\nStock = INTEG(1, 0) ~ widgets ~ |\n")
    with pytest.warns(ModelWarning, match=r"bare\.mdl: no INITIAL TIME, FINAL TIME, TIME STEP "
                                          r"in the model.*start 0, stop 100, dt 1"):
        model = import_model(path)
    assert (model.start, model.stop, model.dt) == (0.0, 100.0, 1.0)


def test_partial_control_section_names_what_is_missing(tmp_path):
    path = tmp_path / "part.mdl"
    path.write_text("{UTF-8}\nStock = INTEG(1, 0) ~ ~ |\nFINAL TIME = 5 ~ ~ |\n")
    with pytest.warns(ModelWarning, match=r"part\.mdl: no INITIAL TIME, TIME STEP in the"):
        import_model(path)


@pytest.mark.parametrize("unit, warns", [("Fortnight", True), ("parsecs", True),
                                         ("Month", False), ("Minutes", False), ("", False)])
def test_unknown_time_unit_warns(tmp_path, unit, warns):
    path = tmp_path / "u.mdl"
    path.write_text("{UTF-8}\nStock = INTEG(1, 0) ~ ~ |\n" + CONTROL.format(unit=unit))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        import_model(path)
    messages = [str(w.message) for w in caught if issubclass(w.category, ModelWarning)]
    assert any(f"u.mdl: time unit '{unit}' is not a unit sdmodels knows" in m
               for m in messages) == warns, messages


def test_xmile_unknown_time_unit_warns(tmp_path):
    path = tmp_path / "u.xmile"
    path.write_text(textwrap.dedent("""\
        <xmile version="1.0" xmlns="http://docs.oasis-open.org/xmile/ns/XMILE/v1.0">
          <sim_specs time_units="lightyears"><start>0</start><stop>2</stop><dt>1</dt></sim_specs>
          <model><variables><aux name="a"><eqn>1</eqn></aux></variables></model>
        </xmile>"""))
    with pytest.warns(ModelWarning, match=r"u\.xmile: time unit 'lightyears'"):
        import_model(path)


def test_sweep_file_with_seven_errors_reports_all_at_once(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(textwrap.dedent("""
        model = "teacup"
        outptus = ["x"]
        trigger = "soon"
        chunk_size = 2.5
        [design]
        samples = "many"
        replications = 0
        [set]
        "Room Temperature" = "warm"
        [vary]
        "Characteristic Time" = "uniform(5)"
        [time]
        dt = "small"
        """))
    with pytest.raises(SweepError) as info:
        load_sweep(path)
    message = str(info.value)
    assert message.startswith(f"{path}: 8 problems: (1) ")
    for needle in ["unknown setting 'outptus'", "design.samples is 'many'",
                   "set.Room Temperature': 'warm' is not a number",
                   "uniform takes 2 numbers", "time.dt': 'small' is not a number",
                   "trigger 'soon' is not", "chunk_size is 2.5", "replications must be at least 1"]:
        assert needle in message, needle
    assert "\n" not in message


def test_sweep_file_with_wrong_types_is_one_clear_error(tmp_path):
    path = tmp_path / "types.yaml"
    path.write_text("model: teacup\nvary: [1, 2]\nlabels: {tolerance: high}\noutputs: 3\n")
    with pytest.raises(SweepError, match=r"3 problems: \(1\) \[vary\] must be a table"):
        load_sweep(path)


T = np.linspace(0, 10, 101)


@pytest.mark.parametrize("name, series, label", [
    ("0 at t=0 then constant", np.r_[0.0, np.full(100, 5.0)], "steady"),
    ("negative constant", np.full(101, -3.0), "steady"),
    ("all zero", np.zeros(101), "steady"),
    ("step up at t=5", np.where(T < 5, 1.0, 3.0), "step"),
    ("step down at t=5", np.where(T < 5, 3.0, 1.0), "step"),
    ("pulse (two jumps)", np.where((T >= 4) & (T < 6), 3.0, 1.0), "recovered"),
    ("ramp", 1.0 + T, "growth"),
    ("0 at t=0 then ramp", np.r_[0.0, 1.0 + T[1:]], "growth"),
])
def test_labels_on_flat_and_step_series(name, series, label):
    assert classify(T, series)["label"][0] == label, name


def test_pulse_with_a_trigger_recovers():
    pulse = np.where((T >= 4) & (T < 6), 3.0, 1.0)
    assert classify(T, pulse, trigger=(4.0, 6.0))["label"][0] == "recovered"


def test_failure_column_is_null_when_no_run_failed(tmp_path):
    from sdmodels.sweep.design import SweepSpec, parse_vary
    from sdmodels.sweep.runner import run_sweep
    out = run_sweep(SweepSpec("teacup", factors=parse_vary(["Room Temperature=60,70"]),
                              metrics=("Teacup Temperature:final",)),
                    tmp_path / "s", progress=False)
    assert out.table["failure"].isna().all()
    assert pd.read_parquet(tmp_path / "s" / "results.parquet")["failure"].isna().all()
    assert pd.read_csv(tmp_path / "s" / "results.csv")["failure"].isna().all()
