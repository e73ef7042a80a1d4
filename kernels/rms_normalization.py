"""RMSNormalization over [1, outer, inner] (inner = the dims from ``axis`` on): x / sqrt(mean(x^2) + eps) * scale."""
import numpy as np

from tinyjit import Call, kernel
from tinyjit.errors import UnsupportedError

from .layer_normalization import rows_view, suffix_param


@kernel(op="RMSNormalization", dtypes=("float32",))
def rms_normalization(x, scale, y, epsilon):
    _, outer, inner = x.shape
    scale_size = scale.shape[0]
    for o in range(outer):
        total = np.float32(0.0)
        for i in range(inner):
            total += x[0, o, i] * x[0, o, i]
        inv = np.float32(1.0) / np.sqrt(total / inner + np.float32(epsilon))
        for i in range(inner):
            y[0, o, i] = x[0, o, i] * inv * scale[i % scale_size]


@rms_normalization.prepare
def _(node, graph, S):
    if int(node.attrs.get("stash_type", 1)) != 1:
        raise UnsupportedError(f"node {node.name} (RMSNormalization): stash_type={node.attrs['stash_type']} "
                               "(only 1, float32 statistics, is supported)")
    x, axis, view = rows_view(node, graph)
    scale = suffix_param(node, graph, node.inputs[1], x.shape[axis:], "scale")
    return Call([(x.name, view), scale, (node.outputs[0], view)], [float(node.attrs.get("epsilon", 1e-5))],
                macs=2 * x.size, inplace=True)
