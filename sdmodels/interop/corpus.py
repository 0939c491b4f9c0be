"""A folder of published models, each beside Vensim's own output of it: find and read them.

A model NAME.mdl / NAME.xmile / NAME.stmx pairs with the output of the same stem next to it:
NAME.dat (Vensim's text export: a variable-name line, then time<TAB>value lines), NAME.tab,
NAME.csv (a table with Time first, either orientation) or NAME.vdf (Vensim's binary output,
read through pysimlin's VDF reader). The corpus rule is looser than the SDXorg suite's:
|expected - actual| <= 1e-6 + 1e-3 * |actual|, as SDEverywhere's own checks compare.
Used by benchmarks/corpus.py and tests/test_corpus.py.

>>> import tempfile
>>> from pathlib import Path
>>> with tempfile.TemporaryDirectory() as d:
...     p = Path(d) / "m.dat"
...     _ = p.write_text("x\\n0\\t1\\n1\\t2\\ny[a]\\n0\\t5\\n")
...     frame = load_dat(p)
>>> frame.to_dict()
{'x': {0.0: 1.0, 1.0: 2.0}, 'y[a]': {0.0: 5.0, 1.0: nan}}
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from sdmodels.interop.conformance import Case, load_output

RTOL, ATOL = 1e-3, 1e-6
OUTPUT_SUFFIXES = (".dat", ".tab", ".csv", ".vdf")
MODEL_SUFFIXES = (".mdl", ".xmile", ".stmx")


def load_dat(path: Path) -> pd.DataFrame:
    """Vensim's .dat export as a DataFrame indexed by time, one column per variable."""
    from sdmodels.interop.vensim_data import dat_blocks
    columns: dict[str, dict[float, float]] = {}
    for head, xs, ys in dat_blocks(path):
        columns.setdefault(head, {}).update(zip(xs, ys))
    frame = pd.DataFrame(columns, dtype=float).sort_index()
    frame.index = frame.index.astype(float)
    frame.index.name = "time"
    return frame


def load_reference(path: Path) -> pd.DataFrame:
    """Any reference output the corpus knows (.dat, .tab, .csv, .vdf) as a time-indexed frame."""
    suffix = path.suffix.lower()
    if suffix == ".dat":
        return load_dat(path)
    if suffix == ".vdf":
        import simlin
        frame = simlin.load_vdf(path)
        frame.index = frame.index.astype(float)
        return frame
    return load_output(path, time_label=None)


class CorpusCase(Case):
    """A corpus model; its run-time data files are those its NAME_spec.json names
    (`externalDatfiles`, as SDEverywhere's test models list them)."""

    @property
    def data_files(self) -> tuple[str, ...]:
        import json
        spec = self.model.with_name(self.model.stem + "_spec.json")
        if not spec.is_file():
            return super().data_files
        try:
            names = json.loads(spec.read_text(encoding="utf-8")).get("externalDatfiles", [])
        except (ValueError, AttributeError):
            return super().data_files
        return tuple(str(n) for n in names if isinstance(n, str))


def corpus_cases(root: Path, *, formats=(".mdl",)) -> list[Case]:
    """Every model under `root` (of the given suffixes) with a reference output of its stem."""
    out = []
    for model in sorted(Path(root).rglob("*")):
        if model.suffix.lower() not in formats or not model.is_file():
            continue
        for suffix in OUTPUT_SUFFIXES:
            ref = model.with_suffix(suffix)
            if ref.exists():
                out.append(CorpusCase(model, ref, Path(root)))
                break
    return out


def sdeverywhere_root() -> Path | None:
    """../shared/sdeverywhere-models/models (or $SDMODELS_SDE_MODELS); None if absent."""
    import os
    env = os.environ.get("SDMODELS_SDE_MODELS")
    here = Path(__file__).resolve().parents[2]
    for c in ([Path(env)] if env else []) + [here.parent / "shared" / "sdeverywhere-models",
                                              Path("/work/shared/sdeverywhere-models")]:
        if (c / "models").is_dir():
            return c / "models"
        if c.is_dir() and env:
            return c
    return None


def finite(frame: pd.DataFrame) -> pd.DataFrame:
    """Vensim writes :NA: as a huge negative number; such cells are not compared."""
    return frame.where(np.abs(frame) < 1e30)
