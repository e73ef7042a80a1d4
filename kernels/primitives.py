"""Primitives: the few operations an ISA does faster than plain code.

Each has this Python definition (the semantic reference, compiled by Numba) and one C
definition per ISA in asm_stubs/. Kernels call them by name.
"""
import os

import numba
import numpy as np
from llvmlite import ir as llvmir
from numba import types
from numba.core import cgutils
from numba.core.errors import TypingError
from numba.extending import intrinsic

# The float kernels keep their register tiles in unrolled scalar loops and rely on LLVM's SLP
# vectorizer to turn them into SIMD FMAs (as gcc/clang -O3 do for the lowered C). Numba leaves
# SLP off by default (numba PR #8852, after LLVM miscompilations in older releases); every
# generated kernel module imports this file before it compiles, so the switch is on for all
# tinyjit code. An explicit NUMBA_SLP_VECTORIZE in the environment wins.
if "NUMBA_SLP_VECTORIZE" not in os.environ:
    numba.config.SLP_VECTORIZE = 1

_jit = numba.njit(cache=True, nogil=True, inline="always")


@_jit
def clamp_f32(v, lo, hi):
    return min(max(v, lo), hi)


# --- fixed-size local arrays ---------------------------------------------------------------
# Register tiles (a few output pixels x 8-32 output channels) live in a small local array whose
# size is a compile-time constant. It is a stack buffer (an LLVM alloca in the entry block), so
# once the tile loops are unrolled LLVM promotes every element to a register; a heap array
# (np.empty) would cost an allocation per call and keep the tile in memory.

def _stack_buffer(dtype):
    @intrinsic
    def stack_buffer(typingctx, rows, cols):
        if not isinstance(rows, types.IntegerLiteral) or not isinstance(cols, types.IntegerLiteral):
            raise TypingError("local arrays need compile-time constant sizes (schedule knobs or "
                              f"literals), got {rows} and {cols}")
        size = rows.literal_value * cols.literal_value

        def codegen(context, builder, signature, args):
            return cgutils.alloca_once(builder, context.get_value_type(dtype), size=size)
        return types.CPointer(dtype)(rows, cols), codegen
    return stack_buffer


_stack_buffer_f32 = _stack_buffer(types.float32)
_stack_buffer_i64 = _stack_buffer(types.int64)


@_jit
def local_array_f32(rows, cols):
    """A float32 [rows, cols] array on the stack, uninitialized; rows and cols are constants.

    C: ``float name[rows][cols];``. Use it for register tiles: index it only with constants or
    with the variables of fully unrolled constant-trip loops, so that every element becomes a
    register.
    """
    return numba.carray(_stack_buffer_f32(rows, cols), (rows, cols))


@_jit
def local_array_i64(rows, cols):
    """An int64 [rows, cols] array on the stack, uninitialized (C: ``int64_t name[rows][cols];``).

    For per-tile index tables (e.g. input offsets of a tile's pixels), indexed like
    local_array_f32.
    """
    return numba.carray(_stack_buffer_i64(rows, cols), (rows, cols))


# --- fused multiply-add --------------------------------------------------------------------

@intrinsic
def fma_f32(typingctx, a, b, c):
    """``a * b + c`` in float32, rounded once (C ``fmaf``; x86 vfmadd, Arm vfma/vmla).

    Kernels accumulate register tiles with it. Besides being exact, it keeps LLVM's loop
    vectorizer from turning the reduction loop around a tile into a (slower) vector reduction,
    so the tile's unrolled lanes are what gets vectorized (by SLP).
    """
    for t in (a, b, c):
        if not isinstance(t, types.Float):
            raise TypingError(f"fma_f32 takes floats, got {a}, {b}, {c}")
    signature = types.float32(a, b, c)

    def codegen(context, builder, sig, args):
        f32 = context.get_value_type(types.float32)
        vals = [context.cast(builder, v, t, types.float32) for v, t in zip(args, sig.args)]
        fma = cgutils.get_or_insert_function(builder.module, llvmir.FunctionType(f32, [f32] * 3),
                                             "llvm.fma.f32")
        return builder.call(fma, vals)
    return signature, codegen


# --- integer arithmetic (TFLite / gemmlowp) ------------------------------------------------
# The int8 kernels' requantization, bit for bit as TF Lite (Micro) computes it. Every value is
# handled as an int64 holding the int32 the C code would hold, so the Python definitions never
# rely on overflow; where C's int32 arithmetic would wrap, ``wrap_int32`` says so explicitly.

INT32_MIN = -2147483648
INT32_MAX = 2147483647


@_jit
def wrap_int32(v):
    """``v`` reduced modulo 2**32 to a signed 32-bit value: C's ``(int32_t)v`` on two's complement."""
    return np.int64(np.int32(v))


