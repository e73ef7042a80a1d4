/* tinyjit primitives for Armv7E-M (Cortex-M4, Cortex-M7) and the DSP extension of Armv8-M /
 * Armv8.1-M: GCC inline assembly with SSAT/USAT, SMLAL, QADD, SXTB16 + SMLAD. The rest comes
 * from generic.h. Each function equals its Python definition in kernels/primitives.py bit for
 * bit (tests/test_asm_stubs.py runs both under QEMU). */
#ifndef TINYJIT_ARMV7EM_DSP_H
#define TINYJIT_ARMV7EM_DSP_H

#include <stdint.h>

#define TJ_HAVE_saturate_int8 1
static inline int8_t saturate_int8(int32_t v)
{
    int32_t r;
    __asm__("ssat %0, #8, %1" : "=r"(r) : "r"(v));
    return (int8_t)r;
}

#define TJ_HAVE_saturate_uint8 1
static inline uint8_t saturate_uint8(int32_t v)
{
    int32_t r;
    __asm__("usat %0, #8, %1" : "=r"(r) : "r"(v));
    return (uint8_t)r;
}

#define TJ_HAVE_saturate_int16 1
static inline int16_t saturate_int16(int32_t v)
{
    int32_t r;
    __asm__("ssat %0, #16, %1" : "=r"(r) : "r"(v));
    return (int16_t)r;
}

/* gemmlowp SaturatingRoundingDoublingHighMul: one SMLAL accumulates a * b onto the rounding
 * nudge, then the 64-bit sum is divided by 2**31 toward zero. */
#define TJ_HAVE_saturating_rounding_doubling_high_mul 1
static inline int32_t saturating_rounding_doubling_high_mul(int32_t a, int32_t b)
{
    if (a == b && a == INT32_MIN)
        return INT32_MAX;
    uint32_t lo = 1u << 30;
    int32_t hi = 0;
    if ((a ^ b) < 0) {                   /* negative (or zero) product: nudge 1 - 2**30 */
        lo = (uint32_t)(1 - (1 << 30));
        hi = -1;
    }
    __asm__("smlal %0, %1, %2, %3" : "+r"(lo), "+r"(hi) : "r"(a), "r"(b));
    if (hi < 0) {                        /* truncate toward zero: add 2**31 - 1 before the shift */
        uint32_t old = lo;
        lo += 0x7FFFFFFFu;
        hi += lo < old;
    }
    return (int32_t)(((uint32_t)hi << 1) | (lo >> 31));
}

/* Two int8 lanes of a word, sign-extended to int16 (SXTB16): bytes 0 and 2, then 1 and 3. */
static inline uint32_t tj_sxtb16(uint32_t x)
{
    uint32_t r;
    __asm__("sxtb16 %0, %1" : "=r"(r) : "r"(x));
    return r;
}

static inline uint32_t tj_sxtb16_ror8(uint32_t x)
{
    uint32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(x));
    return r;
}

/* acc + a.lo16 * b.lo16 + a.hi16 * b.hi16 (SMLAD) */
static inline int32_t tj_smlad(uint32_t a, uint32_t b, int32_t acc)
{
    int32_t r;
    __asm__("smlad %0, %1, %2, %3" : "=r"(r) : "r"(a), "r"(b), "r"(acc));
    return r;
}

static inline uint32_t tj_load32(const void *p)   /* LDR: unaligned access is fine on Armv7E-M */
{
    uint32_t v;
    __builtin_memcpy(&v, p, 4);
    return v;
}

/* int16 dot product: SMLAD does two multiply-accumulates per instruction */
#define TJ_HAVE_tj_dot_i16_i16 1
static inline int32_t tj_dot_i16_i16(const int16_t *a, const int16_t *b, int32_t n, int32_t acc)
{
    for (int32_t blocks = n >> 2; blocks > 0; blocks--, a += 4, b += 4) {
        acc = tj_smlad(tj_load32(a), tj_load32(b), acc);
        acc = tj_smlad(tj_load32(a + 2), tj_load32(b + 2), acc);
    }
    for (int32_t rest = n & 3; rest > 0; rest--)
        acc = (int32_t)((uint32_t)acc + (uint32_t)((int32_t)*a++ * (int32_t)*b++));
    return acc;
}

/* int8 dot product: SXTB16 widens bytes 0,2 and (rotated) 1,3 of a word to int16 pairs, two SMLADs
 * then do four multiply-accumulates (CMSIS-NN's arm_nn_read_q7x4 + __SMLAD) */
