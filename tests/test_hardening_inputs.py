"""Bad inputs found beyond issue 13's list (by hand and by benchmarks/fuzz.py), each now one
clear sdmodels error or warning."""
import textwrap
import warnings

import pytest
from click.testing import CliRunner

from sdmodels.cli import main
from sdmodels.errors import ImportModelError, ModelError, ModelWarning, SDModelsError
from sdmodels.interop import import_model
from sdmodels.ir import build
from sdmodels.sources import load_model
from sdmodels.sweep.design import SweepError, load_sweep

CONTROL = "INITIAL TIME = 0 ~ ~ |\nFINAL TIME = 4 ~ ~ |\nTIME STEP = 1 ~ ~ |\n"
XMILE = ('<xmile xmlns="http://docs.oasis-open.org/xmile/ns/XMILE/v1.0"><sim_specs><start>0'
         '</start><stop>1</stop><dt>1</dt></sim_specs><model><variables>{}</variables></model>'
         '</xmile>')


def _file(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text) if isinstance(text, str) else path.write_bytes(text)
    return path


@pytest.mark.parametrize("name, text, error, message", [
    ("arity.mdl", "{UTF-8}\nv = MAX() ~ ~ |\n" + CONTROL, ModelError,
     "variable 'v': MAX takes 2 arguments, got 0"),            # found by benchmarks/fuzz.py
    ("utf16.mdl", ("{UTF-8}\nx = 1 ~ ~ |\n" + CONTROL).encode("utf-16"), ImportModelError,
     "UTF-16 text; .* save it again as UTF-8"),
    ("back.mdl", "{UTF-8}\nD: (e5-e1) ~ ~ |\nx[D] = 1 ~ ~ |\n" + CONTROL, ImportModelError,
     r"range \(e5-e1\) runs backwards; write \(e1-e5\)"),
    ("deep.mdl", "{UTF-8}\na = " + "(" * 500 + "1" + ")" * 500 + " ~ ~ |\n" + CONTROL,
     ImportModelError, r"deep.mdl:2:\d+: expression nested more than 200 levels deep.*"
     r"\(variable 'a'\)"),
    ("dup.xmile", XMILE.format('<aux name="a"><eqn>1</eqn></aux><aux name="A"><eqn>2</eqn>'
                               '</aux>'), ImportModelError, "defines 'A' twice"),
    ("noname.xmile", XMILE.format('<aux><eqn>1</eqn></aux>'), ImportModelError,
     "a <aux> in the main model has no name"),                 # found by benchmarks/fuzz.py
    ("emptydim.xmile", XMILE.replace("<model>", '<dimensions><dim name="D" size=""/>'
                                     "</dimensions><model>").format(""),
     ImportModelError, "dimension 'D' has no elements"),       # found by benchmarks/fuzz.py
    ("dupdim.xmile", XMILE.replace("<model>", '<dimensions><dim name="D"><elem name="a"/>'
                                   '<elem name="a"/></dim></dimensions><model>').format(""),
     ImportModelError, "dimension 'D' lists a twice"),
    ("nospecs.xmile", XMILE.replace("<sim_specs><start>0</start><stop>1</stop><dt>1</dt>"
                                    "</sim_specs>", "").format('<aux name="a"><eqn>1</eqn>'
                                                               '</aux>'),
     ImportModelError, r"no <sim_specs>"),
    ("rdt.xmile", XMILE.replace("<dt>1</dt>", '<dt reciprocal="true">0</dt>').format(
        '<aux name="a"><eqn>1</eqn></aux>'), ImportModelError, "needs dt > 0"),
])
def test_bad_model_files(tmp_path, name, text, error, message):
    path = _file(tmp_path, name, text)
    with pytest.raises(error, match=message):
        build(import_model(path))


