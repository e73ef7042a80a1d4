"""OneHot: y[outer, d, inner] = on if indices[outer, inner] == d (negatives count from depth) else off."""
import numpy as np

from tinyjit import Call, kernel
from tinyjit.errors import UnsupportedError

from ._elementwise import NUMBERS


@kernel(op="OneHot", dtypes=NUMBERS)
def one_hot(indices, values, y):
    outer, depth, inner = y.shape
    for o in range(outer):
        for i in range(inner):
            k = indices[o, i]
            if k < 0:
                k += depth
            for d in range(depth):
                y[o, d, i] = values[1] if k == d else values[0]


@one_hot.prepare
def _(node, graph, S):
    idx = graph.tensors[node.inputs[0]]
    y = graph.tensors[node.outputs[0]]
    values = node.attrs.get("values")
    if values is None:
        values = graph.const(node.inputs[2]) if len(node.inputs) > 2 else None
    if values is None:
        raise UnsupportedError(f"node {node.name} (OneHot): values must be a constant")
    axis = int(node.attrs.get("axis", -1))
    axis += len(y.shape) if axis < 0 else 0
    outer = int(np.prod(y.shape[:axis], dtype=np.int64))
    inner = int(np.prod(y.shape[axis + 1:], dtype=np.int64))
    return Call([(idx.name, (outer, inner)), np.asarray(values, y.dtype).reshape(2),
                 (y.name, (outer, y.shape[axis], inner))], macs=y.size)
