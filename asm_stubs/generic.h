/* tinyjit primitives, portable C: the fallback for every target and the definitions an ISA
 * header does not replace. The Python definitions in kernels/primitives.py are the semantic
 * reference; tests/test_asm_stubs.py checks every function here, bit for bit, against them.
 *
 * An ISA header (armv7em_dsp.h, ...) defines TJ_HAVE_<name> for each primitive it implements
 * with its own instructions and then includes this file for the rest.
 * Integer primitives take and return the int32 values the Python definitions hold in int64.
 */
#ifndef TINYJIT_GENERIC_H
#define TINYJIT_GENERIC_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>

#ifndef TJ_HAVE_clamp_f32
static inline float clamp_f32(float v, float lo, float hi)
{
    float m = lo > v ? lo : v;          /* Python's max(v, lo), then min(..., hi) */
    return hi < m ? hi : m;
}
#endif

#ifndef TJ_HAVE_fma_f32
/* a * b + c rounded once. With a hardware FMA (Cortex-M4F/M7/M55, RV64GC) that is one instruction;
 * elsewhere libm's fmaf is not always exact (soft-float builds), so: the product is exact in
 * double, the sum is rounded to odd, and the one rounding to float is then correct. */
static inline float fma_f32(float a, float b, float c)
{
#if defined(__FP_FAST_FMAF)
    return __builtin_fmaf(a, b, c);
#else
    double p = (double)a * (double)b;
    double s = p + (double)c;
    if (s == s && s - s == 0 && s != 0) {       /* finite, non-zero: make the rounding odd */
        double v = s - p;
        double err = (p - (s - v)) + ((double)c - v);
        union { double d; uint64_t u; } bits = {s};
        if (err != 0 && !(bits.u & 1)) {
            bits.u += ((err > 0) == (s > 0)) ? 1 : (uint64_t)-1;
            s = bits.d;
        }
    }
    return (float)s;
#endif
}
#endif

#ifndef TJ_HAVE_wrap_int32
static inline int32_t wrap_int32(int64_t v)
{
    return (int32_t)(uint32_t)(uint64_t)v;   /* modulo 2**32 */
}
#endif

/* gemmlowp SaturatingRoundingDoublingHighMul (Arm VQRDMULH) */
#ifndef TJ_HAVE_saturating_rounding_doubling_high_mul
static inline int32_t saturating_rounding_doubling_high_mul(int32_t a, int32_t b)
{
    if (a == b && a == INT32_MIN)
        return INT32_MAX;
    int64_t ab = (int64_t)a * (int64_t)b;
    int64_t nudge = ab >= 0 ? (1 << 30) : (1 - (1 << 30));
    return (int32_t)((ab + nudge) / ((int64_t)1 << 31));   /* C's division truncates, as gemmlowp's */
}
#endif

/* gemmlowp RoundingDivideByPOT: x / 2**exponent, to nearest, ties away from zero; 0 <= exponent <= 31 */
#ifndef TJ_HAVE_rounding_divide_by_pot
static inline int32_t rounding_divide_by_pot(int32_t x, int32_t exponent)
{
    int32_t mask = (int32_t)(((int64_t)1 << exponent) - 1);
    int32_t remainder = x & mask;
    int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}
#endif

/* TFLite MultiplyByQuantizedMultiplier (double rounding): -31 <= shift <= 30 */
#ifndef TJ_HAVE_multiply_by_quantized_multiplier
static inline int32_t multiply_by_quantized_multiplier(int32_t x, int32_t multiplier, int32_t shift)
{
    int32_t left = shift > 0 ? shift : 0;
    int32_t right = shift < 0 ? -shift : 0;
    int32_t shifted = (int32_t)((uint32_t)x << left);       /* wraps, as TFLite's C++ does */
    return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(shifted, multiplier), right);
}
#endif

#ifndef TJ_HAVE_saturate_int8
static inline int8_t saturate_int8(int32_t v)
{
    return (int8_t)(v < -128 ? -128 : (v > 127 ? 127 : v));
}
#endif

#ifndef TJ_HAVE_saturate_uint8
static inline uint8_t saturate_uint8(int32_t v)
{
    return (uint8_t)(v < 0 ? 0 : (v > 255 ? 255 : v));
}
#endif

#ifndef TJ_HAVE_saturate_int16
static inline int16_t saturate_int16(int32_t v)
{
    return (int16_t)(v < -32768 ? -32768 : (v > 32767 ? 32767 : v));
}
#endif

/* An index the kernel knows is non-negative (Numba then skips its wrap-around of negative
 * subscripts; C never wraps, so the lowering indexes with the argument itself). */
#ifndef TJ_HAVE_nonneg
static inline uint64_t nonneg(int64_t i)
{
    return (uint64_t)i;
}
#endif

/* Dot products: the C lowering turns `for k in range(n): acc += a[base + k] * b[base2 + k]` over
 * int8/int16 arrays with a provably int32 `acc` into one call of these (ISA headers do them with
 * SIMD). Not Python primitives: the idiom is the reference (tests/test_asm_stubs.py checks them). */
