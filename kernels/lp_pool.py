"""LpPool: (sum over the window of |x|^p)^(1/p), channels-first over 1 to 3 spatial dims
(viewed as N*C one-channel images, padding counting as zeros)."""
import numpy as np

from tinyjit import Call, kernel

from .max_pool import spatial_view, window


@kernel(op="LpPool", dtypes=("float32",))
def lp_pool(x, y, k_d, k_h, k_w, stride_d, stride_h, stride_w, pad_f, pad_t, pad_l, dil_d, dil_h, dil_w, p):
    n_batch, in_d, in_h, in_w, _ = x.shape
    _, out_d, out_h, out_w, _ = y.shape
    inv_p = 1.0 / p
    for n in range(n_batch):
        for od in range(out_d):
            for oh in range(out_h):
                for ow in range(out_w):
                    acc = 0.0
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
                                if iw >= 0 and iw < in_w:
                                    acc += abs(x[n, id_, ih, iw, 0]) ** p
                    y[n, od, oh, ow, 0] = acc ** inv_p


@lp_pool.prepare
def _(node, graph, S):
    x = graph.tensors[node.inputs[0]]
    y = graph.tensors[node.outputs[0]]
    return Call([(x.name, spatial_view(x.shape, False)), (y.name, spatial_view(y.shape, False))],
                [*window(node, len(x.shape)), float(node.attrs.get("p", 2))],
                macs=y.size * int(np.prod(node.attrs["kernel_shape"])))
