"""gemmlowp's fixed-point math (fixedpoint/fixedpoint.h), in the kernel subset.

TFLite's int8 Softmax, Logistic and Tanh are defined by these functions, so an int8 kernel that
must give TF Lite Micro's bytes calls them. A fixed-point value is an int32 ``raw`` with
``integer_bits`` bits left of the binary point (gemmlowp's ``FixedPoint<int32_t, N>``):
``real = raw / 2**(31 - integer_bits)``. Values travel as int64 holding that int32, so the same
source runs as plain Python (to build lookup tables at convert time) and under Numba.

Kernels paste what they call with ``kernel.uses(...)``; ``FIXEDPOINT`` lists every helper here.
"""
import numpy as np  # noqa: F401  (the pasted helpers see the generated module's globals)

from .primitives import rounding_divide_by_pot, saturating_rounding_doubling_high_mul, wrap_int32  # noqa: F401


def fp_rounding_half_sum(a, b):
    """gemmlowp ``RoundingHalfSum``: (a + b) / 2 rounded to nearest, ties away from zero (ARM VRHADD)."""
    s = np.int64(a) + np.int64(b)
    return (s + 1) >> 1 if s >= 0 else -((1 - s) >> 1)


def fp_multiply_by_pot(x, exponent):
    """gemmlowp ``SaturatingRoundingMultiplyByPOT<exponent>``: ``x * 2**exponent``.

    A left shift that saturates to the int32 range for ``exponent > 0``, a rounding right shift
    (``rounding_divide_by_pot``) for ``exponent < 0``. ``Rescale<dst>`` of a value with ``src``
    integer bits is ``fp_multiply_by_pot(x, src - dst)``.
    """
    if exponent == 0:
        return x
    if exponent < 0:
        return rounding_divide_by_pot(x, -exponent)
    threshold = (np.int64(1) << (31 - exponent)) - 1
    if x > threshold:
        return np.int64(2147483647)
    if x < -threshold:
        return np.int64(-2147483648)
    return x << exponent


def fp_exp_on_interval_between_negative_one_quarter_and_0_excl(a):
    """exp(a) for a Q0.31 ``a`` in [-1/4, 0): a Taylor expansion around -1/8 (result Q0.31)."""
    constant_term = np.int64(1895147668)        # exp(-1/8)
    constant_1_over_3 = np.int64(715827883)
    x = a + (np.int64(1) << 28)                 # a + 1/8
    x2 = saturating_rounding_doubling_high_mul(x, x)
    x3 = saturating_rounding_doubling_high_mul(x2, x)
    x4 = saturating_rounding_doubling_high_mul(x2, x2)
    x4_over_4 = rounding_divide_by_pot(x4, 2)
    poly = rounding_divide_by_pot(
        saturating_rounding_doubling_high_mul(x4_over_4 + x3, constant_1_over_3) + x2, 1)
    return constant_term + saturating_rounding_doubling_high_mul(constant_term, x + poly)


def fp_exp_on_negative_values(a, integer_bits):
    """exp(a) for a <= 0 given with ``integer_bits`` integer bits; the result is Q0.31."""
    fractional_bits = 31 - integer_bits
    one_quarter = np.int64(1) << (fractional_bits - 2)
    a_mod_quarter_minus_one_quarter = (a & (one_quarter - 1)) - one_quarter
    result = fp_exp_on_interval_between_negative_one_quarter_and_0_excl(
        fp_multiply_by_pot(a_mod_quarter_minus_one_quarter, integer_bits))
    remainder = a_mod_quarter_minus_one_quarter - a
    # barrel shifter: multiply by exp(-2**e) for each bit e of the remainder
    if integer_bits > -2 and remainder & (np.int64(1) << (fractional_bits - 2)):
        result = saturating_rounding_doubling_high_mul(result, 1672461947)     # exp(-1/4)
    if integer_bits > -1 and remainder & (np.int64(1) << (fractional_bits - 1)):
        result = saturating_rounding_doubling_high_mul(result, 1302514674)     # exp(-1/2)
    if integer_bits > 0 and remainder & (np.int64(1) << fractional_bits):
        result = saturating_rounding_doubling_high_mul(result, 790015084)      # exp(-1)
    if integer_bits > 1 and remainder & (np.int64(1) << (fractional_bits + 1)):
        result = saturating_rounding_doubling_high_mul(result, 290630308)      # exp(-2)
    if integer_bits > 2 and remainder & (np.int64(1) << (fractional_bits + 2)):
        result = saturating_rounding_doubling_high_mul(result, 39332535)       # exp(-4)
    if integer_bits > 3 and remainder & (np.int64(1) << (fractional_bits + 3)):
        result = saturating_rounding_doubling_high_mul(result, 720401)         # exp(-8)
    if integer_bits > 4 and remainder & (np.int64(1) << (fractional_bits + 4)):
        result = saturating_rounding_doubling_high_mul(result, 242)            # exp(-16)
    if integer_bits > 5 and a < -(np.int64(1) << (36 - integer_bits)):         # below -32: 0
        result = np.int64(0)
    if a == 0:
        result = np.int64(2147483647)                                          # One() in Q0.31
    return result


