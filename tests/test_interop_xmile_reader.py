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


STELLA_HEAD = HEAD.replace("<sim_specs>", "<header><vendor>isee systems, inc.</vendor>"
                           "<product>Stella Architect</product></header>\n<sim_specs>", 1)
TRANSFER = """<model><variables>
  <stock name="A"><eqn>5</eqn><outflow>F</outflow><outflow>G</outflow><non_negative/></stock>
  <stock name="B"><eqn>0</eqn><inflow>F</inflow></stock>
  <stock name="C"><eqn>0</eqn><inflow>G</inflow></stock>
  <flow name="F"><eqn>3</eqn></flow>
  <flow name="G"><eqn>4</eqn></flow>
</variables></model>"""


def test_stella_non_negative_stock_cuts_back_its_outflows_in_order(tmp_path):
    # A holds 5: F (first) takes its 3, G only the 2 left; then both get 0. B + C + A = 5.
    out = run(import_model(_write(tmp_path, TRANSFER, head=STELLA_HEAD)))
    assert out["A"].tolist() == [5, 0, 0, 0, 0]
    assert out["B"].iloc[-1] == 3 and out["C"].iloc[-1] == 2
    assert out["F"].tolist() == [3, 0, 0, 0, 0] and out["G"].tolist() == [2, 0, 0, 0, 0]


def test_other_vendors_non_negative_stock_is_held_at_zero(tmp_path):
    # pysd / sdCloud semantics (the suite's non_negative_all): the stock is clamped, the
    # flows stay as written
    out = run(import_model(_write(tmp_path, TRANSFER)))
    assert out["A"].tolist() == [5, 0, 0, 0, 0]
    assert out["B"].iloc[-1] == 12 and out["C"].iloc[-1] == 16


def test_export_keeps_which_non_negative_rule_a_stock_follows(tmp_path):
    from sdmodels import Model
    from sdmodels.interop import to_xmile
    m = Model("rules", stop=3, dt=1)
    a = m.stock("A", 5, non_negative=True, limit_outflows=True)
    held = m.stock("Held", 5, non_negative=True)
    m.flow("F", 4, out_of=a, into=m.stock("B", 0))
    m.flow("G", 4, out_of=held, into=m.stock("C", 0))
    path = tmp_path / "rules.xmile"
    path.write_text(to_xmile(m))
    back = run(import_model(path))
    assert back["B"].tolist() == [0, 4, 5, 5]        # cut back: 4, then the 1 left, then 0
    assert back["C"].tolist() == [0, 4, 8, 12]       # held at 0, the flow as written
    assert back[["A", "B", "Held", "C"]].equals(run(m)[["A", "B", "Held", "C"]])


def test_previous_size_modulo_and_npv(tmp_path):
    # XMILE 1.0 (3.5.6): PREVIOUS(x, init) is x one DT ago (init at the start), SELF the
    # variable itself; SIZE counts elements; MODULO (Vensim's, kept by xmutil) is the remainder;
    # NPV (Vensim's too, fn_npv.html) with stream 1, rate 0.1, DT 1: sum of 1.1^-k so far
    path = _write(tmp_path, DIMS + """<model><variables>
        <aux name="lag"><eqn>PREVIOUS(TIME * 2, -1)</eqn></aux>
        <aux name="count"><eqn>PREVIOUS(SELF, 0) + 1</eqn></aux>
        <aux name="v"><dimensions><dim name="k"/></dimensions><eqn>1</eqn></aux>
        <aux name="n"><eqn>SIZE(k) * 10 + SIZE(v)</eqn></aux>
        <aux name="r"><eqn>MODULO(TIME + 5, 3)</eqn></aux>
        <aux name="pv"><eqn>NPV(1, 0.1, 0, 1)</eqn></aux>
        </variables></model>""")
    out = run(import_model(path))
    assert out["lag"].tolist() == [-1, 0, 2, 4, 6]
    assert out["count"].tolist() == [1, 2, 3, 4, 5]
    assert out["n"].iloc[0] == 22
    assert out["r"].tolist() == [2, 0, 1, 2, 0]
    assert out["pv"].tolist() == pytest.approx([sum(1.1 ** -j for j in range(k + 1))
                                                for k in range(5)])


def test_reduction_over_a_subrange_as_xmutil_writes_it(tmp_path):
    # xmutil writes Vensim's SUM(x[SubA!]) as SUM(x[*:SubA]), SubA declared as a dimension
    dims = DIMS.replace("</dimensions>", '<dim name="s"><elem name="b"/><elem name="c"/></dim>'
                        "</dimensions>").replace('<elem name="b"/></dim>',
                                                 '<elem name="b"/><elem name="c"/></dim>', 1)
    path = _write(tmp_path, dims + """<model><variables>
        <aux name="x"><dimensions><dim name="k"/></dimensions><eqn>1, 2, 4</eqn></aux>
        <aux name="total"><eqn>SUM(x[*:s]) + 100 * MAX(x[*:s] * 2)</eqn></aux>
        </variables></model>""")
    assert run(import_model(path))["total"].iloc[0] == 6 + 100 * 8


def test_vensim_arrays_as_xmutil_writes_them(tmp_path):
    # per-element graphical functions read by LOOKUP(c[k], x); a dimension name as a number
    # (the element's position, as Vensim reads it); a subrange naming the element of a variable
    # over its parent; LOOKUP_FORWARD / _BACKWARD (fn_lookup_forward.html) on a table
    gf = '<element subscript="{e}"><eqn>0+0</eqn><gf><xpts>0,1</xpts><ypts>{y}</ypts></gf>' \
         '</element>'
    dims = DIMS.replace("</dimensions>", '<dim name="s"><elem name="b"/></dim></dimensions>')
    path = _write(tmp_path, dims + """<model><variables>
        <aux name="c"><dimensions><dim name="k"/></dimensions>""" +
                  gf.format(e="a", y="10,20") + gf.format(e="b", y="20,40") + """</aux>
        <aux name="e"><dimensions><dim name="k"/></dimensions>
            <eqn>LOOKUP(c[k], 0.5) + 1000 * k</eqn></aux>
        <aux name="x"><dimensions><dim name="k"/></dimensions><eqn>7, 9</eqn></aux>
        <aux name="y"><dimensions><dim name="s"/></dimensions><eqn>x[s]</eqn></aux>
        <aux name="t"><eqn>0+0</eqn><gf><xpts>0,1,2</xpts><ypts>1,2,5</ypts></gf></aux>
        <aux name="fwd"><eqn>LOOKUP_FORWARD(t, 0.5)</eqn></aux>
        <aux name="back"><eqn>LOOKUP_BACKWARD(t, 1.5)</eqn></aux>
        </variables></model>""")
    row = run(import_model(path)).iloc[0]
    assert [row["e[a]"], row["e[b]"]] == [1015, 2030]
    assert row["y[b]"] == 9
    assert [row["fwd"], row["back"]] == [2, 2]
