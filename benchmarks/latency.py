"""First results: sdmodels vs pysimlin vs pysd, every measure in a fresh process.

Run: python benchmarks/latency.py [--quick | --mdl | --library | --cases a,b] [--no-pysd]
     [--kernel] [--repeat N]

For SIR (samples/SIR/SIR.mdl), black_friday (the library model, exported to XMILE for the
others), World3 (large-models/wrld3-03.mdl) and generated rings of N first-order stocks (each
drains into the next; one .mdl for the others, the same model in the DSL for us) and one
arrayed stock of 1,000 elements (array1000: each drains at S/tau, the total is shared out
evenly, so a SUM over the array every step; .mdl for the others, DSL for us), each engine
runs in a new subprocess with an empty sdmodels kernel cache and prints:
- imports: importing the engine and what its first run needs (the .mdl reader's modules too;
  for sdmodels, loading the prebuilt interpreter extension, as `import simlin` loads its
  engine);
- first result: reading the model (file or DSL) + preparing + one run, as a DataFrame
  (pysimlin's `run()` builds its DataFrame on the first access of `.results`, which is
  counted; its figure without it is printed below the table);
  in wall-clock time and in the process's CPU time (thread time: on a shared machine a
  fresh process is often descheduled for milliseconds, which CPU time leaves out);
- edit: in the same process, one equation changed, and the next result (pysd / pysimlin
  read the file again: they have no in-memory edit);
- warm: a second fresh process with the cache the first one left;
- peak memory: ru_maxrss of the subprocess.
Then the growth exponent of sdmodels' preparation (build + tape) over the rings, and
`run(m)` of an unchanged SIR against pysimlin's run. --kernel adds the compiled kernel's
first result (numba compile) for SIR and black_friday. --mdl: only the .mdl files (SIR and
World3: sdmodels' own reader, which imports no pysd). --library: sdmodels' first result of
every library model (the target: each under 100 ms), with its tape length and where its time
goes (IR build, tape, one run: CPU, measured again after the first result).
The package is byte-compiled first (as pip installs it), so no engine compiles Python source
in its timings. The machine is shared: every fresh-process figure is the least of --repeat
processes (default 3) for every engine alike, and ratios are read within one run.
"""
from __future__ import annotations

import argparse
import compileall
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
SIR_MDL = SHARED / "test-models" / "samples" / "SIR" / "SIR.mdl"
WORLD3 = SHARED / "large-models" / "wrld3-03.mdl"
RING_TAU = 5.0


# --------------------------------------------------------------------------- models
def ring_mdl(n: int) -> str:
    """A ring of n stocks, S{i} drains into S{i+1} at S{i}/tau, as Vensim text."""
    lines = ["{UTF-8}"]
    for i in range(n):
        prev = (i - 1) % n
        lines += [f"S{i} = INTEG(F{prev} - F{i}, {1 + i % 7}) ~ ~ |",
                  f"F{i} = S{i} / Tau ~ ~ |"]
    lines += [f"Tau = {RING_TAU} ~ ~ |", "INITIAL TIME = 0 ~ ~ |", "FINAL TIME = 20 ~ ~ |",
              "TIME STEP = 0.25 ~ ~ |", "SAVEPER = TIME STEP ~ ~ |"]
    return "\n".join(lines) + "\n"


def ring_model(n: int):
    """The same ring in the DSL."""
    from sdmodels import Model
    m = Model(f"ring{n}", stop=20, dt=0.25)
    tau = m.constant("Tau", RING_TAU)
    stocks = [m.stock(f"S{i}", initial=1 + i % 7) for i in range(n)]
    for i, s in enumerate(stocks):
        m.flow(f"F{i}", s / tau, out_of=s, into=stocks[(i + 1) % n])
    return m


def array_mdl(n: int) -> str:
    """One arrayed stock of n elements: each drains at S/tau, the total is shared out evenly."""
    inits = ", ".join(str(1 + i % 7) for i in range(n))
    return "\n".join([
        "{UTF-8}", f"Cell: (c1-c{n}) ~ ~ |", f"Init[Cell] = {inits} ~ ~ |",
        "S[Cell] = INTEG(Inflow[Cell] - Outflow[Cell], Init[Cell]) ~ ~ |",
        "Outflow[Cell] = S[Cell] / Tau ~ ~ |", "Total Outflow = SUM(Outflow[Cell!]) ~ ~ |",
        f"Inflow[Cell] = Total Outflow / {n} ~ ~ |", f"Tau = {RING_TAU} ~ ~ |",
        "INITIAL TIME = 0 ~ ~ |", "FINAL TIME = 20 ~ ~ |", "TIME STEP = 0.25 ~ ~ |",
        "SAVEPER = TIME STEP ~ ~ |"]) + "\n"


