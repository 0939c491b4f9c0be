"""Corpus table: a folder of models run in sdmodels, pysd and pysimlin against Vensim's output.

Every model with a reference output of the same stem beside it (NAME.dat, .tab, .csv, or
.vdf through pysimlin's VDF reader) is run by each engine and compared column by column,
|expected - actual| <= 1e-6 + 1e-3*|actual| (sdmodels.interop.corpus). sdmodels runs in
this process; pysd and pysimlin run in a child process per model with a timeout, so that a
crash or a hang in either cannot take the table down. Prints one row per model with each
engine's status and the reason of each failure, then the pass counts per engine.

    .venv/bin/python benchmarks/corpus.py                        # the SDEverywhere models
    .venv/bin/python benchmarks/corpus.py FOLDER --formats .mdl .xmile
    .venv/bin/python benchmarks/corpus.py --engines sdmodels --only except
    .venv/bin/python benchmarks/corpus.py --suite                # SDXorg's test-models

--suite runs the SDXorg suite (../shared/test-models: every model beside an output.tab /
output.csv) by that suite's own rule, |e - a| <= 1e-5 + 1e-5*|a| (2e-2 relative where
sdmodels.interop.conformance.LOOSE says so), in all three engines.
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

from sdmodels.interop.conformance import (ATOL as SUITE_ATOL, Outcome,  # noqa: E402
                                          cases as suite_cases, column_key, compare,
                                          load_output, suite_root)
from sdmodels.interop.corpus import (ATOL, RTOL, corpus_cases, finite,  # noqa: E402
                                     load_reference, sdeverywhere_root)
from sdmodels.interop.runcase import run_case  # noqa: E402

TIMEOUT = 300
ENGINES = ("sdmodels", "pysd", "pysimlin")


def _reference(output: str):
    """The reference frame: the suite's output.tab / .csv by its reader, else any corpus output."""
    if Path(output).stem == "output":
        return load_output(Path(output))
    return finite(load_reference(Path(output)))


def _judge(expected, frame, rtol: float, atol: float) -> dict:
    frame.index = frame.index.astype(float)
    known = {column_key(c) for c in frame.columns}
    out = compare(expected, frame, known=known, tol=rtol, atol=atol)
    return {"status": out.status, "detail": out.detail[:200], "max_rel": out.max_rel}


def pysd_one(model: str, output: str, rtol: float, atol: float) -> dict:
    """Run one model with pysd (in a child process), on a copy of its folder."""
    import shutil
    import tempfile
    import warnings
    warnings.simplefilter("ignore")
    import pysd
    work = Path(tempfile.mkdtemp(prefix="sdm-corpus-"))
    try:   # pysd writes its translation beside the model: never into the corpus
        shutil.copytree(Path(model).parent, work / "m", dirs_exist_ok=True)
        copy = str(work / "m" / Path(model).name)
        reader = pysd.read_vensim if copy.lower().endswith(".mdl") else pysd.read_xmile
        expected = _reference(output)
        frame = reader(copy).run(return_timestamps=expected.index.to_numpy(dtype=float))
    except Exception as exc:   # noqa: BLE001 - pysd's own failure is the row's reason
        return {"status": "unsupported", "detail": f"{type(exc).__name__}: {exc}"[:200]}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return _judge(expected, frame, rtol, atol)


def simlin_one(model: str, output: str, rtol: float, atol: float) -> dict:
    """Run one model with pysimlin (in a child process)."""
    import simlin
    try:
        expected = _reference(output)
        frame = simlin.load(model).run().results
    except Exception as exc:   # noqa: BLE001 - pysimlin's own failure is the row's reason
        return {"status": "unsupported", "detail": f"{type(exc).__name__}: {exc}"[:200]}
    return _judge(expected, frame, rtol, atol)