#define TJ_HAVE_tj_dot_i8_i8 1
static inline int32_t tj_dot_i8_i8(const int8_t *a, const int8_t *b, int32_t n, int32_t acc)
{
    for (int32_t blocks = n >> 2; blocks > 0; blocks--, a += 4, b += 4) {
        uint32_t va = tj_load32(a), vb = tj_load32(b);
        acc = tj_smlad(tj_sxtb16(va), tj_sxtb16(vb), acc);
        acc = tj_smlad(tj_sxtb16_ror8(va), tj_sxtb16_ror8(vb), acc);
    }
    for (int32_t rest = n & 3; rest > 0; rest--)
        acc = (int32_t)((uint32_t)acc + (uint32_t)((int32_t)*a++ * (int32_t)*b++));
    return acc;
}

/* int8 x int16: the int8 side widened by SXTB16 (lanes 0,2 and 1,3), the int16 side repacked to
 * match with PKHBT/PKHTB */
#define TJ_HAVE_tj_dot_i8_i16 1
static inline int32_t tj_dot_i8_i16(const int8_t *a, const int16_t *b, int32_t n, int32_t acc)
{
    for (int32_t blocks = n >> 2; blocks > 0; blocks--, a += 4, b += 4) {
        uint32_t va = tj_load32(a), b01 = tj_load32(b), b23 = tj_load32(b + 2), b02, b13;
        __asm__("pkhbt %0, %1, %2, lsl #16" : "=r"(b02) : "r"(b01), "r"(b23));
        __asm__("pkhtb %0, %1, %2, asr #16" : "=r"(b13) : "r"(b23), "r"(b01));
        acc = tj_smlad(tj_sxtb16(va), b02, acc);
        acc = tj_smlad(tj_sxtb16_ror8(va), b13, acc);
    }
    for (int32_t rest = n & 3; rest > 0; rest--)
        acc = (int32_t)((uint32_t)acc + (uint32_t)((int32_t)*a++ * (int32_t)*b++));
    return acc;
}

#define TJ_HAVE_tj_dot_i16_i8 1
static inline int32_t tj_dot_i16_i8(const int16_t *a, const int8_t *b, int32_t n, int32_t acc)
{
    return tj_dot_i8_i16(b, a, n, acc);
}

/* Four weights of each of two int8 rows (words v0, v1) against the window's lanes a02 = (a0, a2)
 * and a13 = (a1, a3): the rows' bytes widened by SXTB16 pair with those lanes in two SMLADs each. */
static inline void tj_smlad_rows(uint32_t a02, uint32_t a13, uint32_t v0, uint32_t v1, int32_t *s0, int32_t *s1)
{
    *s0 = tj_smlad(tj_sxtb16(v0), a02, *s0);
    *s0 = tj_smlad(tj_sxtb16_ror8(v0), a13, *s0);
    *s1 = tj_smlad(tj_sxtb16(v1), a02, *s1);
    *s1 = tj_smlad(tj_sxtb16_ror8(v1), a13, *s1);
}

/* One int8 window a against two int8 weight rows: a's word is widened once (SXTB16) for both rows
 * (CMSIS-NN's arm_nn_mat_mult_nt_t_s8 idea); the last n % 4 by the single dot product. */
#define TJ_HAVE_tj_dot2_i8_i8 1
static inline void tj_dot2_i8_i8(const int8_t *a, const int8_t *b0, const int8_t *b1, int32_t n, int32_t *acc0, int32_t *acc1)
{
    int32_t s0 = *acc0, s1 = *acc1;
    for (int32_t blocks = n >> 2; blocks > 0; blocks--, a += 4, b0 += 4, b1 += 4) {
        uint32_t va = tj_load32(a);
        tj_smlad_rows(tj_sxtb16(va), tj_sxtb16_ror8(va), tj_load32(b0), tj_load32(b1), &s0, &s1);
    }
    *acc0 = tj_dot_i8_i8(a, b0, n & 3, s0);
    *acc1 = tj_dot_i8_i8(a, b1, n & 3, s1);
}

/* One int16 window a against two int8 weight rows: a's pairs are repacked once (PKHBT/PKHTB) into
 * the lane order SXTB16 gives the weights. */
