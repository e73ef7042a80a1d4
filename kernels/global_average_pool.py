"""GlobalAveragePool (NHWC): the mean over H and W."""
import numpy as np

from tinyjit import Call, kernel

from ._util import check_conv2d_nhwc


@kernel(op="GlobalAveragePool", dtypes=("float32",))
def global_average_pool_f32(x, y):
    n_batch, in_h, in_w, channels = x.shape
    scale = np.float32(1.0) / np.float32(in_h * in_w)
    for n in range(n_batch):
        for c in range(channels):
            y[n, 0, 0, c] = 0
        for ih in range(in_h):
            for iw in range(in_w):
                for c in range(channels):
                    y[n, 0, 0, c] += x[n, ih, iw, c]
        for c in range(channels):
            y[n, 0, 0, c] *= scale


@global_average_pool_f32.prepare
def _(node, graph, S):
    check_conv2d_nhwc(node, graph)
    return Call([node.inputs[0], node.outputs[0]], [], macs=graph.tensors[node.inputs[0]].size)
