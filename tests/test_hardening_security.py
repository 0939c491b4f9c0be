"""Security holes of issue 13: external data outside the model's folder, code run from the
kernel cache, numba's cache in the package, CSV formula injection.

Every test uses real files (a real secret, /etc/passwd, real symlinks, a real cache file
with code appended) and the real readers; nothing is mocked.
"""
import os
import stat
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from sdmodels import Model, simulate
from sdmodels.cli import main
from sdmodels.errors import CacheWarning, ImportModelError
from sdmodels.files import csv_safe, neutralise
from sdmodels.interop import import_model
from sdmodels.ir import build

ROOT = Path(__file__).resolve().parent.parent
CONTROL = "INITIAL TIME = 0 ~ ~ |\nFINAL TIME = 2 ~ ~ |\nTIME STEP = 1 ~ ~ |\nSAVEPER = 1 ~ ~ |\n"


def _model(folder: Path, ref: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "m.mdl"
    path.write_text(f"{{UTF-8}}\nk = GET DIRECT CONSTANTS('{ref}', ',', 'B1') ~ ~ |\n" + CONTROL)
    return path


@pytest.fixture
def secret(tmp_path):
    """A file with a number in B1 in a folder beside the model's, like ~/secrets/key.csv."""
    folder = tmp_path / "secrets"
    folder.mkdir()
    (folder / "key.csv").write_text("pin,4711\n")
    return folder / "key.csv"


def test_absolute_path_outside_the_model_folder_is_refused(tmp_path, secret):
    path = _model(tmp_path / "models", str(secret))
    with pytest.raises(ImportModelError) as info:
        import_model(path)
    message = str(info.value)
    assert "outside the model's folder" in message and "4711" not in message
    assert f"--allow-data-dir {secret.parent}" in message
    assert "data_dirs=" in message and "absolute path" not in message


def test_etc_passwd_is_refused(tmp_path):
    with pytest.raises(ImportModelError, match="outside the model's folder"):
        import_model(_model(tmp_path, "/etc/passwd"))


def test_dotdot_and_symlinks_out_of_the_folder_are_refused(tmp_path, secret):
    with pytest.raises(ImportModelError, match="outside"):
        import_model(_model(tmp_path / "models", "../secrets/key.csv"))
    models = tmp_path / "linked"
    models.mkdir()
    (models / "key.csv").symlink_to(secret)              # a file link inside the folder
    with pytest.raises(ImportModelError, match="outside"):
        import_model(_model(models, "key.csv"))
    (models / "data").symlink_to(secret.parent)         # a folder link inside the folder
    with pytest.raises(ImportModelError, match="outside"):
        import_model(_model(models / "sub", "../data/key.csv"))


def test_an_allowed_folder_is_read(tmp_path, secret):
    path = _model(tmp_path / "models", str(secret))
    frame = simulate(build(import_model(path, data_dirs=[secret.parent]))).to_pandas()
    assert frame["k"].iloc[0] == 4711.0
    inside = _model(tmp_path / "own", "data/k.csv")      # the model's own subfolder: allowed
    (inside.parent / "data").mkdir()
    (inside.parent / "data" / "k.csv").write_text("k,3\n")
    assert simulate(build(import_model(inside))).to_pandas()["k"].iloc[0] == 3.0


def test_cli_allow_data_dir(tmp_path, secret):
    path = _model(tmp_path / "models", str(secret))
    refused = CliRunner().invoke(main, ["run", str(path)])
    assert refused.exit_code == 2 and "--allow-data-dir" in refused.output
    allowed = CliRunner().invoke(main, ["run", str(path), "--allow-data-dir",
                                        str(secret.parent)])
    assert allowed.exit_code == 0, allowed.output
    assert "SDMODELS_ALLOW_DATA_DIRS" not in os.environ      # restored after the command


# --------------------------------------------------------------------------- kernel cache
def _fresh_process(cache: Path, code: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, SDMODELS_CACHE_DIR=str(cache), PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=600)


RUN_TEACUP = ("import warnings; warnings.simplefilter('always');"
              "from sdmodels.sources import load_model; from sdmodels import simulate;"
              "print(simulate(load_model('teacup'), engine='compiled').to_pandas().iloc[-1, 0])")


def test_code_appended_to_a_cached_kernel_never_runs(tmp_path):
    cache = tmp_path / "cache"
    first = _fresh_process(cache, RUN_TEACUP)
    assert first.returncode == 0, first.stderr
    kernels = sorted((cache / "kernels").glob("k_*.py"))
    assert kernels
    marker = tmp_path / "pwned"
    for k in kernels:
        with open(k, "a") as fh:
            fh.write(f"\nopen({str(marker)!r}, 'w').write('x')\n")
    second = _fresh_process(cache, RUN_TEACUP)
    assert second.returncode == 0, second.stderr
    assert not marker.exists()
    assert "CacheWarning" in second.stderr and "discarded and rebuilt" in second.stderr
    assert second.stdout == first.stdout                 # same numbers from the rebuilt kernel
    assert "pwned" not in kernels[0].read_text()         # the entry was rewritten clean


def test_cache_directory_is_private_and_an_open_one_is_not_used(tmp_path):
    from sdmodels.kernel_cache import load_kernel
    cache = tmp_path / "cache"
    os.environ["SDMODELS_CACHE_DIR"], saved = str(cache), os.environ["SDMODELS_CACHE_DIR"]
    try:
        load_kernel("VALUE = 1\n", "sdmodels_test_private")
        for d in (cache, cache / "kernels"):
            assert stat.S_IMODE(d.stat().st_mode) == 0o700
        os.chmod(cache, 0o777)
        with pytest.warns(CacheWarning, match=r"may be written by group or others.*chmod 700"):
            module = load_kernel("VALUE = 2\n", "sdmodels_test_open")
        assert module.VALUE == 2 and module.__file__.startswith("<sdmodels kernel")
        assert len(list((cache / "kernels").glob("k_*.py"))) == 1   # nothing new written
    finally:
        os.environ["SDMODELS_CACHE_DIR"] = saved


def test_a_kernel_file_is_checked_against_its_digest():
    from sdmodels.kernel_cache import digest_of, kernel_file_ok
    source = "def kernel():\n    return 1\n"
    assert kernel_file_ok(source.encode(), digest_of(source))
    assert not kernel_file_ok((source + "import os\n").encode(), digest_of(source))


def test_numba_cache_goes_to_the_sdmodels_cache_not_the_package(tmp_path):
    cache = tmp_path / "cache"
    tracked = subprocess.run(["git", "ls-files", "sdmodels"], cwd=ROOT, capture_output=True,
                             text=True).stdout.split()
    assert not [f for f in tracked if f.endswith((".nbi", ".nbc")) or "__pycache__" in f]
    before = {p: p.stat().st_mtime_ns for p in (ROOT / "sdmodels").rglob("*.nb[ic]")}
    code = ("from sdmodels._runtime import window_extreme, lookup; import numpy as np;"
            "print(lookup(0.5, np.array([0., 1.]), np.array([0., 2.]), 0, 2, False))")
    done = _fresh_process(cache, code)
    assert done.returncode == 0 and float(done.stdout) == 1.0, done.stderr
    assert list((cache / "numba").rglob("_runtime.lookup-*.nbi"))
    after = {p: p.stat().st_mtime_ns for p in (ROOT / "sdmodels").rglob("*.nb[ic]")}
    assert after == before                                  # nothing written in the package
    status = subprocess.run(["git", "status", "--porcelain", "--", "sdmodels"], cwd=ROOT,
                            capture_output=True, text=True).stdout
    assert ".nbi" not in status and ".nbc" not in status


# --------------------------------------------------------------------------- CSV injection
@pytest.mark.parametrize("text", ["=HYPERLINK(\"http://evil\",\"x\")", "+1+cmd|' /C calc'!A0",
                                  "-2+3", "@SUM(A1:A9)", "\tTAB", "\rCR"])
def test_formula_cells_are_neutralised(text):
    assert neutralise(text) == "'" + text
    frame = csv_safe(pd.DataFrame({text: [-1.5], "ok": [text]}, index=pd.Index([text])))
    assert list(frame.columns) == ["'" + text, "ok"]
    assert frame.iloc[0, 0] == -1.5 and frame.iloc[0, 1] == "'" + text
    assert frame.index[0] == "'" + text


def test_variable_named_like_a_formula_is_neutralised_in_run_csv(tmp_path):
    path = tmp_path / "evil.py"
    path.write_text(textwrap.dedent("""
        from sdmodels import Model
        def build(**overrides):
            m = Model("evil", stop=2)
            m.stock("=HYPERLINK(1)", initial=-5)
            m.stock("@cmd", initial=2)
            return m
        """))
    out = tmp_path / "out.csv"
    result = CliRunner().invoke(main, ["run", str(path), "-o", str(out)])
    assert result.exit_code == 0, result.output
    header = out.read_text().splitlines()[0]
    assert not any(cell.startswith(("=", "+", "-", "@")) for cell in header.split(","))
    frame = pd.read_csv(out, index_col=0)
    assert "'=HYPERLINK(1)" in header and "'@cmd" in header
    assert (frame["'=HYPERLINK(1)"] == -5.0).all()           # numbers untouched
