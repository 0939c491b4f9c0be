"""Run a recursive tree pass on models whose expressions nest deeper than Python's default.

Expression passes (build's transforms, the tape writer) recurse once or a few times per
level of nesting; a model with a thousand nested IF THEN ELSE exceeds the default limit of
1,000 frames. `deep_call` first tries the call as it is and, on RecursionError, runs it again
in a thread with a 512 MB stack and a recursion limit to match, so the cost falls only on
such models and no pass has to be rewritten as a loop.
"""
from __future__ import annotations

import sys
import threading

_STACK = 512 * 1024 * 1024
_LIMIT = 200_000
_GUARD = threading.Lock()


def deep_call(fn, *args, **kwargs):
    """fn(*args, **kwargs), retried with a deep stack if it overflows the default one.

    >>> deep_call(sum, [1, 2, 3])
    6
    """
    try:
        return fn(*args, **kwargs)
    except RecursionError:
        pass
    box: dict = {}

    def target():
        try:
            box["value"] = fn(*args, **kwargs)
        except BaseException as exc:     # handed back to the caller's thread below
            box["error"] = exc

    with _GUARD:
        old_stack, old_limit = threading.stack_size(), sys.getrecursionlimit()
        threading.stack_size(_STACK)
        sys.setrecursionlimit(max(old_limit, _LIMIT))
        try:
            worker = threading.Thread(target=target, name="sdmodels-deep")
            worker.start()
            worker.join()
        finally:
            threading.stack_size(old_stack)
            sys.setrecursionlimit(old_limit)
    if "error" in box:
        raise box["error"]
    return box["value"]
