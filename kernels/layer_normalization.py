"""LayerNormalization over [1, outer, inner] (inner = the dims from ``axis`` on), in float32.

Scale and B broadcast over the normalized dims when their shape is a suffix of them (index
``j % size``). The optional Mean and InvStdDev outputs are written when the graph asks for them.
"""
import numpy as np

from tinyjit import Call, kernel
from tinyjit.errors import UnsupportedError

from ._moments import mean_inv_std


@kernel(op="LayerNormalization", dtypes=("float32",))
def layer_normalization(x, scale, bias, y, mean_out, inv_std_out, epsilon, has_bias):
    _, outer, inner = x.shape
    scale_size = scale.shape[0]
    bias_size = bias.shape[0]
    for o in range(outer):
        mean, inv_std = mean_inv_std(x, 0, o, epsilon)
        for i in range(inner):
            v = (x[0, o, i] - mean) * inv_std * scale[i % scale_size]
            if has_bias:
                v += bias[i % bias_size]
            y[0, o, i] = v
        mean_out[o] = mean
        inv_std_out[o] = inv_std


layer_normalization.uses(mean_inv_std)


def suffix_param(node, graph, name: str, normalized: tuple, what: str):
    """A scale/bias tensor as a flat view, if it repeats along the normalized dims as j % size."""
    t = graph.tensors[name]
    shape = list(t.shape)
    while shape and shape[0] == 1:
        shape.pop(0)
    if shape and tuple(shape) != tuple(normalized[len(normalized) - len(shape):]):
        raise UnsupportedError(f"node {node.name} ({node.op}): {what} of shape {t.shape} does not broadcast "
                               f"as a suffix of the normalized shape {normalized}")
    return (name, (t.size,))


def rows_view(node, graph):
    x = graph.tensors[node.inputs[0]]
    axis = int(node.attrs.get("axis", -1))
    axis += len(x.shape) if axis < 0 else 0
    outer = int(np.prod(x.shape[:axis], dtype=np.int64))
    return x, axis, (1, outer, x.size // max(outer, 1))


@layer_normalization.prepare
def _(node, graph, S):
    if int(node.attrs.get("stash_type", 1)) != 1:
        raise UnsupportedError(f"node {node.name} (LayerNormalization): stash_type="
                               f"{node.attrs['stash_type']} (only 1, float32 statistics, is supported)")
    x, axis, view = rows_view(node, graph)
    normalized = x.shape[axis:]
    scale = suffix_param(node, graph, node.inputs[1], normalized, "Scale")
    has_bias = len(node.inputs) > 2 and bool(node.inputs[2])
    bias = suffix_param(node, graph, node.inputs[2], normalized, "B") if has_bias else np.zeros(1, np.float32)
    args = [(x.name, view), scale, bias, (node.outputs[0], view)]
    wanted = [len(node.outputs) > i and bool(node.outputs[i]) for i in (1, 2)]
    if wanted == [False, True]:   # scratch goes after the arguments, so Mean cannot be the one left out
        raise UnsupportedError(f"node {node.name} (LayerNormalization): InvStdDev without Mean")
    args += [(node.outputs[i], (view[1],)) for i, w in zip((1, 2), wanted) if w]
    scratch = [(np.float32, (view[1],)) for w in wanted if not w]
    return Call(args, [float(node.attrs.get("epsilon", 1e-5)), int(has_bias)], scratch=scratch,
                macs=3 * x.size)
