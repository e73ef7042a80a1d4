"""ConvTranspose over 1 to 3 spatial dims, channels-last (the lowering pass adds the transposes).

Tensors are viewed as 5-D NDHWC. Each input pixel scatters into the output pixels its kernel taps
reach: y[o] += x[i] * w[tap] where o = i * stride + tap * dilation - pad. Weights are packed at
convert time from ONNX's [C_in, C_out/group, k...] to [kD, kH, kW, C_in, C_out/group], so the
inner loop runs over contiguous output channels.
"""
import numpy as np

from tinyjit import Call, kernel
from tinyjit.errors import UnsupportedError

from ._util import activation_range


@kernel(op="ConvTranspose", dtypes=("float32",))
def conv_transpose(x, w, b, y, stride_d, stride_h, stride_w, pad_f, pad_t, pad_l, dil_d, dil_h, dil_w,
                   groups, act_min, act_max):
    n_batch, in_d, in_h, in_w, _ = x.shape
    _, out_d, out_h, out_w, out_c = y.shape
    k_d, k_h, k_w, _, group_out = w.shape
    group_in = x.shape[4] // groups
    for n in range(n_batch):
        for od in range(out_d):
            for oh in range(out_h):
                for ow in range(out_w):
                    for co in range(out_c):
                        y[n, od, oh, ow, co] = b[co]
        for id_ in range(in_d):
            for ih in range(in_h):
                for iw in range(in_w):
                    for kd in range(k_d):
                        od = id_ * stride_d + kd * dil_d - pad_f
                        if od < 0 or od >= out_d:
                            continue
                        for kh in range(k_h):
                            oh = ih * stride_h + kh * dil_h - pad_t
                            if oh < 0 or oh >= out_h:
                                continue
                            for kw in range(k_w):
                                ow = iw * stride_w + kw * dil_w - pad_l
                                if ow < 0 or ow >= out_w:
                                    continue
                                for g in range(groups):
                                    for ci in range(g * group_in, (g + 1) * group_in):
                                        xv = x[n, id_, ih, iw, ci]
                                        for co in range(group_out):
                                            y[n, od, oh, ow, g * group_out + co] += xv * w[kd, kh, kw, ci, co]
        for od in range(out_d):
            for oh in range(out_h):
                for ow in range(out_w):
                    for co in range(out_c):
                        y[n, od, oh, ow, co] = min(max(y[n, od, oh, ow, co], act_min), act_max)


def leading_pads(node, in_shape, out_shape, kernel_shape) -> list[int]:
    """The pad before each spatial dim, from pads, or from output_shape / auto_pad as the spec says."""
    spatial = len(kernel_shape)
    strides = node.attrs.get("strides", [1] * spatial)
    dilations = node.attrs.get("dilations", [1] * spatial)
    out_pad = node.attrs.get("output_padding", [0] * spatial)
    auto = node.attrs.get("auto_pad", "NOTSET")
    if auto not in ("SAME_UPPER", "SAME_LOWER") and "output_shape" not in node.attrs:
        return [int(p) for p in node.attrs.get("pads", [0] * 2 * spatial)[:spatial]]
    pads = []
    for d in range(spatial):
        total = (strides[d] * (in_shape[d] - 1) + out_pad[d] + (kernel_shape[d] - 1) * dilations[d] + 1
                 - out_shape[d])
        pads.append(total // 2 if auto == "SAME_UPPER" else total - total // 2)
    return pads


@conv_transpose.prepare
def _(node, graph, S):
    if not node.attrs.get("channels_last"):
        raise UnsupportedError(f"node {node.name}: ConvTranspose kernels take channels-last tensors")
    x = graph.tensors[node.inputs[0]]
    y = graph.tensors[node.outputs[0]]
    w = graph.const(node.inputs[1])
    if w is None:
        raise UnsupportedError(f"node {node.name} (ConvTranspose): the weights must be constant")
    spatial = len(x.shape) - 2
    if not 1 <= spatial <= 3:
        raise UnsupportedError(f"node {node.name} (ConvTranspose): {spatial} spatial dims")
    groups = int(node.attrs.get("group", 1))
    c_in, group_out = w.shape[:2]
    kernel_shape = list(w.shape[2:])
    b = graph.const(node.inputs[2]) if len(node.inputs) > 2 and node.inputs[2] else None
    if len(node.inputs) > 2 and node.inputs[2] and b is None:
        raise UnsupportedError(f"node {node.name} (ConvTranspose): the bias must be constant")
    bias = np.zeros(groups * group_out, np.float32) if b is None else b.astype(np.float32)
    lead = 3 - spatial
    packed = w.reshape((c_in, group_out) + (1,) * lead + tuple(kernel_shape)).transpose(2, 3, 4, 0, 1)
    in_spatial, out_spatial = x.shape[1:-1], y.shape[1:-1]
    pads = leading_pads(node, in_spatial, out_spatial, kernel_shape)
    strides = node.attrs.get("strides", [1] * spatial)
    dilations = node.attrs.get("dilations", [1] * spatial)
    view = lambda shape: (shape[0],) + (1,) * lead + tuple(shape[1:])   # noqa: E731
    return Call([(x.name, view(x.shape)), np.ascontiguousarray(packed, np.float32), bias, (y.name, view(y.shape))],
                [*([1] * lead + list(strides)), *([0] * lead + pads), *([1] * lead + list(dilations)), groups,
                 *activation_range(node)],
                macs=x.size * int(np.prod(kernel_shape)) * group_out)
