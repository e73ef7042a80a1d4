/* tinyjit primitives for RV64GCV (vector extension 1.0): scalar primitives as on any 64-bit
 * RISC-V (generic.h compiles them to MUL and shifts) plus RVV inline assembly for int8 dot
 * products (vwmul + vwredsum). Each function equals its Python definition in
 * kernels/primitives.py bit for bit (tests/test_asm_stubs.py runs both under QEMU). */
#ifndef TINYJIT_RISCV_V_H
#define TINYJIT_RISCV_V_H

#include <stdint.h>

/* sum(a[i] * b[i]) over n int8, in int32 (vsetvli strip-mining; vwmul to int16, vwredsum to int32) */
static inline int32_t tj_rvv_dot_s8(const int8_t *a, const int8_t *b, int32_t n, int32_t acc)
{
    int64_t total = acc;
    while (n > 0) {
        long vl;
        int32_t part;
        __asm__ volatile(
            "vsetvli %0, %2, e8, m1, ta, ma\n"
            "vle8.v v1, (%3)\n"
            "vle8.v v2, (%4)\n"
            "vwmul.vv v4, v1, v2\n"              /* int16 products in v4-v5 */
            "vsetivli zero, 1, e32, m1, ta, ma\n"
            "vmv.s.x v8, zero\n"                 /* a 32-bit zero for the widening sum */
            "vsetvli zero, %0, e16, m2, ta, ma\n"
            "vwredsum.vs v8, v4, v8\n"           /* v8[0] (int32) = sum of the int16 products */
            "vsetivli zero, 1, e32, m1, ta, ma\n"
            "vmv.x.s %1, v8\n"
            : "=&r"(vl), "=&r"(part)
            : "r"((long)n), "r"(a), "r"(b)
            : "memory");   /* gcc 12 allocates no vector registers itself: v1-v8 need no clobbers */
        total += part;
        a += vl;
        b += vl;
        n -= (int32_t)vl;
    }
    return (int32_t)total;
}

#include "generic.h"

#endif /* TINYJIT_RISCV_V_H */
