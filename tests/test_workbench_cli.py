"""`sdm workbench`: prints its URL and serves on loopback; bad models fail in one line."""
import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

from click.testing import CliRunner

from sdmodels.cli import main

ROOT = Path(__file__).resolve().parents[1]


def test_unknown_model_is_one_line_and_exit_2():
    result = CliRunner().invoke(main, ["workbench", "retry_strom"])
    assert result.exit_code == 2
    assert "Did you mean 'retry_storm'?" in result.output
    result = CliRunner().invoke(main, ["workbench", "missing.mdl"])
    assert result.exit_code == 2 and "does not exist" in result.output
    result = CliRunner().invoke(main, ["workbench", "missing.yaml"])
    assert result.exit_code == 2
    assert "system description 'missing.yaml' does not exist" in result.output


def test_non_loopback_host_warns():
    result = CliRunner().invoke(main, ["workbench", "nope", "--host", "0.0.0.0"])
    assert "not loopback" in result.output and result.exit_code == 2


def test_serves_on_loopback_and_prints_the_url():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, str(ROOT / "cli.py"), "workbench", "teacup"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stdout.readline()
        assert line.startswith("sdmodels workbench: http://127.0.0.1:"), (line, proc.stderr.read()
                                                                         if proc.poll() else "")
        url = line.split()[2]
        with urllib.request.urlopen(url + "api/models", timeout=30) as response:
            assert json.loads(response.read())["first"] == "teacup"
        with urllib.request.urlopen(url, timeout=30) as response:
            page = response.read().decode()
        assert "/static/uPlot.iife.min.js" in page and "//cdn" not in page and "https:" not in page
    finally:
        proc.terminate()
        proc.wait(timeout=20)
