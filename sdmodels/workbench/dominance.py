"""Loop dominance for the page: which loop drives the behaviour at each time, read through
whatever loop-dominance function `sdmodels.analysis` offers (Loops That Matter relative loop
scores: `dominance(model, loops=LoopSet, params=...)` -> an object whose `relative` is a
DataFrame, time x loop id, with values in [-1, 1]).

When `sdmodels.analysis` has no such function, `available()` is False: the page hides its
"colour by dominant loop" control and the loop table's importance column stays empty.

>>> available() in (True, False)
True
"""
from __future__ import annotations

import importlib
import types

import numpy as np


def dominance_function():
    """`sdmodels.analysis`'s loop dominance function, or None when this build has none."""
    try:
        analysis = importlib.import_module("sdmodels.analysis")
    except ImportError:
        return None
    fn = getattr(analysis, "dominance", None)
    if isinstance(fn, types.ModuleType):           # the module, not re-exported
        fn = getattr(fn, "dominance", None)
    return fn if callable(fn) else None


def available() -> bool:
    """Whether loop dominance can be computed here."""
    return dominance_function() is not None


def loop_dominance(model, loops, params: dict[str, float]) -> dict | None:
    """The page's view of one run's loop dominance, or None when unavailable:
    {"times", "loops" (ids), "relative" {id: [score per time]}, "dominant" [id or None per
    time: the loop with the largest |relative score|], "importance" {id: mean |relative|}}.
    """
    fn = dominance_function()
    if fn is None:
        return None
    relative = fn(model, loops=loops, params=params).relative
    ids = [str(c) for c in relative.columns]
    scores = np.nan_to_num(relative.to_numpy(dtype=float))
    strongest = np.abs(scores).argmax(axis=1) if ids else np.zeros(len(scores), dtype=int)
    dominant = [ids[k] if ids and abs(row[k]) > 0 else None
                for k, row in zip(strongest, scores)]
    return {"times": relative.index.to_numpy(dtype=float).tolist(), "loops": ids,
            "relative": {i: scores[:, k].tolist() for k, i in enumerate(ids)},
            "dominant": dominant,
            "importance": {i: float(np.abs(scores[:, k]).mean()) if len(scores) else 0.0
                           for k, i in enumerate(ids)}}
