"""GlobalAveragePool (TFLite MEAN over H and W), int8, as TF Lite Micro's QuantizedMeanOrSum.

The sum over the window minus ``count * in_zp`` is requantized by ``in_scale / out_scale``
folded with ``1 / count`` the way TFLM folds it (the multiplier shifted left by floor(log2(count))
and divided by count, the shift lowered to match), then clamped to the output type.
"""
import numpy as np

from tinyjit import Call, kernel
from tinyjit.quant import dtype_range, quantize_multiplier

from ._int8 import QTYPES, io_params, requantize_clamp
from ._util import check_conv2d_nhwc
from .primitives import local_array_i32


@kernel(op="GlobalAveragePool", dtypes=QTYPES, schedule={"C_BLOCK": (16, 8, 32)})
def global_average_pool_int8(x, y, correction, mult, shift, out_zp, lo, hi):
    n_batch, in_h, in_w, channels = x.shape
    acc = local_array_i32(1, C_BLOCK)
    for n in range(n_batch):
        for cb in range(0, channels, C_BLOCK):
            width = min(C_BLOCK, channels - cb)
            for j in range(C_BLOCK):
                acc[0, j] = 0
            for ih in range(in_h):
                for iw in range(in_w):
                    for j in range(width):
                        acc[0, j] += np.int32(x[n, ih, iw, cb + j])
            for j in range(width):
                y[n, 0, 0, cb + j] = requantize_clamp(acc[0, j] - correction, mult, shift, out_zp, lo, hi)


global_average_pool_int8.uses(requantize_clamp)


def mean_multiplier(in_scale: float, out_scale: float, count: int) -> tuple[int, int]:
    """TFLM's QuantizedMeanOrSum rescaling for a mean over ``count`` values."""
    mult, shift = quantize_multiplier(in_scale / out_scale)
    bits = min(count.bit_length() - 1, 32, 31 + shift)
    return int((mult << bits) // count), shift - bits


@global_average_pool_int8.prepare
def _(node, graph, S):
    check_conv2d_nhwc(node, graph)
    x, y, in_scale, in_zp, out_scale, out_zp, _, _ = io_params(node, graph)
    count = x.shape[1] * x.shape[2]
    mult, shift = mean_multiplier(in_scale, out_scale, count)
    return Call([node.inputs[0], node.outputs[0]], [count * in_zp, mult, shift, out_zp, *dtype_range(y.dtype)],
                macs=x.size)
