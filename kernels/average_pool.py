"""AveragePool (NHWC)."""
import numpy as np

from tinyjit import Call, kernel

from ._util import activation_range, check_conv2d_nhwc, conv_geometry


@kernel(op="AveragePool", dtypes=("float32",))
def average_pool_f32(x, y, k_h, k_w, stride_h, stride_w, pad_t, pad_l, dil_h, dil_w, pad_b, pad_r,
                     count_include_pad, act_min, act_max):
    n_batch, in_h, in_w, channels = x.shape
    _, out_h, out_w, _ = y.shape
    lo = np.float32(act_min)
    hi = np.float32(act_max)
    for n in range(n_batch):
        for oh in range(out_h):
            for ow in range(out_w):
                for c in range(channels):
                    y[n, oh, ow, c] = 0
                count = 0
                for kh in range(k_h):
                    ih = oh * stride_h - pad_t + kh * dil_h
                    for kw in range(k_w):
                        iw = ow * stride_w - pad_l + kw * dil_w
                        inside = ih >= 0 and ih < in_h and iw >= 0 and iw < in_w
                        if inside:
                            for c in range(channels):
                                y[n, oh, ow, c] += x[n, ih, iw, c]
                            count += 1
                        elif count_include_pad and ih < in_h + pad_b and iw < in_w + pad_r:
                            count += 1
                scale = np.float32(1.0) / np.float32(max(count, 1))
                for c in range(channels):
                    y[n, oh, ow, c] = min(max(y[n, oh, ow, c] * scale, lo), hi)


@average_pool_f32.prepare
def _(node, graph, S):
    check_conv2d_nhwc(node, graph)
    k_h, k_w = node.attrs["kernel_shape"]
    stride_h, stride_w, pad_t, pad_l, dil_h, dil_w = conv_geometry(node)
    pads = node.attrs.get("pads", (0, 0, 0, 0))
    y = graph.tensors[node.outputs[0]]
    return Call([node.inputs[0], node.outputs[0]],
                [int(k_h), int(k_w), stride_h, stride_w, pad_t, pad_l, dil_h, dil_w, int(pads[2]), int(pads[3]),
                 int(node.attrs.get("count_include_pad", 0)), *activation_range(node)],
                macs=y.size * k_h * k_w)
