"""World3 (../shared/large-models/wrld3-03.mdl) in three engines: sdmodels, pysd, pysimlin.

Imports the Vensim file with our importer, runs it with our engine, and compares every common
column with pysd's run and pysimlin's run (max relative error |a-b|/(1+|b|)); prints the wall
time of each engine (import/translate and run separately, the run timed after a warm-up).

    .venv/bin/python benchmarks/world3.py
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("SDMODELS_CACHE_DIR", str(ROOT / ".venv" / "sdmodels-cache"))
MODEL = ROOT.parent / "shared" / "large-models" / "wrld3-03.mdl"
if not MODEL.exists():
    MODEL = Path("/work/shared/large-models/wrld3-03.mdl")


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def main() -> None:
    warnings.simplefilter("ignore")
    from sdmodels import build, compile, simulate
    from sdmodels.interop import import_model
    from sdmodels.interop.conformance import column_key
    from sdmodels.errors import SDModelsError
    model, t_import = timed(lambda: import_model(MODEL))
    try:
        kernel, t_compile = timed(lambda: compile(build(model)))
        simulate(kernel)
        res, t_run = timed(lambda: simulate(kernel))
        ours = res.to_pandas()
        print(f"sdmodels: import {t_import:.2f} s, build+compile {t_compile:.2f} s, "
              f"run {t_run * 1000:.1f} ms ({len(ours.columns)} columns, {len(ours)} rows)")
    except SDModelsError as exc:
        print(f"sdmodels: import {t_import:.2f} s, but the model does not build: {exc}")
        ours, t_run = None, float("nan")

    import pysd
    work = Path(tempfile.mkdtemp(prefix="sdm-world3-"))
    shutil.copy(MODEL, work / MODEL.name)     # pysd writes its translation beside the file
    pmodel, t_tr = timed(lambda: pysd.read_vensim(str(work / MODEL.name)))
    stamps = ours.index.to_numpy() if ours is not None else None
    pmodel.run(return_timestamps=stamps)
    theirs, t_prun = timed(lambda: pmodel.run(return_timestamps=stamps))
    print(f"pysd:     translate {t_tr:.2f} s, run {t_prun * 1000:.1f} ms")

    import simlin
    smodel, t_load = timed(lambda: simlin.load(str(MODEL)))
    smodel.run()
    sres, t_srun = timed(lambda: smodel.run().results)
    print(f"pysimlin: load {t_load:.2f} s, run {t_srun * 1000:.1f} ms")
    shutil.rmtree(work, ignore_errors=True)

    if ours is None:
        return
    for label, other in (("pysd", theirs), ("pysimlin", sres)):
        keys = {column_key(c): c for c in other.columns}
        worst, name, n = 0.0, "", 0
        other = other.set_index(np.round(other.index.to_numpy(float), 9))
        times = np.round(ours.index.to_numpy(float), 9)
        for col in ours.columns:
            k = column_key(col)
            if k not in keys:
                continue
            b = other[keys[k]].reindex(times).to_numpy(float)
            a = ours[col].to_numpy(float)
            ok = ~np.isnan(b)
            if not ok.any():
                continue
            n += 1
            err = float(np.max(np.abs(a[ok] - b[ok]) / (1 + np.abs(b[ok]))))
            if err > worst:
                worst, name = err, col
        print(f"sdmodels vs {label}: {n} common columns, max relative error {worst:.2e}"
              + (f" (in '{name}')" if name else ""))
    print(f"run time ratios: pysd / sdmodels = {t_prun / t_run:.0f}x, "
          f"pysimlin / sdmodels = {t_srun / t_run:.1f}x")


if __name__ == "__main__":
    main()
