"""AveragePool (NHWC): each output pixel sums its window NR channels at a time in registers.

The block of channels is a parameter (the plan passes it as a literal, so LLVM unrolls it):
NR, or fewer for a layer with fewer channels; the last partial block is masked.
"""
import numpy as np

from tinyjit import Call, kernel

from ._util import activation_range, check_conv2d_nhwc, conv_geometry
from .conv import channel_block


@kernel(op="AveragePool", dtypes=("float32",), schedule={"NR": (16, 8, 32)})
def average_pool_f32(x, y, k_h, k_w, stride_h, stride_w, pad_t, pad_l, dil_h, dil_w, pad_b, pad_r,
                     count_include_pad, block, act_min, act_max):
    n_batch, in_h, in_w, channels = x.shape
    _, out_h, out_w, _ = y.shape
    lo = np.float32(act_min)
    hi = np.float32(act_max)
    acc = local_array_f32(1, NR)  # noqa: F821  (primitive) acc[0, :block]
    for n in range(n_batch):
        for oh in range(out_h):
            for ow in range(out_w):
                count = 0
                for kh in range(k_h):
                    ih = oh * stride_h - pad_t + kh * dil_h
                    for kw in range(k_w):
                        iw = ow * stride_w - pad_l + kw * dil_w
                        if ih >= 0 and ih < in_h and iw >= 0 and iw < in_w:
                            count += 1
                        elif count_include_pad and ih < in_h + pad_b and iw < in_w + pad_r:
                            count += 1
                scale = np.float32(1.0) / np.float32(max(count, 1))
                for c0 in range(0, channels, block):
                    width = min(block, channels - c0)
                    for j in range(block):
                        acc[0, j] = np.float32(0.0)
                    for kh in range(k_h):
                        ih = oh * stride_h - pad_t + kh * dil_h
                        if ih < 0 or ih >= in_h:
                            continue
                        for kw in range(k_w):
                            iw = ow * stride_w - pad_l + kw * dil_w
                            if iw >= 0 and iw < in_w:
                                if width == block:
                                    for j in range(block):
                                        acc[0, j] += x[n, ih, iw, c0 + j]
                                else:
                                    for j in range(block):
                                        if j < width:
                                            acc[0, j] += x[n, ih, iw, c0 + j]
                    for j in range(block):
                        if j < width:
                            y[n, oh, ow, c0 + j] = min(max(acc[0, j] * scale, lo), hi)


@average_pool_f32.prepare
def _(node, graph, S):
    check_conv2d_nhwc(node, graph)
    k_h, k_w = node.attrs["kernel_shape"]
    stride_h, stride_w, pad_t, pad_l, dil_h, dil_w = conv_geometry(node)
    pads = node.attrs.get("pads", (0, 0, 0, 0))
    y = graph.tensors[node.outputs[0]]
    block = channel_block(S["NR"], y.shape[3])
    return Call([node.inputs[0], node.outputs[0]],
                [int(k_h), int(k_w), stride_h, stride_w, pad_t, pad_l, dil_h, dil_w, int(pads[2]), int(pads[3]),
                 int(node.attrs.get("count_include_pad", 0)), block, *activation_range(node)],
                macs=y.size * k_h * k_w)
