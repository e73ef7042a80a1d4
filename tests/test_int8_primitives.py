"""The integer primitives and host-side quantization arithmetic against independent references
written from the C definitions (gemmlowp fixedpoint.h, TFLite common.h / quantization_util.cc)."""
import math
from fractions import Fraction

import numpy as np
import pytest

from tinyjit.kernels import _fixedpoint as fp
from tinyjit.kernels.primitives import (multiply_by_quantized_multiplier, rounding_divide_by_pot, saturate_int8,
                                        saturate_int16, saturating_rounding_doubling_high_mul, wrap_int32)
from tinyjit.quant import quantize_multiplier, tflite_round

INT32_MIN, INT32_MAX = -2**31, 2**31 - 1


def c_div(a: int, b: int) -> int:
    """C's integer division: truncates toward zero."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def ref_srdhm(a: int, b: int) -> int:
    if a == b == INT32_MIN:
        return INT32_MAX
    ab = a * b
    nudge = (1 << 30) if ab >= 0 else 1 - (1 << 30)
    return c_div(ab + nudge, 1 << 31)


def ref_rdbpot(x: int, e: int) -> int:
    """Round x / 2**e to nearest, ties away from zero (what gemmlowp's mask arithmetic computes)."""
    v = Fraction(x, 2**e)
    return int(math.copysign(math.floor(abs(v) + Fraction(1, 2)), v))


def ref_wrap(v: int) -> int:
    return (v + 2**31) % 2**32 - 2**31


def ref_mbqm(x: int, m: int, shift: int) -> int:
    left, right = max(shift, 0), max(-shift, 0)
    return ref_rdbpot(ref_srdhm(ref_wrap(x * (1 << left)), m), right)


EDGES = [0, 1, -1, 2, -2, 3, 127, -128, 255, -255, 2**15, -2**15, 2**30, -2**30, INT32_MAX, INT32_MIN,
         INT32_MAX - 1, INT32_MIN + 1, 123456789, -987654321]


def _pairs(n=3000, seed=0):
    rng = np.random.default_rng(seed)
    pairs = [(a, b) for a in EDGES for b in EDGES]
    for scale in (2**8, 2**16, 2**24, 2**31):
        pairs += [(int(a), int(b)) for a, b in rng.integers(-scale, scale, size=(n // 4, 2))]
    return [(max(INT32_MIN, min(INT32_MAX, a)), max(INT32_MIN, min(INT32_MAX, b))) for a, b in pairs]


def test_saturating_rounding_doubling_high_mul():
    for a, b in _pairs():
        assert saturating_rounding_doubling_high_mul(a, b) == ref_srdhm(a, b), (a, b)


def test_rounding_divide_by_pot():
    rng = np.random.default_rng(1)
    for x in EDGES + [int(v) for v in rng.integers(INT32_MIN, INT32_MAX, 2000)]:
        for e in (0, 1, 2, 5, 12, 20, 30, 31):
            assert rounding_divide_by_pot(x, e) == ref_rdbpot(x, e), (x, e)


def test_multiply_by_quantized_multiplier():
    rng = np.random.default_rng(2)
    multipliers = [0, 1 << 30, INT32_MAX, 1518500250] + [int(v) for v in rng.integers(1 << 30, 1 << 31, 20)]
    xs = EDGES + [int(v) for v in rng.integers(-2**20, 2**20, 200)]
    for m in multipliers:
        for shift in (-31, -20, -9, -1, 0, 1, 3, 10):
            for x in xs:
                assert multiply_by_quantized_multiplier(x, m, shift) == ref_mbqm(x, m, shift), (x, m, shift)


def test_saturating_narrowing_and_wrap():
    for v in (-10**6, -129, -128, 0, 127, 128, 10**6):
        assert saturate_int8(v) == max(-128, min(127, v))
        assert saturate_int16(v) == max(-32768, min(32767, v))
    for v in (0, 2**31, -2**31 - 1, 2**32 + 5, -(2**40) + 7):
        assert wrap_int32(v) == ref_wrap(v)


@pytest.mark.parametrize("real,expected", [
    (0.5, (1 << 30, 0)), (1.0, (1 << 30, 1)), (0.25, (1 << 30, -1)), (0.75, (1610612736, 0)),
    (0.0, (0, 0)), (1e-12, (0, 0)), (2.0**-31, (1 << 30, -30)),
    (1 - 2.0**-33, (1 << 30, 1)),          # rounds up to 2**31: folded back, shift + 1
])
def test_quantize_multiplier(real, expected):
    assert quantize_multiplier(real) == expected


def test_quantize_multiplier_reconstructs_the_real_value():
    rng = np.random.default_rng(3)
    for real in rng.uniform(1e-6, 100, 500):
        m, shift = quantize_multiplier(real)
        assert 1 << 30 <= m < 1 << 31
        assert abs(m * 2.0**(shift - 31) - real) <= real * 2.0**-30


def test_tflite_round_is_half_away_from_zero():
    assert [tflite_round(v) for v in (0.5, 1.5, 2.5, -0.5, -1.5, 0.49999999)] == [1, 2, 3, -1, -2, 0]


def test_fixed_point_exp_logistic_tanh_are_accurate():
    for v in np.linspace(-31.9, 0, 400):
        a = int(round(v * 2**26))                      # Q5.26
        got = fp.fp_exp_on_negative_values(a, 5) / 2**31
        assert abs(got - math.exp(a / 2**26)) < 2e-7
    for v in np.linspace(-7.9, 7.9, 400):
        a = int(round(v * 2**27))                      # Q4.27
        assert abs(fp.fp_logistic(a, 4) / 2**31 - 1 / (1 + math.exp(-a / 2**27))) < 2e-7
        assert abs(fp.fp_tanh(a, 4) / 2**31 - math.tanh(a / 2**27)) < 4e-7
    for s in (1 << 19, 3 << 19, 1000 << 19, (1 << 30) + 12345):   # Q12.19
        scale, bits = fp.fp_reciprocal(s, 12)
        assert abs(scale / 2**31 / 2**bits - 2**19 / s) < 2**19 / s * 1e-6


def test_requantize_epilogue_equals_the_primitives():
    """The kernels' branch-free epilogue is clamp(MultiplyByQuantizedMultiplier(acc) + zp) exactly."""
    from tinyjit.kernels._int8 import requantize_clamp
    rng = np.random.default_rng(5)
    accs = EDGES + [int(v) for v in rng.integers(-2**24, 2**24, 300)] + [int(v) for v in rng.integers(-400, 400, 100)]
    multipliers = [0, 1 << 30, INT32_MAX] + [int(v) for v in rng.integers(1 << 30, 1 << 31, 12)]
    for m in multipliers:
        for shift in (-31, -17, -8, -1, 0, 1, 4):
            for acc in accs:
                want = max(-128, min(127, ref_mbqm(acc, m, shift) + 5))
                assert requantize_clamp(acc, m, shift, 5, -128, 127) == want, (acc, m, shift)
