"""Compiled built-ins that generated kernels and the interpreter call: the array ones
(allocation, sorting, selection) and Erlang B (a loop over up to 64 levels).

Each returns one element of an array-valued result: the kernel calls it once per element
of the variable being defined. A vector argument comes as a pair (array, index array) and
means array[index]: the kernel passes its state array and a constant index array, so that a
call allocates nothing in the kernel (gathering x[index] at each of hundreds of call sites
took numba minutes to compile; the pairs take seconds). Vectors are short (the subscript
ranges of a model), so the repeated work per element is cheap.
"""
from __future__ import annotations

import math

import numpy as np
from sdmodels.kernel_cache import njit
from sdmodels.queueing import CAP_EVERY, MAX_EXACT, MAX_FACTOR, MAX_RECIPROCAL, MIN_LOAD

_SETTLE = 1e-12     # relative gap under which a target counts as filled / started


@njit(cache=True, nogil=True)
def allocate_by_priority(k, width, supply, rv, ri, pv, pi):
    """Element k of Vensim's ALLOCATE BY PRIORITY(request, priority, size, width, supply).

    Supply goes first to the highest priority; a target starts receiving when the one above
    it has received (priority gap / width, at most 1) times its request, and active targets
    share in proportion to their requests (pysd's allocation._allocate_by_priority_1d, whose
    steps this follows, with tolerances instead of exact float equality).
    """
    request, priority = rv[ri], pv[pi]
    k, n = int(k), request.shape[0]
    if width <= 0.0 or supply < 0.0 or request.min() < 0.0:
        return np.nan       # Vensim refuses these: the run stops naming the variable
    if supply >= request.sum():
        return request[k]
    if supply <= 0.0 or request[k] <= 0.0:
        return 0.0
    order = np.argsort(-priority, kind="mergesort")
    kept = np.empty(n, dtype=np.int64)
    m = 0
    for i in order:
        if request[i] > 0.0:
            kept[m] = i
            m += 1
    req = np.empty(m)
    start = np.full(m, np.inf)
    for j in range(m):
        req[j] = request[kept[j]]
        if j < m - 1:
            gap = (priority[kept[j]] - priority[kept[j + 1]]) / width
            start[j] = min(gap, 1.0) * req[j]
    out = np.zeros(m)
    active = np.zeros(m, dtype=np.bool_)
    active[0] = True
    current = 0
    for _ in range(4 * m + 4):
        if supply <= 0.0:
            break
        share = 0.0
        for j in range(m):
            if active[j]:
                share += req[j]
        if share <= 0.0:
            break
        dx = supply
        for j in range(m):
            if active[j]:
                dx = min(dx, (req[j] - out[j]) * share / req[j])
        dx_start = np.inf
        if current < m - 1 and active[current]:
            dx_start = (start[current] - out[current]) * share / req[current]
            dx = min(dx, dx_start)
        dx = max(dx, 0.0)
        for j in range(m):
            if active[j]:
                out[j] += req[j] / share * dx
                if out[j] >= req[j] * (1.0 - _SETTLE):
                    out[j] = req[j]
                    active[j] = False
        if current < m - 1 and (dx >= dx_start - _SETTLE * max(1.0, abs(dx_start))
                                or out[current] >= start[current] * (1.0 - _SETTLE)):
            current += 1
            active[current] = True
        supply -= dx
    for j in range(m):
        if kept[j] == k:
            return out[j]
    return 0.0


@njit(cache=True, nogil=True)
def _erf_vensim(z):
    """erf as Vensim's normal priority profile computes it: Abramowitz & Stegun 7.1.25
    (|error| < 2.5e-5). Vensim's ALLOCATE AVAILABLE output of SDEverywhere's allocate model
    matches it to 1e-5, where the exact erf is 0.7 % off in the far tail."""
    a = abs(z)
    t = 1.0 / (1.0 + 0.47047 * a)
    e = 1.0 - (0.3480242 * t - 0.0958798 * t * t + 0.7478556 * t * t * t) * math.exp(-a * a)
    return e if z >= 0.0 else -e


@njit(cache=True, nogil=True)
def _demand(q0, kind, priority, width, x):
    """How much of q0 a target with this priority profile takes at priority level x."""
    if q0 <= 0.0:
        return 0.0
    if kind == 1.0:        # rectangular
        if x <= priority - 0.5 * width:
            return q0
        if x < priority + 0.5 * width:
            return q0 * (1.0 - (x - priority + 0.5 * width) / width)
        return 0.0
    if kind == 2.0:        # triangular
        if x <= priority - 0.5 * width:
            return q0
        if x < priority:
            return q0 * (1.0 - 2.0 * (x - priority + 0.5 * width) ** 2 / width ** 2)
        if x < priority + 0.5 * width:
            return 2.0 * q0 * (priority + 0.5 * width - x) ** 2 / width ** 2
        return 0.0
    if kind == 3.0:        # normal
        return q0 * 0.5 * (1.0 + _erf_vensim((priority - x) / (math.sqrt(2.0) * width)))
    if kind == 4.0:        # exponential
        if x < priority:
            return q0 * (1.0 - 0.5 * math.exp((x - priority) / width))
        return q0 * 0.5 * math.exp((priority - x) / width)
    return np.nan          # 0 fixed quantity and 5 constant elasticity: not defined here


