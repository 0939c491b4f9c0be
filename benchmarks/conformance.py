"""Conformance table: sdmodels vs pysd on the external suite (../shared/test-models).

For each model file with a canonical output: our result (import + run with our engine) and
pysd's (pysd.read_vensim / read_xmile + run, in a subprocess per model so one crash or hang
cannot take the table down), both judged by the same rule (|e - a| <= 1e-5 + 1e-5*|a|).
Prints per model pass/fail/unsupported with the max relative error, then totals per format
and per tier.

    .venv/bin/python benchmarks/conformance.py                 # everything (~20 min)
    .venv/bin/python benchmarks/conformance.py --no-pysd       # ours only
    .venv/bin/python benchmarks/conformance.py --only lookups  # a subset by name
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("SDMODELS_CACHE_DIR",
                      str(Path(__file__).resolve().parents[1] / ".venv" / "sdmodels-cache"))

from sdmodels.interop.conformance import (TIERS, Outcome, cases, column_key,  # noqa: E402
                                          compare, load_output, suite_root)
from sdmodels.interop.runcase import run_case  # noqa: E402

PYSD_TIMEOUT = 600


def pysd_one(model: str, output: str, tol: float) -> dict:
    """Run one model with pysd itself (called in a child process)."""
    import warnings
    warnings.simplefilter("ignore")
    import numpy as np
    import pysd
    import shutil
    import tempfile
    t0 = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="sdm-pysd-"))
    try:   # pysd writes its translation beside the model: work on a copy, never the suite
        shutil.copytree(Path(model).parent, work / "m", dirs_exist_ok=True)
        model = str(work / "m" / Path(model).name)
        reader = pysd.read_vensim if model.lower().endswith(".mdl") else pysd.read_xmile
        m = reader(model)
        expected = load_output(Path(output))
        times = expected.index.to_numpy(dtype=float)
        frame = m.run(return_timestamps=times)
    except Exception as exc:  # pysd's own failure: counted as 'unsupported' for it
        return {"status": "unsupported", "detail": f"{type(exc).__name__}: {exc}"[:200],
                "max_rel": float("nan"), "seconds": time.perf_counter() - t0}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    known = {column_key(c) for c in frame.columns}
    frame.index = frame.index.astype(float)
    out = compare(expected, frame, known=known, tol=tol)
    return {"status": out.status, "detail": out.detail[:200], "max_rel": out.max_rel,
            "seconds": time.perf_counter() - t0}


def pysd_case(case) -> Outcome:
    cmd = [sys.executable, __file__, "--pysd-one", str(case.model), str(case.output),
           str(case.tolerance)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=PYSD_TIMEOUT)
        data = json.loads(done.stdout.strip().splitlines()[-1])
    except subprocess.TimeoutExpired:
        return Outcome("fail", detail=f"timed out after {PYSD_TIMEOUT} s")
    except (IndexError, json.JSONDecodeError):
        return Outcome("fail", detail="pysd process crashed")
    return Outcome(data["status"], data["max_rel"], data["detail"], data["seconds"])


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--pysd-one":
        print(json.dumps(pysd_one(sys.argv[2], sys.argv[3], float(sys.argv[4]))))
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-pysd", action="store_true", help="only our engine")
    ap.add_argument("--only", default=None, help="only cases whose name contains this")
    args = ap.parse_args()
    root = suite_root()
    if root is None:
        sys.exit("the suite ../shared/test-models is not present")
    selected = [c for c in cases(root) if not args.only or args.only in c.name]
    totals = {"ours": collections.Counter(), "pysd": collections.Counter()}
    print(f"{'model':66s} {'tier':13s} {'sdmodels':11s} {'max rel':>9s}   {'pysd':11s} {'max rel':>9s}")
    for case in selected:
        tier, fmt = case.tier, case.format
        ours = run_case(case)
        theirs = None if args.no_pysd else pysd_case(case)
        for who, o in (("ours", ours), ("pysd", theirs)):
            if o is not None:
                totals[who][(fmt, tier, o.status)] += 1
                totals[who][("all", "all", o.status)] += 1
        p = f"{theirs.status:11s} {theirs.max_rel:9.2g}" if theirs else ""
        print(f"{case.name[:66]:66s} {tier:13s} {ours.status:11s} {ours.max_rel:9.2g}   {p}",
              flush=True)
    print("\nTotals (pass / fail / unsupported):")
    print(f"{'format':7s} {'tier':14s} {'sdmodels':>16s} {'pysd':>16s}")
    keys = sorted({(f, t) for f, t, _ in totals["ours"]} - {("all", "all")}) + [("all", "all")]
    for f, t in keys:
        row = []
        for who in ("ours", "pysd"):
            c = totals[who]
            row.append(f"{c[(f, t, 'pass')]:3d}/{c[(f, t, 'fail')]:3d}/{c[(f, t, 'unsupported')]:3d}"
                       if c else "")
        print(f"{f:7s} {t:14s} {row[0]:>16s} {row[1]:>16s}")
    for fmt in (".mdl", ".xmile", ".stmx"):
        row = []
        for who in ("ours", "pysd"):
            c = totals[who]
            row.append(f"{sum(c[(fmt, t, 'pass')] for t in TIERS):3d} pass" if c else "")
        print(f"{fmt:7s} {'all tiers':14s} {row[0]:>16s} {row[1]:>16s}")


if __name__ == "__main__":
    main()