#ifndef TJ_HAVE_tj_dot_i8_i8
static inline int32_t tj_dot_i8_i8(const int8_t *a, const int8_t *b, int32_t n, int32_t acc)
{
    for (int32_t i = 0; i < n; i++)
        acc = (int32_t)((uint32_t)acc + (uint32_t)((int32_t)a[i] * (int32_t)b[i]));   /* wraps like SMLAD */
    return acc;
}
#endif

#ifndef TJ_HAVE_tj_dot_i8_i16
static inline int32_t tj_dot_i8_i16(const int8_t *a, const int16_t *b, int32_t n, int32_t acc)
{
    for (int32_t i = 0; i < n; i++)
        acc = (int32_t)((uint32_t)acc + (uint32_t)((int32_t)a[i] * (int32_t)b[i]));   /* wraps like SMLAD */
    return acc;
}
#endif

#ifndef TJ_HAVE_tj_dot_i16_i8
static inline int32_t tj_dot_i16_i8(const int16_t *a, const int8_t *b, int32_t n, int32_t acc)
{
    for (int32_t i = 0; i < n; i++)
        acc = (int32_t)((uint32_t)acc + (uint32_t)((int32_t)a[i] * (int32_t)b[i]));   /* wraps like SMLAD */
    return acc;
}
#endif

#ifndef TJ_HAVE_tj_dot_i16_i16
static inline int32_t tj_dot_i16_i16(const int16_t *a, const int16_t *b, int32_t n, int32_t acc)
{
    for (int32_t i = 0; i < n; i++)
        acc = (int32_t)((uint32_t)acc + (uint32_t)((int32_t)a[i] * (int32_t)b[i]));   /* wraps like SMLAD */
    return acc;
}
#endif

/* Two dot products sharing the operand a (one input window against two weight rows): the lowering
 * calls these for a loop of two `acc += a[i + k] * b[j + k]` statements. ISA headers fuse them so
 * that a is loaded and widened once; here they are two dot products. */
#define TJ_DOT2_FROM_DOT(ta, tb, A, B)                                                                  \
    static inline void tj_dot2_##ta##_##tb(const A *a, const B *b0, const B *b1, int32_t n, int32_t *acc0, \
                                           int32_t *acc1)                                              \
    {                                                                                                  \
        *acc0 = tj_dot_##ta##_##tb(a, b0, n, *acc0);                                                   \
        *acc1 = tj_dot_##ta##_##tb(a, b1, n, *acc1);                                                   \
    }
#ifndef TJ_HAVE_tj_dot2_i8_i8
TJ_DOT2_FROM_DOT(i8, i8, int8_t, int8_t)
#endif
#ifndef TJ_HAVE_tj_dot2_i16_i8
TJ_DOT2_FROM_DOT(i16, i8, int16_t, int8_t)
#endif
TJ_DOT2_FROM_DOT(i8, i16, int8_t, int16_t)        /* no ISA header fuses these two (yet) */
TJ_DOT2_FROM_DOT(i16, i16, int16_t, int16_t)

/* Two windows a0, a1 against two weight rows b0, b1 (two pixels x two channels): s<i><j> += a<i> . b<j>.
 * ISA headers load each word once for two products; here they are four dot products. */
#define TJ_DOT2X2_FROM_DOT(ta, tb, A, B)                                                                \
    static inline void tj_dot2x2_##ta##_##tb(const A *a0, const A *a1, const B *b0, const B *b1, int32_t n, \
                                             int32_t *s00, int32_t *s01, int32_t *s10, int32_t *s11)   \
    {                                                                                                  \
        tj_dot2_##ta##_##tb(a0, b0, b1, n, s00, s01);                                                  \
        tj_dot2_##ta##_##tb(a1, b0, b1, n, s10, s11);                                                  \
    }
#ifndef TJ_HAVE_tj_dot2x2_i8_i8
TJ_DOT2X2_FROM_DOT(i8, i8, int8_t, int8_t)
#endif
TJ_DOT2X2_FROM_DOT(i16, i16, int16_t, int16_t)      /* the kernels pair pixels of int8 windows only, so far */

/* Four lanes of int8 multiply-accumulates with an offset on a: s<j> += (a[j] - a_offset) * b[j]
 * (four channels of a depthwise convolution); each sum wraps like SMLABB's. */
#ifndef TJ_HAVE_tj_mac4_i8_i8
static inline void tj_mac4_i8_i8(const int8_t *a, const int8_t *b, int32_t a_offset, int32_t *s0, int32_t *s1,
                                 int32_t *s2, int32_t *s3)
{
    int32_t *s[4] = {s0, s1, s2, s3};
    for (int j = 0; j < 4; j++)
        *s[j] = (int32_t)((uint32_t)*s[j] + (uint32_t)(((int32_t)a[j] - a_offset) * (int32_t)b[j]));
}
#endif

#endif /* TINYJIT_GENERIC_H */
