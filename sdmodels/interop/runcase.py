"""Run one conformance case through sdmodels: import, build, simulate, compare."""
from __future__ import annotations

import time
import warnings


from sdmodels.errors import ImportModelError, SDModelsError
from sdmodels.interop.conformance import (ATOL, Case, Outcome, column_key, compare,
                                          load_output)


def run_case(case: Case, *, time_label: str | None = "time", expected=None,
             tol: float | None = None, atol: float = ATOL) -> Outcome:
    """Import and run `case` with our engine and compare to its canonical output.

    'unsupported' means the importer refused the model with an ImportModelError;
    `time_label` as in load_output (None for a Stella export of the output); `expected`
    a reference frame already read (the corpus's .dat files), `tol`/`atol` the tolerances
    (default: the case's own and the suite's).
    """
    from sdmodels.interop import import_model
    from sdmodels.ir import build
    from sdmodels.simulate import simulate
    from sdmodels.elements import Lookup
    t0 = time.perf_counter()
    try:
        if expected is None:
            expected = load_output(case.output, time_label=time_label)
    except Exception as exc:   # a broken reference file
        return Outcome("fail", detail=f"reference output unreadable: {exc}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = import_model(case.model, data_files=case.data_files) if \
                case.data_files else import_model(case.model)
            ir = build(model)
    except ImportModelError as exc:
        return Outcome("unsupported", detail=str(exc), seconds=time.perf_counter() - t0)
    except SDModelsError as exc:
        return Outcome("fail", detail=f"build: {exc}", seconds=time.perf_counter() - t0)
    known = set()
    for v in ir.variables.values():
        if v.internal or isinstance(v, Lookup):
            continue
        known.add(column_key(v.display))
    times = expected.index.to_numpy(dtype=float)
    times = times[(times >= ir.start - 1e-9) & (times <= ir.stop + 1e-9)]
    try:
        results = simulate(ir, times=times if times.size else None)
    except SDModelsError as exc:
        return Outcome("fail", detail=f"run: {exc}", seconds=time.perf_counter() - t0)
    frame = results.to_pandas()
    outcome = compare(expected, frame, known=known, tol=case.tolerance if tol is None else tol,
                      atol=atol)
    outcome.seconds = time.perf_counter() - t0
    return outcome