def child(engine: str, case, rtol: float, atol: float) -> Outcome:
    """Run one engine on one case in a child process with a timeout."""
    cmd = [sys.executable, __file__, f"--{engine}-one", str(case.model), str(case.output),
           repr(rtol), repr(atol)]
    t0 = time.perf_counter()
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT)
        data = json.loads(done.stdout.strip().splitlines()[-1])
    except subprocess.TimeoutExpired:
        return Outcome("fail", detail=f"timed out after {TIMEOUT} s")
    except (IndexError, json.JSONDecodeError):
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return Outcome("fail", detail=f"process crashed: {tail[:150]}")
    return Outcome(data["status"], data.get("max_rel", float("nan")), data["detail"],
                   time.perf_counter() - t0)


def sdmodels_case(case, rtol: float, atol: float) -> Outcome:
    try:
        expected = _reference(str(case.output))
    except Exception as exc:   # noqa: BLE001 - an unreadable reference is the row's reason
        return Outcome("fail", detail=f"reference unreadable: {exc}")
    try:
        return run_case(case, expected=expected, tol=rtol, atol=atol)
    except Exception as exc:   # noqa: BLE001 - a crash is this row's failure, not the table's
        return Outcome("fail", detail=f"crashed: {type(exc).__name__}: "
                                      f"{str(exc).splitlines()[0][:150]}")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] in ("--pysd-one", "--pysimlin-one"):
        one = pysd_one if sys.argv[1] == "--pysd-one" else simlin_one
        print(json.dumps(one(sys.argv[2], sys.argv[3], float(sys.argv[4]),
                             float(sys.argv[5]))))
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", nargs="?", default=None,
                    help="models folder (default: ../shared/sdeverywhere-models/models)")
    ap.add_argument("--formats", nargs="+", default=[".mdl"])
    ap.add_argument("--engines", nargs="+", default=list(ENGINES), choices=ENGINES)
    ap.add_argument("--only", default=None, help="only cases whose name contains this")
    ap.add_argument("--suite", action="store_true",
                    help="the SDXorg suite (../shared/test-models) by its own tolerance")
    ap.add_argument("--names", nargs="+", default=None, help="only these case names")
    ap.add_argument("--shard", default="1/1", help="K/N: every N-th case from the K-th (to "
                    "run one table in N processes)")
    args = ap.parse_args()
    if args.suite:
        root = suite_root()
        if root is None:
            sys.exit("the suite ../shared/test-models is not present")
        found = suite_cases(root)
    else:
        root = Path(args.folder) if args.folder else sdeverywhere_root()
        if root is None:
            sys.exit("no corpus folder given and ../shared/sdeverywhere-models is not present")
        found = corpus_cases(root, formats=tuple(args.formats))
    k, n = (int(x) for x in args.shard.split("/"))
    selected = [c for c in found if (not args.only or args.only in c.name)
                and (not args.names or c.name in args.names)][k - 1::n]
    totals = collections.Counter()
    width = max([len(c.name) for c in selected] + [5])
    print(f"{'model':{width}s} " + " ".join(f"{e:12s}" for e in args.engines))
    reasons = []
    for case in selected:
        row = []
        rtol, atol = (case.tolerance, SUITE_ATOL) if args.suite else (RTOL, ATOL)
        for engine in args.engines:
            o = sdmodels_case(case, rtol, atol) if engine == "sdmodels" else \
                child(engine, case, rtol, atol)
            totals[(engine, o.status)] += 1
            row.append(f"{o.status:12s}")
            if o.status != "pass":
                reasons.append(f"  {case.name} [{engine}] {o.status}: {o.detail[:160]}")
        print(f"{case.name:{width}s} " + " ".join(row), flush=True)
    print("\nWhy each failure:")
    print("\n".join(reasons) or "  none")
    print(f"\nPass counts of {len(selected)} models (pass / fail / unsupported):")
    for engine in args.engines:
        print(f"  {engine:9s} {totals[(engine, 'pass')]:3d} / {totals[(engine, 'fail')]:3d}"
              f" / {totals[(engine, 'unsupported')]:3d}")


if __name__ == "__main__":
    main()
