"""Softmax, int8 in and out, with TFLite's integer algorithm (reference_ops::Softmax), so the
bytes match TF Lite Micro.

Per row: the differences to the row's maximum are scaled by ``beta * input_scale`` into Q5.26,
exponentiated in fixed point (gemmlowp's exp_on_negative_values), summed in Q12.19, and each
exponential multiplied by the sum's fixed-point reciprocal. TFLite fixes the output to scale
1/256, zero point -128; any other output quantization is reached by a final requantization.
"""
import numpy as np

from tinyjit import Call, kernel
from tinyjit.errors import UnsupportedError
from tinyjit.quant import f32, per_tensor, quantize_multiplier

from ._fixedpoint import FIXEDPOINT, fp_exp_on_negative_values, fp_multiply_by_pot, fp_reciprocal
from ._int8 import quantized
from .primitives import (multiply_by_quantized_multiplier, rounding_divide_by_pot,
                         saturating_rounding_doubling_high_mul)
from .softmax import axis_view

SCALED_DIFF_INTEGER_BITS = 5
ACCUMULATION_INTEGER_BITS = 12


@kernel(op="Softmax", dtypes=("int8",))
def softmax_int8(x, y, input_multiplier, input_left_shift, diff_min, out_mult, out_shift, out_zp):
    outer, length, inner = x.shape
    for o in range(outer):
        for i in range(inner):
            top = np.int32(-128)
            for j in range(length):
                top = max(top, np.int32(x[o, j, i]))
            sum_of_exps = np.int64(0)                       # Q12.19
            for j in range(length):
                diff = np.int32(x[o, j, i]) - top
                if diff >= diff_min:
                    scaled = multiply_by_quantized_multiplier(diff, input_multiplier, input_left_shift)
                    sum_of_exps += fp_multiply_by_pot(fp_exp_on_negative_values(scaled, 5), -12)
            shifted_scale, num_bits_over_unit = fp_reciprocal(sum_of_exps, 12)
            exponent = num_bits_over_unit + 31 - 8
            for j in range(length):
                diff = np.int32(x[o, j, i]) - top
                q = np.int64(-128)
                if diff >= diff_min:
                    scaled = multiply_by_quantized_multiplier(diff, input_multiplier, input_left_shift)
                    e = fp_exp_on_negative_values(scaled, 5)
                    q = rounding_divide_by_pot(saturating_rounding_doubling_high_mul(shifted_scale, e), exponent) - 128
                if out_mult != 0:                           # output quantized other than 1/256, -128
                    q = multiply_by_quantized_multiplier(q + 128, out_mult, out_shift) + out_zp
                y[o, j, i] = min(max(q, -128), 127)


softmax_int8.uses(*FIXEDPOINT)


def softmax_params(beta: float, in_scale: float) -> tuple[int, int, int]:
    """TFLite's PreprocessSoftmaxScaling and CalculateInputRadius: (multiplier, left shift, diff_min)."""
    real = min(f32(beta) * f32(in_scale) * (1 << (31 - SCALED_DIFF_INTEGER_BITS)), (1 << 31) - 1.0)
    mult, shift = quantize_multiplier(real)
    radius = ((1 << SCALED_DIFF_INTEGER_BITS) - 1) * (1 << (31 - SCALED_DIFF_INTEGER_BITS)) / (1 << shift)
    return mult, shift, -int(np.floor(radius))


@softmax_int8.prepare
def _(node, graph, S):
    x = quantized(graph, node.inputs[0], node)
    y = quantized(graph, node.outputs[0], node)
    in_scale, _ = per_tensor(x, node.name)
    out_scale, out_zp = per_tensor(y, node.name)
    mult, shift, diff_min = softmax_params(float(node.attrs.get("beta", 1.0)), in_scale)
    if shift < 0:
        raise UnsupportedError(f"node {node.name}: int8 Softmax with beta * input scale below 2**-26")
    out_mult, out_shift = (0, 0)
    if not (out_scale == 1.0 / 256 and out_zp == -128):
        out_mult, out_shift = quantize_multiplier((1.0 / 256) / out_scale)
    view = axis_view(node, graph)
    return Call([(node.inputs[0], view), (node.outputs[0], view)],
                [mult, shift, diff_min, out_mult, out_shift, out_zp], macs=x.size, inplace=True)
