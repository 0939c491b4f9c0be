"""The one interpreter that runs every model's instruction tape (see sdmodels/tape.py).

Compiled once by numba for all models and cached with the package (cache=True), so a new or
edited model pays only for writing its tape. Its semantics are the generated kernel's
(sdmodels/compile.py), step by step: the same operations in the same order on the same
float64 values, the same numba helpers, and one random stream per run seeded with seeds[r];
tests/test_engine_interpreter.py checks the two against each other.

An instruction is a row (op, dst, a, b, c) of int64: registers are indices into one float64
array R laid out by the tape (state x | RK4 stage stocks y | RK4 stage values z | time, dt,
time epsilon | sample-hold clocks | temporaries | constants). Multi-argument calls keep their
argument registers in the `extra` array, `a` or `b` pointing at them. The interpreter reads the
rows as uint32 (a copy made once a call): an unsigned index needs no test for a negative one
(numba's wraparound), which with the flat dispatch (one jump table, no range tests) made an
instruction about a quarter cheaper. The copy is flat (row pc at words 5 pc .. 5 pc + 4, no
stride read from the array) and pc is unsigned too; the small arrays the steps loop over are
made contiguous. The build (sdmodels/_aot.py) turns LLVM's tail merging off: it merged the
store `R[d] = value` that ends most handlers into one block, a second jump an instruction.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from sdmodels._opcodes import (ABS, ADD, ATAN, BNORM, BUF_DELAY, BUF_INIT, BUF_MAX, CEIL, CLOCK,
                               COS, DIV, DL_READ, DL_WRITE, DUE, EQ, EXP, FLOOR, FUSED, GE, GT,
                               HOLD, JMP, JNDUE, JNEQ, JNGE, JNGT, JNLE, JNLT, JNNE, JNZ, JZ, LE,
                               LN, LOG10, LOGB, LOOKUP, LT, MAX, MIN, MOD, MOV, MUL, NE, NE0, NEG,
                               NOT, POW, PULSE_TRAIN, RAMP, REDUCE, REXP, RNORM, ROLL, ROUND, RUNIF,
                               SELECT, SIN, SQRT, STEP, SUB, TAN, TRUNC, VECTOR)
from sdmodels._opcodes import DL_SCHEDULE
from sdmodels._fused import fused
from sdmodels._runtime import bounded_normal, lookup, pulse_train, ramp, window_extreme
from sdmodels._vectors import (allocate_available, allocate_by_priority, erlang_b, vector_rank,
                               vector_reorder, vector_select, vector_sort_order)


@njit(cache=True, nogil=True)
def _vector(fn, p, R, ex):
    """One element of an array built-in, or Erlang B (fn 6: two leading scalars, no vector);
    ex[p:] = lead count, lead regs, count, size, regs."""
    nl = ex[p]
    a0 = R[ex[p + 1]]
    a1 = R[ex[p + 2]] if nl > 1 else 0.0
    if fn == 6:
        return erlang_b(a0, a1)
    a2 = R[ex[p + 3]] if nl > 2 else 0.0
    q = p + 1 + nl
    size = ex[q + 1]
    v = q + 2
    if fn == 0:
        return allocate_by_priority(a0, a1, a2, R, ex[v:v + size], R, ex[v + size:v + 2 * size])
    if fn == 1:
        return allocate_available(a0, a1, R, ex[v:v + size], R, ex[v + size:v + 2 * size],
                                  R, ex[v + 2 * size:v + 3 * size],
                                  R, ex[v + 3 * size:v + 4 * size])
    if fn == 2:
        return vector_sort_order(a0, a1, R, ex[v:v + size])
    if fn == 3:
        return vector_rank(a0, a1, R, ex[v:v + size])
    if fn == 4:
        return vector_reorder(a0, R, ex[v:v + size])
    return vector_select(a0, a1, R, ex[v:v + size], R, ex[v + size:v + 2 * size])


# the finiteness probe: (bits & _EXPONENT) + _EXPONENT_ONE reaches the sign bit only when
# every exponent bit is set (a NaN or an infinity)
_ZERO, _SIGN = np.uint64(0), np.uint64(1 << 63)
_EXPONENT, _EXPONENT_ONE = np.uint64(0x7FF << 52), np.uint64(1 << 52)

@njit(cache=True, nogil=True)
def _odd(R, n):
    """Whether R[:n] holds a NaN or an infinity: one integer OR over the values' bits
    (contiguous: vectorised); (bits & _EXPONENT) + _EXPONENT_ONE reaches the sign bit only
    when every exponent bit is set."""
    bits = R.view(np.uint64)
    acc = _ZERO
    for i in range(n):
        acc |= (bits[i] & _EXPONENT) + _EXPONENT_ONE
    return acc >= _SIGN


# a row's words in the flat code array, as unsigned offsets (no wraparound test)
_ROW, _1, _2, _3, _4 = np.uint64(5), np.uint64(1), np.uint64(2), np.uint64(3), np.uint64(4)

# what _run does when the segment it runs ends
_START, _HOISTS, _STAGE1, _STAGE2, _STAGE3, _STAGE4, _PIPELINES, _SAVED = range(8)


@njit(inline="always", nogil=True)
def _next(i, size):
    """(i + 1) % size for 0 <= i < size, without an integer division."""
    return 0 if i + 1 >= size else i + 1


@njit(inline="always", nogil=True)
def _schedule(buf, off, size, pos, value, steps, latest):
    """A Schedule's write (op DL_SCHEDULE; the kernel writes the same lines): the slot just
    read is cleared, `value` goes `steps` slots ahead, replacing (`latest`) or added."""
    buf[off + pos] = 0.0
    if steps >= 1.0 and steps < size:
        j = pos + int(steps)
        j = j - size if j >= size else j
        buf[off + j] = value if latest else buf[off + j] + value


@njit(inline="always", nogil=True, error_model="numpy")
def _reduce(kind, R, ex, p):
    """Registers ex[p + 1:p + 1 + ex[p]] combined left to right by ARITH kind + * min max,
    each partial result a float64 as the chain of two-operand instructions stores it."""
    acc = R[ex[p + 1]]
    for i in range(p + 2, p + 1 + ex[p]):
        v = R[ex[i]]
        if kind == 0:
            acc = acc + v
        elif kind == 2:
            acc = acc * v
        elif kind == 4:
            acc = min(acc, v)
        else:
            acc = max(acc, v)
    return acc


@njit(cache=True, nogil=True)
def _roll(buf, start, size, count, w, v, want_max, dq, state, b):
    """Write `v` at `w` in a rolling buffer of `size` slots holding `count` values, and return
    the window's max (or min): window_extreme's value, kept in O(1) a step (amortised).

    A monotone deque of buffer positions (dq[start:start + size]; state[b] = head, length,
    and how many NaNs or negative zeros the window holds) keeps the candidates, best first: a
    new value drops those behind it that it beats or ties, the front leaves with its slot.
    While the window holds a NaN or a -0.0 (beside +0.0 the scan's order decides which zero
    it returns), the window is scanned as before (window_extreme), so every value equals the
    full scan's bit for bit.
    """
    if count == size:                         # the oldest value leaves with its slot
        old = buf[start + w]
        if old != old or (old == 0.0 and math.copysign(1.0, old) < 0.0):
            state[b, 2] -= 1
        if state[b, 1] > 0 and dq[start + state[b, 0]] == w:
            state[b, 0] = (state[b, 0] + 1) % size
            state[b, 1] -= 1
    buf[start + w] = v
    if v != v or (v == 0.0 and math.copysign(1.0, v) < 0.0):
        state[b, 2] += 1
    while state[b, 1] > 0:
        back = buf[start + dq[start + (state[b, 0] + state[b, 1] - 1) % size]]
        if (back <= v) if want_max else (back >= v):
            state[b, 1] -= 1
        else:
            break
    dq[start + (state[b, 0] + state[b, 1]) % size] = w
    state[b, 1] += 1
    n = min(count + 1, size)
    if state[b, 2] > 0:
        return window_extreme(buf[start:start + n], n, want_max)
    return buf[start + dq[start + state[b, 0]]]


@njit(cache=True, nogil=True, error_model="numpy")
def _derivatives(R, base, stocks, fptr, fidx, fsgn, out):
    """Net flow of every stock (inflows then outflows, left to right, as the kernel adds)."""
    for j in range(stocks.shape[0]):
        p0 = fptr[j]
        p1 = fptr[j + 1]
        if p0 == p1:
            out[j] = 0.0
            continue
        v = R[base + fidx[p0]]
        acc = v if fsgn[p0] > 0 else -v
        for p in range(p0 + 1, p1):
            v = R[base + fidx[p]]
            acc = acc + v if fsgn[p] > 0 else acc - v
        out[j] = acc


@njit(inline="always", nogil=True, error_model="numpy")
def _shift(R, n, stocks, slope, h):
    """An RK4 stage's stocks y = x + h k (h = dt / 2 or dt; (0.5 * dt) * k as the kernel)."""
    for j in range(stocks.shape[0]):
        R[n + stocks[j]] = R[stocks[j]] + h * slope[j]


