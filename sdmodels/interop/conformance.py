"""The external conformance suite (SDXorg test-models): find cases, read outputs, compare.

Comparison rule (the suite's README, as in PySD's integration tests): for every column of
the canonical output that names a model variable, |expected - actual| <= 1e-5 + 1e-5*|actual|
at every saved time. Used by tests/test_conformance.py and benchmarks/conformance.py.

>>> classify_text("x[a] = 1", ".mdl")
'subscripts'
>>> close_enough(1.0, 1.0 + 5e-6)
True
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

MODEL_SUFFIXES = (".mdl", ".xmile", ".stmx")
TIERS = ("scalar core", "subscripts", "macros", "external data")
ATOL = RTOL = 1e-5
# The README's looser tolerance for this folder: pysd's own integration test
# (tests/pytest_integration/pytest_integration_vensim_pathway.py) gives it rtol 2e-2.
LOOSE = {"allocate_available": 2e-2}
DATA_FILES = {"data_from_other_model": ("data.tab",)}   # run-time data, as pysd's tests
CONTROL_COLUMNS = {"initial_time", "final_time", "time_step", "saveper", "dt", "time"}


@dataclass(frozen=True)
class Case:
    """One model file with the canonical output of its folder."""
    model: Path
    output: Path
    root: Path

    @property
    def name(self) -> str:
        return str(self.model.relative_to(self.root))

    @property
    def format(self) -> str:
        return self.model.suffix.lower()

    @property
    def tier(self) -> str:
        return classify_text(self.model.read_text(encoding="utf-8", errors="replace"),
                             self.format)

    @property
    def data_files(self) -> tuple[str, ...]:
        return DATA_FILES.get(self.model.parent.name, ())

    @property
    def tolerance(self) -> float:
        return LOOSE.get(self.model.parent.name, RTOL)


def shared_root() -> Path:
    """The read-only ../shared folder beside the repository (test-models, large-models,
    sdeverywhere-models), or $SDMODELS_SHARED; the first that exists, else ../shared."""
    import os
    here = Path(__file__).resolve().parents[2].parent / "shared"
    env = os.environ.get("SDMODELS_SHARED")
    candidates = ([Path(env)] if env else []) + [here, Path("/work/shared")]
    return next((c for c in candidates if c.is_dir()), here)


def suite_root() -> Path | None:
    """../shared/test-models relative to the repo, or $SDMODELS_TEST_MODELS; None if absent."""
    import os
    env = os.environ.get("SDMODELS_TEST_MODELS")
    candidates = ([Path(env)] if env else []) + [shared_root() / "test-models"]
    for c in candidates:
        if (c / "tests").is_dir():
            return c
    return None


def cases(root: Path) -> list[Case]:
    """Every model file in a folder that has a canonical output (output.csv / output.tab)."""
    out = []
    for folder in sorted({p.parent for p in root.rglob("output.*")}):
        outputs = [p for p in (folder / "output.csv", folder / "output.tab") if p.exists()]
        if not outputs:
            continue
        for model in sorted(folder.iterdir()):
            if model.suffix.lower() in MODEL_SUFFIXES and model.is_file() and \
                    model.name != "model_to_generate_data.mdl":
                out.append(Case(model, outputs[0], root))
    return out


def classify_text(text: str, suffix: str) -> str:
    """Tier of a model from its text: macros, external data, subscripts or scalar core."""
    suffix = suffix.lower()
    if suffix == ".mdl":
        if re.search(r":MACRO:", text, re.I):
            return "macros"
        if re.search(r"GET[ _](XLS|DIRECT|DATA|123|VDF)|:=|\bTIME\s+SERIES|\(\s*['\"]?[\w ]*\.(xlsx?|csv|tab)", text, re.I):
            return "external data"
        body = text.split("\\\\\\---///")[0]
        for chunk in body.split("|"):
            head = chunk.split("~")[0]
            lhs = re.split(r"=|\bINTEG\b", head, maxsplit=1)[0]
            if "[" in lhs or re.match(r"\s*[^=()\[\]]+:(?!=)", head) and "=" not in head.split(":")[0]:
                if not re.match(r"\s*(\{UTF-8\})?\s*:", head):
                    return "subscripts"
        return "scalar core"
    if re.search(r"<macro\b", text, re.I):
        return "macros"
    if re.search(r"<dim\b", text, re.I):
        return "subscripts"
    return "scalar core"


def load_output(path: Path, *, time_label: str | None = "time") -> pd.DataFrame:
    """A canonical output as a DataFrame indexed by time (float).

    The first column must be named `time_label` (any name when None: Stella's own exports
    name it after the time unit, 'Months')."""
    sep = "\t" if path.suffix.lower() == ".tab" else ","
    frame = pd.read_csv(path, sep=sep, encoding="latin-1", engine="python")
    first = str(frame.columns[0]).strip().strip('"').lower()
    if time_label is not None and first != time_label:
        raise ValueError(f"{path}: first column is {frame.columns[0]!r}, not Time")
    if not _numeric(frame.columns[1:]) or len(frame.columns) < 2:
        frame = frame.set_index(frame.columns[0])
    else:   # transposed: one row per variable
        frame = frame.set_index(frame.columns[0]).T
        frame.index.name = "Time"
    frame.index = pd.to_numeric(frame.index, errors="coerce")
    frame = frame[~np.isnan(frame.index.to_numpy(dtype=float))]
    return frame.apply(pd.to_numeric, errors="coerce")


def _numeric(labels) -> bool:
    try:
        [float(x) for x in labels]
        return True
    except (TypeError, ValueError):
        return False


def column_key(label: str) -> str:
    """Normalise 'Stock A[Entry 1, Col 2]' and 'stock_a[entry_1,col_2]' to one key."""
    label = str(label).strip().strip('"')
    name, _, rest = label.partition("[")
    key = re.sub(r"[\s_\"]+", "_", name.strip().lower()).strip("_")
    if rest:
        elems = [re.sub(r"[\s_\"]+", "_", e.strip().lower()) for e in rest.rstrip("]").split(",")]
        key += "[" + ",".join(elems) + "]"
    return key


def close_enough(expected, actual, tol: float = RTOL) -> bool:
    """The suite's rule for one value (or arrays, all of them)."""
    expected, actual = np.asarray(expected, float), np.asarray(actual, float)
    return bool(np.all(np.abs(expected - actual) <= tol + tol * np.abs(actual)))


