"""sdmodels' own .mdl reader vs pysd's translator, as the front end of sdmodels' engine.

For each model: parse (own / pysd), import, build, run, and compare with Vensim's output
next to the model: SDEverywhere's NAME.dat (relative 1e-3, absolute 1e-6, the issue's rule)
or the SDXorg suite's output.csv/.tab (the suite's rule, through conformance.py). Prints one
line per model and the pass counts per parser; the parse-only column says whether the
reader produced an abstract model at all.

    .venv/bin/python benchmarks/mdl_parsers.py                     # SDEverywhere + World3
    .venv/bin/python benchmarks/mdl_parsers.py --suite             # + the SDXorg .mdl files
    .venv/bin/python benchmarks/mdl_parsers.py --only comments
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("SDMODELS_CACHE_DIR",
                      str(Path(__file__).resolve().parents[1] / ".venv" / "sdmodels-cache"))

import numpy as np  # noqa: E402

from sdmodels.interop.conformance import Case, cases, column_key, suite_root  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared"
RTOL, ATOL = 1e-3, 1e-6


def read_dat(path: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """SDEverywhere's .dat: a variable name line, then 'time<TAB>value' lines."""
    out: dict[str, list] = {}
    name = None
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        parts = line.split("\t")
        if len(parts) == 1 and parts[0].strip():
            name = parts[0].strip()
            out[name] = []
        elif name is not None and len(parts) == 2:
            out[name].append((float(parts[0]), float(parts[1])))
    return {k: (np.array([t for t, _ in v]), np.array([x for _, x in v]))
            for k, v in out.items() if v}


def parses(model: Path, parser: str) -> bool:
    if parser == "own":
        from sdmodels.interop.mdl import read_abstract
        try:
            read_abstract(model)
            return True
        except Exception:   # noqa: BLE001 - counted, not raised
            return False
    from pysd.translators.vensim.vensim_file import VensimFile
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            vf = VensimFile(model)
            vf.parse()
            vf.get_abstract_model()
        return True
    except Exception:   # noqa: BLE001
        return False


def run_dat(model: Path, dat: Path) -> tuple[str, str]:
    """'pass' / 'fail' / 'unsupported' with a detail, against a .dat file."""
    from sdmodels.errors import ImportModelError, SDModelsError
    from sdmodels.interop import import_model
    from sdmodels.ir import build
    from sdmodels.simulate import simulate
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ir = build(import_model(model))
            frame = simulate(ir).to_pandas()
    except ImportModelError as exc:
        return "unsupported", str(exc).splitlines()[0][:160]
    except SDModelsError as exc:
        return "fail", f"{type(exc).__name__}: {str(exc).splitlines()[0][:140]}"
    except Exception as exc:  # noqa: BLE001 - a crash is a result here
        return "crash", f"{type(exc).__name__}: {str(exc)[:140]}"
    ours = {column_key(c): c for c in frame.columns}
    times = frame.index.to_numpy(dtype=float)
    checked = 0
    for name, (ts, values) in read_dat(dat).items():
        key = column_key(name)
        if key.split("[")[0] in ("initial_time", "final_time", "time_step", "saveper", "time"):
            continue
        if key not in ours:
            return "fail", f"no output for {name!r}"
        for t, v in zip(ts, values):
            i = np.searchsorted(times, t - 1e-9)
            if i >= len(times) or abs(times[i] - t) > 1e-6:
                continue
            a = float(frame[ours[key]].iloc[i])
            checked += 1
            if not abs(a - v) <= ATOL + RTOL * abs(v):
                return "fail", f"{name} at t={t:g}: Vensim {v:.6g}, sdmodels {a:.6g}"
    return ("pass", "") if checked else ("fail", "no value compared")


def sde_models(only: str | None) -> list[tuple[Path, Path | None]]:
    root = SHARED / "sdeverywhere-models" / "models"
    out = []
    for model in sorted(root.glob("*/*.mdl")):
        if only and only not in str(model):
            continue
        dat = model.with_suffix(".dat")
        out.append((model, dat if dat.exists() else None))
    world3 = SHARED / "large-models" / "wrld3-03.mdl"
    if world3.exists() and (not only or only in "wrld3-03"):
        out.append((world3, None))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite", action="store_true", help="also the SDXorg suite's .mdl files")
    ap.add_argument("--only", help="models whose path contains this text")
    args = ap.parse_args()
    totals: dict[str, dict[str, int]] = {}
    rows = [(m, d, "sde") for m, d in sde_models(args.only)]
    root = suite_root()
    if args.suite and root is not None:
        rows += [(c.model, c, "suite") for c in cases(root) if c.format == ".mdl"
                 and (not args.only or args.only in c.name)]
    for model, ref, group in rows:
        line = [str(model.relative_to(SHARED))[:60].ljust(60)]
        for parser in ("own", "pysd"):
            os.environ["SDMODELS_MDL_PARSER"] = parser
            t0 = time.perf_counter()
            parsed = parses(model, parser)
            if isinstance(ref, Case):
                from sdmodels.interop.runcase import run_case
                out = run_case(ref)
                status, detail = out.status, out.detail
            elif ref is not None:
                status, detail = run_dat(model, ref)
            else:
                status, detail = ("parsed" if parsed else "unparsed"), ""
            count = totals.setdefault(f"{group}/{parser}", {})
            count[status] = count.get(status, 0) + 1
            count["parses"] = count.get("parses", 0) + parsed
            line.append(f"{parser}: {'P' if parsed else '-'} {status:<11} "
                        f"{time.perf_counter() - t0:6.1f}s {detail[:70]}")
        print(" | ".join(line), flush=True)
    print()
    for key, count in sorted(totals.items()):
        print(f"{key:<12} " + ", ".join(f"{k} {v}" for k, v in sorted(count.items())))


if __name__ == "__main__":
    main()
