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
    for (int32_t i = 0; i < n; i += 8) {
        __asm__ volatile(
            "vldrb.s16 q0, [%1]\n"
            "vldrb.s16 q1, [%2]\n"
            "vmladava.s16 %0, q0, q1\n"
            : "+Te"(acc)                      /* VMLADAVA wants an even register */
            : "l"(a + i), "l"(b + i)          /* VLDRB.S16 wants r0-r7 */
            : "q0", "q1", "memory");
    }
    return acc;
}

#endif /* TINYJIT_ARMV81M_MVE_H */