def array_model(n: int):
    """The same arrayed stock in the DSL."""
    from sdmodels import Model
    from sdmodels.expr import sum_over
    m = Model(f"array{n}", stop=20, dt=0.25)
    cell = m.dim("Cell", [f"c{i}" for i in range(1, n + 1)])
    tau = m.constant("Tau", RING_TAU)
    init = m.constant("Init", [1 + i % 7 for i in range(n)], dims=(cell,))
    s = m.stock("S", initial=init, dims=(cell,))
    out = m.flow("Outflow", s / tau, out_of=s, dims=(cell,))
    total = m.aux("Total Outflow", sum_over(out, "Cell"))
    m.flow("Inflow", total / n, into=s, dims=(cell,))
    return m


def source_file(case: str, work: Path) -> Path:
    """The model as a file the other engines read."""
    if case == "sir":
        return SIR_MDL
    if case == "world3":
        return WORLD3
    if case.startswith("ring"):
        path = work / f"{case}.mdl"
        path.write_text(ring_mdl(int(case[4:])))
        return path
    if case.startswith("array"):
        path = work / f"{case}.mdl"
        path.write_text(array_mdl(int(case[5:])))
        return path
    sys.path.insert(0, str(ROOT))
    import importlib
    from sdmodels.interop.export import to_xmile
    path = work / f"{case}.xmile"
    path.write_text(to_xmile(importlib.import_module(f"library.{case}").build()))
    return path


# --------------------------------------------------------------------------- children
def _ours(case: str, path: str, engine: str) -> dict:
    t0 = time.perf_counter()
    sys.path.insert(0, str(ROOT))
    import sdmodels
    from sdmodels import run
    from sdmodels._aot import interpreter
    interpreter()                     # the prebuilt interpreter (numba's function without it)
    import sdmodels.engine  # noqa: F401  (networkx, the IR)
    import sdmodels.expand  # noqa: F401
    import sdmodels.results  # noqa: F401
    import pandas  # noqa: F401
    if case in ("sir", "world3"):
        import sdmodels.interop.mdl  # noqa: F401  (the .mdl reader, as `import simlin` has its own)
        import sdmodels.interop.vensim  # noqa: F401
    t1, c1 = time.perf_counter(), time.thread_time()
    if case.startswith("ring"):
        model = ring_model(int(case[4:]))
    elif case.startswith("array"):
        model = array_model(int(case[5:]))
    elif case in ("sir", "world3"):
        from sdmodels.interop import import_model
        model = import_model(path)
    else:
        import importlib
        model = importlib.import_module(f"library.{case}").build()
    t2 = time.perf_counter()
    frame = run(model, engine=engine)
    t3, c3 = time.perf_counter(), time.thread_time()
    # a structural edit: one flow's equation gains a factor, so the model must be prepared again
    from dataclasses import replace
    from sdmodels import Flow
    from sdmodels.expr import Expr
    flow = next(e for e in model.elements.values()
                if isinstance(e, Flow) and isinstance(e.equation, Expr))
    model.elements[flow.id] = replace(flow, equation=flow.equation * 1.0)
    t4 = time.perf_counter()
    run(model, engine=engine)
    t5 = time.perf_counter()
    c6 = time.thread_time()
    ir = sdmodels.build(model)
    c7 = time.thread_time()
    program = sdmodels.engine.Prepared(ir).program("euler")
    c8 = time.thread_time()
    sdmodels.simulate(program)          # the run alone (the DataFrame is a fraction of a ms)
    c9 = time.thread_time()
    seg = program.arrays["seg"]
    return dict(imports=t1 - t0, read=t2 - t1, first=t3 - t1, cpu=c3 - c1, edit=t5 - t4,
                tape=c8 - c6, ir=c7 - c6, writing=c8 - c7, run=c9 - c8,
                rows=len(frame), values=len(frame.columns), step_code=int(seg[3] - seg[2]),
                saved_code=int(seg[11] - seg[10]))


def _simlin(path: str) -> dict:
    t0 = time.perf_counter()
    import simlin
    t1, c1 = time.perf_counter(), time.thread_time()
    model = simlin.load(path)
    run = model.run(analyze_loops=False)
    t2, c2 = time.perf_counter(), time.thread_time()
    run.results     # its DataFrame, built on first access (8 ms of World3's first result)
    t3, c3 = time.perf_counter(), time.thread_time()
    simlin.load(path).run(analyze_loops=False).results
    t4 = time.perf_counter()
    return dict(imports=t1 - t0, first=t3 - t1, cpu=c3 - c1, edit=t4 - t3,
                run_only=t2 - t1, run_only_cpu=c2 - c1)


