"""Opcodes of the interpreter's instruction tape (sdmodels/tape.py writes, _interpreter runs).

Kept apart from sdmodels/_interpreter.py so that writing a tape does not import numba.
"""
MOV, ADD, SUB, MUL, DIV, POW = 0, 1, 2, 3, 4, 5
LT, LE, GT, GE, EQ, NE = 6, 7, 8, 9, 10, 11
NEG, NOT, NE0 = 12, 13, 14
JMP, JZ, JNZ = 15, 16, 17
ABS, EXP, LN, SQRT, FLOOR, CEIL, TRUNC, SIN, COS, TAN, ATAN, LOG10, ROUND, REXP = range(20, 34)
MOD, MIN, MAX, LOGB, RUNIF, RNORM = range(40, 46)
PULSE_TRAIN, RAMP, BNORM, LOOKUP, VECTOR = 50, 51, 52, 53, 54
DL_READ, DL_WRITE, ROLL, BUF_INIT = 60, 61, 62, 63
# vector built-ins, by position (sdmodels.expr.VECTOR_FUNCTIONS names them)
VECTOR_IDS = {"allocate_by_priority": 0, "allocate_available": 1, "vector_sort_order": 2,
              "vector_rank": 3, "vector_reorder": 4, "vector_select": 5}
BUF_DELAY, BUF_MAX, BUF_MIN = 0, 1, 2       # buffer kinds: pipeline, rolling max / min
