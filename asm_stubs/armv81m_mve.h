/* tinyjit primitives for Armv8.1-M with Helium (MVE), Cortex-M55: the scalar primitives of the
 * DSP extension (SSAT, SMLAL: armv7em_dsp.h) plus MVE vector code: VLDRB.S16/VMLADAV dot
 * products. The rest comes from generic.h. Each function equals its Python definition in
 * kernels/primitives.py bit for bit (tests/test_asm_stubs.py runs both under QEMU). */
#ifndef TINYJIT_ARMV81M_MVE_H
#define TINYJIT_ARMV81M_MVE_H

#include <stdint.h>

#include "armv7em_dsp.h"

/* sum(a[i] * b[i]) for n int8 (n a multiple of 8): VLDRB.S16 widens 8 bytes into 8 int16
 * lanes, VMLADAVA multiplies lane by lane and adds the whole vector into a scalar. */
static inline int32_t tj_mve_dot_s8(const int8_t *a, const int8_t *b, int32_t n, int32_t acc)
{
    for (int32_t blocks = n >> 3; blocks > 0; blocks--, a += 8, b += 8) {
        __asm__ volatile(
            "vldrb.s16 q0, [%1]\n"
            "vldrb.s16 q1, [%2]\n"
            "vmladava.s16 %0, q0, q1\n"
            : "+Te"(acc)                      /* VMLADAVA wants an even register */
            : "l"(a), "l"(b)                  /* VLDRB.S16 wants r0-r7 */
            : "q0", "q1", "memory");
    }
    return acc;
}

/* The lowering's dot products on Helium: 8 lanes per VMLADAVA, the remainder in scalar code. */
#undef TJ_HAVE_tj_dot_i8_i8
static inline int32_t tj_mve_dot_i8_i8(const int8_t *a, const int8_t *b, int32_t n, int32_t acc)
{
    int32_t m = n & ~7;
    acc = tj_mve_dot_s8(a, b, m, acc);
    a += m;
    b += m;
    for (int32_t rest = n & 7; rest > 0; rest--)
        acc = (int32_t)((uint32_t)acc + (uint32_t)((int32_t)*a++ * (int32_t)*b++));
    return acc;
}
#define tj_dot_i8_i8 tj_mve_dot_i8_i8

static inline int32_t tj_dot_i16_i16_mve(const int16_t *a, const int16_t *b, int32_t n, int32_t acc)
{
    for (int32_t blocks = n >> 3; blocks > 0; blocks--, a += 8, b += 8) {
        __asm__ volatile(
            "vldrh.s16 q0, [%1]\n"
            "vldrh.s16 q1, [%2]\n"
            "vmladava.s16 %0, q0, q1\n"
            : "+Te"(acc)
            : "l"(a), "l"(b)
            : "q0", "q1", "memory");
    }
    for (int32_t rest = n & 7; rest > 0; rest--)
        acc = (int32_t)((uint32_t)acc + (uint32_t)((int32_t)*a++ * (int32_t)*b++));
    return acc;
}
#define tj_dot_i16_i16 tj_dot_i16_i16_mve

/* One int8 window against two int8 weight rows: the window's 8 lanes loaded once for two VMLADAVAs;
 * the last n % 8 by the DSP version (armv7em_dsp.h). */
static inline void tj_mve_dot2_i8_i8(const int8_t *a, const int8_t *b0, const int8_t *b1, int32_t n, int32_t *acc0,
                                     int32_t *acc1)
{
    int32_t t0 = *acc0, t1 = *acc1;
    for (int32_t blocks = n >> 3; blocks > 0; blocks--, a += 8, b0 += 8, b1 += 8) {
        __asm__ volatile(
            "vldrb.s16 q0, [%2]\n"
            "vldrb.s16 q1, [%3]\n"
            "vldrb.s16 q2, [%4]\n"
            "vmladava.s16 %0, q0, q1\n"
            "vmladava.s16 %1, q0, q2\n"
            : "+Te"(t0), "+Te"(t1)
            : "l"(a), "l"(b0), "l"(b1)
            : "q0", "q1", "q2", "memory");
    }
    tj_dot2_i8_i8(a, b0, b1, n & 7, &t0, &t1);
    *acc0 = t0;
    *acc1 = t1;
}

/* Two int8 windows against two int8 weight rows (two pixels x two channels): 8 lanes of each loaded
 * once (VLDRB.S16) for four VMLADAVAs; the last n % 8 by the DSP version (armv7em_dsp.h). */
static inline void tj_mve_dot2x2_i8_i8(const int8_t *a0, const int8_t *a1, const int8_t *b0, const int8_t *b1,
                                       int32_t n, int32_t *s00, int32_t *s01, int32_t *s10, int32_t *s11)
{
    int32_t t00 = *s00, t01 = *s01, t10 = *s10, t11 = *s11;
    for (int32_t blocks = n >> 3; blocks > 0; blocks--, a0 += 8, a1 += 8, b0 += 8, b1 += 8) {
        __asm__ volatile(
            "vldrb.s16 q0, [%4]\n"
            "vldrb.s16 q1, [%5]\n"
            "vldrb.s16 q2, [%6]\n"
            "vldrb.s16 q3, [%7]\n"
            "vmladava.s16 %0, q0, q2\n"
            "vmladava.s16 %1, q0, q3\n"
            "vmladava.s16 %2, q1, q2\n"
            "vmladava.s16 %3, q1, q3\n"
            : "+Te"(t00), "+Te"(t01), "+Te"(t10), "+Te"(t11)
            : "l"(a0), "l"(a1), "l"(b0), "l"(b1)
            : "q0", "q1", "q2", "q3", "memory");
    }
    tj_dot2x2_i8_i8(a0, a1, b0, b1, n & 7, &t00, &t01, &t10, &t11);
    *s00 = t00;
    *s01 = t01;
    *s10 = t10;
    *s11 = t11;
}
#define tj_dot2x2_i8_i8 tj_mve_dot2x2_i8_i8
#define tj_dot2_i8_i8 tj_mve_dot2_i8_i8

#endif /* TINYJIT_ARMV81M_MVE_H */