def test_stray_pipe_in_a_comment_is_one_clear_error(tmp_path):
    """A '|' ends a Vensim equation, even inside its comment: the text after it up to the next
    '|' reads as a variable with no equation (Vensim's data variable). sdmodels' reader keeps
    the control section (pysd's lost it) and names that variable, with the fix."""
    path = _file(tmp_path, "pipe.mdl", "{UTF-8}\na = 1 ~ ~ a doc with | a pipe |\n" + CONTROL)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ModelWarning)       # no "no INITIAL TIME" any more
        with pytest.raises(ImportModelError, match=r"pipe\.mdl:2: variable 'a pipe' uses DATA: "
                           r"the variable has no equation"):
            import_model(path)
    fixed = _file(tmp_path, "nopipe.mdl", "{UTF-8}\na = 1 ~ ~ a doc without a pipe |\n" + CONTROL)
    ir = build(import_model(fixed))
    assert (ir.start, ir.stop, ir.dt) == (0, 4, 1)


@pytest.mark.parametrize("code, message", [
    ("def build(:\n", r"bad\.py, line 1: invalid syntax"),
    ("def build(**o):\n    return 1 / 0\n", r"bad\.py, line 2: build\(\) raised "
                                               r"ZeroDivisionError: division by zero"),
    ("import nosuchmodule_xyz\n", r"bad\.py, line 1: build\(\) raised ModuleNotFoundError"),
])
def test_errors_in_a_users_py_model_are_one_line(tmp_path, code, message):
    with pytest.raises(ModelError, match=message):
        load_model(str(_file(tmp_path, "bad.py", code)))


@pytest.mark.parametrize("name, data, message", [
    ("binary.toml", bytes(range(128, 256)) * 3, "is not UTF-8 text"),
    ("list.yaml", "- 1\n- 2\n", "must hold a table of settings"),
    ("types.toml", 'model = 5\nchunk_size = "big"\n[vary]\nx = true\n[labels]\ntolerance = "x"\n',
     r"3 problems: .*labels\.tolerance.*cannot read True.*chunk_size is 'big'"),
    ("samples.toml", 'model = "teacup"\n[design]\nsamples = 1e12\n[vary]\n'
                     '"Room Temperature" = "uniform(1,2)"\n', "1,000,000,000,000 runs"),
])
def test_bad_sweep_files(tmp_path, name, data, message):
    with pytest.raises(SweepError, match=message):
        load_sweep(_file(tmp_path, name, data))


def test_loops_with_an_unknown_scenario_is_one_line():
    result = CliRunner().invoke(main, ["loops", "teacup", "--scenario", "hot rom"])
    assert result.exit_code == 2
    assert result.output.strip() == ("Error: model 'teacup' has no scenario 'hot rom'; it has: "
                                     "baseline, cold room. Did you mean 'cold room'?")


def test_output_through_a_symlink_replaces_the_link_not_its_target(tmp_path):
    target = _file(tmp_path, "precious.txt", "keep me\n")
    (tmp_path / "out.csv").symlink_to(target)
    assert CliRunner().invoke(main, ["run", "teacup", "-o", str(tmp_path / "out.csv")]
                              ).exit_code == 0
    assert target.read_text() == "keep me\n"
    assert not (tmp_path / "out.csv").is_symlink()


def test_external_entities_and_xinclude_are_not_followed(tmp_path):
    xxe = _file(tmp_path, "xxe.xmile", '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM '
                '"file:///etc/passwd">]>' + XMILE.format('<aux name="a"><eqn>&e;</eqn></aux>'))
    with pytest.raises(SDModelsError, match="EntitiesForbidden"):
        import_model(xxe)
    inc = _file(tmp_path, "inc.xmile", XMILE.format(
        '<aux name="a"><eqn>1</eqn></aux><xi:include xmlns:xi="http://www.w3.org/2001/XInclude"'
        ' href="/etc/passwd" parse="text"/>'))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = import_model(inc)
    assert sorted(model.elements) == ["a"]
