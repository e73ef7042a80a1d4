"""AveragePool, int8 (NHWC), as TFLite's integer AveragePool.

The sum of the window's inputs that fall inside the image, divided by their count rounding half
away from zero (``(acc +- count/2) / count`` in C), clamped. TFLite requires the input and output
to share scale and zero point; when they differ (ONNX QDQ graphs may), the rounded mean of
``x - in_zp`` is requantized to the output by a fixed-point multiplier.
"""
import numpy as np

from tinyjit import Call, kernel
from tinyjit.quant import quantize_multiplier

from ._int8 import io_params, requantize_clamp
from ._util import check_conv2d_nhwc, conv_geometry
from .primitives import local_array_i32


@kernel(op="AveragePool", dtypes=("int8", "uint8"), schedule={"C_BLOCK": (16, 8, 32)})
def average_pool_int8(x, y, k_h, k_w, stride_h, stride_w, pad_t, pad_l, pad_b, pad_r, count_include_pad,
                      in_zp, mult, shift, out_zp, act_min, act_max):
    n_batch, in_h, in_w, channels = x.shape
    _, out_h, out_w, _ = y.shape
    acc = local_array_i32(1, C_BLOCK)
    for n in range(n_batch):
        for oh in range(out_h):
            for ow in range(out_w):
                for cb in range(0, channels, C_BLOCK):
                    width = min(C_BLOCK, channels - cb)
                    for j in range(C_BLOCK):
                        acc[0, j] = 0
                    count = 0
                    for kh in range(k_h):
                        ih = oh * stride_h - pad_t + kh
                        for kw in range(k_w):
                            iw = ow * stride_w - pad_l + kw
                            if ih >= 0 and ih < in_h and iw >= 0 and iw < in_w:
                                if width == C_BLOCK:
                                    for j in range(C_BLOCK):
                                        acc[0, j] += np.int32(x[n, ih, iw, cb + j])
                                else:
                                    for j in range(width):
                                        acc[0, j] += np.int32(x[n, ih, iw, cb + j])
                                count += 1
                            elif count_include_pad and ih < in_h + pad_b and iw < in_w + pad_r:
                                for j in range(C_BLOCK):
                                    acc[0, j] += in_zp            # a padded zero, quantized
                                count += 1
                    count = max(count, 1)
                    half = count // 2
                    for j in range(width):
                        s = acc[0, j]
                        # C's truncating division of (s +- count/2) by count
                        q = (s + half) // count if s > 0 else -((half - s) // count)
                        if mult != 0:
                            q = requantize_clamp(q - in_zp, mult, shift, out_zp, act_min, act_max)
                        y[n, oh, ow, cb + j] = min(max(q, act_min), act_max)


average_pool_int8.uses(requantize_clamp)


@average_pool_int8.prepare
def _(node, graph, S):
    check_conv2d_nhwc(node, graph)
    if node.attrs.get("dilations", [1, 1]) not in ([1, 1], (1, 1)):
        from tinyjit.errors import UnsupportedError
        raise UnsupportedError(f"node {node.name}: dilated int8 AveragePool is not supported")
    x, y, in_scale, in_zp, out_scale, out_zp, lo, hi = io_params(node, graph)
    k_h, k_w = node.attrs["kernel_shape"]
    stride_h, stride_w, pad_t, pad_l, _, _ = conv_geometry(node)
    pads = node.attrs.get("pads", (0, 0, 0, 0))
    same = abs(in_scale - out_scale) <= 1e-6 and in_zp == out_zp    # TFLite's own condition
    mult, shift = (0, 0) if same else quantize_multiplier(in_scale / out_scale)
    return Call([node.inputs[0], node.outputs[0]],
                [int(k_h), int(k_w), stride_h, stride_w, pad_t, pad_l, int(pads[2]), int(pads[3]),
                 int(node.attrs.get("count_include_pad", 0)), in_zp, mult, shift, out_zp, lo, hi],
                macs=y.size * k_h * k_w)