@dataclass
class Outcome:
    """What happened to one case: 'pass', 'fail' or 'unsupported', with the details."""
    status: str
    max_rel: float = float("nan")
    detail: str = ""
    seconds: float = 0.0


def compare(expected: pd.DataFrame, actual: pd.DataFrame, *, known: set[str],
            tol: float = RTOL, atol: float = ATOL) -> Outcome:
    """Compare every expected column that names a known variable; times matched by value.

    `known` holds column_key() of the model's variables (with and without subscripts);
    `tol` is the relative tolerance, `atol` the absolute one.
    """
    ours = {column_key(c): c for c in actual.columns}
    a_times = actual.index.to_numpy(dtype=float)
    worst, why, checked = 0.0, "", 0
    for col in expected.columns:
        key = column_key(col)
        base = key.split("[")[0]
        if base in CONTROL_COLUMNS or (key not in known and base not in known):
            continue
        if key not in ours:
            return Outcome("fail", float("inf"), f"no output for column {col!r}")
        exp = expected[col].to_numpy(dtype=float)
        e_times = expected.index.to_numpy(dtype=float)
        pos = np.searchsorted(a_times, e_times - 1e-6 * np.maximum(1, np.abs(e_times)))
        ok_t = (pos < len(a_times))
        pos = np.minimum(pos, len(a_times) - 1)
        match = ok_t & (np.abs(a_times[pos] - e_times) <= 1e-4 * np.maximum(1, np.abs(e_times)))
        act = actual[ours[key]].to_numpy(dtype=float)[pos]
        keep = match & ~np.isnan(exp)
        if not keep.any():
            continue
        checked += 1
        diff = np.abs(exp[keep] - act[keep])
        rel = diff / (1 + np.abs(act[keep]))
        bad = diff > atol + tol * np.abs(act[keep])
        bad |= np.isnan(act[keep])
        if rel.size and np.nanmax(rel) > worst:
            worst = float(np.nanmax(rel))
        if bad.any() and not why:
            i = int(np.flatnonzero(bad)[0])
            why = (f"{col!r} at t={e_times[keep][i]:g}: expected {exp[keep][i]:.8g}, "
                   f"got {act[keep][i]:.8g}")
    if checked == 0:
        return Outcome("fail", float("nan"), "no canonical column matched a model variable")
    return Outcome("fail" if why else "pass", worst, why)
