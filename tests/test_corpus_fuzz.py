"""Malformed and truncated variants of published model files: the readers raise an sdmodels
error (one line on the CLI) or import, never another exception (a traceback). A few files and
variants here; benchmarks/fuzz.py --corpus runs every file of the shared corpora."""
from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import pytest

from sdmodels.errors import SDModelsError


def corpus_variants(text: str, n: int, *, seed: str):
    """(label, text): `n` malformed variants of a model file's text, the same every run for
    one seed: cut at eighths and at a line, a line dropped or doubled, a `|` or `~` removed,
    a byte flipped."""
    import random
    rng = random.Random(seed)
    lines = text.splitlines(keepends=True)
    out = [(f"cut at {k}/8", text[:len(text) * k // 8]) for k in range(1, 8)]
    while len(out) < n and text:
        kind = rng.choice(("line cut", "drop line", "double line", "drop mark", "flip"))
        if kind == "line cut":
            i = rng.randrange(len(lines))
            out.append((f"cut after line {i + 1}", "".join(lines[:i + 1])))
        elif kind in ("drop line", "double line"):
            i = rng.randrange(len(lines))
            keep = lines[:i] + ([] if kind == "drop line" else [lines[i]] * 2) + lines[i + 1:]
            out.append((f"{kind} {i + 1}", "".join(keep)))
        elif kind == "drop mark":
            marks = [j for j, c in enumerate(text) if c in "|~"]
            if marks:
                j = rng.choice(marks)
                out.append((f"drop '{text[j]}' at {j}", text[:j] + text[j + 1:]))
        else:
            j = rng.randrange(len(text))
            c = rng.choice("()[],;:=+-*/<>\"'{}!&|~ \n0a")
            out.append((f"'{c}' at {j}", text[:j] + c + text[j + 1:]))
    return out[:n]


def escapes(model: Path, text: str) -> str | None:
    """Import and build `text` as the file `model` (its folder's other files beside it):
    None, or what escaped other than an sdmodels error (the exception and where it arose)."""
    import shutil
    import traceback
    from sdmodels.interop import import_model
    from sdmodels.ir import build
    with tempfile.TemporaryDirectory() as folder:
        for sibling in model.parent.iterdir():
            if sibling.is_file() and sibling.stat().st_size < 5_000_000:
                shutil.copy(sibling, folder)
        path = Path(folder) / model.name
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                build(import_model(path))
            except SDModelsError:
                return None
            except RecursionError:
                return "RecursionError"
            except Exception as exc:   # noqa: BLE001 - what the fuzz pass is looking for
                where = traceback.extract_tb(exc.__traceback__)[-1]
                return (f"{type(exc).__name__}: {str(exc)[:120]} at "
                        f"{Path(where.filename).name}:{where.lineno}")
    return None


def test_a_stock_cut_short_of_some_of_its_elements_is_an_import_error(tmp_path):
    # found by benchmarks/fuzz.py --corpus (init_recurrence.mdl cut at 2/8): a stock defined
    # by INTEG for one element of three raised AttributeError inside the reader
    from sdmodels.errors import ImportModelError
    from sdmodels.interop import import_model
    path = tmp_path / "cut.mdl"
    path.write_text("{UTF-8}\nTarget: (t1-t3) ~~|\ng[Target] = 0 ~~|\n"
                    "cs[t1] = INTEG(g[t1], 1) ~~|\nINITIAL TIME = 0 ~~|\nFINAL TIME = 1 ~~|\n"
                    "TIME STEP = 1 ~~|\n")
    with pytest.raises(ImportModelError, match=r"'cs'.*no INTEG equation for its element "
                       r"\[t2\] \(2 of 3 left undefined\)"):
        import_model(path)


def test_an_xmile_dim_with_no_name_is_an_import_error(tmp_path):
    # found by benchmarks/fuzz.py --corpus (test_subscripted_trig.xmile, `name|"sub2"`, read in
    # recovery mode): a variable's <dim> with no name raised TypeError inside the reader
    from sdmodels.errors import ImportModelError
    from sdmodels.interop import import_model
    path = tmp_path / "m.xmile"
    path.write_text('<xmile version="1.0" xmlns="http://docs.oasis-open.org/xmile/ns/XMILE/v1.0">'
                    "<sim_specs><start>0</start><stop>1</stop><dt>1</dt></sim_specs>"
                    '<dimensions><dim name="d"><elem name="a"/></dim></dimensions>'
                    '<model><variables><aux name="x"><dimensions><dim/></dimensions>'
                    "<eqn>1</eqn></aux></variables></model></xmile>")
    with pytest.raises(ImportModelError, match=r"variable 'x': a <dim> of its <dimensions> "
                       "has no name="):
        import_model(path)


@pytest.mark.parametrize("name", ["samples/teacup/teacup.mdl",
                                  "tests/lookups/test_lookups.xmile",
                                  "tests/macro_stock/test_macro_stock.mdl"])
def test_malformed_variants_of_suite_files_never_escape(name):
    from sdmodels.interop.conformance import suite_root
    root = suite_root()
    if root is None or not (root / name).is_file():
        pytest.skip("the SDXorg suite is not present")
    path = root / name
    text = path.read_text(encoding="utf-8", errors="replace")
    found = [(label, escapes(path, variant))
             for label, variant in corpus_variants(text, 12, seed=path.name)]
    assert [f for f in found if f[1]] == []


def test_a_subscript_range_naming_an_element_twice_is_an_import_error(tmp_path):
    # found by benchmarks/fuzz.py --corpus (test_subset_duplicated_coord.mdl with a line
    # doubled): the range's elements run together, 'B' twice, and Dim's ValueError escaped
    from sdmodels.errors import ImportModelError
    from sdmodels.interop import import_model
    path = tmp_path / "twice.mdl"
    path.write_text("{UTF-8}\ndim1:\n\tA, B, C\n\tA, B\n\t~\n\t~\t|\nx[dim1] = 1 ~~|\n"
                    "INITIAL TIME = 0 ~~|\nFINAL TIME = 1 ~~|\nTIME STEP = 1 ~~|\n")
    with pytest.raises(ImportModelError, match=r"variable 'x' uses subscript range 'dim1': "
                       r"dimension 'dim1' repeats an element"):
        import_model(path)