#define TJ_HAVE_tj_dot2_i16_i8 1
static inline void tj_dot2_i16_i8(const int16_t *a, const int8_t *b0, const int8_t *b1, int32_t n, int32_t *acc0, int32_t *acc1)
{
    int32_t s0 = *acc0, s1 = *acc1;
    for (int32_t blocks = n >> 2; blocks > 0; blocks--, a += 4, b0 += 4, b1 += 4) {
        uint32_t a01 = tj_load32(a), a23 = tj_load32(a + 2), a02, a13;
        __asm__("pkhbt %0, %1, %2, lsl #16" : "=r"(a02) : "r"(a01), "r"(a23));
        __asm__("pkhtb %0, %1, %2, asr #16" : "=r"(a13) : "r"(a23), "r"(a01));
        tj_smlad_rows(a02, a13, tj_load32(b0), tj_load32(b1), &s0, &s1);
    }
    *acc0 = tj_dot_i16_i8(a, b0, n & 3, s0);
    *acc1 = tj_dot_i16_i8(a, b1, n & 3, s1);
}

/* Two int8 windows against two int8 weight rows (two pixels x two output channels): each loaded word
 * is widened once and used twice, 8 SMLADs per 4 loads (CMSIS-NN's 2x2 matrix kernels). */
#define TJ_HAVE_tj_dot2x2_i8_i8 1
static inline void tj_dot2x2_i8_i8(const int8_t *a0, const int8_t *a1, const int8_t *b0, const int8_t *b1, int32_t n,
                                   int32_t *s00, int32_t *s01, int32_t *s10, int32_t *s11)
{
    int32_t t00 = *s00, t01 = *s01, t10 = *s10, t11 = *s11;
    for (int32_t blocks = n >> 2; blocks > 0; blocks--, a0 += 4, a1 += 4, b0 += 4, b1 += 4) {
        uint32_t v0 = tj_load32(b0), v1 = tj_load32(b1), w0_02 = tj_sxtb16(v0), w0_13 = tj_sxtb16_ror8(v0);
        uint32_t w1_02 = tj_sxtb16(v1), w1_13 = tj_sxtb16_ror8(v1), va = tj_load32(a0);
        uint32_t a02 = tj_sxtb16(va), a13 = tj_sxtb16_ror8(va);
        t00 = tj_smlad(w0_13, a13, tj_smlad(w0_02, a02, t00));
        t01 = tj_smlad(w1_13, a13, tj_smlad(w1_02, a02, t01));
        va = tj_load32(a1);
        a02 = tj_sxtb16(va);
        a13 = tj_sxtb16_ror8(va);
        t10 = tj_smlad(w0_13, a13, tj_smlad(w0_02, a02, t10));
        t11 = tj_smlad(w1_13, a13, tj_smlad(w1_02, a02, t11));
    }
    tj_dot2_i8_i8(a0, b0, b1, n & 3, &t00, &t01);
    tj_dot2_i8_i8(a1, b0, b1, n & 3, &t10, &t11);
    *s00 = t00;
    *s01 = t01;
    *s10 = t10;
    *s11 = t11;
}

/* s<j> += (a[j] - a_offset) * b[j] for four int8 lanes: one word of each, SXTB16 into (0, 2) and
 * (1, 3) halfword pairs, SSUB16 takes the offset off both halves of a (|a - offset| <= 255 fits),
 * SMLABB/SMLATT multiply-accumulate the bottom/top halves (CMSIS-NN's depthwise idea). */
#define TJ_HAVE_tj_mac4_i8_i8 1
static inline void tj_mac4_i8_i8(const int8_t *a, const int8_t *b, int32_t a_offset, int32_t *s0, int32_t *s1,
                                 int32_t *s2, int32_t *s3)
{
    uint32_t va = tj_load32(a), vb = tj_load32(b), offsets = ((uint32_t)a_offset & 0xFFFFu) * 0x10001u;
    uint32_t a02, a13, b02 = tj_sxtb16(vb), b13 = tj_sxtb16_ror8(vb);
    __asm__("ssub16 %0, %1, %2" : "=r"(a02) : "r"(tj_sxtb16(va)), "r"(offsets));
    __asm__("ssub16 %0, %1, %2" : "=r"(a13) : "r"(tj_sxtb16_ror8(va)), "r"(offsets));
    __asm__("smlabb %0, %1, %2, %0" : "+r"(*s0) : "r"(a02), "r"(b02));
    __asm__("smlatt %0, %1, %2, %0" : "+r"(*s2) : "r"(a02), "r"(b02));
    __asm__("smlabb %0, %1, %2, %0" : "+r"(*s1) : "r"(a13), "r"(b13));
    __asm__("smlatt %0, %1, %2, %0" : "+r"(*s3) : "r"(a13), "r"(b13));
}

#include "generic.h"

#endif /* TINYJIT_ARMV7EM_DSP_H */
