"""Conv (NHWC, weights OHWI in the IR): direct convolution, no im2col.

Weights are packed at convert time to [KH, KW, CI/groups, CO] so the innermost loop runs over
contiguous output channels, which LLVM vectorizes.
"""
import numpy as np

from tinyjit import Call, kernel

from ._util import activation_range, check_conv2d_nhwc, conv_geometry


@kernel(op="Conv", dtypes=("float32",))
def conv2d_f32(x, w, b, y, stride_h, stride_w, pad_t, pad_l, dil_h, dil_w, groups, act_min, act_max):
    n_batch, in_h, in_w, _ = x.shape
    _, out_h, out_w, out_c = y.shape
    k_h, k_w, group_in, _ = w.shape
    group_out = out_c // groups
    lo = np.float32(act_min)
    hi = np.float32(act_max)
    for n in range(n_batch):
        for oh in range(out_h):
            for ow in range(out_w):
                for co in range(out_c):
                    y[n, oh, ow, co] = b[co]
                for kh in range(k_h):
                    ih = oh * stride_h - pad_t + kh * dil_h
                    if ih < 0 or ih >= in_h:
                        continue
                    for kw in range(k_w):
                        iw = ow * stride_w - pad_l + kw * dil_w
                        if iw < 0 or iw >= in_w:
                            continue
                        for g in range(groups):
                            for ci in range(group_in):
                                xv = x[n, ih, iw, g * group_in + ci]
                                for co in range(g * group_out, (g + 1) * group_out):
                                    y[n, oh, ow, co] += xv * w[kh, kw, ci, co]
                for co in range(out_c):
                    y[n, oh, ow, co] = min(max(y[n, oh, ow, co], lo), hi)


@conv2d_f32.prepare
def _(node, graph, S):
    check_conv2d_nhwc(node, graph)
    w = graph.const(node.inputs[1])                  # OHWI
    out_c = w.shape[0]
    b = graph.const(node.inputs[2]) if len(node.inputs) > 2 and node.inputs[2] else None
    bias = np.zeros(out_c, np.float32) if b is None else b.astype(np.float32)
    packed = np.ascontiguousarray(w.transpose(1, 2, 3, 0)).astype(np.float32)   # HWIO
    groups = int(node.attrs.get("group", 1))
    y = graph.tensors[node.outputs[0]]
    macs = y.size * w.shape[1] * w.shape[2] * w.shape[3]
    return Call([node.inputs[0], packed, bias, node.outputs[0]],
                conv_geometry(node) + [groups, *activation_range(node)], macs=macs)
