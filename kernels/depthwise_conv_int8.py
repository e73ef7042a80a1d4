"""DepthwiseConv, int8 (NHWC, weights per output channel), as TFLite's DepthwiseConvPerChannel.

Weights are packed at convert time to [KH, KW, C] int16 so the inner loop runs over contiguous
channels: int16 x int16 → int32 multiply-accumulates into an int32 row ``acc`` (one per output
pixel), then the requantizing epilogue writes the pixel.
"""
import numpy as np

from tinyjit import Call, kernel

from ._int8 import conv_params, int32_array, output_value, requantize_clamp
from ._util import check_conv2d_nhwc, conv_geometry


@kernel(op="DepthwiseConv", dtypes=("int8", "uint8"))
def depthwise_conv2d_int8(x, w, bias, mult, shift, y, acc, stride_h, stride_w, pad_t, pad_l, dil_h, dil_w,
                          multiplier, in_zp, out_zp, act_min, act_max, raw):
    n_batch, in_h, in_w, in_c = x.shape
    _, out_h, out_w, out_c = y.shape
    k_h, k_w, _ = w.shape
    for n in range(n_batch):
        for oh in range(out_h):
            for ow in range(out_w):
                for c in range(out_c):
                    acc[c] = bias[c]
                for kh in range(k_h):
                    ih = oh * stride_h - pad_t + kh * dil_h
                    if ih < 0 or ih >= in_h:
                        continue
                    for kw in range(k_w):
                        iw = ow * stride_w - pad_l + kw * dil_w
                        if iw < 0 or iw >= in_w:
                            continue
                        for c in range(out_c):
                            acc[c] += np.int32(np.int16(x[n, ih, iw, c // multiplier] - in_zp)) * np.int32(w[kh, kw, c])
                for c in range(out_c):
                    y[n, oh, ow, c] = output_value(acc[c], mult[c], shift[c], out_zp, act_min, act_max, raw)


depthwise_conv2d_int8.uses(requantize_clamp, output_value)


@depthwise_conv2d_int8.prepare
def _(node, graph, S):
    check_conv2d_nhwc(node, graph)
    weights, bias, mult, shift, in_zp, out_zp, lo, hi, raw = conv_params(node, graph)   # O H W 1
    out_c = weights.shape[0]
    in_c = graph.tensors[node.inputs[0]].shape[3]
    packed = np.ascontiguousarray(weights[..., 0].transpose(1, 2, 0))               # H W C
    y = graph.tensors[node.outputs[0]]
    return Call([node.inputs[0], packed, int32_array(bias, "the bias", node), mult, shift, node.outputs[0]],
                [*conv_geometry(node), out_c // in_c, in_zp, out_zp, lo, hi, raw],
                scratch=[("int32", (out_c,))], macs=y.size * weights.shape[1] * weights.shape[2])