def fp_one_over_one_plus_x_for_x_in_0_1(a):
    """1 / (1 + a) for a Q0.31 ``a`` in [0, 1): three Newton-Raphson steps, result Q0.31."""
    half_denominator = fp_rounding_half_sum(a, 2147483647)
    x = 1515870810 + saturating_rounding_doubling_high_mul(half_denominator, -1010580540)  # Q2: 48/17 - 32/17 d
    for _ in range(3):
        half_denominator_times_x = saturating_rounding_doubling_high_mul(half_denominator, x)
        one_minus_half_denominator_times_x = (np.int64(1) << 29) - half_denominator_times_x
        x = x + fp_multiply_by_pot(saturating_rounding_doubling_high_mul(x, one_minus_half_denominator_times_x), 2)
    return fp_multiply_by_pot(x, 1)                     # Rescale<0>(ExactMulByPot<-1>(x)) from Q2


def fp_one_minus_x_over_one_plus_x_for_x_in_0_1(a):
    """(1 - a) / (1 + a) for a Q0.31 ``a`` in [0, 1): the tanh kernel, result Q0.31."""
    half_denominator = fp_rounding_half_sum(a, 2147483647)
    x = 1515870810 + saturating_rounding_doubling_high_mul(half_denominator, -1010580540)
    for _ in range(3):
        half_denominator_times_x = saturating_rounding_doubling_high_mul(half_denominator, x)
        one_minus_half_denominator_times_x = (np.int64(1) << 29) - half_denominator_times_x
        x = x + fp_multiply_by_pot(saturating_rounding_doubling_high_mul(x, one_minus_half_denominator_times_x), 2)
    return fp_multiply_by_pot(x - (np.int64(1) << 29), 2)   # Rescale<0>(x - One()) from Q2


def fp_logistic(a, integer_bits):
    """logistic(a) = 1 / (1 + exp(-a)), ``a`` with ``integer_bits`` integer bits; result Q0.31."""
    if a == 0:
        return np.int64(1 << 30)                        # one half
    abs_a = a if a > 0 else wrap_int32(-a)
    positive = fp_one_over_one_plus_x_for_x_in_0_1(fp_exp_on_negative_values(wrap_int32(-abs_a), integer_bits))
    return positive if a > 0 else np.int64(2147483647) - positive


def fp_tanh(a, integer_bits):
    """tanh(a), ``a`` with ``integer_bits`` integer bits; result Q0.31."""
    if a == 0:
        return np.int64(0)
    n = a if a < 0 else wrap_int32(-a)                   # -|a|
    # ExactMulByPot<1>: the same raw value read with one more integer bit
    t = fp_one_minus_x_over_one_plus_x_for_x_in_0_1(fp_exp_on_negative_values(n, integer_bits + 1))
    return wrap_int32(-t) if a < 0 else t


def fp_reciprocal(x, x_integer_digits):
    """TFLite's ``GetReciprocal``: 1 / x for a positive ``x`` with ``x_integer_digits`` integer bits.

    Returns ``(scale, num_bits_over_unit)``: ``scale`` is Q0.31 and 1/x = scale / 2**num_bits_over_unit.
    """
    u = x & 0xFFFFFFFF
    headroom_plus_one = 0                                 # count leading zeros of the uint32
    while headroom_plus_one < 32 and (u << headroom_plus_one) & 0x80000000 == 0:
        headroom_plus_one += 1
    num_bits_over_unit = x_integer_digits - headroom_plus_one
    shifted_sum_minus_one = wrap_int32(((u << headroom_plus_one) & 0xFFFFFFFF) - 0x80000000)
    return fp_one_over_one_plus_x_for_x_in_0_1(shifted_sum_minus_one), num_bits_over_unit


FIXEDPOINT = (fp_rounding_half_sum, fp_multiply_by_pot, fp_exp_on_interval_between_negative_one_quarter_and_0_excl,
              fp_exp_on_negative_values, fp_one_over_one_plus_x_for_x_in_0_1,
              fp_one_minus_x_over_one_plus_x_for_x_in_0_1, fp_logistic, fp_tanh, fp_reciprocal)
