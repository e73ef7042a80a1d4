"""DepthwiseConv (NHWC; the layout pass turns a Conv with group == channels into this op).

Weights are packed to [KH, KW, C] so the innermost loop runs over contiguous channels.
"""
import numpy as np

from tinyjit import Call, kernel

from ._util import activation_range, check_conv2d_nhwc, conv_geometry


@kernel(op="DepthwiseConv", dtypes=("float32",))
def depthwise_conv2d_f32(x, w, b, y, stride_h, stride_w, pad_t, pad_l, dil_h, dil_w, multiplier,
                         act_min, act_max):
    n_batch, in_h, in_w, in_c = x.shape
    _, out_h, out_w, out_c = y.shape
    k_h, k_w, _ = w.shape
    lo = np.float32(act_min)
    hi = np.float32(act_max)
    for n in range(n_batch):
        for oh in range(out_h):
            for ow in range(out_w):
                for c in range(out_c):
                    y[n, oh, ow, c] = b[c]
                for kh in range(k_h):
                    ih = oh * stride_h - pad_t + kh * dil_h
                    if ih < 0 or ih >= in_h:
                        continue
                    for kw in range(k_w):
                        iw = ow * stride_w - pad_l + kw * dil_w
                        if iw < 0 or iw >= in_w:
                            continue
                        for c in range(out_c):
                            y[n, oh, ow, c] += x[n, ih, iw, c // multiplier] * w[kh, kw, c]
                for c in range(out_c):
                    y[n, oh, ow, c] = min(max(y[n, oh, ow, c], lo), hi)


@depthwise_conv2d_f32.prepare
def _(node, graph, S):
    check_conv2d_nhwc(node, graph)
    w = graph.const(node.inputs[1])                  # O H W 1
    out_c = w.shape[0]
    in_c = graph.tensors[node.inputs[0]].shape[3]
    b = graph.const(node.inputs[2]) if len(node.inputs) > 2 and node.inputs[2] else None
    bias = np.zeros(out_c, np.float32) if b is None else b.astype(np.float32)
    packed = np.ascontiguousarray(w[..., 0].transpose(1, 2, 0)).astype(np.float32)  # HWC
    y = graph.tensors[node.outputs[0]]
    return Call([node.inputs[0], packed, bias, node.outputs[0]],
                conv_geometry(node) + [out_c // in_c, *activation_range(node)],
                macs=y.size * w.shape[1] * w.shape[2])