@njit(cache=True, nogil=True)
def allocate_available(k, avail, rv, ri, kv, ki, pv, pi, wv, wi):
    """Element k of Vensim's ALLOCATE AVAILABLE(request, pp, avail).

    Each target's demand curve (rectangular, triangular, normal or exponential in its
    priority profile) falls as the common priority level x rises; x is found by bisection so
    that the demands add up to what is available.
    """
    request, kind, priority, width = rv[ri], kv[ki], pv[pi], wv[wi]
    k, n = int(k), request.shape[0]
    if avail < 0.0 or request.min() < 0.0 or width.min() <= 0.0:
        return np.nan       # as above
    if avail >= request.sum():
        return request[k]
    if avail <= 0.0:
        return 0.0
    lo, hi = np.inf, -np.inf
    for i in range(n):
        if request[i] > 0.0:
            reach = 40.0 * width[i]
            lo = min(lo, priority[i] - reach)
            hi = max(hi, priority[i] + reach)
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        total = 0.0
        for i in range(n):
            total += _demand(request[i], kind[i], priority[i], width[i], mid)
        if total != total:
            return np.nan
        if total > avail:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-15 * max(1.0, abs(mid)):
            break
    return _demand(request[k], kind[k], priority[k], width[k], 0.5 * (lo + hi))


@njit(cache=True, nogil=True)
def vector_sort_order(k, direction, vv, vi):
    """Element k of VECTOR SORT ORDER: the 0-based index of the k-th value, ascending when
    direction > 0, else descending (ties keep their order, as a stable sort)."""
    order = np.argsort(vv[vi], kind="mergesort")
    if direction <= 0.0:
        order = order[::-1]
    return float(order[int(k)])


@njit(cache=True, nogil=True)
def vector_rank(k, direction, vv, vi):
    """Element k of VECTOR RANK: the 1-based place of values[k] in VECTOR SORT ORDER."""
    order = np.argsort(vv[vi], kind="mergesort")
    if direction <= 0.0:
        order = order[::-1]
    for place in range(order.shape[0]):
        if order[place] == int(k):
            return float(place + 1)
    return np.nan


@njit(cache=True, nogil=True)
def vector_reorder(index, vv, vi):
    """values[index] (VECTOR REORDER's element); NaN when the index is out of range."""
    i = int(round(index))
    if i < 0 or i >= vi.shape[0]:
        return np.nan
    return vv[vi[i]]


@njit(cache=True, nogil=True)
def vector_select(missing, action, sv, si, xv, xi):
    """VECTOR SELECT with a numerical action known only at run time (0-10, see
    sdmodels.interop.vensim_vectors.vector_select for their meaning)."""
    a = int(round(action))
    count = 0
    acc = 0.0
    if a in (1, 5, 7):
        acc = 1.0
    elif a in (2, 8):
        acc = np.inf
    elif a in (3, 9):
        acc = -np.inf
    for i in range(xi.shape[0]):
        s, x = sv[si[i]], xv[xi[i]]
        if s == 0.0:
            continue
        count += 1
        v = x if a >= 6 else (x ** s if a == 5 else s * x)
        if a in (0, 4, 6, 10):
            acc += v
        elif a in (1, 5, 7):
            acc *= v
        elif a in (2, 8):
            acc = min(acc, v)
        elif a in (3, 9):
            acc = max(acc, v)
        else:
            return np.nan
    if count == 0:
        return missing
    if a in (4, 10):
        return acc / count
    return acc


@njit(cache=True, nogil=True, error_model="numpy")
def erlang_b(servers, load):
    """Erlang B(servers, load), the built-in `erlang_b`: sdmodels.queueing.recursion's
    operations in its order, as one loop (the same floats as its expanded tree).

    A server count n <= MAX_EXACT starts from R = 1, and each level at k <= 0 keeps R at 1
    (1 + (0 / a) R with R = 1), so the loop starts at the first level with k = 1; a NaN
    server count or load runs every level, as the tree does.
    """
    a = max(load, MIN_LOAD)
    s = max(servers, 0.0)
    n = np.floor(s)
    k0 = max(0.0, n - MAX_EXACT)
    r = a / max(a - k0, np.sqrt(a)) if k0 > 0.0 else 1.0
    first = 1
    if n >= 0.0 and n <= MAX_EXACT and a == a:
        first = MAX_EXACT + 1 - int(n)
    for j in range(first, MAX_EXACT + 1):
        r = 1.0 + min(max(n + float(j - MAX_EXACT), 0.0) / a, MAX_FACTOR) * r
        if j % CAP_EVERY == 0:
            r = min(r, MAX_RECIPROCAL)
    b = 1.0 / r
    return b + (s - n) * (a * b / (n + 1.0 + a * b) - b)