@_jit
def saturating_rounding_doubling_high_mul(a, b):
    """gemmlowp's ``SaturatingRoundingDoublingHighMul`` on int32 ``a``, ``b`` (ARM VQRDMULH).

    ``(a * b + nudge) / 2**31`` with the 64-bit product, ``nudge = 2**30`` for a non-negative
    product and ``1 - 2**30`` otherwise, the division truncating toward zero (C's ``/``). The
    one overflow, ``a == b == INT32_MIN``, saturates to ``INT32_MAX``.
    C: ``int32_t srdhm(int32_t a, int32_t b)``.
    """
    a64 = np.int64(a)
    b64 = np.int64(b)
    ab = a64 * b64
    nudge = np.int64(1 << 30) if ab >= 0 else np.int64(1 - (1 << 30))
    t = ab + nudge
    q = (t + ((t >> 63) & 0x7FFFFFFF)) >> 31          # truncating division by 2**31
    return np.int64(INT32_MAX) if (a64 == b64 and a64 == INT32_MIN) else q


@_jit
def rounding_divide_by_pot(x, exponent):
    """gemmlowp's ``RoundingDivideByPOT``: ``x / 2**exponent`` rounded to nearest, ties away from zero.

    ``x`` an int32 value, ``0 <= exponent <= 31``. Computed as gemmlowp does: the arithmetic shift
    ``x >> exponent``, plus one when the remainder ``x & (2**exponent - 1)`` exceeds half the
    divisor (``mask >> 1``, one more for negative ``x``). C: ``int32_t rdbpot(int32_t x, int e)``.
    """
    x64 = np.int64(x)
    mask = (np.int64(1) << exponent) - 1
    remainder = x64 & mask
    threshold = (mask >> 1) + (np.int64(1) if x64 < 0 else np.int64(0))
    return (x64 >> exponent) + (np.int64(1) if remainder > threshold else np.int64(0))


@_jit
def multiply_by_quantized_multiplier(x, multiplier, shift):
    """TFLite's ``MultiplyByQuantizedMultiplier`` (double rounding, TFLM's default build).

    ``x * multiplier / 2**31 * 2**shift`` for an int32 ``x``, a Q31 ``multiplier`` in
    [2**30, 2**31) (or 0) and ``-31 <= shift <= 30``, exactly: for ``shift > 0`` ``x`` is first
    shifted left in int32 (wrapping, as the C code does), then
    ``rounding_divide_by_pot(saturating_rounding_doubling_high_mul(x, multiplier), -min(shift, 0))``.
    C: ``int32_t mbqm(int32_t x, int32_t multiplier, int shift)``.
    """
    left = shift if shift > 0 else 0
    right = -shift if shift < 0 else 0
    return rounding_divide_by_pot(
        saturating_rounding_doubling_high_mul(wrap_int32(np.int64(x) << left), multiplier), right)


@_jit
def saturate_int8(v):
    """Saturating narrowing to int8: ``v`` clamped to [-128, 127] (ARM SSAT #8, x86 packsswb)."""
    return np.int8(min(max(v, -128), 127))


@_jit
def saturate_uint8(v):
    """Saturating narrowing to uint8: ``v`` clamped to [0, 255] (ARM USAT #8, x86 packuswb)."""
    return np.uint8(min(max(v, 0), 255))


@_jit
def saturate_int16(v):
    """Saturating narrowing to int16: ``v`` clamped to [-32768, 32767] (ARM SSAT #16, x86 packssdw)."""
    return np.int16(min(max(v, -32768), 32767))


# --- indexing ------------------------------------------------------------------------------

@_jit
def nonneg(i):
    """``i`` as an unsigned array index: for subscripts a kernel knows are never negative.

    Numba wraps a negative signed subscript around (Python's ``a[-1]``): a compare and a select
    per subscript, which in a hot loop whose index LLVM cannot prove non-negative (an input
    column ``ow * stride - pad + kw``) costs more than the FMA it feeds. An unsigned subscript
    has none. C: ``(size_t)(i)``.
    """
    return np.uint64(i)


# --- local arrays for the int8 kernels (stack, compile-time sizes; see local_array_f32) -------

_stack_i8 = _stack_buffer(types.int8)
_stack_i16 = _stack_buffer(types.int16)
_stack_i32 = _stack_buffer(types.int32)


@_jit
def local_array_i8(rows, cols):
    """An int8 [rows, cols] array on the stack, uninitialized (C: ``int8_t name[rows][cols];``).

    The int8 kernels gather an input window into it when the input zero point is folded into the
    bias (the window keeps the raw int8 input); rows and cols are constants.
    """
    return numba.carray(_stack_i8(rows, cols), (rows, cols))


@_jit
def local_array_i16(rows, cols):
    """An int16 [rows, cols] array on the stack, uninitialized (C: ``int16_t name[rows][cols];``).

    The int8 kernels widen an input window (``x - zero_point``) into it once and read it for
    every output channel; rows and cols are constants.
    """
    return numba.carray(_stack_i16(rows, cols), (rows, cols))


@_jit
def local_array_i32(rows, cols):
    """An int32 [rows, cols] array on the stack, uninitialized (C: ``int32_t name[rows][cols];``).

    Integer accumulator tiles, indexed with constants or unrolled loop variables so that they
    live in registers; rows and cols are constants.
    """
    return numba.carray(_stack_i32(rows, cols), (rows, cols))
