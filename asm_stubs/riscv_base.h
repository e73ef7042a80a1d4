/* tinyjit primitives for RV32IMAC (no FPU, no vector unit): MUL/MULH give the 64-bit product
 * of two int32 without a library call. The rest comes from generic.h. Each function equals its
 * Python definition in kernels/primitives.py bit for bit (tests/test_asm_stubs.py). */
#ifndef TINYJIT_RISCV_BASE_H
#define TINYJIT_RISCV_BASE_H

#include <stdint.h>

#if __riscv_xlen == 32
#define TJ_HAVE_saturating_rounding_doubling_high_mul 1
static inline int32_t saturating_rounding_doubling_high_mul(int32_t a, int32_t b)
{
    if (a == b && a == INT32_MIN)
        return INT32_MAX;
    uint32_t lo;
    int32_t hi;
    __asm__("mul %0, %2, %3\n\tmulh %1, %2, %3" : "=&r"(lo), "=&r"(hi) : "r"(a), "r"(b));
    uint32_t nudge = (hi >= 0) ? (1u << 30) : (uint32_t)(1 - (1 << 30));
    int32_t nudge_hi = (hi >= 0) ? 0 : -1;
    uint32_t sum_lo = lo + nudge;
    int32_t sum_hi = hi + nudge_hi + (sum_lo < lo);
    if (sum_hi < 0) {                    /* truncate toward zero */
        uint32_t old = sum_lo;
        sum_lo += 0x7FFFFFFFu;
        sum_hi += sum_lo < old;
    }
    return (int32_t)(((uint32_t)sum_hi << 1) | (sum_lo >> 31));
}
#endif

#include "generic.h"

#endif /* TINYJIT_RISCV_BASE_H */