@njit(cache=True, nogil=True, error_model="numpy")
def _run(r, code, seg, R, ex, treg, LX, LY, LOFF, LLEN, LEXT, bkind, CHECK, n, stocks,
         fptr, fidx, fsgn, nonneg, rk4, start, dt, n_steps, save_steps, save_slots, out, status,
         k1, k2, k3, k4, dd):
    """Run r from its start values (set in R) to its last step: every segment of the tape
    through one dispatch loop, a phase saying which segment ends next and what follows it
    (start values -> subtrees of constants -> buffers laid out -> per step: stage 1, checks
    and saving, RK4 stages 2-4, pipeline writes, the stocks' update). A call a segment cost
    ~90 ns of argument passing: a third of a thundering_herd step. The values only saving
    reads (seg[10:12]) run after stage 1 on the steps saved and the last, before the check."""
    nb = bkind.shape[0]
    ns = stocks.shape[0]
    n_save = save_steps.shape[0]
    boff = np.zeros(nb, dtype=np.int64)
    blen = np.ones(nb, dtype=np.int64)
    bpos = np.zeros(nb, dtype=np.int64)
    bcnt = np.zeros(nb, dtype=np.int64)
    dq = np.empty(0, dtype=np.int64)        # rolling windows: deques of buffer positions,
    dstate = np.zeros((nb, 3), dtype=np.int64)   # their head, length, NaNs and zeros
    buf = np.empty(0)
    teps = R[treg + 2]
    phase = _START
    k = 0
    si = 0
    t = start
    th = t + 0.5 * dt
    tf = t + dt
    pc = np.uint64(seg[0])
    hi = np.uint64(seg[1])
    while True:
        while pc < hi:
            i = np.uint64(pc) * _ROW
            op = code[i]
            d = code[i + _1]
            a = code[i + _2]
            b = code[i + _3]
            pc += _1
            if op == MOV:
                R[d] = R[a]
            elif op == ADD:
                R[d] = R[a] + R[b]
            elif op == SUB:
                R[d] = R[a] - R[b]
            elif op == MUL:
                R[d] = R[a] * R[b]
            elif op == DIV:
                R[d] = R[a] / R[b]
            elif op == POW:
                R[d] = R[a] ** R[b]
            elif op == LT:
                R[d] = 1.0 if R[a] < R[b] else 0.0
            elif op == LE:
                R[d] = 1.0 if R[a] <= R[b] else 0.0
            elif op == GT:
                R[d] = 1.0 if R[a] > R[b] else 0.0
            elif op == GE:
                R[d] = 1.0 if R[a] >= R[b] else 0.0
            elif op == EQ:
                R[d] = 1.0 if R[a] == R[b] else 0.0
            elif op == NE:
                R[d] = 1.0 if R[a] != R[b] else 0.0
            elif op == NEG:
                R[d] = -R[a]
            elif op == NOT:
                R[d] = 1.0 if R[a] == 0.0 else 0.0
            elif op == NE0:
                R[d] = 1.0 if R[a] != 0.0 else 0.0
            elif op == JMP:
                pc = np.uint64(a)
            elif op == JZ:
                if R[a] == 0.0:
                    pc = np.uint64(b)
            elif op == JNZ:
                if R[a] != 0.0:
                    pc = np.uint64(b)
            elif op == SELECT:
                R[d] = R[b] if R[a] != 0.0 else R[code[i + _4]]
            elif op == STEP:
                R[d] = R[b] if R[treg] + teps >= R[a] else 0.0
            elif op == JNLT:        # compare and jump: to c unless R[a] <op> R[b]
                if not R[a] < R[b]:
                    pc = np.uint64(code[i + _4])
            elif op == JNLE:
                if not R[a] <= R[b]:
                    pc = np.uint64(code[i + _4])
            elif op == JNGT:
                if not R[a] > R[b]:
                    pc = np.uint64(code[i + _4])
            elif op == JNGE:
                if not R[a] >= R[b]:
                    pc = np.uint64(code[i + _4])
            elif op == JNEQ:
                if not R[a] == R[b]:
                    pc = np.uint64(code[i + _4])
            elif op == JNNE:
                if not R[a] != R[b]:
                    pc = np.uint64(code[i + _4])
            elif op == JNDUE:
                if not R[treg] + teps >= R[a]:
                    pc = np.uint64(code[i + _4])
            elif op == ABS:
                R[d] = abs(R[a])
            elif op == EXP:
                R[d] = np.exp(R[a])
            elif op == LN:
                R[d] = np.log(R[a])
            elif op == SQRT:
                R[d] = np.sqrt(R[a])
            elif op == FLOOR:
                R[d] = np.floor(R[a])
            elif op == CEIL:
                R[d] = np.ceil(R[a])
            elif op == TRUNC:
                R[d] = np.trunc(R[a])
            elif op == SIN:
                R[d] = np.sin(R[a])
            elif op == COS:
                R[d] = np.cos(R[a])
            elif op == TAN:
                R[d] = np.tan(R[a])
            elif op == ATAN:
                R[d] = np.arctan(R[a])
            elif op == LOG10:
                R[d] = np.log10(R[a])
            elif op == ROUND:
                R[d] = np.floor(R[a] + 0.5)
            elif op == REXP:
                R[d] = np.random.exponential(R[a])
            elif op == MOD:
                R[d] = np.mod(R[a], R[b])
            elif op == MIN:
                R[d] = min(R[a], R[b])
            elif op == MAX:
                R[d] = max(R[a], R[b])
            elif op == LOGB:
                R[d] = np.log(R[a]) / np.log(R[b])
            elif op == RUNIF:
                R[d] = np.random.uniform(R[a], R[b])
            elif op == RNORM:
                R[d] = np.random.normal(R[a], R[b])
            elif op == PULSE_TRAIN:
                R[d] = pulse_train(R[treg], R[ex[a]], R[ex[a + 1]], R[ex[a + 2]], R[ex[a + 3]],
                                   dt, teps)
            elif op == RAMP:
                R[d] = ramp(R[treg], R[ex[a]], R[ex[a + 1]], R[ex[a + 2]], ex[a + 3] != 0)
            elif op == BNORM:
                R[d] = bounded_normal(R[ex[a]], R[ex[a + 1]], R[ex[a + 2]], R[ex[a + 3]])
            elif op == LOOKUP:
                R[d] = lookup(R[a], LX, LY, LOFF[b], LLEN[b], LEXT[b] != 0)
            elif op == VECTOR:
                R[d] = _vector(a, b, R, ex)
            elif op == REDUCE:
                R[d] = _reduce(b, R, ex, a)
            elif op == DL_READ:
                R[d] = buf[boff[b] + bpos[b]]
            elif op == DL_WRITE:
                buf[boff[b] + bpos[b]] = R[a]
                bpos[b] = _next(bpos[b], blen[b])
            elif op == ROLL:
                w = bpos[b]
                R[d] = _roll(buf, boff[b], blen[b], bcnt[b], w, R[a], bkind[b] == BUF_MAX, dq,
                             dstate, b)
                bpos[b] = _next(w, blen[b])
                bcnt[b] = min(bcnt[b] + 1, blen[b])
            elif op == CLOCK:
                while R[d] <= R[treg] + teps:
                    R[d] = R[d] + max(R[a], dt)
            elif op == BUF_INIT:    # length from R[a], filled later with R[d]
                if bkind[b] == BUF_DELAY:
                    blen[b] = max(1, int(np.floor(R[a] / dt + 0.5)))
                else:
                    blen[b] = int(np.floor(R[a] / dt + 0.5)) + 1
                boff[b] = d        # the fill register, until the buffers are laid out
            elif op == DUE:         # a sampler due: its clock moves past now, then its input
                now = R[treg] + teps
                if now >= R[d]:
                    while R[d] <= now:
                        R[d] = R[d] + max(R[a], dt)
                else:
                    pc = np.uint64(code[i + _4])
            elif op == HOLD:        # a sampler of a register, due: the value, then the clock
                now = R[treg] + teps
                if now >= R[b]:
                    R[d] = R[a]
                    c = code[i + _4]
                    while R[b] <= now:
                        R[b] = R[b] + max(R[c], dt)
            elif op == DL_SCHEDULE:
                _schedule(buf, boff[b], blen[b], bpos[b], R[a], R[code[i + _4]], d != 0)
                bpos[b] = _next(bpos[b], blen[b])
            else:                  # FUSED + k: two arithmetic operations, the inner not stored
                R[d] = fused(op - FUSED, R, a, b, code[i + _4])
        if phase == _START:                 # then the subtrees of constants, once a run
            phase = _HOISTS
            pc = np.uint64(seg[8])
            hi = np.uint64(seg[9])
        elif phase == _HOISTS:              # then the buffers, filled with their start values
            total = 0
            for i in range(nb):
                total += blen[i]
            buf = np.empty(total)
            dq = np.empty(total, dtype=np.int64)
            at = 0
            for i in range(nb):
                buf[at:at + blen[i]] = R[boff[i]]
                boff[i] = at
                at += blen[i]
            R[treg] = t
            phase = _STAGE1
            pc = np.uint64(seg[2])
            hi = np.uint64(seg[3])
        elif phase == _STAGE1 or phase == _SAVED:   # step k's values: check, save, derivatives
            if phase == _STAGE1 and seg[10] < seg[11] and (
                    k == n_steps or (si < n_save and save_steps[si] == k)):
                phase = _SAVED              # first the values only saving reads
                pc = np.uint64(seg[10])
                hi = np.uint64(seg[11])
                continue
            odd = _odd(R, n)        # on a hit, the checked values in the kernel's order
            for q in range(CHECK.shape[0] if odd else 0):
                if not np.isfinite(R[CHECK[q]]):
                    status[r, 0] = k
                    status[r, 1] = CHECK[q]
                    status[r, 2] = 1 if R[CHECK[q]] != R[CHECK[q]] else 2
                    return
            if si < n_save and save_steps[si] == k:
                for j in range(save_slots.shape[0]):
                    out[r, si, j] = R[save_slots[j]]
                si += 1
            if k == n_steps:
                return
            if not rk4:
                _derivatives(R, 0, stocks, fptr, fidx, fsgn, dd)
                phase = _PIPELINES
                pc = np.uint64(seg[6])
                hi = np.uint64(seg[7])
            else:
                _derivatives(R, 0, stocks, fptr, fidx, fsgn, k1)
                _shift(R, n, stocks, k1, 0.5 * dt)
                R[treg] = th
                phase = _STAGE2
                pc = np.uint64(seg[4])
                hi = np.uint64(seg[5])
        elif phase < _STAGE4:               # RK4 stage 2 or 3: the next stage's stocks
            slope = k2 if phase == _STAGE2 else k3
            _derivatives(R, 2 * n, stocks, fptr, fidx, fsgn, slope)
            _shift(R, n, stocks, slope, 0.5 * dt if phase == _STAGE2 else dt)
            if phase == _STAGE3:
                R[treg] = tf
            phase += 1
            pc = np.uint64(seg[4])
            hi = np.uint64(seg[5])
        elif phase == _STAGE4:
            _derivatives(R, 2 * n, stocks, fptr, fidx, fsgn, k4)
            for j in range(ns):
                dd[j] = (k1[j] + 2.0 * k2[j] + 2.0 * k3[j] + k4[j]) / 6.0
            R[treg] = t
            phase = _PIPELINES
            pc = np.uint64(seg[6])
            hi = np.uint64(seg[7])
        else:                               # pipelines written: the stocks, then step k + 1
            for j in range(ns):
                s = stocks[j]
                v = R[s] + dt * dd[j]
                R[s] = max(0.0, v) if nonneg[j] else v
            k += 1
            t = start + k * dt
            th = t + 0.5 * dt
            tf = t + dt
            R[treg] = t
            phase = _STAGE1
            pc = np.uint64(seg[2])
            hi = np.uint64(seg[3])


