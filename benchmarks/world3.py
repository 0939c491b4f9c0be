"""World3 (../shared/large-models/wrld3-03.mdl) in three engines: sdmodels, pysd, pysimlin.

Imports the Vensim file with our importer, compiles and runs it with our engine, and compares
every common column with pysd's run and pysimlin's run (max relative error |a-b|/(1+|b|) over
all saved times). Prints, per engine, the time to import/translate, to compile, and to run.

sdmodels' compile is measured cold (a fresh kernel cache, so numba compiles the kernel: the
first run pays the JIT) and warm (a second process that loads the kernel from the disk cache).

pysd is run twice: as released, then with one fix applied in memory (SMOOTH/DELAY states cast
to float). As released, a SMOOTH whose initial value is an integer literal (World3's SMOOTHI(...,
1), and SMOOTHs of ACTIVE INITIAL(..., 1)) keeps an integer state array; its first derivative
writes the input into that array, truncating 1.336 to 1, so its first step is lost. That shows
as up to ~14% differences in pysd's World3; with the fix pysd agrees with sdmodels and pysimlin
to rounding.

    .venv/bin/python benchmarks/world3.py
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from sdmodels.interop.conformance import shared_root  # noqa: E402
MODEL = shared_root() / "large-models" / "wrld3-03.mdl"
KEY = ("population", "industrial output", "Persistent Pollution", "food per capita",
       "Nonrenewable Resources", "life expectancy")


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def agreement(ours, other):
    """(common columns, worst error, its column, columns over the suite's 1e-5 rule)."""
    from sdmodels.interop.conformance import column_key
    keys = {column_key(c): c for c in other.columns}
    other = other.set_index(np.round(other.index.to_numpy(float), 9))
    times = np.round(ours.index.to_numpy(float), 9)
    worst, name, n, over = 0.0, "", 0, []
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
        if np.any(np.abs(a[ok] - b[ok]) > 1e-5 + 1e-5 * np.abs(a[ok])):
            over.append(col)
        if err > worst:
            worst, name = err, col
    return n, worst, name, over


def warm_compile(cache: str) -> str:
    """Compile and run in a second process that finds the kernel in the disk cache."""
    code = ("import time, warnings; warnings.simplefilter('ignore'); t=time.perf_counter()\n"
            "from sdmodels import build, compile, simulate\n"
            "from sdmodels.interop import import_model\n"
            f"m = import_model({str(MODEL)!r}); t1=time.perf_counter()\n"
            "k = compile(build(m)); simulate(k); t2=time.perf_counter()\n"
            "print(f'{t1-t:.2f} {t2-t1:.2f}')")
    env = dict(os.environ, SDMODELS_CACHE_DIR=cache)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         cwd=ROOT, check=True).stdout.split()
    return f"build+compile+first run {float(out[1]):.2f} s"


def float_states():
    """The in-memory pysd fix: stateful objects keep float states."""
    from pysd.py_backend import statefuls
    for cls in (statefuls.Smooth, statefuls.Delay, statefuls.DelayN, statefuls.Trend,
                statefuls.Integ, statefuls.DelayFixed):
        def initialize(self, init_val=None, _orig=cls.initialize):
            _orig(self, init_val)
            if isinstance(self.state, np.ndarray) and self.state.dtype.kind in "iub":
                self.state = self.state.astype(float)
        cls.initialize = initialize


def main() -> None:
    warnings.simplefilter("ignore")
    cache = tempfile.mkdtemp(prefix="sdm-world3-cache-")
    os.environ["SDMODELS_CACHE_DIR"] = cache      # cold: numba compiles this kernel anew
    from sdmodels import build, compile, simulate
    from sdmodels.interop import import_model
    model, t_import = timed(lambda: import_model(MODEL))
    ir, t_build = timed(lambda: build(model))
    kernel, t_gen = timed(lambda: compile(ir))
    _, t_first = timed(lambda: simulate(kernel))
    res, t_run = min((timed(lambda: simulate(kernel)) for _ in range(5)), key=lambda r: r[1])
    ours = res.to_pandas()
    print(f"World3: {len(ir.variables)} variables, {len(kernel.slots)} slots, "
          f"{len(ours)} saved times")
    print(f"sdmodels: import {t_import:.2f} s, build {t_build:.2f} s, compile: codegen "
          f"{t_gen:.2f} s + numba JIT in the first run {t_first:.1f} s (cold cache); "
          f"warm (2nd process, disk cache): {warm_compile(cache)}; run {t_run * 1000:.2f} ms")

    import pysd
    work = Path(tempfile.mkdtemp(prefix="sdm-world3-"))
    shutil.copy(MODEL, work / MODEL.name)     # pysd writes its translation beside the file
    pmodel, t_tr = timed(lambda: pysd.read_vensim(str(work / MODEL.name)))
    stamps = ours.index.to_numpy()
    theirs, t_prun = timed(lambda: pmodel.run(return_timestamps=stamps))
    float_states()
    fixed, t_prun2 = timed(lambda: pmodel.run(return_timestamps=stamps))
    print(f"pysd:     translate+load {t_tr:.2f} s, run {t_prun:.1f} s "
          f"(with the float-state fix {t_prun2:.1f} s)")

    import simlin
    smodel, t_load = timed(lambda: simlin.load(str(MODEL)))
    smodel.run()
    sres, t_srun = min((timed(lambda: smodel.run().results) for _ in range(5)),
                       key=lambda r: r[1])
    print(f"pysimlin: load {t_load:.2f} s, run {t_srun * 1000:.1f} ms")
    shutil.rmtree(work, ignore_errors=True)
    shutil.rmtree(cache, ignore_errors=True)

    for label, other in (("pysd as released", theirs), ("pysd, float states", fixed),
                         ("pysimlin", sres)):
        n, worst, name, over = agreement(ours, other)
        print(f"sdmodels vs {label}: {n} common columns, max relative error {worst:.2e}"
              + (f" (in '{name}')" if name else "")
              + f"; {len(over)} columns outside the suite's 1e-5 rule")
    last = ours.index[-1]
    print("at", last, ":", ", ".join(f"{k} {ours[k].iloc[-1]:.4g}" for k in KEY
                                      if k in ours.columns))
    print(f"run time ratios: pysd / sdmodels = {t_prun / t_run:.0f}x, "
          f"pysimlin / sdmodels = {t_srun / t_run:.1f}x")


if __name__ == "__main__":
    main()
