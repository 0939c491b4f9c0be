"""Opcodes of the interpreter's instruction tape (sdmodels/tape.py writes, _interpreter runs).

Kept apart from sdmodels/_interpreter.py so that writing a tape does not import numba.
A row is (op, dst, a, b, c); `c` is a third operand (SELECT's else value) or the target of a
fused compare-and-jump. Opcodes group by tens (the interpreter dispatches them through one
jump table, the FUSED ones last).
"""
MOV, ADD, SUB, MUL, DIV, POW = 0, 1, 2, 3, 4, 5
LT, LE, GT, GE, EQ, NE = 6, 7, 8, 9, 10, 11
NEG, NOT, NE0 = 12, 13, 14
JMP, JZ, JNZ = 15, 16, 17
SELECT = 18          # R[d] = R[b] if R[a] != 0 else R[c]
STEP = 19            # R[d] = R[b] if t + time epsilon >= R[a] else 0 (STEP of a register)
JNLT, JNLE, JNGT, JNGE, JNEQ, JNNE = range(20, 26)   # jump to c unless R[a] <op> R[b]
JNDUE = 26           # jump to c unless t + time epsilon >= R[a] (STEP, PULSE, a sampler due)
ABS, EXP, LN, SQRT, FLOOR, CEIL, TRUNC, SIN, COS, TAN, ATAN, LOG10, ROUND, REXP = range(30, 44)
MOD, MIN, MAX, LOGB, RUNIF, RNORM = range(50, 56)
PULSE_TRAIN, RAMP, BNORM, LOOKUP, VECTOR = 60, 61, 62, 63, 64
REDUCE = 65          # R[d] = R[r1] <b> R[r2] <b> ... left to right; ex[a] = count, r1, r2, ...
DL_READ, DL_WRITE, ROLL, BUF_INIT = 70, 71, 72, 73
CLOCK = 74           # while R[d] <= t + time epsilon: R[d] += max(R[a], dt) (a sampler's clock)
# samplers whose period is in a register (sdmodels/tape.py _sample)
DUE = 80             # jump to c unless t + time epsilon >= R[d]; else CLOCK d, a
HOLD = 81            # if t + time epsilon >= R[b]: R[d] = R[a], then CLOCK b, c
# a Schedule's write (elements.Schedule): clear buffer b's slot just read, put R[a] R[c] slots
# ahead (added to it, or replacing it when d is 1; dropped unless 1 <= R[c] < length), move on
DL_SCHEDULE = 75
# FUSED + side * 36 + outer * 6 + inner: R[d] = outer(inner(R[a], R[b]), R[c]) (side 0) or
# outer(R[c], inner(R[a], R[b])) (side 1); inner and outer index ARITH
FUSED = 100
ARITH = {"+": 0, "-": 1, "*": 2, "/": 3, "min": 4, "max": 5}
JUMP_UNLESS = {"<": JNLT, "<=": JNLE, ">": JNGT, ">=": JNGE, "=": JNEQ, "<>": JNNE}
# vector built-ins, by position (sdmodels.expr.VECTOR_FUNCTIONS names them), and Erlang B (two
# leading scalars, no vector: sdmodels/_vectors.py erlang_b)
VECTOR_IDS = {"allocate_by_priority": 0, "allocate_available": 1, "vector_sort_order": 2,
              "vector_rank": 3, "vector_reorder": 4, "vector_select": 5, "erlang_b": 6}
BUF_DELAY, BUF_MAX, BUF_MIN = 0, 1, 2       # buffer kinds: pipeline, rolling max / min
