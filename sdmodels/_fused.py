"""FUSED instructions of the interpreter: two arithmetic operations in one dispatch.

Opcode FUSED + k, k = side * 36 + outer * 6 + inner (inner and outer index
sdmodels._opcodes.ARITH: + - * / min max): side 0 computes outer(inner(R[a], R[b]), R[c]),
side 1 outer(R[c], inner(R[a], R[b])). Each k is written out as its own straight-line case
(one jump through the table and no further branch: a generic two-level dispatch made
thundering_herd's run about 10% slower); the inner result is a float64 as if stored, so the value is the two plain
instructions' value, bit for bit.
"""
from __future__ import annotations

from numba import njit


@njit(inline="always", nogil=True, error_model="numpy")
def fused(k, R, a, b, c):
    """The value of fused instruction FUSED + k on registers a, b, c of R."""
    if k == 0:
        return (R[a] + R[b]) + R[c]
    elif k == 1:
        return (R[a] - R[b]) + R[c]
    elif k == 2:
        return (R[a] * R[b]) + R[c]
    elif k == 3:
        return (R[a] / R[b]) + R[c]
    elif k == 4:
        return min(R[a], R[b]) + R[c]
    elif k == 5:
        return max(R[a], R[b]) + R[c]
    elif k == 6:
        return (R[a] + R[b]) - R[c]
    elif k == 7:
        return (R[a] - R[b]) - R[c]
    elif k == 8:
        return (R[a] * R[b]) - R[c]
    elif k == 9:
        return (R[a] / R[b]) - R[c]
    elif k == 10:
        return min(R[a], R[b]) - R[c]
    elif k == 11:
        return max(R[a], R[b]) - R[c]
    elif k == 12:
        return (R[a] + R[b]) * R[c]
    elif k == 13:
        return (R[a] - R[b]) * R[c]
    elif k == 14:
        return (R[a] * R[b]) * R[c]
    elif k == 15:
        return (R[a] / R[b]) * R[c]
    elif k == 16:
        return min(R[a], R[b]) * R[c]
    elif k == 17:
        return max(R[a], R[b]) * R[c]
    elif k == 18:
        return (R[a] + R[b]) / R[c]
    elif k == 19:
        return (R[a] - R[b]) / R[c]
    elif k == 20:
        return (R[a] * R[b]) / R[c]
    elif k == 21:
        return (R[a] / R[b]) / R[c]
    elif k == 22:
        return min(R[a], R[b]) / R[c]
    elif k == 23:
        return max(R[a], R[b]) / R[c]
    elif k == 24:
        return min((R[a] + R[b]), R[c])
    elif k == 25:
        return min((R[a] - R[b]), R[c])
    elif k == 26:
        return min((R[a] * R[b]), R[c])
    elif k == 27:
        return min((R[a] / R[b]), R[c])
    elif k == 28:
        return min(min(R[a], R[b]), R[c])
    elif k == 29:
        return min(max(R[a], R[b]), R[c])
    elif k == 30:
        return max((R[a] + R[b]), R[c])
    elif k == 31:
        return max((R[a] - R[b]), R[c])
    elif k == 32:
        return max((R[a] * R[b]), R[c])
    elif k == 33:
        return max((R[a] / R[b]), R[c])
    elif k == 34:
        return max(min(R[a], R[b]), R[c])
    elif k == 35:
        return max(max(R[a], R[b]), R[c])
    elif k == 36:
        return R[c] + (R[a] + R[b])
    elif k == 37:
        return R[c] + (R[a] - R[b])
    elif k == 38:
        return R[c] + (R[a] * R[b])
    elif k == 39:
        return R[c] + (R[a] / R[b])
    elif k == 40:
        return R[c] + min(R[a], R[b])
    elif k == 41:
        return R[c] + max(R[a], R[b])
    elif k == 42:
        return R[c] - (R[a] + R[b])
    elif k == 43:
        return R[c] - (R[a] - R[b])
    elif k == 44:
        return R[c] - (R[a] * R[b])
    elif k == 45:
        return R[c] - (R[a] / R[b])
    elif k == 46:
        return R[c] - min(R[a], R[b])
    elif k == 47:
        return R[c] - max(R[a], R[b])
    elif k == 48:
        return R[c] * (R[a] + R[b])
    elif k == 49:
        return R[c] * (R[a] - R[b])
    elif k == 50:
        return R[c] * (R[a] * R[b])
    elif k == 51:
        return R[c] * (R[a] / R[b])
    elif k == 52:
        return R[c] * min(R[a], R[b])
    elif k == 53:
        return R[c] * max(R[a], R[b])
    elif k == 54:
        return R[c] / (R[a] + R[b])
    elif k == 55:
        return R[c] / (R[a] - R[b])
    elif k == 56:
        return R[c] / (R[a] * R[b])
    elif k == 57:
        return R[c] / (R[a] / R[b])
    elif k == 58:
        return R[c] / min(R[a], R[b])
    elif k == 59:
        return R[c] / max(R[a], R[b])
    elif k == 60:
        return min(R[c], (R[a] + R[b]))
    elif k == 61:
        return min(R[c], (R[a] - R[b]))
    elif k == 62:
        return min(R[c], (R[a] * R[b]))
    elif k == 63:
        return min(R[c], (R[a] / R[b]))
    elif k == 64:
        return min(R[c], min(R[a], R[b]))
    elif k == 65:
        return min(R[c], max(R[a], R[b]))
    elif k == 66:
        return max(R[c], (R[a] + R[b]))
    elif k == 67:
        return max(R[c], (R[a] - R[b]))
    elif k == 68:
        return max(R[c], (R[a] * R[b]))
    elif k == 69:
        return max(R[c], (R[a] / R[b]))
    elif k == 70:
        return max(R[c], min(R[a], R[b]))
    else:
        return max(R[c], max(R[a], R[b]))

