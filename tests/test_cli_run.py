"""`sdm run`, `sdm list`, `sdm demo`: behaviour, exit codes, atomic outputs."""
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from sdmodels.cli import main

ROOT = Path(__file__).resolve().parent.parent


def invoke(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_run_with_set_writes_the_series(tmp_path):
    out = tmp_path / "teacup.csv"
    result = invoke("run", "teacup", "--set", "Room Temperature=40", "--method", "rk4",
                    "--stop", "20", "-o", str(out))
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out, index_col="time")
    assert frame.index[-1] == 20
    # Newton's cooling: 40 + 140 e^{-t/10}
    assert frame["Teacup Temperature"].iloc[-1] == pytest.approx(40 + 140 * np.exp(-2), abs=1e-6)
    assert "Teacup Temperature" in result.output and "wrote" in result.output


def test_run_parquet_and_dt_override(tmp_path):
    out = tmp_path / "t.parquet"
    assert invoke("run", "teacup", "--dt", "0.5", "-o", str(out)).exit_code == 0
    frame = pd.read_parquet(out)
    assert len(frame) == 61        # 30 minutes / 0.5 + 1


@pytest.mark.parametrize("args, message", [
    (["run", "teacup", "--stpo", "3"], r"No such option '--stpo'.*--stop"),
    (["run", "teacpu"], r"'teacpu' is neither a library model nor a model file.*Did you mean 'teacup'"),
    (["run", "teacup", "--set", "Room Temp=3"], r"parameter 'Room Temp' is not a constant.*Did you mean 'Room Temperature'"),
    (["run", "teacup", "--set", "Room Temperature=warm"], r"'warm' in 'Room Temperature=warm' is not a number"),
    (["run", "teacup", "--set", "Room Temperature"], r"is not Name=value"),
    (["run", "teacup", "--method", "heun"], r"Invalid value for '--method'"),
    (["run", "teacup", "--scenario", "hot"], r"no scenario 'hot'"),
])
def test_bad_input_is_one_clear_line_and_exit_2(args, message):
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    import re
    assert re.search(message, result.output, re.S), result.output


def test_failed_run_leaves_no_file(tmp_path):
    model = tmp_path / "blowup.py"
    model.write_text(
        "from sdmodels import Model\n"
        "def build():\n"
        "    m = Model('blowup', stop=10, dt=1)\n"
        "    x = m.stock('Level', initial=1)\n"
        "    m.flow('Growth', x * x * 1e200, into=x)\n"
        "    return m\n")
    out = tmp_path / "out.csv"
    result = CliRunner().invoke(main, ["run", str(model), "-o", str(out)])
    assert result.exit_code == 1
    assert "became inf" in result.output
    assert list(tmp_path.iterdir()) == [model]      # no out.csv, no temporary file


def test_cli_py_is_the_same_as_sdm():
    via_launcher = subprocess.run([sys.executable, str(ROOT / "cli.py"), "list"],
                                  capture_output=True, text=True, cwd=ROOT)
    assert via_launcher.returncode == 0
    assert via_launcher.stdout == invoke("list").output
    assert "teacup" in via_launcher.stdout


def test_demo_writes_a_report_a_person_can_open(tmp_path):
    result = invoke("demo", "teacup", "-o", str(tmp_path))
    assert result.exit_code == 0, result.output
    names = {p.name for p in tmp_path.iterdir()}
    assert {"report.md", "report.html", "scenarios.png", "scenarios.svg",
            "series_baseline.csv", "series_cold_room.csv"} <= names
    assert (tmp_path / "scenarios.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    ET.parse(tmp_path / "scenarios.svg")            # well-formed SVG
    cold = pd.read_csv(tmp_path / "series_cold_room.csv", index_col="time")
    assert cold["Teacup Temperature"].iloc[-1] < 50     # 40 + 140 e^{-3} = 47.0 (Euler: 46.8)
    report = (tmp_path / "report.md").read_text()
    # Euler's exact discrete solution: 70 + 110 (1 - 0.125/10)^240 = 75.37 and
    # 40 + 140 (1 - 0.0125)^240 = 46.84 (240 steps of dt = 0.125)
    assert "| Teacup Temperature | 180 | 75.37 | 180 | 46.84 |" in report
    assert not [n for n in names if n.endswith(".tmp")]
