"""Loop dominance (Loops That Matter) on World3 and the library, next to pysimlin.

World3 (../shared/large-models/wrld3-03.mdl) has far more loops than can be listed, so both
engines find the strongest ones in the run: pysimlin's `Model.analyze()` (instrumented
compile + simulate + discovery), ours `dominance()` on a recorded run (loop enumeration to
the cap, strongest-path discovery over 40 windows of the run, scores of the loops found). The
goal: our relative loop scores in under 5 s after the run, the same loops, ids and scores
in every process (checked in two processes with different hash seeds).

Also times black_friday (225 loops, 72,000 steps) and SIR against pysimlin's run with LTM.

    .venv/bin/python benchmarks/dominance.py
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from sdmodels.interop.conformance import shared_root  # noqa: E402
WORLD3 = shared_root() / "large-models" / "wrld3-03.mdl"
SIR = shared_root() / "test-models" / "samples" / "SIR" / "SIR.mdl"


def ours(path: Path) -> tuple[float, float, str, int]:
    """(record seconds, dominance seconds, digest of loop ids and scores, loops)."""
    from sdmodels.analysis.dominance import dominance
    from sdmodels.analysis.evaluate import record
    from sdmodels.interop import import_model
    from sdmodels.ir import build
    ir = build(import_model(path))
    t0 = time.perf_counter()
    trace = record(ir)
    t1 = time.perf_counter()
    d = dominance(ir, trace=trace)
    t2 = time.perf_counter()
    digest = hashlib.sha256((",".join(f"{l.id}:{'/'.join(l.variables)}" for l in d.loops)
                             + d.relative.round(12).to_csv()).encode()).hexdigest()[:16]
    return t1 - t0, t2 - t1, digest, len(d.loops)


def simlin_world3(path: Path) -> tuple[float, int]:
    import simlin
    model = simlin.load(str(path))
    t0 = time.perf_counter()
    analysis = model.analyze()
    return time.perf_counter() - t0, len(analysis.loops)


def in_fresh_process(seed: str) -> str:
    code = ("import sys, warnings; warnings.simplefilter('ignore'); "
            f"sys.path.insert(0, {str(ROOT)!r}); from benchmarks.dominance import ours; "
            f"print(ours(__import__('pathlib').Path({str(WORLD3)!r}))[2])")
    env = {**os.environ, "PYTHONHASHSEED": seed}
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, check=True).stdout.strip()


def library(name: str, scenario: str) -> tuple[float, float, int]:
    from sdmodels.analysis.dominance import dominance
    from sdmodels.analysis.evaluate import record
    from sdmodels.ir import build
    from sdmodels.sources import load_model
    ir = build(load_model(name))
    t0 = time.perf_counter()
    trace = record(ir, scenario=scenario)
    t1 = time.perf_counter()
    d = dominance(ir, trace=trace)
    return t1 - t0, time.perf_counter() - t1, len(d.loops)


def main() -> None:
    warnings.simplefilter("ignore")
    ours(WORLD3)                                     # warm: kernel compiled and cached
    rec, dom, digest, n = ours(WORLD3)
    print(f"World3, sdmodels: run recorded in {rec:.2f} s; relative loop scores of {n} loops "
          f"in {dom:.2f} s after the run (goal < 5 s)")
    try:
        secs, found = simlin_world3(WORLD3)
        print(f"World3, pysimlin analyze(): {secs:.2f} s, {found} loops "
              f"(ratio pysimlin / sdmodels after the run: {secs / dom:.1f}x)")
    except ImportError:
        print("pysimlin is not installed: pip install pysimlin")
    seeds = {in_fresh_process(s) for s in ("0", "1", "4242")}
    print(f"World3 deterministic across processes: {len(seeds) == 1 and digest in seeds} "
          f"(digest {digest})")
    rec, dom, n = library("black_friday", "trigger")
    print(f"black_friday trigger: recorded in {rec:.2f} s, {n} loops scored in {dom:.2f} s")
    if SIR.exists():
        import simlin
        rec, dom, _, n = ours(SIR)
        t0 = time.perf_counter()
        simlin.load(str(SIR)).run()
        theirs = time.perf_counter() - t0
        print(f"SIR: sdmodels {rec + dom:.3f} s (record + scores), pysimlin run with LTM "
              f"{theirs:.3f} s")


if __name__ == "__main__":
    main()
