"""Our XMILE reader on hostile and damaged files: entities are refused, a file that is not
well-formed is read in recovery mode with a warning naming the fault, and Vensim-written
arrays given as one list are read element by element."""
import shutil
import warnings

import pytest
from click.testing import CliRunner

from sdmodels import run
from sdmodels.cli import main
from sdmodels.errors import ImportModelError, ModelWarning
from sdmodels.interop import import_model
from sdmodels.interop.conformance import suite_root

HEAD = """<?xml version="1.0" encoding="utf-8"?>
<xmile version="1.0" xmlns="http://docs.oasis-open.org/xmile/ns/XMILE/v1.0">
<sim_specs><start>0</start><stop>4</stop><dt>1</dt></sim_specs>
"""
DIMS = '<dimensions><dim name="k"><elem name="a"/><elem name="b"/></dim></dimensions>'


def _write(tmp_path, body, name="m.xmile", head=HEAD):
    path = tmp_path / name
    path.write_text(head + body + "\n</xmile>\n")
    return path


def test_entity_expansion_is_refused_and_nothing_is_written(tmp_path):
    bomb = HEAD.replace("<xmile", '<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;">]>'
                        "\n<xmile", 1)
    path = _write(tmp_path, '<model><variables><aux name="x"><eqn>1</eqn><doc>&b;</doc>'
                  "</aux></variables></model>", head=bomb)
    with pytest.raises(ImportModelError, match="m.xmile: not a readable XMILE file"):
        import_model(path)
    out = tmp_path / "out.csv"
    result = CliRunner().invoke(main, ["run", str(path), "-o", str(out)])
    assert result.exit_code == 2 and not out.exists()
    assert list(tmp_path.iterdir()) == [path]


def test_malformed_file_with_an_entity_is_not_recovered(tmp_path):
    bomb = HEAD.replace("<xmile", '<!DOCTYPE x [<!ENTITY a "1">]>\n<xmile', 1)
    path = _write(tmp_path, '<model><variables><aux name="x"><eqn>&a;</eqn>'
                  "</variables></model>", head=bomb)
    with pytest.raises(ImportModelError, match="not a readable XMILE file"):
        import_model(path)


def test_unclosed_flow_is_recovered_with_a_warning(tmp_path):
    # the <flow> is never closed, so the stock after it sits inside it; recovery moves it back
    path = _write(tmp_path, """<model><variables>
      <flow name="inflow"><eqn>2</eqn>
      <stock name="Level"><inflow>inflow</inflow><eqn>10</eqn></stock>
    </variables></model>""")
    with pytest.warns(ModelWarning, match=r"m.xmile: not well-formed XML \(mismatched tag: "
                                          r"line \d+.*recovery mode"):
        model = import_model(path)
    assert run(model)["Level"].tolist() == [10, 12, 14, 16, 18]


@pytest.mark.skipif(suite_root() is None, reason="../shared/test-models is not present")
def test_suite_file_with_an_unclosed_flow_reads_as_pysd_reads_it(tmp_path):
    src = suite_root() / "tests/non_negative_flows/test_non_negative_flows.xmile"
    path = tmp_path / src.name
    shutil.copy(src, path)
    with pytest.warns(ModelWarning, match="line 45"):
        out = run(import_model(path))
    # TestStock3 takes if_else3 = -Time until t = 10 (non_negative FALSE): 10 - sum(0..k-1)
    assert out["TestStock3"].iloc[4] == pytest.approx(10 - (0 + 1 + 2 + 3))
    assert out["TestStock2"].iloc[4] == pytest.approx(10.0)   # non-negative: clamped at 0


def test_array_given_as_one_list_and_commas_inside_calls(tmp_path):
    path = _write(tmp_path, DIMS + """<model><variables>
      <aux name="v"><dimensions><dim name="k"/></dimensions><eqn>1, 2</eqn></aux>
      <aux name="w"><dimensions><dim name="k"/></dimensions><eqn>MAX(v[k], 1.5)</eqn></aux>
      <aux name="top"><eqn>MAX(w[k])</eqn></aux>
    </variables></model>""")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = run(import_model(path))
    assert out["v[a]"].iloc[0] == 1 and out["v[b]"].iloc[0] == 2
    assert out["w[a]"].iloc[0] == 1.5 and out["w[b]"].iloc[0] == 2
    assert out["top"].iloc[0] == 2
