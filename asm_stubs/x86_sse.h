/* tinyjit primitives for x86-64 hosts (SSE4.1): saturating narrowing with PACKSSDW/PACKSSWB/
 * PACKUSWB, the fused multiply-add and the rest from generic.h. Each function equals its Python
 * definition in kernels/primitives.py bit for bit (tests/test_asm_stubs.py). */
#ifndef TINYJIT_X86_SSE_H
#define TINYJIT_X86_SSE_H

#include <smmintrin.h>
#include <stdint.h>

#define TJ_HAVE_saturate_int8 1
static inline int8_t saturate_int8(int32_t v)
{
    __m128i x = _mm_cvtsi32_si128(v);
    x = _mm_packs_epi32(x, x);           /* to int16, saturating */
    x = _mm_packs_epi16(x, x);           /* to int8, saturating */
    return (int8_t)_mm_cvtsi128_si32(x);
}

#define TJ_HAVE_saturate_uint8 1
static inline uint8_t saturate_uint8(int32_t v)
{
    __m128i x = _mm_cvtsi32_si128(v);
    x = _mm_packs_epi32(x, x);
    x = _mm_packus_epi16(x, x);          /* to uint8, saturating */
    return (uint8_t)_mm_cvtsi128_si32(x);
}

#define TJ_HAVE_saturate_int16 1
static inline int16_t saturate_int16(int32_t v)
{
    __m128i x = _mm_cvtsi32_si128(v);
    x = _mm_packs_epi32(x, x);
    return (int16_t)_mm_cvtsi128_si32(x);
}

#define TJ_HAVE_clamp_f32 1
static inline float clamp_f32(float v, float lo, float hi)
{
    /* MAXSS/MINSS return their second operand when either is NaN: max(v, lo) as Python is maxss(lo, v) */
    __m128 m = _mm_max_ss(_mm_set_ss(lo), _mm_set_ss(v));
    return _mm_cvtss_f32(_mm_min_ss(_mm_set_ss(hi), m));
}

#include "generic.h"

#endif /* TINYJIT_X86_SSE_H */
