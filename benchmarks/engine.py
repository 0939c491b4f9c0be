"""Engine speed: sdmodels vs pysd vs pysimlin on the SIR model, in one process.

Run: .venv/bin/python benchmarks/engine.py [--sweep-runs 10000] [--repeats 30]

(a) one run of SIR (samples/SIR/SIR.mdl: 100 days, dt = 1/32, 3,200 steps), (b) a sweep of
N parameter sets, (c) compile (or load) time. Our SIR is the DSL equivalent of the .mdl
(identical equations, checked against pysd's output below); pysd and pysimlin run the
.mdl itself. Medians of repeated runs; pysd's sweep is a sample of its runs extrapolated.
The machine is shared and noisy: read the ratios, not the absolute times.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SIR_MDL = ROOT.parent / "shared" / "test-models" / "samples" / "SIR" / "SIR.mdl"
sys.path.insert(0, str(ROOT))

from sdmodels import Model, compile, run, simulate  # noqa: E402


def sir_model() -> Model:
    """SIR.mdl written with the DSL (same names, equations and time settings)."""
    m = Model("SIR", start=0, stop=100, dt=0.03125, time_units="Day")
    total = m.constant("Total Population", 1000)
    m.constant("Contact Infectivity", 0.3)
    duration = m.constant("Duration", 5)
    s = m.stock("Susceptible", initial=total)
    i = m.stock("Infectious", initial=5)
    r = m.stock("Recovered", initial=0)
    m.flow("Succumbing", "Susceptible*Infectious/Total Population * Contact Infectivity",
           out_of=s, into=i)
    m.flow("Recovering", i / duration, out_of=i, into=r)
    return m


def median_time(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def cold_compile_seconds() -> float:
    """Compile in a fresh process with an empty kernel cache (what a first user pays)."""
    cache = tempfile.mkdtemp(prefix="sdm-bench-")
    code = ("import time; t=time.perf_counter(); import sys; sys.path.insert(0, %r); "
            "from benchmarks.engine import sir_model; from sdmodels import compile, simulate; "
            "k = compile(sir_model()); simulate(k); print(time.perf_counter() - t)" % str(ROOT))
    try:
        cold = float(subprocess.check_output([sys.executable, "-c", code],
                                             env={**os.environ, "SDMODELS_CACHE_DIR": cache}))
        warm = float(subprocess.check_output([sys.executable, "-c", code],
                                             env={**os.environ, "SDMODELS_CACHE_DIR": cache}))
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    return cold, warm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sweep-runs", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--pysd-sample", type=int, default=20)
    parser.add_argument("--simlin-sample", type=int, default=300)
    args = parser.parse_args()

    import pysd
    import simlin

    rows = []
    kernel = compile(sir_model())
    ours_single = median_time(lambda: simulate(kernel), args.repeats)
    ours_frame = median_time(lambda: run(kernel), args.repeats)

    t = time.perf_counter()
    pysd_model = pysd.read_vensim(str(SIR_MDL))
    pysd_load = time.perf_counter() - t
    pysd_single = median_time(lambda: pysd_model.run(), max(3, args.repeats // 6))

    t = time.perf_counter()
    simlin_model = simlin.load(SIR_MDL)
    simlin_load = time.perf_counter() - t
    simlin_single = median_time(lambda: simlin_model.run(analyze_loops=False), args.repeats)

    # agreement first: a benchmark of different answers is worthless
    ours = simulate(kernel).to_pandas()
    theirs = pysd_model.run()
    err = float(np.max(np.abs(ours["Infectious"].to_numpy() - theirs["Infectious"].to_numpy())))
    simlin_inf = np.asarray(simlin_model.run(analyze_loops=False).results["infectious"])
    err_simlin = float(np.max(np.abs(ours["Infectious"].to_numpy() - simlin_inf)))

    n = args.sweep_runs
    rng = np.random.default_rng(1)
    betas, durations = rng.uniform(0.1, 0.6, n), rng.uniform(2, 9, n)
    params = {"Contact Infectivity": betas, "Duration": durations}
    sweep_full = median_time(lambda: simulate(kernel, params=params, saveper=1), 3)
    sweep_final = median_time(lambda: simulate(kernel, params=params, times=[100]), 3)

    def simlin_loop(k):
        for j in range(k):
            simlin_model.run({"contact_infectivity": betas[j], "duration": durations[j]},
                             analyze_loops=False)

    def pysd_loop(k):
        for j in range(k):
            pysd_model.run(params={"Contact Infectivity": betas[j], "Duration": durations[j]})

    simlin_per_run = median_time(lambda: simlin_loop(args.simlin_sample), 3) / args.simlin_sample
    pysd_per_run = median_time(lambda: pysd_loop(args.pysd_sample), 1) / args.pysd_sample
    cold, warm = cold_compile_seconds()

    rows = [
        ("(a) one SIR run, 3,200 steps", f"{ours_single * 1e3:.3f} ms",
         f"{pysd_single * 1e3:.1f} ms", f"{simlin_single * 1e3:.3f} ms",
         f"{pysd_single / ours_single:,.0f}x", f"{simlin_single / ours_single:.2f}x"),
        ("(a') same, returned as a DataFrame", f"{ours_frame * 1e3:.3f} ms", "", "",
         f"{pysd_single / ours_frame:,.0f}x", f"{simlin_single / ours_frame:.2f}x"),
        (f"(b) {n:,}-run sweep, all vars, saveper 1", f"{n / sweep_full:,.0f} runs/s",
         f"{1 / pysd_per_run:,.1f} runs/s", f"{1 / simlin_per_run:,.0f} runs/s",
         f"{pysd_per_run * n / sweep_full:,.0f}x", f"{simlin_per_run * n / sweep_full:.1f}x"),
        (f"(b') {n:,}-run sweep, final values", f"{n / sweep_final:,.0f} runs/s", "", "",
         f"{pysd_per_run * n / sweep_final:,.0f}x", f"{simlin_per_run * n / sweep_final:.1f}x"),
        ("(c) compile/load, cold process", f"{cold:.2f} s", f"{pysd_load:.2f} s",
         f"{simlin_load * 1e3:.1f} ms", "", ""),
        ("(c') compile/load, kernel cached on disk", f"{warm:.2f} s", "", "", "", ""),
    ]
    head = ("measure", "sdmodels", "pysd", "pysimlin", "pysd/ours", "pysimlin/ours")
    widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(len(head))]
    print(f"SIR agreement: max |Infectious| diff vs pysd {err:.2e}, vs pysimlin {err_simlin:.2e}")
    for r in [head] + rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)))
    print("(ratios > 1: sdmodels is faster; (c) includes Python start-up and imports)")


if __name__ == "__main__":
    main()
