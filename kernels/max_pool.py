"""MaxPool over 1, 2 or 3 spatial dims, on a 5-D NDHWC view.

After the layout pass a 2-D MaxPool is NHWC (viewed as N,1,H,W,C). Any other MaxPool (1-D, 3-D,
or one that also returns indices) stays channels-first: NC(D)(H)W is then viewed as N*C images of
one channel, (N*C, D, H, W, 1), which is the same computation. The optional Indices output holds
flat indices into the NC(D)HW input, row-major (storage_order=0) or with the spatial dims
column-major (storage_order=1).
"""
import numpy as np

from tinyjit import Call, kernel
from tinyjit.errors import UnsupportedError

from ._util import activation_range


@kernel(op="MaxPool", dtypes=("float32", "int8", "uint8"))
def max_pool(x, y, indices, k_d, k_h, k_w, stride_d, stride_h, stride_w, pad_f, pad_t, pad_l,
             dil_d, dil_h, dil_w, act_min, act_max, with_indices, column_major):
    n_batch, in_d, in_h, in_w, channels = x.shape
    _, out_d, out_h, out_w, _ = y.shape
    for n in range(n_batch):
        for od in range(out_d):
            for oh in range(out_h):
                for ow in range(out_w):
                    first = True
                    best = 0
                    for kd in range(k_d):
                        id_ = od * stride_d - pad_f + kd * dil_d
                        if id_ < 0 or id_ >= in_d:
                            continue
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
                                        y[n, od, oh, ow, c] = x[n, id_, ih, iw, c]
                                    first = False
                                    if with_indices:
                                        best = pool_index(n, id_, ih, iw, in_d, in_h, in_w, column_major)
                                elif with_indices:   # channels == 1 here
                                    if x[n, id_, ih, iw, 0] > y[n, od, oh, ow, 0]:
                                        y[n, od, oh, ow, 0] = x[n, id_, ih, iw, 0]
                                        best = pool_index(n, id_, ih, iw, in_d, in_h, in_w, column_major)
                                else:
                                    for c in range(channels):
                                        y[n, od, oh, ow, c] = max(y[n, od, oh, ow, c], x[n, id_, ih, iw, c])
                    for c in range(channels):
                        y[n, od, oh, ow, c] = min(max(y[n, od, oh, ow, c], act_min), act_max)
                    if with_indices:
                        indices[n, od, oh, ow, 0] = best


def pool_index(n, d, h, w, in_d, in_h, in_w, column_major):
    """Flat index into the channels-first input of image ``n`` (= batch * C + channel)."""
    if column_major:
        return n * in_d * in_h * in_w + d + in_d * (h + in_h * w)
    return ((n * in_d + d) * in_h + h) * in_w + w


max_pool.uses(pool_index)


def spatial_view(shape, channels_last: bool) -> tuple:
    """(N, D, H, W, C) view of a 3-, 4- or 5-D tensor; channels-first ones as N*C one-channel images."""
    if len(shape) not in (3, 4, 5):
        raise UnsupportedError(f"pooling over {len(shape) - 2} spatial dims (1 to 3 are supported)")
    if channels_last:
        n, *spatial, c = shape
    else:
        n, c, *spatial = shape
        n, c = n * c, 1
    return (n, *([1] * (3 - len(spatial))), *spatial, c)


def window(node, rank: int) -> list[int]:
    """Kernel sizes, strides, leading pads and dilations padded to 3 spatial dims."""
    spatial = rank - 2
    lead = [1] * (3 - spatial)
    kernel_shape = lead + [int(k) for k in node.attrs["kernel_shape"]]
    strides = lead + [int(s) for s in node.attrs.get("strides", [1] * spatial)]
    pads = [0] * (3 - spatial) + [int(p) for p in node.attrs.get("pads", [0] * 2 * spatial)[:spatial]]
    dilations = lead + [int(d) for d in node.attrs.get("dilations", [1] * spatial)]
    return kernel_shape + strides + pads + dilations


@max_pool.prepare
def _(node, graph, S):
    x = graph.tensors[node.inputs[0]]
    y = graph.tensors[node.outputs[0]]
    channels_last = bool(node.attrs.get("channels_last"))
    with_indices = len(node.outputs) > 1 and bool(node.outputs[1])
    if with_indices and channels_last:
        raise UnsupportedError(f"node {node.name}: MaxPool indices of a channels-last pool")
    lo, hi = activation_range(node)
    if y.dtype.kind in "iu" and y.quant is not None:   # int8: a fused activation's clamp, quantized
        from tinyjit.quant import activation_range as quantized_range
        lo, hi = quantized_range(node, y)
    elif y.dtype.kind in "iu":
        info = np.iinfo(y.dtype)
        lo, hi = int(max(lo, info.min)), int(min(hi, info.max))
    y_view = spatial_view(y.shape, channels_last)
    args = [(x.name, spatial_view(x.shape, channels_last)), (y.name, y_view)]
    scratch = []
    if with_indices:
        args.append((node.outputs[1], y_view))
    else:
        scratch.append((np.int64, (1, 1, 1, 1, 1)))
    k = window(node, len(x.shape))
    return Call(args, [*k, lo, hi, int(with_indices), int(node.attrs.get("storage_order", 0))],
                scratch=scratch, macs=y.size * int(np.prod(node.attrs["kernel_shape"])))