def _pysd(path: str) -> dict:
    t0 = time.perf_counter()
    import pysd
    t1, c1 = time.perf_counter(), time.thread_time()
    read = pysd.read_xmile if path.endswith(".xmile") else pysd.read_vensim
    read(path).run()
    t2, c2 = time.perf_counter(), time.thread_time()
    read(path).run()
    t3 = time.perf_counter()
    return dict(imports=t1 - t0, first=t2 - t1, cpu=c2 - c1, edit=t3 - t2)


def child(engine: str, case: str, path: str) -> None:
    import warnings
    warnings.simplefilter("ignore")
    if engine == "pysimlin":
        out = _simlin(path)
    elif engine == "pysd":
        out = _pysd(path)
    else:
        out = _ours(case, path, "compiled" if engine == "kernel" else "interpreter")
    out["maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("RESULT " + json.dumps(out))


def spawn(engine: str, case: str, path: Path, cache: str, timeout: float) -> dict | None:
    env = {**os.environ, "SDMODELS_CACHE_DIR": cache, "PYTHONPATH": str(ROOT)}
    try:
        done = subprocess.run([sys.executable, __file__, "--child", engine, case, str(path)],
                              capture_output=True, text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"over {timeout:.0f} s"}
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    return {"error": (done.stderr.strip().splitlines() or ["no output"])[-1][:80]}


def spawn_best(engine: str, case: str, path: Path, cache: str, timeout: float,
                 repeat: int, *, fresh_cache: bool = True) -> dict:
    """`spawn` `repeat` times (each with an empty cache unless fresh_cache is False): the
    least of every figure (as timeit reports), so that processes the shared machine slowed
    down do not decide; the same for every engine."""
    found = []
    for _ in range(repeat):
        where = tempfile.mkdtemp(prefix="cache-", dir=Path(cache).parent) if fresh_cache \
            else cache
        out = spawn(engine, case, path, where, timeout)
        if "error" in out:
            return out
        found.append(out)
    return {k: min(f[k] for f in found) if isinstance(found[0][k], float) else found[0][k]
            for k in found[0]}


def library_rows(repeat: int, timeout: float) -> None:
    """sdmodels' first result of every library model in a fresh process (target: < 100 ms)."""
    names = sorted(p.stem for p in (ROOT / "library").glob("*.py") if p.stem != "__init__")
    work = Path(tempfile.mkdtemp(prefix="sdm-latency-"))
    try:
        print(f"{'model':18} {'first result':>12} {'(CPU)':>9} {'(reading)':>10} "
              f"{'after edit':>10} {'IR':>8} {'tape':>8} {'run':>9} {'step code':>9}  "
              "target < 100 ms")
        for name in names:
            out = spawn_best("sdmodels", name, Path(name), str(work / "cache"), timeout, repeat)
            if "error" in out:
                print(f"{name:18} {out['error']}")
                continue
            print(f"{name:18} {_fmt(out['first']):>12} {_fmt(out['cpu']):>9} "
                  f"{_fmt(out['read']):>10} {_fmt(out['edit']):>10} {_fmt(out['ir']):>8} "
                  f"{_fmt(out['writing']):>8} {_fmt(out['run']):>9} "
                  f"{out['step_code']:>5}+{out['saved_code']:<4} "
                  f"{'met' if out['first'] < 0.1 else 'missed'}")
        print("(IR: build, tape: writing the tape, run: one interpreted run; each in the "
              "process's CPU time, after the first result, so warm; step code: instructions "
              "a step + on the steps saved)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


# --------------------------------------------------------------------------- report
def _fmt(seconds) -> str:
    if seconds is None:
        return "-"
    return f"{seconds * 1e3:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def steady_run_ratio() -> str:
    """`run(m)` on an unchanged SIR (auto engine, its kernel compiled once) vs pysimlin's run."""
    sys.path.insert(0, str(ROOT))
    import simlin
    from sdmodels import run
    from sdmodels.interop import import_model
    model = import_model(SIR_MDL)
    run(model, engine="compiled")          # what the background compile gives a session

    from benchmarks.engine import median_time as median
    ours = median(lambda: run(model), 30)
    interp = median(lambda: run(model, engine="interpreter"), 30)
    sm = simlin.load(str(SIR_MDL))
    theirs = median(lambda: sm.run(analyze_loops=False), 30)
    return (f"run(m) on an unchanged SIR: {_fmt(ours)} (interpreter only: {_fmt(interp)}); "
            f"pysimlin run {_fmt(theirs)}; ours/pysimlin = {ours / theirs:.2f} "
            f"(interpreter {interp / theirs:.2f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", nargs=3, metavar=("ENGINE", "CASE", "PATH"))
    parser.add_argument("--quick", action="store_true", help="SIR, black_friday, ring300 only")
    parser.add_argument("--mdl", action="store_true", help="SIR and World3 (.mdl) only")
    parser.add_argument("--library", action="store_true", help="every library model, ours")
    parser.add_argument("--cases", help="comma-separated cases instead (sir, black_friday, "
                        "world3, ringN, arrayN: one arrayed stock of N elements)")
    parser.add_argument("--repeat", type=int, default=3, help="fresh processes per figure")
    parser.add_argument("--no-pysd", action="store_true")
    parser.add_argument("--kernel", action="store_true", help="also the compiled kernel")
    parser.add_argument("--timeout", type=float, default=900)
    args = parser.parse_args()
    if args.child:
        return child(*args.child)
    compileall.compile_dir(ROOT / "sdmodels", quiet=1)      # as pip installs the package
    compileall.compile_dir(ROOT / "library", quiet=1)
    if args.library:
        return library_rows(args.repeat, args.timeout)
    cases = ["sir", "black_friday", "ring300"] if args.quick else ["sir", "world3"] if args.mdl \
        else ["sir", "black_friday", "world3", "ring300", "ring1000", "ring10000", "array1000"]
    if args.cases:
        cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    work = Path(tempfile.mkdtemp(prefix="sdm-latency-"))
    head = ("model", "engine", "imports", "first result", "(CPU)", "(reading)", "after edit",
            "warm process", "peak MB", "first / pysimlin", "CPU / pysimlin", "first / pysd")
    rows, tapes, bare = [], {}, []
    try:
        for case in cases:
            path = source_file(case, work)
            engines = ["sdmodels", "pysimlin"]
            if args.kernel and case in ("sir", "black_friday"):
                engines.insert(1, "kernel")
            if not args.no_pysd and case not in ("ring10000",):
                engines.append("pysd")
            found = {}
            for engine in engines:
                cache = tempfile.mkdtemp(prefix="cache-", dir=work)
                cold = spawn_best(engine, case, path, cache, args.timeout, args.repeat)
                if "error" not in cold:     # a warm process: the cache the first one left
                    spawn(engine, case, path, cache, args.timeout)
                warm = spawn_best(engine, case, path, cache, args.timeout, args.repeat,
                                    fresh_cache=False) if "error" not in cold else {}
                found[engine] = cold
                if "error" in cold:
                    rows.append((case, engine, cold["error"]) + ("",) * (len(head) - 3))
                    continue
                rows.append((case, engine, _fmt(cold["imports"]), _fmt(cold["first"]),
                             _fmt(cold.get("cpu")), _fmt(cold.get("read")), _fmt(cold["edit"]),
                             _fmt(warm.get("first")), f"{cold['maxrss_mb']:.0f}", "", "", ""))
                if engine == "sdmodels" and case.startswith("ring"):
                    tapes[int(case[4:])] = cold["tape"]
            simlin, ours = found.get("pysimlin", {}), found.get("sdmodels", {})
            if "run_only_cpu" in simlin and "cpu" in ours:
                bare.append(f"{case}: {_fmt(simlin['run_only_cpu'])} CPU (ours / that = "
                            f"{ours['cpu'] / simlin['run_only_cpu']:.2f})")
            # ratios against pysimlin and pysd, measured after ours: filled in once all ran
            for i, row in enumerate(rows):
                mine = found.get(row[1], {})
                if row[0] == case and "first" in mine:
                    rows[i] = row[:9] + tuple(
                        f"{mine[key] / found[other][key]:.2f}"
                        if key in found.get(other, {}) and key in mine else "-"
                        for other, key in (("pysimlin", "first"), ("pysimlin", "cpu"),
                                           ("pysd", "first")))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(len(head))]
    for r in [head] + rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)))
    print("(first result: after imports, reading the model (file or DSL; '(reading)' is that "
          "part) + preparing + one run as a DataFrame, wall clock; (CPU): the same in the "
          "process's CPU time, which a busy machine inflates less; a ratio < 1: that row's "
          "engine is faster than pysimlin / pysd)")
    if bare:    # pysimlin's run() leaves its DataFrame to the first access of .results
        print("pysimlin load + run without building its DataFrame: " + "; ".join(bare))
    if len(tapes) >= 2:
        ns = sorted(tapes)
        xs, ys = [math.log(n) for n in ns], [math.log(tapes[n]) for n in ns]
        mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
        slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
        shown = ", ".join(f"{n:,}: {_fmt(tapes[n])}" for n in ns)
        print(f"preparation (build + tape) over ring sizes ({shown}): grows as N^{slope:.2f}")
    print(steady_run_ratio())


if __name__ == "__main__":
    main()
