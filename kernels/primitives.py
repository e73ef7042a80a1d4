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


# --- local arrays for the int8 kernels (stack, compile-time sizes) ----------------------------
# Same mechanism as local_array_f32: an LLVM alloca whose size is known when the kernel is
# compiled (schedule constants), so tiles indexed by unrolled loops live in registers.

def _int_stack_array(dtype):
    from numba import types as _types
    from numba.core import cgutils as _cgutils
    from numba.core.errors import TypingError as _TypingError
    from numba.extending import intrinsic as _intrinsic

    @_intrinsic
    def buffer(typingctx, rows, cols):
        if not isinstance(rows, _types.IntegerLiteral) or not isinstance(cols, _types.IntegerLiteral):
            raise _TypingError(f"local_array_{dtype}: the sizes must be compile-time constants, got {rows}, {cols}")
        size = rows.literal_value * cols.literal_value
        element = getattr(_types, dtype)

        def codegen(context, builder, signature, args):
            return _cgutils.alloca_once(builder, context.get_value_type(element), size=size)
        return _types.CPointer(element)(rows, cols), codegen
    return buffer


_stack_i16 = _int_stack_array("int16")
_stack_i32 = _int_stack_array("int32")


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
