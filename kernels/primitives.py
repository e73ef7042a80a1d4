"""Primitives: the few operations an ISA does faster than plain code.

Each has this Python definition (the semantic reference, compiled by Numba) and one C
definition per ISA in asm_stubs/. Kernels call them by name.
"""
import numba
import numpy as np

_jit = numba.njit(cache=True, nogil=True, inline="always")


@_jit
def clamp_f32(v, lo, hi):
    return min(max(v, lo), hi)
