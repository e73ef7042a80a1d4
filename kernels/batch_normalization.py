"""BatchNormalization in inference mode, over [N, C, inner]: y = (x - mean) / sqrt(var + eps) * scale + B.

A BatchNormalization after a Conv is folded into the Conv's weights by the fusion pass; this
kernel runs the others, with the statistics read at run time (they may be graph inputs).
"""
import numpy as np

from tinyjit import Call, kernel
from tinyjit.errors import UnsupportedError


@kernel(op="BatchNormalization", dtypes=("float32",))
def batch_normalization(x, scale, bias, mean, var, y, epsilon):
    n_batch, channels, inner = x.shape
    for c in range(channels):
        a = scale[c] / np.sqrt(var[c] + np.float32(epsilon))
        b = bias[c] - mean[c] * a
        for n in range(n_batch):
            for i in range(inner):
                y[n, c, i] = x[n, c, i] * a + b


@batch_normalization.prepare
def _(node, graph, S):
    if node.attrs.get("training_mode", 0) or len([o for o in node.outputs if o]) > 1:
        raise UnsupportedError(f"node {node.name} (BatchNormalization): training mode (running statistics "
                               "as outputs) is not supported")
    if not node.attrs.get("spatial", 1):
        raise UnsupportedError(f"node {node.name} (BatchNormalization): spatial=0 is not supported")
    x = graph.tensors[node.inputs[0]]
    n, c = x.shape[0], x.shape[1] if len(x.shape) > 1 else 1
    view = (n, c, x.size // max(n * c, 1))
    return Call([(x.name, view), *node.inputs[1:5], (node.outputs[0], view)],
                [float(node.attrs.get("epsilon", 1e-5))], macs=2 * x.size, inplace=True)
