"""Vensim subscript semantics: mappings, :EXCEPT:, element-level ordering, SAMPLE IF TRUE.

Expected values follow from Vensim's documented rules (cited per test) and, where the
SDEverywhere models are present, from Vensim's own output of them (NAME.dat).
"""

import pytest

from sdmodels import build, run
from sdmodels.errors import AlgebraicLoopError
from sdmodels.interop import import_model
from sdmodels.interop.corpus import load_dat, sdeverywhere_root
from tests.mdl_files import write_mdl

CONTROL = """
INITIAL TIME = 0 ~~|
FINAL TIME = 2 ~~|
TIME STEP = 1 ~~|
SAVEPER = TIME STEP ~~|
"""


def _run(tmp_path, text, name="m"):
    return run(import_model(write_mdl(tmp_path, text, CONTROL, name=f"{name}.mdl")))


def test_map_to_list_pairs_each_element_with_elements_or_subranges(tmp_path):
    # vensim.com/documentation/ref_subscript_mapping.htm: Rhsub: rh1, rh2 -> (Lhsub: lh1, lh2);
    # a map-to choice may be a subrange of the target: every element of it maps back
    out = _run(tmp_path, """
        DimA: A1, A2, A3 ~~|
        SubA: A1, A2 ~~|
        DimB: B1, B2 -> (DimA: SubA, A3) ~~|
        b[DimB] = 1, 2 ~~|
        a[DimA] = b[DimB] * 10 ~~|
        """)
    assert [out[f"a[{e}]"].iloc[0] for e in ("A1", "A2", "A3")] == [10, 10, 20]


def test_map_to_list_can_reverse_the_order_and_sit_beside_a_positional_map(tmp_path):
    out = _run(tmp_path, """
        DimA: A1, A2, A3 -> (DimB: B3, B2, B1), DimC ~~|
        DimB: B1, B2, B3 ~~|
        DimC: C1, C2, C3 ~~|
        a[DimA] = 1, 2, 3 ~~|
        b[DimB] = a[DimA] ~~|
        c[DimC] = a[DimA] ~~|
        """)
    assert [out[f"b[{e}]"].iloc[0] for e in ("B1", "B2", "B3")] == [3, 2, 1]
    assert [out[f"c[{e}]"].iloc[0] for e in ("C1", "C2", "C3")] == [1, 2, 3]


def test_except_with_a_mapped_range_on_the_right(tmp_path):
    out = _run(tmp_path, """
        DimA: A1, A2, A3 ~~|
        SubA: A2, A3 ~~|
        DimD: D1, D2 -> (DimA: SubA, A1) ~~|
        a[DimA] = 1 ~~|
        j[DimD] = 10, 20 ~~|
        k[DimA] :EXCEPT: [A1] = a[DimA] + j[DimD] ~~|
        """)
    assert [out[f"k[{e}]"].iloc[0] for e in ("A1", "A2", "A3")] == [0, 11, 11]


def test_elements_ordered_one_by_one_when_the_variables_read_each_other(tmp_path):
    out = _run(tmp_path, """
        Target: (t1-t3) ~~|
        tNext: (t2-t3) -> tPrev ~~|
        tPrev: (t1-t2) -> tNext ~~|
        ecc[t1] = ce[t1] + 1 ~~|
        ecc[tNext] = ce[tNext] + 1 ~~|
        ce[t1] = 1 ~~|
        ce[tNext] = ecc[tPrev] + 1 ~~|
        """)
    # ce = 1, 3, 5 and ecc = 2, 4, 6 along the chain t1 -> t2 -> t3
    assert [out[f"ce[t{i}]"].iloc[-1] for i in (1, 2, 3)] == [1, 3, 5]
    assert [out[f"ecc[t{i}]"].iloc[-1] for i in (1, 2, 3)] == [2, 4, 6]


def test_initial_values_chained_across_elements(tmp_path):
    out = _run(tmp_path, """
        Target: (t1-t3) ~~|
        tNext: (t2-t3) -> tPrev ~~|
        tPrev: (t1-t2) -> tNext ~~|
        ecc[t1] = 1 ~~|
        ecc[tNext] = INITIAL(ecc[tPrev] * 2) ~~|
        g[Target] = 0 ~~|
        cs[t1] = INTEG(g[t1], 1) ~~|
        cs[tNext] = INTEG(g[tNext], ecs[tPrev] + 1) ~~|
        ecs[t1] = INTEG(g[t1], cs[t1] + 1) ~~|
        ecs[tNext] = INTEG(g[tNext], cs[tNext] + 1) ~~|
        """)
    assert [out[f"ecc[t{i}]"].iloc[0] for i in (1, 2, 3)] == [1, 2, 4]
    assert [out[f"cs[t{i}]"].iloc[0] for i in (1, 2, 3)] == [1, 3, 5]
    assert [out[f"ecs[t{i}]"].iloc[0] for i in (1, 2, 3)] == [2, 4, 6]


def test_a_true_cycle_between_elements_is_still_an_algebraic_loop(tmp_path):
    path = tmp_path / "loop.mdl"
    path.write_text("{UTF-8}\nDimA: A1, A2 ~~|\nx[DimA] = y[DimA] + 1 ~~|\n"
                    "y[A1] = x[A1] ~~|\ny[A2] = 0 ~~|\n" + CONTROL)
    with pytest.raises(AlgebraicLoopError, match=r"x -> y -> x|y -> x -> y"):
        build(import_model(path))


def test_sample_if_true_reading_itself_reads_its_held_value(tmp_path):
    # vensim.com/documentation/fn_sample_if_true.html: the input when cond holds, else the
    # value it had; an input naming the variable reads that held value (no loop)
    out = _run(tmp_path, """
        counter = SAMPLE IF TRUE(MODULO(Time, 2) = 0, counter + 1, 0) ~~|
        """)
    assert out["counter"].tolist() == [1, 1, 2]


SDE = sdeverywhere_root()


@pytest.mark.skipif(SDE is None, reason="../shared/sdeverywhere-models is not present")
@pytest.mark.parametrize("model, column, expected", [
    ("except", "k[A2]", 11), ("mapping", "a[A2]", 10), ("multimap", "b[B1]", 3)])
def test_vensims_own_output_of_the_sdeverywhere_models(model, column, expected):
    dat = load_dat(SDE / model / f"{model}.dat")
    assert dat[column].iloc[0] == expected    # what Vensim printed
    out = run(import_model(SDE / model / f"{model}.mdl"))
    assert out[column].iloc[0] == pytest.approx(expected, rel=1e-9)
