"""MaxPool (NHWC)."""
import numpy as np

from tinyjit import Call, kernel

from ._util import activation_range, check_conv2d_nhwc, conv_geometry


@kernel(op="MaxPool", dtypes=("float32", "int8", "uint8"))
def max_pool(x, y, k_h, k_w, stride_h, stride_w, pad_t, pad_l, dil_h, dil_w, act_min, act_max):
    n_batch, in_h, in_w, channels = x.shape
    _, out_h, out_w, _ = y.shape
    for n in range(n_batch):
        for oh in range(out_h):
            for ow in range(out_w):
                first = True
                for kh in range(k_h):
                    ih = oh * stride_h - pad_t + kh * dil_h
                    if ih < 0 or ih >= in_h:
                        continue
                    for kw in range(k_w):
                        iw = ow * stride_w - pad_l + kw * dil_w
                        if iw < 0 or iw >= in_w:
                            continue
                        if first:
                            for c in range(channels):
                                y[n, oh, ow, c] = x[n, ih, iw, c]
                            first = False
                        else:
                            for c in range(channels):
                                y[n, oh, ow, c] = max(y[n, oh, ow, c], x[n, ih, iw, c])
                for c in range(channels):
                    y[n, oh, ow, c] = min(max(y[n, oh, ow, c], act_min), act_max)


@max_pool.prepare
def _(node, graph, S):
    check_conv2d_nhwc(node, graph)
    k_h, k_w = node.attrs["kernel_shape"]
    y = graph.tensors[node.outputs[0]]
    lo, hi = activation_range(node)
    if y.dtype.kind in "iu":
        info = np.iinfo(y.dtype)
        lo, hi = int(max(lo, info.min)), int(min(hi, info.max))
    return Call([node.inputs[0], node.outputs[0]],
                [int(k_h), int(k_w), *conv_geometry(node), lo, hi], macs=y.size * k_h * k_w)
