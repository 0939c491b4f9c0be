"""Bad inputs of issue 13 at the command line: one line saying what, where and how to fix,
exit code 2, nothing half-written; output files with the user's umask; warnings without the
library's source lines."""
import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from sdmodels.cli import main

XMILE = """<?xml version="1.0" encoding="utf-8"?>
<xmile version="1.0" xmlns="http://docs.oasis-open.org/xmile/ns/XMILE/v1.0">
  <header><name>m</name></header>
  <sim_specs><start>0</start><stop>{stop}</stop><dt>{dt}</dt></sim_specs>
  <model><variables>
    <stock name="s"><eqn>1</eqn><inflow>f</inflow></stock>
    <flow name="f"><eqn>g</eqn></flow>
    <aux name="g"><eqn>TIME</eqn><gf><xscale min="0" max="1"/><ypts>{ypts}</ypts></gf></aux>
  </variables></model>
</xmile>
"""


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def one_line_error(result, *needles):
    """Exit code 2, one line starting with Error: that holds every needle, no traceback."""
    lines = [line for line in result.output.strip().splitlines() if line.strip()]
    assert result.exit_code == 2, result.output
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    assert "Traceback" not in result.output
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize("stop, dt, ypts, needles", [
    ("1e300", "1", "0,1", ["1e+300 time steps", "--max-time-steps"]),
    ("soon", "1", "0,1", ["<stop> is 'soon', not a number"]),
    ("10", "fast", "0,1", ["<dt> is 'fast', not a number"]),
    ("10", "1", "0,one", ["a point of the graphical function of 'g'", "'one'"]),
    ("10", "0", "0,1", ["needs dt > 0"]),
    ("inf", "1", "0,1", ["must be a finite number"]),
])
def test_bad_xmile_numbers(tmp_path, stop, dt, ypts, needles):
    path = tmp_path / "m.xmile"
    path.write_text(XMILE.format(stop=stop, dt=dt, ypts=ypts))
    line = one_line_error(invoke("run", path), *needles)
    assert "m.xmile" in line


def test_binary_garbage_as_mdl(tmp_path):
    path = tmp_path / "garbage.mdl"
    path.write_bytes(bytes(range(256)) * 40)
    one_line_error(invoke("run", path), "garbage.mdl", "not a Vensim text model",
                   "binary data")


@pytest.mark.parametrize("where", ["/proc/sdm-test/out", "/sys/sdm-test/out", "FILE/out"])
@pytest.mark.parametrize("command", ["run", "diagram", "sweep", "loops", "export"])
def test_unwritable_output(tmp_path, where, command):
    blocker = tmp_path / "FILE"
    blocker.write_text("a file, not a folder")
    target = where.replace("FILE", str(blocker))
    args = {"run": ["run", "teacup", "-o", target + ".csv"],
            "diagram": ["diagram", "teacup", "--no-behaviour", "-o", target + ".dot"],
            "sweep": ["sweep", "teacup", "--vary", "Room Temperature=60,70", "--no-progress",
                      "-o", target],
            "loops": ["loops", "teacup", "--no-behaviour", "-o", target + ".txt"],
            "export": ["export", "teacup", "-o", target + ".xmile"]}[command]
    one_line_error(invoke(*args), "cannot write", "you can write to")
    assert blocker.read_text() == "a file, not a folder"


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into a read-only folder")
def test_read_only_folder(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        one_line_error(invoke("run", "teacup", "-o", folder / "x.csv"), "Permission denied")
        assert not list(folder.iterdir())
    finally:
        folder.chmod(0o755)


@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_output_files_respect_the_umask(tmp_path, mask, mode):
    old = os.umask(mask)
    try:
        assert invoke("run", "teacup", "-o", tmp_path / "t.csv").exit_code == 0
        assert invoke("diagram", "teacup", "--no-behaviour", "-o", tmp_path / "t.dot"
                      ).exit_code == 0
    finally:
        os.umask(old)
    for name in ("t.csv", "t.dot"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == mode


def test_warnings_are_one_plain_line_without_source(tmp_path):
    path = tmp_path / "nocontrol.mdl"
    path.write_text("{UTF-8}\nStock = INTEG(1, 0) ~ widgets ~ |\n")
    result = invoke("run", path, "--stop", "2")
    assert result.exit_code == 0, result.output
    warning = [line for line in result.output.splitlines() if line.startswith("Warning: ")]
    assert len(warning) == 1 and "nocontrol.mdl" in warning[0]
    assert "INITIAL TIME, FINAL TIME, TIME STEP" in warning[0]
    assert "sdmodels/" not in result.output and "warnings.warn" not in result.output
    assert "ModelWarning" not in result.output


def test_warnings_keep_python_format_outside_the_cli(tmp_path):
    """Installed by the CLI only: importing sdmodels leaves warnings.showwarning alone."""
    import warnings

    import sdmodels  # noqa: F401
    assert warnings.showwarning.__module__ == "warnings"
    invoke("list")
    assert warnings.showwarning.__module__ == "warnings"