@njit(cache=True, nogil=True, error_model="numpy")
def interpret(P, PS, CHECK, LX, LY, LOFF, LLEN, LEXT, code, ex, seg, R0, treg, n, stocks, fptr,
              fidx, fsgn, nonneg, bkind, rk4, start, dt, n_steps, save_steps, save_slots, out,
              seeds, status):
    """Advance every run in P (runs x params) through the tape; saves into `out` as a kernel."""
    ns = stocks.shape[0]
    R = np.empty(R0.shape[0])
    k1 = np.zeros(ns)
    k2 = np.zeros(ns)
    k3 = np.zeros(ns)
    k4 = np.zeros(ns)
    dd = np.zeros(ns)
    code = code.astype(np.uint32).ravel()    # operands unsigned: no wraparound test
    # contiguous copies (the entry point takes arrays of any layout): indexing them needs
    # no stride, the per-step loops over stocks, flows and checks stay simple
    stocks, fptr, fidx, fsgn = (np.ascontiguousarray(stocks), np.ascontiguousarray(fptr),
                                np.ascontiguousarray(fidx), np.ascontiguousarray(fsgn))
    nonneg, CHECK, seg = (np.ascontiguousarray(nonneg), np.ascontiguousarray(CHECK),
                          np.ascontiguousarray(seg))
    save_steps, save_slots = np.ascontiguousarray(save_steps), np.ascontiguousarray(save_slots)
    ex, bkind = np.ascontiguousarray(ex), np.ascontiguousarray(bkind)
    for r in range(P.shape[0]):
        np.random.seed(seeds[r])
        R[:] = R0
        R[treg + 1] = dt
        R[treg + 2] = dt * 1e-6
        for c in range(PS.shape[0]):
            R[PS[c]] = P[r, c]
        R[treg] = start
        _run(r, code, seg, R, ex, treg, LX, LY, LOFF, LLEN, LEXT, bkind, CHECK, n,
             stocks, fptr, fidx, fsgn, nonneg, rk4, start, dt, n_steps, save_steps, save_slots,
             out, status, k1, k2, k3, k4, dd)
