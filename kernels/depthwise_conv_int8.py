"""DepthwiseConv, int8 (NHWC, weights per output channel), as TFLite's DepthwiseConvPerChannel.

Weights are packed at convert time to [KH, KW, C], int8 (int16 only when an ONNX weight zero
point leaves ``w - w_zp`` outside int8), so the inner loop runs over C_BLOCK contiguous
channels: ``x - in_zp`` times the weights accumulate into C_BLOCK int32
registers (a stack tile, no arena scratch), then the requantizing epilogue writes them. Prepare
picks a C_BLOCK that divides the channels and writes it, with the depth multiplier, into the
node's schedule: both are compile-time constants of the kernel.
"""
import numpy as np

from tinyjit import Call, kernel

from ._int8 import conv_params, int32_array, output_value, requantize_clamp
from ._util import check_conv2d_nhwc, conv_geometry
from .primitives import local_array_i32


@kernel(op="DepthwiseConv", dtypes=("int8", "uint8"), schedule={"C_BLOCK": (16, 8, 32), "MULTIPLIER": (1,), "OUT_C": (1,)})
def depthwise_conv2d_int8(x, w, bias, mult, shift, y, stride_h, stride_w, pad_t, pad_l, dil_h, dil_w,
                          in_zp, out_zp, act_min, act_max, raw):
    n_batch, in_h, in_w, in_c = x.shape
    _, out_h, out_w, out_c = y.shape
    k_h, k_w, _ = w.shape
    acc = local_array_i32(1, C_BLOCK)
    row = local_array_i32(1, OUT_C)
    for n in range(n_batch):
        for oh in range(out_h):
            for ow in range(out_w):
                for cb in range(0, out_c, C_BLOCK):
                    for j in range(C_BLOCK):
                        acc[0, j] = bias[cb + j]
                    for kh in range(k_h):
                        ih = oh * stride_h - pad_t + kh * dil_h
                        if ih < 0 or ih >= in_h:
                            continue
                        for kw in range(k_w):
                            iw = ow * stride_w - pad_l + kw * dil_w
                            if iw < 0 or iw >= in_w:
                                continue
                            for j in range(C_BLOCK):
                                acc[0, j] = np.int32(acc[0, j] + (np.int32(x[n, ih, iw, (cb + j) // MULTIPLIER]) - in_zp)
                                                     * np.int32(w[kh, kw, cb + j]))
                    for j in range(C_BLOCK):
                        row[0, cb + j] = acc[0, j]
                for c in range(out_c):          # the pixel's epilogue: one vectorized loop
                    y[n, oh, ow, c] = output_value(row[0, c], mult[c], shift[c], out_zp, act_min, act_max, raw)


depthwise_conv2d_int8.uses(requantize_clamp, output_value)


@depthwise_conv2d_int8.prepare
def _(node, graph, S):
    check_conv2d_nhwc(node, graph)
    weights, bias, mult, shift, in_zp, out_zp, lo, hi, raw = conv_params(node, graph)   # O H W 1
    out_c = weights.shape[0]
    in_c = graph.tensors[node.inputs[0]].shape[3]
    # the channel block divides the channels (no tail) and the depth multiplier is a constant
    block = int(S["C_BLOCK"])
    while out_c % block:
        block //= 2
    S.update(C_BLOCK=block, MULTIPLIER=out_c // in_c, OUT_C=out_c)
    packed = np.ascontiguousarray(weights[..., 0].transpose(1, 2, 0))               # H W C
    fits8 = packed.size == 0 or (packed.min() >= -128 and packed.max() <= 127)
    y = graph.tensors[node.outputs[0]]
    return Call([node.inputs[0], packed.astype(np.int8 if fits8 else np.int16), int32_array(bias, "the bias", node), mult, shift,
                 node.outputs[0]], [*conv_geometry(node), in_zp, out_zp, lo, hi, raw],
                macs=y.size * weights.shape[1] * weights.shape[2])
