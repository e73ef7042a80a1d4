"""Conv, int8 (NHWC, weights OHWI int8 per output channel, int32 bias), as TFLite's ConvPerChannel.

y = clamp(MultiplyByQuantizedMultiplier(sum((x - in_zp) * w) + bias, mult[co], shift[co]) + out_zp)

For each output pixel the receptive field is gathered once into ``col`` as int16 ``x - in_zp``
(0 where the window leaves the input, which is what TFLite's skipped taps contribute), in the
order of the packed weights [out, kh, kw, in/groups]; each output channel is then one contiguous
int16 x int16 → int32 dot product (what x86 vpmaddwd and Arm SMLAD do two pairs at a time), and
the requantization runs in the same loop (the epilogue).
"""
import numpy as np

from tinyjit import Call, kernel

from ._int8 import conv_params, int32_array, output_value, requantize_clamp
from ._util import check_conv2d_nhwc, conv_geometry


@kernel(op="Conv", dtypes=("int8", "uint8"))
def conv2d_int8(x, w, bias, mult, shift, y, col, k_h, k_w, stride_h, stride_w, pad_t, pad_l, dil_h, dil_w,
                groups, in_zp, out_zp, act_min, act_max, raw):
    n_batch, in_h, in_w, in_c = x.shape
    _, out_h, out_w, out_c = y.shape
    group_in = in_c // groups
    group_out = out_c // groups
    depth = k_h * k_w * group_in
    for n in range(n_batch):
        for oh in range(out_h):
            for ow in range(out_w):
                for g in range(groups):
                    for kh in range(k_h):
                        ih = oh * stride_h - pad_t + kh * dil_h
                        for kw in range(k_w):
                            iw = ow * stride_w - pad_l + kw * dil_w
                            at = g * depth + (kh * k_w + kw) * group_in
                            if ih >= 0 and ih < in_h and iw >= 0 and iw < in_w:
                                for ci in range(group_in):
                                    col[at + ci] = np.int16(x[n, ih, iw, g * group_in + ci] - in_zp)
                            else:
                                for ci in range(group_in):
                                    col[at + ci] = 0
                for co in range(out_c):
                    at = (co // group_out) * depth
                    acc = np.int32(0)
                    for k in range(depth):
                        acc += np.int32(col[at + k]) * np.int32(w[co, k])
                    y[n, oh, ow, co] = output_value(acc + bias[co], mult[co], shift[co], out_zp,
                                                    act_min, act_max, raw)


conv2d_int8.uses(requantize_clamp, output_value)


@conv2d_int8.prepare
def _(node, graph, S):
    check_conv2d_nhwc(node, graph)
    weights, bias, mult, shift, in_zp, out_zp, lo, hi, raw = conv_params(node, graph)
    out_c, k_h, k_w, group_in = weights.shape
    groups = int(node.attrs.get("group", 1))
    packed = np.ascontiguousarray(weights.reshape(out_c, -1))
    y = graph.tensors[node.outputs[0]]
    return Call([node.inputs[0], packed, int32_array(bias, "the bias", node), mult, shift, node.outputs[0]],
                [int(k_h), int(k_w), *conv_geometry(node), groups, in_zp, out_zp, lo, hi, raw],
                scratch=[("int16", (groups * k_h * k_w * group_in,))],
                macs=y.size * k_h * k_w * group_in)
